"""What an emulated host prints when it is sent codesign.windows' probe runner.

PowerShell is not executed here. The emulator reads the script it received the way the runner
itself would: it finds $AcsOptions and $AcsProbes (PowerShell data literals), checks that every
probe's operation is one the runner's dispatch switch actually implements, and evaluates each
probe against the host model. The answer has the runner's shape: one JSON line, ASCII only, one
result per probe with ok/data or ok/category/error (with the error's record: its exception chain
as the host's PowerShell version presents it), and the output limit applied the same way. The
host's PowerShell process decides what the probes see: its language mode, its bitness (a 32-bit
process sees the redirected registry) and its culture.
"""

from __future__ import annotations

import json
import re
import time
import typing as t

from emulator.windows import (
    CONNECTIVITY,
    COR_E_SYSTEM,
    Denied,
    Hung,
    PropertyGetError,
    WindowsHost,
    Wow64RegistryView,
    like,
    qfe_installed_on,
    scm_denied,
    wql_match,
)

HEADER = "# codesign.windows ACS probe runner"


class ScriptError(Exception):
    """The script would not run on PowerShell: the message is what PowerShell would print."""


# ---------------------------------------------------------------------------------------------
# PowerShell data literals: @{ k = v }, @( a, b ), 'text', 123, $true, $false, $null
# ---------------------------------------------------------------------------------------------
class _Literal:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def error(self, message: str) -> ScriptError:
        line = self.text.count("\n", 0, self.pos) + 1
        return ScriptError(f"At line:{line} char:{self.pos}: {message}")

    def skip(self) -> None:
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char in " \t\r\n":
                self.pos += 1
            elif char == "#":
                end = self.text.find("\n", self.pos)
                self.pos = len(self.text) if end < 0 else end
            else:
                break

    def peek(self, token: str) -> bool:
        self.skip()
        return self.text.startswith(token, self.pos)

    def expect(self, token: str) -> None:
        if not self.peek(token):
            raise self.error(f"Missing '{token}'")
        self.pos += len(token)

    def value(self) -> t.Any:
        self.skip()
        if self.peek("@{"):
            return self.mapping()
        if self.peek("@("):
            return self.array()
        if self.peek("'"):
            return self.string()
        for token, result in (("$true", True), ("$false", False), ("$null", None)):
            if self.text[self.pos:self.pos + len(token)].lower() == token:
                self.pos += len(token)
                return result
        match = re.compile(r"-?\d+").match(self.text, self.pos)
        if match:
            self.pos = match.end()
            return int(match.group())
        raise self.error(f"Unexpected token '{self.text[self.pos:self.pos + 20]}'")

    def string(self) -> str:
        self.expect("'")
        chunks = []
        while True:
            end = self.text.find("'", self.pos)
            if end < 0:
                raise self.error("The string is missing the terminator: '.")
            chunks.append(self.text[self.pos:end])
            self.pos = end + 1
            if self.text.startswith("'", self.pos):
                chunks.append("'")
                self.pos += 1
                continue
            return "".join(chunks)

    def array(self) -> list[t.Any]:
        self.expect("@(")
        items = []
        while not self.peek(")"):
            items.append(self.value())
            if self.peek(","):
                self.pos += 1
        self.expect(")")
        return items

    def mapping(self) -> dict[str, t.Any]:
        self.expect("@{")
        result: dict[str, t.Any] = {}
        while not self.peek("}"):
            match = re.compile(r"[A-Za-z_]\w*").match(self.text, self.pos)
            if not match:
                raise self.error("Missing key before '=' in hash literal.")
            self.pos = match.end()
            self.expect("=")
            result[match.group()] = self.value()
            if self.peek(";"):
                self.pos += 1
        self.expect("}")
        return result


def _assignment(script: str, variable: str) -> t.Any:
    match = re.search(r"^\$" + variable + r"\s*=\s*", script, re.M)
    if not match:
        raise ScriptError(f"The variable '${variable}' cannot be retrieved because it has not been set.")
    parser = _Literal(script)
    parser.pos = match.end()
    return parser.value()


def implemented_operations(script: str) -> set[str]:
    """The operations the runner's dispatch switch handles: lines like  'reg_values' { $data = ... }."""
    return set(re.findall(r"^\s*'(\w+)'\s*\{\s*\$data\s*=", script, re.M))


# Behaviours of the runner the emulator has to know, read from the script the way the dispatch
# switch is: whether it checks the language mode first, reads raw WMI values, enumerates every
# service, and turns a probe that returned nothing into an error record.
_CHECKS_LANGUAGE_MODE = re.compile(r"^function Invoke-AcsRunner \{[^}]*?\$ExecutionContext\.SessionState\.LanguageMode",
                                   re.M | re.S)
_READS_RAW_WMI = re.compile(r"function Invoke-AcsWmi \{(?:(?!\n    function ).)*?\$object\.psbase\.Properties", re.S)
_ENUMERATES_SERVICES = re.compile(r"function Invoke-AcsServices \{(?:(?!\n    function ).)*?@\(Get-Service\)", re.S)
_GUARDS_EMPTY_OUTPUT = re.compile(r"EndInvoke\(\$async\).*?\n\s*if \(\$json\.Length -eq 0\)", re.S)


# Constrained Language Mode: the types a script may create or call static methods on (the core
# types of about_Language_Modes that the runner could use); everything else is blocked.
# https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.core/about/about_language_modes
CLM_CORE_TYPES = frozenset(name.lower() for name in (
    "array", "bool", "byte", "char", "datetime", "System.DateTime", "decimal", "double", "float", "guid", "hashtable",
    "System.Collections.Hashtable", "int", "int16", "int32", "int64", "long", "psobject", "pscustomobject", "regex",
    "sbyte", "scriptblock", "ScriptBlock", "short", "single", "string", "System.String", "timespan", "uint16",
    "uint32", "uint64", "version", "void", "xml", "ipaddress", "uri", "wmi", "wmiclass", "wmisearcher"))
_STATIC_CALL = re.compile(r"\[([\w.]+)\]::\w+\s*\(")
_NEW_OBJECT = re.compile(r"New-Object\s+(?:-TypeName\s+)?([\w.]+)", re.I)


def constrained_language_failure(script: str) -> str | None:
    """What PowerShell prints when the runner meets the first thing Constrained Language Mode blocks:
    New-Object of a non-core type, or a static method of one (RunspaceFactory, FileVersionInfo, ...)."""
    start = script.find("function Invoke-AcsRunner {")
    body = script[start:] if start >= 0 else script
    blocked = []
    for pattern, kind in ((_NEW_OBJECT, "create"), (_STATIC_CALL, "invoke")):
        for match in pattern.finditer(body):
            if match.group(1).lower() not in CLM_CORE_TYPES:
                blocked.append((match.start(), kind))
                break
    if not blocked:
        return None
    _position, kind = min(blocked)
    if kind == "create":
        return ("New-Object : Cannot create type. Only core types are supported in this language mode.\r\n"
                "    + CategoryInfo          : PermissionDenied: (:) [New-Object], PSNotSupportedException\r\n"
                "    + FullyQualifiedErrorId : CannotCreateTypeConstrainedLanguage,"
                "Microsoft.PowerShell.Commands.NewObjectCommand")
    return ("Cannot invoke method. Method invocation is supported only on core types in this language mode.\r\n"
            "    + CategoryInfo          : InvalidOperation: (:) [], RuntimeException\r\n"
            "    + FullyQualifiedErrorId : MethodInvocationNotSupportedInConstrainedLanguage")


def is_probe_runner(script: str) -> bool:
    return script.lstrip().startswith(HEADER)


# ---------------------------------------------------------------------------------------------
# Operations, evaluated against the model
# ---------------------------------------------------------------------------------------------
def _values(key, names, presence) -> dict[str, t.Any]:
    found = {}
    for name in names:
        value = key.get(name)
        if value is not None:
            found[name] = value
    for name in presence:
        if key.get(name) is not None:
            found[name] = True
    return found


def _reg_values(host: WindowsHost, probe: dict[str, t.Any]) -> t.Any:
    key = host.registry.open(probe["path"])
    if key is None:
        return {"exists": False, "values": {}}
    return {"exists": True, "values": _values(key, probe["names"], probe["presence"])}


def _reg_keys_exist(host: WindowsHost, probe: dict[str, t.Any]) -> t.Any:
    return {path: host.registry.open(path) is not None for path in probe["paths"]}


def _reg_subkeys(host: WindowsHost, probe: dict[str, t.Any]) -> t.Any:
    if host.registry.open(probe["path"]) is None:
        return {"exists": False, "items": [], "truncated": False}
    items, truncated = [], False
    names = host.registry.subkey_names(probe["path"])
    # PowerShell's -match / -notmatch: a .NET regular expression, case-insensitive.
    if probe.get("match"):
        names = [name for name in names if re.search(probe["match"], name, re.I)]
    if probe.get("first_match"):
        names = ([name for name in names if re.search(probe["first_match"], name, re.I)] +
                 [name for name in names if not re.search(probe["first_match"], name, re.I)])
    for name in names:
        if probe["like"] and not any(like(name, pattern) for pattern in probe["like"]):
            continue
        key = host.registry.open(probe["path"] + "\\" + name)
        if key is None:
            continue   # listed, then removed before it was opened (CBS scavenging): no longer there to read
        values = _values(key, probe["values"], [])
        if probe["where_value"] and not any(like(str(values.get(probe["where_value"]) or ""), pattern)
                                            for pattern in probe["where_like"]):
            continue
        if len(items) >= probe["limit"]:
            truncated = True
            break
        items.append({"name": name, "values": values})
    return {"exists": True, "items": items, "truncated": truncated}


def _wmi_value(host: WindowsHost, wmi_class: str, row: dict[str, t.Any], name: str) -> t.Any:
    """A property as the runner reads it: the raw WMI value, or PowerShell's computed member when the
    runner reads $object.$property (Win32_QuickFixEngineering.InstalledOn is computed)."""
    if host.raw_wmi or wmi_class.lower() != "win32_quickfixengineering" or name.lower() != "installedon":
        return row.get(name)
    return qfe_installed_on(row.get(name), host.culture, host.build)


def _wmi(host: WindowsHost, probe: dict[str, t.Any]) -> t.Any:
    rows = host.wmi(probe["wmi_class"], probe["namespace"])
    items, truncated = [], False
    for row in rows:
        if probe["wmi_filter"] and not wql_match(row, probe["wmi_filter"]):
            continue
        if len(items) >= probe["limit"]:
            truncated = True
            break
        items.append({name: _wmi_value(host, probe["wmi_class"], row, name) for name in probe["properties"]})
    return {"items": items, "truncated": truncated}


def _services(host: WindowsHost, probe: dict[str, t.Any]) -> t.Any:
    # As the runner does it: existence and start type from the service's key, status from
    # Get-Service -Name, which needs the Service Control Manager.
    if host.enumerates_services and host.faults.get("scm_denied"):
        raise scm_denied()      # Get-Service with no name opens the Service Control Manager first
    installed = {name.lower(): service for name, service in host.services.items()}
    found: dict[str, t.Any] = {}
    for name in probe["names"]:
        key = host.registry.open(f"SYSTEM\\CurrentControlSet\\Services\\{name}")
        if key is None:
            found[name] = {"exists": False}
            continue
        entry: dict[str, t.Any] = {"exists": True, "start": key.get("Start"), "status": None}
        if host.faults.get("scm_denied"):
            entry["status_error"] = error_record(host, scm_denied(name))
        elif name.lower() in installed:
            entry["status"] = installed[name.lower()].status
        found[name] = entry
    return found


def _file_version(host: WindowsHost, probe: dict[str, t.Any]) -> t.Any:
    path = re.sub(r"%systemroot%", r"C:\\Windows", probe["path"], flags=re.I).lower()
    if host.wow64:
        # The file system redirector shows a 32-bit process SysWOW64 in place of System32.
        # https://learn.microsoft.com/en-us/windows/win32/winprog64/file-system-redirector
        path = path.replace("\\windows\\system32\\", "\\windows\\syswow64\\")
    version = host.files.get(path)
    if version is None:
        return {"exists": False}
    return {"exists": True, "version": version, "product_version": version}


def _http_head(host: WindowsHost, probe: dict[str, t.Any]) -> t.Any:
    # The fixture says what the host's WinHTTP stack would get; the emulator never opens a connection.
    answer = CONNECTIVITY[host.connectivity]
    return {"status": answer.get("status"), "error_code": answer.get("error_code"), "error": answer.get("error")}


def _powershell_version(host: WindowsHost, probe: dict[str, t.Any]) -> t.Any:
    clr = "2.0.50727.8806" if host.powershell == "2.0" else "4.0.30319.42000"
    return {"version": host.powershell, "clr": clr}


OPERATIONS = {
    "reg_values": _reg_values, "reg_keys_exist": _reg_keys_exist, "reg_subkeys": _reg_subkeys, "wmi": _wmi,
    "services": _services, "file_version": _file_version, "powershell_version": _powershell_version,
    "http_head": _http_head,
}


class _Process:
    """The host as the runner's PowerShell process sees it: a 32-bit process sees the redirected
    registry; ``raw_wmi`` says whether the runner reads raw WMI values or PowerShell's computed ones."""

    def __init__(self, host: WindowsHost, script: str):
        self._host = host
        self.registry = Wow64RegistryView(host.registry) if host.wow64 else host.registry
        self.raw_wmi = bool(_READS_RAW_WMI.search(script))
        self.enumerates_services = bool(_ENUMERATES_SERVICES.search(script))

    def __getattr__(self, name: str) -> t.Any:
        return getattr(self._host, name)


STOP_PREFIX = ('Command execution stopped because the preference variable "ErrorActionPreference" or common parameter '
               'is set to Stop: ')


def error_record(host: WindowsHost, exc: Exception) -> dict[str, t.Any]:
    """What the runner's Get-AcsErrorRecord prints for an error, as this host's PowerShell presents it.

    PowerShell 2.0 hands the catch block of a cmdlet run with -ErrorAction Stop an
    ActionPreferenceStopException whose ErrorRecord holds the real error; 3.0 and later hand over
    the real error itself. .NET method calls are not affected by -ErrorAction.
    https://learn.microsoft.com/en-us/dotnet/api/system.management.automation.actionpreferencestopexception
    https://github.com/PowerShell/PowerShell/issues/6200 (3.0+ unwraps it for catch)
    """
    if isinstance(exc, Denied):
        exceptions, category, error_id = [dict(item) for item in exc.exceptions], exc.category, exc.error_id
        if exc.cmdlet and host.powershell == "2.0":
            exceptions.insert(0, {"type": "System.Management.Automation.ActionPreferenceStopException",
                                  "message": STOP_PREFIX + exceptions[0]["message"], "hresult": COR_E_SYSTEM,
                                  "code": None})
            category, error_id = "OperationStopped", "ActionPreferenceStop"
        return {"category": category, "error_id": error_id, "exceptions": exceptions}
    kind = ("System.Management.Automation.GetValueInvocationException" if isinstance(exc, PropertyGetError)
            else "System.Management.Automation.RuntimeException")
    return {"category": "NotSpecified", "error_id": "", "exceptions": [
        {"type": kind, "message": str(exc), "hresult": COR_E_SYSTEM, "code": None}]}


def _dumps(value: t.Any) -> str:
    # The runner escapes every non-ASCII character as \uXXXX and writes no spaces.
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"))


def run(host: WindowsHost, script: str, sleep: t.Callable[[float], None] = time.sleep) -> str:
    """The runner's stdout for this host."""
    options = _assignment(script, "AcsOptions")
    probes = _assignment(script, "AcsProbes")
    if "Invoke-AcsRunner -Probes $AcsProbes -Options $AcsOptions" not in script:
        raise ScriptError("The runner was sent without the call that starts it.")
    implemented = implemented_operations(script)
    if host.language_mode != "FullLanguage":
        if _CHECKS_LANGUAGE_MODE.search(script):
            return ('{"acs_runner":' + str(options["protocol"]) + ',"powershell":' + _dumps(host.powershell) +
                    ',"language_mode":' + _dumps(host.language_mode) + ',"results":[],"complete":true}\r\n')
        failure = constrained_language_failure(script)
        if failure:
            raise ScriptError(failure)
    process = t.cast(WindowsHost, _Process(host, script))
    guards_empty = bool(_GUARDS_EMPTY_OUTPUT.search(script))
    silent = {str(item) for item in host.faults.get("probe_no_output") or []}
    results, written = [], 0
    for probe in probes:
        if written >= options["max_output"]:
            json_text = _dumps({"id": probe["id"], "ok": False, "category": "truncated",
                                "error": "output limit reached", "ms": 0})
            results.append(json_text)
            continue
        if probe["id"] in silent:
            # The probe's pipeline ended with neither output nor exception.
            json_text = _dumps({"id": probe["id"], "ok": False, "category": "error",
                                "error": "the probe returned nothing", "ms": 0}) if guards_empty else ""
            written += len(json_text)
            results.append(json_text)
            continue
        result: dict[str, t.Any] = {"id": probe["id"], "ok": True}
        # The runner gives a probe gather_timeout, or its own timeout_ms when that is longer.
        limit_ms = max(int(options["timeout_ms"]), int(probe.get("timeout_ms") or 0))
        timed_out = {"id": probe["id"], "ok": False, "category": "timeout",
                     "error": f"no answer within {limit_ms / 1000:g} s", "ms": limit_ms}
        host.registry.opened = 0
        try:
            if probe["op"] not in implemented or probe["op"] not in OPERATIONS:
                raise RuntimeError(f"unknown probe operation {probe['op']}")
            result["data"] = OPERATIONS[probe["op"]](process, probe)
        except (Denied, PropertyGetError) as exc:
            record = error_record(host, exc)
            result.update(ok=False, category="error", error=record["exceptions"][0]["message"], record=record)
        except Hung:
            sleep(limit_ms / 1000)
            result = timed_out
        except (LookupError, ValueError, RuntimeError, KeyError) as exc:
            result.update(ok=False, category="error", error=str(exc), record=error_record(host, exc))
        # Every key a probe opens costs time; a probe that needs longer than its limit is abandoned.
        cost_ms = host.registry.opened * host.registry.key_cost_ms
        if result is not timed_out and cost_ms > limit_ms:
            sleep(limit_ms / 1000)
            result = timed_out
        elif result is not timed_out and cost_ms:
            sleep(cost_ms / 1000)
            result["ms"] = int(cost_ms)
        result.setdefault("ms", 3)
        json_text = _dumps(result)
        written += len(json_text)
        results.append(json_text)
    return ('{"acs_runner":' + str(options["protocol"]) + ',"powershell":' + _dumps(host.powershell) +
            ',"language_mode":"FullLanguage","process_bits":' + str(32 if host.wow64 else 64) +
            ',"wow64":' + _dumps(host.wow64) + ',"elapsed_ms":' + str(40 + 3 * len(probes)) +
            ',"results":[' + ",".join(results) + '],"complete":true}\r\n')
