r"""Windows update packages for tests: uncompressed cabinet files ([MS-CAB]) and the .msu / .cab an update
ships as, with a package manifest (update.mum) that names the update the way CBS reads it.

[MS-CAB] Cabinet File Format, https://learn.microsoft.com/openspecs/exchange_server_protocols/ms-cab :
CFHEADER (signature "MSCF", sizes, version 1.3, folder and file counts), one CFFOLDER per folder (offset of
its first CFDATA block, block count, compression type 0 = none), one CFFILE per file (size, offset in the
uncompressed folder, folder index, date, time, attributes, NUL-terminated name), then the CFDATA blocks
(checksum, compressed and uncompressed sizes, at most 32,768 bytes each). A checksum of 0 means "not
computed" (2.2.4 CFDATA, csum). The emulated hosts read the same structure (emulator.servicing.read_cabinet).

A .msu is itself a cabinet holding the update's .cab, WSUSSCAN.cab (Windows Update's scan metadata) and a
properties file; since 2021 some also carry the servicing stack update as SSU-<version>-<arch>.cab
(https://learn.microsoft.com/troubleshoot/windows-client/installing-updates-features-roles/description-of-windows-update-standalone-installer).
The package .cab holds update.mum, whose assemblyIdentity names the CBS package (Package_for_KB<n>, or
Package_for_RollupFix for a cumulative rollup) and whose parent identity says which Windows build it
applies to.
"""

from __future__ import annotations

import hashlib
import struct

BLOCK = 32768
_HEADER = struct.Struct("<4sIIIIIBBHHHHH")
_FOLDER = struct.Struct("<IHH")
_FILE = struct.Struct("<IIHHHH")
_DATA = struct.Struct("<IHH")
# 1 November 2021, 12:00: the DOS date and time of every file (only for readability of listings).
_DOS_DATE = ((2021 - 1980) << 9) | (11 << 5) | 1
_DOS_TIME = 12 << 11


def write_cabinet(files: list[tuple[str, bytes]], set_id: int = 0x4143) -> bytes:
    """An uncompressed cabinet holding ``files`` (name, data) in one folder."""
    names = [name.encode("ascii") + b"\0" for name, _data in files]
    folder_data = b"".join(data for _name, data in files)
    blocks = [folder_data[i:i + BLOCK] for i in range(0, len(folder_data), BLOCK)] or [b""]
    files_offset = _HEADER.size + _FOLDER.size
    data_offset = files_offset + sum(_FILE.size + len(name) for name in names)
    total = data_offset + sum(_DATA.size + len(block) for block in blocks)
    out = bytearray(_HEADER.pack(b"MSCF", 0, total, 0, files_offset, 0, 3, 1, 1, len(files), 0, set_id, 0))
    out += _FOLDER.pack(data_offset, len(blocks), 0)
    position = 0
    for (name, data), encoded in zip(files, names):
        out += _FILE.pack(len(data), position, 0, _DOS_DATE, _DOS_TIME, 0x20) + encoded
        position += len(data)
    for block in blocks:
        out += _DATA.pack(0, len(block), len(block)) + block
    assert len(out) == total
    return bytes(out)


ARCH = {"x64": "amd64", "x86": "x86", "arm64": "arm64"}


def update_mum(kb: str, applies_to: str, architecture: str = "x64", package: str | None = None,
               version: str | None = None, restart: str = "possible", release_type: str = "Security Update") -> str:
    """A package manifest: which package, which update (KB), for which Windows build (applies_to: 6.3.9600)."""
    name = package or f"Package_for_{kb}"
    version = version or f"{applies_to.split('.')[0]}.{applies_to.split('.')[1]}.1.0"
    arch = ARCH[architecture]
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
        '<assembly xmlns="urn:schemas-microsoft-com:asm.v3" manifestVersion="1.0" '
        f'displayName="{kb}" company="Microsoft Corporation" '
        f'supportInformation="http://support.microsoft.com/?kbid={kb[2:]}">\r\n'
        f'  <assemblyIdentity name="{name}" version="{version}" processorArchitecture="{arch}" language="neutral" '
        'buildType="release" publicKeyToken="31bf3856ad364e35"/>\r\n'
        f'  <package identifier="{kb}" releaseType="{release_type}" restart="{restart}">\r\n'
        '    <parent buildCompare="EQ" revisionCompare="GE" serviceCompare="GE" disposition="detect">\r\n'
        f'      <assemblyIdentity name="Microsoft-Windows-Foundation-Package" version="{applies_to}.16384" '
        f'processorArchitecture="{arch}" language="neutral" buildType="release" publicKeyToken="31bf3856ad364e35"/>\r\n'
        '    </parent>\r\n'
        '  </package>\r\n'
        '</assembly>\r\n')


def package_cab(kb: str, applies_to: str, architecture: str = "x64", payload_blocks: int = 64, **mum) -> bytes:
    """The update's own .cab: update.mum and a payload file of 32-byte blocks."""
    return write_cabinet([("update.mum", update_mum(kb, applies_to, architecture, **mum).encode("utf-8")),
                          (f"{kb.lower()}-payload.dat", hashlib.sha256(kb.encode()).digest() * payload_blocks)])


def msu(os_tag: str, kb: str, applies_to: str, architecture: str = "x64", ssu: tuple[str, str] | None = None,
        **mum) -> bytes:
    """A .msu as the Microsoft Update Catalog ships it; ``ssu`` (kb, applies_to) bundles a servicing stack."""
    stem = f"{os_tag.capitalize()}-{kb}-{architecture}"
    files = [(f"{stem}.cab", package_cab(kb, applies_to, architecture, **mum)),
             ("WSUSSCAN.cab", write_cabinet([("package.xml", b"<OfflineSyncPackage/>")])),
             (f"{stem}-pkgProperties.txt",
              f'ApplicabilityInfo="{applies_to}"\r\nKB Article Number="{kb[2:]}"\r\n'.encode("ascii"))]
    if ssu:
        files.insert(0, (f"SSU-{ssu[1]}.1-{architecture}.cab",
                         package_cab(ssu[0], applies_to, architecture, restart="never", release_type="Update")))
    return write_cabinet(files)


def catalog_name(os_tag: str, kb: str, architecture: str, data: bytes, ext: str = "msu") -> str:
    """The file name the Microsoft Update Catalog gives: <os>-<kb>-<arch>_<SHA-1>.<ext>, lower case."""
    return f"{os_tag}-{kb.lower()}-{architecture}_{hashlib.sha1(data).hexdigest()}.{ext}"  # nosec - catalog naming
