"""The psrp connection plugin end to end: real ansible-playbook, real pypsrp, the emulated PSRP endpoint.

The same fixture hosts are addressed once with ``ansible_connection=winrm`` (a cmd shell running
powershell.exe) and once with ``ansible_connection=psrp`` (a RunspacePool on the
Microsoft.PowerShell endpoint of the same listener); the evidence and the verdict must not depend
on the plugin. A misconfigured psrp host must stay in the report as unreachable, with the reason.
"""

from __future__ import annotations

import json
import pathlib
import socket

import pytest
import yaml

from emulator.fleet import build_fleet, host_config
from emulator.windows import load_fleet
from emulator.wsman import Fleet
from support.e2e import E2E, run_playbook

GATHER = E2E / "playbooks" / "gather.yml"
# A 2019, a 2012 R2 and a PowerShell 2.0 host (Windows PowerShell 2.0 serves PSRP 2.1 over WinRM 2.0),
# plus an NTLM host (sealed messages over http) and two HTTPS hosts (NTLM and Basic).
HOSTS = ["w2019-2210", "w2012r2-oct2021", "w2008r2-esu-ready", "w2012r2-seconly", "w2022-current", "win10-21h2-1288",
         "w2016-ready"]
FAST = ["-e", "acs_readiness_gather_timeout=3", "-e", "acs_readiness_command_timeout=15"]
# Create (opens the pool), Receive (pool opened), Command (pipeline), Send (the runner as input),
# Receive (output, state, Done), Delete: the same six HTTP requests as over winrm with Basic.
BASIC_REQUESTS = 6


def _verdict(run, name: str) -> dict:
    return run.last(name, "ansible.builtin.set_fact")["result"]["ansible_facts"]["acs_test_verdict"]


def _acs(run, name: str) -> dict:
    return run.last(name, "codesign.windows.acs_facts")["result"]["ansible_facts"]["acs"]


@pytest.fixture(scope="module")
def psrp_fleet(tmp_path_factory):
    with build_fleet(HOSTS) as running:
        directory = tmp_path_factory.mktemp("psrp-fleet")
        running.winrm_inventory = running.inventory(directory / "winrm.yml", operation_timeout_sec=2,
                                                    read_timeout_sec=4, plugin="winrm")
        running.psrp_inventory = running.inventory(directory / "psrp.yml", operation_timeout_sec=2,
                                                   read_timeout_sec=4, plugin="psrp")
        yield running


@pytest.fixture(scope="module")
def gathered(psrp_fleet, tmp_path_factory):
    """The gather playbook over winrm, then over psrp; the psrp run's per-host request counts."""
    psrp_fleet.reset_stats()
    over_winrm = run_playbook(GATHER, psrp_fleet.winrm_inventory, tmp_path_factory.mktemp("winrm"))
    psrp_fleet.winrm_requests = {host.name: host.stats().protocol_requests for host in psrp_fleet}
    psrp_fleet.reset_stats()
    over_psrp = run_playbook(GATHER, psrp_fleet.psrp_inventory, tmp_path_factory.mktemp("psrp"))
    stats = {host.name: host.stats() for host in psrp_fleet}
    return over_winrm, over_psrp, stats


def test_inventory_addresses_hosts_through_psrp(psrp_fleet):
    text = pathlib.Path(psrp_fleet.psrp_inventory).read_text(encoding="utf-8")
    assert "ansible_connection: psrp" in text and "ansible_connection: winrm" not in text
    assert "ansible_psrp_auth: ntlm" in text and "ansible_psrp_protocol: https" in text


def test_a_fixture_can_ask_for_psrp(tmp_path):
    model = load_fleet(["w2012r2-seconly"])[0]
    model.connection = {**model.connection, "plugin": "psrp"}
    with Fleet([host_config(model)]) as running:
        text = running.inventory(tmp_path / "hosts.yml").read_text(encoding="utf-8")
    assert "ansible_connection: psrp" in text and "ansible_psrp_auth: ntlm" in text
    assert "ansible_psrp_message_encryption: auto" in text


@pytest.mark.parametrize("name", HOSTS)
def test_psrp_gives_the_same_evidence_and_verdict_as_winrm(gathered, name):
    over_winrm, over_psrp, _stats = gathered
    assert over_psrp.last(name, "codesign.windows.acs_facts")["status"] == "ok", over_psrp.host_results(name)
    assert over_winrm.last(name, "codesign.windows.acs_facts")["status"] == "ok", over_winrm.host_results(name)
    assert _acs(over_psrp, name)["evidence"] == _acs(over_winrm, name)["evidence"]
    assert _acs(over_psrp, name)["runner"]["powershell"] == _acs(over_winrm, name)["runner"]["powershell"]
    assert _verdict(over_psrp, name) == _verdict(over_winrm, name)


def test_powershell_2_host_answers_over_psrp(gathered):
    _winrm, over_psrp, _stats = gathered
    facts = _acs(over_psrp, "w2008r2-esu-ready")
    assert facts["runner"]["powershell"] == "2.0"
    assert "KB5006743" in facts["evidence"]["hotfixes"]
    assert _verdict(over_psrp, "w2008r2-esu-ready")["status"] == "ready"


def test_one_pipeline_and_few_requests_per_host(gathered, psrp_fleet):
    _winrm, _psrp, stats = gathered
    for name in HOSTS:
        host = stats[name]
        assert host.commands_run == 1, (name, host)
        assert host.actions.get("Create") == 1 and host.actions.get("Delete") == 1, (name, host.actions)
        assert host.errors == (), (name, host.errors)
    for name in ("w2019-2210", "w2012r2-oct2021", "w2008r2-esu-ready"):
        assert stats[name].protocol_requests == BASIC_REQUESTS, (name, stats[name])
    for name in HOSTS:  # NTLM and HTTPS add only their authentication round trips, as over winrm
        assert stats[name].protocol_requests <= psrp_fleet.winrm_requests[name], (name, stats[name].requests,
                                                                                  psrp_fleet.winrm_requests[name])
    print("HTTP requests per host, psrp:", {name: stats[name].requests for name in HOSTS},
          "winrm:", psrp_fleet.winrm_requests)


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# Each a mistake an admin makes in an inventory, and what the report must say about it.
MISCONFIGURED = {
    "w2012r2-oct2021": ({"ansible_port": _unused_port()}, "Connection refused"),
    "w2008r2-esu-ready": ({"ansible_password": "not-the-password"},
                          "failed to authenticate with the server: Failed to authenticate the user ansible with basic"),
    # NTLM on a host whose listener offers Basic only.
    "w2016-ready": ({"ansible_psrp_auth": "ntlm"}, "did not response with one of the following authentication methods"),
    # Basic over http while message encryption stays "auto": pypsrp refuses before any request.
    "w2012r2-seconly": ({"ansible_psrp_auth": "basic"}, "Cannot use message encryption with auth 'basic'"),
    # http to an https listener.
    "win10-21h2-1288": ({"ansible_psrp_protocol": "http", "ansible_psrp_message_encryption": "never"},
                        "Failed to connect to the host via PSRP"),
}


@pytest.fixture(scope="module")
def assessed_with_mistakes(psrp_fleet, tmp_path_factory):
    work = tmp_path_factory.mktemp("psrp-assess")
    document = yaml.safe_load(pathlib.Path(psrp_fleet.psrp_inventory).read_text(encoding="utf-8"))
    hosts = document["all"]["children"]["windows"]["hosts"]
    for name, (overrides, _reason) in MISCONFIGURED.items():
        hosts[name].update(overrides)
    inventory = work / "psrp-mistakes.yml"
    inventory.write_text(yaml.safe_dump(document), encoding="utf-8")
    reports = work / "reports"
    run = run_playbook("codesign.windows.assess", inventory, work, ["-e", f"acs_readiness_report_dir={reports}", *FAST])
    report = json.loads((reports / "acs-readiness.json").read_text(encoding="utf-8"))
    return run, {record["host"]: record for record in report["hosts"]}


def test_role_report_lists_psrp_hosts_with_their_verdict(assessed_with_mistakes, gathered):
    _run, records = assessed_with_mistakes
    over_winrm, _psrp, _stats = gathered
    assert set(records) == set(HOSTS), "no host may be silently missing"
    for name in set(HOSTS) - set(MISCONFIGURED):
        assert records[name]["status"] == _verdict(over_winrm, name)["status"], (name, records[name])


@pytest.mark.parametrize("name", sorted(MISCONFIGURED))
def test_psrp_misconfiguration_is_reported_unreachable_with_the_reason(assessed_with_mistakes, name):
    run, records = assessed_with_mistakes
    _overrides, reason = MISCONFIGURED[name]
    assert records[name]["status"] == "unreachable", records[name]
    assert reason in records[name]["error"], records[name]["error"]
    assert "Traceback" not in records[name]["error"]
    assert run.stats[name]["changed"] == 0


# --------------------------------------------------------------------------- faulty hosts over psrp

# What pypsrp and the psrp plugin make of each network fault; the outcome (failed or unreachable)
# is the fixture's own, only the wording differs from winrm's.
PSRP_FAULT_REASONS = {
    "fault-badcreds": "failed to authenticate with the server",
    "fault-down": "Connection refused",
    "fault-dropped": "Connection aborted",
    "fault-unencrypted": "Code: 500",
    "fault-garbled": "not JSON",
    "fault-truncated": "truncated or garbled",
    "fault-hang": "gave no answer",
}


@pytest.fixture(scope="module")
def faults_over_psrp(tmp_path_factory, fleet_models):
    names = [name for name in fleet_models if name.startswith("fault-")]
    work = tmp_path_factory.mktemp("psrp-faults")
    with build_fleet(names) as running:
        inventory = running.inventory(work / "hosts.yml", operation_timeout_sec=2, read_timeout_sec=4, plugin="psrp")
        yield run_playbook(GATHER, inventory, work), names


def test_faulty_hosts_fail_or_are_unreachable_over_psrp_as_over_winrm(faults_over_psrp, fleet_models):
    run, names = faults_over_psrp
    assert set(PSRP_FAULT_REASONS) <= set(names)
    for name in names:
        expect = fleet_models[name].expect
        facts = run.last(name, "codesign.windows.acs_facts")
        if "status" in expect:
            assert facts["status"] == "ok", (name, facts)
            assert _verdict(run, name)["status"] == expect["status"], name
            continue
        assert facts["status"] == ("unreachable" if "unreachable" in expect else "failed"), (name, facts)
        assert PSRP_FAULT_REASONS[name] in facts["result"]["msg"], (name, facts["result"]["msg"])
        assert "Traceback" not in facts["result"]["msg"]


# --------------------------------------------------------------------------- the PSRP endpoint itself


def _runspace_pool(host, **wsman_options):
    from pypsrp.powershell import RunspacePool  # pylint: disable=import-outside-toplevel
    from pypsrp.wsman import WSMan  # pylint: disable=import-outside-toplevel

    wsman = WSMan(host.address, port=host.port, username=host.config.username, password=host.config.password,
                  ssl=False, auth="basic", encryption="never", **wsman_options)
    return RunspacePool(wsman, configuration_name=wsman_options.pop("configuration_name", "Microsoft.PowerShell"))


@pytest.fixture(scope="module")
def endpoint_fleet():
    with build_fleet(["w2019-2210", "w2008r2-esu-ready", "w2008-nopowershell"]) as running:
        yield running


def test_a_script_error_fails_the_pipeline_with_an_error_record(endpoint_fleet):
    from pypsrp.powershell import PowerShell  # pylint: disable=import-outside-toplevel

    with _runspace_pool(endpoint_fleet["w2008r2-esu-ready"]) as pool:
        shell = PowerShell(pool)
        shell.add_script("Get-Thing {")
        assert shell.invoke() == []
        assert shell.had_errors
        assert "syntax error" in str(shell.streams.error[0]) and "(PowerShell 2.0)" in str(shell.streams.error[0])
        assert pool.protocol_version == "2.1"  # what Windows PowerShell 2.0 announces
        ok = PowerShell(pool)
        ok.add_script("$PSVersionTable.PSVersion.ToString()")
        assert ok.invoke() == ["2.0"] and not ok.had_errors


def test_output_larger_than_an_envelope_comes_in_several_receives(endpoint_fleet):
    from pypsrp.powershell import PowerShell  # pylint: disable=import-outside-toplevel

    host = endpoint_fleet["w2019-2210"]
    text = "x" * 40_000
    host.reset_stats()
    with _runspace_pool(host, max_envelope_size=16_384) as pool:
        shell = PowerShell(pool)
        shell.add_script(f"Write-Output '{text}'")
        assert shell.invoke() == [text]
    assert host.stats().actions["Receive"] >= 1 + 3, host.stats()


def test_no_powershell_no_endpoint(endpoint_fleet):
    from pypsrp.exceptions import WSManFaultError  # pylint: disable=import-outside-toplevel

    with pytest.raises(WSManFaultError, match="Cannot find the Microsoft.PowerShell session configuration"):
        with _runspace_pool(endpoint_fleet["w2008-nopowershell"]):
            pass
    with pytest.raises(WSManFaultError, match="Cannot find the JEA session configuration"):
        with _runspace_pool(endpoint_fleet["w2019-2210"], configuration_name="JEA"):
            pass


def test_a_hung_pipeline_times_out_quietly_and_stops_on_signal(endpoint_fleet):
    from pypsrp.complex_objects import PSInvocationState  # pylint: disable=import-outside-toplevel
    from pypsrp.powershell import PowerShell  # pylint: disable=import-outside-toplevel

    host = endpoint_fleet["w2019-2210"]
    host.config.faults.hang = True
    try:
        with _runspace_pool(host, operation_timeout=1, read_timeout=3) as pool:
            shell = PowerShell(pool)
            shell.add_script("hostname")
            shell.begin_invoke()
            for _attempt in range(3):  # each Receive: the Running state or, after OperationTimeout, the TimedOut fault
                shell.poll_invoke()
            assert shell.state == PSInvocationState.RUNNING and shell.output == []
            shell.stop()
            assert shell.state == PSInvocationState.STOPPED
    finally:
        host.config.faults.hang = False
    assert host.stats().actions["Signal"] == 1
