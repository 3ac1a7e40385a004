"""acs_facts end to end: real ansible-playbook, real WinRM, the whole emulated fleet.

Each fixture says what its host should come to (tests/emulator/fixtures/hosts/*.yml: expect);
these tests hold ansible-playbook's own results to it.
"""

from __future__ import annotations

import pytest

from support.e2e import E2E, expectations, run_playbook

GATHER = E2E / "playbooks" / "gather.yml"


@pytest.fixture(scope="module")
def gathered(fleet, tmp_path_factory):
    fleet.reset_stats()
    return run_playbook(GATHER, fleet.inventory_path, tmp_path_factory.mktemp("gather"))


def test_playbook_outcome_per_host(gathered, fleet_models):
    # Faulty hosts fail or are unreachable; every other host succeeds in the same play.
    for name, model in fleet_models.items():
        stats = gathered.stats[name]
        if "unreachable" in model.expect:
            assert stats["unreachable"] == 1, name
        elif "failed" in model.expect:
            assert stats["failures"] == 1, name
        else:
            assert (stats["failures"], stats["unreachable"]) == (0, 0), (name, gathered.host_results(name))
    assert gathered.rc != 0   # the failed and unreachable hosts make the run fail, as they should


@pytest.mark.parametrize("name", expectations("status"))
def test_verdict_matches_fixture(gathered, fleet_models, name):
    expect = fleet_models[name].expect
    facts = gathered.last(name, "codesign.windows.acs_facts")
    assert facts["status"] == "ok", facts
    assert facts["result"]["changed"] is False
    verdict = gathered.last(name, "ansible.builtin.set_fact")["result"]["ansible_facts"]["acs_test_verdict"]
    assert verdict["status"] == expect["status"], verdict["reasons"]
    for key in ("satisfied_by", "required_kb", "missing_prerequisites"):
        if key in expect:
            assert verdict[key] == expect[key]
    if "os_name" in expect:
        assert verdict["os"]["name"] == expect["os_name"]
    if "lenient_status" in expect:
        lenient = gathered.last(name, "ansible.builtin.set_fact")["result"]["ansible_facts"]["acs_test_lenient"]
        assert lenient["status"] == expect["lenient_status"]
    for warning in expect.get("warnings", []):
        assert any(warning in text for text in facts["result"].get("warnings", [])), facts["result"].get("warnings")


@pytest.mark.parametrize("name", expectations("failed"))
def test_faulty_host_fails_clearly(gathered, fleet_models, name):
    facts = gathered.last(name, "codesign.windows.acs_facts")
    assert facts["status"] == "failed"
    assert fleet_models[name].expect["failed"] in facts["result"]["msg"]
    assert "Traceback" not in facts["result"]["msg"]


@pytest.mark.parametrize("name", expectations("unreachable"))
def test_unreachable_host_is_reported(gathered, fleet_models, name):
    facts = gathered.last(name, "codesign.windows.acs_facts")
    assert facts["status"] == "unreachable", facts
    assert fleet_models[name].expect["unreachable"] in facts["result"]["msg"]


def test_one_command_and_at_most_six_requests_per_host(gathered, fleet, fleet_models):
    basic = [name for name, model in fleet_models.items()
             if model.connection.get("transport", "basic") == "basic" and not model.faults]
    assert len(basic) > 20
    for name in basic:
        stats = fleet.stats(name)
        assert stats.commands_run == 1, (name, stats)
        assert stats.protocol_requests <= 6, (name, stats)
        assert stats.errors == (), (name, stats.errors)


def test_evidence_record_of_a_powershell_2_host(gathered):
    facts = gathered.last("w2008r2-esu-ready", "codesign.windows.acs_facts")["result"]["ansible_facts"]["acs"]
    evidence = facts["evidence"]
    assert facts["runner"]["powershell"] == "2.0"
    assert evidence["os_version"] == "6.1.7601"
    assert evidence["installation_type"] == "Server"
    assert "KB5006743" in evidence["hotfixes"]
    assert evidence["rollup_builds"] == ["7601.25740.1.3"]
    assert evidence["esu"] is True            # from the inventory variable acs_esu
    assert evidence["agents"] == [{"product": "apex_one", "version": "14.0.0.12526", "service_state": "running"}]
    assert facts["hotfixes"]["cbs"][-1]["state_name"] == "installed"
    assert facts["errors"] == []


def test_raw_facts_name_the_root_store_and_agents(gathered):
    facts = gathered.last("w2012r2-airgap-root", "codesign.windows.acs_facts")["result"]["ansible_facts"]["acs"]
    assert facts["certificates"]["root_ca_stores"] == {"root": False, "auth_root": False, "policy": True,
                                                       "enterprise": False}
    assert facts["certificates"]["disable_root_auto_update"] is True
    win7 = gathered.last("win7-noesu", "codesign.windows.acs_facts")["result"]["ansible_facts"]["acs"]
    assert win7["agents"]["products"][0]["service_state"] == "stopped"
    assert win7["agents"]["uninstall"][0]["display_name"] == "Trend Micro Apex One Security Agent"


def test_least_privilege_never_reads_as_missing(gathered):
    facts = gathered.last("w2012r2-leastpriv", "codesign.windows.acs_facts")["result"]
    assert facts["ansible_facts"]["acs"]["evidence"]["hotfixes"] is None
    verdict = gathered.last("w2012r2-leastpriv", "ansible.builtin.set_fact")["result"]["ansible_facts"]["acs_test_verdict"]
    assert verdict["status"] == "unknown"
    assert verdict["required_kb"] == []
