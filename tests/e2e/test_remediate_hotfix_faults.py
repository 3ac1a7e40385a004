"""acs_hotfix against servicing faults the emulated hosts' fixtures switch on (emulator.servicing): the connection
dropping while DISM installs, 0x800f0806 (an update that cannot be queued behind a pending one) and 0x800f081f
(a damaged component store), end to end through the remediate playbook."""

from __future__ import annotations

import json

import pytest

from emulator.fleet import backend
from e2e.test_remediate_hotfix import fleet_with_updates, qfe, remediate_kb, report_hosts

HOSTS = ["w2012r2-hotfix-dropped", "w2008r2-hotfix-pending-blocks", "w2012r2-hotfix-source-missing"]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    with fleet_with_updates(HOSTS, tmp_path_factory.mktemp("faults")) as running:
        yield running


@pytest.fixture(scope="module")
def first_run(fleet, tmp_path_factory):
    work = tmp_path_factory.mktemp("first")
    return remediate_kb(fleet, work), work


def shown(run, name) -> str:
    return json.dumps([r["result"] for r in run.host_results(name)])


def test_a_connection_dropped_during_dism_installs_and_the_next_run_finds_it_pending(fleet, first_run, tmp_path):
    run, work = first_run
    name = "w2012r2-hotfix-dropped"
    model = backend(fleet, name).model
    assert "the connection to the host was lost while installing KB5006729: run again to see whether it was " \
           "installed" in shown(run, name), run.stdout[-3000:]
    assert "KB5006729" in qfe(model), "Windows installed it; only DISM's answer was lost"
    assert report_hosts(work / "reports")[name]["status"] == "needs_kb", "never called fixed unseen"
    events = len(model.events)
    again = remediate_kb(fleet, tmp_path)
    assert again.stats[name]["changed"] == 0 and again.stats[name]["failures"] == 0, again.stdout[-3000:]
    assert report_hosts(tmp_path / "reports")[name]["status"] == "reboot_pending"
    assert len(model.events) == events, "not installed twice"


def test_an_update_that_cannot_be_queued_behind_a_pending_one_says_restart_then_run_again(fleet, first_run):
    run, work = first_run
    name = "w2008r2-hotfix-pending-blocks"
    text = shown(run, name)
    assert "KB5006743 was not installed" in text and "0x800f0806" in text, text[-3000:]
    assert "restart the host, then run again" in text and "(retry after the restart)" in text
    assert "installed before it: KB4474419, KB4490628, KB4538483" in text
    # acs_readiness_reboot=never here: the role says so and restarts nothing (with if_required it restarts first,
    # tests/e2e/test_prepare_upgrade_fleet.py).
    assert '"restart_first": true' in text
    assert fleet.machines[name].restarts == 0
    assert "KB5006743" not in qfe(backend(fleet, name).model)


def test_a_damaged_component_store_says_how_to_repair_it(fleet, first_run):
    run, work = first_run
    name = "w2012r2-hotfix-source-missing"
    text = shown(run, name)
    assert "0x800f081f (CBS_E_SOURCE_MISSING)" in text and "RestoreHealth" in text, text[-3000:]
    assert not {"KB5006714", "KB5006729"} & qfe(backend(fleet, name).model)
    assert report_hosts(work / "reports")[name]["status"] == "needs_kb"
