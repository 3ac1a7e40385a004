r"""The .NET surface and cmdlets a script sees on an emulated host, backed by its model (windows.py).

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
- X509Certificate2.Import(byte[]) reads a DER certificate and throws CryptographicException for bytes that
  are not one (https://learn.microsoft.com/dotnet/api/system.security.cryptography.x509certificates.x509certificate2.import).
- X509Store.Open/Add/Close on a LocalMachine system store: Add writes the certificate into the store, a
  certificate already there is not an error (CERT_STORE_ADD_REPLACE_EXISTING_INHERIT_PROPERTIES)
  (https://learn.microsoft.com/dotnet/api/system.security.cryptography.x509certificates.x509store.add).
  Opening LocalMachine\Root for writing needs an administrator: the store is the registry key
  HKLM\SOFTWARE\Microsoft\SystemCertificates\ROOT, which grants Users read access only, and .NET Framework's
  Open turns CertOpenStore's ERROR_ACCESS_DENIED into a CryptographicException "Access is denied." with
  HRESULT 0x80070005 (https://learn.microsoft.com/dotnet/api/system.security.cryptography.x509certificates.x509store.open,
  Exceptions: CryptographicException "The store cannot be opened as requested";
  https://learn.microsoft.com/windows/win32/seccrypto/system-store-locations).
- Convert.FromBase64String throws FormatException for text that is not base64
  (https://learn.microsoft.com/dotnet/api/system.convert.frombase64string).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import typing as t

from emulator.pwsh import filesystem, native, streams
from emulator.pwsh.interpreter import Interpreter, Scope
from emulator.pwsh.runtime import Hashtable, NetException, NetObject, UnsupportedConstruct, to_string
from emulator.windows import E_ACCESSDENIED, Denied, Hung, WindowsHost, Wow64RegistryView, qfe_installed_on, scm_denied, wql_match


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
        self.raw = dict(row)
        for name, value in row.items():
            setattr(self, name, value)

    @property
    def psbase(self):
        """The ManagementObject under PowerShell's adapter: its Properties hold the raw WMI values."""
        return NetObject.of(Properties=[NetObject.of(Name=name, Value=value) for name, value in self.raw.items()])


class QuickFixEngineeringObject(WmiObject):
    """Win32_QuickFixEngineering: PowerShell's types.ps1xml computes InstalledOn from the raw value with the
    session's culture (emulator.windows.qfe_installed_on), which can throw."""

    def __init__(self, row: dict[str, t.Any], culture: str, build: int):
        super().__init__({name: value for name, value in row.items() if name != "InstalledOn"})
        self.raw = dict(row)
        self.culture = culture
        self.build = build

    @property
    def InstalledOn(self):  # noqa: N802
        try:
            return qfe_installed_on(self.raw.get("InstalledOn"), self.culture, self.build)
        except Exception as exc:   # PropertyGetError: the getter's exception, wrapped by get_member
            raise NetException(str(exc).split('": "', 1)[-1].rstrip('"'), type_name="System.FormatException") from None


def _exception_chain(error: Denied) -> NetException:
    """A Denied from the model as the .NET exception (with its inner ones) it stands for."""
    exception = None
    for item in reversed(error.exceptions):
        if item["type"] == "System.Management.Automation.MethodInvocationException":
            continue   # the interpreter wraps .NET method calls itself
        exception = NetException(item["message"], inner=exception, hresult=item.get("hresult"), type_name=item["type"])
        if item["type"] == "System.Management.ManagementException":
            exception.error_code = item.get("code")
        if item["type"] == "System.ComponentModel.Win32Exception":
            exception.NativeErrorCode = int(item.get("code") or 0)
    exception.category = error.category
    return exception


class _ProcessView:
    """The host as the PowerShell process sees it: a 32-bit process on 64-bit Windows sees the
    redirected registry and SysWOW64 for System32 (emulator.windows.Wow64RegistryView)."""

    def __init__(self, host: WindowsHost):
        self._host = host
        self.registry = Wow64RegistryView(host.registry) if host.wow64 else host.registry
        self.files = _Wow64Files(host.files) if host.wow64 else host.files

    def __getattr__(self, name):
        return getattr(self._host, name)


class _Wow64Files:
    def __init__(self, files):
        self.files = files

    @staticmethod
    def _redirect(path: str) -> str:
        return path.replace("\\windows\\system32\\", "\\windows\\syswow64\\")

    def get(self, path, default=None):
        return self.files.get(self._redirect(path), default)

    def __contains__(self, path):
        return self._redirect(path) in self.files


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
        silent = {str(item) for item in self.binding.host.faults.get("probe_no_output") or []}
        if any(isinstance(argument, dict) and argument.get("id") in silent for argument in self.arguments):
            # The fixture's probe whose pipeline ends with neither output nor exception.
            self.output = []
            return True
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


class _FileVersionInfoStatics:
    def __init__(self, host):
        self.host = host

    def GetVersionInfo(self, path):  # noqa: N802
        version = self.host.files.get(to_string(path).lower())
        if version is None:
            raise NetException(f"Could not find file '{path}'.", type_name="System.IO.FileNotFoundException")
        return FileVersionInfoObject(version)


class _MarshalStatics:
    @staticmethod
    def GetHRForException(exception):  # noqa: N802
        """The exception's HRESULT; .NET's default for an Exception is COR_E_EXCEPTION (0x80131500)."""
        hresult = getattr(exception, "hresult", None)
        return hresult if isinstance(hresult, int) else -2146233088


class _ObjectStatics:
    @staticmethod
    def ReferenceEquals(left, right):  # noqa: N802
        return left is right


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


class _CryptographicException(NetException):
    type_name = "System.Security.Cryptography.CryptographicException"
    bases = ("System.SystemException",)


class _ConvertStatics:
    @staticmethod
    def FromBase64String(text):  # noqa: N802
        try:
            return base64.b64decode(to_string(text), validate=True)
        except (binascii.Error, ValueError):
            raise NetException("The input is not a valid Base-64 string as it contains a non-base 64 character, more "
                               "than two padding characters, or an illegal character among the padding characters. ",
                               type_name="System.FormatException") from None

    ToBase64String = staticmethod(streams.to_base64_string)


class X509Certificate2Object(NetObject):
    ps_type_name = "System.Security.Cryptography.X509Certificates.X509Certificate2"

    def __init__(self):
        self.der: bytes | None = None
        self.Thumbprint = None

    def Import(self, raw_data, *rest):  # noqa: N802
        from cryptography import x509   # pylint: disable=import-outside-toplevel
        data = bytes(raw_data) if isinstance(raw_data, (bytes, bytearray, list)) else b""
        try:
            x509.load_der_x509_certificate(data)
        except ValueError:
            # CRYPT_E_ASN1_BADTAG, the message .NET Framework gives for bytes that are no certificate.
            raise _CryptographicException("Cannot find the requested object.\r\n", hresult=-2146885628) from None
        self.der = data
        self.Thumbprint = hashlib.sha1(data).hexdigest().upper()  # nosec - a thumbprint


# The LocalMachine system stores the model keeps, by the names X509Store takes (StoreName or a string).
_MACHINE_STORES = {"root": "root", "authroot": "auth_root", "disallowed": "disallowed"}


class X509StoreObject(NetObject):
    """A LocalMachine system store of the model (emulator.windows.WindowsHost.add_certificate)."""

    ps_type_name = "System.Security.Cryptography.X509Certificates.X509Store"

    def __init__(self, host: WindowsHost, name: str, location: str):
        if location.lower() != "localmachine" or name.lower() not in _MACHINE_STORES:
            raise UnsupportedConstruct(f"X509Store {location}\\{name}")
        self.host = host
        self.store = _MACHINE_STORES[name.lower()]
        self.Name = name
        self.writable = None

    def Open(self, flags):  # noqa: N802
        writable = "readwrite" in to_string(flags).lower().replace(" ", "")
        if writable and not self.host.administrator:
            raise _CryptographicException("Access is denied.\r\n", hresult=E_ACCESSDENIED)
        self.writable = writable

    def Add(self, certificate):  # noqa: N802
        if self.writable is None:
            raise _CryptographicException("The store cannot be opened as requested.")  # never opened
        if not self.writable:
            raise _CryptographicException("Access is denied.\r\n", hresult=E_ACCESSDENIED)
        if not isinstance(certificate, X509Certificate2Object) or certificate.der is None:
            raise NetException("Value cannot be null.\r\nParameter name: certificate",
                               type_name="System.ArgumentNullException")
        self.host.add_certificate(self.store, certificate.der, certificate.Thumbprint)

    def Close(self):  # noqa: N802
        self.writable = None


class HostBinding:
    """What an Interpreter needs from an emulated host: its types, cmdlets and version."""

    def __init__(self, host: WindowsHost, sleep: t.Callable[[float], None] = lambda seconds: None):
        self.host = host
        self.sleep = sleep
        major, _dot, minor = (host.powershell or "2.0").partition(".")
        self.version = (int(major), int(minor or 0))
        view = _ProcessView(host)
        self.language_mode = host.language_mode
        self.types = {
            "Microsoft.Win32.Registry": _RegistryStatics(view),
            "IntPtr": NetObject.of(Size=4 if host.wow64 or host.architecture != "AMD64" else 8),
            "System.IntPtr": NetObject.of(Size=4 if host.wow64 or host.architecture != "AMD64" else 8),
            "System.Runtime.InteropServices.Marshal": _MarshalStatics(),
            "object": _ObjectStatics(), "System.Object": _ObjectStatics(),
            "System.Management.Automation.Runspaces.RunspaceFactory": _RunspaceFactoryStatics(self),
            "System.Management.Automation.PowerShell": _PowerShellStatics(self),
            "System.Environment": _EnvironmentStatics(), "Environment": _EnvironmentStatics(),
            "System.Diagnostics.FileVersionInfo": _FileVersionInfoStatics(view),
            "System.Convert": _ConvertStatics(), "Convert": _ConvertStatics(),
            "System.Text.Encoding": streams.EncodingStatics(),
            "System.IO.Compression.CompressionMode": streams.CompressionModeStatics(),
        }
        self.cmdlets = {"Get-WmiObject": self.get_wmi_object, "Get-Service": self.get_service}
        # Programs by file name (emulator.pwsh.native); a copy, so that one host's additions stay its own.
        self.native_commands = native.programs()
        # Where a program name with a path is found: System32, and in a 32-bit process on 64-bit Windows the
        # redirected SysWOW64 and the real one as Sysnative (emulator.pwsh.filesystem).
        self.system_directories = (native.SYSTEM_DIRECTORY,) + (
            (native.SYSNATIVE, "c:\\windows\\syswow64") if host.wow64 else ())
        self.types.update(filesystem.statics(view))

    def environment(self, name: str):
        """$env:NAME. PROCESSOR_ARCHITEW6432 exists only in a WOW64 process
        (https://learn.microsoft.com/en-us/windows/win32/winprog64/wow64-implementation-details)."""
        if name.lower() == "processor_architew6432":
            return "AMD64" if self.host.wow64 else None
        if name.lower() in ("systemroot", "windir"):
            # Windows' own directory; every emulated host is installed in C:\Windows.
            return "C:\\Windows"
        if name.lower() == "systemdrive":
            return "C:"
        return None

    def new_object(self, interp, type_name_text: str, arguments, com_object: str | None = None):
        if com_object and com_object.lower() == "winhttp.winhttprequest.5.1":
            return WinHttpRequestObject(self.host)
        lowered = type_name_text.lower().removeprefix("system.")
        if lowered == "security.cryptography.x509certificates.x509certificate2" and not arguments:
            return X509Certificate2Object()
        if lowered == "security.cryptography.x509certificates.x509store" and len(arguments) == 2:
            return X509StoreObject(self.host, to_string(arguments[0]), to_string(arguments[1]))
        stream = streams.new_stream(lowered, arguments, clr2=self.version < (3, 0))
        if stream is not None:
            return stream
        return filesystem.new_object(_ProcessView(self.host), lowered, arguments)

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
            raise _exception_chain(exc) from None
        except Hung as exc:
            raise _HungCall(str(exc)) from None
        except LookupError as exc:
            raise _ManagementException(str(exc)) from None
        if parameters:
            raise UnsupportedConstruct(f"Get-WmiObject -{next(iter(parameters))}")
        if wmi_class.lower() == "win32_quickfixengineering":
            return [QuickFixEngineeringObject(row, self.host.culture, self.host.build)
                    for row in rows if not wql_filter or wql_match(row, wql_filter)]
        return [WmiObject(row) for row in rows if not wql_filter or wql_match(row, wql_filter)]

    def get_service(self, interp, positional, parameters, pipeline_input, scope):
        name = parameters.pop("name", None)
        if positional or parameters:
            raise UnsupportedConstruct("Get-Service with arguments other than -Name")
        if self.host.faults.get("scm_denied"):
            raise _exception_chain(scm_denied(None if name is None else to_string(name)))
        if name is None:
            return [ServiceObject(service) for service in self.host.services.values()]
        wanted = to_string(name).lower()
        for service in self.host.services.values():
            if service.name.lower() == wanted:
                return [ServiceObject(service)]
        error = NetException(f"Cannot find any service with service name '{to_string(name)}'.",
                             type_name="Microsoft.PowerShell.Commands.ServiceCommandException")
        error.category = "ObjectNotFound"
        raise error


def run_script(host: WindowsHost, script: str, input_lines: t.Sequence[str] = (),
               sleep: t.Callable[[float], None] = lambda seconds: None) -> list[t.Any]:
    """Run a script on the host's PowerShell: its output objects."""
    binding = HostBinding(host, sleep)
    return binding.interpreter().run(script, list(input_lines))
