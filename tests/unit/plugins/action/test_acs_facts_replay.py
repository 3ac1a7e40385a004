"""acs_facts, the action plugin, replaying recorded host answers through a fake connection.

The way ansible.windows tests win_updates: the connection's exec returns recorded rc/stdout/stderr
(data/acs_facts/*.json, written by record_acs_facts.py from the emulated hosts), raises the errors
a lost connection raises, or never answers. What is asserted is what a user sees: facts, the
per-host failure message, warnings naming the host, the host marked unreachable.
"""

from __future__ import annotations

import base64
import json
import pathlib
import threading
from unittest.mock import MagicMock

import pytest
import requests
from ansible.errors import AnsibleActionFail, AnsibleConnectionFailure
from ansible.playbook.play_context import PlayContext
from ansible.plugins.loader import shell_loader

from ansible_collections.codesign.windows.plugins.action import acs_facts
from ansible_collections.codesign.windows.plugins.plugin_utils._verdict import evaluate
from ansible_collections.codesign.windows.plugins.plugin_utils._probes import (
    BOOTSTRAP,
    POWERSHELL,
    bootstrap_command,
    connection_wraps_commands,
)

DATA = pathlib.Path(__file__).resolve().parent / "data" / "acs_facts"
UNSAFE = ("\x1b", "\u202e", "\x07", "\r")


def recorded(name: str) -> dict:
    return json.loads((DATA / f"{name}.json").read_text(encoding="ascii"))


class RecordedConnection:
    """A connection whose exec answers from a recording, raises, or blocks until released."""

    allow_executable = False
    become = None

    def __init__(self, answer, transport: str = "winrm"):
        self.answer = answer
        self.transport = transport
        self._load_name = f"ansible.builtin.{transport}"
        self._shell = shell_loader.get("powershell")
        self.commands: list[tuple[str, bytes]] = []
        self.release = threading.Event()

    def get_option(self, name):
        raise KeyError(name)

    def exec_command(self, cmd, in_data=None, sudoable=True):
        self.commands.append((cmd, in_data))
        if self.answer == "never":
            self.release.wait(10)
            return 0, b"", b""
        if isinstance(self.answer, BaseException):
            raise self.answer
        return (self.answer["rc"], self.answer["stdout"].encode("utf-8", "surrogateescape"),
                self.answer["stderr"].encode("utf-8", "surrogateescape"))


def run_action(answer, args=None, host="win01", transport="winrm", task_vars=None):
    connection = answer if isinstance(answer, RecordedConnection) else RecordedConnection(answer, transport)
    task = MagicMock()
    task.args = dict(args or {})
    task.async_val = 0
    task.check_mode = False
    task.action = "codesign.windows.acs_facts"
    action = acs_facts.ActionModule(task, connection, PlayContext(), loader=MagicMock(), templar=None,
                                    shared_loader_obj=None)
    action._display = MagicMock()  # pylint: disable=protected-access
    result = action.run(task_vars={"inventory_hostname": host, **(task_vars or {})})
    return result, connection, action._display.warning  # pylint: disable=protected-access


def assert_clean(value):
    """No string anywhere in the result carries a terminal control or a bidi override."""
    if isinstance(value, str):
        assert not any(character in value for character in UNSAFE), repr(value[:200])
    elif isinstance(value, dict):
        for key, item in value.items():
            assert_clean(key)
            assert_clean(item)
    elif isinstance(value, list):
        for item in value:
            assert_clean(item)


# ---------------------------------------------------------------------------------------- replays
def test_healthy_host_gives_its_evidence():
    result, connection, _warning = run_action(recorded("w2019-2210"), host="w2019-2210")
    assert not result.get("failed"), result
    evidence = result["ansible_facts"]["acs"]["evidence"]
    assert (evidence["os_version"], evidence["ubr"]) == ("10.0.17763", 2210)
    assert result["changed"] is False
    assert len(connection.commands) == 1  # one command per host


def test_verdict_is_judged_in_the_gather_only_when_asked():
    plain_result, _connection, _warning = run_action(recorded("w2019-2210"))
    assert "acs_verdict" not in plain_result["ansible_facts"]
    result, _connection, _warning = run_action(recorded("w2019-2210"), args={"verdict": True})
    evidence = result["ansible_facts"]["acs"]["evidence"]
    assert result["ansible_facts"]["acs_verdict"] == evaluate(evidence)
    assert result["ansible_facts"]["acs_verdict"]["status"] == "ready"


def test_verdict_follows_the_policy_given():
    pending = recorded("w2008r2-esu-ready")
    for policy in ("strict", "lenient"):
        result, _connection, _warning = run_action(pending, args={"verdict": True, "policy_21h2": policy},
                                                   task_vars={"acs_esu": "yes"})
        evidence = result["ansible_facts"]["acs"]["evidence"]
        assert result["ansible_facts"]["acs_verdict"] == evaluate(evidence, policy_21h2=policy)


def test_a_wrong_policy_or_catalog_fails_before_the_host_is_asked():
    connection = RecordedConnection(recorded("w2019-2210"))
    with pytest.raises(AnsibleActionFail, match="policy_21h2 must be one of"):
        run_action(connection, args={"verdict": True, "policy_21h2": "loose"})
    result, _connection, _warning = run_action(connection, args={"verdict": True, "catalog": {"rows": 5}})
    assert result["failed"] and result["msg"].startswith("acs_facts: ")
    assert not connection.commands


def test_powershell_2_host():
    result, _connection, _warning = run_action(recorded("w2008r2-esu-ready"), task_vars={"acs_esu": "yes"})
    facts = result["ansible_facts"]["acs"]
    assert facts["runner"]["powershell"] == "2.0"
    assert facts["evidence"]["esu"] is True


def test_denied_probes_are_unknown_evidence_with_warnings_naming_host_and_probe():
    result, _connection, _warning = run_action(recorded("w2012r2-leastpriv"), host="w2012r2-leastpriv")
    assert result["ansible_facts"]["acs"]["evidence"]["hotfixes"] is None
    assert result["warnings"]
    assert all(text.startswith("acs_facts: w2012r2-leastpriv: ") for text in result["warnings"])
    assert any("hotfixes.qfe: permission denied" in text for text in result["warnings"])


@pytest.mark.parametrize(("name", "message"), [
    ("w2008-nopowershell", "PowerShell is not installed on this host"),
    ("fault-garbled", "the probe script's output is not JSON"),
    ("fault-truncated", "the probe script's output was truncated or garbled"),
])
def test_unusable_answer_fails_the_host_with_a_message(name, message):
    result, _connection, _warning = run_action(recorded(name), host=name)
    assert result["failed"] is True
    assert message in result["msg"]
    assert "ansible_facts" not in result
    assert_clean(result)  # the garbled answer carries ESC [31m


def test_clixml_progress_on_stderr_does_not_matter():
    result, _connection, _warning = run_action(recorded("fault-clixml"))
    assert not result.get("failed") and result["ansible_facts"]["acs"]["evidence"]["os_version"]


# ---------------------------------------------------------------------------------------- hostile answers
def hostile(stdout: str, rc: int = 0, stderr: str = "") -> dict:
    return {"rc": rc, "stdout": stdout, "stderr": stderr}


def test_deep_document_fails_only_this_host():
    text = recorded("w2019-2210")["stdout"].replace('"results":[', '"x":' + "[" * 2000 + "]" * 2000 + ',"results":[')
    result, _connection, _warning = run_action(hostile(text))
    assert result["failed"] is True
    assert "nests 2001 levels deep" in result["msg"]


def test_hostile_text_is_cleaned_in_facts_messages_and_warnings():
    document = json.loads(recorded("w2019-2210")["stdout"])
    for item in document["results"]:
        if item["id"] == "os.current_version":
            item["data"]["values"]["ProductName"] = "Windows\x1b]0;pwned\x07 Server\u202e 9102"
        if item["id"] == "hotfixes.qfe":
            document["results"][document["results"].index(item)] = {
                "id": "hotfixes.qfe", "ok": False, "category": "denied", "error": "\x1b[2J\rAccess \u202edenied"}
    result, _connection, _warning = run_action(hostile(json.dumps(document)), host="win01")
    assert result["ansible_facts"]["acs"]["os"]["product_name"] == "Windows Server 9102"
    assert "acs_facts: win01: hotfixes.qfe: permission denied (Access denied)" in result["warnings"][0]
    assert_clean(result)


def test_failed_command_stderr_is_cleaned():
    result, _connection, _warning = run_action(hostile("", rc=1, stderr="\x1b[1mboom\u202e\r\n"))
    assert result["failed"] is True
    assert result["msg"] == "acs_facts: the probe script failed (rc=1): boom"
    assert_clean(result)


# ---------------------------------------------------------------------------------------- connection
def test_lost_connection_marks_the_host_unreachable():
    with pytest.raises(AnsibleConnectionFailure, match="the connection to the host was lost") as raised:
        run_action(requests.exceptions.ConnectionError("Connection aborted: \x1b[2JRemoteDisconnected\u202e"))
    assert str(raised.value).endswith("Connection aborted: RemoteDisconnected")


def test_silent_host_fails_at_the_command_timeout():
    connection = RecordedConnection("never")
    try:
        result, _connection, _warning = run_action(connection, args={"command_timeout": 1})
    finally:
        connection.release.set()
    assert result["failed"] is True
    assert "gave no answer within 1 s" in result["msg"]


# ---------------------------------------------------------------------------------------- the command
def _decoded(command: str) -> str:
    return base64.b64decode(command.split(" ")[-1]).decode("utf-16-le")


@pytest.mark.parametrize(("transport", "version", "wraps"), [
    ("winrm", "2.16.19", True), ("winrm", "2.18.3", True), ("winrm", "2.19.0", False), ("winrm", "2.21.5", False),
    ("ansible.builtin.winrm", "2.17.1", True), ("psrp", "2.16.0", False), ("ansible.builtin.psrp", "2.21.0", False),
    ("ssh", "2.16.5", True), ("ssh", "2.17.14", True), ("ssh", "2.18.0", False), ("local", "2.16.0", False),
    ("winrm", "2.19.0rc1", False), ("winrm", "garbage", True),
])
def test_which_connections_encode_every_command_themselves(transport, version, wraps):
    assert connection_wraps_commands(transport, version) is wraps


def test_bootstrap_forms():
    encoded = bootstrap_command()
    assert encoded.startswith(POWERSHELL + " -EncodedCommand ")
    assert _decoded(encoded) == BOOTSTRAP
    assert bootstrap_command(wrapped_by_connection=True) == BOOTSTRAP
    assert len(encoded) < 8191


@pytest.mark.parametrize(("version", "expected"), [("2.16.19", BOOTSTRAP), ("2.21.5", bootstrap_command())])
def test_the_action_hands_winrm_the_form_its_release_needs(monkeypatch, version, expected):
    monkeypatch.setattr(acs_facts, "ansible_version", version)
    _result, connection, _warning = run_action(recorded("w2019-2210"))
    command, stdin = connection.commands[0]
    assert command == expected
    assert stdin.startswith(b"# codesign.windows ACS probe runner")


def test_psrp_always_gets_the_encoded_form(monkeypatch):
    monkeypatch.setattr(acs_facts, "ansible_version", "2.16.19")
    _result, connection, _warning = run_action(recorded("w2019-2210"), transport="psrp")
    assert connection.commands[0][0] == bootstrap_command()


# ---------------------------------------------------------------------------------------- inventory booleans
@pytest.mark.parametrize(("value", "expected", "warned"), [
    (True, True, False), ("yes", True, False), ("On", True, False), (1, True, False), ("t", True, False),
    ("no", False, False), ("0", False, False), (0.0, False, False),
    ("maybe", None, True), ("", None, True), ([1], None, True), (None, None, False),
])
def test_inventory_booleans_follow_ansible(value, expected, warned):
    result, _connection, warning = run_action(recorded("w2019-2210"), task_vars={"acs_offline": value})
    assert result["ansible_facts"]["acs"]["evidence"]["offline"] is expected
    assert warning.called is warned
    if warned:
        assert "acs_offline=" in warning.call_args[0][0] and "ignored (unknown)" in warning.call_args[0][0]
