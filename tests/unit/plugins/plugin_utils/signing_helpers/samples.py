"""Tiny unsigned packages written from scratch: a PE32 executable and an MSI-shaped compound file.

Nothing here is a real installer; the files only need to be well-formed enough for osslsigncode to
sign them and for the inspector to hash them the way Windows does.
"""
from __future__ import annotations

import dataclasses
import struct

# The class id of an MSI database; Windows Installer sets it on the root storage.
MSI_CLSID = bytes.fromhex("84100c0000000000c000000000000046")


def make_pe(payload: bytes = b"codesign.windows test payload", pe64: bool = False) -> bytes:
    """A minimal console executable (PE32, or PE32+ for x64): headers plus one .text section that returns at once."""
    file_alignment = 0x200
    section = (b"\xc3" + payload).ljust(file_alignment, b"\0")
    dos = bytearray(0x40)
    dos[0:2] = b"MZ"
    struct.pack_into("<I", dos, 0x3C, 0x40)
    optional_size = 0xF0 if pe64 else 0xE0
    machine = 0x8664 if pe64 else 0x14C
    characteristics = 0x0022 if pe64 else 0x0102  # executable; large-address-aware or 32-bit machine
    coff = struct.pack("<HHIIIHH", machine, 1, 0, 0, 0, optional_size, characteristics)
    if pe64:
        optional = struct.pack(
            "<HBBIIIIIQIIHHHHHHIIIIHHQQQQII",
            0x20B, 14, 0, len(section), 0, 0, 0x1000, 0x1000,
            0x140000000, 0x1000, file_alignment,
            6, 0, 0, 0, 6, 0, 0,
            0x2000, 0x200, 0, 3, 0x8160,
            0x100000, 0x1000, 0x100000, 0x1000, 0, 16,
        )
    else:
        optional = struct.pack(
            "<HBBIIIIIIIIIHHHHHHIIIIHHIIIIII",
            0x10B, 14, 0,               # PE32 magic, linker version
            len(section), 0, 0,         # SizeOfCode, SizeOfInitializedData, SizeOfUninitializedData
            0x1000, 0x1000, 0x2000,     # AddressOfEntryPoint, BaseOfCode, BaseOfData
            0x400000, 0x1000, file_alignment,
            6, 0, 0, 0, 6, 0,           # OS, image and subsystem versions
            0,                          # Win32VersionValue
            0x2000, 0x200, 0,           # SizeOfImage, SizeOfHeaders, CheckSum
            3, 0x8140,                  # console subsystem; NX, dynamic base, TS aware
            0x100000, 0x1000, 0x100000, 0x1000, 0, 16,
        )
    optional += b"\0" * (16 * 8)
    if len(optional) != optional_size:
        raise ValueError("optional header size mismatch")
    section_header = struct.pack(
        "<8sIIIIIIHHI", b".text", 0x1000, 0x1000, len(section), 0x200, 0, 0, 0, 0, 0x60000020
    )
    headers = bytes(dos) + b"PE\0\0" + coff + optional + section_header
    return headers.ljust(0x200, b"\0") + section


# ----------------------------------------------------------------------------------- compound file
SECTOR = 512
MINI_SECTOR = 64
MINI_CUTOFF = 4096
ENDOFCHAIN = 0xFFFFFFFE
FATSECT = 0xFFFFFFFD
FREESECT = 0xFFFFFFFF
NOSTREAM = 0xFFFFFFFF


@dataclasses.dataclass
class Storage:
    """A storage (directory) of a compound file: streams are bytes, sub-storages are Storage."""

    children: dict = dataclasses.field(default_factory=dict)
    clsid: bytes = b"\0" * 16
    created: int = 0
    modified: int = 0


@dataclasses.dataclass
class _Entry:
    name: str
    kind: int  # 1 storage, 2 stream, 5 root
    data: bytes = b""
    clsid: bytes = b"\0" * 16
    created: int = 0
    modified: int = 0
    left: int = NOSTREAM
    right: int = NOSTREAM
    child: int = NOSTREAM
    start: int = ENDOFCHAIN
    size: int = 0


def _tree_key(name: str) -> tuple:
    # [MS-CFB] 2.6.4: shorter names first, then an upper-cased code point comparison.
    return (len(name), name.upper())


def _flatten(storage: Storage) -> list[_Entry]:
    entries = [_Entry("Root Entry", 5, clsid=storage.clsid, modified=storage.modified)]

    def add_children(parent_index: int, node: Storage) -> None:
        indices = []
        for name, value in node.children.items():
            if isinstance(value, Storage):
                entries.append(_Entry(name, 1, clsid=value.clsid, created=value.created, modified=value.modified))
                index = len(entries) - 1
                add_children(index, value)
            else:
                entries.append(_Entry(name, 2, data=bytes(value)))
                index = len(entries) - 1
            indices.append(index)
        ordered = sorted(indices, key=lambda i: _tree_key(entries[i].name))

        def balance(items: list[int]) -> int:
            if not items:
                return NOSTREAM
            middle = len(items) // 2
            entries[items[middle]].left = balance(items[:middle])
            entries[items[middle]].right = balance(items[middle + 1:])
            return items[middle]

        entries[parent_index].child = balance(ordered)

    add_children(0, storage)
    return entries


def _chain(fat: list[int], first: int, count: int) -> None:
    for offset in range(count):
        fat[first + offset] = first + offset + 1 if offset < count - 1 else ENDOFCHAIN


def make_compound_file(root: Storage) -> bytes:
    """Serialise a storage tree as a version 3 compound file (512-byte sectors, mini stream for small streams)."""
    entries = _flatten(root)
    mini_stream = bytearray()
    mini_fat: list[int] = []
    big_streams = []
    for entry in entries:
        if entry.kind != 2:
            continue
        entry.size = len(entry.data)
        if not entry.data:
            entry.start = ENDOFCHAIN
        elif entry.size < MINI_CUTOFF:
            entry.start = len(mini_stream) // MINI_SECTOR
            sectors = -(-entry.size // MINI_SECTOR)
            mini_stream += entry.data.ljust(sectors * MINI_SECTOR, b"\0")
            mini_fat.extend(entry.start + i + 1 if i < sectors - 1 else ENDOFCHAIN for i in range(sectors))
        else:
            big_streams.append(entry)

    def sectors_for(length: int) -> int:
        return -(-length // SECTOR)

    dir_sectors = sectors_for(len(entries) * 128)
    mini_fat_sectors = sectors_for(len(mini_fat) * 4)
    mini_stream_sectors = sectors_for(len(mini_stream))
    big_sectors = sum(sectors_for(e.size) for e in big_streams)
    fat_sectors = 1
    while True:
        total = fat_sectors + dir_sectors + mini_fat_sectors + mini_stream_sectors + big_sectors
        if fat_sectors * (SECTOR // 4) >= total:
            break
        fat_sectors += 1
    if fat_sectors > 109:
        raise ValueError("test compound files are limited to the header DIFAT")

    fat = [FREESECT] * (fat_sectors * (SECTOR // 4))
    position = 0
    for i in range(fat_sectors):
        fat[position + i] = FATSECT
    position += fat_sectors
    dir_start = position
    _chain(fat, dir_start, dir_sectors)
    position += dir_sectors
    mini_fat_start = position if mini_fat_sectors else ENDOFCHAIN
    _chain(fat, position, mini_fat_sectors)
    position += mini_fat_sectors
    mini_stream_start = position if mini_stream_sectors else ENDOFCHAIN
    _chain(fat, position, mini_stream_sectors)
    position += mini_stream_sectors
    body = bytearray()
    for entry in big_streams:
        count = sectors_for(entry.size)
        entry.start = position
        _chain(fat, position, count)
        position += count
        body += entry.data.ljust(count * SECTOR, b"\0")
    entries[0].start = mini_stream_start
    entries[0].size = len(mini_stream)

    directory = bytearray()
    for entry in entries:
        encoded = entry.name.encode("utf-16-le")
        directory += struct.pack(
            "<64sHBBIII16sIQQIQ",
            encoded + b"\0\0", len(encoded) + 2, entry.kind, 1, entry.left, entry.right, entry.child,
            entry.clsid, 0, entry.created, entry.modified, entry.start, entry.size,
        )
    while len(directory) % SECTOR:
        directory += struct.pack("<64sHBBIII16sIQQIQ", b"", 0, 0, 0, NOSTREAM, NOSTREAM, NOSTREAM, b"", 0, 0, 0, 0, 0)

    difat = list(range(fat_sectors)) + [FREESECT] * (109 - fat_sectors)
    header = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII",
        bytes.fromhex("d0cf11e0a1b11ae1"), b"", 0x3E, 3, 0xFFFE, 9, 6, b"",
        0, fat_sectors, dir_start, 0, MINI_CUTOFF, mini_fat_start, mini_fat_sectors, ENDOFCHAIN, 0,
    ) + struct.pack("<109I", *difat)
    mini_fat_bytes = struct.pack(f"<{len(mini_fat)}I", *mini_fat).ljust(mini_fat_sectors * SECTOR, b"\xff")
    return (
        header
        + struct.pack(f"<{len(fat)}I", *fat)
        + bytes(directory)
        + mini_fat_bytes
        + bytes(mini_stream).ljust(mini_stream_sectors * SECTOR, b"\0")
        + bytes(body)
    )


def make_msi(payload: bytes = b"codesign.windows test payload") -> bytes:
    """An MSI-shaped compound file with the layouts the MSI digest has to get right.

    The names mix code points whose UTF-16LE byte order differs from their numeric order, because
    Authenticode for MSI sorts streams by raw bytes; one stream is big enough to live outside the
    mini stream; a storage with its own class id and times nests two more streams.
    """
    root = Storage(clsid=MSI_CLSID)
    root.children["\u4840\u3f3f\u4577"] = b"summary " + payload
    root.children["\u0142table"] = b"first " + payload
    root.children["\u0241table"] = b"second " + payload
    root.children["Binary.Big"] = (payload * (5000 // len(payload) + 1))[:5000]
    root.children["Empty"] = b""
    root.children["Nested"] = Storage(
        children={"Inner": b"inner " + payload, "Inner2": b"inner2 " + payload},
        clsid=bytes(range(16)),
        created=132000000000000000,
        modified=133000000000000000,
    )
    return make_compound_file(root)


def pe_with_signature(pe: bytes, blob: bytes) -> bytes:
    """``pe`` (a PE32 from make_pe) with ``blob`` as its certificate table, as a signing tool lays it out."""
    image = bytearray(pe.ljust(-(-len(pe) // 8) * 8, b"\0"))
    entry = struct.pack("<IHH", 8 + len(blob), 0x0200, 0x0002) + blob
    entry = entry.ljust(-(-len(entry) // 8) * 8, b"\0")
    struct.pack_into("<II", image, 0x40 + 24 + 96 + 8 * 4, len(image), len(entry))
    return bytes(image) + entry


def cfb_fat_offset(sector: int) -> int:
    """Where the FAT entry of ``sector`` lies in a file from make_compound_file (its FAT sectors come first)."""
    return SECTOR + 4 * sector
