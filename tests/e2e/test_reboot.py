"""Restart and verify, end to end: codesign.windows.remediate with acs_readiness_reboot over real ansible-playbook and
WinRM to emulated hosts that restart as Windows does (emulator.restart), asserted on each host's model and on the
report a user reads.

The runs build on each other on a fleet of their own: never (nothing restarted), check mode, the run that restarts,
and a second run.
"""

from __future__ import annotations

import json
import pathlib

import pytest

from emulator.fleet import backend, build_fleet
from support.e2e import run_playbook

FIXED = ["w2019-pending", "w2012r2-pending", "w2008r2-pending"]       # w2008r2-pending: PowerShell 2.0
STILL_PENDING = "w2019-pending-still-pending"
ROLLED_BACK = "w2012r2-pending-package-fails"
NEVER_BACK = "w2019-pending-never-returns"
SLOW = "w2019-pending-slow-servicing"
READY = "w2019-2210"
HOSTS = [*FIXED, STILL_PENDING, ROLLED_BACK, NEVER_BACK, SLOW, READY]
PENDING = [*FIXED, STILL_PENDING, ROLLED_BACK, NEVER_BACK, SLOW]
FAST = ["-e", "acs_readiness_gather_timeout=5", "-e", "acs_readiness_reboot_timeout=12",
        "-e", "acs_readiness_servicing_timeout=8", "-e", "acs_readiness_servicing_check_interval=1"]
REBOOT = "codesign.windows.acs_reboot"


def snapshot(model) -> dict:
    """What a restart changes: the registry, the boot time, QFE, services and files."""
    registry = {path: dict(key.values) for path, key in model.registry._keys.items()}  # pylint: disable=protected-access
    return {"registry": registry, "boot": model.boot_time, "qfe": [dict(row) for row in model.qfe],
            "services": {name: service.status for name, service in model.services.items()}, "files": dict(model.files),
            "ubr": model.ubr}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    with build_fleet(HOSTS) as running:
        inventory = tmp_path_factory.mktemp("reboot") / "hosts.yml"
        running.inventory(inventory, operation_timeout_sec=2, read_timeout_sec=4,
                          extra_vars={"acs_readiness_command_timeout": 30})
        running.inventory_path = inventory
        yield running


def models(fleet) -> dict:
    return {name: backend(fleet, name).model for name in HOSTS}


def remediate(fleet, work: pathlib.Path, *args: str):
    reports = work / "reports"
    run = run_playbook("codesign.windows.remediate", fleet.inventory_path, work,
                       ["-e", f"acs_readiness_report_dir={reports}", *FAST, *args])
    return run, reports


def report(reports: pathlib.Path) -> dict:
    return json.loads((reports / "acs-readiness.json").read_text(encoding="utf-8"))


def remediated(document: dict) -> dict[str, dict]:
    return {entry["host"]: entry for entry in document["remediation"]["hosts"]}


@pytest.fixture(scope="module")
def never_run(fleet, tmp_path_factory):
    before = {name: snapshot(model) for name, model in models(fleet).items()}
    run, reports = remediate(fleet, tmp_path_factory.mktemp("never"))
    return run, reports, before


@pytest.fixture(scope="module")
def check_run(fleet, never_run, tmp_path_factory):
    before = {name: snapshot(model) for name, model in models(fleet).items()}
    run, reports = remediate(fleet, tmp_path_factory.mktemp("check"), "--check", "-e", "acs_readiness_reboot=if_required")
    return run, reports, before


@pytest.fixture(scope="module")
def first_run(fleet, check_run, tmp_path_factory):
    before = {name: snapshot(model) for name, model in models(fleet).items()}
    run, reports = remediate(fleet, tmp_path_factory.mktemp("first"), "-e", "acs_readiness_reboot=if_required")
    return run, reports, before


@pytest.fixture(scope="module")
def second_run(fleet, first_run, tmp_path_factory):
    before = {name: snapshot(model) for name, model in models(fleet).items()}
    run, reports = remediate(fleet, tmp_path_factory.mktemp("second"), "-e", "acs_readiness_reboot=if_required",
                             "--limit", ",".join([*FIXED, READY]))
    return run, reports, before


def test_with_reboot_never_a_pending_update_is_a_success_that_reports_the_restart_it_needs(fleet, never_run):
    run, reports, before = never_run
    assert run.rc == 0, run.stdout[-3000:]
    for name, model in models(fleet).items():
        assert snapshot(model) == before[name], f"{name} was changed"
        assert not run.host_results(name, REBOOT) or run.last(name, REBOOT)["status"] == "skipped", name
    document = report(reports)
    statuses = {record["host"]: record["status"] for record in document["hosts"]}
    for name in PENDING:
        assert statuses[name] == "reboot_pending"
        steps = remediated(document)[name]["steps"]
        assert steps == ["reboot: the update is installed and takes effect after a restart; not restarted "
                         "(acs_readiness_reboot=never)"], steps
        facts = [r["result"]["ansible_facts"]["acs_readiness_remediation"]
                 for r in run.host_results(name, "ansible.builtin.set_fact")
                 if "acs_readiness_remediation" in r["result"].get("ansible_facts", {})][-1]
        assert facts["reboot"]["required"] is True and facts["reboot"]["done"] is False
    assert "reboot" not in json.dumps(remediated(document)[READY]["steps"])


def test_check_mode_restarts_nothing_and_changes_no_model(fleet, check_run):
    run, _reports, before = check_run
    for name, model in models(fleet).items():
        assert snapshot(model) == before[name], f"check mode changed {name}"
        assert backend(fleet, name).model.boot_time == before[name]["boot"]
    assert all(machine.restarts == 0 for machine in fleet.machines.values())
    for name in PENDING:
        result = run.last(name, REBOOT)["result"]
        assert result["changed"] is True and "check mode: nothing was changed" in result["msg"]


def test_pending_hosts_restart_come_back_finish_servicing_and_are_judged_ready(fleet, first_run):
    run, reports, before = first_run
    document = report(reports)
    statuses = {record["host"]: record["status"] for record in document["hosts"]}
    for name in FIXED:
        assert run.last(name, REBOOT)["status"] == "ok", name   # the recorder says ok for a changed result
        result = run.last(name, REBOOT)["result"]
        assert result["changed"] is True and "servicing has finished" in result["msg"], result["msg"]
        model = backend(fleet, name).model
        assert model.boot_time > before[name]["boot"]
        assert result["boot_time_after"] == model.boot_time.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert model.services["TrustedInstaller"].status == "Stopped"
        assert statuses[name] == "ready", name
        entry = remediated(document)[name]
        assert (entry["before"], entry["after"], entry["change"]) == ("reboot_pending", "ready", "fixed")
        assert fleet.machines[name].restarts == 1
    # On 10.x the UBR is the cumulative update's after the restart.
    assert backend(fleet, "w2019-pending").model.ubr == 2210


def test_a_host_still_pending_after_the_restart_is_failed_never_called_fixed(fleet, first_run):
    run, reports, _before = first_run
    outcome = run.last(STILL_PENDING, REBOOT)
    assert outcome["status"] == "failed" and "still pending a restart after the restart" in outcome["result"]["msg"]
    failure = run.last(STILL_PENDING, "ansible.builtin.fail")["result"]["msg"]
    assert "the restart did not finish" in failure
    entry = remediated(report(reports))[STILL_PENDING]
    assert entry["change"] != "fixed" and entry["after"] == "reboot_pending"


def test_an_update_rolled_back_during_the_restart_is_failed_with_the_reason(fleet, first_run):
    run, reports, _before = first_run
    assert "servicing has finished" in run.last(ROLLED_BACK, REBOOT)["result"]["msg"]
    failure = run.last(ROLLED_BACK, "ansible.builtin.fail")["result"]["msg"]
    assert "the update did not take effect after the restart: the host is judged needs_kb" in failure
    entry = remediated(report(reports))[ROLLED_BACK]
    assert (entry["before"], entry["after"], entry["change"]) == ("reboot_pending", "needs_kb", "changed")


def test_a_host_that_never_comes_back_is_failed_and_reported_not_assessed(fleet, first_run):
    run, reports, _before = first_run
    outcome = run.last(NEVER_BACK, REBOOT)
    assert outcome["status"] == "failed"
    result = outcome["result"]
    assert "did not come back within the reboot timeout (12 s)" in result["msg"]
    assert "the restart did not finish: acs_reboot: the host did not come back" in \
        run.last(NEVER_BACK, "ansible.builtin.fail")["result"]["msg"]
    entry = remediated(report(reports))[NEVER_BACK]
    assert entry["after"] == "unreachable" and entry["change"] == "unassessed"
    assert fleet[NEVER_BACK].is_down


def test_servicing_still_busy_at_the_timeout_is_failed(fleet, first_run):
    run, _reports, _before = first_run
    result = run.last(SLOW, REBOOT)["result"]
    assert "servicing was still busy when the servicing timeout (8 s) ran out" in result["msg"]
    assert "TrustedInstaller Running" in result["msg"]


def test_the_run_fails_and_a_ready_host_is_never_touched(fleet, first_run):
    run, reports, before = first_run
    assert run.rc != 0
    assert snapshot(backend(fleet, READY).model) == before[READY]
    assert run.last(READY, REBOOT)["status"] == "skipped"
    assert remediated(report(reports))[READY]["change"] == "unchanged"


def test_a_second_run_restarts_nothing(fleet, second_run):
    run, reports, before = second_run
    assert run.rc == 0, run.stdout[-3000:]
    for name in [*FIXED, READY]:
        assert snapshot(backend(fleet, name).model) == before[name], name
        assert run.last(name, REBOOT)["status"] == "skipped", name
    assert all(entry["after"] == "ready" for entry in report(reports)["remediation"]["hosts"])


RESTART_PLAY = """
- name: Restart with acs_reboot
  hosts: windows
  gather_facts: false
  tasks:
    - name: Restart and wait until servicing has finished
      codesign.windows.acs_reboot:
        reboot_timeout: 20
        servicing_timeout: 20
        servicing_check_interval: 1
        pre_reboot_delay: 0
        msg: Restart for a test
"""


def test_a_restart_another_program_scheduled_is_replaced_by_ours_with_a_warning(tmp_path):
    """shutdown.exe answers 1190 while another restart is scheduled: it is aborted (/a) and ours issued."""
    with build_fleet(["w2016-ready"]) as single:
        inventory = single.inventory(tmp_path / "hosts.yml", operation_timeout_sec=2, read_timeout_sec=4)
        machine = single.machines["w2016-ready"]
        # Another program schedules a restart for an hour later.
        assert machine.shutdown(["/r", "/t", "3600", "/c", "maintenance agent"]).exit_code == 0
        before = machine.model.boot_time
        playbook = tmp_path / "restart.yml"
        playbook.write_text(RESTART_PLAY, encoding="utf-8")
        run = run_playbook(playbook, inventory, tmp_path)
        assert run.rc == 0, run.stdout[-3000:]
        result = run.last("w2016-ready", REBOOT)["result"]
        assert any("already scheduled" in warning for warning in result.get("warnings", [])), result
        assert machine.restarts == 1 and machine.model.boot_time > before
        assert machine.comments == ["maintenance agent", "Restart for a test"]
