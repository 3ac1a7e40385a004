"""PE headers at their limits, built field by field (tests/support/pe_images.py): what the reader finds in
them, and which damaged ones it refuses. Each case is one a signing tool never writes but a damaged or
hostile package can carry."""

from __future__ import annotations

import struct

import pytest

from ansible_collections.codesign.windows.plugins.plugin_utils._authenticode._limits import Unreadable
from ansible_collections.codesign.windows.plugins.plugin_utils._authenticode._pe import read_pe

from support.pe_images import PE_OFFSET, certificate_entry, pe_image

SIGNATURE = b"\x30\x03\x02\x01\x01"          # a DER SEQUENCE: the reader only carries the blob along


def read(data: bytes):
    return read_pe(memoryview(data))


def test_a_plain_image_is_laid_out_as_built():
    layout = pe_image((b"\xc3one", b"\xc3two"))
    image = read(layout.data)
    assert image.sections == layout.sections == [(0x200, 0x200), (0x400, 0x200)]
    assert (image.checksum_offset, image.headers_size) == (layout.checksum_offset, layout.headers_size)
    assert image.signatures == [] and image.table_offset == 0
    assert image.digest("sha256") == layout.authenticode_digest("sha256")


def test_sections_are_hashed_in_file_order_whatever_the_order_of_their_headers():
    layout = pe_image((b"\xc3first in the file", b"\xc3second in the file"), header_order=(1, 0))
    image = read(layout.data)
    assert image.sections == [(0x200, 0x200), (0x400, 0x200)]
    assert image.digest("sha256") == layout.authenticode_digest("sha256")


def test_a_section_cut_short_by_the_end_of_the_file_is_refused():
    layout = pe_image((b"\xc3" * 0x300,))
    with pytest.raises(Unreadable, match="A PE section runs past the end of the file"):
        read(layout.data[:-0x100])


def test_the_smallest_file_with_a_pe_header_is_read():
    """64 bytes, the DOS header's size, with the PE header inside it: a PE header, cut short."""
    data = bytearray(0x40)
    data[0:2] = b"MZ"
    struct.pack_into("<I", data, 0x3C, 4)
    data[4:8] = b"PE\0\0"
    struct.pack_into("<H", data, 4 + 24, 0x10B)     # the optional header's magic; its size stays 0
    with pytest.raises(Unreadable, match="The PE headers are cut short"):
        read(bytes(data))
    assert read(bytes(data[:0x3F])) is None                       # shorter than a DOS header


@pytest.mark.parametrize("optional_size, readable", [(67, False), (68, True)])
def test_an_optional_header_of_68_bytes_is_the_shortest_read(optional_size, readable):
    """68 bytes reach the CheckSum field (+64); shorter cannot be a PE32 optional header."""
    layout = pe_image(optional_size=optional_size)
    if readable:
        image = read(layout.data)
        assert image.directory_entry_offset is None and image.signatures == []
        assert image.digest("sha256") == layout.authenticode_digest("sha256")
    else:
        with pytest.raises(Unreadable, match="cut short"):
            read(layout.data)


@pytest.mark.parametrize("magic", (0x10B, 0x20B))
def test_five_data_directories_are_enough_for_a_certificate_table(magic):
    """The certificate table is the fifth directory: NumberOfRvaAndSizes 5, and an optional header that ends
    right after it, still carry a signature."""
    layout = pe_image(magic=magic, rva_count=5, certificate_table=certificate_entry(SIGNATURE))
    assert layout.directory_entry_offset is not None
    image = read(layout.data)
    assert image.signatures == [SIGNATURE]
    assert image.digest("sha256") == layout.authenticode_digest("sha256")


@pytest.mark.parametrize("rva_count", (0, 4))
def test_fewer_than_five_data_directories_mean_an_unsigned_image(rva_count):
    layout = pe_image(rva_count=rva_count)
    image = read(layout.data)
    assert image is not None and image.directory_entry_offset is None and image.signatures == []
    assert image.digest("sha256") == layout.authenticode_digest("sha256")


def test_an_optional_header_cut_before_the_certificate_directory_means_an_unsigned_image():
    layout = pe_image(optional_size=96 + 8 * 5 - 1)
    image = read(layout.data)
    assert image is not None and image.directory_entry_offset is None and image.signatures == []


def test_a_certificate_directory_with_a_size_but_no_offset_is_no_table():
    layout = pe_image(table_entry=(0, 16))
    image = read(layout.data)
    assert (image.table_offset, image.signatures) == (0, [])
    assert image.directory_entry_offset == layout.directory_entry_offset
    assert image.digest("sha256") == layout.authenticode_digest("sha256")


def test_a_certificate_table_laid_over_a_section_is_refused():
    layout = pe_image((b"\xc3" * 0x400,))
    section_offset, section_size = layout.sections[0]
    table = certificate_entry(SIGNATURE)
    data = bytearray(layout.data)
    inside = section_offset + section_size // 2
    data[inside:inside + len(table)] = table
    struct.pack_into("<II", data, layout.directory_entry_offset, inside, len(table))
    with pytest.raises(Unreadable, match="overlaps the image's headers or sections"):
        read(bytes(data))


def test_a_certificate_table_in_the_headers_is_refused():
    layout = pe_image()
    data = bytearray(layout.data)
    table = certificate_entry(SIGNATURE)
    inside = layout.headers_size - len(table)
    data[inside:inside + len(table)] = table
    struct.pack_into("<II", data, layout.directory_entry_offset, inside, len(table))
    with pytest.raises(Unreadable, match="overlaps the image's headers or sections"):
        read(bytes(data))


def test_eight_zero_bytes_after_the_signature_are_reported():
    """Padding is at most 7 bytes; 8 or more, even zeros, are data outside what the signature signs."""
    entry = certificate_entry(SIGNATURE + bytes(8))
    image = read(pe_image(certificate_table=entry).data)
    assert image.signatures == [SIGNATURE + bytes(8)]
    assert image.unsigned_bytes == [
        "8 bytes follow the signature inside the certificate table, outside what it signs (Windows accepts them "
        "unless its certificate padding check, CVE-2013-3900, is enabled)"]
    padded = read(pe_image(certificate_table=certificate_entry(SIGNATURE + bytes(7))).data)
    assert padded.unsigned_bytes == []


def test_every_entry_of_the_table_is_read_at_its_8_byte_boundary():
    first = SIGNATURE + b"\1\2\3"                       # 8 + 8 bytes: no padding
    second = b"\x30\x04\x02\x02\x01\x02"               # 8 + 6 bytes: padded to 16
    table = certificate_entry(first) + certificate_entry(second) + certificate_entry(SIGNATURE, cert_type=1)
    image = read(pe_image(certificate_table=table).data)
    assert image.signatures == [first, second]


def test_bytes_after_the_table_are_reported():
    layout = pe_image(certificate_table=certificate_entry(SIGNATURE), trailer=b"appended")
    image = read(layout.data)
    assert image.unsigned_bytes == ["8 bytes follow the certificate table at the end of the file, outside the signed digest"]
    assert image.digest("sha256") == layout.authenticode_digest("sha256")


def test_a_table_with_no_authenticode_entry_is_refused_with_its_reason():
    layout = pe_image(certificate_table=certificate_entry(SIGNATURE, cert_type=1))
    with pytest.raises(Unreadable) as refused:
        read(layout.data)
    assert str(refused.value) == "The certificate table holds no Authenticode signature."


def test_the_dos_header_points_at_the_pe_header():
    layout = pe_image()
    assert read(layout.data).checksum_offset == PE_OFFSET + 24 + 64
