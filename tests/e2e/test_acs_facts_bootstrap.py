"""How the bootstrap reaches PowerShell through each connection's exec, over real WinRM.

ansible-core 2.16-2.18's winrm plugin (and ssh up to 2.17) wraps every command in
``PowerShell ... -EncodedCommand <command>`` with ansible-core's own PowerShell shell plugin. A
command that is already an encoded PowerShell line then starts a nested powershell.exe, which the
emulated host starts as Windows would but without the outer process's stdin: whatever relies on
stdin reaching it fails visibly. acs_facts hands those connections the bootstrap script instead.
"""

from __future__ import annotations

import pytest
import winrm
from ansible.plugins.loader import shell_loader

from ansible_collections.codesign.windows.plugins.plugin_utils._evidence import (
    RunnerOutputError,
    parse_runner_output,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._probes import (
    bootstrap_command,
    build_probes,
    render_script,
)
from emulator.fleet import build_fleet

HOST = "w2019-2210"


def wrap_like_winrm_2_16(command: str) -> list[str]:
    """What winrm.exec_command of ansible-core 2.16-2.18 sends: the command encoded as a script."""
    shell = shell_loader.get("powershell")
    return shell._encode_script(command, as_list=True, strict_mode=False, preserve_rc=False)


@pytest.fixture(scope="module")
def host():
    with build_fleet([HOST]) as fleet:
        yield fleet[HOST]


def run(host, parts: list[str], stdin: bytes) -> tuple[int, str, str]:
    protocol = winrm.Protocol(host.endpoint, username=host.config.username, password=host.config.password,
                              transport="basic", server_cert_validation="ignore")
    shell_id = protocol.open_shell()
    try:
        command_id = protocol.run_command(shell_id, parts[0], parts[1:])
        protocol.send_command_input(shell_id, command_id, stdin, end=True)
        stdout, stderr, rc = protocol.get_command_output(shell_id, command_id)
    finally:
        protocol.close_shell(shell_id)
    return rc, stdout.decode("utf-8"), stderr.decode("utf-8")


@pytest.fixture(scope="module")
def runner_script() -> bytes:
    probes = build_probes(["os"])
    return render_script(probes, timeout_ms=10_000).encode("ascii")


def test_encoded_bootstrap_as_is_gathers(host, runner_script):
    # winrm 2.19+, psrp and ssh 2.18+ run the encoded line as given.
    rc, stdout, stderr = run(host, bootstrap_command().split(" "), runner_script)
    document = parse_runner_output(rc, stdout, stderr)
    assert document["complete"] is True


def test_encoded_bootstrap_wrapped_again_never_gets_stdin(host, runner_script):
    # The nested powershell.exe starts and runs the bootstrap; the runner on stdin never reaches it.
    rc, stdout, stderr = run(host, wrap_like_winrm_2_16(bootstrap_command()), runner_script)
    assert (rc, stdout, stderr) == (0, "", "")
    with pytest.raises(RunnerOutputError, match="printed nothing"):
        parse_runner_output(rc, stdout, stderr)


def test_bootstrap_script_wrapped_by_the_connection_gathers(host, runner_script):
    # What acs_facts hands winrm on ansible-core < 2.19: the connection encodes it once.
    rc, stdout, stderr = run(host, wrap_like_winrm_2_16(bootstrap_command(wrapped_by_connection=True)),
                             runner_script)
    document = parse_runner_output(rc, stdout, stderr)
    assert document["complete"] is True
