"""acs_reboot, the action plugin, with a connection whose exec is an emulated host's PowerShell and whose host
restarts (emulator.restart): refused connections while it is down, a new boot time after.

What is asserted is what a user sees, what the host's model holds afterwards, and how the connection is reset.
"""

from __future__ import annotations

import time
from unittest.mock import MagicMock

import pytest
import requests
from ansible.playbook.play_context import PlayContext
from ansible.plugins.loader import shell_loader

from ansible_collections.codesign.windows.plugins.action import acs_reboot
from emulator import restart
from emulator.host import EmulatedWindows
from emulator.windows import load_fleet
from unit.plugins.action.test_acs_root_ca import as_winrm_sends


class RestartingConnection:
    """exec_command runs on an emulated host; while the host is restarting it refuses, as its listener would."""

    allow_executable = False
    become = None
    transport = "winrm"
    _load_name = "ansible.builtin.winrm"

    def __init__(self, host_name: str, fail_close: bool = False):
        model = load_fleet([host_name])[0]
        model.restart = {"down_seconds": 0.3, "servicing_seconds": 0.3}
        self.host = EmulatedWindows(model)
        self._shell = shell_loader.get("powershell")
        self.model = model
        self.machine = restart.attach(model, self.host.lock)
        self.fail_close = fail_close
        self.commands = 0
        self.closes = 0
        self.resets = 0

    def get_option(self, name):
        raise KeyError(name)

    def exec_command(self, cmd, in_data=None, sudoable=True):
        if self.machine.going_down:
            raise requests.exceptions.ConnectionError("Failed to establish a new connection: [Errno 111] "
                                                      "Connection refused")
        self.commands += 1
        result = self.host.run_command(as_winrm_sends(self._shell, cmd), in_data or b"")
        return result.rc, result.stdout, result.stderr

    def close(self):
        self.closes += 1
        if self.fail_close:
            raise requests.exceptions.ConnectionError("close: connection refused")

    def reset(self):
        self.resets += 1


@pytest.fixture(autouse=True)
def quick_clock(monkeypatch):
    """The waiting as it is, with the pauses between checks cut to a tenth of a second."""
    monkeypatch.setattr(acs_reboot._Clock, "sleep", staticmethod(lambda seconds: time.sleep(min(seconds, 0.1))))


def run_action(connection: RestartingConnection, args=None, check_mode=False):
    task = MagicMock()
    task.args = {"pre_reboot_delay": 0, "servicing_check_interval": 1, "reboot_timeout": 30, "servicing_timeout": 30,
                 **(args or {})}
    task.async_val = 0
    task.check_mode = check_mode
    task.action = "codesign.windows.acs_reboot"
    action = acs_reboot.ActionModule(task, connection, PlayContext(), loader=MagicMock(), templar=None,
                                     shared_loader_obj=None)
    return action.run(task_vars={"inventory_hostname": connection.model.name})


def test_a_pending_host_restarts_and_its_update_is_finished():
    connection = RestartingConnection("w2019-pending")
    before = connection.model.boot_time
    result = run_action(connection)
    assert result.get("failed") is not True, result
    assert result["changed"] is True and result["rebooted"] is True
    assert result["boot_time_before"] == before.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert result["boot_time_after"] == connection.model.boot_time.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert connection.model.ubr == 2210 and connection.machine.restarts == 1
    assert connection.machine.comments == [acs_reboot.DEFAULT_MESSAGE]
    # Closed and reset before each attempt to reach the restarting host, as win_reboot does.
    assert connection.resets >= 1 and connection.closes == connection.resets


def test_check_mode_only_looks():
    connection = RestartingConnection("w2019-pending")
    result = run_action(connection, check_mode=True)
    assert result["changed"] is True and "check mode: nothing was changed" in result["msg"]
    assert result["servicing"] == "TrustedInstaller Stopped; RebootPending present"
    assert connection.commands == 1 and connection.machine.restarts == 0


def test_an_account_that_may_not_shut_down_the_host_is_told_the_exit_code():
    connection = RestartingConnection("w2012r2-airgap-noroot-user")
    before = connection.model.boot_time
    result = run_action(connection)
    assert result["failed"] is True and result["changed"] is False and result["rebooted"] is False
    assert "shutdown.exe /r failed with exit code 5" in result["msg"] and "was not restarted" in result["msg"]
    assert connection.model.boot_time == before


def test_a_close_that_fails_is_not_tried_again_and_the_reset_goes_on():
    connection = RestartingConnection("w2019-pending", fail_close=True)
    result = run_action(connection)
    assert result.get("failed") is not True, result
    assert connection.closes == 1 and connection.resets >= 1


@pytest.mark.parametrize("name", ["reboot_timeout", "servicing_timeout", "servicing_check_interval"])
def test_timeouts_must_be_above_zero(name):
    connection = RestartingConnection("w2019-pending")
    result = run_action(connection, {name: 0})
    assert result["failed"] is True and f"{name} must be above 0" in result["msg"]
    assert connection.commands == 0
