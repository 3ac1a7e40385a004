"""The evidence record built from hand-written runner documents, checked against the documented contract
(docs/verdict.md, "The evidence record"), not against the code's own tables.

Probes are found by what they read (a registry path, a WMI class), not by their ids, so that renaming a
probe does not break these tests while reading the wrong key does.
CBS CurrentState values: 112 installed, 96 install pending, 80 superseded, 0 absent (acs-facts.md line 99-100,
"commonly documented values").
"""

from __future__ import annotations

import json

import pytest

from ansible_collections.codesign.windows.plugins.plugin_utils._evidence import (
    RunnerOutputError,
    build_facts,
    classify_error,
    error_message,
    parse_runner_output,
    warnings_for,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._probes import SUBSETS, build_probes
from ansible_collections.codesign.windows.plugins.plugin_utils._verdict import evaluate

CBS_PACKAGES = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\Packages"
CURRENT_VERSION = r"SOFTWARE\Microsoft\Windows NT\CurrentVersion"
PROBES = build_probes(SUBSETS)


def probe_reading(path=None, wmi_class=None):
    found = [p for p in PROBES if (path and p.get("path") == path) or (wmi_class and p.get("wmi_class") == wmi_class)]
    assert len(found) == 1, (path, wmi_class, [p["id"] for p in found])
    return found[0]["id"]


CBS = probe_reading(path=CBS_PACKAGES)
QFE = probe_reading(wmi_class="Win32_QuickFixEngineering")
OS = probe_reading(path=CURRENT_VERSION)


def facts(results, inventory=None):
    document = {"acs_runner": 1, "powershell": "4.0", "elapsed_ms": 5, "complete": True, "results": []}
    for probe_id, data in results.items():
        if isinstance(data, tuple):       # (category, message): the probe failed on the host
            document["results"].append({"id": probe_id, "ok": False, "category": data[0], "error": data[1]})
        else:
            document["results"].append({"id": probe_id, "ok": True, "data": data})
    return build_facts(document, PROBES, list(SUBSETS), inventory or {"esu": None, "offline": None})


SERVER_2012_R2 = {"exists": True, "values": {"ProductName": "Windows Server 2012 R2 Standard", "CurrentVersion": "6.3",
                                             "CurrentBuildNumber": "9600", "InstallationType": "Server"}}


def package(name, state):
    return {"name": name, "values": {"CurrentState": state}}


def cbs(*packages, truncated=False):
    return {"exists": True, "items": list(packages), "truncated": truncated}


def qfe(*ids):
    return {"items": [{"HotFixID": kb, "Description": "Update", "InstalledOn": "10/13/2021"} for kb in ids],
            "truncated": False}


ROLLUP = "Package_for_RollupFix~31bf3856ad364e35~amd64~~9600.20144.1.5"
KB = "Package_for_KB5006729~31bf3856ad364e35~amd64~~6.3.1.2"


@pytest.mark.parametrize("state, installed, pending", [
    (112, True, False),    # installed
    (96, False, True),     # install pending: staged, active after a restart
    (80, True, False),     # superseded: it was installed and a later package replaced it
    (0, False, False),     # absent
])
def test_cbs_current_state(state, installed, pending):
    evidence = facts({OS: SERVER_2012_R2, CBS: cbs(package(ROLLUP, state), package(KB, state)), QFE: qfe()})["evidence"]
    assert ("9600.20144.1.5" in evidence["rollup_builds"]) is installed
    assert ("9600.20144.1.5" in evidence["pending_rollup_builds"]) is pending
    assert ("KB5006729" in evidence["hotfixes"]) is installed
    status = evaluate(evidence)["status"]
    assert status == ("ready" if installed else "reboot_pending" if pending else "needs_kb"), evidence


def test_cbs_state_as_text_is_read_as_a_number():
    evidence = facts({OS: SERVER_2012_R2, CBS: cbs(package(ROLLUP, "112")), QFE: qfe()})["evidence"]
    assert evidence["rollup_builds"] == ["9600.20144.1.5"]


def test_qfe_denied_with_cbs_present_keeps_what_cbs_tells():
    result = facts({OS: SERVER_2012_R2, QFE: ("denied", "Access denied"), CBS: cbs(package(KB, 112))})
    evidence = result["evidence"]
    assert evidence["hotfixes"] == ["KB5006729"]
    assert evaluate(evidence)["status"] == "ready"
    assert [(e["probe"], e["category"]) for e in result["errors"] if e["category"] != "missing"] == [(QFE, "denied")]
    assert any("permission denied" in w and "not treated as missing" in w for w in warnings_for(result["errors"]))


def test_cbs_denied_with_qfe_present_keeps_what_qfe_tells():
    result = facts({OS: SERVER_2012_R2, CBS: ("denied", "Requested registry access is not allowed."),
                    QFE: qfe("KB5006714", "File 1", "")})
    evidence = result["evidence"]
    assert evidence["hotfixes"] == ["KB5006714"]       # "File 1" and blanks are no KB
    assert evidence["rollup_builds"] == [] and evidence["pending_rollup_builds"] == []
    assert evaluate(evidence)["status"] == "ready"


def test_both_sources_denied_is_unknown_never_missing():
    result = facts({OS: SERVER_2012_R2, CBS: ("denied", "x"), QFE: ("denied", "y")})
    assert result["evidence"]["hotfixes"] is None
    verdict = evaluate(result["evidence"])
    assert verdict["status"] == "unknown"


def test_qfe_and_cbs_together_are_one_list():
    evidence = facts({OS: SERVER_2012_R2, QFE: qfe("KB2919355"), CBS: cbs(package(KB, 112), package(ROLLUP, 96))})[
        "evidence"]
    assert evidence["hotfixes"] == ["KB2919355", "KB5006729"]
    assert evidence["pending_rollup_builds"] == ["9600.20144.1.5"]
    assert evaluate(evidence)["status"] == "reboot_pending"    # listed, but its rollup package still pending


def test_os_fields_from_the_current_version_key():
    windows_10 = {"exists": True, "values": {
        "ProductName": "Windows 10 Enterprise", "CurrentMajorVersionNumber": 10, "CurrentMinorVersionNumber": 0,
        "CurrentVersion": "6.3", "CurrentBuildNumber": "17763", "CurrentBuild": "17763", "UBR": 2210,
        "InstallationType": "Client", "DisplayVersion": None, "ReleaseId": "1809"}}
    evidence = facts({OS: windows_10, CBS: cbs(), QFE: qfe()})["evidence"]
    assert (evidence["os_version"], evidence["ubr"], evidence["installation_type"], evidence["display_version"]) == \
        ("10.0.17763", 2210, "Client", "1809")
    assert evaluate(evidence)["status"] == "ready"
    below = facts({OS: {"exists": True, "values": {**windows_10["values"], "UBR": 2209}}, CBS: cbs(), QFE: qfe()})
    assert evaluate(below["evidence"])["status"] == "needs_kb"


def test_a_failed_os_probe_leaves_the_os_unknown():
    result = facts({OS: ("timeout", "probe timed out after 10000 ms"), CBS: cbs(), QFE: qfe()})
    assert result["evidence"]["os_version"] is None and result["evidence"]["os_name"] is None
    assert evaluate(result["evidence"])["status"] == "unknown"
    assert any("gather_timeout" in w for w in warnings_for(result["errors"]))


def test_a_probe_without_an_answer_is_an_error_not_evidence():
    result = facts({OS: SERVER_2012_R2})
    missing = {e["probe"] for e in result["errors"] if e["category"] == "missing"}
    assert {CBS, QFE} <= missing
    assert result["evidence"]["hotfixes"] is None


@pytest.mark.parametrize("state, name", [(112, "installed"), (96, "install_pending"), (80, "superseded"),
                                         (0, "absent"), (7, "unknown"), (None, None)])
def test_raw_cbs_facts_name_the_state(state, name):
    item = {"name": ROLLUP, "values": {"CurrentState": state} if state is not None else {}}
    (package_facts,) = facts({OS: SERVER_2012_R2, CBS: cbs(item), QFE: qfe()})["hotfixes"]["cbs"]
    assert (package_facts["state"], package_facts["state_name"]) == (state, name)
    assert package_facts["rollup_build"] == "9600.20144.1.5" and package_facts["kb"] is None


def test_raw_os_facts_from_win32_operatingsystem():
    boot = probe_reading(wmi_class="Win32_OperatingSystem")
    os_facts = facts({OS: SERVER_2012_R2, boot: {"items": [{"Caption": "Microsoft Windows Server 2012 R2 Standard",
                                                            "LastBootUpTime": "2026-11-20T01:02:03Z"}],
                                                 "truncated": False}})["os"]
    assert os_facts["caption"] == "Microsoft Windows Server 2012 R2 Standard"
    assert os_facts["last_boot"] == "2026-11-20T01:02:03Z"
    assert os_facts["version"] == "6.3.9600"


@pytest.mark.parametrize("code, detail", [
    ("0x80072EE2", "timed out (0x80072EE2)"),
    ("0x80072EE7", "the name could not be resolved (0x80072EE7)"),
    ("0x80072EF1", "the request was cancelled (0x80072EF1)"),
    ("0x80072EFD", "the connection could not be made (0x80072EFD)"),
    ("0x80072EFE", "the connection was ended abnormally (0x80072EFE)"),
    ("0x80070005", "Access is denied (0x80070005)"),
])
def test_winhttp_errors_are_named(code, detail):
    # WinHTTP error codes: https://learn.microsoft.com/en-us/windows/win32/winhttp/error-messages
    head = [p["id"] for p in PROBES if p["op"] == "http_head"][0]
    result = facts({OS: SERVER_2012_R2, head: {"status": None, "error_code": code, "error": "Access is denied"}})
    assert result["connectivity"]["detail"] == detail
    assert result["connectivity"]["result"] == "unreachable"
    assert result["evidence"]["offline"] is True and result["evidence"]["offline_source"] == "probe"


# ---- the runner's output as the connection delivers it -----------------------------------------------
# PowerShell writes its error stream as CLIXML when stdout is not a console (about_Redirection; MS-PSRP 2.2.5).
CLIXML = ('#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
          '<Obj S="progress" RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject</T></TN>'
          '<MS><I64 N="SourceId">1</I64></MS></Obj>'
          '<S S="Error">Access is denied_x000D__x000A_</S><S S="Error">at line 1 _x0028_char 5_x0029_</S></Objs>')


@pytest.mark.parametrize("rc, stdout, stderr, message", [
    (1, "", CLIXML, "the probe script failed (rc=1): Access is denied\nat line 1 (char 5)"),
    (1, "", "plain error text\r\n", "the probe script failed (rc=1): plain error text"),
    (1, "something went wrong", "", "the probe script failed (rc=1): something went wrong"),
    (1, "", "", "the probe script failed (rc=1): no output"),
    (0, "", "", "the probe script printed nothing"),
    (0, "", "oops", "the probe script printed nothing; stderr: oops"),
    (0, "hello", "", "the probe script's output is not JSON: 'hello'"),
    # cmd.exe's exit code decides, never its (localized) text.
    (9009, "", "'powershell' is not recognized as an internal or external command,",
     "PowerShell is not installed on this host"),
    (1, "", "'powershell' is not recognized as an internal or external command,", "the probe script failed (rc=1)"),
])
def test_runner_failures_say_what_happened(rc, stdout, stderr, message):
    with pytest.raises(RunnerOutputError) as caught:
        parse_runner_output(rc, stdout, stderr)
    assert str(caught.value).startswith(message), str(caught.value)


def test_the_powershell_version_the_host_reports():
    (version,) = [p["id"] for p in PROBES if p["op"] == "powershell_version"]
    assert facts({OS: SERVER_2012_R2, version: {"version": "4.0", "clr": "4.0.30319.42000"}})["os"][
        "powershell_version"] == "4.0"


@pytest.mark.parametrize("policy, auto_update, disabled", [
    ({"DisableRootAutoUpdate": 1}, {"DisableRootAutoUpdate": None}, True),   # group policy
    ({"DisableRootAutoUpdate": None}, {"DisableRootAutoUpdate": 1}, True),   # the local setting
    ({"DisableRootAutoUpdate": 1}, ("denied", "x"), True),                    # one read is enough to know
    ({"DisableRootAutoUpdate": 0}, {"DisableRootAutoUpdate": None}, False),
    ({}, {}, False),                                                           # neither value set
    ({"DisableRootAutoUpdate": 0}, ("denied", "x"), None),                   # the other one could say 1
    (("denied", "x"), {}, None),
])
def test_root_auto_update_disabled_from_either_key(policy, auto_update, disabled):
    # DisableRootAutoUpdate (REG_DWORD 1 = disabled) under the policy key or AuthRoot\AutoUpdate (acs-facts.md 27-28)
    policy_probe = probe_reading(path=r"SOFTWARE\Policies\Microsoft\SystemCertificates\AuthRoot")
    local_probe = probe_reading(path=r"SOFTWARE\Microsoft\SystemCertificates\AuthRoot\AutoUpdate")

    def answer(values):
        return values if isinstance(values, tuple) else {"exists": bool(values), "values": values}
    result = facts({OS: SERVER_2012_R2, policy_probe: answer(policy), local_probe: answer(auto_update)})
    assert result["certificates"]["disable_root_auto_update"] is disabled
    assert result["evidence"]["root_auto_update_disabled"] is disabled


@pytest.mark.parametrize("status, start, state", [("Running", 2, "running"), ("Stopped", 4, "disabled"),
                                                  ("StopPending", 2, "stoppending")])
def test_an_agent_as_its_installer_leaves_it(status, start, state):
    # Apex One: Uninstall\OfficeScanNT, service ntrtscan (docs/catalog.md, Trend Micro products); a service's
    # Start value 4 is "disabled" (HKLM\SYSTEM\CurrentControlSet\Services\<name>\Start).
    (by_key,) = [p["id"] for p in PROBES if p["op"] == "reg_subkeys" and "OfficeScanNT" in p["like"]
                 and "WOW6432Node" not in p["path"]]
    (services,) = [p["id"] for p in PROBES if p["op"] == "services"]
    entry = {"name": "OfficeScanNT", "values": {"DisplayName": "Trend Micro Apex One Security Agent",
                                                "DisplayVersion": "14.0.0.12526", "Publisher": "Trend Micro Inc."}}
    result = facts({OS: SERVER_2012_R2, by_key: {"exists": True, "items": [entry], "truncated": False},
                    services: {"ntrtscan": {"exists": True, "status": status, "start": start},
                               "TmListen": {"exists": False}}})
    assert result["evidence"]["agents"] == [{"product": "apex_one", "version": "14.0.0.12526",
                                             "service_state": state}]


# ---- error records, the runner's document and QFE dates -------------------------------------------------------
# An error record as the runner writes it (Get-AcsErrorRecord): the exception chain, outermost first.
def error_record(*chain, category="NotSpecified"):
    return {"category": category, "exceptions": [{"type": kind, "message": message} for kind, message in chain]}


@pytest.mark.parametrize("chain, kind", [
    # Registry.OpenSubKey without the right throws SecurityException ("Requested registry access is not allowed.",
    # https://learn.microsoft.com/en-us/dotnet/api/microsoft.win32.registrykey.opensubkey).
    ((("System.Management.Automation.MethodInvocationException", "Exception calling OpenSubKey"),
      ("System.Security.SecurityException", "Requested registry access is not allowed.")), "denied"),
    ((("System.UnauthorizedAccessException", "Access to the path is denied."),), "denied"),
    ((("System.IO.IOException", "The device is not ready."),), "error"),
    ((), "error"),
])
def test_an_error_record_is_denied_or_an_error(chain, kind):
    assert classify_error(error_record(*chain)) == kind


def test_an_error_message_is_the_real_error_and_its_cause_under_the_wrappers():
    record = error_record(("System.Management.Automation.MethodInvocationException", "Exception calling OpenSubKey"),
                          ("System.IO.IOException", "The device is not ready."),
                          ("System.ComponentModel.Win32Exception", "The handle is invalid."))
    assert error_message(record, "fallback") == "The device is not ready. (The handle is invalid.)"
    assert error_message(error_record(("System.IO.IOException", "The device is not ready.")), "fallback") == (
        "The device is not ready.")
    assert error_message(error_record(), "fallback") == "fallback"


def runner_line(**fields):
    document = {"acs_runner": 1, "powershell": "2.0", "elapsed_ms": 5, "language_mode": "FullLanguage",
                "process_bits": 64, "wow64": False, "complete": True, "results": []}
    document.update(fields)
    return json.dumps(document)


def test_a_runner_document_is_read_with_its_session():
    document = parse_runner_output(0, runner_line() + "\r\n", "")
    assert (document["acs_runner"], document["powershell"], document["elapsed_ms"], document["language_mode"],
            document["process_bits"], document["wow64"]) == (1, "2.0", 5, "FullLanguage", 64, False)


@pytest.mark.parametrize("key, value", [("powershell", 2), ("elapsed_ms", "5"), ("elapsed_ms", True),
                                        ("process_bits", False), ("wow64", 1), ("language_mode", ["FullLanguage"])])
def test_a_session_field_of_the_wrong_type_is_unknown(key, value):
    document = parse_runner_output(0, runner_line(**{key: value}), "")
    assert document[key] is None
    assert document["acs_runner"] == 1


@pytest.mark.parametrize("protocol", ["1", True, 1.0, 2, None])
def test_another_protocol_is_refused(protocol):
    with pytest.raises(RunnerOutputError, match="the probe script speaks protocol .*, expected 1"):
        parse_runner_output(0, runner_line(acs_runner=protocol), "")


@pytest.mark.parametrize("raw, date", [
    # Win32_QuickFixEngineering.InstalledOn: M/d/yyyy from Windows 7 / 2008 R2, a hexadecimal FILETIME before
    # (https://learn.microsoft.com/en-us/windows/win32/cimwin32prov/win32-quickfixengineering).
    ("10/13/2021", "2021-10-13"), ("20211013", "2021-10-13"), ("01d7bfc543f04000", "2021-10-13"),
    ("", None), (None, None), (20211013, None),
])
def test_a_hotfix_installation_date_as_the_host_holds_it(raw, date):
    item = {"HotFixID": "KB5006729", "Description": "Security Update", "InstalledOn": raw}
    result = facts({OS: SERVER_2012_R2, QFE: {"items": [item], "truncated": False}})
    assert result["hotfixes"]["qfe"] == [{"id": "KB5006729", "description": "Security Update", "installed_on": date,
                                          "installed_on_raw": raw}]


def test_agents_not_gathered_are_unknown_not_absent():
    result = facts({OS: SERVER_2012_R2, CBS: cbs(), QFE: qfe()})
    assert result["agents"] is None
    assert result["evidence"]["agents"] is None


def test_the_evidence_names_every_field_when_the_os_is_unknown():
    result = facts({OS: ("denied", "Requested registry access is not allowed."), CBS: cbs(), QFE: qfe()})
    assert {key for key, value in result["evidence"].items() if value is None} >= {
        "os_name", "os_version", "ubr", "installation_type", "display_version", "architecture", "kernel_version"}
