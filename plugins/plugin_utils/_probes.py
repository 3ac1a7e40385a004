# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The declarative probe list acs_facts sends, and the script and command line that carry it.

What to read lives here, in Python; the PowerShell runner (``_acs_runner.ps1``) only knows how
to read a registry value, a WMI class, a service or a file version. The command line is a
small bootstrap that reads the script from stdin, because cmd.exe refuses a command line over
8,191 characters ("The command line is too long.", exit code 1; Microsoft KB830473) and the
script is far longer.
"""

from __future__ import annotations

import base64
import functools
import itertools
import os
import typing as t

from ansible_collections.codesign.windows.plugins.plugin_utils._catalog import ROOT_CA_SHA1, TREND_PRODUCTS

PROTOCOL = 1
RUNNER_FILE = os.path.join(os.path.dirname(__file__), "_acs_runner.ps1")
RUNNER_HEADER = "# codesign.windows ACS probe runner, protocol 1"

# The subsets acs_facts gathers; "os" is always gathered because nothing is judged without it.
SUBSETS = ("os", "hotfixes", "certificates", "agents", "reboot", "esu")
DEFAULT_SUBSETS = ("os", "hotfixes", "certificates", "agents", "reboot")   # esu is opt-in: its WMI query is slow
MAX_OUTPUT = 400_000      # characters of JSON; one Receive envelope carries it
MAX_ITEMS = 3000

CURRENT_VERSION = r"SOFTWARE\Microsoft\Windows NT\CurrentVersion"
CBS = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing"
UNINSTALL = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall"
UNINSTALL_WOW = r"SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall"
ROOT_STORES = {
    "root": r"SOFTWARE\Microsoft\SystemCertificates\ROOT\Certificates",
    "auth_root": r"SOFTWARE\Microsoft\SystemCertificates\AuthRoot\Certificates",
    "policy": r"SOFTWARE\Policies\Microsoft\SystemCertificates\Root\Certificates",
    "enterprise": r"SOFTWARE\Microsoft\EnterpriseCertificates\Root\Certificates",
}
ROOT_POLICY = r"SOFTWARE\Policies\Microsoft\SystemCertificates\AuthRoot"
ROOT_AUTO_UPDATE = r"SOFTWARE\Microsoft\SystemCertificates\AuthRoot\AutoUpdate"
REBOOT_KEYS = {
    "cbs_reboot_pending": CBS + r"\RebootPending",
    "wu_reboot_required": r"SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired",
    "servicing_in_progress": CBS + r"\Interface\ServicingInProgress",
}
SESSION_MANAGER = r"SYSTEM\CurrentControlSet\Control\Session Manager"
TREND_KEYS = {
    "pccillin": r"TrendMicro\PC-cillinNTCorp\CurrentVersion",
    "pccillin_misc": r"TrendMicro\PC-cillinNTCorp\CurrentVersion\Misc.",
    "wofie": r"TrendMicro\Wofie\CurrentVersion",
    "uniclient": r"TrendMicro\UniClient",
    "deep_security": r"TrendMicro\Deep Security Agent",
}


class SubsetError(ValueError):
    """gather_subset names something unknown."""


def resolve_subsets(requested: t.Iterable[str]) -> tuple[list[str], list[str]]:
    """Apply gather_subset the way ansible.windows.setup does: 'all', names, and '!name' to exclude.

    Returns (subsets in gathering order, warnings).
    """
    selected: set[str] = set()
    excluded: set[str] = set()
    warnings: list[str] = []
    for item in requested:
        name = str(item).strip()
        negate = name.startswith("!")
        name = name[1:] if negate else name
        if name == "all":
            (excluded if negate else selected).update(DEFAULT_SUBSETS)
            continue
        if name == "min":
            continue
        if name not in SUBSETS:
            raise SubsetError(f"gather_subset: unknown subset {name!r}; choose from all, min, {', '.join(SUBSETS)} "
                              "(prefix ! to exclude)")
        (excluded if negate else selected).add(name)
    if "os" in excluded:
        warnings.append("gather_subset: the os subset is always gathered; '!os' was ignored")
        excluded.discard("os")
    chosen = (selected - excluded) | {"os"}
    return [name for name in SUBSETS if name in chosen], warnings


def _probe(probe_id: str, op: str, **fields: t.Any) -> dict[str, t.Any]:
    return {"id": probe_id, "subset": probe_id.split(".", 1)[0], "op": op, **fields}


def _trend_services() -> list[str]:
    names: list[str] = []
    for product in TREND_PRODUCTS:
        names.extend(name for name in product.services if name not in names)
    return names


def build_probes(subsets: t.Iterable[str]) -> list[dict[str, t.Any]]:
    """The probe list for the chosen subsets. Every field the runner reads is always present."""
    chosen = set(subsets)
    probes: list[dict[str, t.Any]] = []
    if "os" in chosen:
        probes += [
            _probe("os.current_version", "reg_values", path=CURRENT_VERSION, presence=[], names=[
                "ProductName", "CurrentBuild", "CurrentBuildNumber", "UBR", "CurrentMajorVersionNumber",
                "CurrentMinorVersionNumber", "CurrentVersion", "ReleaseId", "DisplayVersion", "EditionID",
                "CSDVersion", "InstallationType", "BuildLabEx"]),
            _probe("os.product_options", "reg_values", path=r"SYSTEM\CurrentControlSet\Control\ProductOptions",
                   names=["ProductType"], presence=[]),
            _probe("os.environment", "reg_values", path=SESSION_MANAGER + r"\Environment",
                   names=["PROCESSOR_ARCHITECTURE"], presence=[]),
            _probe("os.kernel", "file_version", path=r"%SystemRoot%\System32\ntoskrnl.exe"),
            _probe("os.powershell", "powershell_version"),
            _probe("os.boot", "wmi", namespace=r"root\cimv2", wmi_class="Win32_OperatingSystem", wmi_filter="",
                   limit=1, properties=["Caption", "Version", "LastBootUpTime", "ProductType", "OSArchitecture"]),
        ]
    if "hotfixes" in chosen:
        probes += [
            _probe("hotfixes.qfe", "wmi", namespace=r"root\cimv2", wmi_class="Win32_QuickFixEngineering",
                   wmi_filter="", limit=MAX_ITEMS, properties=["HotFixID", "Description", "InstalledOn"]),
            _probe("hotfixes.cbs", "reg_subkeys", path=CBS + r"\Packages",
                   like=["Package_for_KB*", "Package_for_RollupFix*"],
                   values=["CurrentState"], where_value="", where_like=[], limit=MAX_ITEMS),
        ]
    if "certificates" in chosen:
        probes += [
            _probe("certificates.stores", "reg_keys_exist",
                   paths=[f"{path}\\{ROOT_CA_SHA1}" for path in ROOT_STORES.values()]),
            _probe("certificates.policy", "reg_values", path=ROOT_POLICY, names=["DisableRootAutoUpdate"], presence=[]),
            _probe("certificates.auto_update", "reg_values", path=ROOT_AUTO_UPDATE,
                   names=["RootDirURL", "DisableRootAutoUpdate"], presence=[]),
        ]
    if "reboot" in chosen:
        probes += [
            _probe("reboot.keys", "reg_keys_exist", paths=list(REBOOT_KEYS.values())),
            _probe("reboot.file_rename", "reg_values", path=SESSION_MANAGER, names=[],
                   presence=["PendingFileRenameOperations"]),
        ]
    if "agents" in chosen:
        for probe_id, path in (("agents.uninstall", UNINSTALL), ("agents.uninstall_wow", UNINSTALL_WOW)):
            probes.append(_probe(probe_id, "reg_subkeys", path=path, like=["*"],
                                 values=["DisplayName", "DisplayVersion", "Publisher"], where_value="DisplayName",
                                 where_like=["Trend Micro*", "*Deep Security*", "*Apex One*", "*Worry-Free*"],
                                 limit=50))
        for view, prefix in (("native", "SOFTWARE\\"), ("wow", "SOFTWARE\\WOW6432Node\\")):
            for name, path in TREND_KEYS.items():
                probes.append(_probe(f"agents.registry.{view}.{name}", "reg_values", path=prefix + path, presence=[],
                                     names=["ProductName", "TmListen_Ver", "Version", "InstallationFolder",
                                            "Application Path", "ServerVersion"]))
        probes.append(_probe("agents.services", "services", names=_trend_services()))
    if "esu" in chosen:
        probes.append(_probe("esu.licenses", "wmi", namespace=r"root\cimv2", wmi_class="SoftwareLicensingProduct",
                             wmi_filter="Name LIKE '%ESU%' AND PartialProductKey IS NOT NULL", limit=50,
                             properties=["Name", "ID", "LicenseStatus", "Description"]))
    return probes


# ---------------------------------------------------------------------------------------------
# PowerShell rendering
# ---------------------------------------------------------------------------------------------
# Words PowerShell parses as keywords; probe field names avoid them.
PS_KEYWORDS = frozenset("begin break catch class continue data define do dynamicparam else elseif end enum exit filter "
                        "finally for foreach from function hidden if in inlinescript parallel param process return "
                        "sequence static switch throw trap try until using var while workflow".split())


def ps_literal(value: t.Any, indent: str = "") -> str:
    """Render plain data as a PowerShell 2.0 literal: @{} hashtables, @() arrays, 'strings'."""
    if value is None:
        return "$null"
    if isinstance(value, bool):
        return "$true" if value else "$false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if not value.isascii():
            raise ValueError(f"probe text must be ASCII: {value!r}")
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, (list, tuple)):
        if not value:
            return "@()"
        return "@(" + ", ".join(ps_literal(item, indent) for item in value) + ")"
    if isinstance(value, dict):
        inner = indent + "    "
        lines = []
        for key, item in value.items():
            if not key.isidentifier() or key.lower() in PS_KEYWORDS:
                raise ValueError(f"probe field names must be identifiers and not PowerShell keywords: {key!r}")
            lines.append(f"{inner}{key} = {ps_literal(item, inner)}")
        return "@{\n" + "\n".join(lines) + f"\n{indent}}}"
    raise ValueError(f"cannot render {type(value).__name__} as a PowerShell literal")


@functools.lru_cache(maxsize=1)
def runner_text() -> str:
    """The runner, read once per process rather than once per host."""
    with open(RUNNER_FILE, encoding="ascii") as handle:
        return handle.read()


def render_script(probes: list[dict[str, t.Any]], timeout_ms: int, max_output: int = MAX_OUTPUT) -> str:
    """The whole script sent on stdin: the runner, its options, the probe list, and the call."""
    options = {"protocol": PROTOCOL, "timeout_ms": int(timeout_ms), "max_output": int(max_output)}
    body = ",\n".join("    " + ps_literal(probe, "    ") for probe in probes)
    return (f"{runner_text()}\n"
            f"$AcsOptions = {ps_literal(options)}\n"
            f"$AcsProbes = @(\n{body}\n)\n"
            "Invoke-AcsRunner -Probes $AcsProbes -Options $AcsOptions\n")


# Reads the script from stdin and runs it. $input also carries the lines over psrp, where the
# connection hands stdin to the pipeline instead of a console.
BOOTSTRAP = (
    "$ErrorActionPreference = 'Stop'\n"
    "$lines = @(foreach ($line in $input) { [string]$line })\n"
    "& ([ScriptBlock]::Create([string]::Join([Environment]::NewLine, [string[]]$lines)))\n"
)
# The prefix ansible-core's PowerShell shell plugin writes (its _common_args); psrp runs a command
# that starts with it plus -EncodedCommand in its runspace, and winrm 2.19+ passes it through.
POWERSHELL = "PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted"

# Connection plugins that wrap *every* command in `PowerShell ... -EncodedCommand <command>`, by
# the ansible-core release that stopped doing it (read in each release's plugins/connection/*.py):
# winrm.exec_command encodes unconditionally up to 2.18 and passes an encoded command through from
# 2.19; ssh on a Windows shell encodes up to 2.17 and runs the command as given from 2.18. psrp
# never wraps: it decodes the prefix and runs the script in its runspace (2.16 included).
_WRAPPING_CONNECTIONS = {"winrm": (2, 19), "ssh": (2, 18)}


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for part in str(version).split(".")[:2]:
        digits = "".join(itertools.takewhile(str.isdigit, part))
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def connection_wraps_commands(connection: str, ansible_version: str) -> bool:
    """True when this connection plugin of this ansible-core release encodes every command itself.

    ``connection`` is the plugin's name, short or fully qualified (``ansible.builtin.winrm``).
    """
    name = str(connection or "").rsplit(".", 1)[-1]
    fixed_in = _WRAPPING_CONNECTIONS.get(name)
    return fixed_in is not None and _version_tuple(ansible_version) < fixed_in


def bootstrap_command(wrapped_by_connection: bool = False) -> str:
    """What acs_facts hands to the connection's exec to run the bootstrap.

    Normally the command line PowerShell -EncodedCommand <bootstrap>, the form every connection
    runs as is (winrm 2.19+, psrp, ssh 2.18+). A connection that wraps every command itself
    (``connection_wraps_commands``) gets the bootstrap *script*: wrapping an encoded command
    again would start a nested powershell.exe, and whether stdin reaches that one is not
    something to rely on.
    """
    if wrapped_by_connection:
        return BOOTSTRAP
    encoded = base64.b64encode(BOOTSTRAP.encode("utf-16-le")).decode("ascii")
    return f"{POWERSHELL} -EncodedCommand {encoded}"
