"""The three filters as a playbook calls them: options, errors and the input forms they accept."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.codesign.windows.plugins.filter.acs_required_kb import acs_required_kb
from ansible_collections.codesign.windows.plugins.filter.acs_summary import acs_summary
from ansible_collections.codesign.windows.plugins.filter.acs_verdict import acs_verdict

REQUIRED = [
    # input, rollup, expected (acs-facts.md sections 2 and 3)
    ("Windows Server 2022", "monthly", "KB5005619"),
    ("Windows 10 2004", "monthly", "KB5005611"),
    ("Windows 10 20H2", "security_only", "KB5005611"),
    ("Windows 10 21H1", "monthly", "KB5005611"),
    ("Windows 10 1909", "monthly", "KB5005624"),
    ("Windows 10 1809", "monthly", "KB5005625"),
    ("Windows Server 2019", "security_only", "KB5005625"),
    ("Windows Server 2016", "monthly", "KB5006669"),
    ("Windows 10 1607", "monthly", "KB5006669"),
    ("Windows 10 1507", "monthly", "KB5006675"),
    ("Windows 10 21H2", "monthly", "KB5011487"),
    ("Windows 10 22H2", "monthly", ""),
    ("Windows 11 23H2", "monthly", ""),
    ("Windows Server 2025", "monthly", ""),
    ("Windows 8.1", "monthly", "KB5006714"),
    ("Windows Server 2012 R2", "security_only", "KB5006729"),
    ("Windows Server 2012", "monthly", "KB5006739"),
    ("Windows Server 2012", "security_only", "KB5006732"),
    ("Windows Server 2008 SP2", "monthly", "KB5006736"),
    ("Windows Server 2008", "security_only", "KB5006715"),
    ("Windows 7", "monthly", "KB5006743"),
    ("Windows Server 2008 R2", "security_only", "KB5006728"),
    ("6.1.7601", "security_only", "KB5006728"),
    ({"os_version": "6.3.9600", "installation_type": "Server", "hotfixes": ["KB5006714"]}, "monthly", "KB5006714"),
    ({"ansible_distribution": "Microsoft Windows Server 2019 Datacenter",
      "ansible_distribution_version": "10.0.17763.0"}, "monthly", "KB5005625"),
    ({"ansible_facts": {"distribution": "Microsoft Windows Server 2016", "distribution_version": "10.0.14393.0"}},
     "monthly", "KB5006669"),
    ({"ansible_facts": {"acs": {"evidence": {"os_version": "6.2.9200", "installation_type": "Server"}}}},
     "monthly", "KB5006739"),
]


@pytest.mark.parametrize("value, rollup, expected", REQUIRED)
def test_acs_required_kb(value, rollup, expected):
    assert acs_required_kb(value, rollup=rollup) == expected


def test_acs_required_kb_21h2_policy():
    assert acs_required_kb("10.0.19044.1288") == "KB5011487"
    assert acs_required_kb("10.0.19044.1288", policy_21h2="lenient") == ""


@pytest.mark.parametrize("value, message", [
    ("Windows 10 1709", "'Windows 10 1709': Windows 10 1709 has no update that adds ACS support"),
    ("Windows 8", "'Windows 8': Windows 8 has no update"),
    ("Windows XP", "no patch path"),
    ("Windows Server 2003", "no patch path"),
    ("Windows 95", "'Windows 95': 'Windows 95' is not a Windows version"),
    ("6.2.9200", "server or a client"),
    (None, "None: expected an OS string"),
    (["Windows 7"], "expected an OS string"),
    ({"foo": 1}, "neither an evidence record"),
    ({"os_version": "10.0.999999"}, "out of range"),
])
def test_acs_required_kb_errors_name_the_input(value, message):
    with pytest.raises(AnsibleFilterError, match="^acs_required_kb: ") as error:
        acs_required_kb(value)
    assert message in str(error.value)


def test_acs_required_kb_bad_options():
    with pytest.raises(AnsibleFilterError, match="rollup must be 'monthly' or 'security_only'"):
        acs_required_kb("Windows 7", rollup="cumulative")
    with pytest.raises(AnsibleFilterError, match="policy_21h2 must be one of"):
        acs_required_kb("Windows 7", policy_21h2="yes")
    with pytest.raises(AnsibleFilterError, match="catalog: unknown catalog override key"):
        acs_required_kb("Windows 7", catalog={"rollups": {}})


def test_acs_verdict_inventory_fills_only_nulls():
    evidence = {"os_version": "6.1.7601", "installation_type": "Server", "hotfixes": []}
    assert acs_verdict(evidence)["status"] == "needs_kb"
    assert acs_verdict(evidence, esu=False)["status"] == "needs_esu"
    assert acs_verdict({**evidence, "esu": True}, esu=False)["status"] == "needs_kb"
    offline = acs_verdict({"os_version": "10.0.17763.2300", "installation_type": "Server"}, offline=True)
    assert offline["status"] == "needs_root_ca"


def test_acs_verdict_catalog_from_file(tmp_path):
    override = tmp_path / "catalog.yml"
    override.write_text("later_rollups:\n  win81_2012r2: [KB5099999]\n", encoding="utf-8")
    evidence = {"os_version": "6.3.9600", "installation_type": "Server", "hotfixes": ["KB5099999"]}
    assert acs_verdict(evidence)["status"] == "needs_kb"
    assert acs_verdict(evidence, catalog=str(override))["status"] == "ready"
    with pytest.raises(AnsibleFilterError, match="cannot read the catalog override file"):
        acs_verdict(evidence, catalog=str(tmp_path / "missing.yml"))


def test_acs_verdict_never_fails_on_evidence():
    assert acs_verdict(None)["status"] == "unknown"
    assert acs_verdict("Windows 7")["status"] == "unknown"


def _fleet():
    apex = {"product": "Trend Micro Apex One Security Agent", "version": "14.0.0.12526", "service_state": "running"}
    dsa = {"product": "Trend Micro Deep Security Agent", "version": "20.0.0.8438", "service_state": "stopped"}
    return {
        "web01": acs_verdict({"os_version": "10.0.17763.2237", "installation_type": "Server", "agents": [apex]}),
        "web02": acs_verdict({"os_version": "10.0.17763.2209", "installation_type": "Server", "agents": [apex, dsa]}),
        "old01": acs_verdict({"os_version": "6.3.9600", "installation_type": "Server", "hotfixes": [],
                              "agents": [dsa]}),
        "xp01": acs_verdict({"os_version": "5.1.2600"}),
    }


def test_acs_summary_counts():
    summary = acs_summary(_fleet())
    assert summary["total"] == 4
    assert summary["by_status"]["ready"] == 1
    assert summary["by_status"]["needs_kb"] == 2
    assert summary["by_status"]["no_patch_path"] == 1
    assert summary["by_status"]["unknown"] == 0
    assert summary["hosts_needing_action"] == ["old01", "web02", "xp01"]
    assert summary["ready_hosts"] == ["web01"]
    assert summary["by_os"]["Windows Server 2019"] == {"ready": 1, "needs_kb": 1}
    apex = summary["by_product"]["apex_one"]
    assert (apex["ready_hosts"], apex["not_ready_hosts"]) == (["web01"], ["web02"])
    dsa = summary["by_product"]["deep_security_agent"]
    assert dsa["not_ready_hosts"] == ["old01", "web02"]
    assert dsa["service_not_running"] == ["old01", "web02"]


def test_acs_summary_list_input_and_host_errors():
    records = [{**verdict, "host": host} for host, verdict in _fleet().items()]
    records.append({"host": "down01", "status": "unreachable", "reasons": ["timed out"]})
    summary = acs_summary(records)
    assert summary["by_status"]["unreachable"] == 1
    assert "down01" in summary["hosts_needing_action"]


def test_acs_summary_query():
    summary = acs_summary(_fleet(), query="[?os.family=='6.x']")
    assert summary["total"] == 1
    assert summary["hosts_needing_action"] == ["old01"]
    assert acs_summary(_fleet(), query="[?status=='nothing']")["total"] == 0


@pytest.mark.parametrize("value, query, message", [
    ("hosts", None, "expected a list of verdicts"),
    ([1, 2], None, "item 0 is not a verdict mapping"),
    ({"a": None}, None, "the verdict of a is not a mapping"),
    ([], "[?", "is not valid JMESPath"),
    ([{"status": "ready"}], "[].status", "must select host verdicts"),
    ([], 5, "query must be a JMESPath string"),
])
def test_acs_summary_errors(value, query, message):
    with pytest.raises(AnsibleFilterError, match=message):
        acs_summary(value, query=query)


@pytest.mark.parametrize("value, status", [("no", "needs_esu"), ("N", "needs_esu"), ("yes", "needs_kb"), (0, "needs_esu")])
def test_acs_verdict_reads_esu_as_ansible_reads_booleans(value, status):
    evidence = {"os_version": "6.1.7601", "installation_type": "Server", "hotfixes": [], "root_ca_present": True}
    assert acs_verdict(evidence, esu=value)["status"] == status


def test_acs_verdict_refuses_a_non_boolean_option():
    with pytest.raises(AnsibleFilterError, match="esu and offline must be true, false or null"):
        acs_verdict({"os_version": "6.1.7601"}, esu="maybe")
