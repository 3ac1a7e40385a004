r"""Task Scheduler on an emulated host: schtasks.exe, tasks that run as SYSTEM, and WinRM's shell memory quota.

What Windows does, each with its source:

* ``schtasks.exe /Create /TN <name> /RU SYSTEM /SC ONCE /ST <HH:mm> /TR <command> /F`` registers a task that runs
  <command> as LocalSystem; ``/F`` replaces a task of that name. Only an administrator may register a task that
  runs as another account (SYSTEM): anyone else gets "ERROR: Access is denied." and exit code 1. ``/Run /TN``
  starts it now, ``/Delete /TN /F`` removes it, ``/Query /TN /FO CSV /V /NH`` prints one CSV line of the task's
  properties in a fixed column order (HostName, TaskName, Next Run Time, Status, Logon Mode, Last Run Time, Last
  Result, Author, Task To Run, ...). schtasks.exe exits 0 on success and 1 on any error, which it writes to
  standard error ("ERROR: ..."); a task name that does not exist is "ERROR: The system cannot find the file
  specified."; ``/TR`` takes at most 261 characters.
  https://learn.microsoft.com/windows-server/administration/windows-commands/schtasks-create ,
  https://learn.microsoft.com/windows-server/administration/windows-commands/schtasks-run ,
  https://learn.microsoft.com/windows-server/administration/windows-commands/schtasks-query ,
  https://learn.microsoft.com/windows-server/administration/windows-commands/schtasks-delete
* "Last Result" is the exit code of the task's program once it has run, as a signed decimal; before that it
  is SCHED_S_TASK_HAS_NOT_RUN (0x00041303 = 267011), while it runs SCHED_S_TASK_RUNNING (0x00041301 = 267009).
  The Status column ("Ready", "Running") is translated with the display language; the codes are not.
  https://learn.microsoft.com/windows/win32/taskschd/task-scheduler-error-and-success-constants
* A task runs outside any WinRM shell, so the shell's quotas do not apply to it.
* WinRM's MaxMemoryPerShellMB limits the memory of a shell and all its child processes: "the remote operation is
  terminated when a new allocation exceeds the specified quota" (policy "Specify maximum amount of memory in MB
  per Shell", default 150 on WinRM 2.0; https://learn.microsoft.com/windows/win32/winrm/quotas). The
  fixture's ``servicing: {dism_memory_mb: N}`` is what DISM (or pkgmgr) needs for a package; where it exceeds
  the quota of the shell it runs in, the shell's processes are terminated before the package is added: the
  command ends with nothing more on its output (ShellTerminated; emulator.host ends the command). Microsoft
  does not document the exit code a terminated shell's command reports: the model gives 1. Without the key
  DISM fits in any quota, as before.

The fixture's ``servicing: {task_seconds: N}`` is how long a task runs before its Last Result is its program's
exit code (default 0: done when first asked). The program's effect on the model is applied when it starts.
"""

from __future__ import annotations

import shlex
import time
import typing as t

from emulator.pwsh import native
from emulator.pwsh.native import NativeResult
from emulator.pwsh.runtime import UnsupportedConstruct
from emulator.windows import WindowsHost

SCHED_S_TASK_RUNNING = 0x00041301
SCHED_S_TASK_HAS_NOT_RUN = 0x00041303
ERROR_FILE_NOT_FOUND_HRESULT = 0x80070002
TASK_RUN_MAX = 261
NOT_FOUND = "ERROR: The system cannot find the file specified."
ACCESS_DENIED = "ERROR: Access is denied."
_VALUED = {"tn", "ru", "sc", "st", "sd", "tr", "fo", "rl"}
_FLAGS = {"f", "v", "nh"}


class ShellTerminated(Exception):
    """WinRM terminated the shell: a process in it allocated beyond MaxMemoryPerShellMB."""


def shell_memory_mb(host: WindowsHost) -> int:
    """MaxMemoryPerShellMB of the host's WinRM: 150 on WinRM 2.0 (before Windows 8 / 2012), 1024 later, or the
    fixture's ``servicing: {max_memory_per_shell_mb}``; 0 is unlimited."""
    default = 150 if (host.major, host.minor) < (6, 2) else 1024
    return int(host.servicing.get("max_memory_per_shell_mb", default))


def check_shell_quota(binding: t.Any, program: str) -> None:
    """Raise ShellTerminated where the servicing program would allocate beyond the shell's quota."""
    if getattr(binding, "scheduled_task", False):
        return
    needed = binding.host.servicing.get("dism_memory_mb")
    quota = shell_memory_mb(binding.host)
    if needed is not None and quota and int(needed) > quota:
        raise ShellTerminated(f"{program} needed {needed} MB; the shell may use {quota} MB (MaxMemoryPerShellMB)")


class _SystemView:
    """The host as a task running as LocalSystem sees it: the same machine, an administrator."""

    administrator = True

    def __init__(self, host: WindowsHost) -> None:
        self._host = host

    def __getattr__(self, name: str) -> t.Any:
        return getattr(self._host, name)


class _TaskBinding:
    """What a program started by Task Scheduler gets in place of an interpreter's binding."""

    scheduled_task = True

    def __init__(self, host: WindowsHost) -> None:
        self.host = _SystemView(host)


def _signed(code: int) -> int:
    return code - 2**32 if code >= 2**31 else code


def _options(arguments: list[str]) -> dict[str, t.Any]:
    options: dict[str, t.Any] = {}
    index = 1
    while index < len(arguments):
        name = arguments[index].lower()
        if not name.startswith("/") or name[1:] not in _VALUED | _FLAGS:
            raise UnsupportedConstruct(f"schtasks.exe argument {arguments[index]!r}")
        if name[1:] in _FLAGS:
            options[name[1:]] = True
            index += 1
            continue
        if index + 1 >= len(arguments):
            raise UnsupportedConstruct(f"schtasks.exe {arguments[index]} without a value")
        options[name[1:]] = arguments[index + 1]
        index += 2
    return options


def _find(host: WindowsHost, name: t.Any) -> str | None:
    wanted = str(name or "").lstrip("\\").lower()
    return next((key for key in host.scheduled_tasks if key.lower() == wanted), None)


def _error(text: str) -> NativeResult:
    return NativeResult(1, [], [text])


def _create(host: WindowsHost, options: dict[str, t.Any]) -> NativeResult:
    if str(options.get("sc", "")).upper() != "ONCE" or "st" not in options or "tr" not in options or "tn" not in options:
        raise UnsupportedConstruct("schtasks.exe /Create other than /SC ONCE /ST /TN /TR")
    if str(options.get("ru", "")).upper() not in ("SYSTEM", "NT AUTHORITY\\SYSTEM"):
        raise UnsupportedConstruct("schtasks.exe /Create for an account other than SYSTEM")
    if len(str(options["tr"])) > TASK_RUN_MAX:
        return _error("ERROR: Invalid syntax. Value for '/TR' option cannot be more than 261 character(s).")
    if not host.administrator:
        return _error(ACCESS_DENIED)
    existing = _find(host, options["tn"])
    if existing is not None and not options.get("f"):
        raise UnsupportedConstruct("schtasks.exe /Create of an existing task without /F (it asks on the console)")
    if existing is not None:
        del host.scheduled_tasks[existing]
    name = str(options["tn"]).lstrip("\\")
    host.scheduled_tasks[name] = {"command": str(options["tr"]), "run_as": "SYSTEM", "start_time": options["st"],
                                  "last_result": SCHED_S_TASK_HAS_NOT_RUN, "exit_code": None, "finishes": None,
                                  "output": []}
    return NativeResult(0, [f'SUCCESS: The scheduled task "{name}" has successfully been created.'])


def _run(host: WindowsHost, options: dict[str, t.Any]) -> NativeResult:
    found = _find(host, options.get("tn"))
    if found is None:
        return _error(NOT_FOUND)
    if not host.administrator:
        return _error(ACCESS_DENIED)
    task = host.scheduled_tasks[found]
    try:
        words = shlex.split(task["command"], posix=False)
    except ValueError as exc:
        raise UnsupportedConstruct(f"a task command Task Scheduler cannot split: {exc}") from None
    if any('"' in word for word in words):
        raise UnsupportedConstruct("a quoted task command (not modelled)")
    _program, handler, _application = native.resolve(words[0], native.programs())
    if handler is None:
        result = NativeResult(_signed(ERROR_FILE_NOT_FOUND_HRESULT), [])
    else:
        result = handler(_TaskBinding(host), words[1:])
    seconds = float(host.servicing.get("task_seconds", 0))
    task.update(exit_code=int(result.exit_code), output=list(result.stdout), finishes=time.monotonic() + seconds,
                last_result=SCHED_S_TASK_RUNNING)
    return NativeResult(0, [f'SUCCESS: Attempted to run the scheduled task "{found}".'])


def last_result(task: dict[str, t.Any]) -> int:
    if task["finishes"] is not None and time.monotonic() >= task["finishes"]:
        task["last_result"] = task["exit_code"]
    return int(task["last_result"])


def _query(host: WindowsHost, options: dict[str, t.Any]) -> NativeResult:
    if str(options.get("fo", "")).upper() != "CSV" or not options.get("v") or not options.get("nh"):
        raise UnsupportedConstruct("schtasks.exe /Query other than /TN /FO CSV /V /NH")
    found = _find(host, options.get("tn"))
    if found is None:
        return _error(NOT_FOUND)
    task = host.scheduled_tasks[found]
    result = last_result(task)
    status = "Running" if result == SCHED_S_TASK_RUNNING else "Ready"
    ran = "N/A" if task["finishes"] is None else "11/29/2026 8:00:00 PM"
    columns = [host.name.upper(), "\\" + found, "N/A", status, "Interactive/Background", ran, str(result),
               host.name.upper() + "\\Administrator", task["command"], "N/A", "N/A", "Enabled", "Disabled",
               "Stop On Battery Mode, No Start On Batteries", "SYSTEM", "Disabled", "72:00:00",
               "Scheduling data is not available in this format.", "One Time Only", f"{task['start_time']}:00",
               "11/29/2026", "N/A", "N/A", "N/A", "Disabled", "Disabled", "Disabled", "Disabled"]
    return NativeResult(0, [",".join(f'"{column}"' for column in columns)])


def _delete(host: WindowsHost, options: dict[str, t.Any]) -> NativeResult:
    if not options.get("f"):
        raise UnsupportedConstruct("schtasks.exe /Delete without /F (it asks on the console)")
    found = _find(host, options.get("tn"))
    if found is None:
        return _error(NOT_FOUND)
    if not host.administrator:
        return _error(ACCESS_DENIED)
    del host.scheduled_tasks[found]
    return NativeResult(0, [f'SUCCESS: The scheduled task "{found}" was successfully deleted.'])


def schtasks(binding: t.Any, arguments: list[str]) -> NativeResult:
    if not arguments:
        raise UnsupportedConstruct("schtasks.exe without a verb")
    verb = arguments[0].lower()
    handlers = {"/create": _create, "/run": _run, "/query": _query, "/delete": _delete}
    if verb not in handlers:
        raise UnsupportedConstruct(f"schtasks.exe {arguments[0]}")
    return handlers[verb](binding.host, _options(arguments))


PROGRAMS = {"schtasks.exe": schtasks}
