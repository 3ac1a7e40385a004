"""What the controller makes of the CBS store, ESU licences, distrusted roots, pending-restart keys and the
host's own reach to the trusted root CTL. Runner documents are written by hand, the way the runner prints them."""

from __future__ import annotations

import re

import pytest

from ansible_collections.codesign.windows.plugins.plugin_utils._catalog import ROOT_CA_SHA1
from ansible_collections.codesign.windows.plugins.plugin_utils._evidence import build_facts
from ansible_collections.codesign.windows.plugins.plugin_utils._probes import (
    DEFAULT_SUBSETS,
    build_probes,
    render_script,
    resolve_subsets,
    runner_budget_seconds,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._verdict import evaluate

ROOT = rf"SOFTWARE\Microsoft\SystemCertificates\ROOT\Certificates\{ROOT_CA_SHA1}"
AUTH_ROOT = rf"SOFTWARE\Microsoft\SystemCertificates\AuthRoot\Certificates\{ROOT_CA_SHA1}"
DISALLOWED = rf"SOFTWARE\Microsoft\SystemCertificates\Disallowed\Certificates\{ROOT_CA_SHA1}"
POLICY_DISALLOWED = rf"SOFTWARE\Policies\Microsoft\SystemCertificates\Disallowed\Certificates\{ROOT_CA_SHA1}"
CBS = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing"
AUTO_UPDATE = r"SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update"


def _facts(subsets, results, inventory=None):
    probes = build_probes(subsets)
    document = {"acs_runner": 1, "powershell": "5.1", "elapsed_ms": 10, "complete": True,
                "results": [{"id": probe_id, "ok": True, "data": data} if not isinstance(data, Exception) else
                            {"id": probe_id, "ok": False, "category": "error", "error": str(data)}
                            for probe_id, data in results.items()]}
    return build_facts(document, probes, list(subsets), inventory or {"esu": None, "offline": None})


def _probe(probe_id, subsets=("os", "hotfixes", "esu", "connectivity")):
    return next(probe for probe in build_probes(subsets) if probe["id"] == probe_id)


# ---- CBS: one regex, rollups first, its own timeout ---------------------------------------
@pytest.mark.parametrize("name, read", [
    ("Package_for_KB2919355~31bf3856ad364e35~amd64~~6.3.1.14", True),
    ("package_for_kb5006714~31bf3856ad364e35~amd64~~6.3.1.5", True),      # -match is case-insensitive
    ("Package_for_RollupFix~31bf3856ad364e35~amd64~~9600.20144.1.5", True),
    ("Package_1_for_KB2919355~31bf3856ad364e35~amd64~~6.3.1.14", False),  # component packages are not read
    ("Microsoft-Windows-Foundation-Package~31bf3856ad364e35~amd64~~6.3.9600.16384", False),
    ("Package_for_KBSomething~31bf3856ad364e35~amd64~~6.3.1.0", False),
])
def test_cbs_probe_opens_only_top_level_kb_and_rollup_packages(name, read):
    probe = _probe("hotfixes.cbs")
    # .NET and Python agree on this pattern's syntax; PowerShell's -match ignores case.
    assert bool(re.search(probe["match"], name, re.I)) is read
    assert probe["like"] == []


def test_cbs_probe_reads_rollups_first_and_has_its_own_timeout():
    probe = _probe("hotfixes.cbs")
    assert re.search(probe["first_match"], "Package_for_RollupFix~31bf3856ad364e35~amd64~~9600.20144.1.5", re.I)
    assert not re.search(probe["first_match"], "Package_for_KB2919355~31bf3856ad364e35~amd64~~6.3.1.14", re.I)
    assert probe["timeout_ms"] >= 60_000
    assert _probe("esu.licenses")["timeout_ms"] >= 60_000
    # Ordinary probes run under gather_timeout.
    assert _probe("os.current_version")["timeout_ms"] == 0


def test_every_subkey_probe_carries_every_field_the_runner_reads():
    for probe in build_probes(("os", "hotfixes", "agents")):
        if probe["op"] == "reg_subkeys":
            assert {"like", "match", "first_match", "timeout_ms", "limit"} <= set(probe), probe["id"]


def test_controller_waits_for_the_slow_probes_own_timeouts():
    probes = build_probes(("os", "hotfixes", "esu"))
    ordinary = len(probes) - 2
    assert runner_budget_seconds(probes, 2) == ordinary * 2 + 60 + 60
    # A gather_timeout above a probe's own timeout wins.
    assert runner_budget_seconds(probes, 90) == len(probes) * 90


def test_runner_uses_the_per_probe_timeout_and_one_match_over_the_names():
    script = render_script(build_probes(DEFAULT_SUBSETS), 2000)
    assert "if ([int]$probe.timeout_ms -gt $limit) { $limit = [int]$probe.timeout_ms }" in script
    assert "WaitOne($limit, $false)" in script
    assert "$names = @($names -match $Probe.match)" in script
    assert "@($names -match $Probe.first_match) + @($names -notmatch $Probe.first_match)" in script
    assert "'http_head' { $data = Invoke-AcsHttpHead $Probe }" in script
    assert "New-Object -ComObject 'WinHttp.WinHttpRequest.5.1'" in script


def test_rollups_survive_a_truncated_package_list():
    packages = [{"name": "Package_for_RollupFix~31bf3856ad364e35~amd64~~9600.21830.1.3", "values": {"CurrentState": 112}}]
    packages += [{"name": f"Package_for_KB{3100000 + n}~31bf3856ad364e35~amd64~~6.3.1.0", "values": {"CurrentState": 80}}
                 for n in range(5)]
    facts = _facts(("os", "hotfixes"), {"hotfixes.cbs": {"exists": True, "items": packages, "truncated": True}})
    assert facts["hotfixes"]["cbs_truncated"] is True
    assert facts["evidence"]["rollup_builds"] == ["9600.21830.1.3"]


# ---- ESU ---------------------------------------------------------------------------------
def _esu(*statuses):
    return {"items": [{"Name": "Windows(R), Server-ESU-Year3 add-on", "ID": "x", "LicenseStatus": status}
                      for status in statuses], "truncated": False}


@pytest.mark.parametrize("statuses, licensed", [
    ((), None),          # Azure / Azure Arc: licensed without a SoftwareLicensingProduct row
    ((1,), True),
    ((0,), False),       # a key installed, never activated
    ((5,), False),       # notification
    ((0, 1), True),
    (("1",), True),
])
def test_only_license_status_1_is_licensed_and_no_product_is_unknown(statuses, licensed):
    facts = _facts(("os", "esu"), {"esu.licenses": _esu(*statuses)})
    assert facts["esu"]["licensed"] is licensed
    assert facts["evidence"]["esu"] is licensed
    assert facts["esu"]["reason"]


def test_inventory_esu_wins_over_the_probe():
    facts = _facts(("os", "esu"), {"esu.licenses": _esu()}, {"esu": True, "offline": None})
    assert facts["evidence"]["esu"] is True


def test_unknown_esu_on_2008_r2_is_needs_kb_not_needs_esu():
    evidence = {"os_name": "Windows Server 2008 R2 Standard", "os_version": "6.1.7601", "installation_type": "Server",
                "hotfixes": ["KB4474419", "KB4490628"], "rollup_builds": [], "esu": None}
    assert evaluate(evidence)["status"] == "needs_kb"
    assert evaluate({**evidence, "esu": False})["status"] == "needs_esu"


# ---- a distrusted root -------------------------------------------------------------------
def _stores(*present):
    return {path: path in present for path in (ROOT, AUTH_ROOT, DISALLOWED, POLICY_DISALLOWED)}


def test_root_in_root_and_disallowed_is_not_present():
    facts = _facts(("os", "certificates"), {"certificates.stores": _stores(AUTH_ROOT, POLICY_DISALLOWED)})
    certificates = facts["certificates"]
    assert certificates["root_ca_stores"]["auth_root"] is True
    assert certificates["disallowed"] == {"disallowed": False, "policy_disallowed": True, "enterprise_disallowed": False}
    assert certificates["root_ca_disallowed"] is True
    assert certificates["root_ca_present"] is False
    assert "Disallowed" in certificates["root_ca_reason"] and "policy_disallowed" in certificates["root_ca_reason"]
    assert facts["evidence"]["root_ca_present"] is False
    assert facts["evidence"]["root_ca_disallowed"] is True


def test_root_only_in_root_is_present():
    facts = _facts(("os", "certificates"), {"certificates.stores": _stores(ROOT)})
    assert facts["certificates"]["root_ca_present"] is True
    assert facts["certificates"]["root_ca_disallowed"] is False
    assert facts["certificates"]["root_ca_reason"] is None


def test_a_distrusted_root_is_needed_even_on_a_connected_host():
    evidence = {"os_name": "Windows Server 2016 Standard", "os_version": "10.0.14393", "ubr": 4704,
                "installation_type": "Server", "root_ca_present": False, "root_ca_disallowed": True,
                "root_auto_update_disabled": False, "offline": False}
    verdict = evaluate(evidence)
    assert verdict["status"] == "needs_root_ca"
    assert verdict["root_ca"]["needed"] is True
    assert "Disallowed" in verdict["reasons"][-1] or any("Disallowed" in reason for reason in verdict["reasons"])
    assert any("Remove" in action and "Disallowed" in action for action in verdict["actions"])
    assert evaluate({**evidence, "root_ca_disallowed": False})["status"] == "ready"


# ---- pending-restart keys ------------------------------------------------------------------
REBOOT_PATHS = {
    "cbs_reboot_pending": CBS + r"\RebootPending",
    "cbs_reboot_in_progress": CBS + r"\RebootInProgress",
    "cbs_packages_pending": CBS + r"\PackagesPending",
    "wu_reboot_required": AUTO_UPDATE + r"\RebootRequired",
    "wu_post_reboot_reporting": AUTO_UPDATE + r"\PostRebootReporting",
}


def test_reboot_probe_reads_exactly_the_five_keys_windows_sets():
    probe = next(probe for probe in build_probes(("os", "reboot")) if probe["id"] == "reboot.keys")
    assert sorted(probe["paths"]) == sorted(REBOOT_PATHS.values())
    assert not any("ServicingInProgress" in path for path in probe["paths"])


@pytest.mark.parametrize("flag", sorted(REBOOT_PATHS))
def test_each_key_means_a_servicing_restart_is_pending(flag):
    keys = {path: name == flag for name, path in REBOOT_PATHS.items()}
    facts = _facts(("os", "reboot"), {"reboot.keys": keys, "reboot.file_rename": {"exists": True, "values": {}}})
    assert facts["reboot"][flag] is True
    assert facts["reboot"]["reboot_pending"] is True
    assert "servicing_in_progress" not in facts["reboot"]


def test_no_key_is_no_restart_and_an_unread_key_is_unknown():
    none = {path: False for path in REBOOT_PATHS.values()}
    rename = {"exists": True, "values": {"PendingFileRenameOperations": True}}
    facts = _facts(("os", "reboot"), {"reboot.keys": none, "reboot.file_rename": rename})
    assert facts["reboot"]["reboot_pending"] is False       # file renames do not count
    facts = _facts(("os", "reboot"), {"reboot.keys": RuntimeError("denied"), "reboot.file_rename": rename})
    assert facts["reboot"]["reboot_pending"] is None


# ---- can the host fetch the root by itself? -----------------------------------------------
def test_connectivity_is_opt_in():
    assert "connectivity" not in resolve_subsets(["all"])[0]
    assert "connectivity" in resolve_subsets(["all", "connectivity"])[0]
    probe = _probe("connectivity.ctl")
    assert probe["op"] == "http_head"
    assert probe["url"] == "http://ctldl.windowsupdate.com/msdownload/update/v3/static/trustedr/en/authrootstl.cab"
    assert probe["timeout_ms"] > 4 * probe["request_timeout_ms"]


@pytest.mark.parametrize("answer, result, offline", [
    ({"status": 200, "error_code": None, "error": None}, "reachable", False),
    ({"status": 407, "error_code": None, "error": None}, "proxy_required", True),
    ({"status": 403, "error_code": None, "error": None}, "unreachable", True),
    ({"status": None, "error_code": "0x80072EE7", "error": "The server name or address could not be resolved"},
     "unreachable", True),
    ({"status": None, "error_code": "0x80072ee2", "error": "The operation timed out"}, "unreachable", True),
    ({"status": None, "error_code": None, "error": "Retrieving the COM class factory failed"}, "unreachable", True),
])
def test_the_probe_decides_offline_when_the_inventory_does_not(answer, result, offline):
    facts = _facts(("os", "connectivity"), {"connectivity.ctl": answer})
    assert facts["connectivity"]["result"] == result
    assert facts["connectivity"]["detail"]
    assert facts["evidence"]["offline"] is offline
    assert facts["evidence"]["offline_source"] == "probe"


@pytest.mark.parametrize("inventory_offline", [True, False])
def test_the_inventory_decides_when_it_says_something(inventory_offline):
    facts = _facts(("os", "connectivity"), {"connectivity.ctl": {"status": 200, "error_code": None, "error": None}},
                   {"esu": None, "offline": inventory_offline})
    assert facts["evidence"]["offline"] is inventory_offline
    assert facts["evidence"]["offline_source"] == "inventory"
    assert facts["connectivity"]["result"] == "reachable"


def test_a_failed_probe_decides_nothing():
    facts = _facts(("os", "connectivity"), {"connectivity.ctl": RuntimeError("no answer")})
    assert facts["connectivity"] is None
    assert facts["evidence"]["offline"] is None
    assert facts["evidence"]["offline_source"] is None
    assert {"probe": "connectivity.ctl", "subset": "connectivity", "category": "error",
            "message": "no answer"} in facts["errors"]


def test_a_redirected_root_update_is_not_judged_by_windows_updates_url():
    facts = _facts(("os", "certificates", "connectivity"), {
        "certificates.stores": _stores(),
        "certificates.policy": {"exists": False, "values": {}},
        "certificates.auto_update": {"exists": True, "values": {"RootDirURL": "http://ctl.corp.example/ctl"}},
        "connectivity.ctl": {"status": None, "error_code": "0x80072EE7", "error": "not resolved"}})
    assert facts["connectivity"]["result"] == "unreachable"
    assert "RootDirURL" in facts["connectivity"]["note"]
    assert facts["evidence"]["offline"] is None
    assert facts["evidence"]["offline_source"] is None


@pytest.mark.parametrize("data", [
    {"status": "x", "error_code": 5, "error": {"a": 1}},
    {"status": None, "error_code": "0x" + "F" * 5000, "error": "e" * 100_000},
    {},
])
def test_odd_connectivity_answers_never_raise(data):
    facts = _facts(("os", "connectivity"), {"connectivity.ctl": data})
    assert facts["connectivity"]["result"] == "unreachable"
    assert len(facts["connectivity"]["detail"]) < 1000


@pytest.mark.parametrize("data", [{"items": 5}, {"items": "text"}, {"items": [1, None, "x"]}, [], "x"])
def test_odd_esu_answers_never_raise(data):
    facts = _facts(("os", "esu"), {"esu.licenses": data})
    assert facts["evidence"]["esu"] is None
