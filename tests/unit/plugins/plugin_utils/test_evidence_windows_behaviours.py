"""The controller side of Windows as real hosts behave: dates, error records, unusable sessions, output hygiene."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.codesign.windows.plugins.plugin_utils._evidence import (
    RunnerOutputError,
    build_facts,
    classify_error,
    error_message,
    parse_installed_on,
    parse_runner_output,
    warnings_for,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._probes import PROTOCOL, build_probes

STOP = "System.Management.Automation.ActionPreferenceStopException"


def _document(results, **extra):
    return {"acs_runner": PROTOCOL, "powershell": "5.1", "language_mode": "FullLanguage", "process_bits": 64,
            "wow64": False, "elapsed_ms": 1, "results": results, "complete": True, **extra}


@pytest.mark.parametrize("raw, expected", [
    ("10/13/2021", "2021-10-13"),       # WMI's M/d/yyyy, whatever the host's culture
    ("3/9/2021", "2021-03-09"),         # never swapped to 3 September
    ("01d7bf6f2c8d4000", "2021-10-12"),  # Windows before 7 / 2008 R2: hexadecimal FILETIME
    ("20210310", "2021-03-10"),
    ("13/13/2021", None),
    ("2021-10-13T00:00:00Z", None),     # a date PowerShell already parsed may be swapped: not trusted
    ("", None), (None, None), (20211013, None), ("0000000000000000", None),
])
def test_installed_on_is_parsed_from_the_raw_wmi_value(raw, expected):
    assert parse_installed_on(raw) == expected


@pytest.mark.parametrize("record, category", [
    # PowerShell 2.0: the cmdlet's error behind ActionPreferenceStopException, HRESULT 0x80070005
    ({"category": "OperationStopped", "exceptions": [
        {"type": STOP, "message": "Command execution stopped ...", "hresult": -2146233087},
        {"type": "System.UnauthorizedAccessException", "message": "Access is denied.", "hresult": -2147024891}]},
     "denied"),
    ({"category": "OperationStopped", "exceptions": [
        {"type": STOP, "message": "Command execution stopped ...: Access denied "},
        {"type": "System.Management.ManagementException", "message": "Access denied ", "code": "AccessDenied"}]},
     "denied"),
    ({"category": "NotSpecified", "exceptions": [
        {"type": "System.Management.Automation.MethodInvocationException", "message": "Exception calling ..."},
        {"type": "System.Security.SecurityException", "message": "Requested registry access is not allowed."}]},
     "denied"),
    ({"category": "NotSpecified", "exceptions": [
        {"type": "System.InvalidOperationException", "message": "Cannot open Service Control Manager"},
        {"type": "System.ComponentModel.Win32Exception", "message": "Zugriff verweigert", "code": "5"}]},
     "denied"),
    ({"category": "NotSpecified", "exceptions": [
        {"type": "System.COMException", "message": "x", "hresult": -2147217405}]}, "denied"),
    ({"category": "PermissionDenied", "exceptions": []}, "denied"),
    ({"category": "NotSpecified", "exceptions": [
        {"type": "System.Management.ManagementException", "message": "Invalid class ", "code": "InvalidClass"}]},
     "error"),
    ({"exceptions": [{"type": "x", "hresult": True}]}, "error"),
    ("garbage", "error"), (None, "error"), ({"exceptions": "nope"}, "error"),
])
def test_denied_is_denied_however_powershell_wraps_it(record, category):
    assert classify_error(record) == category


def test_error_message_skips_powershell_wrappers():
    record = {"exceptions": [
        {"type": STOP, "message": "Command execution stopped because ...: Cannot open Service Control Manager"},
        {"type": "System.InvalidOperationException", "message": "Cannot open Service Control Manager on computer '.'."},
        {"type": "System.ComponentModel.Win32Exception", "message": "Access is denied"}]}
    assert error_message(record, "fallback") == "Cannot open Service Control Manager on computer '.'. (Access is denied)"
    assert error_message(None, "fallback") == "fallback"


def _line(document):
    return json.dumps(document)


def test_a_leading_byte_order_mark_is_stripped():
    document = parse_runner_output(0, "\ufeff" + _line(_document([])) + "\r\n", "")
    assert document["complete"] is True


def test_missing_powershell_is_told_by_exit_code_not_by_english_text():
    german = 'Der Befehl "PowerShell" ist entweder falsch geschrieben oder\r\nkonnte nicht gefunden werden.\r\n'
    with pytest.raises(RunnerOutputError, match="PowerShell is not installed"):
        parse_runner_output(9009, "", german)
    with pytest.raises(RunnerOutputError, match=r"failed \(rc=1\)"):
        parse_runner_output(1, "", "'PowerShell' is not recognized as an internal or external command")


def test_constrained_language_mode_fails_with_what_to_do():
    document = {"acs_runner": PROTOCOL, "powershell": "5.1", "language_mode": "ConstrainedLanguage", "results": [],
                "complete": True}
    with pytest.raises(RunnerOutputError) as caught:
        parse_runner_output(0, _line(document), "")
    message = str(caught.value)
    assert "ConstrainedLanguage mode" in message
    assert "allow the codesign.windows probe runner through that policy" in message
    assert "export" in message
    assert "account" not in message


def test_constrained_language_mode_blocking_before_the_runner_is_recognised_by_error_id():
    stderr = ("Le mode de langage ne prend en charge que les types de base.\r\n"
              "    + CategoryInfo          : InvalidOperation: (:) [], RuntimeException\r\n"
              "    + FullyQualifiedErrorId : MethodInvocationNotSupportedInConstrainedLanguage\r\n")
    with pytest.raises(RunnerOutputError, match="ConstrainedLanguage mode on this host"):
        parse_runner_output(1, "", stderr)


def test_a_32_bit_session_on_64_bit_windows_fails_with_the_fix():
    with pytest.raises(RunnerOutputError, match="Microsoft.PowerShell32"):
        parse_runner_output(0, _line(_document([], process_bits=32, wow64=True)), "")
    assert parse_runner_output(0, _line(_document([], process_bits=32, wow64=False)), "")["wow64"] is False


def _facts(results, subsets=("os", "hotfixes", "agents")):
    probes = build_probes(subsets)
    return build_facts(_document(results), probes, list(subsets))


def test_a_missing_cbs_packages_key_is_an_error_not_no_updates():
    facts = _facts([{"id": "hotfixes.cbs", "ok": True, "data": {"exists": False, "items": [], "truncated": False}}])
    assert facts["evidence"]["hotfixes"] is None
    assert facts["hotfixes"] is None
    assert [error["probe"] for error in facts["errors"] if error["category"] == "error"] == ["hotfixes.cbs"]
    with_qfe = _facts([
        {"id": "hotfixes.cbs", "ok": True, "data": {"exists": False, "items": [], "truncated": False}},
        {"id": "hotfixes.qfe", "ok": True, "data": {"items": [{"HotFixID": "KB5006714", "InstalledOn": "10/13/2021"}],
                                                    "truncated": False}}])
    assert with_qfe["evidence"]["hotfixes"] == ["KB5006714"]
    assert with_qfe["hotfixes"]["cbs_gathered"] is False


def test_wrapped_denial_from_a_probe_becomes_a_denied_warning():
    record = {"category": "OperationStopped", "exceptions": [
        {"type": STOP, "message": "Command execution stopped ...: Access denied "},
        {"type": "System.Management.ManagementException", "message": "Access denied ", "code": "AccessDenied"}]}
    facts = _facts([{"id": "hotfixes.qfe", "ok": False, "category": "error", "error": "Command execution stopped",
                     "record": record}])
    error = next(error for error in facts["errors"] if error["probe"] == "hotfixes.qfe")
    assert (error["category"], error["message"]) == ("denied", "Access denied")
    assert any(text.startswith("acs_facts: hotfixes.qfe: permission denied (Access denied)")
               for text in warnings_for(facts["errors"]))


def test_unreadable_service_status_is_unknown_with_one_warning():
    denied = {"category": "NotSpecified", "exceptions": [
        {"type": "System.InvalidOperationException", "message": "Cannot open Service Control Manager on computer '.'."},
        {"type": "System.ComponentModel.Win32Exception", "message": "Access is denied", "code": "5"}]}
    services = {"ntrtscan": {"exists": True, "start": 2, "status": None, "status_error": denied},
                "TmListen": {"exists": True, "start": 2, "status": None, "status_error": denied},
                "ds_agent": {"exists": False}}
    facts = _facts([
        {"id": "agents.services", "ok": True, "data": services},
        {"id": "agents.uninstall_wow", "ok": True, "data": {"exists": True, "truncated": False, "items": [
            {"name": "OfficeScanNT", "values": {"DisplayName": "Trend Micro Apex One Security Agent",
                                                "DisplayVersion": "14.0.0.12526"}}]}}])
    assert facts["agents"]["services"]["ntrtscan"] == {"exists": True, "status": None, "start": "auto"}
    assert facts["evidence"]["agents"][0]["service_state"] == "unknown"
    service_errors = [error for error in facts["errors"] if error["probe"] == "agents.services"]
    assert service_errors == [{"probe": "agents.services", "subset": "agents", "category": "denied",
                               "message": "status of TmListen, ntrtscan not readable: Cannot open Service Control "
                                          "Manager on computer '.'. (Access is denied)"}]


# Host-supplied error records, dates and session fields never raise on the controller.

_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                     max_leaves=20)
_RECORD = st.fixed_dictionaries({}, optional={
    "category": _JSON, "error_id": _JSON,
    "exceptions": st.lists(st.fixed_dictionaries({}, optional={"type": _JSON, "message": _JSON, "hresult": _JSON,
                                                               "code": _JSON}), max_size=4) | _JSON})


@settings(max_examples=300, deadline=None)
@given(record=_RECORD | _JSON, fallback=_JSON, raw=_JSON)
def test_hostile_error_records_and_dates_never_raise(record, fallback, raw):
    assert classify_error(record) in ("denied", "error")
    assert isinstance(error_message(record, fallback), str)
    assert parse_installed_on(raw) is None or len(parse_installed_on(raw)) == 10


@settings(max_examples=200, deadline=None)
@given(language_mode=_JSON, wow64=_JSON, bits=_JSON, status_error=_RECORD | _JSON, cbs=_JSON)
def test_hostile_session_fields_and_probe_data_end_as_evidence_or_a_clear_failure(language_mode, wow64, bits,
                                                                                  status_error, cbs):
    document = _document([
        {"id": "agents.services", "ok": True, "data": {"ntrtscan": {"exists": True, "start": 2, "status": None,
                                                                    "status_error": status_error}}},
        {"id": "hotfixes.cbs", "ok": True, "data": cbs},
        {"id": "hotfixes.qfe", "ok": False, "category": "error", "error": "x", "record": status_error},
    ], language_mode=language_mode, wow64=wow64, process_bits=bits)
    try:
        parsed = parse_runner_output(0, json.dumps(document), "")
    except RunnerOutputError as exc:
        assert str(exc)
        return
    facts = build_facts(parsed, build_probes(["os", "hotfixes", "agents"]), ["os", "hotfixes", "agents"])
    assert all(isinstance(text, str) for text in warnings_for(facts["errors"]))
