# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""acs_reboot: restart a Windows host with shutdown.exe and wait until it is back and servicing has finished.

Thin: every command goes through the connection's exec with the collection's PowerShell 2.0-safe runner
(ansible.windows.win_reboot's restart command needs ConvertTo-Json and its boot-time command CIM, which
PowerShell 2.0 hosts lack); what the answers mean and when to stop waiting is plugin_utils._reboot.
"""

from __future__ import annotations

import time

from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.codesign.windows.plugins.plugin_utils._reboot import (
    DEFAULT_MESSAGE,
    Options,
    RebootFailed,
    parse_operation_output,
    read_state,
    render_operation,
    restart_and_wait,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._operation import ConnectionLost, OperationOutputError, execute
from ansible_collections.codesign.windows.plugins.plugin_utils._untrusted import clean_text

ARGUMENT_SPEC = {
    "reboot_timeout": {"type": "int", "default": 600},
    "servicing_timeout": {"type": "int", "default": 1800},
    "servicing_check_interval": {"type": "int", "default": 30},
    "pre_reboot_delay": {"type": "int", "default": 2},
    "msg": {"type": "str", "default": DEFAULT_MESSAGE},
}

display = Display()


class ActionModule(ActionBase):
    """Restart a Windows host and wait until it has finished servicing."""

    _supports_check_mode = True
    _supports_async = False
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        result.update(changed=False, rebooted=False)
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        for name in ("reboot_timeout", "servicing_timeout", "servicing_check_interval"):
            if args[name] <= 0:
                result.update(failed=True, msg=f"acs_reboot: {name} must be above 0, got {args[name]}")
                return result
        if args["pre_reboot_delay"] < 0 or args["pre_reboot_delay"] > 315360000:
            result.update(failed=True, msg="acs_reboot: pre_reboot_delay must be between 0 and 315360000 seconds "
                                           "(shutdown.exe /t)")
            return result

        host = _ConnectionHost(self)
        if self._task.check_mode:
            try:
                state = read_state(host.look())
            except (ConnectionError, OperationOutputError) as exc:
                result.update(failed=True, msg=f"acs_reboot: the host could not be looked at: {clean_text(exc, 1000)}")
                return result
            result.update(changed=True, boot_time_before=state.boot, servicing=state.describe(),
                          msg="the host would be restarted (check mode: nothing was changed)")
            return result

        options = Options(reboot_timeout=args["reboot_timeout"], servicing_timeout=args["servicing_timeout"],
                          servicing_check_interval=args["servicing_check_interval"],
                          pre_reboot_delay=args["pre_reboot_delay"], msg=args["msg"])
        try:
            outcome = restart_and_wait(host, options, _Clock())
        except RebootFailed as exc:
            fields = dict(exc.fields)
            warnings = fields.pop("warnings", [])
            result.update(fields, failed=True, changed=bool(fields.get("rebooted")), msg=str(exc))
            if warnings:
                result["warnings"] = warnings
            return result
        except ConnectionError as exc:
            # Only the look before the restart can end here: nothing was restarted.
            raise AnsibleConnectionFailure(f"acs_reboot: the host could not be reached before the restart: "
                                           f"{clean_text(exc, 1000)}") from None
        except OperationOutputError as exc:
            result.update(failed=True, msg=f"acs_reboot: {exc}; the host was not restarted")
            return result
        warnings = outcome.pop("warnings", [])
        result.update(outcome, changed=True,
                      msg=f"restarted (boot time {outcome.get('boot_time_before')} -> {outcome.get('boot_time_after')}) "
                          f"and servicing has finished")
        if warnings:
            result["warnings"] = warnings
        return result


class _Clock:
    @staticmethod
    def monotonic() -> float:
        return time.monotonic()

    @staticmethod
    def sleep(seconds: float) -> None:
        time.sleep(seconds)


class _ConnectionHost:
    """The host over the task's connection; every way the connection can fail is a ConnectionError."""

    def __init__(self, action: ActionModule):
        self._action = action
        self._close_on_reset = True

    def look(self):
        return self._run(render_operation())

    def restart(self, delay, message, abort_first):
        return self._run(render_operation(restart=True, delay=delay, message=message, abort_first=abort_first))

    def reset(self):
        """Drop the connection so that the next command connects anew, as win_reboot does: close first (which
        frees the WinRM shell when the host still answers) unless closing failed before, then reset."""
        connection = self._action._connection
        if self._close_on_reset:
            try:
                connection.close()
            except Exception as exc:  # pylint: disable=broad-except
                display.vvvv(f"acs_reboot: closing the connection failed: {clean_text(exc, 300)}")
                self._close_on_reset = False
        try:
            connection.reset()
        except Exception as exc:  # pylint: disable=broad-except
            display.vvvv(f"acs_reboot: resetting the connection failed: {clean_text(exc, 300)}")

    def _run(self, script):
        try:
            outcome = execute(self._action, script)
        except (AnsibleError, ConnectionLost) as exc:
            raise ConnectionError(clean_text(exc, 1000)) from None
        return parse_operation_output(outcome.get("rc"), to_text(outcome.get("stdout")), to_text(outcome.get("stderr")))
