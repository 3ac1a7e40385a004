# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Installing the update the verdict names: which file, in which order, whether at all, and what the host's
answer means.

The host side (``_acs_hotfix.ps1``, run after the probe runner's library) only writes the bytes it is given,
hashes files, expands a .msu and runs DISM (pkgmgr on Windows Server 2008), reporting exit codes; every
decision is taken here:
- whether the host already has the fix or something that supersedes it: the verdict says so before anything
  is installed (``ready``, ``needs_root_ca``: nothing to do; ``reboot_pending``: installed, a restart is due);
- which update: the verdict's row, the user's choice of monthly rollup or security-only update on Windows 6.x
  (a later monthly rollup or cumulative update supersedes the one the catalog names, a later security-only
  update does not), picked by KB, OS and architecture from Microsoft Update Catalog file names;
- the missing prerequisites first, in catalog order; an "or later" prerequisite (a servicing stack update)
  takes a later update of its kind;
- refusals: ESU-only updates on hosts not known to hold an ESU licence, a file whose SHA-1 (from its catalog
  name) or SHA-256 (given by the user) does not match;
- DISM's and CBS's exit codes, judged by number (DISM's text is localized), as readable messages.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import functools
import hashlib
import os
import re
import typing as t

from ansible_collections.codesign.windows.plugins.plugin_utils._catalog import (
    ROLLUP,
    UBR,
    Catalog,
    OsRow,
    Prerequisite,
    normalize_kb,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._operation import Answer
from ansible_collections.codesign.windows.plugins.plugin_utils._probes import ps_literal, runner_text
from ansible_collections.codesign.windows.plugins.plugin_utils._untrusted import clean_text

PROTOCOL = 1
OPERATION_FILE = os.path.join(os.path.dirname(__file__), "_acs_hotfix.ps1")
ROLLUP_CHOICES = ("monthly", "security_only")
MAX_OUTPUT_CHARS = 400_000
ANSWER = Answer(key="acs_hotfix", protocol=PROTOCOL, what="update", max_chars=MAX_OUTPUT_CHARS)
DEFAULT_CHUNK_BYTES = 512 * 1024
# Where files are copied and expanded on the host: the system's temporary directory, which only
# administrators and the system write to (and which servicing itself uses).
REMOTE_WORK_DIR = "C:\\Windows\\Temp\\codesign-acs-hotfix"
EVENT_SOURCE = "codesign.windows"

# Microsoft Update Catalog file names: <os>-kb<number>[-v<n>]-<arch>_<SHA-1 of the file>.<msu|cab>, e.g.
# windows8.1-kb5022899-x64_<40 hex>.msu, windows8-rt-kb5006739-x64_<40 hex>.msu (Server 2012),
# windows6.1-kb5006743-x64_<40 hex>.msu, windows10.0-kb5006669-x64_<40 hex>.msu
# (https://www.catalog.update.microsoft.com, the download links of each update).
_CATALOG_NAME = re.compile(
    r"^(?P<os>windows[0-9.]+(?:-rt)?)-(?P<kb>kb\d{6,7})(?:-v\d+)?-(?P<arch>x64|x86|arm64)"
    r"(?:_(?P<sha1>[0-9a-f]{40}))?\.(?P<ext>msu|cab)$", re.IGNORECASE)
# The OS part of the catalog names, per catalog row family.
OS_TAGS = {
    "win81_2012r2": ("windows8.1",),
    "ws2012": ("windows8-rt",),
    "win7_2008r2": ("windows6.1",),
    "ws2008": ("windows6.0",),
}
ARCHITECTURES = {"amd64": "x64", "x64": "x64", "64-bit": "x64", "x86": "x86", "32-bit": "x86", "arm64": "arm64"}
_HEX64 = re.compile(r"^[0-9A-Fa-f]{64}$")

# DISM's and CBS's codes, as unsigned 32-bit numbers. DISM exits with the HRESULT of the failure; PowerShell's
# $LASTEXITCODE holds it as a signed 32-bit integer (0x800f081e is -2146498530).
# https://learn.microsoft.com/windows-hardware/manufacture/desktop/dism-error-codes
# https://learn.microsoft.com/windows/deployment/update/windows-update-error-reference
# https://learn.microsoft.com/windows/win32/debug/system-error-codes--0-499- (2, 5, 112) and --500-999- (740),
# https://learn.microsoft.com/windows/win32/msi/error-codes (3010 ERROR_SUCCESS_REBOOT_REQUIRED)
SUCCESS = 0
RESTART_REQUIRED = 3010
CODES: dict[int, tuple[str, str]] = {
    3010: ("ERROR_SUCCESS_REBOOT_REQUIRED", "installed; a restart finishes the installation"),
    0x800F081E: ("CBS_E_NOT_APPLICABLE", "the package is not applicable to this host: it does not fit this Windows "
                                         "version, edition or architecture, or a prerequisite is missing"),
    0x800F0823: ("CBS_E_NEW_SERVICING_STACK_REQUIRED", "the package needs a newer servicing stack: install the "
                                                       "latest servicing stack update for this Windows first"),
    0x800F0922: ("CBS_E_INSTALLERS_FAILED", "the package's installers failed (often: the System Reserved partition "
                                            "is full, or an earlier update left servicing damaged); see "
                                            "C:\\Windows\\Logs\\CBS\\CBS.log"),
    0x800F0806: ("CBS_E_PENDING", "another servicing operation is pending: restart the host, then run again"),
    0x800F081F: ("CBS_E_SOURCE_MISSING", "the source files the package needs were not found (the component store "
                                         "may be damaged: DISM /Online /Cleanup-Image /RestoreHealth)"),
    0x80070005: ("E_ACCESSDENIED", "access is denied: installing an update needs a member of the local "
                                   "Administrators group"),
    740: ("ERROR_ELEVATION_REQUIRED", "DISM needs elevation: the account must be a member of the local "
                                      "Administrators group"),
    0x800702E4: ("ERROR_ELEVATION_REQUIRED", "DISM needs elevation: the account must be a member of the local "
                                             "Administrators group"),
    0x80070070: ("ERROR_DISK_FULL", "there is not enough space on the disk"),
    112: ("ERROR_DISK_FULL", "there is not enough space on the disk"),
    2: ("ERROR_FILE_NOT_FOUND", "the package file was not found on the host"),
    0x80070002: ("ERROR_FILE_NOT_FOUND", "the package file was not found on the host"),
}
# Codes after which the same update may install once the host has restarted.
RETRY_AFTER_RESTART = frozenset((0x800F0806,))
NOT_APPLICABLE = 0x800F081E


class HotfixError(ValueError):
    """Something the user gave cannot be used (a file, a checksum, an option); the message says what."""


# ---------------------------------------------------------------------------------------------
# Exit codes
# ---------------------------------------------------------------------------------------------
def normalize_code(value: t.Any) -> int | None:
    """An exit code as an unsigned 32-bit number (DISM's -2146498530 is 0x800f081e); None if it is no number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,11}\s*", value):
        value = int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*0x[0-9a-fA-F]{1,8}\s*", value):
        value = int(value, 16)
    if not isinstance(value, int) or not -2**31 <= value < 2**32:
        return None
    return value & 0xFFFFFFFF


def code_text(code: int) -> str:
    return f"0x{code:08x}" if code > 0xFFFF else str(code)


def describe_code(value: t.Any) -> str:
    """What an exit code means, for a person: "0x800f081e (CBS_E_NOT_APPLICABLE): the package is not ..."."""
    code = normalize_code(value)
    if code is None:
        return f"an exit code that is no number ({clean_text(value, 40)})"
    if code == SUCCESS:
        return "0: installed"
    name, meaning = CODES.get(code, ("", "an error DISM does not explain by its code; see C:\\Windows\\Logs\\DISM\\"
                                         "dism.log and C:\\Windows\\Logs\\CBS\\CBS.log"))
    return f"{code_text(code)}{f' ({name})' if name else ''}: {meaning}"


def succeeded(value: t.Any) -> bool:
    return normalize_code(value) in (SUCCESS, RESTART_REQUIRED)


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class UpdateFile:
    """A .msu or .cab file that holds one update, on the controller (path) or the host (remote)."""

    kb: str
    path: str
    name: str
    ext: str
    architecture: str | None = None
    os_tag: str | None = None
    sha1: str | None = None            # from the catalog name
    remote: bool = False


def parse_file_name(name: str) -> dict[str, str | None] | None:
    """The parts of a Microsoft Update Catalog file name; None for any other name."""
    match = _CATALOG_NAME.match(name)
    if not match:
        return None
    return {"os": match.group("os").lower(), "kb": normalize_kb(match.group("kb")),
            "architecture": match.group("arch").lower(), "sha1": (match.group("sha1") or "").upper() or None,
            "ext": match.group("ext").lower()}


def update_file(path: str, kb: str | None = None, remote: bool = False) -> UpdateFile | None:
    """An UpdateFile from a path: its KB from the catalog name, or ``kb`` (a mapping's key) for other names."""
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    parts = parse_file_name(name)
    if parts is None:
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        if kb is None or ext not in ("msu", "cab"):
            return None
        return UpdateFile(kb=kb, path=path, name=name, ext=ext, remote=remote)
    return UpdateFile(kb=t.cast(str, parts["kb"]), path=path, name=name, ext=t.cast(str, parts["ext"]),
                      architecture=parts["architecture"], os_tag=parts["os"], sha1=parts["sha1"], remote=remote)


def files_in_directory(directory: str) -> list[UpdateFile]:
    """The update files of a controller directory (not its subdirectories), by catalog name."""
    try:
        names = sorted(os.listdir(directory))
    except OSError as exc:
        raise HotfixError(f"cannot read the update directory {directory}: {exc.strerror or exc}") from None
    found = []
    for name in names:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            item = update_file(path)
            if item is not None:
                found.append(item)
    return found


def files_from_mapping(mapping: t.Mapping[t.Any, t.Any], remote: bool = False) -> list[UpdateFile]:
    """``{KB: path}``: the user names the file of each KB; a catalog name inside must agree unless the KB is an
    "or later" prerequisite (checked when the plan is made)."""
    found = []
    for key, value in mapping.items():
        kb = normalize_kb(key)
        if kb is None:
            raise HotfixError(f"files: {clean_text(key, 40)!r} is not a KB id (expected e.g. KB5006714)")
        if not isinstance(value, str) or not value.strip():
            raise HotfixError(f"files.{kb} must be the path of a .msu or .cab file")
        item = update_file(value.strip(), kb, remote)
        if item is None:
            raise HotfixError(f"files.{kb}: {clean_text(value, 300)} is not a .msu or .cab file")
        # The mapping's key says which KB this file is for; the name's own KB is kept in ``name`` for checks.
        found.append(dataclasses.replace(item, kb=kb) if item.kb != kb else item)
    return found


def file_kb(item: UpdateFile) -> str | None:
    """The KB the file's own catalog name carries (None for a name that is not a catalog name)."""
    parts = parse_file_name(item.name)
    return t.cast("str | None", parts["kb"]) if parts else None


def _kb_number(kb: str) -> int:
    return int(kb[2:])


@dataclasses.dataclass(frozen=True)
class FileCheck:
    sha1: str
    sha256: str
    size: int


def hash_file(path: str) -> FileCheck:
    sha1 = hashlib.sha1()  # nosec - the catalog names carry SHA-1; SHA-256 is checked too when given
    sha256 = hashlib.sha256()
    size = 0
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1024 * 1024), b""):
                sha1.update(block)
                sha256.update(block)
                size += len(block)
    except OSError as exc:
        raise HotfixError(f"cannot read {path}: {exc.strerror or exc}") from None
    return FileCheck(sha1.hexdigest().upper(), sha256.hexdigest().upper(), size)


def expected_sha256(item: UpdateFile, checksums: t.Mapping[str, t.Any]) -> str | None:
    """The SHA-256 the user gave for this file: by file name or by KB."""
    for key, value in checksums.items():
        if str(key).lower() == item.name.lower() or normalize_kb(key) == item.kb:
            text = str(value).strip().lower().removeprefix("sha256:")
            if not _HEX64.match(text):
                raise HotfixError(f"checksums.{clean_text(key, 100)} is not a SHA-256 (64 hex digits)")
            return text.upper()
    return None


def verify(item: UpdateFile, check: FileCheck, checksums: t.Mapping[str, t.Any]) -> None:
    """Refuse a file whose SHA-1 differs from its catalog name's or whose SHA-256 differs from the user's."""
    if item.sha1 and check.sha1 != item.sha1:
        raise HotfixError(f"{item.name}: its SHA-1 is {check.sha1}, but its Microsoft Update Catalog name says "
                          f"{item.sha1}; the file is damaged or not what its name says, nothing was installed")
    wanted = expected_sha256(item, checksums)
    if wanted and check.sha256 != wanted:
        raise HotfixError(f"{item.name}: its SHA-256 is {check.sha256}, not the {wanted} given in checksums; "
                          "nothing was installed")


# ---------------------------------------------------------------------------------------------
# The plan
# ---------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Step:
    """One package to install: a prerequisite or the update itself."""

    kb: str                       # the KB the verdict or the catalog asks for
    role: str                     # "prerequisite" or "update"
    title: str
    file: UpdateFile | None
    stands_for: str | None = None  # the KB this later update stands in for
    or_later: bool = False         # a prerequisite that a later update of its kind satisfies (a servicing stack)


@dataclasses.dataclass(frozen=True)
class Plan:
    """``none`` (nothing to do), ``pending`` (installed, a restart is due), ``install``, or ``refuse`` /
    ``missing`` (failures, with the message)."""

    action: str
    message: str
    steps: tuple[Step, ...] = ()
    kb: str | None = None
    fetch: tuple[str, ...] = ()


def _row(verdict: t.Mapping[str, t.Any], catalog: Catalog) -> OsRow | None:
    os_info = verdict.get("os")
    row_id = os_info.get("row") if isinstance(os_info, t.Mapping) else None
    if isinstance(row_id, str) and catalog.has_row(row_id):
        return catalog.row(row_id)
    return None


def host_architecture(verdict: t.Mapping[str, t.Any]) -> str | None:
    """The host's architecture as catalog names spell it (x64, x86, arm64), from the verdict's kb_details."""
    details = verdict.get("kb_details")
    for detail in details if isinstance(details, list) else []:
        if isinstance(detail, t.Mapping) and isinstance(detail.get("architecture"), str):
            return ARCHITECTURES.get(detail["architecture"].strip().lower())
    return None


def candidates(row: OsRow, rollup: str) -> tuple[str, ...]:
    """The KBs that install the fix on this row, the catalog's first, then what supersedes it (cumulative)."""
    if row.kind == UBR:
        return tuple(kb for kb in (row.kb, *row.later_updates) if kb)
    if row.kind == ROLLUP:
        if rollup == "security_only":
            # Security-only updates are not cumulative: only the named one carries the fix.
            return (row.security_only,) if row.security_only else ()
        return tuple(kb for kb in (row.monthly_rollup, *row.later_rollups) if kb)
    return ()


def _fits(item: UpdateFile, row: OsRow, architecture: str) -> bool:
    if item.architecture and item.architecture != architecture:
        return False
    tags = OS_TAGS.get(row.id, ("windows10.0",) if row.major == 10 else ())
    return not item.os_tag or not tags or item.os_tag in tags


def _pick(kbs: t.Sequence[str], files: t.Sequence[UpdateFile], row: OsRow, architecture: str) -> UpdateFile | None:
    """The newest of ``kbs`` (the last listed) that a file holds for this OS and architecture; .msu before .cab."""
    for kb in reversed(kbs):
        matching = [item for item in files if item.kb == kb and _fits(item, row, architecture)]
        for item in matching:
            own = file_kb(item)
            if own is not None and own != kb:
                raise HotfixError(f"files.{kb} is {item.name}, which holds {own}, not {kb}")
        if matching:
            return sorted(matching, key=lambda item: (item.ext != "msu", item.name))[0]
    return None


def _prerequisite_file(prerequisite: Prerequisite, files: t.Sequence[UpdateFile], row: OsRow,
                       architecture: str) -> tuple[UpdateFile | None, str | None]:
    """The file for a prerequisite: its own KB, or for an "or later" one a later update of its kind that the user
    mapped to it (``files: {KB4490628: windows6.1-kb5010451-x64_....msu}``)."""
    for item in files:
        if item.kb != prerequisite.kb or not _fits(item, row, architecture):
            continue
        own = file_kb(item)
        if own is None or own == prerequisite.kb:
            return item, None
        if prerequisite.or_later and _kb_number(own) > _kb_number(prerequisite.kb):
            return dataclasses.replace(item, kb=own), prerequisite.kb
        later = "a later one" if prerequisite.or_later else "only that update"
        raise HotfixError(f"files.{prerequisite.kb} is {item.name}, which holds {own}; {prerequisite.kb} "
                          f"({prerequisite.title}) takes {later}")
    return None, None


def plan(verdict: t.Any, catalog: Catalog, files: t.Sequence[UpdateFile], rollup: str = "monthly",
         esu: bool | None = None) -> Plan:
    """What acs_hotfix does on one host, from its verdict; never raises for a malformed verdict (refuse)."""
    if rollup not in ROLLUP_CHOICES:
        raise HotfixError(f"rollup must be one of {', '.join(ROLLUP_CHOICES)}, got {clean_text(rollup, 40)!r}")
    if not isinstance(verdict, t.Mapping):
        return Plan("refuse", "the host has no verdict to act on: gather and judge it first (codesign.windows."
                              "acs_facts, then the acs_verdict filter)")
    status = verdict.get("status")
    satisfied = clean_text(verdict.get("satisfied_by"), 300)
    if status in ("ready", "needs_root_ca"):
        return Plan("none", "the ACS update is in place" + (f" ({satisfied})" if satisfied else "") + "; nothing to "
                            "install")
    if status == "reboot_pending":
        return Plan("pending", "the update is installed but not active until the host restarts; nothing to install")
    if status == "no_patch_path":
        return Plan("refuse", "no update makes this Windows version ACS-ready: it must be upgraded")
    if status == "needs_esu":
        return Plan("refuse", "the update is published only for hosts licensed for Extended Security Updates (ESU), "
                              "which this host is not; nothing was installed")
    if status not in ("needs_kb", "needs_kb_and_root_ca"):
        return Plan("refuse", f"the verdict is {clean_text(status, 40) or 'missing'}, so whether an update is needed "
                              "is not known; nothing was installed")
    row = _row(verdict, catalog)
    if row is None or row.kind not in (UBR, ROLLUP):
        return Plan("refuse", "the verdict names no catalog row with an update; nothing was installed")
    if row.esu_only and esu is not True and verdict.get("esu") is not True:
        return Plan("refuse", f"{row.name}: the update is published only for hosts licensed for Extended Security "
                              "Updates (ESU), and this host is not known to be (set acs_esu: true in the inventory "
                              "for a licensed host, or gather its licence); nothing was installed")
    architecture = host_architecture(verdict)
    if architecture is None:
        return Plan("refuse", "the host's processor architecture is not known, so no file can be picked for it; "
                              "nothing was installed")
    wanted = candidates(row, rollup)
    if not wanted:
        return Plan("refuse", f"{row.name}: the catalog names no {rollup.replace('_', '-')} update; nothing was "
                              "installed")

    steps: list[Step] = []
    fetch: list[str] = []
    missing = verdict.get("missing_prerequisites")
    missing_kbs = {normalize_kb(kb) for kb in missing} if isinstance(missing, list) else set()
    # Catalog order: the verdict lists them so, the catalog is the one place that says it.
    for prerequisite in row.prerequisites:
        if prerequisite.kb not in missing_kbs:
            continue
        item, stands_for = _prerequisite_file(prerequisite, files, row, architecture)
        if item is None:
            later = " or any later one" if prerequisite.or_later else ""
            fetch.append(f"{prerequisite.kb}{later} ({prerequisite.title}, {architecture})")
        steps.append(Step(item.kb if item and stands_for else prerequisite.kb, "prerequisite", prerequisite.title,
                          item, stands_for, prerequisite.or_later))
    update = _pick(wanted, files, row, architecture)
    kind = {UBR: "cumulative update", ROLLUP: "monthly rollup" if rollup == "monthly" else "security-only update"}
    if update is None:
        later = " or a later one" if len(wanted) > 1 else ""
        fetch.append(f"{wanted[0]}{later} ({kind[row.kind]} for {row.name}, {architecture})")
    steps.append(Step(update.kb if update else wanted[0], "update", kind[row.kind], update,
                      wanted[0] if update and update.kb != wanted[0] else None))
    if fetch:
        return Plan("missing", "the update files are not all supplied; fetch " + "; ".join(fetch) +
                    " from the Microsoft Update Catalog (https://www.catalog.update.microsoft.com) and give them in "
                    "src or files; nothing was installed", tuple(steps), wanted[0], tuple(fetch))
    names = ", ".join(f"{step.kb}" + (f" (for {step.stands_for})" if step.stands_for else "") for step in steps)
    return Plan("install", f"installs {names}", tuple(steps), wanted[0])


def superseded_prerequisite(step: Step, failed: t.Sequence[t.Mapping[str, t.Any]]) -> bool:
    """Whether DISM's refusal of a step means "a later update of its kind is already installed".

    Windows answers "not applicable" (0x800f081e) for an update that a newer one on the host supersedes
    (Microsoft KB3057448, "The update is not applicable to your computer", cause 1). For an "or later"
    prerequisite (a servicing stack update) that is success; the same code's other causes (wrong Windows or
    architecture: the file was picked for both; a missing prerequisite) show at the update that needs it, which
    DISM then refuses with 0x800f0823 (a newer servicing stack required): nothing is called installed on this
    answer alone."""
    return (step.role == "prerequisite" and step.or_later and bool(failed)
            and all(normalize_code(package.get("exit_code")) == NOT_APPLICABLE for package in failed))


# ---------------------------------------------------------------------------------------------
# Operations and answers
# ---------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def operation_text() -> str:
    with open(OPERATION_FILE, encoding="ascii") as handle:
        return handle.read()


def render_operation(operation: t.Mapping[str, t.Any]) -> str:
    """The script sent on stdin: the runner's library, the operation script, and the call."""
    body = {"protocol": PROTOCOL, "work_dir": REMOTE_WORK_DIR, "event_source": EVENT_SOURCE, **operation}
    return (f"{runner_text()}\n{operation_text()}\n"
            f"$AcsHotfix = {ps_literal(body)}\n"
            "Invoke-AcsHotfix -Operation $AcsHotfix\n")


def chunks(path: str, size: int = DEFAULT_CHUNK_BYTES) -> t.Iterator[tuple[int, str, str]]:
    """(offset, base64, SHA-256) of each chunk of a file."""
    with open(path, "rb") as handle:
        offset = 0
        while True:
            block = handle.read(size)
            if not block and offset:
                return
            yield offset, base64.b64encode(block).decode("ascii"), hashlib.sha256(block).hexdigest().upper()
            offset += len(block)
            if len(block) < size:
                return


def parse_operation_output(rc: t.Any, stdout: t.Any, stderr: t.Any) -> dict[str, t.Any]:
    """The operation's JSON document; OperationOutputError for anything else. Never raises otherwise."""
    return ANSWER.read(rc, stdout, stderr)


def host_error(document: t.Mapping[str, t.Any]) -> str | None:
    """The host's own failure (an exception in the operation), cleaned; None when there was none."""
    error = document.get("error")
    if error is None:
        return None
    text = " ".join(clean_text(error, 500).split()) or "no message"
    record = document.get("record")
    kinds = []
    if isinstance(record, t.Mapping) and isinstance(record.get("exceptions"), list):
        kinds = [clean_text(item.get("type"), 100) for item in record["exceptions"] if isinstance(item, t.Mapping)]
        if any(kind in ("System.UnauthorizedAccessException", "System.Security.SecurityException") for kind in kinds):
            return (f"access denied ({text}): installing an update needs a member of the local Administrators "
                    "group")
    return text + (f" ({', '.join(kinds)})" if kinds else "")


@dataclasses.dataclass(frozen=True)
class Preflight:
    free_mb: int | None
    restart_pending: list[str]
    shell_memory_mb: int | None
    servicing_tool: str | None


_SHELL_MEMORY = re.compile(r"^\s*MaxMemoryPerShellMB\s*=\s*(\d{1,10})\b", re.IGNORECASE)
# WinRM 2.0 (Windows 7 / Server 2008 R2, and WMF 2.0 on Server 2008) caps a shell at 150 MB unless configured
# otherwise; WinRM 3.0 and later at 1024 MB, and Microsoft calls a quota below that default unsupported
# (https://learn.microsoft.com/windows/win32/winrm/quotas). The policy says "the remote operation is terminated
# when a new allocation exceeds the specified quota": below this, DISM runs as a scheduled task instead.
SHELL_MEMORY_NEEDED_MB = 1024
# Task Scheduler's Last Result before the task's program has finished: SCHED_S_TASK_RUNNING and
# SCHED_S_TASK_HAS_NOT_RUN (https://learn.microsoft.com/windows/win32/taskschd/task-scheduler-error-and-success-constants).
TASK_NOT_FINISHED = frozenset((0x00041301, 0x00041303))
# schtasks /Query /FO CSV /V: the columns come in a fixed order (their headers and the Status text are translated);
# Last Result is the seventh (https://learn.microsoft.com/windows-server/administration/windows-commands/schtasks-query).
TASK_LAST_RESULT_COLUMN = 6
# schtasks /Create /TR takes at most 261 characters
# (https://learn.microsoft.com/windows-server/administration/windows-commands/schtasks-create).
TASK_RUN_MAX = 261
TASK_NAME = "codesign-acs-hotfix"


def needs_task(shell_memory_mb: int | None) -> bool:
    """Whether an install runs outside WinRM's shell: its quota is known, limited (0 is unlimited) and small."""
    return shell_memory_mb is not None and 0 < shell_memory_mb < SHELL_MEMORY_NEEDED_MB


def task_command(tool: str, system_root: str, cab: str) -> str:
    """What the task runs to add one package; HotfixError when it cannot be one plain command line."""
    program = f"{system_root}\\System32\\" + ("pkgmgr.exe" if tool == "pkgmgr" else "dism.exe")
    if tool == "pkgmgr":
        command = f"{program} /ip /m:{cab} /quiet /norestart"
    else:
        command = f"{program} /online /add-package /packagepath:{cab} /quiet /norestart"
    if any(char in f"{system_root}{cab}" for char in ' "\t'):
        raise HotfixError(f"{cab} has a space or quote in its path, which a scheduled task's command cannot carry; "
                          "nothing more was installed")
    if len(command) > TASK_RUN_MAX:
        raise HotfixError(f"the path {cab} is too long for a scheduled task's command ({TASK_RUN_MAX} characters); "
                          "nothing more was installed")
    return command


# A rollup package's name does not say its KB; its manifest's <package identifier="KB..."> does.
ROLLUP_PACKAGE = re.compile(r"^Package_for_RollupFix~[A-Za-z0-9_.~]{1,200}$")
_MANIFEST_KB = re.compile(r"<package\b[^>]*?\bidentifier\s*=\s*[\"'](KB\d{1,9})[\"']", re.IGNORECASE)


def manifest_kb(text: t.Any) -> str | None:
    """The KB a package manifest (.mum) names, upper case; None when it names none."""
    match = _MANIFEST_KB.search(text[:8192]) if isinstance(text, str) else None
    return match.group(1).upper() if match else None


def task_last_result(lines: t.Any) -> int | None:
    """Last Result from ``schtasks /Query /FO CSV /V /NH`` (normalised like an exit code); None when unreadable."""
    for line in lines if isinstance(lines, list) else []:
        if not isinstance(line, str) or not line.startswith('"'):
            continue
        try:
            row = next(csv.reader([line[:10000]]))
        except (csv.Error, StopIteration):
            return None
        if len(row) <= TASK_LAST_RESULT_COLUMN:
            return None
        return normalize_code(row[TASK_LAST_RESULT_COLUMN].strip())
    return None


def shell_memory(lines: t.Any) -> int | None:
    """MaxMemoryPerShellMB from ``winrm get winrm/config/winrs`` (the setting's name is not translated)."""
    for line in lines if isinstance(lines, list) else []:
        match = _SHELL_MEMORY.match(line) if isinstance(line, str) else None
        if match:
            return int(match.group(1))
    return None


def preflight(document: t.Mapping[str, t.Any]) -> Preflight:
    """What the host's first look says, each value checked (None when the host did not say)."""
    def number(value: t.Any) -> int | None:
        return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None

    pending = document.get("restart_pending")
    flags = [clean_text(flag, 100) for flag in pending if isinstance(flag, str)] if isinstance(pending, list) else []
    tool = document.get("tool")
    return Preflight(number(document.get("free_mb")), flags, shell_memory(document.get("winrs")),
                     tool if tool in ("dism", "pkgmgr") else None)


def preflight_problem(found: Preflight, min_free_mb: int) -> str | None:
    """Why the host must not be serviced now; None when it may."""
    if found.servicing_tool is None:
        return "the host has neither dism.exe nor pkgmgr.exe in its system directory; nothing was installed"
    if found.free_mb is None:
        return "the host did not say how much disk space is free; nothing was installed"
    if found.free_mb < min_free_mb:
        return (f"the system drive has {found.free_mb} MB free, less than the {min_free_mb} MB an update needs "
                "(min_free_mb); free space first; nothing was installed")
    if found.restart_pending:
        return (f"a restart is already pending ({', '.join(found.restart_pending)}): servicing refuses new packages "
                "until the host restarts (CBS_E_PENDING); restart it first; nothing was installed")
    return None


def package_results(document: t.Mapping[str, t.Any]) -> list[dict[str, t.Any]]:
    """Each package the host tried: its cab name, exit code (normalised) and what the code means."""
    found = document.get("packages")
    results = []
    for item in found if isinstance(found, list) else []:
        if not isinstance(item, t.Mapping):
            continue
        code = normalize_code(item.get("exit_code"))
        results.append({"cab": clean_text(item.get("cab"), 300), "exit_code": code,
                        "result": describe_code(item.get("exit_code"))})
    return results
