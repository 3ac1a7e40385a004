# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""acs_facts: gather a Windows host's ACS evidence with one command over the connection's exec.

Thin: build the probe list and script (plugin_utils), run them once, parse the output
(plugin_utils). No PowerShell module wrapper is used, so hosts with PowerShell 2.0 to 4.0,
which current ansible-core cannot run modules on, are gathered too.
"""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Hashable

from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.parsing.convert_bool import BOOLEANS, boolean
from ansible.plugins.action import ActionBase
from ansible.release import __version__ as ansible_version

from ansible_collections.codesign.windows.plugins.plugin_utils._evidence import (
    RunnerOutputError,
    build_facts,
    parse_runner_output,
    warnings_for,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._probes import (
    SubsetError,
    bootstrap_command,
    build_probes,
    connection_wraps_commands,
    render_script,
    resolve_subsets,
    runner_budget_seconds,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._catalog import CatalogError, load_catalog
from ansible_collections.codesign.windows.plugins.plugin_utils._untrusted import clean_text
from ansible_collections.codesign.windows.plugins.plugin_utils._verdict import PolicyError, check_policy, evaluate

ARGUMENT_SPEC = {
    "gather_subset": {"type": "list", "elements": "str", "default": ["all"]},
    "gather_timeout": {"type": "int", "default": 10},
    "esu": {"type": "bool"},
    "offline": {"type": "bool"},
    "command_timeout": {"type": "int"},
    "verdict": {"type": "bool", "default": False},
    "policy_21h2": {"type": "str", "default": "strict", "choices": ["strict", "lenient"]},
    "catalog": {"type": "raw"},
}
# Slack on top of the probes' own timeouts before the controller gives up on a silent host.
CONTROLLER_SLACK = 60


class ActionModule(ActionBase):
    """Gather ACS evidence from a Windows host."""

    _supports_check_mode = True
    _supports_async = False
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        result["changed"] = False
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)

        if args["gather_timeout"] < 1 or args["gather_timeout"] > 3600:
            result.update(failed=True, msg="gather_timeout must be between 1 and 3600 seconds")
            return result
        try:
            subsets, subset_warnings = resolve_subsets(args["gather_subset"])
        except SubsetError as exc:
            result.update(failed=True, msg=str(exc))
            return result

        if args["verdict"]:
            # Checked before the host is asked: a typo in the policy or catalog is the caller's error.
            try:
                policy, catalog = check_policy(args["policy_21h2"]), load_catalog(args["catalog"])
            except (PolicyError, CatalogError) as exc:
                result.update(failed=True, msg=f"acs_facts: {exc}")
                return result

        inventory = {}
        for key in ("esu", "offline"):
            value = args[key] if args[key] is not None else task_vars.get(f"acs_{key}")
            inventory[key] = self._inventory_bool(f"acs_{key}", value)

        probes = build_probes(subsets)
        script = render_script(probes, timeout_ms=args["gather_timeout"] * 1000)
        command = bootstrap_command(connection_wraps_commands(self._connection_name(), ansible_version))
        deadline = args["command_timeout"] or runner_budget_seconds(probes, args["gather_timeout"]) + CONTROLLER_SLACK
        if deadline < 1:
            result.update(failed=True, msg="command_timeout must be at least 1 second")
            return result

        started = time.monotonic()
        outcome = self._execute(command, script.encode("ascii"), deadline)
        elapsed = round(time.monotonic() - started, 3)
        if isinstance(outcome, BaseException):
            raise self._connection_error(outcome)
        if outcome is None:
            result.update(failed=True, msg=f"acs_facts: the host accepted the command but gave no answer within "
                                           f"{deadline} s; it may be hung (check WMI and the WinRM service)")
            return result

        host = clean_text(task_vars.get("inventory_hostname") or self._task.get_name(), 200)
        try:
            document = parse_runner_output(outcome.get("rc"), outcome.get("stdout"), outcome.get("stderr"))
            facts = build_facts(document, probes, subsets, inventory)
        except RunnerOutputError as exc:
            result.update(failed=True, msg=f"acs_facts: {exc}", rc=outcome.get("rc"),
                          stdout=clean_text(to_text(outcome.get("stdout")), 4000),
                          stderr=clean_text(to_text(outcome.get("stderr")), 4000))
            return result
        except Exception as exc:  # pylint: disable=broad-except
            # Defence in depth: whatever the host sent, the host stays in the play with a message.
            result.update(failed=True, rc=outcome.get("rc"),
                          msg=f"acs_facts: the controller could not read this host's answer "
                              f"({type(exc).__name__}: {clean_text(exc, 300)}); please report this as a bug "
                              "with the host's output from -vvv")
            return result

        facts["elapsed_seconds"] = elapsed
        facts["gathered_at"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        warnings = subset_warnings + [self._host_warning(host, text) for text in warnings_for(facts["errors"])]
        if warnings:
            result["warnings"] = warnings
        result["ansible_facts"] = {"acs": facts}
        if args["verdict"]:
            # Judged here, in the worker that already holds the evidence: the role needs no second
            # per-host task (a set_fact with the filter) to publish it.
            result["ansible_facts"]["acs_verdict"] = evaluate(facts.get("evidence"), policy_21h2=policy,
                                                              catalog=catalog)
        return result

    @staticmethod
    def _host_warning(host, text):
        """A probe's warning naming the host (Ansible shows warnings without one) and cleaned for the console."""
        text = clean_text(text, 2000)
        prefix = "acs_facts: "
        body = text[len(prefix):] if text.startswith(prefix) else text
        return f"acs_facts: {host}: {body}" if not body.startswith(f"{host}: ") else prefix + body

    def _connection_name(self):
        """The connection plugin's name (``winrm``, ``psrp``, ``ssh``) as the plugin loader knows it."""
        connection = self._connection
        return getattr(connection, "_load_name", None) or getattr(connection, "transport", "") or ""

    def _connection_error(self, exc):
        """Lost connections surface from the WinRM stack as requests/urllib3/OS errors: report the host unreachable."""
        if isinstance(exc, AnsibleConnectionFailure):
            return exc
        if not getattr(self._connection, "connected", True):
            # Raised before the connection was up: the plugin or its library refused its settings
            # (pypsrp: Basic over http without message_encryption=never). A failed task would drop
            # the host from the play and from the report; unreachable keeps it there with the reason.
            return AnsibleConnectionFailure(f"acs_facts: could not connect to the host: {exc}")
        if isinstance(exc, AnsibleError):
            return exc
        module = type(exc).__module__.split(".")[0]
        if isinstance(exc, OSError) or module in ("requests", "urllib3", "winrm", "http", "ssl", "socket", "pypsrp"):
            # The error text can quote the host (an HTTP reason, a WS-Management fault): clean it.
            return AnsibleConnectionFailure(f"acs_facts: the connection to the host was lost while waiting for its "
                                            f"answer: {clean_text(exc, 1000)}")
        return exc

    def _inventory_bool(self, name, value):
        """An inventory flag read with Ansible's own boolean parser (yes/no, on/off, true/false, 1/0...).
        A value Ansible spells as neither stays unknown (None) with a warning: guessing false could call a
        host that cannot fetch the root certificate able to. Unset stays None too."""
        if value is None or isinstance(value, bool):
            return value
        spelling = to_text(value).strip().lower() if isinstance(value, (str, bytes)) else value
        if not isinstance(spelling, Hashable) or spelling not in BOOLEANS:
            self._display.warning(f"acs_facts: {name}={clean_text(repr(value), 100)} is not a boolean; "
                                  "it is ignored (unknown)")
            return None
        return boolean(value, strict=False)

    def _execute(self, command, stdin, deadline):
        """Run the command; None when no answer came in time, an exception object when it failed."""
        outcome = {}

        def target():
            try:
                outcome["value"] = self._low_level_execute_command(command, in_data=stdin, sudoable=False)
            except Exception as exc:  # pylint: disable=broad-except
                outcome["value"] = exc

        worker = threading.Thread(target=target, name="acs_facts", daemon=True)
        worker.start()
        worker.join(deadline)
        if worker.is_alive():
            return None
        value = outcome.get("value")
        if value is None:
            return AnsibleConnectionFailure("acs_facts: the command ended without a result")
        return value
