"""A model of one Windows machine, built from a fixture the way Windows itself lays things out.

The model is what the emulated host "is": a registry (case-insensitive paths and value names,
REG_DWORD as int, REG_SZ as str, REG_MULTI_SZ as list), WMI classes, services, file versions, a
PowerShell version and a boot time. A fixture speaks in admin terms (this KB is installed, this
rollup is pending, this agent runs); ``build_host`` turns that into registry keys, CBS packages
and QFE rows as Windows would show them:

* a cumulative or monthly rollup appears in CBS as ``Package_for_RollupFix~...~<build>``, never
  by KB, and in Win32_QuickFixEngineering by KB;
* other updates appear as ``Package_for_KB<n>~...``;
* an install-pending package has CurrentState 96 and sets CBS\\RebootPending; QFE lists it already,
  and on Windows 10 the UBR changes only after the restart.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fnmatch
import pathlib
import re
import typing as t

import yaml

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"
ROOT_CA_SHA1 = "F40042E2E5F7E8EF8189FED15519AECE42C3BFA2"

CBS_STATE = {"installed": 112, "install_pending": 96, "superseded": 80, "staged": 64, "permanent": 128,
             "uninstall_pending": 5, "absent": 0}
CBS = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing"
# Windows 10 20H2, 21H1, 21H2 and 22H2 are version 2004 (build 19041) with an enablement package: they share one
# servicing baseline, so one cumulative update, whose packages CBS versions 19041.<UBR>, serves all of them
# (https://support.microsoft.com/topic/kb4562830, "Feature Update to Windows 10, version 20H2 by using an
# enablement package").
SERVICING_BUILD = {19042: 19041, 19043: 19041, 19044: 19041, 19045: 19041}


def servicing_build(build: int) -> int:
    """The build whose packages service a host of this build (update.mum's parent, the rollup's version)."""
    return SERVICING_BUILD.get(build, build)


CERT_STORES = {
    "root": r"SOFTWARE\Microsoft\SystemCertificates\ROOT\Certificates",
    "auth_root": r"SOFTWARE\Microsoft\SystemCertificates\AuthRoot\Certificates",
    "policy": r"SOFTWARE\Policies\Microsoft\SystemCertificates\Root\Certificates",
    "enterprise": r"SOFTWARE\Microsoft\EnterpriseCertificates\Root\Certificates",
    # Untrusted Certificates: a certificate here is distrusted even when it is also in Root
    # (https://learn.microsoft.com/en-us/windows-server/identity/ad-cs/configure-trusted-roots-disallowed-certificates).
    "disallowed": r"SOFTWARE\Microsoft\SystemCertificates\Disallowed\Certificates",
    "policy_disallowed": r"SOFTWARE\Policies\Microsoft\SystemCertificates\Disallowed\Certificates",
    "enterprise_disallowed": r"SOFTWARE\Microsoft\EnterpriseCertificates\Disallowed\Certificates",
}
# Keys CBS and Windows Update create while a restart is due (Get-PendingReboot's list:
# https://devblogs.microsoft.com/scripting/determine-pending-reboot-statuspowershell-style-part-1/).
WU_AUTO_UPDATE = r"SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update"
REBOOT_FLAG_KEYS = {
    "cbs_reboot_pending": CBS + r"\RebootPending",
    "cbs_reboot_in_progress": CBS + r"\RebootInProgress",
    "cbs_packages_pending": CBS + r"\PackagesPending",
    "wu_reboot_required": WU_AUTO_UPDATE + r"\RebootRequired",
    "wu_post_reboot_reporting": WU_AUTO_UPDATE + r"\PostRebootReporting",
}
# What the host's WinHTTP stack gets for the trusted root CTL URL: an HTTP status or a WinHTTP error
# (https://learn.microsoft.com/en-us/windows/win32/winhttp/error-messages). No real connection is made.
CONNECTIVITY = {
    "reachable": {"status": 200},
    "unreachable": {"error_code": "0x80072EE7", "error": "The server name or address could not be resolved"},
    "proxy_required": {"status": 407},
}
SERVICE_START = {"boot": 0, "system": 1, "auto": 2, "manual": 3, "disabled": 4}

# Where each Trend product writes itself on a 64-bit host (32-bit agents live under WOW6432Node).
AGENT_LAYOUT = {
    "apex_one": {"display_name": "Trend Micro Apex One Security Agent", "uninstall_key": "OfficeScanNT",
                 "view": "wow", "registry": r"TrendMicro\PC-cillinNTCorp\CurrentVersion",
                 "misc_product": "Trend Micro Apex One Security Agent",
                 "services": ["ntrtscan", "TmListen", "TMBMServer"]},
    "officescan": {"display_name": "Trend Micro OfficeScan Agent", "uninstall_key": "OfficeScanNT", "view": "wow",
                   "registry": r"TrendMicro\PC-cillinNTCorp\CurrentVersion",
                   "misc_product": "Trend Micro OfficeScan Agent", "services": ["ntrtscan", "TmListen", "TMBMServer"]},
    "wfbs": {"display_name": "Trend Micro Worry-Free Business Security Agent", "uninstall_key": "Wofie", "view": "wow",
             "registry": r"TrendMicro\Wofie\CurrentVersion", "misc_product": None,
             "services": ["ntrtscan", "TmListen", "TMBMServer"]},
    "wfbs_services": {"display_name": "Trend Micro Security Agent", "uninstall_key": "OfficeScanNT", "view": "wow",
                      "registry": r"TrendMicro\PC-cillinNTCorp\CurrentVersion",
                      "misc_product": "Trend Micro WFBSH_Agent", "services": ["ntrtscan", "TmListen", "TMBMServer"]},
    "deep_security_agent": {"display_name": "Trend Micro Deep Security Agent",
                            "uninstall_key": "{D6F4C7A5-0000-4000-8000-DEEPSECURITY}", "view": "native",
                            "registry": r"TrendMicro\Deep Security Agent", "misc_product": None,
                            "services": ["ds_agent", "ds_notifier", "ds_monitor", "Amsp"]},
}


class Denied(Exception):
    """Access to a registry key, WMI class or the Service Control Manager is denied to the connecting account.

    ``exceptions`` is the exception chain as .NET raises it (outermost first: type, message,
    HRESULT, code), ``category``/``error_id`` the ErrorRecord's CategoryInfo and
    FullyQualifiedErrorId. ``cmdlet`` says whether a cmdlet reported it (and so -ErrorAction Stop
    applies, which PowerShell 2.0 wraps) or a .NET method call threw it.
    """

    def __init__(self, message: str, exceptions: list[dict[str, t.Any]] | None = None,
                 category: str = "PermissionDenied", error_id: str = "", cmdlet: bool = False):
        super().__init__(message)
        self.exceptions = exceptions or [{"type": "System.UnauthorizedAccessException", "message": message,
                                          "hresult": E_ACCESSDENIED, "code": None}]
        self.category = category
        self.error_id = error_id
        self.cmdlet = cmdlet


# HRESULTs as .NET reports them (signed 32-bit). Sources:
# https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-erref/705fb797-2175-4a90-b5a3-3918024b10b8
# (E_ACCESSDENIED 0x80070005, E_FAIL 0x80004005) and
# https://learn.microsoft.com/en-us/windows/win32/wmisdk/wmi-error-constants (WBEM_E_ACCESS_DENIED 0x80041003).
E_ACCESSDENIED = -2147024891
E_FAIL = -2147467259
COR_E_SYSTEM = -2146233087         # SystemException and PowerShell's RuntimeException family
COR_E_SECURITY = -2146233078       # SecurityException
COR_E_INVALIDOPERATION = -2146233079


def registry_denied(path: str) -> Denied:
    """RegistryKey.OpenSubKey on a key the account may not read: a SecurityException, which PowerShell
    reports as a MethodInvocationException around it on every version (a .NET call, not a cmdlet).
    https://learn.microsoft.com/en-us/dotnet/api/microsoft.win32.registrykey.opensubkey (Exceptions)"""
    inner = "Requested registry access is not allowed."
    return Denied(inner, [
        {"type": "System.Management.Automation.MethodInvocationException",
         "message": f'Exception calling "OpenSubKey" with "2" argument(s): "{inner}"', "hresult": COR_E_SYSTEM,
         "code": None},
        {"type": "System.Security.SecurityException", "message": inner, "hresult": COR_E_SECURITY, "code": None},
    ], category="NotSpecified", error_id="DotNetMethodException")


def wmi_denied(wmi_class: str, by: str = "namespace") -> Denied:
    """Get-WmiObject refused: namespace security gives a ManagementException with ErrorCode AccessDenied
    (WBEM_E_ACCESS_DENIED); a DCOM refusal gives UnauthorizedAccessException with E_ACCESSDENIED.
    https://learn.microsoft.com/en-us/windows/win32/wmisdk/securing-a-remote-wmi-connection"""
    if by == "dcom":
        message = "Access is denied. (Exception from HRESULT: 0x80070005 (E_ACCESSDENIED))"
        return Denied(message, [{"type": "System.UnauthorizedAccessException", "message": message,
                                 "hresult": E_ACCESSDENIED, "code": None}],
                      category="NotSpecified",
                      error_id="System.UnauthorizedAccessException,Microsoft.PowerShell.Commands.GetWmiObjectCommand",
                      cmdlet=True)
    return Denied("Access denied ", [{"type": "System.Management.ManagementException", "message": "Access denied ",
                                      "hresult": COR_E_SYSTEM, "code": "AccessDenied"}],
                  category="InvalidOperation",
                  error_id="GetWMIManagementException,Microsoft.PowerShell.Commands.GetWmiObjectCommand", cmdlet=True)


def scm_denied(service: str | None = None) -> Denied:
    """Get-Service for an account that is not an administrator, over a network logon (WinRM).

    The SCM grants remote authenticated users SC_MANAGER_CONNECT only, so listing every service
    (EnumServicesStatusEx needs SC_MANAGER_ENUMERATE_SERVICE) fails with .NET's "Cannot open
    Service Control Manager"; a service's default DACL grants SERVICE_QUERY_STATUS to interactive
    users and services, not network logons, so asking for one service fails with "Cannot open
    <name> service". Both wrap Win32 error 5.
    https://learn.microsoft.com/en-us/windows/win32/services/service-security-and-access-rights"""
    if service is None:
        outer = "Cannot open Service Control Manager on computer '.'. This operation might require other privileges."
    else:
        outer = f"Cannot open {service} service on computer '.'."
    return Denied(outer, [
        {"type": "System.InvalidOperationException", "message": outer, "hresult": COR_E_INVALIDOPERATION,
         "code": None},
        {"type": "System.ComponentModel.Win32Exception", "message": "Access is denied", "hresult": E_FAIL, "code": "5"},
    ], category="NotSpecified",
        error_id="System.InvalidOperationException,Microsoft.PowerShell.Commands.GetServiceCommand", cmdlet=True)


class Hung(Exception):
    """The call never returns (a broken WMI repository, a locked hive)."""


@dataclasses.dataclass
class RegistryKey:
    path: str
    values: dict[str, tuple[str, t.Any]] = dataclasses.field(default_factory=dict)   # lower name -> (name, value)

    def get(self, name: str) -> t.Any:
        found = self.values.get(name.lower())
        return found[1] if found else None

    def set(self, name: str, value: t.Any) -> None:
        self.values[name.lower()] = (name, value)


class Registry:
    """HKLM as a map of key paths; subkeys are derived from the paths."""

    def __init__(self) -> None:
        self._keys: dict[str, RegistryKey] = {}
        self.denied: list[str] = []
        self.hung: list[str] = []
        # Keys removed the moment their parent has been listed, before anyone opens them: CBS deletes the keys
        # of superseded packages when it scavenges them (and of packages it uninstalls) while a reader walks
        # CBS\Packages, so RegistryKey.GetSubKeyNames can name a key that OpenSubKey then finds missing (null).
        # https://learn.microsoft.com/windows-hardware/manufacture/desktop/clean-up-the-winsxs-folder ,
        # https://learn.microsoft.com/dotnet/api/microsoft.win32.registrykey.opensubkey
        self.removed_after_listing: list[str] = []
        # What opening one key costs the caller (a slow disk, a bloated hive); opened counts the keys opened.
        self.key_cost_ms: float = 0.0
        self.opened = 0

    @staticmethod
    def _norm(path: str) -> str:
        return path.strip("\\").lower()

    def _guard(self, path: str) -> None:
        norm = self._norm(path)
        for prefix in self.denied:
            if norm == self._norm(prefix) or norm.startswith(self._norm(prefix) + "\\"):
                raise registry_denied(path)
        for prefix in self.hung:
            if norm == self._norm(prefix) or norm.startswith(self._norm(prefix) + "\\"):
                raise Hung(path)

    def ensure(self, path: str) -> RegistryKey:
        parts = path.strip("\\").split("\\")
        for depth in range(1, len(parts) + 1):
            partial = "\\".join(parts[:depth])
            self._keys.setdefault(self._norm(partial), RegistryKey(partial))
        return self._keys[self._norm(path)]

    def set(self, path: str, name: str, value: t.Any) -> None:
        self.ensure(path).set(name, value)

    def delete_key(self, path: str) -> None:
        norm = self._norm(path)
        for key in [k for k in self._keys if k == norm or k.startswith(norm + "\\")]:
            del self._keys[key]

    def open(self, path: str) -> RegistryKey | None:
        self._guard(path)
        key = self._keys.get(self._norm(path))
        if key is not None:
            self.opened += 1
        return key

    def subkey_names(self, path: str) -> list[str]:
        self._guard(path)
        norm = self._norm(path) + "\\"
        names = []
        for key, value in self._keys.items():
            if key.startswith(norm) and "\\" not in key[len(norm):]:
                names.append(value.path.rsplit("\\", 1)[-1])
        for path in list(self.removed_after_listing):
            if self._norm(path).startswith(norm) and "\\" not in self._norm(path)[len(norm):]:
                self.delete_key(path)
                self.removed_after_listing.remove(path)
        return sorted(names, key=str.lower)


@dataclasses.dataclass
class Service:
    name: str
    status: str = "Running"     # as ServiceController.Status prints it
    start: str = "auto"


@dataclasses.dataclass
class WindowsHost:
    name: str
    template: str
    major: int
    minor: int
    build: int
    ubr: int | None
    architecture: str
    powershell: str | None        # None: not installed (Server 2008 SP2 out of the box)
    caption: str
    product_type: int
    registry: Registry
    qfe: list[dict[str, t.Any]]
    services: dict[str, Service]
    files: dict[str, str]
    boot_time: dt.datetime
    esu_licenses: list[dict[str, t.Any]]
    wmi_denied: list[str]
    wmi_hung: list[str]
    connectivity: str = "reachable"
    description: str = ""
    expect: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    inventory: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    connection: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    faults: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    restart: dict[str, t.Any] = dataclasses.field(default_factory=dict)   # emulator.restart's settings
    package_kbs: dict[str, str] = dataclasses.field(default_factory=dict)  # CBS package name -> the KB it installs
    culture: str = "en-US"                 # the session's culture ($PSCulture), from the fixture's culture
    language_mode: str = "FullLanguage"    # ConstrainedLanguage under an AppLocker / WDAC policy
    powershell_bits: int = 64              # 32: the command runs in a 32-bit PowerShell (WOW64)
    output_bom: bool = False               # the console writes UTF-8 with its preamble (code page 65001)
    display_language: str = "en-US"        # the language cmd.exe prints its messages in
    administrator: bool = True             # the connecting account is a member of the local Administrators
    # Servicing (emulator.servicing): the fixture's servicing: key, the files scripts wrote (by path, compared
    # without case), the directories they made (lower case), and the event log entries written.
    servicing: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    disk: dict[str, bytes] = dataclasses.field(default_factory=dict)
    directories: set[str] = dataclasses.field(default_factory=set)
    events: list[dict[str, t.Any]] = dataclasses.field(default_factory=list)
    # Task Scheduler (emulator.tasks): the registered tasks by name; they outlive shells and restarts.
    scheduled_tasks: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    # Set by a fault of the model (servicing: connection_drops_during_install): the command that set it has run, its
    # answer is lost (emulator.host passes it on to the WinRM service).
    connection_drop_pending: bool = False
    # Windows Update (emulator.windows_update): the fixture's windows_update: key, and the update tasks
    # ansible.windows.win_updates started, by their pipe name, with the progress records not yet read.
    windows_update: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    update_tasks: dict[str, list[dict[str, t.Any]]] = dataclasses.field(default_factory=dict)

    @property
    def wow64(self) -> bool:
        return self.powershell_bits == 32 and self.architecture == "AMD64"

    @property
    def version(self) -> str:
        return f"{self.major}.{self.minor}.{self.build}"

    @property
    def is_server(self) -> bool:
        return self.product_type != 1

    # ---- WMI --------------------------------------------------------------------------------
    def wmi(self, wmi_class: str, namespace: str = r"root\cimv2") -> list[dict[str, t.Any]]:
        if namespace.lower() not in (r"root\cimv2", "root/cimv2"):
            raise LookupError(f"Invalid namespace \"{namespace}\"")
        lowered = wmi_class.lower()
        if lowered in (c.lower() for c in self.wmi_denied):
            raise wmi_denied(wmi_class, self.faults.get("wmi_denied_by", "namespace"))
        if lowered in (c.lower() for c in self.wmi_hung):
            raise Hung(wmi_class)
        if lowered == "win32_operatingsystem":
            return [{"Caption": self.caption, "Version": self.version, "ProductType": self.product_type,
                     "LastBootUpTime": self.boot_time.strftime("%Y%m%d%H%M%S.000000+000"),
                     "OSArchitecture": "64-bit" if self.architecture == "AMD64" else "32-bit"}]
        if lowered == "win32_quickfixengineering":
            return [dict(row) for row in self.qfe]
        if lowered == "softwarelicensingproduct":
            return [dict(row) for row in self.esu_licenses]
        raise LookupError(f"Invalid class \"{wmi_class}\"")

    # ---- certificate stores -------------------------------------------------------------------
    def add_certificate(self, store: str, der: bytes, thumbprint: str) -> None:
        """A certificate added to a LocalMachine system store lands in the store's registry key as a subkey named
        by its SHA-1 thumbprint, its Blob value holding the certificate (the model keeps the DER bytes; Windows
        keeps them inside a serialized property list).
        https://learn.microsoft.com/en-us/windows/win32/seccrypto/system-store-locations"""
        self.registry.set(f"{CERT_STORES[store]}\\{thumbprint}", "Blob", bytes(der))


# ---------------------------------------------------------------------------------------------
# What PowerShell makes of what Windows holds
# ---------------------------------------------------------------------------------------------
class PropertyGetError(Exception):
    """A computed (ScriptProperty) member threw: PowerShell's "Exception getting ..." error."""


# Short-date order of the cultures fixtures may name. .NET's DateTime.Parse reads a numeric date
# in the order of the culture's short-date pattern.
# https://learn.microsoft.com/en-us/dotnet/api/system.datetime.parse (culture-specific parsing)
CULTURE_DATE_ORDER = {"en-US": "MDY", "en-GB": "DMY", "de-DE": "DMY", "fr-FR": "DMY"}


def qfe_installed_on(raw: t.Any, culture: str, build: int) -> str | None:
    """Win32_QuickFixEngineering.InstalledOn as Windows PowerShell 2.0-5.1 computes it.

    types.ps1xml adds InstalledOn as a ScriptProperty over the raw WMI string: from build 7000
    ``[DateTime]::Parse($raw)`` with the session's culture (the raw value is M/d/yyyy), before it
    the raw value is a hexadecimal FILETIME. Only PowerShell 6+ parses with an invariant format.
    Sources: PowerShell/PowerShell src/System.Management.Automation/engine/TypeTable_Types_Ps1Xml.cs
    (Win32_QuickFixEngineering, "WMI team fixed the formatting issue"); Windows PowerShell 5.1's
    compiled Types_Ps1Xml calls [DateTime]::Parse without a culture;
    https://learn.microsoft.com/en-us/windows/win32/cimwin32prov/win32-quickfixengineering
    Returns what the runner's JSON writer prints for the DateTime (UTC, the host's zone is UTC).
    """
    if raw in (None, ""):
        return None
    text = str(raw)
    if build < 7000:
        try:
            filetime = int(text, 16)
            value = dt.datetime(1601, 1, 1) + dt.timedelta(microseconds=filetime // 10)
        except (ValueError, OverflowError):
            raise PropertyGetError('Exception getting "InstalledOn": "Exception calling "ToInt64" with "2" '
                                   'argument(s): "Could not find any recognizable digits.""') from None
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    parts = text.split("/")
    order = CULTURE_DATE_ORDER[culture]
    try:
        first, second, year = (int(part) for part in parts)
        month, day = (first, second) if order == "MDY" else (second, first)
        value = dt.datetime(year, month, day)
    except ValueError:
        raise PropertyGetError('Exception getting "InstalledOn": "Exception calling "Parse" with "1" argument(s): '
                               '"String was not recognized as a valid DateTime.""') from None
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


# Keys under HKLM\SOFTWARE that WOW64 shares between the 32- and 64-bit views (Windows 7 and later);
# everything else under SOFTWARE is redirected to SOFTWARE\WOW6432Node for a 32-bit process.
# https://learn.microsoft.com/en-us/windows/win32/winprog64/shared-registry-keys
WOW64_SHARED = (r"SOFTWARE\Microsoft\SystemCertificates", r"SOFTWARE\Microsoft\EnterpriseCertificates",
                r"SOFTWARE\Policies", r"SOFTWARE\Microsoft\Cryptography\Services", r"SOFTWARE\RegisteredApplications")


class Wow64RegistryView:
    """HKLM as a 32-bit process on 64-bit Windows sees it through the registry redirector.
    https://learn.microsoft.com/en-us/windows/win32/winprog64/registry-redirector"""

    def __init__(self, registry: Registry):
        self.registry = registry

    @staticmethod
    def redirect(path: str) -> str:
        norm = path.strip("\\")
        lowered = norm.lower()
        if not lowered.startswith("software\\") or lowered.startswith("software\\wow6432node"):
            return norm
        if any(lowered == shared.lower() or lowered.startswith(shared.lower() + "\\") for shared in WOW64_SHARED):
            return norm
        return "SOFTWARE\\WOW6432Node\\" + norm[len("SOFTWARE\\"):]

    def open(self, path: str) -> RegistryKey | None:
        return self.registry.open(self.redirect(path))

    def subkey_names(self, path: str) -> list[str]:
        return self.registry.subkey_names(self.redirect(path))


# ---------------------------------------------------------------------------------------------
# Building a host from a fixture
# ---------------------------------------------------------------------------------------------
def _load_yaml(path: pathlib.Path) -> t.Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def load_templates() -> dict[str, dict[str, t.Any]]:
    return _load_yaml(FIXTURES / "os.yml")


def _package_version(major: int, minor: int) -> str:
    return f"{major}.{minor}.1.0"


def _add_update(host: WindowsHost, update: dict[str, t.Any]) -> None:
    kb = str(update["kb"]).upper()
    if not kb.startswith("KB"):
        kb = "KB" + kb
    state = update.get("state", "installed")
    arch = "amd64" if host.architecture == "AMD64" else "x86"
    packages = CBS + r"\Packages"
    if update.get("rollup_build"):
        package = f"Package_for_RollupFix~31bf3856ad364e35~{arch}~~{update['rollup_build']}"
    else:
        package = f"Package_for_{kb}~31bf3856ad364e35~{arch}~~{_package_version(host.major, host.minor)}"
    host.package_kbs[package] = kb
    if update.get("cbs", True):
        host.registry.set(f"{packages}\\{package}", "CurrentState", CBS_STATE[state])
        host.registry.set(f"{packages}\\{package}", "InstallName", package + ".mum")
    if update.get("qfe", state != "absent"):
        host.qfe.append({"HotFixID": kb, "Description": update.get("description", "Security Update"),
                         "InstalledOn": update.get("installed_on", "10/12/2021")})
    if state == "install_pending":
        host.registry.ensure(CBS + r"\RebootPending")


# [string]$service.Status prints System.ServiceProcess.ServiceControllerStatus names
# (https://learn.microsoft.com/dotnet/api/system.serviceprocess.servicecontrollerstatus).
AGENT_SERVICE_STATUS = {"running": "Running", "stopped": "Stopped", "start_pending": "StartPending",
                        "stop_pending": "StopPending", "continue_pending": "ContinuePending",
                        "pause_pending": "PausePending", "paused": "Paused", "disabled": "Stopped"}


def _add_agent(host: WindowsHost, product: str, spec: dict[str, t.Any]) -> None:
    """An agent as its installer leaves it. A fixture may localize what Windows shows in the user's language
    (display_name, publisher, misc_product); the uninstall key name is the installer's own and stays.
    Trend's Japanese documentation calls the Apex One agent "セキュリティエージェント"
    (https://docs.trendmicro.com/ja-jp/documentation/article/trend-micro-apex-one-patch-6-online-help-docs-terminology).
    """
    layout = AGENT_LAYOUT[product]
    prefix = "SOFTWARE\\WOW6432Node\\" if layout["view"] == "wow" and host.architecture == "AMD64" else "SOFTWARE\\"
    uninstall = (prefix + "Microsoft\\Windows\\CurrentVersion\\Uninstall\\"
                 + spec.get("uninstall_key", layout["uninstall_key"]))
    version = str(spec["version"])
    host.registry.set(uninstall, "DisplayName", spec.get("display_name", layout["display_name"]))
    host.registry.set(uninstall, "DisplayVersion", version)
    host.registry.set(uninstall, "Publisher", spec.get("publisher", "Trend Micro Inc."))
    registry = prefix + layout["registry"]
    misc_product = spec.get("misc_product", layout["misc_product"])
    if product == "deep_security_agent":
        host.registry.set(registry, "InstallationFolder", r"C:\Program Files\Trend Micro\Deep Security Agent" + "\\")
        host.registry.set(registry, "Version", version)
    else:
        host.registry.set(registry, "Application Path", r"C:\Program Files (x86)\Trend Micro\Security Agent" + "\\")
        if misc_product:
            host.registry.set(registry + r"\Misc.", "ProductName", misc_product)
            host.registry.set(registry + r"\Misc.", "TmListen_Ver", version)
    state = spec.get("service", "running")
    for name in layout["services"]:
        if state == "missing" and name == layout["services"][0]:
            continue
        primary = name == layout["services"][0]
        status = AGENT_SERVICE_STATUS.get(state, "Running") if primary else "Running"
        host.services[name] = Service(name, status, "disabled" if primary and state == "disabled" else "auto")


def _add_cbs_history(host: WindowsHost, history: dict[str, t.Any]) -> None:
    """Years of servicing: a long-lived 7/2008 R2/2012 R2 host keeps 5,000-15,000 keys under CBS\\Packages.

    Most are component packages (Package_<n>_for_KB..., Microsoft-Windows-...-Package); kb_packages of them
    are top-level Package_for_KB packages of updates long superseded. Their KB numbers (KB31xxxxx) are not
    ones the catalog asks for, so they change no verdict; they only make the store as big as real ones are.
    """
    arch = "amd64" if host.architecture == "AMD64" else "x86"
    packages = CBS + r"\Packages"
    total = int(history["packages"])
    top_level = int(history.get("kb_packages", total // 10))
    version = _package_version(host.major, host.minor)
    for index in range(total):
        kb = 3100000 + index % max(top_level, 1)
        if index < top_level:
            name = f"Package_for_KB{kb}~31bf3856ad364e35~{arch}~~{version}"
        elif index % 3:
            name = f"Package_{index // max(top_level, 1)}_for_KB{kb}~31bf3856ad364e35~{arch}~~{version}"
        else:
            name = f"Microsoft-Windows-Feature{index}-Package~31bf3856ad364e35~{arch}~~{version}"
        host.registry.set(f"{packages}\\{name}", "CurrentState", CBS_STATE["superseded"])


def build_host(name: str, fixture: dict[str, t.Any], templates: dict[str, dict[str, t.Any]] | None = None) -> WindowsHost:
    templates = templates or load_templates()
    template_name = fixture["os"]
    template = {**templates[template_name], **(fixture.get("os_overrides") or {})}
    major, minor, build = (int(part) for part in str(template["version"]).split("."))
    architecture = template.get("architecture", "AMD64")
    architecture = {"x64": "AMD64", "x86": "x86"}.get(architecture, architecture)
    ubr = fixture.get("ubr", template.get("ubr"))
    product_type = {"WinNT": 1, "LanmanNT": 2, "ServerNT": 3}[template["product_type"]]
    boot = fixture.get("boot_time", "2026-11-20T03:00:00Z")
    host = WindowsHost(
        name=name, template=template_name, major=major, minor=minor, build=build,
        ubr=int(ubr) if ubr is not None and major == 10 else None, architecture=architecture,
        powershell=fixture.get("powershell", template.get("powershell")), caption=template["caption"],
        product_type=product_type, registry=Registry(), qfe=[], services={}, files={},
        boot_time=dt.datetime.fromisoformat(str(boot).replace("Z", "+00:00")), esu_licenses=[],
        wmi_denied=list((fixture.get("faults") or {}).get("wmi_denied") or []),
        wmi_hung=list((fixture.get("faults") or {}).get("wmi_hung") or []),
        description=fixture.get("description", ""), expect=fixture.get("expect") or {},
        inventory=fixture.get("inventory") or {}, connection=fixture.get("connection") or {},
        faults=fixture.get("faults") or {}, restart=fixture.get("restart") or {},
        culture=str(fixture.get("culture", "en-US")), language_mode=str(fixture.get("language_mode", "FullLanguage")),
        powershell_bits=int(fixture.get("powershell_bits", 64)), output_bom=bool(fixture.get("output_bom", False)),
        display_language=str(fixture.get("display_language", "en-US")),
        administrator=bool(fixture.get("administrator", True)),
        servicing=dict(fixture.get("servicing") or {}),
        windows_update=dict(fixture.get("windows_update") or {}),
    )
    if host.culture not in CULTURE_DATE_ORDER:
        raise ValueError(f"{name}: culture {host.culture!r} is not modelled; choose from {sorted(CULTURE_DATE_ORDER)}")
    if host.language_mode not in ("FullLanguage", "ConstrainedLanguage"):
        raise ValueError(f"{name}: language_mode must be FullLanguage or ConstrainedLanguage")
    if host.language_mode != "FullLanguage" and host.powershell in (None, "2.0"):
        # ConstrainedLanguage came with PowerShell 3.0 (about_Language_Modes).
        raise ValueError(f"{name}: PowerShell {host.powershell} has no ConstrainedLanguage mode")
    if host.powershell_bits not in (32, 64):
        raise ValueError(f"{name}: powershell_bits must be 32 or 64")
    registry = host.registry
    current = r"SOFTWARE\Microsoft\Windows NT\CurrentVersion"
    registry.set(current, "ProductName", template["product_name"])
    registry.set(current, "CurrentBuild", str(build))
    registry.set(current, "CurrentBuildNumber", str(build))
    registry.set(current, "BuildLabEx", f"{build}.1.{'amd64fre' if architecture == 'AMD64' else 'x86fre'}")
    registry.set(current, "EditionID", template.get("edition_id", "ServerStandard" if host.is_server else "Professional"))
    if major == 10:
        registry.set(current, "CurrentVersion", "6.3")   # Windows 10 keeps 6.3 here for old installers
        registry.set(current, "CurrentMajorVersionNumber", 10)
        registry.set(current, "CurrentMinorVersionNumber", 0)
        registry.set(current, "UBR", host.ubr)
    else:
        registry.set(current, "CurrentVersion", f"{major}.{minor}")
    for key, value_name in (("display_version", "DisplayVersion"), ("release_id", "ReleaseId"),
                            ("csd_version", "CSDVersion"), ("installation_type", "InstallationType")):
        if template.get(key):
            registry.set(current, value_name, str(template[key]))
    if architecture == "AMD64":
        # 64-bit Windows keeps a 32-bit copy of these values for 32-bit programs (WOW6432Node).
        wow_current = "SOFTWARE\\WOW6432Node\\" + current[len("SOFTWARE\\"):]
        for value_name, value in list(registry.open(current).values.values()):
            registry.set(wow_current, value_name, value)
    registry.set(r"SYSTEM\CurrentControlSet\Control\ProductOptions", "ProductType", template["product_type"])
    registry.set(r"SYSTEM\CurrentControlSet\Control\Session Manager\Environment", "PROCESSOR_ARCHITECTURE",
                 architecture)
    registry.ensure(CBS + r"\Packages")
    registry.ensure(r"SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall")
    if architecture == "AMD64":
        registry.ensure(r"SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall")
    for store in CERT_STORES.values():
        registry.ensure(store)

    kernel = f"10.0.{build}.{host.ubr}" if major == 10 else template.get("kernel", f"{major}.{minor}.{build}.0")
    for update in fixture.get("updates") or []:
        _add_update(host, update)
        rollup = update.get("rollup_build")
        if rollup and major != 10 and update.get("state", "installed") == "installed":
            candidate = f"{major}.{minor}.{rollup}".rsplit(".", 2)[0]
            if tuple(int(p) for p in candidate.split(".")) > tuple(int(p) for p in kernel.split(".")):
                kernel = candidate
    host.files[r"c:\windows\system32\ntoskrnl.exe"] = kernel

    certificates = fixture.get("certificates") or {}
    for store, present in certificates.items():
        if present:
            registry.set(f"{CERT_STORES[store]}\\{ROOT_CA_SHA1}", "Blob", "(certificate)")
    if fixture.get("root_auto_update_disabled"):
        registry.set(r"SOFTWARE\Policies\Microsoft\SystemCertificates\AuthRoot", "DisableRootAutoUpdate", 1)
    reboot = fixture.get("reboot") or {}
    for flag, key in REBOOT_FLAG_KEYS.items():
        if reboot.get(flag):
            registry.ensure(key)
    if reboot.get("pending_file_rename"):
        registry.set(r"SYSTEM\CurrentControlSet\Control\Session Manager", "PendingFileRenameOperations",
                     [r"\??\C:\Windows\Temp\old.dll", ""])

    for service in ("WinRM", "wuauserv", "TrustedInstaller", "Winmgmt"):
        host.services[service] = Service(service, "Running" if service != "TrustedInstaller" else "Stopped",
                                         "auto" if service != "TrustedInstaller" else "manual")
    for agent in fixture.get("agents") or []:
        _add_agent(host, agent["product"], agent)
    for service in host.services.values():
        registry.set(f"SYSTEM\\CurrentControlSet\\Services\\{service.name}", "Start", SERVICE_START[service.start])
    for licence in fixture.get("esu_licenses") or []:
        host.esu_licenses.append({"Name": licence.get("name", "Windows(R), Server-ESU-Year3 add-on"),
                                  "ID": licence.get("id", "8e7bfb1e-acc1-4f56-abae-b80fce56cd4b"),
                                  "LicenseStatus": licence.get("license_status", 1),
                                  "Description": "Windows(R) Operating System, ESU add-on",
                                  "PartialProductKey": licence.get("partial_product_key", "XXXXX")})
    history = fixture.get("cbs_history")
    if history:
        _add_cbs_history(host, history)
    registry.key_cost_ms = float((fixture.get("faults") or {}).get("registry_key_cost_ms", 0))
    offline = str((fixture.get("inventory") or {}).get("acs_offline", "")).lower() in ("true", "yes", "1")
    host.connectivity = fixture.get("connectivity", "unreachable" if offline else "reachable")
    if host.connectivity not in CONNECTIVITY:
        raise ValueError(f"{name}: connectivity must be one of {', '.join(CONNECTIVITY)}")
    faults = fixture.get("faults") or {}
    registry.denied.extend(faults.get("registry_denied") or [])
    registry.hung.extend(faults.get("registry_hung") or [])
    registry.removed_after_listing.extend(faults.get("registry_removed_after_listing") or [])
    return host


def load_fleet(names: t.Iterable[str] | None = None) -> list[WindowsHost]:
    """Every host fixture (or the named ones), in name order."""
    templates = load_templates()
    wanted = set(names) if names is not None else None
    hosts = []
    for path in sorted((FIXTURES / "hosts").glob("*.yml")):
        name = path.stem
        if wanted is not None and name not in wanted:
            continue
        hosts.append(build_host(name, _load_yaml(path), templates))
    if wanted is not None and len(hosts) != len(wanted):
        missing = wanted - {host.name for host in hosts}
        raise KeyError(f"no fixture for {', '.join(sorted(missing))}")
    return hosts


def like(text: str, pattern: str) -> bool:
    """PowerShell -like: case-insensitive wildcards."""
    return fnmatch.fnmatchcase(text.lower(), pattern.lower())


_WQL_CLAUSE = re.compile(r"^\s*(\w+)\s+(?:(LIKE)\s+'([^']*)'|(IS\s+NOT\s+NULL)|(IS\s+NULL)|(=)\s*'([^']*)')\s*$", re.I)


def wql_match(row: dict[str, t.Any], condition: str) -> bool:
    """The WHERE clauses the collection sends: Prop LIKE '%x%', Prop IS [NOT] NULL, Prop = 'x', joined by AND."""
    if not condition.strip():
        return True
    for clause in re.split(r"\s+AND\s+", condition, flags=re.I):
        match = _WQL_CLAUSE.match(clause)
        if not match:
            raise ValueError("Invalid query ")
        value = row.get(match.group(1))
        if match.group(2):
            pattern = re.escape(match.group(3)).replace("%", ".*").replace("_", ".")
            if value is None or not re.fullmatch(pattern, str(value), re.I):
                return False
        elif match.group(4):
            if value is None:
                return False
        elif match.group(5):
            if value is not None:
                return False
        elif str(value).lower() != match.group(7).lower():
            return False
    return True
