"""Trend agents end to end: localized installs are still recognised, and a service state the runner
reports means the same to the facts, the verdict and the summary.

Real ansible-playbook over real WinRM to emulated hosts (fixtures w2019-apexone-ja, w2016-dsa-zh,
w2019-apexone-stoppending; win7-noesu has a plainly stopped agent).
"""

from __future__ import annotations

import pytest

from emulator.fleet import build_fleet
from support.e2e import E2E, run_playbook

HOSTS = ("w2019-apexone-ja", "w2016-dsa-zh", "w2019-apexone-stoppending", "win7-noesu")


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("agents")
    with build_fleet(HOSTS) as running:
        inventory = tmp_path / "hosts.yml"
        running.inventory(inventory, operation_timeout_sec=2, read_timeout_sec=4)
        run = run_playbook(E2E / "playbooks" / "agents.yml", inventory, tmp_path)
    assert run.rc == 0, run.stdout[-3000:]
    return run


def _facts(run, host):
    return run.last(host, "codesign.windows.acs_facts")["result"]["ansible_facts"]["acs"]


def _verdict(run, host):
    return run.host_results(host, "ansible.builtin.set_fact")[0]["result"]["ansible_facts"]["acs_test_verdict"]


def test_japanese_apex_one_is_recognised_by_its_uninstall_key(played):
    agents = _facts(played, "w2019-apexone-ja")["agents"]
    assert agents["products"] == [{"product": "apex_one", "display_name": "トレンドマイクロ セキュリティエージェント",
                                   "version": "14.0.0.12526", "identified_by": "uninstall_key", "service": "ntrtscan",
                                   "service_state": "running"}]
    assert [entry["key"] for entry in agents["uninstall"]] == ["OfficeScanNT"]
    impact = _verdict(played, "w2019-apexone-ja")["agents"]
    assert [(a["product"], a["upgrade_safe"], a["service_down"]) for a in impact] == [("apex_one", True, False)]


def test_chinese_deep_security_agent_is_recognised(played):
    facts = _facts(played, "w2016-dsa-zh")
    assert facts["evidence"]["agents"] == [{"product": "deep_security_agent", "version": "20.0.0.8438",
                                            "service_state": "running"}]
    # The Chinese uninstall entry was picked by its publisher; the agent itself by Trend's registry key.
    assert [entry["display_name"] for entry in facts["agents"]["uninstall"]] == ["趋势科技服务器深度安全防护系统代理"]
    assert facts["agents"]["products"][0]["identified_by"] == "registry"


def test_stop_pending_is_down_everywhere(played):
    facts = _facts(played, "w2019-apexone-stoppending")
    assert facts["agents"]["services"]["ntrtscan"]["status"] == "stoppending"
    assert facts["evidence"]["agents"][0]["service_state"] == "stoppending"
    verdict = _verdict(played, "w2019-apexone-stoppending")
    assert verdict["status"] == "ready"
    agent = verdict["agents"][0]
    assert agent["service_down"] is True
    assert any("service is stoppending: the host is not protected now" in advice for advice in agent["advice"])
    summary = next(r for r in played.results if r["action"] == "ansible.builtin.set_fact"
                   and "acs_test_summary" in r["result"].get("ansible_facts", {}))["result"]["ansible_facts"]
    apex = summary["acs_test_summary"]["by_product"]["apex_one"]
    assert apex["service_down_hosts"] == ["w2019-apexone-stoppending", "win7-noesu"]
    assert apex["ready_hosts"] == ["w2019-apexone-ja", "w2019-apexone-stoppending"]
    assert apex["not_ready_hosts"] == ["win7-noesu"]
    assert summary["acs_test_summary"]["by_product"]["deep_security_agent"]["ready_hosts"] == ["w2016-dsa-zh"]
