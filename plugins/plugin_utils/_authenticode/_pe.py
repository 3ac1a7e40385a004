# Copyright (c) codesign.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PE images: the certificate table and the Authenticode digest, read from the bytes in memory.

The digest follows Microsoft's "Windows Authenticode Portable Executable Signature Format"
(Calculating the PE Image Hash): the headers without the checksum and the certificate table's
directory entry, the sections in file order, then the data after the last section up to the
certificate table. It is computed here over the one copy of the file that was read and hashed,
so nothing is parsed twice and no library walks the signature before the limits are checked.
"""
from __future__ import annotations

import dataclasses
import hashlib
import struct

from ._der import _Asn1Error, _parse_tlv
from ._limits import MAX_CERTIFICATE_TABLE_ENTRIES, MAX_SIGNATURE_BYTES, Unreadable, megabytes

WIN_CERT_TYPE_PKCS_SIGNED_DATA = 0x0002


@dataclasses.dataclass
class PeImage:
    """Where the parts of a PE image lie in the file."""

    data: memoryview
    checksum_offset: int
    directory_entry_offset: int | None  # the certificate table's data directory entry
    headers_size: int
    sections: list[tuple[int, int]]  # (file offset, size) of each section's raw data, in file order
    table_offset: int  # 0 when the image has no certificate table
    table_size: int
    signatures: list[bytes]
    unsigned_bytes: list[str] = dataclasses.field(default_factory=list)  # bytes outside the digest, described

    def digest(self, name: str) -> bytes:
        """The Authenticode digest of the image with the hash algorithm ``name``."""
        digest = hashlib.new(name)
        data = self.data
        skip_end = self.directory_entry_offset if self.directory_entry_offset is not None else self.headers_size
        digest.update(data[:self.checksum_offset])
        digest.update(data[self.checksum_offset + 4:skip_end])
        if self.directory_entry_offset is not None:
            digest.update(data[self.directory_entry_offset + 8:self.headers_size])
        end = self.headers_size
        for offset, size in self.sections:
            digest.update(data[offset:offset + size])
            end = max(end, offset + size)
        digest.update(data[end:self.table_offset or len(data)])
        return digest.digest()


def _after_der(blob: bytes) -> bytes:
    """The bytes after the DER structure that opens ``blob`` (empty when it cannot be told)."""
    try:
        return blob[_parse_tlv(blob, 0)[1]:]
    except _Asn1Error:
        return b""


def _u16(data: memoryview, offset: int) -> int:
    return struct.unpack_from("<H", data, offset)[0]


def _u32(data: memoryview, offset: int) -> int:
    return struct.unpack_from("<I", data, offset)[0]


def read_pe(data: memoryview) -> PeImage | None:
    """The layout and signature blobs of a PE image; None when the file is not one.

    Raises ``Unreadable`` for a damaged or truncated image and for a signature over the size limit.
    """
    size = len(data)
    if size < 0x40 or bytes(data[:2]) != b"MZ":
        return None
    pe_offset = _u32(data, 0x3C)
    if pe_offset + 26 > size or bytes(data[pe_offset:pe_offset + 4]) != b"PE\0\0":
        return None
    section_count = _u16(data, pe_offset + 6)
    optional_size = _u16(data, pe_offset + 20)
    optional_offset = pe_offset + 24
    magic = _u16(data, optional_offset)
    directory_offset = {0x10B: 96, 0x20B: 112}.get(magic)
    if directory_offset is None:
        raise Unreadable(f"The PE optional header has an unknown magic 0x{magic:X}.")
    section_table = optional_offset + optional_size
    if section_table + 40 * section_count > size or optional_size < 68:
        raise Unreadable("The PE headers are cut short: the file is truncated.")
    headers_size = min(_u32(data, optional_offset + 60), size)
    checksum_offset = optional_offset + 64
    sections = []
    for index in range(section_count):
        raw_size, raw_offset = struct.unpack_from("<II", data, section_table + 40 * index + 16)
        if raw_size:
            if raw_offset + raw_size > size:
                raise Unreadable("A PE section runs past the end of the file: the file is truncated.")
            sections.append((raw_offset, raw_size))
    sections.sort()
    image = PeImage(data, checksum_offset, None, max(headers_size, section_table + 40 * section_count),
                    sections, 0, 0, [])
    if optional_size < directory_offset + 8 * 5 or _u32(data, optional_offset + directory_offset - 4) < 5:
        return image  # no security directory entry at all: the image cannot carry a signature
    image.directory_entry_offset = optional_offset + directory_offset + 8 * 4
    table_offset, table_size = struct.unpack_from("<II", data, image.directory_entry_offset)
    if table_offset == 0 or table_size == 0:
        return image
    if table_offset + table_size > size:
        raise Unreadable("The certificate table runs past the end of the file: the file is truncated.")
    if any(offset + length > table_offset for offset, length in sections) or table_offset < image.headers_size:
        # Windows hashes section data; a table laid over it would hide those bytes from the digest.
        raise Unreadable("The certificate table overlaps the image's headers or sections.")
    image.table_offset, image.table_size = table_offset, table_size
    pos, end = table_offset, table_offset + table_size
    entries = 0
    while pos + 8 <= end:
        entries += 1
        if entries > MAX_CERTIFICATE_TABLE_ENTRIES:
            raise Unreadable(f"The certificate table holds more than {MAX_CERTIFICATE_TABLE_ENTRIES} entries; "
                             "packages like that are refused before inspection.")
        length, _revision, cert_type = struct.unpack_from("<IHH", data, pos)
        if length < 8 or pos + length > end:
            raise Unreadable("The certificate table is malformed.")
        if cert_type == WIN_CERT_TYPE_PKCS_SIGNED_DATA:
            if length - 8 > MAX_SIGNATURE_BYTES:
                raise Unreadable(f"The signature is {megabytes(length - 8)}; signatures over "
                                 f"{megabytes(MAX_SIGNATURE_BYTES)} are refused before inspection.")
            blob = bytes(data[pos + 8:pos + length])
            image.signatures.append(blob)
            extra = _after_der(blob)
            if len(extra) >= 8 or any(extra):
                image.unsigned_bytes.append(
                    f"{len(extra)} bytes follow the signature inside the certificate table, outside what it signs "
                    "(Windows accepts them unless its certificate padding check, CVE-2013-3900, is enabled)")
        pos += (length + 7) & ~7
    if end < size:
        image.unsigned_bytes.append(f"{size - end} bytes follow the certificate table at the end of the file, "
                                    "outside the signed digest")
    if not image.signatures:
        raise Unreadable("The certificate table holds no Authenticode signature.")
    return image
