r"""The .NET file system and hash types a script sees on an emulated host, backed by its disk
(emulator.servicing). Only what the collection's scripts use is here; anything else fails loudly.

Sources for each behaviour:
- File.Exists returns false, never throws, for a missing file or a bad path
  (https://learn.microsoft.com/dotnet/api/system.io.file.exists); File.OpenRead opens for reading and throws
  FileNotFoundException for a missing file (https://learn.microsoft.com/dotnet/api/system.io.file.openread);
  File.Delete of a missing file is no error (https://learn.microsoft.com/dotnet/api/system.io.file.delete).
- Directory.CreateDirectory creates every missing parent and is no error for an existing directory
  (https://learn.microsoft.com/dotnet/api/system.io.directory.createdirectory); Directory.GetFiles lists full paths
  of the files directly in it (https://learn.microsoft.com/dotnet/api/system.io.directory.getfiles);
  Directory.Delete(path, true) removes it with its contents.
- FileStream(path, FileMode): Create truncates or creates, Append opens at the end (or creates); a missing
  directory throws DirectoryNotFoundException (https://learn.microsoft.com/dotnet/api/system.io.filestream.-ctor,
  https://learn.microsoft.com/dotnet/api/system.io.filemode).
- DriveInfo.AvailableFreeSpace: the bytes free on the volume for this user
  (https://learn.microsoft.com/dotnet/api/system.io.driveinfo.availablefreespace).
- SHA256.Create / SHA1.Create and HashAlgorithm.ComputeHash(byte[] or Stream)
  (https://learn.microsoft.com/dotnet/api/system.security.cryptography.hashalgorithm.computehash).
- A 32-bit process on 64-bit Windows sees SysWOW64 as System32 and reaches System32 as Sysnative; a 64-bit
  process has no Sysnative (https://learn.microsoft.com/windows/win32/winprog64/file-system-redirector).
"""

from __future__ import annotations

import hashlib
import ntpath

from emulator import servicing
from emulator.pwsh.runtime import NetException, NetObject, UnsupportedConstruct, to_int, to_string


def program_path(host, path: str) -> str | None:
    """The program a path names in the host's system directory, seen from this process; None otherwise."""
    directory, name = ntpath.split(servicing.norm(path))
    name = name.lower()
    if directory == "c:\\windows\\sysnative":
        if not host.wow64:
            return None
    elif directory not in (servicing.SYSTEM32, "c:\\windows\\syswow64" if host.architecture == "AMD64" else ""):
        return None
    return name if name in servicing.PROGRAMS and servicing.program_exists(host, name) else None


class FileStreamObject(NetObject):
    ps_type_name = "System.IO.FileStream"

    def __init__(self, host, path: str, mode: str):
        self.host = host
        self.path = path
        mode = mode.lower()
        if mode not in ("create", "append", "open"):
            raise UnsupportedConstruct(f"FileMode {mode}")
        if not servicing.is_directory(host, ntpath.dirname(path)):
            raise NetException(f"Could not find a part of the path '{path}'.",
                               type_name="System.IO.DirectoryNotFoundException")
        existing = servicing.read_file(host, path)
        if mode == "open" and existing is None:
            raise NetException(f"Could not find file '{path}'.", type_name="System.IO.FileNotFoundException")
        self.readonly = mode == "open"
        self.data = bytearray(b"" if mode == "create" else existing or b"")
        if not self.readonly:
            servicing.write_file(host, path, bytes(self.data))

    @property
    def Length(self):  # noqa: N802
        return len(self.data)

    def Write(self, array, offset, count):  # noqa: N802
        if self.readonly:
            raise NetException("Stream does not support writing.", type_name="System.NotSupportedException")
        offset, count = to_int(offset), to_int(count)
        self.data += bytes(array)[offset:offset + count]
        if len(self.data) > servicing.free_bytes(self.host) + len(servicing.read_file(self.host, self.path) or b""):
            raise NetException("There is not enough space on the disk.\r\n", type_name="System.IO.IOException",
                               hresult=-2147024784)
        servicing.write_file(self.host, self.path, bytes(self.data))

    def Close(self):  # noqa: N802
        return None

    def Dispose(self):  # noqa: N802
        return None


class _FileStatics:
    def __init__(self, host):
        self.host = host

    def Exists(self, path):  # noqa: N802
        path = to_string(path)
        return (servicing.read_file(self.host, path) is not None or program_path(self.host, path) is not None
                or path.lower() in self.host.files)

    def OpenRead(self, path):  # noqa: N802
        return FileStreamObject(self.host, to_string(path), "Open")

    def ReadAllText(self, path):  # noqa: N802
        """File.ReadAllText: the file as UTF-8 (its BOM, if any, dropped)."""
        data = FileStreamObject(self.host, to_string(path), "Open").data
        return bytes(data).decode("utf-8-sig", errors="replace")

    def Delete(self, path):  # noqa: N802
        servicing.delete_file(self.host, to_string(path))


class _DirectoryStatics:
    def __init__(self, host):
        self.host = host

    def Exists(self, path):  # noqa: N802
        return servicing.is_directory(self.host, to_string(path))

    def CreateDirectory(self, path):  # noqa: N802
        path = servicing.norm(to_string(path))
        while path and not servicing.is_directory(self.host, path):
            self.host.directories.add(path)
            path = ntpath.dirname(path)
        return NetObject.of(FullName=to_string(path))

    def GetFiles(self, path, pattern=None):  # noqa: N802
        if pattern is not None:
            raise UnsupportedConstruct("Directory.GetFiles with a pattern")
        path = to_string(path)
        if not servicing.is_directory(self.host, path):
            raise NetException(f"Could not find a part of the path '{path}'.",
                               type_name="System.IO.DirectoryNotFoundException")
        return servicing.files_in(self.host, path)

    def Delete(self, path, recursive=False):  # noqa: N802
        path = servicing.norm(to_string(path))
        inside = [key for key in self.host.disk if servicing.norm(key).startswith(path + "\\")]
        if inside and not recursive:
            raise NetException("The directory is not empty.\r\n", type_name="System.IO.IOException")
        for key in inside:
            del self.host.disk[key]
        self.host.directories.difference_update({d for d in self.host.directories if d == path or d.startswith(path + "\\")})


class HashObject(NetObject):
    def __init__(self, name: str):
        self.name = name
        self.ps_type_name = f"System.Security.Cryptography.{name.upper()}Managed"

    def ComputeHash(self, data, *rest):  # noqa: N802
        if rest:
            raise UnsupportedConstruct("ComputeHash with an offset")
        content = bytes(data.data) if isinstance(data, FileStreamObject) else bytes(data)
        return hashlib.new(self.name, content).digest()


class _HashStatics:
    def __init__(self, name: str):
        self.name = name

    def Create(self, *args):  # noqa: N802
        if args:
            raise UnsupportedConstruct("HashAlgorithm.Create with a name")
        return HashObject(self.name)


class DriveInfoObject(NetObject):
    ps_type_name = "System.IO.DriveInfo"

    def __init__(self, host, name: str):
        if name.rstrip(":\\").lower() != "c":
            raise NetException("Could not find the drive. The drive might not be ready or might not be mapped.",
                               type_name="System.IO.DriveNotFoundException")
        self.host = host
        self.Name = "C:\\"

    @property
    def AvailableFreeSpace(self):  # noqa: N802
        return servicing.free_bytes(self.host)


def statics(host) -> dict:
    files = _FileStatics(host)
    directories = _DirectoryStatics(host)
    return {"System.IO.File": files, "System.IO.Directory": directories,
            "System.Security.Cryptography.SHA256": _HashStatics("sha256"),
            "System.Security.Cryptography.SHA1": _HashStatics("sha1")}


def new_object(host, lowered: str, arguments):
    """New-Object for the file system types; None for any other type."""
    if lowered == "io.filestream" and len(arguments) == 2:
        return FileStreamObject(host, to_string(arguments[0]), to_string(arguments[1]))
    if lowered == "io.driveinfo" and len(arguments) == 1:
        return DriveInfoObject(host, to_string(arguments[0]))
    return None
