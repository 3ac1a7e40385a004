"""acs_hotfix, the action plugin, with a connection whose exec is an emulated host's PowerShell
(test_acs_root_ca.EmulatedConnection): what a user sees, what the host's model holds, and that nothing a host
sends, at any step, raises on the controller."""

from __future__ import annotations

import json
from unittest.mock import MagicMock

import pytest
from ansible.errors import AnsibleConnectionFailure
from ansible.playbook.play_context import PlayContext

from ansible_collections.codesign.windows.plugins.action import acs_hotfix
from ansible_collections.codesign.windows.plugins.plugin_utils._verdict import evaluate
from support import cab
from unit.plugins.action.test_acs_root_ca import EmulatedConnection

HOST = "w2012r2-hotfix-seconly"
VERDICT = evaluate({"os_version": "6.3.9600", "hotfixes": ["KB2919355"], "architecture": "AMD64",
                    "root_ca_present": True})


@pytest.fixture()
def updates(tmp_path):
    data = cab.msu("windows8.1", "KB5006714", "6.3.9600", package="Package_for_RollupFix", version="9600.20144.1.5",
                   payload_blocks=400)
    (tmp_path / cab.catalog_name("windows8.1", "KB5006714", "x64", data)).write_bytes(data)
    return tmp_path


def run_action(connection, args, check_mode=False):
    task = MagicMock()
    task.args = dict(args)
    task.async_val = 0
    task.check_mode = check_mode
    task.action = "codesign.windows.acs_hotfix"
    action = acs_hotfix.ActionModule(task, connection, PlayContext(), loader=MagicMock(), templar=None,
                                     shared_loader_obj=None)
    action._find_needle = lambda kind, path: path  # pylint: disable=protected-access
    return action.run(task_vars={"inventory_hostname": HOST})


class HostileAfter(EmulatedConnection):
    """The real host for the first commands, then one answer of the right protocol with every field wrong."""

    def __init__(self, host_name, hostile_on, document):
        super().__init__(host_name)
        self.hostile_on = hostile_on
        self.document = document

    def exec_command(self, cmd, in_data=None, sudoable=True):
        if self.commands + 1 == self.hostile_on:
            self.commands += 1
            return 0, (json.dumps(self.document) + "\r\n").encode(), b""
        return super().exec_command(cmd, in_data, sudoable)


def test_installs_and_cleans_up(updates):
    connection = EmulatedConnection(HOST)
    result = run_action(connection, {"verdict": VERDICT, "src": str(updates), "chunk_size": 4096})
    assert result.get("failed") is not True, result
    assert result["installed"] == ["KB5006714"] and result["reboot_required"] is True
    assert any(row["HotFixID"] == "KB5006714" for row in connection.model.qfe)
    assert connection.model.disk == {}


HOSTILE = [
    {"acs_hotfix": 1, "error": None},
    {"acs_hotfix": 1, "error": ["x"], "record": {"exceptions": [5, {"type": ["y"]}]}},
    {"acs_hotfix": 1, "error": None, "free_mb": "lots", "restart_pending": "yes", "tool": ["dism"], "winrs": {"a": 1},
     "remote_files": [None, 5], "chunk_sha256": [1], "length_before": {}, "sha256": 7, "files": "C:\\x.cab",
     "exit_code": "\x1b[31m", "packages": [{"cab": None, "exit_code": [3010]}, "junk"], "removed": 5},
    {"acs_hotfix": 1, "error": None, "packages": [{"cab": "a.cab", "exit_code": 2**40}]},
]


@pytest.mark.parametrize("document", HOSTILE, ids=range(len(HOSTILE)))
@pytest.mark.parametrize("step", range(1, 10))   # look, 4 writes, hash, expand, add, clean
def test_nothing_a_host_answers_at_any_step_raises(updates, step, document):
    connection = HostileAfter(HOST, step, document)
    result = run_action(connection, {"verdict": VERDICT, "src": str(updates), "chunk_size": 4096})
    assert isinstance(result.get("msg"), str) and result["msg"]
    if result.get("failed"):
        assert result["msg"].startswith("acs_hotfix: "), result["msg"]
    else:
        assert result["installed"] == ["KB5006714"], result


def test_a_connection_lost_during_the_look_marks_the_host_unreachable(updates):
    connection = EmulatedConnection(HOST, drop_on=1)
    with pytest.raises(AnsibleConnectionFailure, match="the connection to the host was lost"):
        run_action(connection, {"verdict": VERDICT, "src": str(updates)})


def test_check_mode_looks_only(updates):
    connection = EmulatedConnection(HOST)
    result = run_action(connection, {"verdict": VERDICT, "src": str(updates)}, check_mode=True)
    assert result["changed"] is True and "check mode" in result["msg"] and connection.commands == 1
    assert connection.model.disk == {} and not any(row["HotFixID"] == "KB5006714" for row in connection.model.qfe)


VERDICT_2008R2 = evaluate({"os_version": "6.1.7601", "hotfixes": ["KB4474419", "KB4490628", "KB4538483"],
                           "architecture": "AMD64", "root_ca_present": True, "esu_licensed": True})


@pytest.fixture()
def updates_2008r2(tmp_path):
    data = cab.msu("windows6.1", "KB5006743", "6.1.7601", package="Package_for_RollupFix", version="7601.25740.1.5")
    (tmp_path / cab.catalog_name("windows6.1", "KB5006743", "x64", data)).write_bytes(data)
    return tmp_path


def test_a_150_mb_shell_quota_installs_through_a_scheduled_task_as_system(updates_2008r2, monkeypatch):
    monkeypatch.setattr(acs_hotfix, "TASK_POLL_SECONDS", 0.5)
    connection = EmulatedConnection("w2008r2-hotfix-quota")
    result = run_action(connection, {"verdict": VERDICT_2008R2, "src": str(updates_2008r2), "esu": True})
    assert result.get("failed") is not True, result
    assert result["ran_as"] == "scheduled_task" and result["installed"] == ["KB5006743"]
    assert "scheduled task" in result["msg"] and result["reboot_required"] is True
    assert any(row["HotFixID"] == "KB5006743" for row in connection.model.qfe)
    assert connection.model.scheduled_tasks == {} and connection.model.disk == {}
    assert any(event["source"] == "codesign.windows" and event["id"] == 100 for event in connection.model.events)


def test_an_account_that_is_not_an_administrator_cannot_register_the_task(updates_2008r2):
    connection = EmulatedConnection("w2008r2-hotfix-user")
    result = run_action(connection, {"verdict": VERDICT_2008R2, "src": str(updates_2008r2), "esu": True})
    assert result["failed"] is True and "local Administrators group" in result["msg"]
    assert "creating that task was refused" in result["msg"], result["msg"]
    assert not any(row["HotFixID"] == "KB5006743" for row in connection.model.qfe)


def test_dism_beyond_a_larger_quota_ends_the_shell_and_the_message_says_to_raise_it(updates_2008r2):
    connection = EmulatedConnection("w2008r2-hotfix-quota")
    connection.model.servicing["dism_memory_mb"] = 4096
    connection.model.servicing["max_memory_per_shell_mb"] = 2048
    result = run_action(connection, {"verdict": VERDICT_2008R2, "src": str(updates_2008r2), "esu": True})
    assert result["ran_as"] == "shell" and result["failed"] is True
    assert "MaxMemoryPerShellMB (2048 MB): raise it" in result["msg"], result["msg"]


ROLLUP_7601 = "Package_for_RollupFix~31bf3856ad364e35~amd64~~7601.25740.1.3"


def test_state_absent_finds_a_rollup_by_the_kb_its_manifest_names():
    connection = EmulatedConnection("w2008r2-esu-ready")
    result = run_action(connection, {"state": "absent", "kb": "KB5006743"})
    assert result.get("failed") is not True, result
    assert result["removed"] == [ROLLUP_7601] and result["reboot_required"] is True
    state = connection.model.registry.open(f"{acs_hotfix.CBS}\\Packages\\{ROLLUP_7601}").get("CurrentState")
    assert state == 5, "uninstall pending"


def test_state_absent_leaves_a_rollup_of_another_kb_alone():
    connection = EmulatedConnection("w2008r2-esu-ready")
    result = run_action(connection, {"state": "absent", "kb": "KB4474419"})
    assert result["removed"] == ["Package_for_KB4474419~31bf3856ad364e35~amd64~~6.1.1.0"], result
    missing = run_action(EmulatedConnection("w2008r2-esu-ready"), {"state": "absent", "kb": "KB5006714"})
    assert missing["changed"] is False and "no rollup package whose manifest names it" in missing["msg"]
    state = connection.model.registry.open(f"{acs_hotfix.CBS}\\Packages\\{ROLLUP_7601}").get("CurrentState")
    assert state == 112


# ---------------------------------------------------------------------------------------------- source=windows_update
VERDICT_2016 = evaluate({"os_version": "10.0.14393.4651", "architecture": "AMD64", "root_ca_present": True})
FACTS_51 = {"acs": {"os": {"powershell_version": "5.1.14393.4583"}}}


def run_wu_action(args, facts, win_updates, check_mode=False):
    """acs_hotfix with source=windows_update; ``win_updates`` stands for what the action loader finds (None: the
    ansible.windows collection is not installed)."""
    task = MagicMock()
    task.args = {"source": "windows_update", **args}
    task.async_val = 0
    task.check_mode = check_mode
    connection = EmulatedConnection("w2016-wfbs-old")
    action = acs_hotfix.ActionModule(task, connection, PlayContext(), loader=MagicMock(), templar=None,
                                     shared_loader_obj=None)
    loader = MagicMock()
    loader.action_loader.get.return_value = win_updates
    action._shared_loader_obj = loader  # pylint: disable=protected-access
    return action.run(task_vars={"inventory_hostname": "w2016-wfbs-old", "ansible_facts": facts}), loader, connection


def test_windows_update_without_ansible_windows_is_refused_before_the_host_is_contacted():
    result, loader, connection = run_wu_action({"verdict": VERDICT_2016}, FACTS_51, None)
    assert result["failed"] is True and "needs the ansible.windows collection" in result["msg"]
    assert loader.action_loader.get.call_args.args == ("ansible.windows.win_updates",)
    assert connection.commands == 0


def test_windows_update_on_powershell_4_is_refused_before_win_updates_is_loaded():
    result, loader, connection = run_wu_action({"verdict": VERDICT_2016}, {"acs": {"os": {"powershell_version": "4.0"}}},
                                               MagicMock())
    assert result["failed"] is True and "this host has PowerShell 4.0" in result["msg"]
    assert not loader.action_loader.get.called and connection.commands == 0


def test_windows_update_gives_win_updates_the_planned_kbs_and_maps_its_result():
    win_updates = MagicMock()
    win_updates.run.return_value = {
        "changed": True, "reboot_required": True, "found_update_count": 1, "installed_update_count": 1,
        "updates": {"a": {"id": "a", "title": "2021-10 Cumulative Update (KB5006669)", "kb": ["5006669"],
                          "installed": True, "downloaded": True}}, "filtered_updates": {}}
    result, loader, connection = run_wu_action({"verdict": VERDICT_2016}, FACTS_51, win_updates)
    given = loader.action_loader.get.call_args.kwargs["task"].args
    # The servicing stack update 1607 needs first (the evidence lists no update), then the cumulative update.
    assert given["accept_list"] == ["^KB5005698$", "^KB5006669$"] and given["reboot"] is False
    assert given["server_selection"] == "default"
    assert result["installed"] == ["KB5006669"] and result["reboot_required"] is True and result["changed"] is True
    # The Application log entry, as the files path writes one for each change.
    assert any(event["source"] == "codesign.windows" and event["id"] == 100 and "KB5006669" in event["message"]
               for event in connection.model.events), connection.model.events


def test_windows_update_in_check_mode_does_not_run_win_updates():
    win_updates = MagicMock()
    result, _loader, connection = run_wu_action({"verdict": VERDICT_2016}, FACTS_51, win_updates, check_mode=True)
    assert result["changed"] is True and result["planned"] == ["KB5005698", "KB5006669"] and "check mode" in result["msg"]
    assert not win_updates.run.called and connection.commands == 0


def test_files_options_with_windows_update_are_refused(updates):
    result, _loader, _connection = run_wu_action({"verdict": VERDICT_2016, "src": str(updates)}, FACTS_51, MagicMock())
    assert result["failed"] is True and "src, files and remote_src are for source=files" in result["msg"]


def test_windows_update_losing_the_connection_marks_the_host_unreachable():
    win_updates = MagicMock()
    win_updates.run.return_value = {"unreachable": True, "msg": "winrm connection error", "updates": {}}
    with pytest.raises(AnsibleConnectionFailure, match="lost while Windows Update installed KB5005698, KB5006669"):
        run_wu_action({"verdict": VERDICT_2016}, FACTS_51, win_updates)
