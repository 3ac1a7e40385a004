# Copyright (c) codesign.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""MSI packages: the signature streams and the digest Windows computes over the compound file.

The digest is computed as Windows and osslsigncode (msi.c: msi_hash_dir, msi_prehash_dir) define it:
the contents of every stream, storages recursed, children ordered by their raw UTF-16LE names
compared byte by byte (when one name is a prefix of the other the longer comes first), each
storage's class id after its children; the root's ``\\x05DigitalSignature`` and
``\\x05MsiDigitalSignatureEx`` streams left out. When ``\\x05MsiDigitalSignatureEx`` exists, a
hash of the metadata (names, sizes, class ids, state bits, times) goes first.

The content hash has no separators, so a stream hashed first whose content is a metadata hash is
indistinguishable from that metadata hash: renaming ``\\x05MsiDigitalSignatureEx`` (or giving any
stream its content and a name that sorts first) keeps the digest while the metadata it protected
is no longer checked. Windows compares compound-file names without regard to case ([MS-CFB]
2.6.4), so a signature stream that differs only in case is no plain stream either. This inspector
therefore refuses, as ``tampered``: a root stream named like a signature stream but not exactly
one; and, when there is no ``\\x05MsiDigitalSignatureEx``, leading streams whose contents add up to
exactly the length of the signature's digest (where the metadata hash would be).
"""
from __future__ import annotations

import functools
import hashlib
import struct

from ._cfb import ROOT, STORAGE, STREAM, CompoundFile, Entry

SIGNATURE = "\x05DigitalSignature"
SIGNATURE_EX = "\x05MsiDigitalSignatureEx"
# Windows Installer class ids: package (.msi), patch (.msp), transform (.mst) and their older variants.
MSI_CLASS_IDS = {
    "000C1084-0000-0000-C000-000000000046",
    "000C1086-0000-0000-C000-000000000046",
    "000C1082-0000-0000-C000-000000000046",
    "000C101C-0000-0000-C000-000000000046",
    "000C101D-0000-0000-C000-000000000046",
}


def clsid_text(raw: bytes) -> str:
    if raw == b"\0" * 16:
        return ""
    first, second, third = struct.unpack_from("<IHH", raw)
    return f"{first:08X}-{second:04X}-{third:04X}-{raw[8:10].hex().upper()}-{raw[10:].hex().upper()}"


def _compare(left: Entry, right: Entry) -> int:
    a, b = left.name_raw, right.name_raw
    common = min(len(a), len(b))
    if a[:common] != b[:common]:
        return -1 if a[:common] < b[:common] else 1
    if len(a) == len(b):
        return 0
    return -1 if len(a) > len(b) else 1


def hash_order(entries: list[Entry]) -> list[Entry]:
    """Children in the order MSI signing hashes them (not the compound file's own tree order)."""
    return sorted(entries, key=functools.cmp_to_key(_compare))


def _signed_children(storage: Entry) -> list[Entry]:
    children = hash_order(storage.children)
    if storage.kind == ROOT:
        children = [child for child in children if child.name not in (SIGNATURE, SIGNATURE_EX)]
    return children


def _content(cfb: CompoundFile, storage: Entry, sink) -> None:
    for child in _signed_children(storage):
        if child.kind == STREAM:
            for chunk in cfb.chunks(child):
                sink(chunk)
        elif child.kind == STORAGE:
            _content(cfb, child, sink)
    sink(storage.clsid)


def _metadata(entry: Entry, sink) -> None:
    if entry.kind != ROOT:
        sink(entry.name_raw[:-2])
    sink(entry.size_field if entry.kind == STREAM else entry.clsid)
    sink(struct.pack("<I", entry.state_bits))
    if entry.kind != ROOT:
        sink(struct.pack("<QQ", entry.created, entry.modified))


def _prehash(storage: Entry, sink) -> None:
    _metadata(storage, sink)
    for child in _signed_children(storage):
        if child.kind == STREAM:
            _metadata(child, sink)
        elif child.kind == STORAGE:
            _prehash(child, sink)


def _leading_sizes(cfb: CompoundFile, storage: Entry, limit: int, sizes: list[int]) -> None:
    """Sizes of the first non-empty streams hashed, until they add up to ``limit`` or more."""
    for child in _signed_children(storage):
        if sum(sizes) >= limit:
            return
        if child.kind == STREAM and child.size:
            sizes.append(child.size)
        elif child.kind == STORAGE:
            _leading_sizes(cfb, child, limit, sizes)


class MsiPackage:
    """A compound file read as an MSI package: its signature streams and its Authenticode digest."""

    def __init__(self, cfb: CompoundFile):
        self.cfb = cfb
        self.streams = {child.name: child for child in cfb.root.children}
        self.signature = self.streams.get(SIGNATURE)
        self.signature_ex = self.streams.get(SIGNATURE_EX)
        self.metadata_changed = False
        self.problems: list[str] = []
        self._cache: dict[str, bytes | None] = {}

    @property
    def class_id(self) -> str:
        return clsid_text(self.cfb.root.clsid)

    def look_alikes(self) -> list[str]:
        """Root entries named like a signature stream without being one."""
        found = []
        for child in self.cfb.root.children:
            if child.name in (SIGNATURE, SIGNATURE_EX):
                continue
            folded = child.name.casefold()
            if "digitalsignature" in folded or folded in (SIGNATURE.casefold(), SIGNATURE_EX.casefold()):
                found.append(child.name)
        return found

    def metadata_slot_filled(self, name: str) -> bool:
        """Without MsiDigitalSignatureEx: do the first streams hashed fill exactly a digest's length?"""
        if self.signature_ex is not None:
            return False
        size = hashlib.new(name).digest_size
        sizes: list[int] = []
        _leading_sizes(self.cfb, self.cfb.root, size, sizes)
        return sum(sizes) == size

    def __call__(self, name: str) -> bytes | None:
        """The Authenticode digest with hash algorithm ``name``."""
        if name not in self._cache:
            self._cache[name] = self._compute(name)
        return self._cache[name]

    def _compute(self, name: str) -> bytes:
        content = hashlib.new(name)
        if self.signature_ex is not None:
            prehash = hashlib.new(name)
            _prehash(self.cfb.root, prehash.update)
            computed = prehash.digest()
            if computed != self.cfb.read(self.signature_ex) and not self.metadata_changed:
                self.metadata_changed = True
                self.problems.append("The MsiDigitalSignatureEx metadata hash does not match the file's streams and storages.")
            content.update(computed)
        _content(self.cfb, self.cfb.root, content.update)
        return content.digest()
