"""acs_hotfix where WinRM's shell memory quota is too small for DISM (WinRM 2.0, 150 MB): the install runs as a
scheduled task as SYSTEM, end to end through the remediate playbook, asserted on the emulated hosts' models
(emulator.tasks)."""

from __future__ import annotations

import json

import pytest

from emulator.fleet import backend
from e2e.test_remediate_hotfix import fleet_with_updates, qfe, remediate_kb, report_hosts

HOSTS = ["w2008r2-hotfix-quota", "w2008r2-hotfix-user"]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    with fleet_with_updates(HOSTS, tmp_path_factory.mktemp("task")) as running:
        yield running


@pytest.fixture(scope="module")
def first_run(fleet, tmp_path_factory):
    work = tmp_path_factory.mktemp("first")
    return remediate_kb(fleet, work), work


def test_a_150_mb_quota_installs_through_a_scheduled_task_as_system(fleet, first_run):
    run, work = first_run
    name = "w2008r2-hotfix-quota"
    model = backend(fleet, name).model
    result = run.last_run(name, "codesign.windows.acs_hotfix")["result"]
    assert result.get("failed") is not True, json.dumps(result)[-2000:]
    assert result["ran_as"] == "scheduled_task" and result["installed"] == ["KB5006743"]
    assert "DISM ran as a scheduled task as SYSTEM" in result["msg"]
    assert "KB5006743" in qfe(model), "in the shell DISM would have been ended by the 150 MB quota"
    assert model.scheduled_tasks == {}, "the task is deleted once it has finished"
    assert report_hosts(work / "reports")[name]["status"] == "reboot_pending"


def test_an_account_that_is_not_an_administrator_is_refused_the_task_with_a_clear_message(fleet, first_run):
    run, work = first_run
    name = "w2008r2-hotfix-user"
    shown = json.dumps([r["result"] for r in run.host_results(name)])
    assert "creating that task was refused" in shown and "local Administrators group" in shown, shown[-3000:]
    assert "KB5006743" not in qfe(backend(fleet, name).model)
    assert report_hosts(work / "reports")[name]["status"] == "needs_kb"


def test_a_second_run_changes_nothing(fleet, first_run, tmp_path):
    again = remediate_kb(fleet, tmp_path)
    assert again.stats["w2008r2-hotfix-quota"]["changed"] == 0, again.stdout[-3000:]
