# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restarting a Windows host and waiting until servicing has finished: what the host's answers mean and when
to stop waiting.

The host side (``_acs_reboot.ps1``, run after the probe runner's library) only reads the boot time, the
TrustedInstaller service and the restart keys, and runs ``shutdown.exe`` when told to; every decision is
taken here. The waiting is written against three callables (look, restart, reset) and a clock, so that it
is tested without a host.

What "restarted and finished" means, with sources:

* A restart happened when ``Win32_OperatingSystem.LastBootUpTime`` changed
  (https://learn.microsoft.com/en-us/windows/win32/cimwin32prov/win32-operatingsystem); ansible.windows'
  ``win_reboot`` judges the same way.
* Servicing (CBS) finishes an update's install during shutdown and the next boot, and may go on after
  WinRM answers again: TrustedInstaller (Windows Modules Installer) runs while it works, and CBS keeps
  ``RebootInProgress`` / ``PackagesPending`` while packages are being finished, ``RebootPending`` while a
  restart is still due (https://learn.microsoft.com/en-us/windows/deployment/update/servicing-stack-updates,
  https://devblogs.microsoft.com/scripting/determine-pending-reboot-statuspowershell-style-part-1/). It is
  taken as finished when TrustedInstaller is stopped and none of the three keys is there on two checks an
  interval apart, so that a pause between two servicing steps is not taken for the end.
* ``shutdown.exe /r /t N /c "..."`` schedules the restart; exit code 1190 (ERROR_SHUTDOWN_IS_SCHEDULED) says
  another one is already scheduled, 1115 (ERROR_SHUTDOWN_IN_PROGRESS) that one is under way
  (https://learn.microsoft.com/en-us/windows-server/administration/windows-commands/shutdown,
  https://learn.microsoft.com/en-us/windows/win32/debug/system-error-codes--1000-1299-).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import os
import re
import typing as t

from ansible_collections.codesign.windows.plugins.plugin_utils._operation import Answer, OperationOutputError
from ansible_collections.codesign.windows.plugins.plugin_utils._probes import (
    REBOOT_KEYS,
    _probe,
    ps_literal,
    runner_text,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._untrusted import clean_text

PROTOCOL = 1
OPERATION_FILE = os.path.join(os.path.dirname(__file__), "_acs_reboot.ps1")
MAX_OUTPUT_CHARS = 100_000
ANSWER = Answer(key="acs_reboot", protocol=PROTOCOL, what="restart", max_chars=MAX_OUTPUT_CHARS)
TRUSTED_INSTALLER = "TrustedInstaller"
# The keys that say servicing is not finished, by the name the user reads.
SERVICING_KEYS = {
    "RebootPending": REBOOT_KEYS["cbs_reboot_pending"],
    "RebootInProgress": REBOOT_KEYS["cbs_reboot_in_progress"],
    "PackagesPending": REBOOT_KEYS["cbs_packages_pending"],
}
ERROR_SHUTDOWN_IN_PROGRESS = 1115
ERROR_SHUTDOWN_IS_SCHEDULED = 1190
DEFAULT_MESSAGE = "Restart by codesign.windows.acs_reboot to finish installing updates"
MAX_MESSAGE_CHARS = 512   # shutdown.exe /c: "a maximum of 512 characters"

# CIM_DATETIME as Get-WmiObject returns it: yyyymmddHHMMSS.mmmmmmsUUU, UUU the offset from UTC in minutes
# (https://learn.microsoft.com/en-us/windows/win32/wmisdk/cim-datetime).
_DMTF = re.compile(r"^(\d{14})\.(\d{6})([+-])(\d{3})$")


class RebootFailed(Exception):
    """The restart or the wait after it failed; the message is what the user reads."""

    def __init__(self, message: str, **fields: t.Any):
        super().__init__(message)
        self.fields = fields


# ---------------------------------------------------------------------------------------------
# The script and its answer
# ---------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def operation_text() -> str:
    with open(OPERATION_FILE, encoding="ascii") as handle:
        return handle.read()


def probes() -> list[dict[str, t.Any]]:
    """What every operation reads: the boot time, TrustedInstaller, and the restart keys."""
    return [
        _probe("reboot.boot", "wmi", namespace=r"root\cimv2", wmi_class="Win32_OperatingSystem", wmi_filter="",
               limit=1, properties=["LastBootUpTime"]),
        _probe("reboot.servicing", "services", names=[TRUSTED_INSTALLER]),
        _probe("reboot.keys", "reg_keys_exist", paths=list(SERVICING_KEYS.values())),
    ]


def restart_message(text: t.Any) -> str:
    """The comment shutdown.exe shows and logs (event 1074): printable ASCII, within its limit. Quotes, backticks
    and dollar signs become spaces: Windows PowerShell passes an argument with an embedded double quote to a
    program without escaping it (https://github.com/PowerShell/PowerShell/issues/1995), which would split the
    comment into other arguments."""
    cleaned = "".join(ch if " " <= ch <= "~" and ch not in "\"`$" else " " for ch in str(text or ""))
    return " ".join(cleaned.split())[:MAX_MESSAGE_CHARS] or DEFAULT_MESSAGE


def render_operation(restart: bool = False, delay: int = 0, message: str = DEFAULT_MESSAGE,
                     abort_first: bool = False) -> str:
    """The script sent on stdin. Without ``restart`` it only looks (the checks while waiting, check mode)."""
    operation = {
        "protocol": PROTOCOL,
        "probes": probes(),
        "restart": bool(restart),
        "abort_first": bool(abort_first),
        "delay": int(delay),
        "message": restart_message(message),
    }
    return (f"{runner_text()}\n{operation_text()}\n"
            f"$AcsReboot = {ps_literal(operation)}\n"
            "Invoke-AcsReboot -Operation $AcsReboot\n")


def parse_operation_output(rc: t.Any, stdout: t.Any, stderr: t.Any) -> dict[str, t.Any]:
    """The operation's JSON document; OperationOutputError for anything else. Never raises otherwise."""
    return ANSWER.read(rc, stdout, stderr)


def parse_boot_time(value: t.Any) -> dt.datetime | None:
    """LastBootUpTime (CIM_DATETIME text) as an aware UTC datetime; None for anything else."""
    found = _DMTF.match(str(value or "").strip()) if isinstance(value, str) else None
    if found is None:
        return None
    try:
        local = dt.datetime.strptime(found.group(1), "%Y%m%d%H%M%S")
    except ValueError:
        return None
    offset = dt.timedelta(minutes=int(found.group(4)) * (1 if found.group(3) == "+" else -1))
    return (local - offset).replace(tzinfo=dt.timezone.utc)


@dataclasses.dataclass(frozen=True)
class HostState:
    """What one look found. ``boot_time`` None: unreadable; ``installer`` None: the status is unknown."""

    boot_time: dt.datetime | None
    installer: str | None
    keys: tuple[str, ...]       # the servicing keys present, by name
    problems: tuple[str, ...]   # what could not be read, for messages

    @property
    def known(self) -> bool:
        return self.installer is not None and not self.problems

    @property
    def busy(self) -> bool:
        """Servicing is working: TrustedInstaller is not stopped, or packages are being finished."""
        return (self.installer is not None and self.installer != "Stopped") or bool(
            {"RebootInProgress", "PackagesPending"} & set(self.keys))

    @property
    def quiet(self) -> bool:
        """Nothing is running and nothing is due: one of the two checks that say servicing has finished."""
        return self.known and not self.busy and not self.keys

    @property
    def boot(self) -> str | None:
        return self.boot_time.strftime("%Y-%m-%dT%H:%M:%SZ") if self.boot_time else None

    def describe(self) -> str:
        parts = [f"TrustedInstaller {self.installer or 'status unknown'}"]
        parts.append(f"{', '.join(self.keys)} present" if self.keys else "no restart keys")
        parts += list(self.problems)
        return "; ".join(parts)


def _probe_results(document: t.Mapping[str, t.Any]) -> dict[str, dict[str, t.Any]]:
    found = {}
    for item in document.get("probes") if isinstance(document.get("probes"), list) else []:
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            found[item["id"]] = item
    return found


def _failed(item: t.Any, what: str) -> str | None:
    if not isinstance(item, dict):
        return f"{what}: not reported"
    if item.get("ok") is not True:
        return f"{what}: {clean_text(item.get('error'), 300) or 'failed'}"
    return None


def read_state(document: t.Mapping[str, t.Any]) -> HostState:
    """The state the answer shows. Never raises: what cannot be read is None and named in ``problems``
    (and counts as not finished: fail closed)."""
    results = _probe_results(document)
    problems: list[str] = []
    boot_time = None
    boot = results.get("reboot.boot")
    problem = _failed(boot, "the boot time")
    if problem is None:
        items = (boot.get("data") or {}).get("items") if isinstance(boot.get("data"), dict) else None
        raw = items[0].get("LastBootUpTime") if isinstance(items, list) and items and isinstance(items[0], dict) else None
        boot_time = parse_boot_time(raw)
        if boot_time is None:
            problem = f"the boot time: {clean_text(raw, 60) or 'missing'} is not a WMI date"
    if problem:
        problems.append(problem)

    installer = None
    service = results.get("reboot.servicing")
    problem = _failed(service, "TrustedInstaller")
    if problem is None:
        data = service.get("data") if isinstance(service.get("data"), dict) else {}
        entry = next((value for name, value in data.items() if str(name).lower() == TRUSTED_INSTALLER.lower()), None)
        if isinstance(entry, dict) and entry.get("exists") is False:
            installer = "Stopped"   # no Windows Modules Installer: nothing can be servicing
        elif isinstance(entry, dict) and isinstance(entry.get("status"), str) and entry["status"]:
            installer = clean_text(entry["status"], 40)
        else:
            problem = "TrustedInstaller: its status could not be read"
    if problem:
        problems.append(problem)

    keys: list[str] = []
    found_keys = results.get("reboot.keys")
    problem = _failed(found_keys, "the restart keys")
    if problem is None:
        data = found_keys.get("data") if isinstance(found_keys.get("data"), dict) else {}
        lowered = {str(path).lower(): value for path, value in data.items()}
        for name, path in SERVICING_KEYS.items():
            value = lowered.get(path.lower())
            if not isinstance(value, bool):
                problem = f"the restart keys: {name} not reported"
                break
            if value:
                keys.append(name)
    if problem:
        problems.append(problem)
    return HostState(boot_time, installer, tuple(keys), tuple(problems))


@dataclasses.dataclass(frozen=True)
class ShutdownOutcome:
    """What shutdown.exe said: ``issued``, ``in_progress`` (someone else's restart is under way),
    ``scheduled`` (another restart is scheduled: abort it and schedule ours), ``failed``."""

    kind: str
    message: str


def shutdown_outcome(document: t.Mapping[str, t.Any]) -> ShutdownOutcome:
    shutdown = document.get("shutdown")
    if not isinstance(shutdown, dict):
        return ShutdownOutcome("failed", "the host did not say whether shutdown.exe ran")
    if shutdown.get("error") is not None:
        return ShutdownOutcome("failed", f"shutdown.exe could not be started: {clean_text(shutdown.get('error'), 300)}")
    rc = shutdown.get("rc")
    output = " ".join(clean_text(shutdown.get("output"), 300).split())
    if rc == 0:
        return ShutdownOutcome("issued", "restart scheduled")
    if rc == ERROR_SHUTDOWN_IN_PROGRESS:
        return ShutdownOutcome("in_progress", "a restart or shutdown started by something else is already under way "
                                              "(1115); waiting for the host to come back")
    if rc == ERROR_SHUTDOWN_IS_SCHEDULED:
        return ShutdownOutcome("scheduled", "another restart was already scheduled (1190)")
    detail = f": {output}" if output else ""
    return ShutdownOutcome("failed", f"shutdown.exe /r failed with exit code {clean_text(rc, 20)}{detail}")


# ---------------------------------------------------------------------------------------------
# The restart and the waiting
# ---------------------------------------------------------------------------------------------
class Clock(t.Protocol):
    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


@dataclasses.dataclass(frozen=True)
class Options:
    reboot_timeout: int = 600
    servicing_timeout: int = 1800
    servicing_check_interval: int = 30
    pre_reboot_delay: int = 2
    msg: str = DEFAULT_MESSAGE
    poll_interval: float = 2.0   # between attempts to reach a host that is restarting


class Host(t.Protocol):
    """The host as the waiting sees it. ``look``/``restart`` raise ConnectionError when the host cannot be
    reached, OperationOutputError when its answer cannot be read."""

    def look(self) -> dict[str, t.Any]: ...

    def restart(self, delay: int, message: str, abort_first: bool) -> dict[str, t.Any]: ...

    def reset(self) -> None: ...


def _seconds(value: float) -> int:
    return int(round(value))


def restart_and_wait(host: Host, options: Options, clock: Clock) -> dict[str, t.Any]:
    """Restart the host, wait until it is back with a new boot time and servicing has finished.

    Returns the result fields (rebooted, boot times, elapsed, servicing, warnings); raises RebootFailed with
    the user's message and the fields known so far."""
    result: dict[str, t.Any] = {"rebooted": False, "warnings": []}
    before = read_state(host.look())
    if before.boot_time is None:
        raise RebootFailed("acs_reboot: the host's boot time could not be read before the restart "
                           f"({before.describe()}); it was not restarted", **result)
    result["boot_time_before"] = before.boot
    started = clock.monotonic()

    outcome = _issue_restart(host, options, result)
    result["rebooted"] = True
    went_down, after = _wait_for_new_boot(host, options, clock, before, started, result)
    result["boot_time_after"] = after.boot
    result["elapsed"] = _seconds(clock.monotonic() - started)
    if outcome.kind == "in_progress":
        result["warnings"].append(outcome.message)

    serviced = _wait_for_servicing(host, options, clock, after, result)
    result["boot_time_after"] = serviced.boot
    result["elapsed"] = _seconds(clock.monotonic() - started)
    result["went_down"] = went_down
    return result


def _issue_restart(host: Host, options: Options, result: dict[str, t.Any]) -> ShutdownOutcome:
    abort_first = False
    for _attempt in range(2):
        try:
            answer = host.restart(options.pre_reboot_delay, options.msg, abort_first)
        except ConnectionError:
            # The host may go down before its answer arrives (a delay of 0): the boot time will tell.
            return ShutdownOutcome("issued", "the connection ended while the restart was issued")
        outcome = shutdown_outcome(answer)
        if outcome.kind == "scheduled" and not abort_first:
            # Like win_reboot: a restart scheduled by someone else for later is replaced by ours, now.
            result["warnings"].append("another restart was already scheduled on the host; it was aborted and "
                                      "replaced by this one")
            abort_first = True
            continue
        if outcome.kind in ("issued", "in_progress"):
            return outcome
        raise RebootFailed(f"acs_reboot: the restart could not be issued: {outcome.message}; the host was not "
                           "restarted", **result)
    raise RebootFailed("acs_reboot: the restart could not be issued: another restart stays scheduled after "
                       "shutdown.exe /a; the host was not restarted", **result)


def _wait_for_new_boot(host: Host, options: Options, clock: Clock, before: HostState, started: float,
                       result: dict[str, t.Any]) -> tuple[bool, HostState]:
    """Wait until the host answers with another boot time. (went_down, the first state after the restart)."""
    deadline = started + options.reboot_timeout
    went_down = False
    same_boot_after_drop = False
    last_error = ""
    while True:
        clock.sleep(options.poll_interval)
        try:
            host.reset()
            state = read_state(host.look())
        except ConnectionError as exc:
            went_down = True
            last_error = clean_text(exc, 300)
        except OperationOutputError as exc:
            # A host on its way down or up may answer with a broken shell: keep waiting.
            last_error = clean_text(exc, 300)
        else:
            if state.boot_time is not None and state.boot_time != before.boot_time:
                return went_down, state
            if went_down and state.boot_time == before.boot_time:
                same_boot_after_drop = True
        if clock.monotonic() >= deadline:
            break
    seconds = options.reboot_timeout
    if same_boot_after_drop:
        raise RebootFailed(f"acs_reboot: the host came back with the same boot time ({before.boot}) within "
                           f"{seconds} s: it was not restarted (the restart may have been cancelled with "
                           "shutdown.exe /a, or only the network or WinRM went away)", **result)
    if went_down:
        raise RebootFailed(f"acs_reboot: the host did not come back within the reboot timeout ({seconds} s) after "
                           f"the restart was issued (last error: {last_error or 'none'})", **result)
    raise RebootFailed(f"acs_reboot: the host did not go down within the reboot timeout ({seconds} s): it kept "
                       f"answering with the boot time {before.boot} (the restart may have been cancelled, or "
                       "shutdown is held up by a program or an update)", **result)


def _wait_for_servicing(host: Host, options: Options, clock: Clock, first: HostState,
                        result: dict[str, t.Any]) -> HostState:
    """Wait until two checks an interval apart find servicing finished; the last state."""
    started = clock.monotonic()
    deadline = started + options.servicing_timeout
    state = first
    quiet_since: HostState | None = first if first.quiet else None
    pending_twice = 0
    last_error = ""
    while True:
        if quiet_since is not None and state.quiet and state is not quiet_since:
            result["servicing_seconds"] = _seconds(clock.monotonic() - started)
            return state
        if clock.monotonic() >= deadline:
            break
        clock.sleep(options.servicing_check_interval)
        try:
            answer = read_state(host.look())
        except ConnectionError as exc:
            # Servicing may restart the host once more (a two-stage update): reconnect and keep waiting.
            last_error = clean_text(exc, 300)
            host.reset()
            quiet_since = None
            continue
        except OperationOutputError as exc:
            last_error = clean_text(exc, 300)
            quiet_since = None
            continue
        if answer.boot_time is not None and state.boot_time is not None and answer.boot_time != state.boot_time:
            result["warnings"].append(f"the host restarted once more while servicing (boot time {answer.boot})")
        state = answer
        if state.quiet:
            quiet_since = quiet_since or state
            continue
        quiet_since = None
        # Servicing is idle but a restart is still due: the update was not finished by this restart.
        if state.known and not state.busy and "RebootPending" in state.keys:
            pending_twice += 1
            if pending_twice >= 2:
                raise RebootFailed(
                    "acs_reboot: the host is still pending a restart after the restart (RebootPending is set and "
                    "TrustedInstaller has stopped): the update did not finish; some updates need a second restart, "
                    "run again, and if it stays, look at C:\\Windows\\Logs\\CBS\\CBS.log", **result)
        else:
            pending_twice = 0
    seconds = options.servicing_timeout
    detail = state.describe() + (f"; last error: {last_error}" if last_error else "")
    raise RebootFailed(f"acs_reboot: servicing was still busy when the servicing timeout ({seconds} s) ran out "
                       f"after the restart ({detail})", **result)
