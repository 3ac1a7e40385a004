"""The emulated hosts behave as Windows does: regional settings, least privilege, Constrained Language
Mode, PowerShell 2.0's error wrapping, a probe that returns nothing, WOW64, console output."""

from __future__ import annotations

import json

import pytest

from ansible_collections.codesign.windows.plugins.plugin_utils._probes import build_probes, render_script
from emulator import probe_runner
from emulator.host import EmulatedWindows
from emulator.windows import (
    PropertyGetError,
    Wow64RegistryView,
    build_host,
    qfe_installed_on,
    registry_denied,
    scm_denied,
    wmi_denied,
)

SCRIPT = render_script(build_probes(["os", "hotfixes", "agents"]), timeout_ms=2000)


def _host(name="test", **fixture):
    return build_host(name, {"os": "ws2019", **fixture})


def _results(host, script=SCRIPT):
    document = json.loads(probe_runner.run(host, script, sleep=lambda _: None))
    return document, {item["id"]: item for item in document["results"]}


@pytest.mark.parametrize("raw, culture, build, expected", [
    ("10/13/2021", "en-US", 9600, "2021-10-13T00:00:00Z"),
    ("3/9/2021", "en-GB", 9600, "2021-09-03T00:00:00Z"),        # day and month swap
    ("3/9/2021", "de-DE", 17763, "2021-09-03T00:00:00Z"),
    ("01d7bf6f2c8d4000", "en-GB", 6002, "2021-10-12T13:43:44Z"),  # before build 7000: a FILETIME, no culture
])
def test_powershell_computes_installed_on_with_the_session_culture(raw, culture, build, expected):
    assert qfe_installed_on(raw, culture, build) == expected


@pytest.mark.parametrize("culture", ["en-GB", "de-DE", "fr-FR"])
def test_a_day_above_12_throws_on_day_first_cultures(culture):
    with pytest.raises(PropertyGetError, match='Exception getting "InstalledOn"'):
        qfe_installed_on("10/13/2021", culture, 9600)


def _qfe_fixture(culture):
    return {"os": "ws2012r2", "culture": culture, "updates": [{"kb": "KB5006714", "installed_on": "10/13/2021"}]}


def test_the_runner_reads_raw_values_so_the_culture_does_not_matter():
    _document, results = _results(build_host("gb", _qfe_fixture("en-GB")))
    assert results["hotfixes.qfe"]["data"]["items"] == [
        {"HotFixID": "KB5006714", "Description": "Security Update", "InstalledOn": "10/13/2021"}]


def test_a_runner_reading_the_computed_property_loses_the_probe():
    computed = SCRIPT.replace("$item[$property] = $raw[$property]", "$item[$property] = $object.$property")
    computed = computed.replace("foreach ($property in $object.psbase.Properties)", "foreach ($property in @())")
    _document, results = _results(build_host("gb", _qfe_fixture("en-GB")), computed)
    assert results["hotfixes.qfe"]["ok"] is False
    assert "Exception getting \"InstalledOn\"" in results["hotfixes.qfe"]["error"]
    _document, us_results = _results(build_host("us", _qfe_fixture("en-US")), computed)
    assert us_results["hotfixes.qfe"]["data"]["items"][0]["InstalledOn"] == "2021-10-13T00:00:00Z"


def test_unknown_culture_or_clm_on_powershell_2_is_refused():
    with pytest.raises(ValueError, match="culture"):
        _host(culture="tlh-KX")
    with pytest.raises(ValueError, match="ConstrainedLanguage"):
        build_host("x", {"os": "ws2008r2", "language_mode": "ConstrainedLanguage"})


def test_powershell_2_wraps_cmdlet_errors_and_later_versions_do_not():
    old = build_host("old", {"os": "ws2008r2"})
    new = _host()
    wrapped = probe_runner.error_record(old, wmi_denied("Win32_QuickFixEngineering", "dcom"))
    assert [item["type"] for item in wrapped["exceptions"]] == [
        "System.Management.Automation.ActionPreferenceStopException", "System.UnauthorizedAccessException"]
    assert wrapped["exceptions"][1]["hresult"] == -2147024891       # 0x80070005
    assert wrapped["category"] == "OperationStopped"
    plain = probe_runner.error_record(new, wmi_denied("Win32_QuickFixEngineering"))
    assert [item["type"] for item in plain["exceptions"]] == ["System.Management.ManagementException"]
    assert plain["exceptions"][0]["code"] == "AccessDenied"
    # A .NET method call is not a cmdlet: -ErrorAction does not apply, on any version.
    method = probe_runner.error_record(old, registry_denied("SOFTWARE"))
    assert [item["type"] for item in method["exceptions"]] == [
        "System.Management.Automation.MethodInvocationException", "System.Security.SecurityException"]
    assert probe_runner.error_record(old, scm_denied())["exceptions"][0]["type"].endswith("ActionPreferenceStopException")


def test_service_control_manager_denied():
    host = _host(faults={"scm_denied": True}, agents=[{"product": "apex_one", "version": "14.0.0.12526"}])
    _document, results = _results(host)
    ntrtscan = results["agents.services"]["data"]["ntrtscan"]
    assert (ntrtscan["exists"], ntrtscan["start"], ntrtscan["status"]) == (True, 2, None)
    assert ntrtscan["status_error"]["exceptions"][-1] == {
        "type": "System.ComponentModel.Win32Exception", "message": "Access is denied", "hresult": -2147467259,
        "code": "5"}
    assert results["agents.services"]["data"]["ds_agent"] == {"exists": False}
    enumerating = SCRIPT.replace("$key = Open-AcsRegistryKey ('SYSTEM\\CurrentControlSet\\Services\\' + $name)",
                                 "foreach ($service in @(Get-Service)) { }", 1)
    _document, old_results = _results(host, enumerating)
    assert old_results["agents.services"]["ok"] is False
    assert "Cannot open Service Control Manager" in old_results["agents.services"]["error"]


def test_constrained_language_mode():
    host = _host(language_mode="ConstrainedLanguage")
    document, _results_by_id = _results(host)
    assert document["language_mode"] == "ConstrainedLanguage"
    assert document["results"] == []
    unchecked = SCRIPT.replace("$languageMode = [string]$ExecutionContext.SessionState.LanguageMode",
                               "$languageMode = 'FullLanguage'")
    # Without the check the first blocked construct fails: New-Object of a type that is not core.
    with pytest.raises(probe_runner.ScriptError, match="CannotCreateTypeConstrainedLanguage"):
        probe_runner.run(host, unchecked)


@pytest.mark.parametrize("body, error_id", [
    ("$r = [System.Management.Automation.Runspaces.RunspaceFactory]::CreateRunspace()",
     "MethodInvocationNotSupportedInConstrainedLanguage"),
    ("$i = [System.Diagnostics.FileVersionInfo]::GetVersionInfo($p)", "MethodInvocationNotSupportedInConstrainedLanguage"),
    ("$b = New-Object System.Text.StringBuilder", "CannotCreateTypeConstrainedLanguage"),
    ("$s = [string]::Join(',', @()); $t = [DateTime]::UtcNow", None),
])
def test_what_constrained_language_mode_blocks(body, error_id):
    message = probe_runner.constrained_language_failure("function Invoke-AcsRunner {\n" + body + "\n}")
    if error_id is None:
        assert message is None
    else:
        assert error_id in message


def test_a_probe_that_returns_nothing():
    host = _host(faults={"probe_no_output": ["hotfixes.qfe"]})
    _document, results = _results(host)
    assert results["hotfixes.qfe"] == {"id": "hotfixes.qfe", "ok": False, "category": "error",
                                       "error": "the probe returned nothing", "ms": 0}
    unguarded = SCRIPT.replace("if ($json.Length -eq 0) {", "if ($false) {")
    with pytest.raises(json.JSONDecodeError):
        json.loads(probe_runner.run(host, unguarded))


def test_a_key_removed_after_its_parent_is_listed_is_named_once_then_missing():
    """CBS scavenging a superseded package while CBS\\Packages is read: the name is listed, the key is gone
    when opened, and the next listing no longer names it."""
    packages = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\Packages"
    scavenged = "Package_for_KB4534273~31bf3856ad364e35~amd64~~10.0.1.0"
    host = _host(updates=[{"kb": "KB4534273", "state": "superseded"}],
                 faults={"registry_removed_after_listing": [packages + "\\" + scavenged]})
    assert scavenged in host.registry.subkey_names(packages)
    assert host.registry.open(packages + "\\" + scavenged) is None
    assert scavenged not in host.registry.subkey_names(packages)
    untouched = _host(updates=[{"kb": "KB4534273", "state": "superseded"}])
    untouched.registry.subkey_names(packages)
    assert untouched.registry.open(packages + "\\" + scavenged).get("CurrentState") == 80


def test_a_32_bit_process_sees_the_redirected_registry_and_system32():
    assert Wow64RegistryView.redirect(r"SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\Packages") \
        == r"SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Component Based Servicing\Packages"
    assert Wow64RegistryView.redirect(r"SOFTWARE\Microsoft\SystemCertificates\ROOT") \
        == r"SOFTWARE\Microsoft\SystemCertificates\ROOT"
    assert Wow64RegistryView.redirect(r"SYSTEM\CurrentControlSet\Services") == r"SYSTEM\CurrentControlSet\Services"
    host = _host(powershell_bits=32, updates=[{"kb": "KB5006672", "rollup_build": "17763.2237.1.5"}])
    document, results = _results(host)
    assert (document["process_bits"], document["wow64"]) == (32, True)
    assert results["hotfixes.cbs"]["data"] == {"exists": False, "items": [], "truncated": False}
    assert results["os.kernel"]["data"] == {"exists": False}
    assert results["os.current_version"]["data"]["values"]["CurrentBuild"] == "17763"
    native, native_results = _results(_host(updates=[{"kb": "KB5006672", "rollup_build": "17763.2237.1.5"}]))
    assert native["wow64"] is False and native_results["hotfixes.cbs"]["data"]["exists"] is True


def test_console_output_and_cmd_exit_codes():
    bom = EmulatedWindows(_host(output_bom=True))._script(SCRIPT)
    assert bom.stdout.startswith(b"\xef\xbb\xbf{\"acs_runner\"")
    missing = EmulatedWindows(build_host("x", {"os": "ws2008", "powershell": None, "display_language": "de-DE"}))
    result = missing.run_command("PowerShell -NoProfile -EncodedCommand AAAA", b"")
    assert result.rc == 9009
    assert result.stderr.startswith(b'Der Befehl "PowerShell"')


# The PowerShell interpreter (emulator.pwsh) offers the same behaviours to the runner it executes.
def _run(host, script):
    from emulator.pwsh.dotnet import run_script  # pylint: disable=import-outside-toplevel
    return run_script(host, script)


def test_interpreter_reads_raw_wmi_values_and_computes_installed_on_with_the_culture():
    host = build_host("gb", {"os": "ws2012r2", "culture": "en-GB", "updates": [
        {"kb": "KB1", "installed_on": "10/13/2021"}, {"kb": "KB2", "installed_on": "3/9/2021"}]})
    output = _run(host, "$o = @(Get-WmiObject -Class Win32_QuickFixEngineering)\n"
                        "try { $o[0].InstalledOn } catch { $_.Exception.Message }\n"
                        "[string]$o[1].InstalledOn\n"
                        "foreach ($p in $o[0].psbase.Properties) { $p.Name + '=' + $p.Value }")
    assert output[0].startswith('Exception getting "InstalledOn"')
    assert output[1] == "2021-09-03T00:00:00Z"
    assert "InstalledOn=10/13/2021" in output[2:]


def test_interpreter_service_control_manager_denied_and_powershell_2_wrapping():
    host = build_host("old", {"os": "ws2008r2", "faults": {"scm_denied": True},
                              "agents": [{"product": "apex_one", "version": "14.0.0.12526"}]})
    output = _run(host, "try { Get-Service -Name ntrtscan -ErrorAction Stop } catch {\n"
                        "  $_.Exception.GetType().FullName\n"
                        "  $_.Exception.ErrorRecord.Exception.Message\n"
                        "  $_.Exception.ErrorRecord.Exception.InnerException.NativeErrorCode }")
    assert output == ["System.Management.Automation.ActionPreferenceStopException",
                      "Cannot open ntrtscan service on computer '.'.", 5]
    newer = build_host("new", {"os": "ws2019", "agents": [{"product": "apex_one", "version": "14.0.0.12526"}]})
    assert _run(newer, "[string](Get-Service -Name ntrtscan -ErrorAction Stop).Status") == ["Running"]


def test_interpreter_process_view_language_mode_and_bitness():
    wow = build_host("wow", {"os": "ws2019", "powershell_bits": 32})
    assert _run(wow, "[IntPtr]::Size; $env:PROCESSOR_ARCHITEW6432; $ExecutionContext.SessionState.LanguageMode") == [
        4, "AMD64", "FullLanguage"]
    assert _run(wow, "$null -eq [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey("
                     "'SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Component Based Servicing\\Packages', $false)") == [True]
    native = _host(language_mode="ConstrainedLanguage")
    assert _run(native, "[IntPtr]::Size; [string]::IsNullOrEmpty($env:PROCESSOR_ARCHITEW6432); "
                        "$ExecutionContext.SessionState.LanguageMode") == [8, True, "ConstrainedLanguage"]
