"""acs_hotfix with source=windows_update, end to end: real ansible-playbook over WinRM to emulated hosts whose
Windows Update Agent answers ansible.windows.win_updates from the model (emulator.windows_update) and services the
package into it as DISM would; the role with acs_readiness_hotfix_source=windows_update and
acs_readiness_reboot=if_required; asserted on each host's model and on what the user reads.

The runs build on each other on a fleet of their own: check mode, the action on the hosts that fail, the role on
every host, then the action again (nothing changes).
"""

from __future__ import annotations

import json
import pathlib

import pytest

from emulator.fleet import backend, build_fleet
from emulator.windows import CBS
from e2e.test_remediate_hotfix import package_state, qfe, report_hosts, snapshot
from support.e2e import run_playbook

OFFERS = "w2016-wu-offers"             # WSUS offers KB5005698 (servicing stack) and KB5006669
NOT_OFFERED = "w2019-wu-not-offered"   # WSUS reachable, KB5005625 not offered
NO_SERVICE = "w2016-wfbs-old"          # no windows_update key: no reachable update service
PS4 = "w2012r2-hotfix-seconly"         # PowerShell 4.0
PS2 = "w2008r2-hotfix-prereqs"         # PowerShell 2.0
HOSTS = [OFFERS, NOT_OFFERED, NO_SERVICE, PS4, PS2]
FAST = ["-e", "acs_readiness_gather_timeout=5"]
ROLLUP_14393 = "Package_for_RollupFix~31bf3856ad364e35~amd64~~14393.4704.1.5"
PLAYBOOK = """---
- name: Install the ACS update through Windows Update
  hosts: all
  gather_facts: false
  tasks:
    - name: Gather and judge
      codesign.windows.acs_facts:
        verdict: true
    - name: Install the update the verdict names
      codesign.windows.acs_hotfix:
        source: windows_update
        windows_update_server: managed_server
      ignore_errors: true
"""


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    work = tmp_path_factory.mktemp("wu")
    with build_fleet(HOSTS) as running:
        inventory = work / "hosts.yml"
        running.inventory(inventory, operation_timeout_sec=2, read_timeout_sec=4,
                          extra_vars={"acs_readiness_command_timeout": 30})
        running.inventory_path = inventory
        running.playbook = work / "hotfix-wu.yml"
        running.playbook.write_text(PLAYBOOK, encoding="utf-8")
        yield running


def models(fleet) -> dict:
    return {name: backend(fleet, name).model for name in HOSTS}


def action(fleet, work: pathlib.Path, *args: str):
    return run_playbook(fleet.playbook, fleet.inventory_path, work, list(args))


def hotfix(run, name) -> dict:
    """The action's result, with ``failed`` as ansible-playbook reported the task."""
    record = run.last_run(name, "codesign.windows.acs_hotfix")
    return {**record["result"], "failed": record["status"] == "failed"}


@pytest.fixture(scope="module")
def check_run(fleet, tmp_path_factory):
    before = {name: snapshot(model) for name, model in models(fleet).items()}
    return action(fleet, tmp_path_factory.mktemp("check"), "--check"), before


@pytest.fixture(scope="module")
def failing_run(fleet, check_run, tmp_path_factory):
    """The action on every host but the one WSUS serves, which the role installs next."""
    before = {name: snapshot(model) for name, model in models(fleet).items()}
    return action(fleet, tmp_path_factory.mktemp("action"), "--limit", f"all:!{OFFERS}"), before


@pytest.fixture(scope="module")
def role_run(fleet, failing_run, tmp_path_factory):
    work = tmp_path_factory.mktemp("role")
    run = run_playbook("codesign.windows.remediate", fleet.inventory_path, work,
                       ["-e", f"acs_readiness_report_dir={work / 'reports'}", "-e", "acs_readiness_remediate=kb",
                        "-e", "acs_readiness_hotfix_source=windows_update", "-e", "acs_readiness_reboot=if_required",
                        "-e", "acs_readiness_servicing_check_interval=1", *FAST])
    return run, work / "reports"


@pytest.fixture(scope="module")
def second_run(fleet, role_run, tmp_path_factory):
    before = {name: snapshot(model) for name, model in models(fleet).items()}
    return action(fleet, tmp_path_factory.mktemp("second")), before


def test_check_mode_changes_no_model_and_says_what_would_be_installed(fleet, check_run):
    run, before = check_run
    for name, model in models(fleet).items():
        assert snapshot(model) == before[name], f"check mode changed {name}"
        assert model.update_tasks == {}, f"check mode asked {name}'s Windows Update Agent"
    result = hotfix(run, OFFERS)
    assert result["changed"] is True and result["planned"] == ["KB5005698", "KB5006669"], result
    assert "installs KB5005698, KB5006669" in result["msg"] and "through Windows Update" in result["msg"]
    assert "check mode: Windows Update was not asked, nothing was changed" in result["msg"]


def test_powershell_below_5_1_is_refused_before_windows_update_is_asked(fleet, failing_run):
    run, before = failing_run
    for name, version in ((PS4, "4.0"), (PS2, "2.0")):
        result = hotfix(run, name)
        assert result["failed"] is True, result
        assert f"needs PowerShell 5.1 or later; this host has PowerShell {version}" in result["msg"], result["msg"]
        assert "source=files" in result["msg"] and "nothing was installed" in result["msg"]
        assert snapshot(backend(fleet, name).model) == before[name]


def test_an_update_the_server_does_not_offer_fails_naming_it(fleet, failing_run):
    run, before = failing_run
    result = hotfix(run, NOT_OFFERED)
    assert result["failed"] is True and result["changed"] is False, result
    assert "the update is not offered by the update server: KB5005625" in result["msg"], result["msg"]
    assert result["installed"] == []
    model = backend(fleet, NOT_OFFERED).model
    assert "KB5005625" not in qfe(model) and "KB5006669" not in qfe(model), "an update for 2016 is not for 2019"
    assert model.update_tasks == {}, "the update task was cancelled after its exit record was read"


def test_a_host_without_a_reachable_update_service_fails_with_the_search_error(fleet, failing_run):
    run, before = failing_run
    result = hotfix(run, NO_SERVICE)
    assert result["failed"] is True, result
    assert "Searching for updates" in result["msg"] and "0x8024402C" in result["msg"], result["msg"]
    assert "WU_E_PT_WINHTTP_NAME_NOT_RESOLVED" in result["msg"]
    assert snapshot(backend(fleet, NO_SERVICE).model) == before[NO_SERVICE]


def test_the_role_installs_through_windows_update_restarts_and_reports_ready(fleet, role_run):
    run, reports = role_run
    result = hotfix(run, OFFERS)
    assert result["failed"] is False, json.dumps(result)[-2000:]
    assert result["changed"] is True and result["installed"] == ["KB5005698", "KB5006669"] and result["reboot_required"] is True
    assert result["source"] == "windows_update"
    model = backend(fleet, OFFERS).model
    # The restart finished the package the agent installed: the UBR is the cumulative update's.
    assert package_state(model, ROLLUP_14393) == 112 and model.ubr == 4704
    assert {"KB5005698", "KB5006669"} <= qfe(model)
    assert model.registry.open(CBS + r"\RebootPending") is None
    # Event 19 (installation successful) from the agent, and the collection's own entry, for each of the two.
    assert [e["id"] for e in model.events if e["source"] == "Microsoft-Windows-WindowsUpdateClient"] == [19, 19]
    assert [e["id"] for e in model.events if e["source"] == "codesign.windows"] == [100, 100]
    assert report_hosts(reports)[OFFERS]["status"] == "ready"
    # The hosts it cannot serve stay as they were, each with its reason.
    assert report_hosts(reports)[NOT_OFFERED]["status"] == "needs_kb"
    assert "not offered by the update server" in hotfix(run, NOT_OFFERED)["msg"]
    assert run.rc != 0


def test_a_second_run_changes_nothing(fleet, second_run):
    run, before = second_run
    for name, model in models(fleet).items():
        assert run.stats[name]["changed"] == 0, run.stdout[-3000:]
        assert snapshot(model) == before[name], name
    result = hotfix(run, OFFERS)
    assert result["changed"] is False and "nothing to install" in result["msg"], result
