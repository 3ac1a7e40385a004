"""Trend agents: identification from what was gathered, one service-state vocabulary, one aggregation."""

from __future__ import annotations

import pytest

from ansible_collections.codesign.windows.plugins.plugin_utils._agents import (
    SERVICE_CONTROLLER_STATES,
    aggregate_products,
    gathered_service,
    identify_entry,
    normalize_service_state,
    products_from_gathered,
    service_down,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._summary import summarize
from ansible_collections.codesign.windows.plugins.plugin_utils._verdict import evaluate

# [string]$service.Status prints the ServiceControllerStatus names.
POWERSHELL_STATUS = ["Running", "Stopped", "StartPending", "StopPending", "ContinuePending", "PausePending", "Paused"]


def test_vocabulary_is_what_the_runner_reports():
    assert [normalize_service_state(status) for status in POWERSHELL_STATUS] == list(SERVICE_CONTROLLER_STATES)


@pytest.mark.parametrize("value, state", [("Stop Pending", "stoppending"), ("stop_pending", "stoppending"),
                                          ("not_found", "missing"), ("Gone fishing", "unknown"), ("", None),
                                          (None, None), (4, None)])
def test_spellings_normalize(value, state):
    assert normalize_service_state(value) == state


def test_down_states():
    down = {status for status in POWERSHELL_STATUS if service_down(status)}
    assert down == {"Stopped", "StopPending", "PausePending", "Paused"}
    assert service_down("missing") and service_down("disabled")
    assert not service_down(None) and not service_down("unknown")


@pytest.mark.parametrize("entry, misc, product", [
    ({"key": "OfficeScanNT", "display_name": "トレンドマイクロ セキュリティエージェント"}, None, "apex_one"),
    ({"key": "OfficeScanNT", "display_name": "Trend Micro Apex One セキュリティエージェント"}, None, "apex_one"),
    ({"key": "officescannt", "display_name": "趋势科技防毒墙网络版客户端"}, "Trend Micro OfficeScan Agent", "officescan"),
    ({"key": "OfficeScanNT", "display_name": "Trend Micro Security Agent"}, "Trend Micro WFBSH_Agent", "wfbs_services"),
    ({"key": "Wofie", "display_name": "ウイルスバスター ビジネスセキュリティ"}, None, "wfbs"),
    ({"key": "HostedAgent", "display_name": None}, None, "wfbs_services"),
    ({"key": "{bed0b8a2-2986-49f8-90d6-fa008d37a3d2}", "display_name": "x"}, None, "wfbs_services"),
    ({"key": "{D6F4C7A5-0000-4000-8000-DEEPSECURITY}", "display_name": "Trend Micro Deep Security Agent"}, None,
     "deep_security_agent"),
    ({"key": "{0000}", "display_name": "趋势科技服务器深度安全防护系统代理", "publisher": "Trend Micro Inc."}, None, None),
    ({"key": "Notepad++", "display_name": "Notepad++"}, None, None),
])
def test_identify_entry(entry, misc, product):
    assert identify_entry(entry, misc)[0] == product


def test_localized_deep_security_agent_is_found_by_its_registry_key():
    entries = [{"key": "{5B1B1D55-0000-4000-8000-000000000000}", "display_name": "趋势科技服务器深度安全防护系统代理",
                "display_version": "20.0.0.8438", "publisher": "Trend Micro Inc."}]
    registry = {"native.deep_security": {"InstallationFolder": "C:\\Program Files\\Trend Micro\\Deep Security Agent\\",
                                         "Version": "20.0.0.8438"}}
    services = {"ds_agent": gathered_service({"exists": True, "status": "Running", "start": 2})}
    products = products_from_gathered(entries, registry, services, True)
    assert [(p["product"], p["version"], p["identified_by"], p["service_state"]) for p in products] == [
        ("deep_security_agent", "20.0.0.8438", "registry", "running")]


@pytest.mark.parametrize("info, state", [
    ({"exists": True, "status": "StopPending", "start": 2}, "stoppending"),
    ({"exists": True, "status": "Stopped", "start": 4}, "disabled"),
    ({"exists": True, "status": None, "start": 4}, "disabled"),
    ({"exists": True, "status": "Running", "start": 4}, "running"),
    ({"exists": False}, "missing"),
])
def test_primary_service_state(info, state):
    entries = [{"key": "OfficeScanNT", "display_name": "Trend Micro Apex One Security Agent",
                "display_version": "14.0.0.12526"}]
    services = {"ntrtscan": gathered_service(info)}
    assert products_from_gathered(entries, {}, services, True)[0]["service_state"] == state
    assert products_from_gathered(entries, {}, {}, False)[0]["service_state"] is None


def _fleet():
    agent = {"product": "apex_one", "version": "14.0.0.12526"}
    return {
        "web01": evaluate({"os_version": "10.0.17763.2237", "root_ca_present": True,
                           "agents": [{**agent, "service_state": "StopPending"}]}),
        "web02": evaluate({"os_version": "10.0.17763.2000", "root_ca_present": True,
                           "agents": [{**agent, "service_state": "StartPending"}]}),
        "web10": evaluate({"os_version": "10.0.17763.2237", "root_ca_present": True,
                           "agents": [{**agent, "service_state": "paused"}, {**agent, "service_state": "running"}]}),
        "xp01": evaluate({"os_version": "5.1.2600", "agents": [{**agent, "service_state": "running"}]}),
    }


def test_summary_and_aggregation_agree_on_down_services():
    fleet = _fleet()
    products = aggregate_products([{"host": host, **verdict} for host, verdict in fleet.items()])
    apex = products["apex_one"]
    assert apex["service_down_hosts"] == ["web01", "web10"]      # StartPending is on its way up
    assert apex["ready_hosts"] == ["web01", "web10"]
    assert apex["not_ready_hosts"] == ["web02", "xp01"]
    assert apex["hold_back_hosts"] == ["xp01"]
    assert (apex["total"], apex["ready"], apex["not_ready"]) == (4, 2, 2)
    assert apex["versions"] == {"14.0.0.12526": 5}
    summary = summarize(fleet)["by_product"]["apex_one"]
    for key, value in apex.items():
        assert summary[key] == value
    assert summary["service_not_running"] == apex["service_down_hosts"]
    verdict_down = {host for host, verdict in fleet.items() if any(a["service_down"] for a in verdict["agents"])}
    assert verdict_down == set(apex["service_down_hosts"])


def test_hosts_sort_naturally_with_ascii_digits_only():
    hosts = [{"host": name, "status": "ready", "agents": [{"product": "wfbs", "upgrade_safe": True}]}
             for name in ("web10", "web2", "web²", "web١")]
    assert aggregate_products(hosts)["wfbs"]["ready_hosts"][:2] == ["web2", "web10"]


@pytest.mark.parametrize("data", [5, "x", [1], {"items": 5}, {"items": [3, {"name": 3}, {"name": "Wofie", "values": []}]},
                                  {"ntrtscan": [1]}, {"ntrtscan": {"exists": True, "status": 7, "start": "2"}}])
def test_malformed_agent_probe_data_is_no_agent_not_an_error(data):
    from ansible_collections.codesign.windows.plugins.plugin_utils._evidence import build_facts
    from ansible_collections.codesign.windows.plugins.plugin_utils._probes import build_probes

    probes = [probe for probe in build_probes(["agents"]) if probe["subset"] == "agents"]
    results = [{"id": probe["id"], "ok": True, "data": data} for probe in probes]
    facts = build_facts({"acs_runner": 1, "results": results, "complete": True}, probes, ["agents"])
    assert facts["evidence"]["agents"] in (None, [])
