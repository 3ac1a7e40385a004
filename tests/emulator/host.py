"""An emulated Windows host: turns a WinRS command into what that Windows machine would print.

Dispatch, as Windows would see it:
* no PowerShell installed -> cmd.exe's "is not recognized" error;
* an -EncodedCommand value that is not base64 -> PowerShell's "not properly encoded" error (a line
  over cmd.exe's 8,191 characters never gets here: the server answers cmd.exe's refusal);
* Ansible's module exec wrapper on stdin -> the module's answer from the model (win_ping, setup,
  win_reg_stat, win_shell for the few commands a hand-written readiness playbook runs, and win_updates,
  emulator.windows_update),
  or Ansible's own "requires PowerShell v5.1" failure on older hosts, as its bootstrap prints;
* a bootstrap that runs its stdin -> the bootstrap and that script, executed by the PowerShell
  interpreter (emulator.pwsh) against the model; emulator.probe_runner's independent reading of the probes
  stays as a cross-check (tests/e2e/test_runner_executed.py);
* a script that is itself a powershell.exe command line (ansible-core 2.16-2.18's winrm plugin
  wraps every command in ``powershell -EncodedCommand``) -> the inner powershell.exe starts as a
  native command and runs its own line, without the outer process's stdin (see _NESTED_STDIN);
* anything else -> a PowerShell error saying this emulated host cannot run it.
Every script is parsed with the PowerShell grammar first: a syntax error, or a construct newer
than the host's PowerShell, fails as PowerShell would fail.
"""

from __future__ import annotations

import functools
import json
import re
import threading
import time
import typing as t

from emulator import probe_runner, windows_update
from emulator.tasks import ShellTerminated
from emulator.pwsh.dotnet import run_script
from emulator.pwsh.runtime import ScriptError, UnsupportedConstruct, to_string
from emulator.cmdline import parse_ansible_exec_wrapper, parse_powershell_command_line
from emulator.windows import CERT_STORES, Denied, WindowsHost
from emulator.wsman import CommandResult

NOT_RECOGNIZED = ("'{name}' is not recognized as an internal or external command,\r\n"
                  "operable program or batch file.\r\n")
# The same message on a German Windows: cmd.exe's messages follow the display language.
NOT_RECOGNIZED_BY_LANGUAGE = {
    "en-US": NOT_RECOGNIZED,
    "de-DE": 'Der Befehl "{name}" ist entweder falsch geschrieben oder\r\nkonnte nicht gefunden werden.\r\n',
}
# cmd.exe's exit code for a command it cannot find (MSG_DIR_BAD_COMMAND_OR_FILE, cmdmsg.h), whatever
# the display language: https://stackoverflow.com/questions/23091906/official-ms-reference-for-cmd-exe-errorlevel-9009
NOT_RECOGNIZED_RC = 9009
# What .NET's console writes first when the console code page is UTF-8 (65001): the encoding's
# preamble. https://github.com/dotnet/corefx/issues/35950
UTF8_BOM = b"\xef\xbb\xbf"
_STDIN_BOOTSTRAP = re.compile(r"foreach\s*\(\s*\$(\w+)\s+in\s+\$input\s*\).*\[ScriptBlock\]::Create", re.I | re.S)
# A native command started from a PowerShell script gets the script's pipeline input only when it
# is piped to it; whether the stdin of the outer powershell.exe (started by WinRS) reaches a nested
# powershell.exe is not documented and not verified on a real host. The model assumes it does not,
# so that a gather relying on it fails visibly here instead of passing by luck.
_NESTED_STDIN = b""
_MIN_VERSION = re.compile(r"-lt\s*\[Version\]\s*\"(\d+\.\d+)\"\s*\)\s*\{\s*'([^']*)'", re.I)
_NEEDS_VERSION = re.compile(r"PowerShell (\d+\.\d+)")


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


@functools.lru_cache(maxsize=64)
def _parse_problem(script: str, powershell: str) -> str | None:
    """The grammar check, once per script text and PowerShell version: every host gets the same script."""
    from support.ps_grammar import check_powershell  # pylint: disable=import-outside-toplevel

    host_version = _version_tuple(powershell)
    for finding in check_powershell(script):
        if finding.rule == "non_ascii":
            continue
        needed = _NEEDS_VERSION.search(finding.message)
        if finding.rule != "syntax" and (not needed or _version_tuple(needed.group(1)) <= host_version):
            continue
        return (f"At line:{finding.line} char:{finding.column}\r\n+ {finding.text[:60]}\r\n"
                f"{finding.message} (PowerShell {powershell})\r\n"
                "    + CategoryInfo          : ParserError: (:) [], ParentContainsErrorRecordException\r\n")
    return None


def _error(message: str, rc: int = 1) -> CommandResult:
    return CommandResult(rc=rc, stdout=b"", stderr=message.encode("utf-8"))


class EmulatedWindows:
    """The Backend the WS-Management server calls for each command."""

    def __init__(self, model: WindowsHost):
        self.model = model
        self.name = model.name
        self.lock = threading.Lock()
        self.commands: list[dict[str, t.Any]] = []

    # ---- entry point ------------------------------------------------------------------------
    def run_command(self, command_line: str, stdin: bytes) -> CommandResult:
        with self.lock:
            result = self._run(command_line, stdin)
            self.commands.append({"command_line": command_line, "stdin_bytes": len(stdin), "rc": result.rc})
            return result

    def _run(self, command_line: str, stdin: bytes) -> CommandResult:
        parsed = parse_powershell_command_line(command_line)
        if not parsed.is_powershell:
            return _error(NOT_RECOGNIZED.format(name=parsed.executable or command_line.split(" ")[0]), NOT_RECOGNIZED_RC)
        if self.model.powershell is None:
            message = NOT_RECOGNIZED_BY_LANGUAGE[self.model.display_language]
            return _error(message.format(name=parsed.executable), NOT_RECOGNIZED_RC)
        if parsed.error:
            return _error(parsed.error + "\r\n")
        script = parsed.script or ""
        problem = self._script_problem(script)
        if problem:
            return _error(problem)

        payload = parse_ansible_exec_wrapper(stdin) if stdin else None
        if payload is not None:
            return self._ansible(script, payload)
        nested = parse_powershell_command_line(script.strip()) if "\n" not in script.strip() else None
        if nested is not None and nested.is_powershell:
            return self._run(script.strip(), _NESTED_STDIN)
        if _STDIN_BOOTSTRAP.search(script):
            return self._execute(script, stdin.decode("utf-8", errors="replace"))
        return self._script(script)

    def _execute(self, bootstrap: str, stdin_text: str) -> CommandResult:
        """Run a bootstrap that builds its script from stdin, as powershell.exe would: the PowerShell
        interpreter executes both against the model. $input holds stdin's lines."""
        problem = self._script_problem(stdin_text)
        if problem:
            return _error(problem)
        try:
            output = run_script(self.model, bootstrap, stdin_text.splitlines(), sleep=time.sleep)
        except ScriptError as error:
            return _error(error.record.console_text())
        except UnsupportedConstruct as exc:
            return _error(f"The emulated host {self.name} cannot run this script: {exc}\r\n")
        except ShellTerminated:
            # WinRM ended the shell's processes (MaxMemoryPerShellMB): nothing more arrives (emulator.tasks).
            return CommandResult(rc=1)
        text = "".join(to_string(item) + "\r\n" for item in output)
        dropped, self.model.connection_drop_pending = self.model.connection_drop_pending, False
        return CommandResult(rc=0, stdout=(UTF8_BOM if self.model.output_bom else b"") + text.encode("utf-8"),
                             drop_connection=dropped)

    def _script_problem(self, script: str) -> str | None:
        """What PowerShell prints when it cannot parse the script, or the host's PowerShell is too old."""
        return _parse_problem(script, self.model.powershell or "0.0")

    # ---- scripts ----------------------------------------------------------------------------
    def _script(self, script: str) -> CommandResult:
        if not script.strip():
            return CommandResult(0)  # an empty script block runs and prints nothing
        problem = self._script_problem(script)
        if problem:
            return _error(problem)
        if probe_runner.is_probe_runner(script):
            try:
                output = probe_runner.run(self.model, script)
            except probe_runner.ScriptError as exc:
                return _error(f"{exc}\r\n")
            return CommandResult(rc=0, stdout=(UTF8_BOM if self.model.output_bom else b"") + output.encode("ascii"))
        return self._simple(script)

    def _simple(self, script: str) -> CommandResult:
        """The few one-line commands tests and users type with the raw module."""
        text = script.strip()
        lowered = text.lower()
        if lowered in ("hostname", "$env:computername"):
            return CommandResult(0, (self.name.upper() + "\r\n").encode())
        if lowered in ("$psversiontable.psversion.tostring()", "[string]$psversiontable.psversion"):
            return CommandResult(0, f"{self.model.powershell}\r\n".encode())
        match = re.fullmatch(r"(?:echo|write-output)\s+'([^']*)'", text, re.I)
        if match:
            return CommandResult(0, (match.group(1) + "\r\n").encode())
        return _error(f"The emulated host {self.name} cannot run this script: {text[:120]!r}\r\n")

    # ---- Ansible modules --------------------------------------------------------------------
    def _ansible(self, bootstrap: str, payload) -> CommandResult:
        minimum = _MIN_VERSION.search(bootstrap)
        if minimum and _version_tuple(self.model.powershell or "0.0") < _version_tuple(minimum.group(1)):
            return CommandResult(1, (minimum.group(2) + "\r\n").encode())
        if payload.action != "module_wrapper.ps1":
            return CommandResult(1, json.dumps({"failed": True, "msg": f"the emulated host does not implement "
                                                f"{payload.action}"}).encode())
        module = payload.module_fqcn or payload.module or ""
        name = module.rsplit(".", 1)[-1]
        handler = getattr(self, f"_module_{name}", None)
        if handler is None:
            answer = {"failed": True, "msg": f"the emulated host {self.name} does not implement the module {module}"}
            return CommandResult(1, json.dumps(answer).encode())
        answer = handler(payload.module_args, payload.check_mode)
        return CommandResult(1 if answer.get("failed") else 0, json.dumps(answer).encode())

    def _module_win_ping(self, args: dict[str, t.Any], check_mode: bool) -> dict[str, t.Any]:
        data = args.get("data", "pong")
        if data == "crash":
            return {"failed": True, "msg": "boom"}
        return {"changed": False, "ping": data}

    def _module_setup(self, args: dict[str, t.Any], check_mode: bool) -> dict[str, t.Any]:
        model = self.model
        product_type = {1: "workstation", 2: "domain_controller", 3: "server"}[model.product_type]
        installation = model.registry.open(r"SOFTWARE\Microsoft\Windows NT\CurrentVersion").get("InstallationType")
        uptime = max(0, int((__import__("datetime").datetime.now(model.boot_time.tzinfo) - model.boot_time)
                            .total_seconds()))
        facts = {
            "ansible_os_family": "Windows",
            "ansible_system": "Win32NT",
            "ansible_distribution": model.caption,
            "ansible_distribution_version": f"{model.version}.0",
            "ansible_distribution_major_version": str(model.major),
            "ansible_kernel": f"{model.version}.0",
            "ansible_os_name": model.caption,
            "ansible_os_product_type": product_type,
            "ansible_os_installation_type": installation,
            "ansible_hostname": model.name.upper()[:15],
            "ansible_fqdn": f"{model.name}.emulated.test",
            "ansible_powershell_version": int(model.powershell.split(".")[0]) if model.powershell else None,
            "ansible_architecture": "64-bit" if model.architecture == "AMD64" else "32-bit",
            "ansible_lastboot": model.boot_time.strftime("%Y-%m-%d %H:%M:%SZ"),
            "ansible_uptime_seconds": uptime,
            "ansible_reboot_pending": model.registry.open(
                r"SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending") is not None,
            "module_setup": True,
        }
        return {"changed": False, "ansible_facts": facts}

    def _module_win_updates(self, args: dict[str, t.Any], check_mode: bool) -> dict[str, t.Any]:
        """ansible.windows.win_updates: the Windows Update Agent of the model (emulator.windows_update)."""
        return windows_update.module(self.model, args, check_mode)

    # ---- what a hand-written ansible.windows readiness playbook asks (tests/benchmarks) ---------
    def _module_win_reg_stat(self, args: dict[str, t.Any], check_mode: bool) -> dict[str, t.Any]:
        """ansible.windows.win_reg_stat on HKLM: the key's existence, or one value with its type.
        https://docs.ansible.com/ansible/latest/collections/ansible/windows/win_reg_stat_module.html"""
        path = str(args.get("path") or args.get("key") or "")
        hive, _separator, rest = path.partition("\\")
        if hive.upper().rstrip(":") not in ("HKLM", "HKEY_LOCAL_MACHINE"):
            return {"failed": True, "msg": f"the emulated host {self.name} models only HKLM, not {path}"}
        try:
            key = self.model.registry.open(rest)
        except Denied as exc:
            return {"failed": True, "changed": False, "msg": str(exc)}
        name = args.get("name")
        if key is None or (name and key.get(name) is None):
            return {"changed": False, "exists": False}
        if not name:
            return {"changed": False, "exists": True,
                    "properties": {n: {"value": v, "type": _reg_type(v), "raw_value": v}
                                   for n, v in key.values.values()},
                    "sub_keys": self.model.registry.subkey_names(rest)}
        value = key.get(name)
        return {"changed": False, "exists": True, "value": value, "raw_value": value, "type": _reg_type(value)}

    def _module_win_shell(self, args: dict[str, t.Any], check_mode: bool) -> dict[str, t.Any]:
        """ansible.windows.win_shell for the commands a readiness playbook types: Get-HotFix (the
        Win32_QuickFixEngineering rows, https://learn.microsoft.com/powershell/module/microsoft.powershell.management/get-hotfix)
        and Test-Path on the Cert: drive, whose LocalMachine\\Root logical store joins the .Default,
        .AuthRoot, .GroupPolicy and .Enterprise physical stores (and .SmartCard, not modelled)
        (https://learn.microsoft.com/windows/win32/seccrypto/system-store-locations)."""
        command = str(args.get("_raw_params") or "").strip()
        stdout = None
        hotfix = re.fullmatch(r"(?:\(\s*Get-HotFix\s*\)\.HotFixID|Get-HotFix\s*\|\s*Select-Object\s+"
                              r"-ExpandProperty\s+HotFixID)", command, re.I)
        cert = re.fullmatch(r"Test-Path\s+['\"]?Cert:\\LocalMachine\\Root\\([0-9A-Fa-f]{40})['\"]?", command, re.I)
        if hotfix:
            stdout = "".join(f"{row['HotFixID']}\r\n" for row in self.model.wmi("Win32_QuickFixEngineering"))
        elif cert:
            stores = (CERT_STORES["root"], CERT_STORES["auth_root"], CERT_STORES["policy"], CERT_STORES["enterprise"])
            found = any(self.model.registry.open(f"{store}\\{cert.group(1)}") is not None for store in stores)
            stdout = "True\r\n" if found else "False\r\n"
        if stdout is None:
            return {"failed": True, "changed": True, "rc": 1, "cmd": command, "stdout": "",
                    "stderr": f"The emulated host {self.name} cannot run this command: {command[:120]!r}\r\n",
                    "msg": "non-zero return code"}
        return {"changed": True, "rc": 0, "cmd": command, "stdout": stdout, "stderr": "",
                "stdout_lines": stdout.splitlines()}


def _reg_type(value: t.Any) -> str:
    """The registry type the model's Python value stands for."""
    if isinstance(value, int):
        return "REG_DWORD"
    if isinstance(value, (list, tuple)):
        return "REG_MULTI_SZ"
    return "REG_SZ"
