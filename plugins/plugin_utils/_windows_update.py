# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""acs_hotfix with ``source: windows_update``: the update the verdict names, installed by the host's Windows Update
Agent from Windows Update or the WSUS server it is managed by, through ``ansible.windows.win_updates``.

Everything is decided here, on the controller: the same plan as for files (``_hotfix.plan``: already fixed or
superseded, ESU-only, no patch path), which KBs win_updates may install (its ``accept_list``), whether the host's
PowerShell can run an Ansible PowerShell module at all, and what win_updates' result means for the user.
"""

from __future__ import annotations

import dataclasses
import re
import typing as t

from ansible_collections.codesign.windows.plugins.plugin_utils._catalog import Catalog
from ansible_collections.codesign.windows.plugins.plugin_utils._hotfix import (
    CODES,
    Plan,
    candidates,
    describe_code,
    normalize_code,
    plan,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._untrusted import clean_text

SOURCES = ("files", "windows_update")
# win_updates' server_selection: the host's configured service (WSUS when its policy names one, otherwise
# Windows Update), its WSUS server, or Windows Update itself
# (https://learn.microsoft.com/windows/win32/api/wuapi/ne-wuapi-serverselection).
SERVERS = ("default", "managed_server", "windows_update")
WIN_UPDATES = "ansible.windows.win_updates"
# ansible-core 2.19 and later refuse PowerShell modules below PowerShell 5.1 (2.16-2.18 below 3.0), and
# win_updates uses cmdlets of PowerShell 3.0 and later (Get-CimInstance, Invoke-CimMethod).
MIN_POWERSHELL = (5, 1)
# The Microsoft Update Catalog's classifications of what acs_hotfix installs: cumulative updates, monthly rollups
# and security-only updates are "Security Updates", servicing stack updates "Security Updates", "Critical Updates"
# or "Updates", the April 2014 update "Updates" (https://www.catalog.update.microsoft.com, each update's
# Classification). accept_list limits the install to the planned KBs; the categories only must not hide them.
CATEGORIES = ("Security Updates", "Critical Updates", "Update Rollups", "Updates")
_VERSION = re.compile(r"^\s*(\d{1,3})\.(\d{1,3})")


@dataclasses.dataclass(frozen=True)
class Wanted:
    """One step of the plan: the KBs any one of which does it (a later cumulative update or monthly rollup
    supersedes the named one)."""

    role: str
    kbs: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.kbs[0] + (f" (or a later one: {', '.join(self.kbs[1:])})" if len(self.kbs) > 1 else "")


def update_plan(verdict: t.Any, catalog: Catalog, rollup: str = "monthly",
                esu: bool | None = None) -> tuple[Plan, tuple[Wanted, ...]]:
    """The files plan without files: its refusals and no-change answers as they are, and for a host that needs
    the update, the KBs to ask Windows Update for, prerequisites first in catalog order."""
    decision = plan(verdict, catalog, [], rollup, esu)
    if decision.action != "missing":
        return decision, ()
    row_id = verdict["os"]["row"]
    wanted = []
    for step in decision.steps:
        if step.role == "update":
            wanted.append(Wanted(step.role, candidates(catalog.row(row_id), rollup)))
        else:
            wanted.append(Wanted(step.role, (step.kb,)))
    names = ", ".join(item.name for item in wanted)
    return Plan("install", f"installs {names} through Windows Update", decision.steps, decision.kb), tuple(wanted)


def powershell_version(facts: t.Any) -> tuple[int, int] | None:
    """The host's PowerShell version from the gathered facts (acs_facts' os.powershell_version, or the runner's)."""
    if not isinstance(facts, t.Mapping):
        return None
    found = []
    os_facts = facts.get("os")
    if isinstance(os_facts, t.Mapping):
        found.append(os_facts.get("powershell_version"))
    runner = facts.get("runner")
    if isinstance(runner, t.Mapping):
        found.append(runner.get("powershell"))
    for value in found:
        match = _VERSION.match(value) if isinstance(value, str) else None
        if match:
            return int(match.group(1)), int(match.group(2))
    return None


def powershell_problem(facts: t.Any) -> str | None:
    """Why win_updates cannot run on this host; None when it can."""
    version = powershell_version(facts)
    needed = ".".join(str(part) for part in MIN_POWERSHELL)
    if version is None:
        return ("source=windows_update needs the host's PowerShell version, which is not known: gather the host "
                "first (codesign.windows.acs_facts); nothing was installed")
    if version < MIN_POWERSHELL:
        return (f"source=windows_update runs ansible.windows.win_updates, a PowerShell module that needs PowerShell "
                f"{needed} or later; this host has PowerShell {version[0]}.{version[1]}: install WMF 5.1, or use "
                "source=files (src, files or remote_src), which works with PowerShell 2.0; nothing was installed")
    return None


def accept_list(wanted: t.Sequence[Wanted]) -> list[str]:
    """win_updates' accept_list: each KB anchored, so that KB500666 does not also take KB5006669 (win_updates
    matches each entry as a regular expression against the update's title and KB ids)."""
    return [f"^{kb}$" for item in wanted for kb in item.kbs]


def module_args(wanted: t.Sequence[Wanted], server: str) -> dict[str, t.Any]:
    """What acs_hotfix gives win_updates: only the planned KBs, installed, no restart."""
    return {"accept_list": accept_list(wanted), "category_names": list(CATEGORIES), "state": "installed",
            "reboot": False, "server_selection": server}


def _kbs_of(update: t.Mapping[str, t.Any]) -> set[str]:
    """An update's KB ids as win_updates returns them (numbers without "KB"), as KB ids."""
    found = update.get("kb")
    return {f"KB{clean_text(kb, 20).upper().removeprefix('KB')}" for kb in found if isinstance(kb, (str, int))} \
        if isinstance(found, list) else set()


def failure_text(update: t.Mapping[str, t.Any]) -> str:
    """What an update's failure code means: the DISM/CBS table where CBS failed the package, otherwise the
    Windows Update Agent's meaning as win_updates gives it."""
    code = normalize_code(update.get("failure_hresult_code"))
    if code is not None and code in CODES:
        return describe_code(code)
    given = clean_text(update.get("failure_msg"), 300) if update.get("failure_msg") else ""
    if code is None:
        return given or "an unknown error"
    return given or f"0x{code:08x}"


def _count(value: t.Any) -> int | None:
    """A count win_updates returned, or None when it is not a plain count (the host's answer is not trusted)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1_000_000 else None


def outcome(wanted: t.Sequence[Wanted], result: t.Any) -> dict[str, t.Any]:
    """acs_hotfix's result keys from win_updates' result: installed, reboot_required, changed, failed, msg.
    Never raises for a malformed result."""
    result = result if isinstance(result, t.Mapping) else {}
    updates = result.get("updates") if isinstance(result.get("updates"), t.Mapping) else {}
    filtered = result.get("filtered_updates") if isinstance(result.get("filtered_updates"), t.Mapping) else {}
    planned = {kb for item in wanted for kb in item.kbs}
    installed: list[str] = []
    failures: list[str] = []
    for update in updates.values():
        if not isinstance(update, t.Mapping):
            continue
        kbs = sorted(_kbs_of(update) & planned) or sorted(_kbs_of(update))
        if update.get("installed") is True:
            installed.extend(kb for kb in kbs if kb not in installed)
        elif "failure_hresult_code" in update:
            failures.append(f"{'/'.join(kbs) or clean_text(update.get('title'), 200)}: {failure_text(update)}")
    # Keep the plan's order (prerequisites first) in what is reported.
    order = [kb for item in wanted for kb in item.kbs]
    installed.sort(key=lambda kb: order.index(kb) if kb in order else len(order))
    reboot = result.get("reboot_required") is True
    changed = bool(installed) or result.get("changed") is True
    out: dict[str, t.Any] = {"installed": installed, "reboot_required": reboot, "changed": changed,
                             "found_update_count": _count(result.get("found_update_count"))}
    done = " (installed before it failed: " + ", ".join(installed) + ")" if installed else ""
    if failures:
        out.update(failed=True, msg=f"Windows Update did not install {'; '.join(failures)}{done}")
        return out
    if result.get("failed") is True or result.get("unreachable") is True:
        text = " ".join(clean_text(result.get("msg") or "no message", 1000).split())
        out.update(failed=True, msg=f"ansible.windows.win_updates failed: {text}{done}")
        return out
    missing = [item for item in wanted if not set(item.kbs) & set(installed)]
    if missing:
        held = []
        for update in filtered.values():
            if isinstance(update, t.Mapping) and _kbs_of(update) & planned:
                reasons = update.get("filtered_reasons")
                why = ", ".join(clean_text(reason, 40) for reason in reasons) if isinstance(reasons, list) else "?"
                held.append(f"{'/'.join(sorted(_kbs_of(update) & planned))} was found but left out ({why})")
        names = ", ".join(item.name for item in missing)
        out.update(failed=True, msg=f"the update is not offered by the update server: {names}"
                                    + (f"; {'; '.join(held)}" if held else "")
                                    + f"; install it from files instead (source=files){done}")
        return out
    out["msg"] = f"installed {', '.join(installed)} through Windows Update" + (
        "; a restart finishes the installation" if reboot else "")
    return out
