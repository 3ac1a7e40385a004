"""codesign.windows.remediate with acs_readiness_remediate=kb / all, end to end: real ansible-playbook over WinRM to
emulated hosts that execute the update operations with their PowerShell interpreter and service the packages
into their model (emulator.servicing), asserted on each host's model.

The update files are real cabinets (tests/support/cab.py) named as the Microsoft Update Catalog names them. The
runs build on each other (a wrong checksum, check mode, the run that changes hosts, the second run), on a fleet of
their own.
"""

from __future__ import annotations

import contextlib
import copy
import json
import pathlib

import pytest

from emulator.fleet import backend, build_fleet
from emulator.windows import CBS
from support import cab
from support.e2e import run_playbook

ROLLUP_63 = "Package_for_RollupFix~31bf3856ad364e35~amd64~~9600.20144.1.5"
HOSTS = {
    "w2012r2-airgap-both": "root and monthly rollup (6.3, PowerShell 4.0)",
    "w2012r2-hotfix-seconly": "security-only update",
    "w2019-2209": "cumulative update (10.x)",
    "w2008r2-hotfix-prereqs": "prerequisites in order (PowerShell 2.0)",
    "w2008-hotfix-pkgmgr": "pkgmgr on Server 2008 SP2",
    "w2012-missing": "a mislabelled file: not applicable",
    "w2012r2-hotfix-diskfull": "pre-flight: disk space",
    "w2012r2-hotfix-user": "not an administrator",
    "w2012r2-hotfix-restart-due": "pre-flight: a restart already pending",
    "w2008r2-hotfix-oldstack": "a newer servicing stack needed",
    "w2019-2210": "ready: untouched",
}
FAST = ["-e", "acs_readiness_gather_timeout=5"]


def update_files(directory: pathlib.Path) -> dict[str, pathlib.Path]:
    """The updates as the catalog ships them, each built for the Windows it names (but one)."""
    specs = [
        ("windows8.1", "KB5006714", "6.3.9600", {"package": "Package_for_RollupFix", "version": "9600.20144.1.5"}),
        ("windows8.1", "KB5006729", "6.3.9600", {}),
        ("windows10.0", "KB5005625", "10.0.17763", {"package": "Package_for_RollupFix", "version": "17763.2210.1.6"}),
        ("windows6.1", "KB4474419", "6.1.7601", {}),
        ("windows6.1", "KB4490628", "6.1.7601", {"restart": "never", "release_type": "Update"}),
        ("windows6.1", "KB4538483", "6.1.7601", {}),
        ("windows6.1", "KB5006743", "6.1.7601", {"package": "Package_for_RollupFix", "version": "7601.25740.1.5"}),
        ("windows6.0", "KB5006736", "6.0.6003", {"package": "Package_for_RollupFix", "version": "6003.21251.1.5"}),
        # Named for Server 2012, built for 2012 R2: DISM finds it not applicable.
        ("windows8-rt", "KB5006739", "6.3.9600", {}),
    ]
    paths = {}
    for os_tag, kb, applies_to, mum in specs:
        data = cab.msu(os_tag, kb, applies_to, **mum)
        path = directory / cab.catalog_name(os_tag, kb, "x64", data)
        path.write_bytes(data)
        paths[kb] = path
    return paths


def snapshot(model) -> dict:
    """What servicing can change: the registry, QFE, the disk and the event log."""
    keys = {path: dict(key.values) for path, key in model.registry._keys.items()}  # pylint: disable=protected-access
    return copy.deepcopy({"registry": keys, "qfe": model.qfe, "disk": dict(model.disk),
                          "directories": set(model.directories), "events": model.events})


def qfe(model) -> set[str]:
    return {row["HotFixID"] for row in model.qfe}


def package_state(model, name: str):
    key = model.registry.open(f"{CBS}\\Packages\\{name}")
    return None if key is None else key.get("CurrentState")


def report_hosts(directory: pathlib.Path) -> dict[str, dict]:
    report = json.loads((directory / "acs-readiness.json").read_text(encoding="utf-8"))
    return {record["host"]: record for record in report["hosts"]}


@contextlib.contextmanager
def fleet_with_updates(hosts, work: pathlib.Path):
    """The named fixture hosts running, with an inventory and a directory of update files (fleet.updates)."""
    with build_fleet(list(hosts)) as running:
        running.updates = work / "updates"
        running.updates.mkdir()
        running.files = update_files(running.updates)
        inventory = work / "hosts.yml"
        running.inventory(inventory, operation_timeout_sec=2, read_timeout_sec=4,
                          extra_vars={"acs_readiness_command_timeout": 30})
        running.inventory_path = inventory
        yield running


def remediate_kb(fleet, work: pathlib.Path):
    """codesign.windows.remediate installing updates only (acs_readiness_remediate=kb), its reports in work."""
    return run_playbook("codesign.windows.remediate", fleet.inventory_path, work,
                        ["-e", f"acs_readiness_report_dir={work / 'reports'}", "-e", "acs_readiness_remediate=kb",
                         "-e", f"acs_readiness_hotfix_src={fleet.updates}", *FAST])


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    with fleet_with_updates(HOSTS, tmp_path_factory.mktemp("hotfix")) as running:
        yield running


def models(fleet) -> dict:
    return {name: backend(fleet, name).model for name in HOSTS}


def commands(fleet) -> dict[str, int]:
    return {name: len(backend(fleet, name).commands) for name in HOSTS}


def remediate(fleet, work: pathlib.Path, *args: str):
    reports = work / "reports"
    run = run_playbook("codesign.windows.remediate", fleet.inventory_path, work,
                       ["-e", f"acs_readiness_report_dir={reports}", "-e", "acs_readiness_remediate=all",
                        "-e", f"acs_readiness_hotfix_src={fleet.updates}", *FAST, *args])
    return run, reports


@pytest.fixture(scope="module")
def checksum_run(fleet, tmp_path_factory):
    """First: a SHA-256 that does not match, refused on the controller before the host gets any operation."""
    work = tmp_path_factory.mktemp("checksum")
    before = {name: snapshot(model) for name, model in models(fleet).items()}
    sent = commands(fleet)
    checksums = json.dumps({"acs_readiness_hotfix_checksums": {"KB5006714": "0" * 64}})
    run, _reports = remediate(fleet, work, "--limit", "w2012r2-airgap-both", "-e", checksums,
                              "-e", "acs_readiness_remediate=kb")
    return run, before, sent


@pytest.fixture(scope="module")
def check_run(fleet, checksum_run, tmp_path_factory):
    work = tmp_path_factory.mktemp("check")
    before = {name: snapshot(model) for name, model in models(fleet).items()}
    run, reports = remediate(fleet, work, "--check")
    return run, reports, before


@pytest.fixture(scope="module")
def first_run(fleet, check_run, tmp_path_factory):
    work = tmp_path_factory.mktemp("first")
    before = {name: snapshot(model) for name, model in models(fleet).items()}
    run, reports = remediate(fleet, work)
    return run, reports, before


@pytest.fixture(scope="module")
def second_run(fleet, first_run, tmp_path_factory):
    work = tmp_path_factory.mktemp("second")
    before = {name: snapshot(model) for name, model in models(fleet).items()}
    run, reports = remediate(fleet, work)
    return run, reports, before


def hotfix_result(run, name):
    return run.last_run(name, "codesign.windows.acs_hotfix")["result"]


def test_a_wrong_checksum_is_refused_before_the_host_gets_any_operation(fleet, checksum_run):
    run, before, sent = checksum_run
    name = "w2012r2-airgap-both"
    assert commands(fleet)[name] - sent[name] == 1, "the gather only"
    assert snapshot(backend(fleet, name).model) == before[name]
    message = hotfix_result(run, name)["msg"]
    assert "its SHA-256 is" in message and "given in checksums; nothing was installed" in message
    assert run.rc != 0


def test_check_mode_changes_no_model_and_says_what_would_be_installed(fleet, check_run):
    run, _reports, before = check_run
    for name, model in models(fleet).items():
        assert snapshot(model) == before[name], f"check mode changed {name}"
    result = hotfix_result(run, "w2008r2-hotfix-prereqs")
    assert result["changed"] is True and "check mode: nothing was changed" in result["msg"]
    assert result["planned"] == ["KB4474419", "KB4490628", "KB4538483", "KB5006743"]


def test_the_monthly_rollup_and_the_root_are_installed_and_the_host_waits_for_a_restart(fleet, first_run):
    run, reports, _before = first_run
    model = backend(fleet, "w2012r2-airgap-both").model
    result = hotfix_result(run, "w2012r2-airgap-both")
    assert result["changed"] is True and result["installed"] == ["KB5006714"] and result["reboot_required"] is True
    assert package_state(model, ROLLUP_63) == 96 and "KB5006714" in qfe(model)
    assert model.registry.open(CBS + r"\RebootPending") is not None
    assert [e["id"] for e in model.events if e["source"] == "codesign.windows"] == [100]
    assert model.disk == {} and not any("codesign-acs-hotfix" in d for d in model.directories), "cleaned up"
    assert report_hosts(reports)["w2012r2-airgap-both"]["status"] == "reboot_pending"
    recorded = [r["result"]["ansible_facts"]["acs_readiness_remediation"]
                for r in run.host_results("w2012r2-airgap-both", "ansible.builtin.set_fact")
                if "acs_readiness_remediation" in r["result"].get("ansible_facts", {})][-1]
    assert recorded["root_ca"]["changed"] is True and recorded["root_ca"]["stores"] == ["root"], recorded
    assert recorded["kb"]["changed"] is True and recorded["kb"]["installed"] == ["KB5006714"], recorded
    assert recorded["kb"]["reboot_required"] is True and recorded["kb"]["failed"] is False, recorded


def test_security_only_installs_exactly_that_update(fleet, first_run):
    run, reports, _before = first_run
    model = backend(fleet, "w2012r2-hotfix-seconly").model
    assert hotfix_result(run, "w2012r2-hotfix-seconly")["installed"] == ["KB5006729"]
    assert "KB5006729" in qfe(model) and "KB5006714" not in qfe(model)
    assert package_state(model, "Package_for_KB5006729~31bf3856ad364e35~amd64~~6.3.1.0") == 96


def test_a_10x_host_gets_the_cumulative_update(fleet, first_run):
    run, reports, _before = first_run
    model = backend(fleet, "w2019-2209").model
    assert hotfix_result(run, "w2019-2209")["installed"] == ["KB5005625"]
    assert hotfix_result(run, "w2019-2209")["ran_as"] == "shell", "WinRM 3.0 and later: 1024 MB per shell"
    assert package_state(model, "Package_for_RollupFix~31bf3856ad364e35~amd64~~17763.2210.1.6") == 96
    assert model.ubr == 2209, "the UBR changes only with the restart"
    assert report_hosts(reports)["w2019-2209"]["status"] == "reboot_pending"


def test_prerequisites_are_installed_first_in_catalog_order_on_powershell_2(fleet, first_run):
    run, reports, _before = first_run
    model = backend(fleet, "w2008r2-hotfix-prereqs").model
    assert model.powershell == "2.0"
    result = hotfix_result(run, "w2008r2-hotfix-prereqs")
    assert result["installed"] == ["KB4474419", "KB4490628", "KB4538483", "KB5006743"], result
    # WinRM 2.0 allows a shell 150 MB: each package went in through a scheduled task as SYSTEM.
    assert result["ran_as"] == "scheduled_task" and model.scheduled_tasks == {}
    servicing = [e["message"] for e in model.events if e["source"] == "Microsoft-Windows-Servicing"]
    assert [m.split()[1] for m in servicing] == ["KB4474419", "KB4490628", "KB4538483", "KB5006743"]
    # The servicing stack went in without a restart; the rollup, which needs it, was then applicable.
    assert package_state(model, "Package_for_KB4490628~31bf3856ad364e35~amd64~~6.1.1.0") == 112
    assert package_state(model, "Package_for_RollupFix~31bf3856ad364e35~amd64~~7601.25740.1.5") == 96
    assert report_hosts(reports)["w2008r2-hotfix-prereqs"]["status"] == "reboot_pending"


def test_server_2008_is_serviced_with_pkgmgr(fleet, first_run):
    run, _reports, _before = first_run
    model = backend(fleet, "w2008-hotfix-pkgmgr").model
    result = hotfix_result(run, "w2008-hotfix-pkgmgr")
    assert result["tool"] == "pkgmgr" and result["installed"] == ["KB5006736"], result
    assert result["ran_as"] == "scheduled_task", "WMF 2.0's WinRM on Server 2008: 150 MB per shell"
    assert package_state(model, "Package_for_RollupFix~31bf3856ad364e35~amd64~~6003.21251.1.5") == 96


def test_a_package_that_does_not_apply_fails_the_host_with_the_reason(fleet, first_run):
    run, reports, before = first_run
    model = backend(fleet, "w2012-missing").model
    assert run.last_run("w2012-missing", "codesign.windows.acs_hotfix")["status"] == "failed"
    result = hotfix_result(run, "w2012-missing")
    assert "KB5006739 was not installed" in result["msg"] and "0x800f081e (CBS_E_NOT_APPLICABLE)" in result["msg"]
    assert qfe(model) == qfe_before(before, "w2012-missing")
    assert model.disk == {}, "cleaned up after the failure"
    assert report_hosts(reports)["w2012-missing"]["status"] == "needs_kb"


def qfe_before(before, name):
    return {row["HotFixID"] for row in before[name]["qfe"]}


def test_too_little_disk_space_is_refused_before_anything_is_copied(fleet, first_run):
    run, _reports, before = first_run
    model = backend(fleet, "w2012r2-hotfix-diskfull").model
    message = hotfix_result(run, "w2012r2-hotfix-diskfull")["msg"]
    assert "the system drive has 1000 MB free, less than the 2048 MB" in message
    assert snapshot(model) == before["w2012r2-hotfix-diskfull"]


def test_a_restart_already_pending_is_refused_before_anything_is_copied(fleet, first_run):
    run, _reports, before = first_run
    name = "w2012r2-hotfix-restart-due"
    message = hotfix_result(run, name)["msg"]
    assert "a restart is already pending" in message and "RebootRequired" in message
    assert hotfix_result(run, name)["restart_first"] is True
    assert snapshot(backend(fleet, name).model) == before[name]


def test_a_servicing_stack_too_old_fails_the_host_and_says_what_to_install(fleet, first_run):
    run, reports, before = first_run
    name = "w2008r2-hotfix-oldstack"
    message = hotfix_result(run, name)["msg"]
    assert "KB5006743 was not installed" in message
    assert "0x800f0823 (CBS_E_NEW_SERVICING_STACK_REQUIRED)" in message and "servicing stack update" in message
    assert qfe(backend(fleet, name).model) == qfe_before(before, name)
    assert report_hosts(reports)[name]["status"] == "needs_kb"


def test_an_account_that_is_not_an_administrator_fails_clearly(fleet, first_run):
    run, _reports, before = first_run
    model = backend(fleet, "w2012r2-hotfix-user").model
    message = hotfix_result(run, "w2012r2-hotfix-user")["msg"]
    assert "740 (ERROR_ELEVATION_REQUIRED)" in message and "local Administrators" in message
    assert qfe(model) == qfe_before(before, "w2012r2-hotfix-user")
    failed = [r["result"].get("msg", "") for r in run.host_results("w2012r2-hotfix-user") if r["status"] == "failed"]
    assert any("the update was not installed" in m for m in failed), failed
    assert run.rc != 0


def test_no_ready_host_is_touched(fleet, first_run):
    run, reports, before = first_run
    assert snapshot(backend(fleet, "w2019-2210").model) == before["w2019-2210"]
    assert report_hosts(reports)["w2019-2210"]["status"] == "ready"
    assert run.stats["w2019-2210"]["changed"] == 0


def test_a_second_run_changes_nothing(fleet, second_run):
    run, _reports, before = second_run
    for name, model in models(fleet).items():
        assert snapshot(model) == before[name], name
    for name in ("w2012r2-airgap-both", "w2019-2209", "w2008r2-hotfix-prereqs", "w2008-hotfix-pkgmgr"):
        found = run.host_results(name, "codesign.windows.acs_hotfix")
        # Installed and waiting for its restart, the verdict is reboot_pending: nothing to install.
        assert not found or found[-1]["status"] == "skipped", (name, found[-1] if found else None)
        assert run.stats[name]["changed"] == 0, (name, run.stats[name])


# ---------------------------------------------------------------------------------------------------------------
# One host each: a connection lost while DISM runs, files the host reads from a path, and rolling back.
def single_host(name: str, tmp_path: pathlib.Path):
    running = build_fleet([name])
    fleet_ = running.__enter__()
    inventory = tmp_path / "hosts.yml"
    fleet_.inventory(inventory, operation_timeout_sec=2, read_timeout_sec=4,
                     extra_vars={"acs_readiness_command_timeout": 30})
    fleet_.inventory_path = inventory
    return running, fleet_


class DropWhileInstalling:
    """The host's backend with one fault switched on mid-run: once the host has expanded the .msu, the connection
    drops on the next command's first Receive. That command is the DISM install: the host runs it, only its
    answer is lost (wsman.Faults.drop_on_receive; the fields may change while the fleet runs)."""

    def __init__(self, host):
        self.host = host
        self.inner = host.config.backend
        self.name = self.inner.name
        self.armed = True

    def run_command(self, command_line, stdin):
        result = self.inner.run_command(command_line, stdin)
        if self.armed and b"Invoke-AcsHotfix" in stdin and b"action = 'expand'" in stdin:
            self.armed = False
            self.host.config.faults.drop_on_receive = True
        return result


def test_a_connection_lost_while_installing_fails_the_host_and_a_rerun_finds_the_update(tmp_path):
    name = "w2012r2-hotfix-seconly"
    running, fleet_ = single_host(name, tmp_path)
    try:
        updates = tmp_path / "updates"
        updates.mkdir()
        update_files(updates)
        host = fleet_[name]
        fault = DropWhileInstalling(host)
        host.config.backend = fault
        args = ["-e", "acs_readiness_remediate=kb", "-e", f"acs_readiness_hotfix_src={updates}", *FAST]
        run = run_playbook("codesign.windows.remediate", fleet_.inventory_path, tmp_path / "first",
                           ["-e", f"acs_readiness_report_dir={tmp_path / 'first' / 'reports'}", *args])
        assert not fault.armed and run.rc != 0
        shown = [json.dumps(r["result"]) for r in run.host_results(name)]
        assert any("the connection to the host was lost while installing KB5006729: run again to see whether it "
                   "was installed" in text for text in shown), run.stdout[-3000:]
        model = fault.inner.model
        assert "KB5006729" in qfe(model), "the host ran DISM; only its answer was lost"
        assert report_hosts(tmp_path / "first" / "reports")[name]["status"] == "needs_kb", "not called fixed unseen"

        host.config.faults.drop_on_receive = False
        again = run_playbook("codesign.windows.remediate", fleet_.inventory_path, tmp_path / "again",
                             ["-e", f"acs_readiness_report_dir={tmp_path / 'again' / 'reports'}", *args])
        assert again.rc == 0 and again.stats[name]["changed"] == 0, again.stdout[-3000:]
        assert report_hosts(tmp_path / "again" / "reports")[name]["status"] == "reboot_pending"
    finally:
        running.__exit__(None, None, None)


def test_files_the_host_reads_from_a_path_are_checked_installed_and_left_in_place_and_can_be_rolled_back(tmp_path):
    name = "w2012r2-hotfix-seconly"
    running, fleet_ = single_host(name, tmp_path)
    try:
        model = backend(fleet_, name).model
        share = "C:\\Updates"
        data = cab.msu("windows8.1", "KB5006729", "6.3.9600")
        file_name = cab.catalog_name("windows8.1", "KB5006729", "x64", data)
        model.directories.add("c:\\updates")
        model.disk[f"{share}\\{file_name}"] = data
        run = run_playbook("codesign.windows.remediate", fleet_.inventory_path, tmp_path,
                           ["-e", f"acs_readiness_report_dir={tmp_path / 'reports'}", "-e", "acs_readiness_remediate=kb",
                            "-e", f"acs_readiness_hotfix_remote_src={share}", *FAST])
        assert run.rc == 0, run.stdout[-3000:]
        assert hotfix_result(run, name)["installed"] == ["KB5006729"]
        assert "KB5006729" in qfe(model)
        assert list(model.disk) == [f"{share}\\{file_name}"], "the share's file stays; the expanded copy is gone"

        playbook = tmp_path / "rollback.yml"
        playbook.write_text("- hosts: all\n  gather_facts: false\n  tasks:\n"
                            "    - codesign.windows.acs_hotfix: {state: absent, kb: KB5006729}\n", encoding="utf-8")
        check = run_playbook(playbook, fleet_.inventory_path, tmp_path, ["--check"])
        assert "KB5006729" in qfe(model) and check.stats[name]["changed"] == 1, \
            check.last_run(name, "codesign.windows.acs_hotfix")["result"]
        removed = run_playbook(playbook, fleet_.inventory_path, tmp_path)
        result = removed.last_run(name, "codesign.windows.acs_hotfix")["result"]
        assert result["removed"] == ["Package_for_KB5006729~31bf3856ad364e35~amd64~~6.3.1.0"], result
        assert result["reboot_required"] is True and "KB5006729" not in qfe(model)
        assert package_state(model, result["removed"][0]) == 5
        assert [e["id"] for e in model.events if e["source"] == "codesign.windows"] == [100, 101]
        nothing = run_playbook(playbook, fleet_.inventory_path, tmp_path)
        assert nothing.stats[name]["changed"] == 0
    finally:
        running.__exit__(None, None, None)


class CountWrites:
    """The host's backend, counting the update operation's write commands it runs."""

    def __init__(self, host):
        self.inner = host.config.backend
        self.name = self.inner.name
        self.writes = 0

    def run_command(self, command_line, stdin):
        if b"Invoke-AcsHotfix" in stdin and b"action = 'write'" in stdin:
            self.writes += 1
        return self.inner.run_command(command_line, stdin)


def test_a_file_larger_than_a_chunk_travels_in_several_commands_and_arrives_whole(tmp_path):
    name = "w2019-2209"
    running, fleet_ = single_host(name, tmp_path)
    try:
        updates = tmp_path / "updates"
        updates.mkdir()
        data = cab.msu("windows10.0", "KB5005625", "10.0.17763", package="Package_for_RollupFix",
                       version="17763.2210.1.6", payload_blocks=1000)   # 32 KB: 8 chunks of 4 KB
        (updates / cab.catalog_name("windows10.0", "KB5005625", "x64", data)).write_bytes(data)
        size = len(data)
        playbook = tmp_path / "install.yml"
        playbook.write_text(
            "- hosts: all\n  gather_facts: false\n  tasks:\n"
            "    - codesign.windows.acs_facts:\n      register: gathered\n"
            "    - codesign.windows.acs_hotfix:\n"
            "        verdict: \"{{ gathered.ansible_facts.acs.evidence | codesign.windows.acs_verdict }}\"\n"
            f"        src: {updates}\n        chunk_size: 4096\n", encoding="utf-8")
        counter = CountWrites(fleet_[name])
        fleet_[name].config.backend = counter
        run = run_playbook(playbook, fleet_.inventory_path, tmp_path)
        assert run.rc == 0, run.stdout[-3000:]
        assert counter.writes == -(-size // 4096) > 1, (size, counter.writes)
        assert hotfix_result(run, name)["installed"] == ["KB5005625"]
        model = counter.inner.model
        assert package_state(model, "Package_for_RollupFix~31bf3856ad364e35~amd64~~17763.2210.1.6") == 96
        assert model.disk == {}
    finally:
        running.__exit__(None, None, None)
