# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ACS readiness verdict: evidence record in, verdict out. A public contract (docs/verdict.md).

``evaluate`` never raises for bad evidence: anything it cannot use gives status ``unknown``
with a reason a person reads. Only a malformed catalog override or policy raises, because
that is the caller's configuration, not a host's state.
"""

from __future__ import annotations

import re
import typing as t
from dataclasses import replace

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.codesign.windows.plugins.plugin_utils._agents import HostContext, agents_impact
from ansible_collections.codesign.windows.plugins.plugin_utils._catalog import (
    DEFAULT_CATALOG,
    NATIVE,
    NATIVE_FROM_BUILD,
    NO_PATH,
    ROLLUP,
    ROOT_CA_NAME,
    ROOT_CA_SHA1,
    UBR,
    Catalog,
    OsRow,
    Prerequisite,
    normalize_kb,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._winver import (
    RecognitionError,
    WindowsVersion,
    from_text,
    recognize,
    server_from_hints,
)

VERDICT_SCHEMA = 1
STATUSES = ("unknown", "no_patch_path", "needs_esu", "reboot_pending", "needs_kb_and_root_ca", "needs_kb",
            "needs_root_ca", "ready")
POLICIES_21H2 = ("strict", "lenient")
CATALOG_SEARCH = "https://www.catalog.update.microsoft.com/Search.aspx?q="

# ASCII digits only: a host's "\u0662" or "\u00b2" is no number Windows writes, and int() refuses some of them.
_VERSION_RE = re.compile(r"^\s*(\d{1,2})\.(\d{1,2})\.(\d{1,10})(?:\.(\d{1,10}))?\s*$", re.ASCII)
_BUILD_RE = re.compile(r"^\s*(?:\d{1,2}\.\d{1,2}\.)?(\d{1,10})\.(\d{1,10})(?:\.\d{1,10}\.\d{1,10})?\s*$", re.ASCII)
_DIGITS_RE = re.compile(r"^\s*(\d{1,10})\s*$", re.ASCII)


class PolicyError(ValueError):
    """policy_21h2 or another caller option is not one of its documented values."""


class _Unusable(Exception):
    """Evidence that cannot be judged; the message is the reason."""


def check_policy(policy_21h2: t.Any) -> str:
    if policy_21h2 not in POLICIES_21H2:
        raise PolicyError(f"policy_21h2 must be one of {', '.join(POLICIES_21H2)}, got {policy_21h2!r}")
    return t.cast(str, policy_21h2)


def effective_row(row: OsRow, policy_21h2: str) -> OsRow:
    """A row the advisories disagree on (native_when_lenient), resolved by the user's policy."""
    if row.native_when_lenient and policy_21h2 == "lenient":
        return replace(row, kind=NATIVE, source=row.source + f" (policy_21h2=lenient: every {row.name} build is ready)")
    return row


# ---------------------------------------------------------------------------------------------
# Evidence fields
# ---------------------------------------------------------------------------------------------
def _bool(evidence: t.Mapping[str, t.Any], key: str) -> bool | None:
    """true/false the way Ansible reads booleans (yes/no, on/off, 1/0...); anything else is unusable."""
    value = evidence.get(key)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        value = value.strip()
    try:
        return boolean(value, strict=True)
    except (TypeError, ValueError, UnicodeError):
        raise _Unusable(f"{key} must be true, false or null, got {value!r}") from None


def _string(evidence: t.Mapping[str, t.Any], key: str) -> str | None:
    value = evidence.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Unusable(f"{key} must be a string, got {type(value).__name__}")
    return value.strip() or None


def _int(evidence: t.Mapping[str, t.Any], key: str, maximum: int = 65535) -> int | None:
    value = evidence.get(key)
    if value is None:
        return None
    if isinstance(value, str) and _DIGITS_RE.match(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Unusable(f"{key} must be an integer, got {value!r}")
    if not 0 <= value <= maximum:
        raise _Unusable(f"{key} {value} is out of range (0 to {maximum})")
    return value


def _hotfixes(evidence: t.Mapping[str, t.Any], key: str = "hotfixes") -> set[str] | None:
    value = evidence.get(key)
    if value is None:
        return None
    if not isinstance(value, (list, tuple)):
        raise _Unusable(f"{key} must be a list of KB ids, got {type(value).__name__}")
    # QFE also lists entries such as "File 1" or blanks: they are not KBs and say nothing.
    return {kb for kb in (normalize_kb(item) for item in value) if kb}


def _rollup_builds(evidence: t.Mapping[str, t.Any], key: str) -> list[tuple[int, int]]:
    """CBS rollup packages as (build, revision): "Package_for_RollupFix~...~17763.2210.1.10" -> (17763, 2210)."""
    value = evidence.get(key)
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise _Unusable(f"{key} must be a list of build strings such as 9600.20144, got {type(value).__name__}")
    builds = []
    for item in value:
        match = _BUILD_RE.match(item) if isinstance(item, str) else None
        if match:
            builds.append((int(match.group(1)), int(match.group(2))))
    return builds


def _recognize(evidence: t.Mapping[str, t.Any], catalog: Catalog) -> tuple[WindowsVersion, list[str]]:
    notes: list[str] = []
    os_name = _string(evidence, "os_name")
    os_version = _string(evidence, "os_version")
    installation_type = _string(evidence, "installation_type")
    display_version = _string(evidence, "display_version")
    ubr = _int(evidence, "ubr")
    if os_name is None and os_version is None:
        raise _Unusable("the evidence names no OS (os_name or os_version is required)")
    server = server_from_hints(os_name, installation_type)
    try:
        if os_version is not None:
            match = _VERSION_RE.match(os_version)
            if not match:
                raise _Unusable(f"os_version {os_version!r} is not major.minor.build or major.minor.build.revision")
            major, minor, build = (int(match.group(i)) for i in (1, 2, 3))
            revision = int(match.group(4)) if match.group(4) is not None else None
            if ubr is None and major == 10:
                ubr = revision
            found = recognize(major, minor, build, ubr, server, catalog)
            if os_name and found.major == 10 and found.build and found.build >= NATIVE_FROM_BUILD and "windows 10" in os_name.lower():
                notes.append(f"ProductName says {os_name!r}, but build {found.build} is {found.name}: "
                             "the build decides (Windows 11 keeps \"Windows 10\" in ProductName)")
            return found, notes
        text = os_name if os_name else ""
        if display_version and display_version.lower() not in text.lower():
            text = f"{text} {display_version}"
        found = from_text(text, catalog, server)
        if found.major == 10 and ubr is not None:
            found = recognize(found.major, found.minor, t.cast(int, found.build), ubr, found.server, catalog)
        return found, notes
    except RecognitionError as exc:
        raise _Unusable(str(exc)) from None


# ---------------------------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------------------------
class _Fix(t.NamedTuple):
    satisfied: bool
    satisfied_by: str | None
    pending: str | None        # installed but not active: why we think so
    known: bool                # False: the evidence cannot tell


def _fix_ubr_row(row: OsRow, os: WindowsVersion, hotfixes: set[str] | None,
                 pending_builds: list[tuple[int, int]]) -> _Fix:
    min_ubr = t.cast(int, row.min_ubr)
    if os.ubr is None:
        return _Fix(False, None, None, False)
    if os.ubr >= min_ubr:
        return _Fix(True, f"UBR {os.ubr} >= {min_ubr} ({row.kb} or a later cumulative update)", None, True)
    listed = sorted((hotfixes or set()) & ({t.cast(str, row.kb)} | set(row.later_updates)))
    if listed:
        return _Fix(False, None, f"{', '.join(listed)} is installed but the host still runs UBR {os.ubr} "
                                 f"(below {min_ubr}): a restart activates it", True)
    staged = [rev for build, rev in pending_builds if build == os.build and rev >= min_ubr]
    if staged:
        return _Fix(False, None, f"cumulative update {os.build}.{max(staged)} is staged (install pending) while the "
                                 f"host still runs UBR {os.ubr}: a restart activates it", True)
    return _Fix(False, None, None, True)


def _fix_rollup_row(row: OsRow, os: WindowsVersion, hotfixes: set[str] | None, rollup_builds: list[tuple[int, int]],
                    pending_builds: list[tuple[int, int]], reboot_pending: bool | None) -> _Fix:
    fixed = _BUILD_RE.match(t.cast(str, row.fixed_build))
    fixed_build, fixed_rev = (int(fixed.group(1)), int(fixed.group(2))) if fixed else (0, 0)
    monthly, security_only = row.monthly_rollup, row.security_only
    satisfied_by = None
    if hotfixes is not None:
        if monthly in hotfixes:
            satisfied_by = f"monthly rollup {monthly}"
        else:
            later = [kb for kb in row.later_rollups if kb in hotfixes]
            if later:
                # the newest listed one is the most useful to name
                satisfied_by = f"monthly rollup {later[-1]} supersedes {monthly}"
            elif security_only in hotfixes:
                satisfied_by = f"security-only update {security_only}"
    installed = [rev for build, rev in rollup_builds if build == fixed_build and rev >= fixed_rev]
    if satisfied_by is None and installed:
        satisfied_by = (f"rollup package {fixed_build}.{max(installed)} (CBS) is at or above the fixed build "
                        f"{row.fixed_build}")
    staged = [rev for build, rev in pending_builds if build == fixed_build and rev >= fixed_rev]
    if satisfied_by is not None:
        if reboot_pending:
            return _Fix(False, satisfied_by, f"{satisfied_by} is listed but a servicing restart is pending: the update "
                                             "may not be active until the host restarts", True)
        if staged and not installed:
            # QFE lists an update as soon as it is staged: an install-pending package means a restart is
            # due, whatever the (possibly unreadable) restart flags say.
            return _Fix(False, satisfied_by, f"{satisfied_by} is listed but rollup package {fixed_build}.{max(staged)} "
                                             "is still install-pending: a restart activates it", True)
        return _Fix(True, satisfied_by, None, True)
    if staged:
        return _Fix(False, None, f"rollup package {fixed_build}.{max(staged)} is staged (install pending): a restart "
                                 "activates it", True)
    if hotfixes is None and not rollup_builds:
        return _Fix(False, None, None, False)
    return _Fix(False, None, None, True)


def kb_details(row: OsRow, os: WindowsVersion | None, architecture: str | None) -> list[dict[str, t.Any]]:
    """Title, kind, architecture and where to get each update the row names (for air-gapped sites)."""
    arch = {"amd64": "x64", "x64": "x64", "64-bit": "x64", "x86": "x86", "32-bit": "x86", "arm64": "ARM64"}.get(
        (architecture or "").strip().lower())
    os_title = os.name if os else row.name
    for_systems = f" for {arch}-based Systems" if arch else ""
    details = []
    if row.kind == UBR and row.kb:
        month = (row.kb_released or "")[:7]
        details.append({"kb": row.kb, "kind": "cumulative_update", "released": row.kb_released,
                        "title": f"{month} Cumulative Update for {os_title}{for_systems} ({row.kb})".strip(),
                        "architecture": arch, "url": CATALOG_SEARCH + row.kb})
    elif row.kind == ROLLUP:
        month = (row.rollups_released or "")[:7]
        for kb, kind, label in ((row.monthly_rollup, "monthly_rollup", "Security Monthly Quality Rollup"),
                                (row.security_only, "security_only", "Security Only Quality Update")):
            if kb:
                details.append({"kb": kb, "kind": kind, "released": row.rollups_released,
                                "title": f"{month} {label} for {os_title}{for_systems} ({kb})",
                                "architecture": arch, "url": CATALOG_SEARCH + kb})
    return details


def _agents(evidence: t.Mapping[str, t.Any], catalog: Catalog, status: str, os: WindowsVersion | None,
            reasons: list[str]) -> list[dict[str, t.Any]]:
    host = HostContext(status, os.row.id if os else None, os.server if os else None)
    return agents_impact(evidence.get("agents"), catalog, host, reasons)


# ---------------------------------------------------------------------------------------------
# The verdict
# ---------------------------------------------------------------------------------------------
def _empty(status: str, reasons: list[str], policy_21h2: str, catalog: Catalog) -> dict[str, t.Any]:
    return {
        "schema": VERDICT_SCHEMA,
        "status": status,
        "ready": status == "ready",
        "os": None,
        "required_kb": [],
        "kb_details": [],
        "prerequisites": [],
        "missing_prerequisites": [],
        "satisfied_by": None,
        "root_ca": {"name": ROOT_CA_NAME, "sha1": ROOT_CA_SHA1, "present": None, "can_fetch": None, "needed": None},
        "reboot_pending": None,
        "esu": None,
        "offline": None,
        "reasons": reasons,
        "actions": [],
        "agents": [],
        "policy_21h2": policy_21h2,
        "catalog_version": catalog.version,
        "source": None,
    }


def recognize_evidence(evidence: t.Mapping[str, t.Any], catalog: Catalog = DEFAULT_CATALOG) -> WindowsVersion:
    """The OS an evidence record describes; RecognitionError with the reason otherwise."""
    try:
        return _recognize(evidence, catalog)[0]
    except _Unusable as exc:
        raise RecognitionError(str(exc)) from None


def evaluate(evidence: t.Any, policy_21h2: str = "strict", catalog: Catalog = DEFAULT_CATALOG) -> dict[str, t.Any]:
    """Judge one host's evidence record. Never raises for bad evidence."""
    policy_21h2 = check_policy(policy_21h2)
    if not isinstance(evidence, t.Mapping):
        kind = "nothing" if evidence is None else type(evidence).__name__
        return _empty("unknown", [f"the evidence must be a mapping (an evidence record), got {kind}"], policy_21h2, catalog)
    try:
        return _evaluate(evidence, policy_21h2, catalog)
    except _Unusable as exc:
        verdict = _empty("unknown", [f"The OS cannot be judged: {exc}"], policy_21h2, catalog)
        verdict["actions"] = ["Gather the evidence again with codesign.windows.acs_facts and check the host's error"]
        try:
            verdict["agents"] = _agents(evidence, catalog, "unknown", None, verdict["reasons"])
        except Exception:  # pylint: disable=broad-except
            verdict["agents"] = []
        return verdict


def _evaluate(evidence: t.Mapping[str, t.Any], policy_21h2: str, catalog: Catalog) -> dict[str, t.Any]:
    os, reasons = _recognize(evidence, catalog)
    hotfixes = _hotfixes(evidence)
    rollup_builds = _rollup_builds(evidence, "rollup_builds")
    pending_builds = _rollup_builds(evidence, "pending_rollup_builds")
    root_present = _bool(evidence, "root_ca_present")
    auto_update_disabled = _bool(evidence, "root_auto_update_disabled")
    offline = _bool(evidence, "offline")
    esu = _bool(evidence, "esu")
    reboot_pending = _bool(evidence, "reboot_pending")
    architecture = _string(evidence, "architecture")
    row = effective_row(os.row, policy_21h2)

    verdict = _empty("unknown", reasons, policy_21h2, catalog)
    verdict.update(os=os.as_dict(), reboot_pending=reboot_pending, esu=esu, offline=offline, source=row.source)
    actions: list[str] = verdict["actions"]

    # Root certificate: fetched on demand unless the host cannot reach Windows Update's root list.
    # A root in the Disallowed store stays distrusted whatever automatic root update fetches.
    disallowed = _bool(evidence, "root_ca_disallowed")
    cannot_fetch = bool(auto_update_disabled) or bool(offline) or bool(disallowed)
    root_needed = root_present is not True and cannot_fetch
    verdict["root_ca"].update(present=root_present, can_fetch=not cannot_fetch, needed=root_needed)
    if root_present:
        reasons.append(f"The root certificate {ROOT_CA_NAME} is installed")
    elif disallowed:
        reasons.append(f"The root certificate {ROOT_CA_NAME} is in the Disallowed (untrusted) store, which "
                       f"overrides Root: Windows does not trust it (SHA-1 {ROOT_CA_SHA1})")
        actions.append(f"Remove the root certificate {ROOT_CA_NAME} (SHA-1 {ROOT_CA_SHA1}) from the Disallowed "
                       "stores (local, group policy, enterprise) and make sure it is in LocalMachine\\Root")
    elif root_needed:
        why = "root certificate auto-update is disabled" if auto_update_disabled else "the host is offline (air-gapped)"
        state = "is not installed" if root_present is False else "was not found (not checked)"
        reasons.append(f"The root certificate {ROOT_CA_NAME} {state} and {why}: it must be imported "
                       f"(SHA-1 {ROOT_CA_SHA1})")
        actions.append(f"Import the root certificate {ROOT_CA_NAME} (SHA-1 {ROOT_CA_SHA1}) into LocalMachine\\Root")
    else:
        reasons.append(f"The root certificate {ROOT_CA_NAME} is not installed yet; this host can fetch it on demand "
                       "(automatic root update)")

    status = _status(row, os, evidence, hotfixes, rollup_builds, pending_builds, reboot_pending, esu, root_needed,
                     verdict, architecture)
    verdict["status"] = status
    verdict["ready"] = status == "ready"
    if status == "ready" and not actions:
        actions.append("None: the host can take ACS-signed agent builds")
    verdict["agents"] = _agents(evidence, catalog, status, os, reasons)
    return verdict


def _status(row: OsRow, os: WindowsVersion, evidence: t.Mapping[str, t.Any], hotfixes: set[str] | None,
            rollup_builds: list[tuple[int, int]], pending_builds: list[tuple[int, int]], reboot_pending: bool | None,
            esu: bool | None, root_needed: bool, verdict: dict[str, t.Any], architecture: str | None) -> str:
    reasons: list[str] = verdict["reasons"]
    actions: list[str] = verdict["actions"]
    if row.kind == NO_PATH:
        reasons.insert(0, f"{os.name} has no update that adds ACS support: the OS must be upgraded")
        actions.insert(0, f"Upgrade {os.name} to a supported Windows version; until then keep ACS-signed agent builds "
                          "away from it")
        return "no_patch_path"
    if row.kind == NATIVE:
        reasons.insert(0, f"{os.name} supports ACS out of the box")
        return "needs_root_ca" if root_needed else "ready"

    if row.kind == UBR:
        fix = _fix_ubr_row(row, os, hotfixes, pending_builds)
        if not fix.known:
            raise _Unusable(f"{os.name} is judged by its UBR (update build revision), which the evidence does not "
                            "give (ubr, or os_version with four numbers)")
    else:
        fix = _fix_rollup_row(row, os, hotfixes, rollup_builds, pending_builds, reboot_pending)
        if not fix.known:
            raise _Unusable(f"{os.name} is judged by its installed updates, and the evidence has no hotfix list")

    verdict["satisfied_by"] = fix.satisfied_by if fix.satisfied else None
    needs = row.required_kbs()
    if fix.satisfied:
        reasons.insert(0, f"{os.name}: the ACS update is in place ({fix.satisfied_by})")
        return "needs_root_ca" if root_needed else "ready"
    if fix.pending:
        reasons.insert(0, f"{os.name}: {fix.pending}")
        actions.insert(0, "Restart the host to finish installing the update, then assess it again")
        return "reboot_pending"

    prerequisites = row.prerequisites_for(os.build)
    verdict["prerequisites"] = [p.kb for p in prerequisites]
    verdict["missing_prerequisites"] = []
    for prerequisite in prerequisites:
        found = _prerequisite_found(prerequisite, hotfixes)
        if found is None:
            verdict["missing_prerequisites"].append(prerequisite.kb)
        elif found != prerequisite.kb:
            reasons.append(f"The prerequisite {prerequisite.kb} ({prerequisite.title}) is satisfied by the later "
                           f"{found}")
    verdict["kb_details"] = kb_details(row, os, architecture)
    options = " or ".join(f"{kb} ({'monthly rollup' if kb == row.monthly_rollup else 'security-only update'})"
                          if row.kind == ROLLUP else kb for kb in needs)
    if row.kind == UBR:
        missing_text = f"UBR {os.ubr} is below {row.min_ubr}: {row.kb} (or a later cumulative update) is missing"
    else:
        missing_text = (f"neither {row.monthly_rollup} (or a later monthly rollup) nor {row.security_only} is "
                        "installed")
    if row.esu_only and esu is False:
        verdict["required_kb"] = needs
        reasons.insert(0, f"{os.name}: {missing_text}. The update is published only for hosts licensed for Extended "
                          "Security Updates (ESU), which this host is not, and ESU can no longer be bought")
        actions.insert(0, f"Upgrade {os.name}, or keep ACS-signed agent builds away from it")
        return "needs_esu"
    verdict["required_kb"] = needs
    reasons.insert(0, f"{os.name}: {missing_text}")
    if row.esu_only:
        if esu is None:
            reasons.append("The update is published only for hosts licensed for Extended Security Updates (ESU); "
                           "whether this host is licensed is not known (set esu in the inventory)")
        else:
            reasons.append("The host is licensed for Extended Security Updates (ESU)")
    prerequisite_text = ""
    if verdict["missing_prerequisites"]:
        prerequisite_text = f" after its prerequisites ({', '.join(verdict['missing_prerequisites'])})"
    actions.insert(0, f"Install {options}{prerequisite_text}, restart, and assess again")
    return "needs_kb_and_root_ca" if root_needed else "needs_kb"


def _prerequisite_found(prerequisite: Prerequisite, hotfixes: set[str] | None) -> str | None:
    """The installed KB that satisfies a prerequisite: its own, or for an "or later" one the newest later update of
    its kind the catalog knows; None when the hotfix list shows neither (or there is no list)."""
    if hotfixes is None:
        return None
    if prerequisite.kb in hotfixes:
        return prerequisite.kb
    if prerequisite.or_later:
        # The catalog lists the later ones oldest first: name the newest installed.
        return next((kb for kb in reversed(prerequisite.later) if kb in hotfixes), None)
    return None


def required_kb(os: WindowsVersion, rollup: str = "monthly", policy_21h2: str = "strict") -> str:
    """The KB the OS row names, ignoring what is installed ("" when natively ready)."""
    policy_21h2 = check_policy(policy_21h2)
    if rollup not in ("monthly", "security_only"):
        raise PolicyError(f"rollup must be 'monthly' or 'security_only', got {rollup!r}")
    row = effective_row(os.row, policy_21h2)
    if row.kind == NO_PATH:
        raise RecognitionError(f"{os.name} has no update that adds ACS support (no patch path): upgrade the OS")
    if row.kind == NATIVE:
        return ""
    if row.kind == UBR:
        return t.cast(str, row.kb)
    return t.cast(str, row.monthly_rollup if rollup == "monthly" else row.security_only)
