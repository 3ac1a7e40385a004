"""Compound files (MSI packages) with headers and directories at their limits ([MS-CFB],
https://learn.microsoft.com/openspecs/windows_protocols/ms-cfb/): special sector numbers in the DIFAT
chain, entries of an unused kind in the tree, storages nested to the depth limit, and what the MSI
reader derives from them."""

from __future__ import annotations

import struct

import pytest

from ansible_collections.codesign.windows.plugins.plugin_utils._authenticode._cfb import MAX_DEPTH, CompoundFile
from ansible_collections.codesign.windows.plugins.plugin_utils._authenticode._limits import Unreadable
from ansible_collections.codesign.windows.plugins.plugin_utils._authenticode._msi import MsiPackage, clsid_text

from unit.plugins.plugin_utils.signing_helpers import samples

DIRECTORY_ENTRY = 128


def compound(root: samples.Storage) -> bytearray:
    return bytearray(samples.make_compound_file(root))


def read(data) -> CompoundFile:
    return CompoundFile(memoryview(bytes(data)))


def simple() -> samples.Storage:
    root = samples.Storage(clsid=samples.MSI_CLSID)
    root.children["Payload"] = b"payload bytes"
    return root


@pytest.mark.parametrize("special", (0xFFFFFFFB, 0xFFFFFFFC, 0xFFFFFFFD, 0xFFFFFFFE, 0xFFFFFFFF))
def test_a_difat_chain_that_starts_at_a_special_sector_number_is_empty(special):
    """[MS-CFB] 2.1: numbers above MAXREGSECT (0xFFFFFFFA) are not sectors (0xFFFFFFFB is reserved, then
    DIFSECT, FATSECT, ENDOFCHAIN, FREESECT); a DIFAT chain starting at one holds nothing to read."""
    data = compound(simple())
    struct.pack_into("<II", data, 0x44, special, 1)     # first DIFAT sector, number of DIFAT sectors
    cfb = read(data)
    assert [child.name for child in cfb.root.children] == ["Payload"]


def test_an_entry_of_unused_kind_linked_into_the_tree_is_refused():
    data = compound(simple())
    directory = read(data)
    payload = next(child for child in directory.root.children if child.name == "Payload")
    offset = 512 + _directory_sector(data) * 512 + payload.index * DIRECTORY_ENTRY
    data[offset + 66] = 0                               # object type: unknown or unallocated
    with pytest.raises(Unreadable) as refused:
        read(data)
    assert str(refused.value) == "The compound file's directory tree links an unused entry."


def _directory_sector(data: bytearray) -> int:
    return struct.unpack_from("<I", data, 48)[0]


def _nested(levels: int) -> samples.Storage:
    root = samples.Storage(clsid=samples.MSI_CLSID)
    node = root
    for level in range(levels):
        child = samples.Storage()
        node.children[f"L{level}"] = child
        node = child
    node.children["Deepest"] = b"at the bottom"
    return root


def test_storages_nested_to_the_limit_are_read_and_one_more_is_refused():
    deepest = read(compound(_nested(MAX_DEPTH)))
    node = deepest.root
    for _level in range(MAX_DEPTH):
        node = next(child for child in node.children if child.name.startswith("L"))
    assert [child.name for child in node.children] == ["Deepest"]
    with pytest.raises(Unreadable, match=f"Storages are nested deeper than {MAX_DEPTH} levels"):
        read(compound(_nested(MAX_DEPTH + 1)))


def test_a_compound_file_without_a_class_id_has_an_empty_one():
    assert clsid_text(bytes(16)) == ""
    root = simple()
    root.clsid = bytes(16)
    assert MsiPackage(read(compound(root))).class_id == ""
    assert MsiPackage(read(compound(simple()))).class_id == "000C1084-0000-0000-C000-000000000046"


def test_the_metadata_slot_counts_streams_inside_the_first_storage():
    """The streams MSI signing hashes first may sit in a storage: their sizes count towards the slot a renamed
    MsiDigitalSignatureEx would fill (32 bytes for SHA-256)."""
    root = samples.Storage(clsid=samples.MSI_CLSID)
    root.children["A"] = samples.Storage(children={"Inner": bytes(32)})
    root.children["B"] = b"five!"
    package = MsiPackage(read(compound(root)))
    assert package.metadata_slot_filled("sha256") is True
    assert package.metadata_slot_filled("sha384") is False
    # With the MsiDigitalSignatureEx stream present, the slot is that stream's, not the first streams'.
    root.children["\x05MsiDigitalSignatureEx"] = bytes(32)
    assert MsiPackage(read(compound(root))).metadata_slot_filled("sha256") is False


def _sector(data: bytearray, number: int) -> slice:
    return slice(512 + number * 512, 512 + (number + 1) * 512)


def test_a_fragmented_stream_is_read_from_its_own_sectors():
    """[MS-CFB] 2.3: a stream's sectors follow its FAT chain, which may jump back anywhere. The builder lays out
    the FAT (sector 0), the directory (1) and the stream (2 onwards); here the directory moves to a sector
    appended at the end and the stream's second sector into sector 1, so its chain runs 2, 1, 4, 5, ... It must
    read back byte for byte."""
    payload = bytes(range(256)) * 32                   # 8192 bytes: 16 regular sectors, outside the mini stream
    root = samples.Storage(clsid=samples.MSI_CLSID)
    root.children["Big"] = payload
    data = compound(root)
    fat = samples.cfb_fat_offset
    big = next(child for child in read(data).root.children if child.name == "Big")
    assert (_directory_sector(data), big.start) == (1, 2), "the builder's layout changed"
    appended = (len(data) - 512) // 512
    data += data[_sector(data, 1)]                                   # the directory, now at the end
    struct.pack_into("<I", data, 48, appended)
    struct.pack_into("<I", data, fat(appended), samples.ENDOFCHAIN)
    data[_sector(data, 1)] = data[_sector(data, 3)]                  # the stream's second sector, now at 1
    data[_sector(data, 3)] = bytes(512)
    struct.pack_into("<I", data, fat(1), struct.unpack_from("<I", data, fat(3))[0])
    struct.pack_into("<I", data, fat(2), 1)
    struct.pack_into("<I", data, fat(3), samples.FREESECT)
    cfb = read(data)
    big = next(child for child in cfb.root.children if child.name == "Big")
    assert big.runs[:2] == [(512 + 2 * 512, 512), (512 + 1 * 512, 512)]
    assert b"".join(bytes(chunk) for chunk in cfb.chunks(big)) == payload
