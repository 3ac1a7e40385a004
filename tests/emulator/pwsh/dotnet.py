"""The .NET surface and cmdlets a script sees on an emulated host, backed by its model (windows.py).

Only what Windows really offers, and only what the collection's runner uses, is here; any other type,
member or cmdlet fails loudly in the interpreter. Sources for each behaviour:
- RegistryKey.OpenSubKey returns null for a missing key and throws System.Security.SecurityException
  ("Requested registry access is not allowed.") when access is denied
  (https://learn.microsoft.com/dotnet/api/microsoft.win32.registrykey.opensubkey).
- RegistryKey.GetValue returns null for a missing value
  (https://learn.microsoft.com/dotnet/api/microsoft.win32.registrykey.getvalue).
- Get-WmiObject reports a denied class as a ManagementException whose ErrorCode is AccessDenied
  (https://learn.microsoft.com/dotnet/api/system.management.managementstatus).
- PowerShell.BeginInvoke/EndInvoke and IAsyncResult.AsyncWaitHandle.WaitOne(timeout, exitContext)
  (https://learn.microsoft.com/dotnet/api/system.management.automation.powershell.begininvoke):
  a call stuck in the model (Hung) makes WaitOne return false after the timeout.
"""

from __future__ import annotations

import datetime
import re
import typing as t

from emulator.pwsh.interpreter import Interpreter, Scope
from emulator.pwsh.runtime import Hashtable, NetException, NetObject, RuntimeException, UnsupportedConstruct, to_string
from emulator.windows import Denied, Hung, WindowsHost, wql_match


class _SecurityException(NetException):
    type_name = "System.Security.SecurityException"


class _ManagementException(NetException):
    type_name = "System.Management.ManagementException"


class _HungCall(Exception):
    """A model call that never returns: the runspace running it stays busy."""


def _registry_call(call):
    try:
        return call()
    except Denied as exc:
        raise _SecurityException(str(exc)) from None
    except Hung as exc:
        raise _HungCall(str(exc)) from None


class RegistryKeyObject(NetObject):
    ps_type_name = "Microsoft.Win32.RegistryKey"

    def __init__(self, host: WindowsHost, path: str):
        self.host = host
        self.path = path
        self.Name = "HKEY_LOCAL_MACHINE\\" + path if path else "HKEY_LOCAL_MACHINE"

    def OpenSubKey(self, name, writable=False):  # noqa: N802
        path = (self.path + "\\" + to_string(name)).strip("\\") if self.path else to_string(name).strip("\\")
        key = _registry_call(lambda: self.host.registry.open(path))
        return None if key is None else RegistryKeyObject(self.host, path)

    def GetValue(self, name, default=None):  # noqa: N802
        key = _registry_call(lambda: self.host.registry.open(self.path))
        value = key.get(to_string(name)) if key is not None else None
        return default if value is None else value

    def GetSubKeyNames(self):  # noqa: N802
        return list(_registry_call(lambda: self.host.registry.subkey_names(self.path)))

    def GetValueNames(self):  # noqa: N802
        key = _registry_call(lambda: self.host.registry.open(self.path))
        return [name for name, _value in key.values.values()] if key is not None else []

    def Close(self):  # noqa: N802
        return None


class _RegistryStatics:
    def __init__(self, host: WindowsHost):
        self.LocalMachine = RegistryKeyObject(host, "")


class WmiObject(NetObject):
    ps_type_name = "System.Management.ManagementObject"

    def __init__(self, row: dict[str, t.Any]):
        for name, value in row.items():
            setattr(self, name, value)


class ServiceObject(NetObject):
    ps_type_name = "System.ServiceProcess.ServiceController"

    def __init__(self, service):
        self.Name = service.name
        self.Status = service.status


class FileVersionInfoObject(NetObject):
    ps_type_name = "System.Diagnostics.FileVersionInfo"

    def __init__(self, version: str):
        parts = [int(part) for part in version.split(".")] + [0, 0, 0, 0]
        self.FileMajorPart, self.FileMinorPart, self.FileBuildPart, self.FilePrivatePart = parts[:4]
        self.ProductVersion = version
        self.FileVersion = version


class AsyncResult(NetObject):
    """What BeginInvoke returns. The emulated call has already run; cost_ms is how long it would have taken
    (the registry keys it opened, at the host's per-key cost), finished False when it never returns."""

    def __init__(self, binding: "HostBinding", finished: bool, cost_ms: float):
        self.binding = binding
        self.finished = finished
        self.cost_ms = cost_ms
        self.AsyncWaitHandle = _WaitHandle(self)
        self.IsCompleted = finished


class _WaitHandle(NetObject):
    def __init__(self, result: AsyncResult):
        self.result = result

    def WaitOne(self, timeout_ms, exit_context=False):  # noqa: N802
        timeout_ms = int(timeout_ms)
        if not self.result.finished or self.result.cost_ms > timeout_ms:
            self.result.binding.sleep(timeout_ms / 1000)
            return False
        if self.result.cost_ms:
            self.result.binding.sleep(self.result.cost_ms / 1000)
        return True


class RunspaceObject(NetObject):
    ps_type_name = "System.Management.Automation.Runspaces.LocalRunspace"

    def __init__(self, binding: "HostBinding"):
        self.binding = binding
        self.interpreter = Interpreter(binding, binding.version)
        self.scope = Scope(self.interpreter.global_scope)
        self.opened = False

    def Open(self):  # noqa: N802
        self.opened = True

    def Close(self):  # noqa: N802
        self.opened = False

    def Dispose(self):  # noqa: N802
        self.opened = False


class PowerShellObject(NetObject):
    """[PowerShell]::Create(): scripts and arguments run in a runspace of this host."""

    ps_type_name = "System.Management.Automation.PowerShell"

    def __init__(self, binding: "HostBinding"):
        self.binding = binding
        self.Runspace = None
        self.scripts: list[str] = []
        self.arguments: list[t.Any] = []
        self.output: list[t.Any] | None = None
        self.failure: NetException | None = None

    def AddScript(self, text):  # noqa: N802
        self.scripts.append(to_string(text))
        return self

    def AddArgument(self, value):  # noqa: N802
        self.arguments.append(value)
        return self

    def _run(self) -> bool:
        runspace = self.Runspace
        if runspace is None:
            raise UnsupportedConstruct("PowerShell.Invoke without a runspace")
        output: list[t.Any] = []
        from emulator.pwsh.runtime import ScriptError   # pylint: disable=import-outside-toplevel
        try:
            for text in self.scripts:
                block = runspace.interpreter.types["scriptblock"].Create(text)
                output.extend(runspace.interpreter.invoke_scriptblock(block, self.arguments, runspace.scope, dot=True))
        except _HungCall:
            return False
        except ScriptError as error:
            self.failure = error.record.exception
        self.output = output
        return True

    def Invoke(self):  # noqa: N802
        if not self._run():
            raise UnsupportedConstruct("a synchronous Invoke that never returns")
        if self.failure is not None:
            raise self.failure
        return self.output

    def BeginInvoke(self):  # noqa: N802
        registry = self.binding.host.registry
        registry.opened = 0
        finished = self._run()
        return AsyncResult(self.binding, finished, registry.opened * getattr(registry, "key_cost_ms", 0.0))

    def EndInvoke(self, result):  # noqa: N802
        if self.failure is not None:
            raise self.failure
        return list(self.output or [])

    def BeginStop(self, callback=None, state=None):  # noqa: N802
        return None

    def Dispose(self):  # noqa: N802
        return None


class _RunspaceFactoryStatics:
    def __init__(self, binding):
        self.binding = binding

    def CreateRunspace(self, *args):  # noqa: N802
        return RunspaceObject(self.binding)


class _PowerShellStatics:
    def __init__(self, binding):
        self.binding = binding

    def Create(self, *args):  # noqa: N802
        return PowerShellObject(self.binding)


class _EnvironmentStatics:
    NewLine = "\r\n"

    @staticmethod
    def ExpandEnvironmentVariables(text):  # noqa: N802
        return re.sub(r"%systemroot%", r"C:\\Windows", to_string(text), flags=re.I)


class _FileStatics:
    def __init__(self, host):
        self.host = host

    def Exists(self, path):  # noqa: N802
        return to_string(path).lower() in self.host.files


class _FileVersionInfoStatics:
    def __init__(self, host):
        self.host = host

    def GetVersionInfo(self, path):  # noqa: N802
        version = self.host.files.get(to_string(path).lower())
        if version is None:
            raise NetException(f"Could not find file '{path}'.", type_name="System.IO.FileNotFoundException")
        return FileVersionInfoObject(version)


class _COMException(NetException):
    type_name = "System.Runtime.InteropServices.COMException"

    @property
    def ErrorCode(self):  # noqa: N802 - the HRESULT, a signed 32-bit integer as .NET gives it
        return self.hresult


class WinHttpRequestObject(NetObject):
    """WinHttp.WinHttpRequest.5.1, answered from the fixture's connectivity: no connection is opened."""

    ps_type_name = "System.__ComObject"

    def __init__(self, host: WindowsHost):
        self.host = host
        self.Status = None

    def SetTimeouts(self, *timeouts):  # noqa: N802
        return None

    def Open(self, method, url, asynchronous=False):  # noqa: N802
        return None

    def Send(self, body=None):  # noqa: N802
        from emulator.windows import CONNECTIVITY   # pylint: disable=import-outside-toplevel
        answer = CONNECTIVITY[getattr(self.host, "connectivity", "reachable")]
        if answer.get("error_code"):
            code = int(answer["error_code"], 16)
            raise _COMException(answer["error"], hresult=code - 2**32 if code >= 2**31 else code)
        self.Status = answer["status"]


class HostBinding:
    """What an Interpreter needs from an emulated host: its types, cmdlets and version."""

    def __init__(self, host: WindowsHost, sleep: t.Callable[[float], None] = lambda seconds: None):
        self.host = host
        self.sleep = sleep
        major, _, minor = (host.powershell or "2.0").partition(".")
        self.version = (int(major), int(minor or 0))
        self.types = {
            "Microsoft.Win32.Registry": _RegistryStatics(host),
            "System.Management.Automation.Runspaces.RunspaceFactory": _RunspaceFactoryStatics(self),
            "System.Management.Automation.PowerShell": _PowerShellStatics(self),
            "System.Environment": _EnvironmentStatics(), "Environment": _EnvironmentStatics(),
            "System.IO.File": _FileStatics(host),
            "System.Diagnostics.FileVersionInfo": _FileVersionInfoStatics(host),
        }
        self.cmdlets = {"Get-WmiObject": self.get_wmi_object, "Get-Service": self.get_service}

    def new_object(self, interp, type_name_text: str, arguments, com_object: str | None = None):
        if com_object and com_object.lower() == "winhttp.winhttprequest.5.1":
            return WinHttpRequestObject(self.host)
        return None

    def interpreter(self) -> Interpreter:
        interpreter = Interpreter(self, self.version)
        interpreter.global_scope.variables["psversiontable"] = Hashtable({
            "PSVersion": self.host.powershell or "2.0",
            "CLRVersion": "2.0.50727.8806" if self.version < (3, 0) else "4.0.30319.42000"})
        return interpreter

    def get_wmi_object(self, interp, positional, parameters, pipeline_input, scope):
        wmi_class = to_string(parameters.pop("class", None) or (positional[0] if positional else ""))
        namespace = to_string(parameters.pop("namespace", None) or r"root\cimv2")
        wql_filter = to_string(parameters.pop("filter", None) or "")
        try:
            rows = self.host.wmi(wmi_class, namespace)
        except Denied as exc:
            error = _ManagementException(str(exc) or "Access denied ")
            error.error_code = "AccessDenied"
            error.category = "InvalidOperation"
            raise error from None
        except Hung as exc:
            raise _HungCall(str(exc)) from None
        except LookupError as exc:
            raise _ManagementException(str(exc)) from None
        if parameters:
            raise UnsupportedConstruct(f"Get-WmiObject -{next(iter(parameters))}")
        return [WmiObject(row) for row in rows if not wql_filter or wql_match(row, wql_filter)]

    def get_service(self, interp, positional, parameters, pipeline_input, scope):
        if positional or parameters:
            raise UnsupportedConstruct("Get-Service with arguments")
        return [ServiceObject(service) for service in self.host.services.values()]


def run_script(host: WindowsHost, script: str, input_lines: t.Sequence[str] = (),
               sleep: t.Callable[[float], None] = lambda seconds: None) -> list[t.Any]:
    """Run a script on the host's PowerShell: its output objects."""
    binding = HostBinding(host, sleep)
    return binding.interpreter().run(script, list(input_lines))
