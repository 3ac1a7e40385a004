"""Decode what a WinRS client asks Windows to run: command lines and Ansible's stdin payloads.

Nothing here executes PowerShell. The helpers only recover, the way powershell.exe and Ansible's
exec wrapper would, *which* script or module a command carries:

* :func:`join_command_line` rebuilds the line that WinRS hands to ``cmd.exe`` from the
  ``rsp:Command`` and ``rsp:Arguments`` elements.
* :func:`cmd_exe_refusal` says what cmd.exe prints for a line it does not run: one over its
  8,191-character limit fails whole with "The command line is too long." and exit code 1.
* :func:`parse_powershell_command_line` splits that line and decodes ``-EncodedCommand`` (base64 of
  UTF-16-LE, possibly single-quoted), ``-EncodedArguments`` or ``-Command``. A broken base64 value
  yields the error text powershell.exe prints instead of a script.
* :func:`parse_ansible_exec_wrapper` reads the stdin Ansible sends for modules and helper scripts
  (``JSON1 \\n\\0\\0\\0\\0\\n JSON2 [\\n\\0\\0\\0\\0\\n extra input]``) and names the last action, the
  module and its arguments. The bootstrap script text differs between ansible-core releases, so
  the payload is recognised by its stdin prefix only.

Not emulated: cmd.exe metacharacters (``&``, ``|``, ``^``, ``%VAR%``), ``-File`` script execution,
PowerShell 7 (``pwsh``) specific switches.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CMD_EXE_MAX_LINE",
    "CMD_EXE_TOO_LONG",
    "ENCODED_COMMAND_ERROR",
    "EXEC_WRAPPER_PREFIX",
    "ExecWrapperPayload",
    "cmd_exe_refusal",
    "PowerShellCommandLine",
    "join_command_line",
    "parse_ansible_exec_wrapper",
    "parse_powershell_command_line",
    "split_command_line",
]

# cmd.exe accepts at most 8,191 characters on a command line ("Command prompt (Cmd.exe) command-line
# string limitation", KB830473: https://learn.microsoft.com/en-us/troubleshoot/windows-client/
# shell-experience/command-line-string-limitation). A longer line is not cut: `cmd /c <line>` runs
# nothing, prints this on stderr and exits 1 (reproduced in https://github.com/dotnet/msbuild/issues/2530).
CMD_EXE_MAX_LINE = 8191
CMD_EXE_TOO_LONG = "The command line is too long.\r\n"

ENCODED_COMMAND_ERROR = (
    "Cannot process the command because the value specified with -EncodedCommand is not properly "
    "encoded. The value must be Base64 encoded."
)
ENCODED_ARGUMENTS_ERROR = (
    "Cannot process the command because the value specified with -EncodedArguments is not "
    "properly encoded. The value must be Base64 encoded."
)
# powershell.exe's complaint when -Command has no value; other switches are reported alike here.
MISSING_ARGUMENT_ERROR = "Cannot process the command because of a missing parameter. A command must follow -{name}."

EXEC_WRAPPER_PREFIX = b'{"name": "exec_wrapper"'
EXEC_WRAPPER_SEPARATOR = b"\n\0\0\0\0\n"

_POWERSHELL_EXECUTABLES = {"powershell", "pwsh"}

# powershell.exe switches that take a value; the value is skipped, not interpreted.
_VALUE_SWITCHES = (
    "executionpolicy",
    "inputformat",
    "outputformat",
    "windowstyle",
    "version",
    "psconsolefile",
    "configurationname",
    "workingdirectory",
)
# Short forms powershell.exe documents in addition to unambiguous prefixes.
_ALIASES = {"e": "encodedcommand", "ec": "encodedcommand", "ea": "encodedarguments", "ep": "executionpolicy",
            "c": "command", "f": "file", "nop": "noprofile", "noni": "noninteractive"}
_KNOWN_SWITCHES = (
    "encodedcommand",
    "encodedarguments",
    "command",
    "file",
    "noprofile",
    "noninteractive",
    "nologo",
    "noexit",
    "sta",
    "mta",
    *_VALUE_SWITCHES,
)

# CLIXML escapes control characters as _xHHHH_ (UTF-16 code units, big endian).
_CLIXML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def join_command_line(command: str, arguments: list[str] | tuple[str, ...] = ()) -> str:
    """Return the line WinRS gives cmd.exe: the command and each argument joined by one space."""
    return " ".join([command, *arguments]) if arguments else command


def cmd_exe_refusal(line: str) -> tuple[int, str] | None:
    """(exit code, stderr) of cmd.exe refusing ``line`` as a whole; None when cmd.exe runs it."""
    if len(line) > CMD_EXE_MAX_LINE:
        return 1, CMD_EXE_TOO_LONG
    return None


def split_command_line(line: str) -> list[str]:
    """Split a Windows command line into words, tolerating what a cut line leaves behind.

    Double quotes group words as in ``CommandLineToArgvW`` (``\\"`` is a literal quote); single
    quotes group words as PowerShell does for its own arguments (``''`` is a literal quote).
    Backslashes are ordinary characters, so ``C:\\Windows\\...`` survives. An unterminated quote
    runs to the end of the line instead of failing.
    """
    words: list[str] = []
    current: list[str] = []
    in_word = False
    quote: str | None = None
    i = 0
    while i < len(line):
        char = line[i]
        if quote == '"':
            if line.startswith('\\"', i):
                current.append('"')
                i += 1
            elif char == '"':
                quote = None
            else:
                current.append(char)
        elif quote == "'":
            if line.startswith("''", i):
                current.append("'")
                i += 1
            elif char == "'":
                quote = None
            else:
                current.append(char)
        elif char in " \t":
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
        else:
            in_word = True
            if char in "\"'":
                quote = char
            else:
                current.append(char)
        i += 1
    if in_word:
        words.append("".join(current))
    return words


@dataclass(frozen=True)
class PowerShellCommandLine:
    """What powershell.exe would make of a command line.

    ``script`` is the decoded ``-EncodedCommand`` text, or the ``-Command`` text (also the implicit
    form ``powershell Get-Date``); ``None`` when neither is present or ``error`` is set. ``error``
    holds what powershell.exe prints (and exits 1 with) when it cannot read its arguments.
    """

    executable: str  # as written: "powershell", "PowerShell.exe", "C:\\...\\powershell.exe"
    executable_name: str  # lower-case base name without ".exe": "powershell", "pwsh", "cmd", ...
    script: str | None = None
    encoded: bool = False  # the script came from -EncodedCommand
    arguments: tuple[str, ...] = ()  # decoded -EncodedArguments strings
    switches: dict[str, str | None] = field(default_factory=dict)  # e.g. {"executionpolicy": "Unrestricted"}
    file: str | None = None  # -File argument (not executed)
    error: str | None = None

    @property
    def is_powershell(self) -> bool:
        return self.executable_name in _POWERSHELL_EXECUTABLES


def _executable_name(executable: str) -> str:
    name = re.split(r"[\\/]", executable)[-1].lower()
    return name[:-4] if name.endswith(".exe") else name


def _switch_name(word: str) -> str | None:
    """Resolve a ``-Switch`` word to its full lower-case name (aliases and unique prefixes)."""
    if len(word) < 2 or word[0] != "-":
        return None
    name = word[1:].lower()
    if name in _ALIASES:
        return _ALIASES[name]
    if name in _KNOWN_SWITCHES:
        return name
    # "-enc", "-encoded" and other prefixes mean -EncodedCommand for powershell.exe.
    if "encodedcommand".startswith(name) and len(name) >= 2:
        return "encodedcommand"
    matches = [switch for switch in _KNOWN_SWITCHES if switch.startswith(name)]
    return matches[0] if len(matches) == 1 else None


def _decode_base64_utf16(value: str) -> str | None:
    """Decode like ``Encoding.Unicode.GetString(Convert.FromBase64String(value))``; None if not base64."""
    compact = "".join(value.split())
    if len(compact) % 4:
        return None
    try:
        raw = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None
    # .NET replaces a dangling odd byte with U+FFFD instead of failing.
    return raw.decode("utf-16-le", errors="replace")


def _clixml_strings(clixml: str) -> tuple[str, ...]:
    """Extract the <S> values of an -EncodedArguments CLIXML ArrayList."""
    root = ET.fromstring(clixml)
    values = []
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] == "S":
            text = element.text or ""
            values.append(_CLIXML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text))
    # Surrogate pairs were escaped as two code units; re-join them.
    return tuple(v.encode("utf-16", "surrogatepass").decode("utf-16", "surrogatepass") for v in values)


def parse_powershell_command_line(line: str) -> PowerShellCommandLine:
    """Parse a command line as powershell.exe parses its own arguments.

    The executable may be written ``powershell``, ``PowerShell``, ``powershell.exe`` or as a full
    path. For any other executable the result only carries the executable name.
    """
    words = split_command_line(line)
    if not words:
        return PowerShellCommandLine(executable="", executable_name="")
    executable, rest = words[0], words[1:]
    name = _executable_name(executable)
    if name not in _POWERSHELL_EXECUTABLES:
        return PowerShellCommandLine(executable=executable, executable_name=name)

    switches: dict[str, str | None] = {}
    script: str | None = None
    encoded = False
    arguments: tuple[str, ...] = ()
    file: str | None = None
    index = 0
    while index < len(rest):
        word = rest[index]
        switch = _switch_name(word)
        if switch is None:
            # powershell.exe treats the first word it does not know as the start of -Command.
            script = " ".join(rest[index:])
            break
        takes_value = switch in ("encodedcommand", "encodedarguments", "command", "file", *_VALUE_SWITCHES)
        if not takes_value:
            switches[switch] = None
            index += 1
            continue
        if index + 1 >= len(rest):
            display = {"encodedcommand": "EncodedCommand", "command": "Command"}.get(switch, word.lstrip("-"))
            return PowerShellCommandLine(executable, name, switches=switches,
                                         error=MISSING_ARGUMENT_ERROR.format(name=display))
        value = rest[index + 1]
        if switch == "command":
            # Everything after -Command is the command text ("-" means: read it from stdin).
            script = " ".join(rest[index + 1:])
            break
        if switch == "encodedcommand":
            decoded = _decode_base64_utf16(value)
            if decoded is None:
                return PowerShellCommandLine(executable, name, switches=switches, error=ENCODED_COMMAND_ERROR)
            script, encoded = decoded, True
        elif switch == "encodedarguments":
            try:
                arguments = _clixml_strings(_decode_base64_utf16(value) or "")
            except ET.ParseError:  # not base64, or not CLIXML
                return PowerShellCommandLine(executable, name, switches=switches, error=ENCODED_ARGUMENTS_ERROR)
        elif switch == "file":
            file = value
            break
        else:
            switches[switch] = value
        index += 2

    return PowerShellCommandLine(
        executable=executable,
        executable_name=name,
        script=script,
        encoded=encoded,
        arguments=arguments,
        switches=switches,
        file=file,
    )


@dataclass(frozen=True)
class ExecWrapperPayload:
    """Ansible's exec-wrapper stdin, reduced to what decides a Windows host's answer.

    ``action`` is the name of the last action (``module_wrapper.ps1``, ``powershell_mkdtemp.ps1``,
    ``winrm_put_file.ps1``, ...); earlier actions (``become_wrapper.ps1``, ``async_wrapper.ps1``,
    ...) are listed in ``actions``. For modules ``module`` is ``params.Script``
    (``ansible_collections.ansible.windows.plugins.modules.win_ping.ps1``) and ``module_args`` the
    ``complex_args`` without the ``_ansible_*`` keys.
    """

    action: str
    params: dict[str, Any]
    secure_params: dict[str, Any]
    actions: tuple[str, ...]
    wrapper_params: dict[str, Any]  # JSON1 "params": MinOSVersion, MinPSVersion, TempPath, PwshPath
    scripts: dict[str, str]  # script name -> base64 source, as sent
    module: str | None = None
    module_args: dict[str, Any] = field(default_factory=dict)
    check_mode: bool = False
    no_log: bool = False
    ansible_args: dict[str, Any] = field(default_factory=dict)  # the _ansible_* keys
    extra_input: bytes = b""  # e.g. put_file content: base64 lines after the second separator

    @property
    def module_fqcn(self) -> str | None:
        """``ansible.windows.win_ping`` for ``ansible_collections.ansible.windows.plugins.modules.win_ping.ps1``."""
        match = re.fullmatch(r"ansible_collections\.(\w+)\.(\w+)\.plugins\.modules\.(\w+)\.ps1", self.module or "")
        return ".".join(match.groups()) if match else None

    def script_source(self, name: str) -> str:
        """The decoded text of one script the payload carries (e.g. the module's .ps1)."""
        return base64.b64decode(self.scripts[name]).decode("utf-8-sig")


def _complex_args(params: dict[str, Any]) -> dict[str, Any]:
    for variable in params.get("Variables") or []:
        if isinstance(variable, dict) and variable.get("Name") == "complex_args":
            value = variable.get("Value")
            return value if isinstance(value, dict) else {}
    return {}


def parse_ansible_exec_wrapper(stdin: bytes) -> ExecWrapperPayload | None:
    """Decode Ansible's bootstrap stdin; None when stdin is not an exec-wrapper payload.

    Raises ``ValueError`` when stdin starts like a payload but cannot be read (e.g. cut short).
    """
    if not stdin.startswith(EXEC_WRAPPER_PREFIX):
        return None
    parts = stdin.split(EXEC_WRAPPER_SEPARATOR, 2)
    if len(parts) < 2:
        raise ValueError("exec_wrapper payload without the separator before its second JSON document")
    try:
        wrapper = json.loads(parts[0])
        manifest = json.loads(parts[1])
    except json.JSONDecodeError as exc:
        raise ValueError(f"exec_wrapper payload is not valid JSON: {exc}") from exc
    actions = manifest.get("actions") or []
    if not actions:
        raise ValueError("exec_wrapper payload has no actions")
    last = actions[-1]
    params = last.get("params") or {}
    complex_args = _complex_args(params)
    return ExecWrapperPayload(
        action=last.get("name", ""),
        params=params,
        secure_params=last.get("secure_params") or {},
        actions=tuple(action.get("name", "") for action in actions),
        wrapper_params=wrapper.get("params") or {},
        scripts={name: entry.get("script", "") for name, entry in (manifest.get("scripts") or {}).items()},
        module=params.get("Script"),
        module_args={k: v for k, v in complex_args.items() if not k.startswith("_ansible_")},
        check_mode=bool(complex_args.get("_ansible_check_mode", False)),
        no_log=bool(complex_args.get("_ansible_no_log", False)),
        ansible_args={k: v for k, v in complex_args.items() if k.startswith("_ansible_")},
        extra_input=parts[2] if len(parts) > 2 else b"",
    )
