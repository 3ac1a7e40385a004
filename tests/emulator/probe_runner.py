"""What an emulated host prints when it is sent codesign.windows' probe runner.

PowerShell is not executed here. The emulator reads the script it received the way the runner
itself would: it finds $AcsOptions and $AcsProbes (PowerShell data literals), checks that every
probe's operation is one the runner's dispatch switch actually implements, and evaluates each
probe against the host model. The answer has the runner's shape: one JSON line, ASCII only, one
result per probe with ok/data or ok/category/error, and the output limit applied the same way.
"""

from __future__ import annotations

import json
import re
import time
import typing as t

from emulator.windows import CONNECTIVITY, Denied, Hung, WindowsHost, like, wql_match

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
        values = _values(key, probe["values"], [])
        if probe["where_value"] and not any(like(str(values.get(probe["where_value"]) or ""), pattern)
                                            for pattern in probe["where_like"]):
            continue
        if len(items) >= probe["limit"]:
            truncated = True
            break
        items.append({"name": name, "values": values})
    return {"exists": True, "items": items, "truncated": truncated}


def _wmi(host: WindowsHost, probe: dict[str, t.Any]) -> t.Any:
    rows = host.wmi(probe["wmi_class"], probe["namespace"])
    items, truncated = [], False
    for row in rows:
        if probe["wmi_filter"] and not wql_match(row, probe["wmi_filter"]):
            continue
        if len(items) >= probe["limit"]:
            truncated = True
            break
        items.append({name: row.get(name) for name in probe["properties"]})
    return {"items": items, "truncated": truncated}


def _services(host: WindowsHost, probe: dict[str, t.Any]) -> t.Any:
    installed = {name.lower(): service for name, service in host.services.items()}
    found = {}
    for name in probe["names"]:
        service = installed.get(name.lower())
        if service is None:
            found[name] = {"exists": False}
            continue
        key = host.registry.open(f"SYSTEM\\CurrentControlSet\\Services\\{service.name}")
        found[name] = {"exists": True, "status": service.status, "start": key.get("Start") if key else None}
    return found


def _file_version(host: WindowsHost, probe: dict[str, t.Any]) -> t.Any:
    path = re.sub(r"%systemroot%", r"C:\\Windows", probe["path"], flags=re.I).lower()
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
    results, written = [], 0
    for probe in probes:
        if written >= options["max_output"]:
            json_text = _dumps({"id": probe["id"], "ok": False, "category": "truncated",
                                "error": "output limit reached", "ms": 0})
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
            result["data"] = OPERATIONS[probe["op"]](host, probe)
        except Denied as exc:
            result.update(ok=False, category="denied", error=str(exc))
        except Hung:
            sleep(limit_ms / 1000)
            result = timed_out
        except (LookupError, ValueError, RuntimeError, KeyError) as exc:
            result.update(ok=False, category="error", error=str(exc))
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
            ',"elapsed_ms":' + str(40 + 3 * len(probes)) + ',"results":[' + ",".join(results) + '],"complete":true}\r\n')
