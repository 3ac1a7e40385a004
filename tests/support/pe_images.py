"""PE images built field by field, for the header edges a signing tool never writes.

The layout follows Microsoft's "PE Format" (https://learn.microsoft.com/windows/win32/debug/pe-format):
the DOS header's e_lfanew at 0x3C, "PE\\0\\0", the 20-byte COFF header (NumberOfSections at +2,
SizeOfOptionalHeader at +16), the optional header (magic 0x10B for PE32, 0x20B for PE32+; SizeOfHeaders
at +60, CheckSum at +64, NumberOfRvaAndSizes just before the data directories, which start at +96 for
PE32 and +112 for PE32+; the certificate table is directory 4, a file offset and a size), then 40-byte
section headers (SizeOfRawData at +16, PointerToRawData at +20). Certificate table entries are
WIN_CERTIFICATE structures (dwLength, wRevision 0x0200, wCertificateType 2 for PKCS#7 SignedData),
each padded to 8 bytes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import struct

PE_OFFSET = 0x40
FILE_ALIGNMENT = 0x200
PKCS_SIGNED_DATA = 0x0002


def directories_at(magic: int) -> int:
    return {0x10B: 96, 0x20B: 112}.get(magic, 96)


@dataclasses.dataclass
class PeLayout:
    """Where a built image's parts are, to check the reader against."""

    data: bytes
    optional_offset: int
    checksum_offset: int
    directory_entry_offset: int | None
    headers_size: int
    sections: list[tuple[int, int]]   # (file offset, size), in file order
    table_offset: int
    table_size: int

    def authenticode_digest(self, name: str = "sha256") -> bytes:
        """The digest as Microsoft's Authenticode PE format describes it, written independently of the reader."""
        digest = hashlib.new(name)
        data = self.data
        skipped = [(self.checksum_offset, 4)]
        if self.directory_entry_offset is not None:
            skipped.append((self.directory_entry_offset, 8))
        position = 0
        for start, length in skipped:
            digest.update(data[position:start])
            position = start + length
        digest.update(data[position:self.headers_size])
        end = self.headers_size
        for offset, size in sorted(self.sections):
            digest.update(data[offset:offset + size])
            end = max(end, offset + size)
        digest.update(data[end:self.table_offset or len(data)])
        return digest.digest()


def certificate_entry(blob: bytes, cert_type: int = PKCS_SIGNED_DATA, length: int | None = None) -> bytes:
    """One WIN_CERTIFICATE, padded to 8 bytes; ``length`` overrides dwLength."""
    entry = struct.pack("<IHH", 8 + len(blob) if length is None else length, 0x0200, cert_type) + blob
    return entry.ljust(-(-len(entry) // 8) * 8, b"\0")


def pe_image(sections: tuple[bytes, ...] = (b"\xc3section one",), *, magic: int = 0x10B, rva_count: int = 16,
             optional_size: int | None = None, header_order: tuple[int, ...] | None = None,
             certificate_table: bytes | None = None, table_entry: tuple[int, int] | None = None,
             trailer: bytes = b"", section_count: int | None = None) -> PeLayout:
    """A PE image: each section's raw data on its own 512-byte-aligned run in the order given, their headers
    in ``header_order`` (default: the same), then ``certificate_table`` (its directory entry pointing at it
    unless ``table_entry`` says otherwise), then ``trailer``."""
    base = directories_at(magic)
    if optional_size is None:
        optional_size = base + 8 * rva_count
    optional_offset = PE_OFFSET + 24
    count = len(sections) if section_count is None else section_count
    section_table = optional_offset + optional_size
    headers_size = -(-(section_table + 40 * len(sections)) // FILE_ALIGNMENT) * FILE_ALIGNMENT
    raw = []
    offset = headers_size
    for body in sections:
        padded = body.ljust(-(-len(body) // FILE_ALIGNMENT) * FILE_ALIGNMENT, b"\0")
        raw.append((offset, len(padded), padded))
        offset += len(padded)

    data = bytearray(headers_size)
    data[0:2] = b"MZ"
    struct.pack_into("<I", data, 0x3C, PE_OFFSET)
    data[PE_OFFSET:PE_OFFSET + 4] = b"PE\0\0"
    struct.pack_into("<HHIIIHH", data, PE_OFFSET + 4, 0x14C if magic == 0x10B else 0x8664, count, 0, 0, 0,
                     optional_size, 0x0102)
    optional = bytearray(max(optional_size, base + 8 * 5))
    struct.pack_into("<H", optional, 0, magic)
    struct.pack_into("<I", optional, 60, headers_size)
    struct.pack_into("<I", optional, 64, 0x5A5A5A5A)     # a checksum, left out of the digest
    struct.pack_into("<I", optional, base - 4, rva_count)
    data[optional_offset:optional_offset + optional_size] = optional[:optional_size]
    order = header_order or tuple(range(len(sections)))
    for slot, index in enumerate(order):
        start, size, _body = raw[index]
        struct.pack_into("<8sIIIIIIHHI", data, section_table + 40 * slot, f".s{index}".encode(), 0x1000 * (index + 1),
                         0x1000 * (index + 1), size, start, 0, 0, 0, 0, 0x60000020)
    for _start, _size, body in raw:
        data += body
    table_offset, table_size = 0, 0
    directory_entry = optional_offset + base + 8 * 4
    has_entry = optional_size >= base + 8 * 5 and rva_count >= 5
    if certificate_table is not None:
        table_offset, table_size = len(data), len(certificate_table)
        data += certificate_table
    if has_entry:
        struct.pack_into("<II", data, directory_entry, *(table_entry or (table_offset, table_size)))
    data += trailer
    return PeLayout(bytes(data), optional_offset, optional_offset + 64, directory_entry if has_entry else None,
                    headers_size, [(start, size) for start, size, _body in raw], table_offset, table_size)
