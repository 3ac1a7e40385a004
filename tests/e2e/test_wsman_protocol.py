"""The emulated WinRM endpoint, driven by the real clients: pywinrm and ansible-playbook.

Every check goes through a real TCP connection on loopback and asserts what a user of pywinrm
or Ansible sees (results, error messages), plus the per-host counters the emulator keeps.
Stub backends stand in for the Windows host model: they echo the decoded PowerShell script.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import winrm
import xmltodict
from winrm.exceptions import InvalidCredentialsError, WinRMOperationTimeoutError, WinRMTransportError, WSManFaultError

from emulator.cmdline import (
    ENCODED_COMMAND_ERROR,
    join_command_line,
    parse_ansible_exec_wrapper,
    parse_powershell_command_line,
    split_command_line,
)
from emulator.wsman import CommandResult, EmulatedHost, Faults, Fleet, HostConfig

REPO = Path(__file__).resolve().parents[2]
PONG = {"changed": False, "ping": "pong"}


# ---------------------------------------------------------------------------- stub backends


class EchoBackend:
    """Answers like a host that echoes the PowerShell script it was given.

    * Ansible module runs (exec-wrapper stdin for ``win_ping``): the module's JSON result.
    * ``-EncodedCommand`` / ``-Command`` lines: the decoded script, then the stdin length.
    * A broken ``-EncodedCommand``: rc 1 and powershell.exe's error text on stderr.
    * Scripts starting with ``big``: 60,000 numbered lines (540 KB).
    """

    name = "echo"

    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes]] = []  # list.append is atomic: safe across threads
        self.called = threading.Event()

    def run_command(self, command_line: str, stdin: bytes) -> CommandResult:
        self.calls.append((command_line, stdin))
        self.called.set()
        payload = parse_ansible_exec_wrapper(stdin)
        if payload is not None:
            if payload.action == "module_wrapper.ps1" and payload.module_fqcn == "ansible.windows.win_ping":
                return CommandResult(0, json.dumps(PONG).encode() + b"\r\n")
            return CommandResult(1, json.dumps({"failed": True, "msg": f"unexpected {payload.action}"}).encode())
        parsed = parse_powershell_command_line(command_line)
        if parsed.error:
            return CommandResult(1, b"", parsed.error.encode() + b"\r\n")
        script = parsed.script if parsed.script is not None else command_line
        if script.startswith("big"):
            return CommandResult(0, big_output())
        stdin_note = f" stdin={len(stdin)}" if stdin else ""
        return CommandResult(0, f"{script}{stdin_note}\r\n".encode())


class FixedBackend:
    """Answers every command with the same result."""

    name = "fixed"

    def __init__(self, result: CommandResult) -> None:
        self.result = result

    def run_command(self, command_line: str, stdin: bytes) -> CommandResult:
        return self.result


def big_output() -> bytes:
    return b"".join(b"%07d\r\n" % number for number in range(60_000))


def free_port(addresses: list[str]) -> int:
    """A port that is free on every one of the addresses (for hosts sharing one port number)."""
    for _attempt in range(20):
        with contextlib.ExitStack() as probes:
            first = probes.enter_context(socket.socket())
            first.bind((addresses[0], 0))
            port = first.getsockname()[1]
            try:
                for address in addresses[1:]:
                    probes.enter_context(socket.socket()).bind((address, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no port free on all of {addresses}")


def encoded_ps(script: str) -> str:
    return base64.b64encode(script.encode("utf-16-le")).decode("ascii")


# ---------------------------------------------------------------------------- running Ansible

RESULT_LINE = re.compile(
    r"^(?P<status>ok|changed|fatal|failed|skipping): \[(?P<host>[^\]]+)\](?:: (?P<kind>[A-Z]+)!)? => (?P<json>\{.*\})$"
)


@dataclass
class TaskOutcome:
    status: str  # ok, changed, failed, unreachable, skipping
    result: dict[str, Any]

    @property
    def msg(self) -> str:
        return str(self.result.get("msg", ""))


@dataclass
class PlaybookRun:
    rc: int
    output: str
    seconds: float
    outcomes: dict[str, list[TaskOutcome]] = field(default_factory=dict)

    def outcome(self, host: str) -> TaskOutcome:
        """The host's result for the last task it ran."""
        assert host in self.outcomes, f"no result for {host}:\n{self.output}"
        return self.outcomes[host][-1]


def run_playbook(tmp_path: Path, inventory: Path, playbook: str) -> PlaybookRun:
    """Run ansible-playbook as a user would; collect each host's task results from its output."""
    playbook_path = tmp_path / "playbook.yml"
    playbook_path.write_text(playbook, encoding="utf-8")
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=os.environ.get("ANSIBLE_COLLECTIONS_PATH", str(REPO / ".work" / "collections")),
        ANSIBLE_CONFIG=os.environ.get("ANSIBLE_CONFIG", str(REPO / "tests" / "ansible.cfg")),
        ANSIBLE_CALLBACK_FORMAT_PRETTY="false",  # one result per line: easy to read back
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-local"),
    )
    command = [sys.executable, str(Path(sys.executable).parent / "ansible-playbook"), "-v", "-i", str(inventory),
               str(playbook_path)]
    started = time.monotonic()
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    run = PlaybookRun(completed.returncode, completed.stdout + completed.stderr, time.monotonic() - started)
    for line in completed.stdout.splitlines():
        match = RESULT_LINE.match(line)
        if match:
            status = (match["kind"] or match["status"]).lower()
            run.outcomes.setdefault(match["host"], []).append(TaskOutcome(status, json.loads(match["json"])))
    return run


RAW_PLAY = """
- hosts: all
  gather_facts: false
  tasks:
    - name: raw command
      raw: "{{ raw_command | default('Write-Output hello') }}"
      timeout: 5
"""

WIN_PING_PLAY = """
- hosts: all
  gather_facts: false
  tasks:
    - name: module over stdin
      ansible.windows.win_ping:
        data: pong
"""


# ---------------------------------------------------------------------------- transports

TRANSPORT_HOSTS = {
    # name: (HostConfig keyword arguments, extra requests for authentication per connection)
    "basic": ({"transport": "basic"}, 0),
    "ntlm": ({"transport": "ntlm"}, 3),  # empty POST -> 401, negotiate -> 401 challenge, authenticate -> 200
    "ntlm-plain": ({"transport": "ntlm", "message_encryption": "never"}, 2),
    "https-basic": ({"transport": "https"}, 0),
    "https-ntlm": ({"transport": "https", "https_auth": "ntlm"}, 2),  # no message encryption over TLS
}


@pytest.fixture(scope="module")
def transport_fleet() -> Iterator[Fleet]:
    """One host per transport, on distinct loopback addresses sharing one port (as real hosts do)."""
    addresses = [f"127.0.3.{21 + index}" for index in range(len(TRANSPORT_HOSTS))]
    port = free_port(addresses)
    configs = [
        HostConfig(name, EchoBackend(), address=address, port=port, **kwargs)
        for address, (name, (kwargs, _auth)) in zip(addresses, TRANSPORT_HOSTS.items())
    ]
    with Fleet(configs) as fleet:
        yield fleet


def client_options(host: EmulatedHost, kwargs: dict[str, Any]) -> dict[str, Any]:
    """pywinrm settings matching the host's configuration (what its inventory entry says)."""
    options = {
        "transport": host.config.client_auth,
        "message_encryption": host.config.message_encryption,
        # Also keeps pywinrm from reading a CA bundle from the environment on plain http.
        "server_cert_validation": "ignore",
    }
    options.update(kwargs)
    return options


def session(host: EmulatedHost, password: str | None = None, **kwargs: Any) -> winrm.Session:
    auth = (host.config.username, host.config.password if password is None else password)
    return winrm.Session(host.endpoint, auth=auth, **client_options(host, kwargs))


def protocol(host: EmulatedHost, **kwargs: Any) -> winrm.Protocol:
    return winrm.Protocol(host.endpoint, username=host.config.username, password=host.config.password,
                          **client_options(host, kwargs))


@pytest.mark.parametrize("name", list(TRANSPORT_HOSTS))
def test_pywinrm_runs_powershell_and_cmd_over_each_transport(transport_fleet: Fleet, name: str) -> None:
    host = transport_fleet[name]
    host.reset_stats()
    client = session(host)

    response = client.run_ps("Write-Output 'héllo wörld'")
    expected = "Write-Output 'héllo wörld'\r\n".encode()
    assert (response.status_code, response.std_out, response.std_err) == (0, expected, b"")

    response = client.run_cmd("ipconfig", ["/all"])
    assert response.std_out == b"ipconfig /all\r\n"
    assert host.config.backend.calls[-1] == ("ipconfig /all", b"")

    stats = host.stats()
    assert stats.actions == {"Create": 2, "Command": 2, "Receive": 2, "Signal": 2, "Delete": 2}
    assert stats.errors == ()


def test_ansible_raw_over_each_transport(transport_fleet: Fleet, tmp_path: Path) -> None:
    transport_fleet.reset_stats()
    inventory = transport_fleet.inventory(tmp_path / "hosts.yml", operation_timeout_sec=5)

    run = run_playbook(tmp_path, inventory, RAW_PLAY)

    assert run.rc == 0, run.output
    for name, (_kwargs, auth_requests) in TRANSPORT_HOSTS.items():
        outcome = run.outcome(name)
        assert outcome.status == "changed", (name, outcome)
        assert outcome.result["stdout"] == "Write-Output hello\r\n"
        stats = transport_fleet.stats(name)
        assert stats.actions == {"Create": 1, "Command": 1, "Receive": 1, "Signal": 1, "Delete": 1}, name
        assert stats.requests == 5 + auth_requests, name
        assert stats.auth_requests == auth_requests, name
        assert stats.errors == ()


def test_ansible_module_over_each_transport(transport_fleet: Fleet, tmp_path: Path) -> None:
    transport_fleet.reset_stats()
    inventory = transport_fleet.inventory(tmp_path / "hosts.yml", operation_timeout_sec=5)

    run = run_playbook(tmp_path, inventory, WIN_PING_PLAY)

    assert run.rc == 0, run.output
    for name, (_kwargs, auth_requests) in TRANSPORT_HOSTS.items():
        outcome = run.outcome(name)
        assert (outcome.status, outcome.result) == ("ok", PONG), name
        stats = transport_fleet.stats(name)
        assert stats.actions == {"Create": 1, "Command": 1, "Send": 1, "Receive": 1, "Signal": 1, "Delete": 1}, name
        assert stats.requests == 6 + auth_requests, name

    # The payload Ansible really sent, as the host model will read it.
    command_line, stdin = transport_fleet["basic"].config.backend.calls[-1]
    assert transport_fleet.stats("basic").recent_commands[-1] == (command_line, len(stdin))
    bootstrap = parse_powershell_command_line(command_line)
    assert bootstrap.is_powershell and bootstrap.encoded and bootstrap.script
    payload = parse_ansible_exec_wrapper(stdin)
    assert payload is not None
    assert payload.action == "module_wrapper.ps1"
    assert payload.module == "ansible_collections.ansible.windows.plugins.modules.win_ping.ps1"
    assert payload.module_fqcn == "ansible.windows.win_ping"
    assert payload.module_args == {"data": "pong"}
    assert payload.check_mode is False
    assert payload.ansible_args["_ansible_module_name"] == "ansible.windows.win_ping"
    assert "Ansible.Basic.cs" in payload.scripts
    assert "Ansible.Basic" in payload.script_source(payload.module)
    assert payload.extra_input == b""


# ---------------------------------------------------------------------------- protocol details


class RecordingTransport:
    """Wraps pywinrm's transport to keep every request and response envelope."""

    def __init__(self, transport: Any) -> None:
        self.inner = transport
        self.exchanges: list[tuple[bytes, bytes]] = []

    def send_message(self, message: str | bytes) -> bytes:
        response = self.inner.send_message(message)
        self.exchanges.append((message.encode() if isinstance(message, str) else message, response))
        return response

    def close_session(self) -> None:
        self.inner.close_session()


def header_text(envelope: bytes, tag: str) -> str:
    node = next(node for node in ET.fromstring(envelope).iter() if node.tag.endswith(tag))
    return node.text or ""


@pytest.fixture
def single_host() -> Iterator[Any]:
    """A factory for a one-host fleet, stopped after the test."""
    fleets: list[Fleet] = []

    def start(backend: Any, **kwargs: Any) -> Fleet:
        fleet = Fleet([HostConfig("win01", backend, **kwargs)]).start()
        fleets.append(fleet)
        return fleet

    yield start
    for fleet in fleets:
        fleet.stop()


def test_large_output_is_split_over_receives_within_envelope_size(single_host: Any) -> None:
    stdout = os.urandom(700_000)
    stderr = os.urandom(90_000)
    fleet = single_host(FixedBackend(CommandResult(3, stdout, stderr)))
    client = protocol(fleet["win01"])
    recorder = RecordingTransport(client.transport)
    client.transport = recorder  # type: ignore[assignment]

    shell_id = client.open_shell()
    command_id = client.run_command(shell_id, "type", ["blob.bin"])
    out, err, rc = client.get_command_output(shell_id, command_id)
    client.cleanup_command(shell_id, command_id)
    client.close_shell(shell_id)

    assert (out, err, rc) == (stdout, stderr, 3)
    receives = [response for request, response in recorder.exchanges if b"shell/Receive<" in request]
    assert len(receives) >= 6  # 1.05 MB of base64 in envelopes of at most 150 KB
    assert all(len(response) <= 153_600 for response in receives)
    assert [response.count(b"CommandState/Done") for response in receives] == [0] * (len(receives) - 1) + [1]
    for request, response in recorder.exchanges:
        assert header_text(response, "RelatesTo") == header_text(request, "MessageID")


def test_receive_honours_a_small_max_envelope_size(single_host: Any) -> None:
    stdout = bytes(range(256)) * 200
    fleet = single_host(FixedBackend(CommandResult(0, stdout)))
    client = protocol(fleet["win01"])
    shell_id = client.open_shell()
    command_id = client.run_command(shell_id, "type", ["blob.bin"])

    chunks, sizes, done = [], [], False
    while not done:
        request = {"env:Envelope": client.build_wsman_header(
            action="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive",
            resource_uri="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd",
            shell_id=shell_id,
        )}
        request["env:Envelope"]["env:Header"]["w:MaxEnvelopeSize"]["#text"] = "8192"
        stream = request["env:Envelope"].setdefault("env:Body", {}).setdefault("rsp:Receive", {})
        stream["rsp:DesiredStream"] = {"@CommandId": command_id, "#text": "stdout stderr"}
        response = client.send_message(xmltodict.unparse(request))
        sizes.append(len(response))
        for node in ET.fromstring(response).iter():
            if node.tag.endswith("Stream") and node.text:
                assert node.get("Name") == "stdout"
                chunks.append(base64.b64decode(node.text))
        done = b"CommandState/Done" in response
    client.close_shell(shell_id)

    assert b"".join(chunks) == stdout
    assert len(sizes) >= 7 and max(sizes) <= 8192


def test_receive_waits_for_stdin_then_runs_the_command_once(single_host: Any) -> None:
    backend = EchoBackend()
    fleet = single_host(backend)
    client = protocol(fleet["win01"], operation_timeout_sec=1, read_timeout_sec=3)
    shell_id = client.open_shell()
    command_id = client.run_command(shell_id, "powershell", ["-Command", "-"], console_mode_stdin=False)

    # No stdin yet: Windows answers TimedOut after OperationTimeout, never Done.
    with pytest.raises(WinRMOperationTimeoutError):
        client.get_command_output_raw(shell_id, command_id)
    assert backend.calls == []

    client.send_command_input(shell_id, command_id, b"Get-Date\r\n")
    client.send_command_input(shell_id, command_id, b"exit\r\n", end=True)
    out, _err, rc = client.get_command_output(shell_id, command_id)
    client.close_shell(shell_id)

    assert (out, rc) == (b"- stdin=16\r\n", 0)
    assert backend.calls == [("powershell -Command -", b"Get-Date\r\nexit\r\n")]


def test_slow_command_answers_after_operation_timeouts(single_host: Any) -> None:
    fleet = single_host(EchoBackend(), faults=Faults(delay_seconds=1.5))
    response = session(fleet["win01"], operation_timeout_sec=1, read_timeout_sec=3).run_ps("Start-Sleep 1")

    assert response.std_out == b"Start-Sleep 1\r\n"
    assert fleet.stats("win01").actions["Receive"] >= 2  # TimedOut fault(s), then the result


def test_unknown_shell_is_the_shell_not_found_fault(single_host: Any) -> None:
    fleet = single_host(EchoBackend())
    with pytest.raises(WSManFaultError) as fault:
        protocol(fleet["win01"]).run_command(str(uuid.uuid4()).upper(), "hostname")

    assert fault.value.wsman_fault_code == 2150858843
    assert "shell was not found" in fault.value.reason


def test_host_goes_down_and_comes_back_like_after_a_reboot(single_host: Any) -> None:
    fleet = single_host(EchoBackend(), transport="ntlm")
    host = fleet["win01"]
    shell_id = protocol(host).open_shell()

    host.go_down()
    with pytest.raises(requests.exceptions.ConnectionError):
        session(host).run_cmd("hostname")

    host.come_up()
    with pytest.raises(WSManFaultError) as fault:
        protocol(host).run_command(shell_id, "hostname")  # no shell survives a reboot
    assert fault.value.wsman_fault_code == 2150858843
    assert session(host).run_cmd("hostname").std_out == b"hostname\r\n"


@pytest.mark.parametrize("transport", ["basic", "ntlm"])
def test_wrong_password_is_rejected(single_host: Any, transport: str) -> None:
    fleet = single_host(EchoBackend(), transport=transport)
    with pytest.raises(InvalidCredentialsError, match="credentials were rejected"):
        session(fleet["win01"], password="not-the-password").run_cmd("hostname")
    assert fleet.stats("win01").actions == {}


def test_refuse_unencrypted_answers_500_unless_the_message_is_sealed(single_host: Any) -> None:
    ntlm_host = single_host(EchoBackend(), transport="ntlm", faults=Faults(refuse_unencrypted=True))["win01"]
    https_host = single_host(EchoBackend(), transport="https", faults=Faults(refuse_unencrypted=True))["win01"]

    with pytest.raises(WinRMTransportError) as error:
        session(ntlm_host, message_encryption="never").run_cmd("hostname")
    assert (error.value.code, error.value.response_text) == (500, "")
    assert session(ntlm_host).run_cmd("hostname").std_out == b"hostname\r\n"  # sealed with NTLM
    assert session(https_host).run_cmd("hostname").std_out == b"hostname\r\n"  # Basic inside TLS


def test_hosts_on_one_port_at_distinct_loopback_addresses() -> None:
    backends = {name: EchoBackend() for name in ("win-a", "win-b")}
    addresses = ["127.0.3.31", "127.0.3.32"]
    port = free_port(addresses)
    configs = [HostConfig(name, backend, address=address, port=port)
               for address, (name, backend) in zip(addresses, backends.items())]
    with Fleet(configs) as fleet:
        for name in backends:
            assert fleet[name].port == port
            session(fleet[name]).run_cmd(name)
    assert [backend.calls for backend in backends.values()] == [[("win-a", b"")], [("win-b", b"")]]


@pytest.mark.parametrize("excess", [0, 1, 1000])
def test_command_line_longer_than_cmd_exe_allows_is_refused_whole(single_host: Any, excess: int) -> None:
    backend = EchoBackend()
    fleet = single_host(backend)
    script = "Write-Output '" + "x" * 2900 + "'"
    encoded = encoded_ps(script)
    blanks = " " * (8191 + excess - len("powershell -encodedcommand ") - len(encoded))
    line = f"powershell {blanks}-encodedcommand {encoded}"  # blanks between words change only the length
    assert len(line) == 8191 + excess

    response = session(fleet["win01"]).run_cmd(line)

    if excess == 0:  # 8,191 characters: cmd.exe runs it
        assert (response.status_code, response.std_out.decode().rstrip()) == (0, script)
    else:  # cmd.exe runs none of it: no prefix, no partial script
        assert (response.status_code, response.std_out, response.std_err) == (
            1, b"", b"The command line is too long.\r\n")
        assert all(len(call[0]) <= 8191 for call in backend.calls)


def test_command_line_without_cmd_exe_is_not_held_to_its_limit(single_host: Any) -> None:
    backend = EchoBackend()
    fleet = single_host(backend)
    line = "powershell -encodedcommand " + encoded_ps("Write-Output '" + "x" * 5000 + "'")
    client = session(fleet["win01"])
    shell_id = client.protocol.open_shell(codepage=65001)
    try:
        command_id = client.protocol.run_command(shell_id, line, skip_cmd_shell=True)
        _out, _err, rc = client.protocol.get_command_output(shell_id, command_id)
    finally:
        client.protocol.close_shell(shell_id)
    assert len(line) > 8191 and rc == 0
    assert backend.calls[-1][0] == line


def test_stop_releases_a_waiting_receive_and_all_threads() -> None:
    backend = EchoBackend()
    fleet = Fleet([HostConfig("win-stop", backend, faults=Faults(delay_seconds=60))]).start()
    client = session(fleet["win-stop"], operation_timeout_sec=30, read_timeout_sec=40)
    errors: list[BaseException] = []

    def run_command() -> None:
        try:
            client.run_cmd("hostname")
        except BaseException as exc:  # noqa: BLE001  (collected for the assertion below)
            errors.append(exc)

    thread = threading.Thread(target=run_command)
    try:
        thread.start()
        assert backend.called.wait(10), "the command never started"
        started = time.monotonic()
    finally:
        fleet.stop()
    thread.join(10)

    assert time.monotonic() - started < 5
    assert not thread.is_alive()
    assert errors and isinstance(errors[0], requests.exceptions.ConnectionError)
    assert not [t.name for t in threading.enumerate() if t.name.startswith("wsman-win-stop-")]


# ---------------------------------------------------------------------------- faults seen by Ansible

TOO_LONG_COMMAND = "Write-Output '" + "x" * 9000 + "'"


@pytest.fixture(scope="module")
def fault_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Fleet, PlaybookRun]]:
    """One play over a fleet where every host but ``healthy`` misbehaves in its own way."""
    tmp_path = tmp_path_factory.mktemp("faults")

    def host(name: str, **kwargs: Any) -> HostConfig:
        return HostConfig(name, EchoBackend(), **kwargs)

    configs = [
        host("healthy"),
        host("rejecting", faults=Faults(reject_credentials=True)),
        host("wrong-password", transport="ntlm", inventory_vars={"ansible_password": "not-the-password"}),
        host("no-unencrypted", faults=Faults(refuse_unencrypted=True)),
        host("down", down=True),
        host("dropping", faults=Faults(drop_on_receive=True)),
        host("hung", faults=Faults(hang=True)),
        host("slow", faults=Faults(delay_seconds=2.5)),
        host("big", inventory_vars={"raw_command": "big output"}),
        host("long-line", inventory_vars={"raw_command": TOO_LONG_COMMAND}),
        host("progress", faults=Faults(stdout_transform="clixml")),
    ]
    with Fleet(configs) as fleet:
        inventory = fleet.inventory(tmp_path / "hosts.yml", operation_timeout_sec=1, read_timeout_sec=3)
        yield fleet, run_playbook(tmp_path, inventory, RAW_PLAY)


@pytest.mark.parametrize("name", ["rejecting", "wrong-password"])
def test_ansible_wrong_credentials_unreachable(fault_run: tuple[Fleet, PlaybookRun], name: str) -> None:
    _fleet, run = fault_run
    outcome = run.outcome(name)
    assert outcome.status == "unreachable"
    assert "the specified credentials were rejected by the server" in outcome.msg


def test_ansible_unencrypted_refused_is_code_500(fault_run: tuple[Fleet, PlaybookRun]) -> None:
    _fleet, run = fault_run
    outcome = run.outcome("no-unencrypted")
    assert outcome.status == "unreachable"
    assert "basic: Bad HTTP response returned from server. Code 500" in outcome.msg


def test_ansible_down_host_unreachable(fault_run: tuple[Fleet, PlaybookRun]) -> None:
    _fleet, run = fault_run
    outcome = run.outcome("down")
    assert outcome.status == "unreachable"
    assert "Connection refused" in outcome.msg


def test_ansible_dropped_receive_fails_clearly(fault_run: tuple[Fleet, PlaybookRun]) -> None:
    fleet, run = fault_run
    outcome = run.outcome("dropping")
    assert outcome.status in ("failed", "unreachable")
    assert "Remote end closed connection without response" in outcome.msg
    assert fleet.stats("dropping").commands_run == 1  # the host ran it; the answer was lost


def test_ansible_hung_host_ends_by_task_timeout_while_others_succeed(fault_run: tuple[Fleet, PlaybookRun]) -> None:
    fleet, run = fault_run
    outcome = run.outcome("hung")
    assert outcome.status == "failed"
    assert "Timed out after 5 second" in outcome.msg
    assert fleet.stats("hung").actions["Receive"] >= 3  # OperationTimeout faults, retried quietly
    assert run.outcome("healthy").status == "changed"
    assert run.seconds < 30


def test_ansible_slow_command_still_returns_its_output(fault_run: tuple[Fleet, PlaybookRun]) -> None:
    fleet, run = fault_run
    outcome = run.outcome("slow")
    assert (outcome.status, outcome.result["stdout"]) == ("changed", "Write-Output hello\r\n")
    assert fleet.stats("slow").actions["Receive"] >= 3


def test_ansible_large_output_reassembled_intact(fault_run: tuple[Fleet, PlaybookRun]) -> None:
    fleet, run = fault_run
    outcome = run.outcome("big")
    assert outcome.status == "changed"
    assert outcome.result["stdout"] == big_output().decode()
    assert fleet.stats("big").actions["Receive"] >= 4


def test_ansible_command_line_over_8191_characters_fails_whole(fault_run: tuple[Fleet, PlaybookRun]) -> None:
    fleet, run = fault_run
    assert fleet["long-line"].config.backend.calls == []  # nothing of the line ran
    outcome = run.outcome("long-line")
    assert outcome.status == "failed"
    assert (outcome.result["rc"], outcome.result["stderr"]) == (1, "The command line is too long.\r\n")


def test_ansible_strips_clixml_progress_from_stderr(fault_run: tuple[Fleet, PlaybookRun]) -> None:
    _fleet, run = fault_run
    outcome = run.outcome("progress")
    assert (outcome.status, outcome.result["stdout"], outcome.result["stderr"]) == (
        "changed", "Write-Output hello\r\n", "")


def test_emulator_reports_no_internal_errors(fault_run: tuple[Fleet, PlaybookRun]) -> None:
    fleet, _run = fault_run
    assert {host.name: host.stats().errors for host in fleet if host.stats().errors} == {}


def test_damaged_module_output(tmp_path: Path) -> None:
    transforms = ("truncate", "garble", "empty", "clixml")
    configs = [HostConfig(name, EchoBackend(), faults=Faults(stdout_transform=name)) for name in transforms]
    with Fleet(configs) as fleet:
        run = run_playbook(tmp_path, fleet.inventory(tmp_path / "hosts.yml", operation_timeout_sec=5), WIN_PING_PLAY)

    assert run.outcome("clixml").result == PONG
    assert run.outcome("truncate").msg == "Module result deserialization failed: No end of json char found"
    for name in ("garble", "empty"):
        assert run.outcome(name).msg == "Module result deserialization failed: No start of json char found"


# ---------------------------------------------------------------------------- command-line decoding


def test_join_command_line() -> None:
    assert join_command_line("powershell", []) == "powershell"
    assert join_command_line("powershell", ["-NoProfile", "-EncodedCommand", "AA=="]) == (
        "powershell -NoProfile -EncodedCommand AA==")


@pytest.mark.parametrize(
    "line",
    [
        "powershell -EncodedCommand {b64}",
        "PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand '{b64}'",
        "powershell.exe -enc {b64}",
        "powershell -e {b64}",
        r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe -NoP -ec {b64}",
        '"C:\\Program Files\\PowerShell\\7\\pwsh.exe" -EncodedCommand {b64}',
    ],
)
def test_encoded_command_forms(line: str) -> None:
    script = "Get-Item 'C:\\x'; exit 3"
    parsed = parse_powershell_command_line(line.format(b64=encoded_ps(script)))
    assert parsed.is_powershell and parsed.encoded
    assert (parsed.script, parsed.error) == (script, None)


def test_command_forms_and_errors() -> None:
    assert parse_powershell_command_line('powershell -Command "Get-Date; echo \'x\'"').script == "Get-Date; echo 'x'"
    assert parse_powershell_command_line("powershell Get-Date -Format o").script == "Get-Date -Format o"
    broken = parse_powershell_command_line("powershell -EncodedCommand " + encoded_ps("Get-Date")[:-3])
    assert (broken.script, broken.error) == (None, ENCODED_COMMAND_ERROR)
    cut_in_quotes = parse_powershell_command_line("powershell -EncodedCommand '" + encoded_ps("Get-Date")[:-1])
    assert cut_in_quotes.error == ENCODED_COMMAND_ERROR
    cmd = parse_powershell_command_line("cmd /c dir")
    assert (cmd.is_powershell, cmd.executable_name, cmd.script) == (False, "cmd", None)
    words = split_command_line("a 'b ''c''' \"d \\\"e\\\"\" 'unterminated x")
    assert words == ["a", "b 'c'", 'd "e"', "unterminated x"]


def test_encoded_arguments_are_decoded() -> None:
    # -EncodedArguments carries a CLIXML ArrayList of strings (control characters as _xHHHH_).
    clixml = (
        '<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04"><Obj RefId="0">'
        "<TN RefId=\"0\"><T>System.Collections.ArrayList</T><T>System.Object</T></TN>"
        "<LST><S>one</S><S>two_x000D__x000A_lines</S></LST></Obj></Objs>"
    )
    script = "param($a, $b) $a + $b"
    line = f"powershell -NoProfile -EncodedCommand {encoded_ps(script)} -EncodedArguments {encoded_ps(clixml)}"

    parsed = parse_powershell_command_line(line)

    assert (parsed.script, parsed.arguments) == (script, ("one", "two\r\nlines"))


def test_exec_wrapper_payload_with_extra_input() -> None:
    wrapper = {"name": "exec_wrapper", "script": "...", "params": {"TempPath": "%TEMP%"}}
    manifest = {
        "scripts": {"winrm_put_file.ps1": {"path": "x", "script": base64.b64encode(b"# put").decode()}},
        "actions": [{"name": "winrm_put_file.ps1", "params": {"Path": "C:\\t\\f.txt"}, "secure_params": {}}],
        "signed_hashlist": [],
    }
    stdin = b"\n\0\0\0\0\n".join([json.dumps(wrapper).encode(), json.dumps(manifest).encode(), b"aGVsbG8=\r\n"])

    payload = parse_ansible_exec_wrapper(stdin)

    assert payload is not None
    assert (payload.action, payload.params, payload.module, payload.extra_input) == (
        "winrm_put_file.ps1", {"Path": "C:\\t\\f.txt"}, None, b"aGVsbG8=\r\n")
    assert payload.script_source("winrm_put_file.ps1") == "# put"
    assert parse_ansible_exec_wrapper(b"Get-Date\r\n") is None
    with pytest.raises(ValueError):
        parse_ansible_exec_wrapper(stdin[:100])
