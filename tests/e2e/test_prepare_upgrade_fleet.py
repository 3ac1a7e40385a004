"""codesign.windows.prepare_upgrade over the whole emulated fleet, with every update the catalog names at hand
(tests/support/update_repository.py), acs_readiness_remediate=all and acs_readiness_reboot=if_required: first in
check mode (no host's model changes), then for real, then again (nothing changes). The after-report shows each
host at the best state it can reach, per the table below, written from what Windows and the fixture say each
host is, not from the collection's code."""

from __future__ import annotations

import copy
import json
import re

import pytest

from emulator.fleet import backend, build_fleet
from emulator.windows import load_fleet
from support.e2e import run_playbook

# What each kind of host ends as after one prepare_upgrade run with every update at hand, restarts allowed and the
# ESU licence gathered: the status of the after-report, and what a user reads about the hosts that stay behind.
READY = "ready"
END_STATE = {
    # Reachable and ready before: untouched.
    **{name: READY for name in (
        "fault-clixml", "fault-slow", "w2008-esu-ready", "w2008r2-esu-ready", "w2012-ready", "w2012r2-2024",
        "w2012r2-airgap-root", "w2012r2-cbs-12000", "w2012r2-cbs-package-scavenged", "w2012r2-en-gb",
        "w2012r2-fix-cbs-only", "w2012r2-fix-qfe-only",
        "w2012r2-oct2021", "w2012r2-seconly-cbs-only", "w2012r2-seconly", "w2012r2-wmi-hang", "w2016-dsa-zh",
        "w2016-ready", "w2016-remote-mgmt-users", "w2016-utf8-console", "w2019-2210", "w2019-6000",
        "w2019-apexone-ja", "w2019-apexone-stoppending", "w2019-ctl-unreachable", "w2019-de-de",
        "w2019-file-rename-pending", "w2019-leastpriv", "w2019-proxy-required", "w2019-silent-probe",
        "w2022-current", "w2025-dsa", "win10-1507-ready", "win10-1909-ready", "win10-20h2-1266", "win10-21h2-1586",
        "win10-22h2-airgap", "win10-22h2", "win11-misnamed", "win81-ready")},
    # The root certificate added to LocalMachine\Root.
    **{name: READY for name in (
        "w2008r2-airgap-noroot", "w2012r2-airgap-noroot", "w2019-ctl-reachable-inventory", "w2025-airgap")},
    # The update installed (with its prerequisites, by DISM or pkgmgr), then the restart that finishes it: every
    # Windows 10 / Server cumulative update, the 6.x monthly rollups and the security-only update the host's
    # owners chose, on ESU hosts whose licence is known.
    **{name: READY for name in (
        "w2008-hotfix-pkgmgr", "w2008r2-hotfix-prereqs", "w2008r2-esu-missing", "w2012-missing",
        "w2012r2-fix-cbs-below", "w2012r2-hotfix-seconly", "w2012r2-later-seconly", "win81-officescan",
        "w2016-wfbs-old", "w2019-2209", "w2022-old", "win10-1507-old", "win10-1909-old", "win10-20h2-1265",
        "win10-21h2-1288")},
    "w2012r2-airgap-both": READY,                   # the root and the monthly rollup, one restart
    # Server 2016: the servicing stack update, then the cumulative update DISM refuses without it (0x800f0823).
    "w2016-ssu-needed": READY,
    "w2016-ssu-later": READY,                       # a later servicing stack: the cumulative update alone
    "w2016-ssu-unlisted": READY,                    # KB5005698 superseded (0x800f081e), then the cumulative update
    # An update waiting for a restart: restarted, servicing finished.
    **{name: READY for name in (
        "w2008r2-pending", "w2012r2-pending", "w2012r2-reboot-in-progress", "w2019-pending")},
    # Restarted; WinRM answers while TrustedInstaller still works: the update is in effect (the UBR is raised at
    # boot), so the report says ready, but the run fails the host (SERVICING_OUTLASTED).
    "w2019-pending-slow-servicing": READY,
    # No update exists: the OS must be upgraded; nothing is tried.
    **{name: "no_patch_path" for name in ("w2003-dsa96", "win8", "win10-1803")},
    # The fix is ESU-only and the host has no ESU: nothing is tried.
    **{name: "needs_esu" for name in ("w2008-noesu", "win7-noesu")},
    # ESU-only, and the licence cannot be confirmed (Azure has no licence row): refused.
    "w2008r2-esu-azure": "needs_kb",
    # ESU-only, and the gathered licence says the ESU key was never activated: no ESU, nothing is tried.
    "w2008r2-esu-unlicensed": "needs_esu",
    # Servicing takes nothing new until the host restarts: a restart already due when the run came (Windows Update's
    # RebootRequired), or the prerequisites just added waiting for one when DISM refused the rollup behind them
    # (0x800f0806). Restarted first, the rest installed, restarted again.
    "w2012r2-hotfix-restart-due": READY,
    "w2008r2-hotfix-pending-blocks": READY,
    # Refused or failed before anything changed: not an administrator, a full disk, a servicing stack newer than
    # any the catalog names.
    "w2012r2-hotfix-user": "needs_kb",
    "w2012r2-hotfix-diskfull": "needs_kb",
    "w2008r2-hotfix-oldstack": "needs_kb",
    # DISM cannot find the files the update needs in the component store (0x800f081f): repair it first.
    "w2012r2-hotfix-source-missing": "needs_kb",
    # Windows 7 / 2008 R2's 150 MB shell quota: the update is installed by a scheduled task as SYSTEM instead.
    "w2008r2-hotfix-quota": READY,
    "w2008r2-hotfix-user": "needs_kb",               # not an administrator: the SYSTEM task is refused
    # The connection drops while DISM works: Windows installs it, but nobody saw it; the next run finds it
    # pending, restarts it and calls it ready (SECOND_RUN).
    "w2012r2-hotfix-dropped": "needs_kb",
    "w2012r2-airgap-noroot-user": "needs_root_ca",  # not an administrator: LocalMachine\Root is not writable
    "w2016-root-disallowed": "needs_root_ca",       # the root is in Disallowed: left alone
    # A host whose WSUS server offers the update, and one whose server does not (emulator.windows_update): this run
    # takes the update from files (acs_readiness_hotfix_src, source=files), so both are fixed from the files.
    "w2016-wu-offers": READY,
    "w2019-wu-not-offered": READY,
    # Restart faults: the package rolled back at boot; the host back still pending; the host never back.
    "w2012r2-pending-package-fails": "needs_kb",
    "w2019-pending-still-pending": "reboot_pending",
    "w2019-pending-never-returns": "unreachable",
    # PackagesPending and PostRebootReporting as the fixture sets them stay after the restart in the emulator.
    "w2012r2-packages-pending": "reboot_pending",
    # The evidence cannot be read: nothing is judged, nothing is changed.
    **{name: "unknown" for name in ("w2008r2-ps2-denied", "w2012r2-leastpriv")},
    **{name: "unreachable" for name in ("fault-badcreds", "fault-down", "fault-dropped", "fault-unencrypted")},
    **{name: "failed" for name in (
        "fault-garbled", "fault-hang", "fault-truncated", "w2008-nopowershell", "w2008-nopowershell-de",
        "w2016-constrained-language", "w2019-powershell32")},
}
# What the report says about a host left behind, or one that took a step more (in its remediation steps, or its
# check error).
MESSAGES = {
    "w2008r2-esu-azure": "Extended Security Updates (ESU), and this host is not known to be",
    "w2012r2-hotfix-user": "the account must be a member of the local Administrators group",
    "w2012r2-airgap-noroot-user": "needs a member of the local Administrators group",
    "w2012r2-hotfix-diskfull": "free space first; nothing was installed",
    "w2012r2-hotfix-restart-due": "kb: restarted first, because a restart is already pending",
    "w2008r2-hotfix-oldstack": "needs a newer servicing stack",
    "w2012r2-hotfix-source-missing": "0x800f081f (CBS_E_SOURCE_MISSING)",
    "w2008r2-hotfix-user": "creating that task was refused",
    "w2012r2-hotfix-dropped": "the connection to the host was lost while installing",
    "w2008r2-hotfix-pending-blocks": "kb: restarted first, because KB5006743 was not installed",
    "w2019-pending-still-pending": "still pending a restart after the restart",
    "w2019-pending-never-returns": "did not come back within the reboot timeout",
    "w2019-powershell32": "32-bit PowerShell on 64-bit Windows",
    "w2016-constrained-language": "ConstrainedLanguage",
    "w2008-nopowershell": "PowerShell is not installed",
}
# Ready in the report, failed by the run: servicing was still busy when its timeout ran out after the restart;
# the host is not left standing for tonight's agent upgrade, and the next run finds it ready.
SERVICING_OUTLASTED = "w2019-pending-slow-servicing"
MESSAGES[SERVICING_OUTLASTED] = "servicing was still busy when the servicing timeout (8 s) ran out"
# Hosts whose fault stays: a second run tries again (restart or install) and ends where the first ended.
RETRIED = {"w2012r2-pending-package-fails", "w2019-pending-still-pending", "w2012r2-packages-pending"}
# Hosts the second run takes further than the first could: their fault happened once.
SECOND_RUN = {"w2012r2-hotfix-dropped": READY}
FAST = ["-e", "acs_readiness_gather_timeout=5", "-e", "acs_readiness_reboot_timeout=12",
        "-e", "acs_readiness_servicing_timeout=8", "-e", "acs_readiness_servicing_check_interval=1"]
HOSTS = [host.name for host in load_fleet()]


def snapshot(model, machine) -> dict:
    """Everything remediation may change: the registry (certificate stores, CBS packages, restart keys, UBR), QFE,
    the boot time and restarts, files, the disk, directories and the event log."""
    keys = model.registry._keys  # pylint: disable=protected-access
    registry = {path: dict(key.values) for path, key in keys.items()}
    return copy.deepcopy({"registry": registry, "qfe": model.qfe, "boot": model.boot_time, "ubr": model.ubr,
                          "files": dict(model.files), "disk": dict(model.disk), "directories": set(model.directories),
                          "events": model.events, "restarts": machine.restarts if machine else 0})


def snapshots(fleet) -> dict:
    return {name: snapshot(backend(fleet, name).model, fleet.machines.get(name)) for name in HOSTS}


def prepare(inventory, work, name: str, repository, *args: str):
    reports = work / name
    run = run_playbook("codesign.windows.prepare_upgrade", inventory, work,
                       ["-e", f"acs_readiness_report_dir={reports}", "-e", "acs_readiness_remediate=all",
                        "-e", "acs_readiness_reboot=if_required", "-e", f"acs_readiness_hotfix_src={repository}",
                        # Go on to the gate whatever failed: the test looks at both.
                        "-e", "acs_readiness_max_fail_percentage=100",
                        "-e", '{"acs_readiness_gather_subset": ["all", "esu"]}', *FAST, *args], timeout=1800)
    document = json.loads((reports / "acs-readiness.json").read_text(encoding="utf-8"))
    markdown = (reports / "acs-readiness.md").read_text(encoding="utf-8")
    return run, document, markdown


@pytest.fixture(scope="module")
def runs(tmp_path_factory, update_repository):
    with build_fleet(HOSTS) as fleet:
        work = tmp_path_factory.mktemp("prepare-fleet")
        inventory = work / "hosts.yml"
        fleet.inventory(inventory, operation_timeout_sec=2, read_timeout_sec=4,
                        extra_vars={"acs_readiness_command_timeout": 30})
        initial = snapshots(fleet)
        check = prepare(inventory, work, "check", update_repository, "--check")
        after_check = snapshots(fleet)
        first = prepare(inventory, work, "first", update_repository)
        after_first = snapshots(fleet)
        second = prepare(inventory, work, "second", update_repository)
        after_second = snapshots(fleet)
        yield {"initial": initial, "check": check, "after_check": after_check, "first": first,
               "after_first": after_first, "second": second, "after_second": after_second}


def statuses(document) -> dict[str, str]:
    return {record["host"]: record["status"] for record in document["hosts"]}


def steps(document) -> dict[str, str]:
    return {record["host"]: " ".join([*(record.get("remediation") or {}).get("steps", []), str(record.get("error"))])
            for record in document["hosts"]}


def test_the_table_names_every_fixture_host():
    assert set(END_STATE) == set(HOSTS)


# Hosts that change on their own while they are looked at: Windows' component clean-up removes a superseded
# package's key between the runner's listing and its opening (fixture fault registry_removed_after_listing).
CHANGES_ON_ITS_OWN = {"w2012r2-cbs-package-scavenged"}


def test_check_mode_changes_no_host(runs):
    changed = [name for name in HOSTS if runs["initial"][name] != runs["after_check"][name]]
    assert set(changed) <= CHANGES_ON_ITS_OWN
    for name in CHANGES_ON_ITS_OWN:
        before, after = runs["initial"][name], runs["after_check"][name]
        assert {key: value for key, value in before.items() if key != "registry"} == \
            {key: value for key, value in after.items() if key != "registry"}, name
        assert set(after["registry"]) < set(before["registry"]), "only keys Windows removed itself"
        assert all(before["registry"][path] == values for path, values in after["registry"].items()), name


def test_every_host_of_the_play_is_in_every_report(runs):
    for run in ("check", "first", "second"):
        _run, document, markdown = runs[run]
        assert sorted(statuses(document)) == sorted(HOSTS)
        ready = sum(1 for status in statuses(document).values() if status == READY)
        assert markdown.startswith(f"# ACS readiness: {ready} of {len(HOSTS)} hosts ready")


def test_each_host_reaches_the_best_state_it_can(runs):
    _run, document, markdown = runs["first"]
    assert statuses(document) == END_STATE
    said = steps(document)
    for name, message in MESSAGES.items():
        assert message in said[name], name
    # The Markdown counts the same hosts as fixed (ready now, was not ready).
    fixed = [entry["host"] for entry in document["remediation"]["hosts"] if entry["change"] == "fixed"]
    assert fixed and all(END_STATE[name] == READY for name in fixed)
    assert re.search(rf"^\| Ready now, was not ready +\| fixed +\| +{len(fixed)} \|$", markdown, re.M)


def test_a_root_in_disallowed_is_left_alone_and_reported(runs):
    _run, document, _markdown = runs["first"]
    record = next(record for record in document["hosts"] if record["host"] == "w2016-root-disallowed")
    assert "from the Disallowed stores" in " ".join(record["verdict"]["actions"])
    before = {path: values for path, values in runs["initial"]["w2016-root-disallowed"]["registry"].items()
              if "systemcertificates" in path.lower()}
    after = {path: values for path, values in runs["after_first"]["w2016-root-disallowed"]["registry"].items()
             if "systemcertificates" in path.lower()}
    assert before and before == after


def test_no_host_that_was_ready_is_worse_after(runs):
    _check, before, _markdown = runs["check"]
    for run in ("first", "second"):
        after = statuses(runs[run][1])
        assert [name for name, status in statuses(before).items() if status == READY and after[name] != READY] == []
    assert runs["first"][1]["remediation"]["counts"]["regressed"] == 0


def test_the_gate_blocks_exactly_the_hosts_that_are_not_ready(runs):
    for run in ("first", "second"):
        playbook, document, _markdown = runs[run]
        blocked = {record["host"] for record in document["hosts"] if record["gate"]["decision"] != "allow"}
        expected = END_STATE if run == "first" else {**END_STATE, **SECOND_RUN}
        assert blocked == {name for name, status in expected.items() if status != READY}
        stopped = {name for name, stats in playbook.stats.items()
                   if stats.get("failures") or stats.get("unreachable")}
        assert stopped == blocked | ({SERVICING_OUTLASTED} if run == "first" else set())


def test_a_second_run_changes_nothing_but_what_a_fault_held_back(runs):
    changed = {name for name in HOSTS if runs["after_first"][name] != runs["after_second"][name]}
    assert changed == RETRIED | set(SECOND_RUN)
    assert statuses(runs["second"][1]) == {**END_STATE, **SECOND_RUN}
