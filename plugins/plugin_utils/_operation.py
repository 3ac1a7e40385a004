# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One host-side operation (acs_root_ca, acs_hotfix, acs_reboot): sent on stdin after the probe runner,
answered with one JSON line, run over the connection's exec.

What every operation shares is here once: how the script is run over the connection (a dropped
connection is told apart from any other error) and how its answer is read (nothing a host sends can
raise anything but OperationOutputError). What an operation does and what its answer means stays in its
own module.
"""

from __future__ import annotations

import dataclasses
import json
import re
import typing as t

from ansible_collections.codesign.windows.plugins.plugin_utils._probes import (
    bootstrap_command,
    connection_wraps_commands,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._untrusted import clean_text

# Where the exceptions of a lost connection come from: the connection plugins' transports.
NETWORK_MODULES = ("requests", "urllib3", "winrm", "http", "ssl", "socket", "pypsrp", "psrpcore")


class OperationOutputError(ValueError):
    """The host's answer to an operation is not one the controller can read."""


class ConnectionLost(Exception):
    """The connection dropped while the operation ran; the message is the transport's, cleaned."""


@dataclasses.dataclass(frozen=True)
class Answer:
    """How one operation's answer is recognised: the key and protocol of its JSON line, and what the
    operation is called in messages."""

    key: str
    protocol: int
    what: str
    max_chars: int

    @property
    def _line(self) -> t.Pattern[str]:
        return re.compile(r'^(?:\ufeff)?(\{"' + re.escape(self.key) + r'":.*)$', re.M)

    def read(self, rc: t.Any, stdout: t.Any, stderr: t.Any) -> dict[str, t.Any]:
        """The operation's JSON document; OperationOutputError for anything else. Never raises otherwise."""
        out = _text(stdout)[:self.max_chars]
        found = self._line.search(out)
        if found is None:
            detail = clean_text(_text(stderr).strip(), 1000) or clean_text(out.strip(), 300) or "no output"
            raise OperationOutputError(f"the host did not run the {self.what} operation (rc={clean_text(rc, 20)}): "
                                       f"{detail}")
        try:
            document = json.loads(found.group(1).rstrip())
        except ValueError:
            raise OperationOutputError(f"the host's answer to the {self.what} operation is not JSON") from None
        if not isinstance(document, dict) or document.get(self.key) != self.protocol:
            raise OperationOutputError(f"the host's answer to the {self.what} operation is of another protocol")
        return document


def _text(value: t.Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def execute(action: t.Any, script: str) -> dict[str, t.Any]:
    """Run ``script`` on stdin of the runner's bootstrap over ``action``'s connection: the outcome (rc, stdout,
    stderr). ConnectionLost when the connection drops; AnsibleError and any other error pass unchanged."""
    # Imported here: plugin_utils modules that only judge stay importable without the controller's errors.
    from ansible.errors import AnsibleError  # pylint: disable=import-outside-toplevel
    from ansible.release import __version__ as ansible_version  # pylint: disable=import-outside-toplevel

    connection = action._connection  # pylint: disable=protected-access
    name = getattr(connection, "_load_name", None) or getattr(connection, "transport", "") or ""
    command = bootstrap_command(connection_wraps_commands(name, ansible_version))
    try:
        return action._low_level_execute_command(  # pylint: disable=protected-access
            command, in_data=script.encode("ascii"), sudoable=False)
    except AnsibleError:
        raise
    except Exception as exc:  # pylint: disable=broad-except
        module = type(exc).__module__.split(".", maxsplit=1)[0]
        if isinstance(exc, OSError) or module in NETWORK_MODULES:
            raise ConnectionLost(clean_text(exc, 1000)) from None
        raise
