r"""Native commands (executables) on an emulated host: how PowerShell 2.0 runs them, and the registry of the ones
the emulated hosts have.

How PowerShell runs an executable, each rule with its source:
- A command name that is no function or cmdlet is looked up as an application: a bare name through PATH and
  PATHEXT (``expand`` finds ``expand.exe``), a path as that file (about_Command_Precedence,
  https://learn.microsoft.com/powershell/module/microsoft.powershell.core/about/about_command_precedence).
  The emulated hosts' PATH is the system directory, %SystemRoot%\System32.
- The call operator ``&`` runs a command named by a string or a variable, which is how a path with variables
  (``& "$env:SystemRoot\System32\dism.exe"``) is run (about_Operators, "Call operator &",
  https://learn.microsoft.com/powershell/module/microsoft.powershell.core/about/about_operators).
- An argument is passed as its text: a quoted string or variable as its value, a bareword as written, and
  ``-Name:value`` as one argument (about_Parsing, "Passing arguments that contain quote characters" and
  "Argument mode", https://learn.microsoft.com/powershell/module/microsoft.powershell.core/about/about_parsing);
  an array variable passes each element as its own argument.
- Each line the program writes to standard output becomes one string in the pipeline, empty lines included
  (about_Redirection; "Output of native commands", https://learn.microsoft.com/powershell/scripting/learn/shell/running-commands).
- When it ends, ``$LASTEXITCODE`` holds the program's exit code and ``$?`` is False for a non-zero one
  (about_Automatic_Variables, https://learn.microsoft.com/powershell/module/microsoft.powershell.core/about/about_automatic_variables).
  A non-zero exit code is not an error: the script goes on, even with $ErrorActionPreference = 'Stop'.
- What the program writes to standard error is not pipeline output. ``2>&1`` turns each such line into an
  ErrorRecord in Windows PowerShell, which throws under $ErrorActionPreference = 'Stop' (about_Redirection);
  no script of the collection uses it, so it is not modelled and fails loudly.

The registry: programs() maps a file name (lower case, with its extension) to a handler
``handler(binding, arguments) -> NativeResult``; HostBinding keeps its own copy, so a test can add an
executable to one host. A handler raises NativeNotFound when the host does not have the program (an older Windows);
an executable no handler models fails loudly (UnsupportedConstruct), never as "not found".
"""

from __future__ import annotations

import dataclasses
import ntpath
import typing as t

SYSTEM_DIRECTORY = "c:\\windows\\system32"
SYSNATIVE = "c:\\windows\\sysnative"
# PATHEXT's default order (https://learn.microsoft.com/windows-server/administration/windows-commands/start, Remarks).
PATHEXT = (".com", ".exe", ".bat", ".cmd")


@dataclasses.dataclass
class NativeResult:
    """What a program did: its exit code and the lines it wrote."""

    exit_code: int = 0
    stdout: list[str] = dataclasses.field(default_factory=list)
    stderr: list[str] = dataclasses.field(default_factory=list)


class NativeNotFound(Exception):
    """The host has no such program (e.g. dism.exe on Server 2008)."""


NativeHandler = t.Callable[[t.Any, list[str]], NativeResult]


def resolve(name: str, handlers: t.Mapping[str, NativeHandler],
            directories: t.Sequence[str] = (SYSTEM_DIRECTORY,)) -> tuple[str, NativeHandler | None, bool]:
    """The file name a command name stands for, its handler, and whether it can be an application at all.

    A bare name is tried with each PATHEXT extension in the system directory; a path must be in the system
    directory (the emulated hosts have no other programs). The third value is False for a bare name without
    extension that no handler knows: PowerShell reports it as an unknown command, not an unmodelled program."""
    text = name.strip().strip('"').replace("/", "\\")
    directory, base = ntpath.split(text)
    base = base.lower()
    if directory and ntpath.normcase(ntpath.normpath(directory)) not in directories:
        # Sysnative exists only for a 32-bit process on 64-bit Windows (File System Redirector,
        # https://learn.microsoft.com/windows/win32/winprog64/file-system-redirector): elsewhere nothing is there.
        return base, None, ntpath.normcase(ntpath.normpath(directory)) != SYSNATIVE
    if ntpath.splitext(base)[1] in PATHEXT:
        return base, handlers.get(base), True
    for extension in PATHEXT:
        if base + extension in handlers:
            return base + extension, handlers[base + extension], True
    return base, None, bool(directory)


def output_lines(text: str) -> list[str]:
    """A program's output as PowerShell splits it: one string per line, CRLF or LF, no trailing empty line."""
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def programs() -> dict[str, NativeHandler]:
    """The registry: every program an emulated host can run, by file name. A fresh dict for each host
    (HostBinding), so that a test may add one to a single host. The handlers live in the modules that model
    what they change; they are imported here, when the first host starts, because they import this module."""
    from emulator import restart, servicing, tasks   # pylint: disable=import-outside-toplevel
    return {**servicing.PROGRAMS, **restart.PROGRAMS, **tasks.PROGRAMS}
