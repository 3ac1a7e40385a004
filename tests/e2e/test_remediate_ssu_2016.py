"""Windows 10 1607 / Server 2016 and its servicing stack, end to end: real ansible-playbook over WinRM to emulated
Server 2016 hosts whose DISM refuses the cumulative update KB5006669 without a servicing stack update (0x800f0823,
fixture key servicing.stack_required), with every update the catalog names at hand (tests/support/update_repository.py).

- w2016-ssu-needed: no servicing stack update; prepare_upgrade installs KB5005698, then KB5006669, restarts: ready.
- w2016-ssu-later: a later servicing stack update the catalog lists; not reported missing, the cumulative update
  alone goes in.
- w2016-ssu-unlisted: a later servicing stack update the catalog does not list: reported missing (a KB number alone
  does not say "servicing stack"); DISM calls KB5005698 not applicable (superseded), the cumulative update goes in.
"""

from __future__ import annotations

import json
import pathlib
import shutil

import pytest

from emulator.fleet import backend, build_fleet
from emulator.windows import CBS
from support.e2e import run_playbook

HOSTS = ("w2016-ssu-needed", "w2016-ssu-later", "w2016-ssu-unlisted")
SSU = "KB5005698"
CU = "KB5006669"
SSU_PACKAGE = "Package_for_KB5005698~31bf3856ad364e35~amd64~~10.0.1.0"
FAST = ["-e", "acs_readiness_gather_timeout=5", "-e", "acs_readiness_reboot_timeout=12",
        "-e", "acs_readiness_servicing_timeout=8", "-e", "acs_readiness_servicing_check_interval=1"]


def qfe(model) -> set[str]:
    return {row["HotFixID"] for row in model.qfe}


def servicing_events(model) -> list[str]:
    """The KBs CBS changed the state of, in order (Microsoft-Windows-Servicing, Setup log)."""
    return [event["message"].split()[1] for event in model.events if event["source"] == "Microsoft-Windows-Servicing"]


def hotfix_result(run, name):
    return run.last_run(name, "codesign.windows.acs_hotfix")["result"]


def playbook(name, fleet, work: pathlib.Path, source: pathlib.Path, *args: str):
    reports = work / "reports"
    run = run_playbook(name, fleet.inventory_path, work,
                       ["-e", f"acs_readiness_report_dir={reports}", "-e", "acs_readiness_remediate=kb",
                        "-e", f"acs_readiness_hotfix_src={source}", *FAST, *args], timeout=900)
    report = json.loads((reports / "acs-readiness.json").read_text(encoding="utf-8"))
    return run, {record["host"]: record for record in report["hosts"]}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    with build_fleet(list(HOSTS)) as running:
        inventory = tmp_path_factory.mktemp("ssu-2016") / "hosts.yml"
        running.inventory(inventory, operation_timeout_sec=2, read_timeout_sec=4,
                          extra_vars={"acs_readiness_command_timeout": 30})
        running.inventory_path = inventory
        yield running


@pytest.fixture(scope="module")
def without_the_stack(fleet, tmp_path_factory, update_repository):
    """First: only the cumulative update supplied; acs_hotfix names the servicing stack update and installs nothing."""
    work = tmp_path_factory.mktemp("no-ssu")
    source = work / "updates"
    source.mkdir()
    for path in update_repository.glob(f"windows10.0-{CU.lower()}-x64_*.msu"):
        shutil.copy(path, source)
    before = {name: (sorted(qfe(backend(fleet, name).model)), list(backend(fleet, name).model.events)) for name in HOSTS}
    run, hosts = playbook("codesign.windows.remediate", fleet, work, source, "--limit", "w2016-ssu-needed")
    return run, hosts, before


@pytest.fixture(scope="module")
def prepared(fleet, without_the_stack, tmp_path_factory, update_repository):
    """Then codesign.windows.prepare_upgrade with every update at hand and restarts allowed."""
    assert without_the_stack
    return playbook("codesign.windows.prepare_upgrade", fleet, tmp_path_factory.mktemp("prepare"), update_repository,
                    "-e", "acs_readiness_reboot=if_required", "-e", "acs_readiness_max_fail_percentage=100")


def test_the_missing_servicing_stack_update_is_named_and_nothing_is_installed(fleet, without_the_stack):
    run, hosts, before = without_the_stack
    result = hotfix_result(run, "w2016-ssu-needed")
    assert run.last_run("w2016-ssu-needed", "codesign.windows.acs_hotfix")["status"] == "failed"
    assert (f"fetch {SSU} or any later one (Servicing stack update for Windows 10 1607 / Server 2016 (September "
            "2021), x64)") in result["msg"], result
    model = backend(fleet, "w2016-ssu-needed").model
    assert (sorted(qfe(model)), list(model.events)) == before["w2016-ssu-needed"]
    assert hosts["w2016-ssu-needed"]["status"] == "needs_kb"
    assert SSU in hosts["w2016-ssu-needed"]["verdict"]["missing_prerequisites"]


def test_the_servicing_stack_goes_in_before_the_cumulative_update_and_the_host_is_ready(fleet, prepared):
    run, hosts = prepared
    name = "w2016-ssu-needed"
    result = hotfix_result(run, name)
    assert result["planned"] == [SSU, CU] and result["installed"] == [SSU, CU], result
    model = backend(fleet, name).model
    # CBS added the servicing stack first (installed at once, no restart), then the cumulative update it serves.
    assert servicing_events(model)[:2] == [SSU, CU]
    assert model.registry.open(f"{CBS}\\Packages\\{SSU_PACKAGE}").get("CurrentState") == 112
    assert {SSU, CU} <= qfe(model) and model.ubr == 4704
    assert hosts[name]["status"] == "ready"


def test_a_later_listed_servicing_stack_is_not_missing_and_only_the_cumulative_update_goes_in(fleet, prepared):
    run, hosts = prepared
    name = "w2016-ssu-later"
    result = hotfix_result(run, name)
    assert result["planned"] == [CU] and result["installed"] == [CU], result
    model = backend(fleet, name).model
    assert SSU not in qfe(model) and servicing_events(model) == [CU]
    assert hosts[name]["status"] == "ready"


def test_an_unlisted_later_servicing_stack_makes_windows_call_the_named_one_not_applicable(fleet, prepared):
    run, hosts = prepared
    name = "w2016-ssu-unlisted"
    result = hotfix_result(run, name)
    assert result["planned"] == [SSU, CU], result
    assert result["superseded"] == [SSU] and result["installed"] == [CU], result
    assert (f"{SSU} not needed: Windows calls it not applicable, a later servicing stack update is installed"
            in result["msg"]), result
    model = backend(fleet, name).model
    assert SSU not in qfe(model) and servicing_events(model) == [CU]
    assert hosts[name]["status"] == "ready"
