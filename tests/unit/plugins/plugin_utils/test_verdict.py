"""The verdict contract, table by table. Expected values are copied from acs-facts.md by hand,
not derived from the catalog, so a wrong catalog row fails here."""

from __future__ import annotations

import pytest

from ansible_collections.codesign.windows.plugins.plugin_utils import _catalog as catalog_mod
from ansible_collections.codesign.windows.plugins.plugin_utils._catalog import load_catalog
from ansible_collections.codesign.windows.plugins.plugin_utils._verdict import STATUSES, PolicyError, evaluate

# acs-facts.md section 2: (os_version prefix, installation_type, KB, min UBR)
UBR_ROWS = [
    ("10.0.20348", "Server", "KB5005619", 261),
    ("10.0.19041", "Client", "KB5005611", 1266),
    ("10.0.19042", "Client", "KB5005611", 1266),
    ("10.0.19043", "Client", "KB5005611", 1266),
    ("10.0.18363", "Client", "KB5005624", 1830),
    ("10.0.17763", "Client", "KB5005625", 2210),
    ("10.0.17763", "Server", "KB5005625", 2210),
    ("10.0.14393", "Server", "KB5006669", 4704),
    ("10.0.14393", "Client", "KB5006669", 4704),
    ("10.0.10240", "Client", "KB5006675", 19086),
    ("10.0.19044", "Client", "KB5011487", 1586),
]

# acs-facts.md section 3: (os_version, installation_type, monthly, security-only, a later monthly rollup)
ROLLUP_ROWS = [
    ("6.3.9600", "Server", "KB5006714", "KB5006729", "KB5034819"),
    ("6.3.9600", "Client", "KB5006714", "KB5006729", "KB5070886"),
    ("6.2.9200", "Server", "KB5006739", "KB5006732", "KB5070887"),
    ("6.0.6003", "Server", "KB5006736", "KB5006715", "KB5034173"),
    ("6.1.7601", "Server", "KB5006743", "KB5006728", "KB5034169"),
    ("6.1.7601", "Client", "KB5006743", "KB5006728", "KB5022338"),
]

NATIVE = [
    ("10.0.19045.2006", "Client", "Windows 10 22H2"),
    ("10.0.22000.194", "Client", "Windows 11 21H2"),
    ("10.0.22621.1", "Client", "Windows 11 22H2"),
    ("10.0.22631.2861", "Client", "Windows 11 23H2"),
    ("10.0.26100.1", "Client", "Windows 11 24H2"),
    ("10.0.26100.1742", "Server", "Windows Server 2025"),
    ("10.0.25398.1", "Server", "Windows Server 23H2"),
    ("10.0.27000.1", "Client", "Windows 11 (build 27000)"),
]

NO_PATH = [
    ("10.0.10586.1", "Client"), ("10.0.15063.1", "Client"), ("10.0.16299.1", "Client"), ("10.0.17134.1", "Client"),
    ("10.0.18362.1", "Client"), ("6.2.9200", "Client"), ("5.0.2195", None), ("5.1.2600", "Client"),
    ("5.2.3790", "Server"), ("6.0.6002", "Client"),
]


def record(version, installation_type=None, **extra):
    evidence = {"os_version": version, "root_ca_present": True}
    if installation_type:
        evidence["installation_type"] = installation_type
    evidence.update(extra)
    return evidence


@pytest.mark.parametrize("prefix, installation_type, kb, min_ubr", UBR_ROWS)
@pytest.mark.parametrize("offset, status", [(-1, "needs_kb"), (0, "ready"), (1, "ready")])
def test_ubr_boundaries(prefix, installation_type, kb, min_ubr, offset, status):
    verdict = evaluate(record(f"{prefix}.{min_ubr + offset}", installation_type, hotfixes=[]))
    assert verdict["status"] == status
    assert verdict["ready"] is (status == "ready")
    if status == "ready":
        assert verdict["required_kb"] == []
        assert verdict["satisfied_by"] == f"UBR {min_ubr + offset} >= {min_ubr} ({kb} or a later cumulative update)"
    else:
        assert verdict["required_kb"] == [kb]
        assert verdict["satisfied_by"] is None
        assert f"UBR {min_ubr - 1} is below {min_ubr}" in verdict["reasons"][0]


@pytest.mark.parametrize("prefix, installation_type, kb, min_ubr", UBR_ROWS)
def test_ubr_from_separate_key_wins_over_missing_revision(prefix, installation_type, kb, min_ubr):
    assert evaluate(record(prefix, installation_type, ubr=min_ubr))["status"] == "ready"
    assert evaluate(record(prefix, installation_type, ubr=str(min_ubr - 1)))["required_kb"] == [kb]


@pytest.mark.parametrize("prefix, installation_type, kb, min_ubr", UBR_ROWS)
def test_ubr_kb_installed_but_not_active_is_reboot_pending(prefix, installation_type, kb, min_ubr):
    verdict = evaluate(record(f"{prefix}.{min_ubr - 1}", installation_type, hotfixes=[kb.lower()]))
    assert verdict["status"] == "reboot_pending"
    assert verdict["required_kb"] == []
    assert "restart" in verdict["reasons"][0]


def test_ubr_staged_cumulative_update_is_reboot_pending():
    verdict = evaluate(record("10.0.17763.1999", "Server", hotfixes=[], pending_rollup_builds=["17763.2237"]))
    assert verdict["status"] == "reboot_pending"
    assert "17763.2237" in verdict["reasons"][0]


def test_ubr_later_update_from_user_catalog_is_reboot_pending():
    catalog = load_catalog({"later_updates": {"ws2019": ["KB5034768"]}})
    verdict = evaluate(record("10.0.17763.1999", "Server", hotfixes=["KB5034768"]), catalog=catalog)
    assert verdict["status"] == "reboot_pending"
    assert evaluate(record("10.0.17763.1999", "Server", hotfixes=["KB5034768"]))["status"] == "needs_kb"


def test_ubr_missing_is_unknown_not_missing():
    verdict = evaluate({"os_version": "10.0.17763", "hotfixes": ["KB5005625"]})
    assert verdict["status"] == "unknown"
    assert "UBR" in verdict["reasons"][0]


@pytest.mark.parametrize("version, installation_type, monthly, security_only, later", ROLLUP_ROWS)
@pytest.mark.parametrize("esu", [True])
def test_rollup_rows(version, installation_type, monthly, security_only, later, esu):
    missing = evaluate(record(version, installation_type, hotfixes=["KB4474419"], esu=esu))
    assert missing["status"] == "needs_kb"
    assert missing["required_kb"] == [monthly, security_only]
    assert [d["kb"] for d in missing["kb_details"]] == [monthly, security_only]
    assert all(d["url"].endswith(d["kb"]) for d in missing["kb_details"])

    assert evaluate(record(version, installation_type, hotfixes=[monthly], esu=esu))["satisfied_by"] == \
        f"monthly rollup {monthly}"
    assert evaluate(record(version, installation_type, hotfixes=[security_only], esu=esu))["satisfied_by"] == \
        f"security-only update {security_only}"
    superseded = evaluate(record(version, installation_type, hotfixes=["KB3000850", later], esu=esu))
    assert superseded["status"] == "ready"
    assert superseded["satisfied_by"] == f"monthly rollup {later} supersedes {monthly}"


@pytest.mark.parametrize("row", [r for r in catalog_mod.ROWS if r.kind == catalog_mod.ROLLUP], ids=lambda r: r.id)
def test_every_listed_later_rollup_satisfies(row):
    build = row.builds[0]
    for kb in row.later_rollups:
        verdict = evaluate(record(f"{row.major}.{row.minor}.{build}", "Server", hotfixes=[kb], esu=True))
        assert verdict["status"] == "ready", kb
        assert kb in verdict["satisfied_by"]


@pytest.mark.parametrize("hotfix", ["KB5007255", "KB5008285", "KB5034167"])
def test_later_security_only_update_does_not_satisfy(hotfix):
    # 2012 R2 security-only updates from November 2021 on are not cumulative.
    verdict = evaluate(record("6.3.9600", "Server", hotfixes=[hotfix]))
    assert verdict["status"] == "needs_kb"
    assert verdict["required_kb"] == ["KB5006714", "KB5006729"]


def test_hotfix_spellings_mean_the_same():
    for spelling in ("KB5006714", "kb5006714", "5006714", " KB 5006714 ", 5006714):
        assert evaluate(record("6.3.9600", "Server", hotfixes=[spelling]))["status"] == "ready", spelling


def test_user_rollup_satisfies_and_is_named():
    catalog = load_catalog({"later_rollups": {"win81_2012r2": ["KB5099999"]}})
    verdict = evaluate(record("6.3.9600", "Server", hotfixes=["KB5099999"]), catalog=catalog)
    assert verdict["status"] == "ready"
    assert verdict["satisfied_by"] == "monthly rollup KB5099999 supersedes KB5006714"
    assert evaluate(record("6.3.9600", "Server", hotfixes=["KB5099999"]))["status"] == "needs_kb"


def test_cbs_rollup_package_at_fixed_build_satisfies():
    verdict = evaluate(record("6.3.9600", "Server", hotfixes=[], rollup_builds=["9600.21013.1.3"]))
    assert verdict["status"] == "ready"
    assert "9600.21013" in verdict["satisfied_by"]
    below = evaluate(record("6.3.9600", "Server", hotfixes=[], rollup_builds=["9600.20143"]))
    assert below["status"] == "needs_kb"


def test_rollup_listed_with_servicing_reboot_pending():
    verdict = evaluate(record("6.3.9600", "Server", hotfixes=["KB5006714"], reboot_pending=True))
    assert verdict["status"] == "reboot_pending"
    assert verdict["ready"] is False
    staged = evaluate(record("6.3.9600", "Server", hotfixes=[], pending_rollup_builds=["9600.20144.1.5"]))
    assert staged["status"] == "reboot_pending"


def test_rollup_row_without_hotfix_list_is_unknown():
    verdict = evaluate({"os_version": "6.3.9600", "installation_type": "Server"})
    assert verdict["status"] == "unknown"
    assert "hotfix list" in verdict["reasons"][0]


@pytest.mark.parametrize("version, installation_type, expected_name", NATIVE)
def test_native_builds_are_ready(version, installation_type, expected_name):
    verdict = evaluate(record(version, installation_type))
    assert verdict["status"] == "ready"
    assert verdict["os"]["name"] == expected_name
    assert verdict["required_kb"] == []


@pytest.mark.parametrize("version, installation_type", NO_PATH)
def test_no_patch_path(version, installation_type):
    verdict = evaluate(record(version, installation_type, hotfixes=["KB5006714"], esu=True))
    assert verdict["status"] == "no_patch_path"
    assert verdict["required_kb"] == []
    assert "upgrade" in verdict["reasons"][0].lower() or "upgraded" in verdict["reasons"][0]


def test_server_2012_needs_the_server_hint():
    assert evaluate(record("6.2.9200", "Server", hotfixes=[]))["status"] == "needs_kb"
    assert evaluate(record("6.2.9200", "Client", hotfixes=[]))["status"] == "no_patch_path"
    assert evaluate({"os_name": "Windows Server 2012 Standard", "os_version": "6.2.9200", "hotfixes": []})["status"] \
        == "needs_kb"
    unknown = evaluate({"os_version": "6.2.9200", "hotfixes": []})
    assert unknown["status"] == "unknown"
    assert "server or a client" in unknown["reasons"][0]


# ---- 21H2 policy -------------------------------------------------------------------------
@pytest.mark.parametrize("ubr, strict, lenient", [
    (1288, "needs_kb", "ready"), (1585, "needs_kb", "ready"), (1586, "ready", "ready"), (1587, "ready", "ready"),
])
def test_policy_21h2(ubr, strict, lenient):
    evidence = record(f"10.0.19044.{ubr}", "Client", hotfixes=[])
    assert evaluate(evidence)["status"] == strict
    assert evaluate(evidence, policy_21h2="strict")["status"] == strict
    assert evaluate(evidence, policy_21h2="lenient")["status"] == lenient
    assert evaluate(evidence)["policy_21h2"] == "strict"


def test_policy_must_be_known():
    with pytest.raises(PolicyError, match="policy_21h2 must be one of strict, lenient"):
        evaluate(record("10.0.19044.1288"), policy_21h2="loose")


# ---- Windows 11 misnamed -----------------------------------------------------------------
def test_windows_11_reporting_windows_10():
    verdict = evaluate({"os_name": "Windows 10 Pro", "os_version": "10.0.22631", "ubr": 2861,
                        "installation_type": "Client", "root_ca_present": False})
    assert verdict["status"] == "ready"
    assert verdict["os"]["name"] == "Windows 11 23H2"
    assert any("the build decides" in reason for reason in verdict["reasons"])


# ---- ESU --------------------------------------------------------------------------------
@pytest.mark.parametrize("version, installation_type", [
    ("6.1.7601", "Server"), ("6.1.7601", "Client"), ("6.0.6003", "Server"),
])
@pytest.mark.parametrize("esu, status, esu_text", [
    (False, "needs_esu", "can no longer be bought"),
    (None, "needs_kb", "whether this host is licensed is not known"),
    (True, "needs_kb", "licensed for Extended Security Updates"),
    ("no", "needs_esu", "can no longer be bought"),
])
def test_esu(version, installation_type, esu, status, esu_text):
    verdict = evaluate(record(version, installation_type, hotfixes=[], esu=esu))
    assert verdict["status"] == status
    assert len(verdict["required_kb"]) == 2
    assert any(esu_text in reason for reason in verdict["reasons"])


def test_esu_does_not_matter_once_fixed():
    assert evaluate(record("6.1.7601", "Server", hotfixes=["KB5006743"], esu=False))["status"] == "ready"


def test_prerequisites_are_named_and_missing_ones_listed():
    verdict = evaluate(record("6.1.7601", "Server", hotfixes=["KB4474419"], esu=True))
    assert verdict["prerequisites"] == ["KB4474419", "KB4490628", "KB4538483"]
    assert verdict["missing_prerequisites"] == ["KB4490628", "KB4538483"]
    assert "KB4474419" not in verdict["required_kb"]
    rtm = evaluate(record("6.1.7600", "Client", hotfixes=[], esu=True))
    assert rtm["prerequisites"][0] == "KB976932"
    r2 = evaluate(record("6.3.9600", "Server", hotfixes=[]))
    assert r2["prerequisites"] == ["KB2919355"]


# ---- root certificate --------------------------------------------------------------------
@pytest.mark.parametrize("present, disabled, offline, needed", [
    (True, True, True, False),
    (False, True, None, True),
    (None, True, None, True),
    (False, None, True, True),
    (None, None, True, True),
    (False, False, False, False),
    (None, None, None, False),
    (False, None, None, False),
])
def test_root_certificate(present, disabled, offline, needed):
    evidence = {"os_version": "10.0.17763.2237", "installation_type": "Server", "root_ca_present": present,
                "root_auto_update_disabled": disabled, "offline": offline}
    verdict = evaluate(evidence)
    assert verdict["root_ca"]["needed"] is needed
    assert verdict["status"] == ("needs_root_ca" if needed else "ready")
    evidence["os_version"] = "10.0.17763.2209"
    assert evaluate(evidence)["status"] == ("needs_kb_and_root_ca" if needed else "needs_kb")


# ---- status order ------------------------------------------------------------------------
@pytest.mark.parametrize("evidence, status", [
    ({"os_version": "5.2.3790", "root_ca_present": False, "offline": True}, "no_patch_path"),
    ({"os_version": "6.1.7601", "installation_type": "Server", "hotfixes": [], "esu": False, "offline": True,
      "reboot_pending": True}, "needs_esu"),
    ({"os_version": "6.1.7601", "installation_type": "Server", "hotfixes": ["KB5006743"], "esu": False,
      "reboot_pending": True, "offline": True}, "reboot_pending"),
    ({"os_version": "6.3.9600", "installation_type": "Server", "hotfixes": [], "offline": True}, "needs_kb_and_root_ca"),
    ({"os_version": "6.3.9600", "installation_type": "Server", "hotfixes": [], "reboot_pending": True}, "needs_kb"),
    ({"os_version": "6.3.9600", "installation_type": "Server", "hotfixes": ["KB5006729"], "offline": True},
     "needs_root_ca"),
])
def test_status_order(evidence, status):
    assert evaluate(evidence)["status"] == status


def test_every_status_is_reachable_and_documented_order():
    assert STATUSES == ("unknown", "no_patch_path", "needs_esu", "reboot_pending", "needs_kb_and_root_ca",
                        "needs_kb", "needs_root_ca", "ready")


# ---- Trend products ----------------------------------------------------------------------
AGENTS = [
    ({"product": "Trend Micro Apex One Security Agent", "version": "14.0.0.12526", "service_state": "running"},
     "apex_one", True),
    ({"product": "Trend Micro Security Agent", "version": "14.0.0.11960", "service_state": "running"}, "apex_one", True),
    ({"product": "Trend Micro OfficeScan Agent", "version": "12.0.0.5427", "service_state": "running"},
     "officescan", None),
    ({"product": "Trend Micro Worry-Free Business Security Agent", "version": "10.0.0.3104", "service_state": "running"},
     "wfbs", True),
    ({"product": "Trend Micro WFBSH_Agent", "version": "6.7.1234", "service_state": "running"}, "wfbs_services", True),
    ({"product": "Trend Micro Deep Security Agent", "version": "20.0.0.8438", "service_state": "running"},
     "deep_security_agent", True),
    ({"product": "Trend Micro Deep Security Agent", "version": "9.6.2.7723", "service_state": "running"},
     "deep_security_agent", True),
    ({"product": "Trend Micro Deep Security Agent", "version": "11.0.0.1", "service_state": "running"},
     "deep_security_agent", None),
]


@pytest.mark.parametrize("product", ["apex_one", "apex_one_saas", "officescan", "wfbs", "wfbs_services",
                                     "deep_security_agent"])
def test_product_ids_are_recognised_as_themselves(product):
    # acs_facts reports agents by catalog id; the verdict must recognise its own ids.
    verdict = evaluate(record("10.0.17763.2237", "Server", agents=[{"product": product, "version": "20.0.0.1"}]))
    assert verdict["agents"][0]["product"] == product
    assert verdict["agents"][0]["name"].startswith("Trend Micro")


@pytest.mark.parametrize("agent, product, affected", AGENTS)
def test_trend_products(agent, product, affected):
    unready = evaluate(record("6.3.9600", "Server", hotfixes=[], agents=[agent]))
    impact = unready["agents"][0]
    assert impact["product"] == product
    assert impact["affected"] is affected
    assert impact["upgrade_safe"] is False
    assert any("Do not upgrade" in advice for advice in impact["advice"])
    ready = evaluate(record("6.3.9600", "Server", hotfixes=["KB5006714"], agents=[agent]))
    assert ready["agents"][0]["upgrade_safe"] is True


def test_agent_advice_for_legacy_and_windows_7():
    dsa = {"product": "Trend Micro Deep Security Agent", "version": "9.6.2.7723", "service_state": "running"}
    legacy = evaluate(record("5.2.3790", "Server", agents=[dsa]))["agents"][0]
    assert any("no new agent binaries after February 2023" in a for a in legacy["advice"])
    assert any("Deep Security Manager released before January 2023" in a for a in legacy["advice"])
    apex = {"product": "Trend Micro Apex One Security Agent", "version": "14.0.0.11564", "service_state": "stopped"}
    win7 = evaluate(record("6.1.7601", "Client", hotfixes=[], esu=False, agents=[apex]))["agents"][0]
    assert any("ended official support for Windows 7" in a for a in win7["advice"])
    assert any("at or below Apex One SP1 (build 11564)" in a for a in win7["advice"])
    assert any("service is stopped" in a for a in win7["advice"])
    assert any("download the upgrade module repeatedly" in a for a in win7["advice"])


def test_bad_agent_entries_are_reported_not_fatal():
    verdict = evaluate(record("10.0.17763.2237", "Server", agents=["Apex One", {"product": "Notepad"}]))
    assert verdict["status"] == "ready"
    assert any("agents[0] was ignored" in reason for reason in verdict["reasons"])
    assert verdict["agents"][0]["product"] == "Notepad"
    assert verdict["agents"][0]["affected"] is None


# ---- garbage -----------------------------------------------------------------------------
GARBAGE = [
    None, 42, "Windows Server 2019", [], {}, {"hotfixes": ["KB5006714"]}, {"os_version": 12},
    {"os_version": "10.0.999999999"}, {"os_version": "10.0.17763", "ubr": -1}, {"os_version": "10.0.17763", "ubr": True},
    {"os_version": "10.0.17763", "ubr": 10 ** 30}, {"os_version": "6.3.9600", "hotfixes": "KB5006714"},
    {"os_version": "banana"}, {"os_name": "Windows 95"}, {"os_name": ["Windows"]}, {"os_version": "10.0.12345.1"},
    {"os_version": "6.3.9600", "installation_type": "Server", "hotfixes": [], "esu": "maybe"},
    {"os_version": "99.99.1"}, {"os_name": "Windows 10"}, {"os_version": "10.0.17763.1", "root_ca_present": "sure"},
    {"os_name": "Windows Server 2019", "ubr": 1.5}, {"os_version": "6.1.7602", "hotfixes": []},
    {"os_name": "x" * 10000},
]


@pytest.mark.parametrize("evidence", GARBAGE, ids=lambda e: repr(e)[:40])
def test_garbage_is_unknown_with_a_reason(evidence):
    verdict = evaluate(evidence)
    assert verdict["status"] == "unknown"
    assert verdict["ready"] is False
    assert verdict["reasons"] and all(isinstance(r, str) and r for r in verdict["reasons"])
    assert verdict["required_kb"] == []


# ---- a staged rollup whose restart state could not be read is never ready
@pytest.mark.parametrize("reboot_pending", [None, False])
def test_pending_rollup_with_unknown_reboot_state_is_never_ready(reboot_pending):
    # QFE lists KB5006714 as soon as it is staged; CBS shows its package still install-pending.
    evidence = record("6.3.9600", "Server", hotfixes=["KB2919355", "KB5006714"], rollup_builds=[],
                      pending_rollup_builds=["9600.20144.1.5"], reboot_pending=reboot_pending)
    verdict = evaluate(evidence)
    assert verdict["status"] == "reboot_pending"
    assert "install-pending" in verdict["reasons"][0]
    assert not verdict["ready"]


def test_installed_rollup_package_beside_a_staged_one_is_ready():
    evidence = record("6.3.9600", "Server", hotfixes=["KB5006714"], rollup_builds=["9600.20144.1.5"],
                      pending_rollup_builds=["9600.20200.1.3"], reboot_pending=None)
    assert evaluate(evidence)["status"] == "ready"


# ---- booleans are read the way Ansible reads them
@pytest.mark.parametrize("text, present", [("yes", True), ("Y", True), ("t", True), ("on", True), (1, True),
                                           (1.0, True), ("no", False), ("N", False), ("off", False), ("0", False),
                                           (0, False)])
def test_booleans_follow_ansible(text, present):
    verdict = evaluate(record("10.0.17763.2237", "Server", root_ca_present=text))
    assert verdict["root_ca"]["present"] is present


@pytest.mark.parametrize("value", ["maybe", 2, "", [True], {"a": 1}])
def test_other_booleans_are_unusable(value):
    verdict = evaluate(record("10.0.17763.2237", "Server", reboot_pending=value))
    assert verdict["status"] == "unknown"
    assert any("reboot_pending must be true, false or null" in reason for reason in verdict["reasons"])


# ---- agent service states: one vocabulary with the runner
@pytest.mark.parametrize("state, down", [("Running", False), ("StartPending", False), ("ContinuePending", False),
                                         ("Stopped", True), ("StopPending", True), ("PausePending", True),
                                         ("Paused", True), ("missing", True), ("disabled", True),
                                         ("stop_pending", True)])
def test_agent_service_states(state, down):
    agent = {"product": "apex_one", "version": "14.0.0.12526", "service_state": state}
    impact = evaluate(record("10.0.17763.2237", "Server", agents=[agent]))["agents"][0]
    assert impact["service_state"] == state.lower().replace("_", "")
    assert impact["service_down"] is down
    assert any("not protected now" in advice for advice in impact["advice"]) is down


# ---- product notes are catalog fields
def test_reloop_note_only_on_unready_hosts_at_or_below_the_build():
    agent = {"product": "apex_one", "version": "14.0.0.11960", "service_state": "running"}
    unready = evaluate(record("6.3.9600", "Server", hotfixes=[], agents=[agent]))["agents"][0]
    assert any("build 11960 or lower" in advice for advice in unready["advice"])
    ready = evaluate(record("6.3.9600", "Server", hotfixes=["KB5006714"], agents=[agent]))["agents"][0]
    assert not any("build 11960 or lower" in advice for advice in ready["advice"])
    newer = evaluate(record("6.3.9600", "Server", hotfixes=[], agents=[{**agent, "version": "14.0.0.12526"}]))
    assert not any("build 11960 or lower" in advice for advice in newer["agents"][0]["advice"])


def test_windows_7_note_is_for_clients_only():
    agent = {"product": "wfbs", "version": "10.0.0.3104", "service_state": "running"}
    client = evaluate(record("6.1.7601", "Client", hotfixes=[], esu=False, agents=[agent]))["agents"][0]
    server = evaluate(record("6.1.7601", "Server", hotfixes=[], esu=False, agents=[agent]))["agents"][0]
    assert any("Windows 7" in advice for advice in client["advice"])
    assert not any("Windows 7" in advice for advice in server["advice"])


def test_service_pack_prerequisite_only_on_the_build_without_it():
    sp2 = evaluate(record("6.0.6001", "Server", hotfixes=[], esu=True))
    assert sp2["prerequisites"][0] == "KB948465"
    current = evaluate(record("6.0.6003", "Server", hotfixes=[], esu=True))
    assert "KB948465" not in current["prerequisites"]
