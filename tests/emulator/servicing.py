r"""Servicing on an emulated host: its disk, cabinet files, and the programs that install updates.

What each program does to the model, with its source:
- expand.exe -F:* <cabinet> <directory> writes every file of the cabinet into the directory
  (https://learn.microsoft.com/windows-server/administration/windows-commands/expand). The cabinet is read as
  [MS-CAB] lays it out (https://learn.microsoft.com/openspecs/exchange_server_protocols/ms-cab): CFHEADER, CFFOLDER,
  CFFILE, CFDATA. Only uncompressed folders are modelled (tests build them, tests/support/cab.py); an MSZIP or LZX
  folder fails loudly. expand.exe's exit codes are not documented: the model exits 0 when it expanded the files
  and 1 when it could not read the cabinet, and the collection judges by the files it finds, not by the code.
- dism.exe /online /add-package /packagepath:<cab> /quiet /norestart (Windows 7 / Server 2008 R2 and later)
  reads the package's update.mum and adds the package to the running Windows: CBS keeps it under
  Component Based Servicing\Packages\<name>~<token>~<arch>~~<version>, CurrentState 112 when installed, 96 when
  a restart must finish it (and CBS\RebootPending exists until then); Win32_QuickFixEngineering lists the KB at
  once. DISM then exits 3010 (ERROR_SUCCESS_REBOOT_REQUIRED) instead of 0. With /quiet it prints nothing but
  errors: "Error: <code>", the message, and where its log is. A failure exits with the HRESULT
  (https://learn.microsoft.com/windows-hardware/manufacture/desktop/dism-operating-system-package-servicing-command-line-options,
  https://learn.microsoft.com/windows-hardware/manufacture/desktop/dism-error-codes,
  https://learn.microsoft.com/windows/deployment/update/windows-update-error-reference):
  0x800f081e CBS_E_NOT_APPLICABLE when the package's parent identity names another build or architecture,
  0x800f0823 CBS_E_NEW_SERVICING_STACK_REQUIRED when it needs a servicing stack update the host lacks,
  0x800f0805 CBS_E_INVALID_PACKAGE for a cabinet without a package manifest,
  0x800f0806 CBS_E_PENDING ("One or more resources that are required by this update are locked": an update that
  cannot be queued behind a package still pending a restart; restart, then install it again;
  https://learn.microsoft.com/previous-versions/windows/it-pro/windows-server-2008-R2-and-2008/cc732334(v=ws.10)),
  0x800f081f CBS_E_SOURCE_MISSING (the files a package needs are missing from a damaged component store;
  https://learn.microsoft.com/windows-hardware/manufacture/desktop/repair-a-windows-image),
  0x80070070 ERROR_DISK_FULL, 0x80070002 ERROR_FILE_NOT_FOUND, and 740 ERROR_ELEVATION_REQUIRED
  ("Elevated permissions are required to run DISM.") for an account that is not an administrator.
  Without /norestart DISM may restart Windows by itself: that is not modelled and fails loudly.
  dism /online /remove-package /packagename:<name> puts the package into CurrentState 5 (uninstall pending).
  CBS writes an event (source Microsoft-Windows-Servicing, Setup log) for each package state change.
- pkgmgr.exe /ip /m:<cab> /quiet /norestart does the same on Windows Server 2008, which has no DISM
  (https://learn.microsoft.com/previous-versions/windows/it-pro/windows-vista/cc749465(v=ws.10)); it reports a
  refused account with E_ACCESSDENIED (0x80070005).
- eventcreate.exe /L APPLICATION /T INFORMATION /SO <source> /ID <1-1000> /D <text> writes an Application log entry;
  creating a new source needs an administrator
  (https://learn.microsoft.com/windows-server/administration/windows-commands/eventcreate).
- winrm.cmd get winrm/config/winrs prints the WinRS quotas, MaxMemoryPerShellMB among them: 150 MB by default on
  WinRM 2.0 (Windows 7 / Server 2008 R2, WMF 2.0 on 2008), 1024 MB on WinRM 3.0 and later
  (https://learn.microsoft.com/windows/win32/winrm/quotas, and the policy "Specify maximum amount of memory in MB
  per Shell", whose default is 150).

The fixture's servicing: key (every entry optional; without it a host behaves as before):
  free_disk_mb: 20480            what DriveInfo says is free on C: before anything is written
  install_mb: 500                what one package takes from the disk while it installs
  max_memory_per_shell_mb: ...   MaxMemoryPerShellMB as winrm.cmd prints it (default by WinRM version above)
  stack_required: {KB: SSU-KB}   the update needs that servicing stack update installed first (0x800f0823); a list
                                 names the servicing stack updates of which any one will do (a later one has the
                                 newer stack: Windows 10 1607 / Server 2016 need one before each cumulative update)
  superseded_by: {KB: [KB, ...]} the update is superseded by those: while one of them is installed, DISM answers
                                 0x800f081e (not applicable). Microsoft KB3057448 ("The update is not applicable to
                                 your computer", cause 1: the update is superseded, a newer version of its payload is
                                 on the system); default: nothing is superseded
  install_fails: {KB: "0x800f0922"}  the package's installers fail with this code
  dism_memory_mb: N              what DISM / pkgmgr needs to add a package; above the shell's MaxMemoryPerShellMB
                                 WinRM terminates the shell (emulator.tasks; default: fits in any quota)
  task_seconds: 0                how long a scheduled task runs before its Last Result is its exit code
  pending_blocks: [KB, ...]      these updates cannot be queued behind a package that waits for a restart: DISM
                                 returns 0x800f0806 while one is install- or uninstall-pending
  component_store_corrupt: true  every package needs files the damaged component store lacks: 0x800f081f
  connection_drops_during_install: true  once: DISM adds the package, and the connection drops before its answer
"""

from __future__ import annotations

import datetime as dt
import ntpath
import re
import struct
import typing as t
import xml.etree.ElementTree as ET  # nosec - the manifests are the tests' own

from emulator import tasks
from emulator.pwsh.native import NativeNotFound, NativeResult
from emulator.pwsh.runtime import UnsupportedConstruct
from emulator.windows import CBS, CBS_STATE, WindowsHost, servicing_build

SYSTEM32 = "c:\\windows\\system32"
# Directories every Windows has; scripts create the rest.
# CBS keeps the manifest (.mum) of every package it knows in %SystemRoot%\servicing\Packages, by the name the
# package's InstallName value gives; its <package identifier="KB..."> is the update the package is (a rollup's name,
# Package_for_RollupFix, does not say). CBS.log and checksur.log name these files, e.g.
# servicing\Packages\Package_for_KB2479628_RTM~31bf3856ad364e35~amd64~~6.1.1.4.mum
# (https://blogs.technet.microsoft.com/roplatforms/2011/04/28/installation-failures-cbs-store-corruptions-uncommon-issues-and-troubleshooting/).
SERVICING_PACKAGES = "c:\\windows\\servicing\\packages"
BASE_DIRECTORIES = ("c:", "c:\\windows", "c:\\windows\\temp", SYSTEM32, "c:\\windows\\syswow64",
                    "c:\\windows\\servicing", SERVICING_PACKAGES)
DEFAULT_FREE_MB = 20480
DEFAULT_INSTALL_MB = 500

ERROR_SUCCESS_REBOOT_REQUIRED = 3010
ERROR_ELEVATION_REQUIRED = 740
CBS_E_NOT_APPLICABLE = 0x800F081E
CBS_E_NEW_SERVICING_STACK_REQUIRED = 0x800F0823
CBS_E_INVALID_PACKAGE = 0x800F0805
CBS_E_UNKNOWN_UPDATE = 0x800F080C
CBS_E_PENDING = 0x800F0806
CBS_E_SOURCE_MISSING = 0x800F081F
E_ACCESSDENIED = 0x80070005
ERROR_DISK_FULL = 0x80070070
ERROR_FILE_NOT_FOUND = 0x80070002
MESSAGES = {
    CBS_E_NOT_APPLICABLE: "The specified package is not applicable to this image.",
    CBS_E_NEW_SERVICING_STACK_REQUIRED: "The package requires a newer version of the servicing stack.",
    CBS_E_INVALID_PACKAGE: "The specified package is not valid Windows package.",
    CBS_E_UNKNOWN_UPDATE: "The specified package cannot be found.",
    CBS_E_PENDING: "One or more resources that are required by this update are locked.",
    CBS_E_SOURCE_MISSING: "The source files could not be found.",
    ERROR_DISK_FULL: "There is not enough space on the disk.",
    ERROR_FILE_NOT_FOUND: "The system cannot find the file specified.",
    E_ACCESSDENIED: "Access is denied.",
}


# ---------------------------------------------------------------------------------------------------------- disk
def norm(path: str) -> str:
    return ntpath.normpath(str(path)).lower().rstrip("\\")


def is_directory(host: WindowsHost, path: str) -> bool:
    path = norm(path)
    return path in BASE_DIRECTORIES or path in host.directories


def free_bytes(host: WindowsHost) -> int:
    free = int(host.servicing.get("free_disk_mb", DEFAULT_FREE_MB)) * 1024 * 1024
    return max(0, free - sum(len(data) for data in host.disk.values()))


def find_file(host: WindowsHost, path: str) -> str | None:
    """The disk's key for a path (paths are case-insensitive), None when there is no such file."""
    wanted = norm(path)
    return next((key for key in host.disk if norm(key) == wanted), None)


def read_file(host: WindowsHost, path: str) -> bytes | None:
    key = find_file(host, path)
    if key is None:
        return package_manifest(host, path)
    return host.disk[key]


def package_manifest(host: WindowsHost, path: str) -> bytes | None:
    """The .mum CBS keeps in servicing\\Packages for a package of the registry model; None for anything else."""
    directory, name = ntpath.split(norm(path))
    if directory != SERVICING_PACKAGES or not name.endswith(".mum"):
        return None
    packages = CBS + r"\Packages"
    package = next((key for key in host.registry.subkey_names(packages) if key.lower() == name[:-4]), None)
    if package is None:
        return None
    identity, _token, arch, _lang, version = (package.split("~") + [""] * 5)[:5]
    match = re.match(r"^package_for_(kb\d+)$", identity, re.I)
    kb = host.package_kbs.get(package) or (match.group(1).upper() if match else "")
    return (f'<?xml version="1.0" encoding="utf-8"?>\r\n<assembly xmlns="urn:schemas-microsoft-com:asm.v3" '
            f'manifestVersion="1.0"><assemblyIdentity name="{identity}" version="{version}" '
            f'processorArchitecture="{arch}" language="neutral" buildType="release" '
            f'publicKeyToken="31bf3856ad364e35"/><package identifier="{kb}" releaseType="Update">'
            "</package></assembly>").encode("utf-8")


def write_file(host: WindowsHost, path: str, data: bytes) -> None:
    key = find_file(host, path) or ntpath.normpath(str(path))
    host.disk[key] = bytes(data)


def delete_file(host: WindowsHost, path: str) -> bool:
    key = find_file(host, path)
    if key is not None:
        del host.disk[key]
    return key is not None


def files_in(host: WindowsHost, directory: str) -> list[str]:
    """The files directly in a directory, as full paths."""
    prefix = norm(directory) + "\\"
    return sorted(key for key in host.disk if norm(key).startswith(prefix) and "\\" not in norm(key)[len(prefix):])


# ---------------------------------------------------------------------------------------------------------- cabinets
class CabinetError(ValueError):
    pass


_HEADER = struct.Struct("<4sIIIIIBBHHHHH")
_FOLDER = struct.Struct("<IHH")
_FILE = struct.Struct("<IIHHHH")
_DATA = struct.Struct("<IHH")


def read_cabinet(data: bytes) -> list[tuple[str, bytes]]:
    """The files of a cabinet, by [MS-CAB] 2.1-2.5; CabinetError for anything that is not one."""
    if len(data) < _HEADER.size or data[:4] != b"MSCF":
        raise CabinetError("not a cabinet (no MSCF signature)")
    (_sig, _r1, size, _r2, files_offset, _r3, minor, major, folders, count, flags, _set, _index) = \
        _HEADER.unpack_from(data)
    if size != len(data) or (major, minor) != (1, 3):
        raise CabinetError("the cabinet's header does not match its size or version")
    if flags:
        raise UnsupportedConstruct("a cabinet with reserved fields or a cabinet set (CFHEADER flags)")
    contents = []
    for number in range(folders):
        start, blocks, compression = _FOLDER.unpack_from(data, _HEADER.size + number * _FOLDER.size)
        if compression & 0x000F != 0:
            raise UnsupportedConstruct("a compressed cabinet folder (MSZIP, Quantum or LZX)")
        body, offset = bytearray(), start
        for _block in range(blocks):
            _csum, packed, unpacked = _DATA.unpack_from(data, offset)
            if packed != unpacked:
                raise CabinetError("a stored CFDATA block whose sizes differ")
            body += data[offset + _DATA.size:offset + _DATA.size + packed]
            offset += _DATA.size + packed
        contents.append(bytes(body))
    found, offset = [], files_offset
    for _number in range(count):
        length, position, folder, _date, _time, _attributes = _FILE.unpack_from(data, offset)
        end = data.index(b"\0", offset + _FILE.size)
        name = data[offset + _FILE.size:end].decode("ascii")
        offset = end + 1
        if folder >= len(contents) or position + length > len(contents[folder]):
            raise CabinetError(f"{name} lies outside its folder")
        found.append((name, contents[folder][position:position + length]))
    return found


class Manifest(t.NamedTuple):
    name: str
    version: str
    architecture: str
    kb: str
    release_type: str
    restart: str
    applies_to: tuple[int, int, int] | None
    applies_architecture: str | None


_NS = {"a": "urn:schemas-microsoft-com:asm.v3"}


def read_manifest(files: list[tuple[str, bytes]]) -> Manifest | None:
    """The package manifest (update.mum) of a package cabinet; None when there is none."""
    text = next((data for name, data in files if name.lower() == "update.mum"), None)
    if text is None:
        return None
    try:
        root = ET.fromstring(text)  # nosec - the tests' own manifests
    except ET.ParseError:
        return None
    identity = root.find("a:assemblyIdentity", _NS)
    package = root.find("a:package", _NS)
    if identity is None or package is None:
        return None
    parent = package.find("a:parent/a:assemblyIdentity", _NS)
    applies = None
    if parent is not None:
        parts = (parent.get("version") or "").split(".")
        if len(parts) >= 3 and all(part.isdigit() for part in parts[:3]):
            applies = (int(parts[0]), int(parts[1]), int(parts[2]))
    return Manifest(identity.get("name") or "", identity.get("version") or "", identity.get("processorArchitecture") or "",
                    (package.get("identifier") or "").upper(), package.get("releaseType") or "",
                    package.get("restart") or "possible", applies,
                    parent.get("processorArchitecture") if parent is not None else None)


# ---------------------------------------------------------------------------------------------------------- CBS
def _signed(code: int) -> int:
    """An exit code as $LASTEXITCODE holds it: a signed 32-bit integer."""
    return code - 2**32 if code >= 2**31 else code


def _failure(code: int, quiet_log: str = "C:\\Windows\\Logs\\DISM\\dism.log") -> NativeResult:
    shown = f"0x{code:08x}" if code > 0xFFFF else str(code)
    return NativeResult(_signed(code), ["", f"Error: {shown}", "", MESSAGES.get(code, "The operation failed."), "",
                                        f"The DISM log file can be found at {quiet_log}"])


def _packages(host: WindowsHost) -> str:
    return CBS + r"\Packages"


def _installed(host: WindowsHost, kb: str) -> bool:
    for name in host.registry.subkey_names(_packages(host)):
        if name.lower().startswith(f"package_for_{kb.lower()}~"):
            key = host.registry.open(f"{_packages(host)}\\{name}")
            if key is not None and key.get("CurrentState") in (CBS_STATE["installed"], CBS_STATE["install_pending"]):
                return True
    return False


def _event(host: WindowsHost, log: str, source: str, event_id: int, kind: str, message: str) -> None:
    host.events.append({"log": log, "source": source, "id": event_id, "type": kind, "message": message})


def _any_pending(host: WindowsHost) -> bool:
    """Whether a package waits for a restart to finish installing or removing."""
    for name in host.registry.subkey_names(_packages(host)):
        key = host.registry.open(f"{_packages(host)}\\{name}")
        if key is not None and key.get("CurrentState") in (CBS_STATE["install_pending"], CBS_STATE["uninstall_pending"]):
            return True
    return False


def add_package(host: WindowsHost, path: str) -> NativeResult:
    """dism /add-package or pkgmgr /ip, once the account is allowed: the package applied to the model."""
    data = read_file(host, path)
    if data is None:
        return _failure(ERROR_FILE_NOT_FOUND)
    try:
        manifest = read_manifest(read_cabinet(data))
    except CabinetError:
        manifest = None
    if manifest is None:
        return _failure(CBS_E_INVALID_PACKAGE)
    return apply_package(host, manifest)


def apply_package(host: WindowsHost, manifest: Manifest) -> NativeResult:
    """A package whose manifest was read, added to the model as CBS adds it, whoever asked (DISM, pkgmgr, or the
    Windows Update Agent, emulator.windows_update): its exit code as DISM would return it."""
    arch = "amd64" if host.architecture == "AMD64" else "x86"
    if manifest.applies_to != (host.major, host.minor, servicing_build(host.build)) or manifest.applies_architecture != arch \
            or manifest.architecture != arch:
        return _failure(CBS_E_NOT_APPLICABLE)
    superseded_by = (host.servicing.get("superseded_by") or {}).get(manifest.kb) or ()
    if any(_installed(host, str(kb).upper()) for kb in superseded_by):
        return _failure(CBS_E_NOT_APPLICABLE)
    stack = (host.servicing.get("stack_required") or {}).get(manifest.kb)
    stacks = [stack] if isinstance(stack, str) else list(stack or ())
    if stacks and not any(_installed(host, str(kb).upper()) for kb in stacks):
        return _failure(CBS_E_NEW_SERVICING_STACK_REQUIRED)
    if manifest.kb in [str(kb).upper() for kb in host.servicing.get("pending_blocks") or ()] and _any_pending(host):
        return _failure(CBS_E_PENDING)
    if host.servicing.get("component_store_corrupt"):
        return _failure(CBS_E_SOURCE_MISSING)
    fails = (host.servicing.get("install_fails") or {}).get(manifest.kb)
    if fails:
        return _failure(int(str(fails), 16) if str(fails).lower().startswith("0x") else int(fails))
    needed = int(host.servicing.get("install_mb", DEFAULT_INSTALL_MB)) * 1024 * 1024
    if free_bytes(host) < needed:
        return _failure(ERROR_DISK_FULL)
    key = f"{_packages(host)}\\{manifest.name}~31bf3856ad364e35~{arch}~~{manifest.version}"
    existing = host.registry.open(key)
    if existing is not None and existing.get("CurrentState") in (CBS_STATE["installed"], CBS_STATE["install_pending"]):
        return NativeResult(0, [])   # already there: nothing to do
    pending = manifest.restart != "never"
    state = "install_pending" if pending else "installed"
    host.registry.set(key, "CurrentState", CBS_STATE[state])
    host.registry.set(key, "InstallName", ntpath.basename(key) + ".mum")
    host.package_kbs[ntpath.basename(key)] = manifest.kb
    if not any(row.get("HotFixID", "").upper() == manifest.kb for row in host.qfe):
        host.qfe.append({"HotFixID": manifest.kb, "Description": manifest.release_type or "Update",
                         "InstalledOn": dt.date(2026, 11, 29).strftime("%m/%d/%Y").lstrip("0")})
    if host.servicing.pop("connection_drops_during_install", False):
        # The package is in; the connection goes before DISM's answer does (once).
        host.connection_drop_pending = True
    if pending:
        host.registry.ensure(CBS + r"\RebootPending")
    _event(host, "Setup", "Microsoft-Windows-Servicing", 2, "Information",
           f"Package {manifest.kb} was successfully changed to the {'Install Pending' if pending else 'Installed'} "
           "state.")
    return NativeResult(ERROR_SUCCESS_REBOOT_REQUIRED if pending else 0, [])


def remove_package(host: WindowsHost, name: str) -> NativeResult:
    packages = _packages(host)
    found = next((key for key in host.registry.subkey_names(packages) if key.lower() == name.lower()), None)
    if found is None:
        return _failure(CBS_E_UNKNOWN_UPDATE)
    host.registry.set(f"{packages}\\{found}", "CurrentState", CBS_STATE["uninstall_pending"])
    match = re.match(r"^package_for_(kb\d+)~", found, re.I)
    if match:
        host.qfe[:] = [row for row in host.qfe if row.get("HotFixID", "").upper() != match.group(1).upper()]
    host.registry.ensure(CBS + r"\RebootPending")
    _event(host, "Setup", "Microsoft-Windows-Servicing", 2, "Information",
           f"Package {found} was successfully changed to the Uninstall Pending state.")
    return NativeResult(ERROR_SUCCESS_REBOOT_REQUIRED, [])


# ---------------------------------------------------------------------------------------------------------- programs
def _options(arguments: list[str]) -> dict[str, str | bool]:
    """/name or /name:value options, names lower-cased (DISM and pkgmgr ignore their case)."""
    found: dict[str, str | bool] = {}
    for argument in arguments:
        if not argument.startswith("/"):
            raise UnsupportedConstruct(f"the argument {argument!r}")
        name, colon, value = argument[1:].partition(":")
        found[name.lower()] = value if colon else True
    return found


def dism(binding, arguments: list[str]) -> NativeResult:
    host = binding.host
    if (host.major, host.minor) < (6, 1):
        raise NativeNotFound("dism.exe")   # DISM came with Windows 7 / Server 2008 R2
    options = _options(arguments)
    if not host.administrator:
        return NativeResult(ERROR_ELEVATION_REQUIRED, ["", f"Error: {ERROR_ELEVATION_REQUIRED}", "",
                                                       "Elevated permissions are required to run DISM.",
                                                       "Use an elevated command prompt to complete these tasks."])
    if options.get("online") is not True or options.get("quiet") is not True:
        raise UnsupportedConstruct(f"dism.exe {' '.join(arguments)} (only /online /quiet servicing is modelled)")
    if options.get("norestart") is not True:
        raise UnsupportedConstruct("dism.exe without /norestart (it may restart Windows)")
    if options.get("add-package") is True and isinstance(options.get("packagepath"), str):
        tasks.check_shell_quota(binding, "dism.exe")
        return add_package(host, str(options["packagepath"]))
    if options.get("remove-package") is True and isinstance(options.get("packagename"), str):
        return remove_package(host, str(options["packagename"]))
    raise UnsupportedConstruct(f"dism.exe {' '.join(arguments)}")


def pkgmgr(binding, arguments: list[str]) -> NativeResult:
    host = binding.host
    if (host.major, host.minor) not in ((6, 0), (6, 1)):
        raise NativeNotFound("pkgmgr.exe")
    options = _options(arguments)
    if options.get("ip") is not True or not isinstance(options.get("m"), str) or options.get("norestart") is not True:
        raise UnsupportedConstruct(f"pkgmgr.exe {' '.join(arguments)}")
    if not host.administrator:
        return NativeResult(_signed(E_ACCESSDENIED), [])
    tasks.check_shell_quota(binding, "pkgmgr.exe")
    result = add_package(host, str(options["m"]))
    return NativeResult(result.exit_code, [])   # pkgmgr prints nothing; its exit code is the result


def expand(binding, arguments: list[str]) -> NativeResult:
    host = binding.host
    if len(arguments) != 3 or arguments[0].lower() != "-f:*":
        raise UnsupportedConstruct(f"expand.exe {' '.join(arguments)} (only -F:* <cabinet> <directory> is modelled)")
    source, target = arguments[1], arguments[2]
    version = f"{host.major}.{host.minor}.{host.build}.16384"
    lines = [f"Microsoft (R) File Expansion Utility  Version {version}",
             "Copyright (c) Microsoft Corporation. All rights reserved.", ""]
    data = read_file(host, source)
    if data is None or not is_directory(host, target):
        return NativeResult(1, lines + [f"Can't open input file: {source}." if data is None else
                                        f"Can't open output directory: {target}."])
    try:
        files = read_cabinet(data)
    except CabinetError:
        return NativeResult(1, lines + [f"{source}: not a cabinet file."])
    for name, content in files:
        lines.append(f"Adding {target}\\{name} to Extraction Queue")
        write_file(host, f"{target}\\{name}", content)
    lines += ["", "Expanding Files ....", "", "Expanding Files Complete ...", f"{len(files)} files total."]
    return NativeResult(0, lines)


def eventcreate(binding, arguments: list[str]) -> NativeResult:
    host = binding.host
    options: dict[str, str] = {}
    index = 0
    while index < len(arguments):
        name = arguments[index].lower()
        if not name.startswith("/") or index + 1 >= len(arguments):
            raise UnsupportedConstruct(f"eventcreate.exe {' '.join(arguments)}")
        options[name[1:]] = arguments[index + 1]
        index += 2
    if set(options) != {"l", "t", "so", "id", "d"} or not 1 <= int(options["id"]) <= 1000:
        raise UnsupportedConstruct(f"eventcreate.exe {' '.join(arguments)}")
    if not host.administrator:
        return NativeResult(1, ["ERROR: Access is denied."])
    _event(host, options["l"].capitalize(), options["so"], int(options["id"]), options["t"].capitalize(), options["d"])
    return NativeResult(0, [f"SUCCESS: An event of type '{options['t'].upper()}' was created in the "
                            f"'{options['l'].upper()}' log with '{options['so']}' as the source."])


def winrm(binding, arguments: list[str]) -> NativeResult:
    host = binding.host
    if [argument.lower() for argument in arguments] != ["get", "winrm/config/winrs"]:
        raise UnsupportedConstruct(f"winrm.cmd {' '.join(arguments)}")
    memory = tasks.shell_memory_mb(host)
    return NativeResult(0, ["Winrs", "    AllowRemoteShellAccess = true", "    IdleTimeout = 7200000",
                            "    MaxConcurrentUsers = 10", "    MaxShellRunTime = 2147483647",
                            "    MaxProcessesPerShell = 25", f"    MaxMemoryPerShellMB = {memory}",
                            "    MaxShellsPerUser = 30"])


PROGRAMS = {"dism.exe": dism, "pkgmgr.exe": pkgmgr, "expand.exe": expand, "eventcreate.exe": eventcreate,
            "winrm.cmd": winrm}


def program_exists(host: WindowsHost, name: str) -> bool:
    """Whether a program of PROGRAMS is in the host's system directory."""
    if name == "dism.exe":
        return (host.major, host.minor) >= (6, 1)
    if name == "pkgmgr.exe":
        return (host.major, host.minor) in ((6, 0), (6, 1))
    return name in PROGRAMS
