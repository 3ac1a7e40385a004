# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The declarative probe list acs_facts sends, and the script and command line that carry it.

What to read lives here, in Python; the PowerShell runner (``_acs_runner.ps1``) only knows how
to read a registry value, a WMI class, a service or a file version, and how to send one HTTP HEAD.
The command line is a small bootstrap that reads the script from stdin, because cmd.exe refuses a
command line over 8,191 characters ("The command line is too long.", exit code 1; Microsoft KB830473)
and the script is far longer.
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
SUBSETS = ("os", "hotfixes", "certificates", "agents", "reboot", "esu", "connectivity")
# esu is opt-in: its WMI query is slow. connectivity is opt-in: it makes the host send an HTTP request.
DEFAULT_SUBSETS = ("os", "hotfixes", "certificates", "agents", "reboot")
# Characters of JSON the probes may write before the rest are skipped as truncated: room for both update probes
# at their item limit (3,000 QFE rows and 3,000 CBS packages are about 550,000) and every probe after them.
MAX_OUTPUT = 1_500_000
# An answer longer than this travels gzip-compressed. pywinrm asks for envelopes of at most 153,600 bytes
# (w:MaxEnvelopeSize), which carry about 113,000 bytes of output in base64: a longer answer would need a second
# Receive. Below it the answer stays plain JSON, readable in -vvv output.
COMPRESS_ABOVE = 60_000
MAX_ITEMS = 3000
# Probes known to be slow get at least this long, whatever gather_timeout says: a long-lived 7/2008 R2/2012 R2
# host keeps 5,000-15,000 CBS packages, and SoftwareLicensingProduct evaluates every licence product it has.
CBS_TIMEOUT_MS = 60_000
ESU_TIMEOUT_MS = 60_000

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
# The stores of explicitly distrusted certificates ("Untrusted Certificates"): local machine, group policy and
# enterprise. A certificate found here is distrusted even when it is also in Root; Windows fills the local one
# from the disallowed CTL (disallowedcertstl.cab). Source:
# https://learn.microsoft.com/en-us/windows-server/identity/ad-cs/configure-trusted-roots-disallowed-certificates
DISALLOWED_STORES = {
    "disallowed": r"SOFTWARE\Microsoft\SystemCertificates\Disallowed\Certificates",
    "policy_disallowed": r"SOFTWARE\Policies\Microsoft\SystemCertificates\Disallowed\Certificates",
    "enterprise_disallowed": r"SOFTWARE\Microsoft\EnterpriseCertificates\Disallowed\Certificates",
}
ROOT_POLICY = r"SOFTWARE\Policies\Microsoft\SystemCertificates\AuthRoot"
ROOT_AUTO_UPDATE = r"SOFTWARE\Microsoft\SystemCertificates\AuthRoot\AutoUpdate"
# Keys CBS and Windows Update create while servicing waits for a restart; their existence is the signal.
# Sources: the Get-PendingReboot article on Microsoft's Scripting blog,
# https://devblogs.microsoft.com/scripting/determine-pending-reboot-statuspowershell-style-part-1/ ,
# and https://adamtheautomator.com/pending-reboot-registry-windows/ (table of keys and conditions).
WU_AUTO_UPDATE = r"SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update"
REBOOT_KEYS = {
    "cbs_reboot_pending": CBS + r"\RebootPending",
    "cbs_reboot_in_progress": CBS + r"\RebootInProgress",
    "cbs_packages_pending": CBS + r"\PackagesPending",
    "wu_reboot_required": WU_AUTO_UPDATE + r"\RebootRequired",
    "wu_post_reboot_reporting": WU_AUTO_UPDATE + r"\PostRebootReporting",
}
# The URL automatic root update fetches the trusted root CTL from (the same source as above).
CTL_URL = "http://ctldl.windowsupdate.com/msdownload/update/v3/static/trustedr/en/authrootstl.cab"
# WinHTTP's own timeouts (resolve, connect, send, receive), each; the probe's runner timeout covers all four.
CTL_REQUEST_TIMEOUT_MS = 5000
CTL_PROBE_TIMEOUT_MS = 4 * CTL_REQUEST_TIMEOUT_MS + 2000
SESSION_MANAGER = r"SYSTEM\CurrentControlSet\Control\Session Manager"
# Publisher of Trend's installers (probe text is ASCII; localized publishers are found by key name).
TREND_PUBLISHERS = ["Trend Micro*", "TrendMicro*"]
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


# Fields an operation reads that most probes leave at their default (the runner reads every field it names).
_OP_DEFAULTS: dict[str, dict[str, t.Any]] = {"reg_subkeys": {"like": [], "match": "", "first_match": ""}}


def _probe(probe_id: str, op: str, **fields: t.Any) -> dict[str, t.Any]:
    """One probe. timeout_ms, when above gather_timeout, is the least time the runner gives it."""
    return {"id": probe_id, "subset": probe_id.split(".", 1)[0], "op": op, "timeout_ms": 0,
            **_OP_DEFAULTS.get(op, {}), **fields}


def runner_budget_seconds(probes: t.Iterable[dict[str, t.Any]], gather_timeout: int) -> int:
    """The longest the runner can take when every probe runs into its timeout."""
    return sum(max(gather_timeout, -(-int(probe.get("timeout_ms") or 0) // 1000)) for probe in probes)


def _trend_services() -> list[str]:
    names: list[str] = []
    for product in TREND_PRODUCTS:
        names.extend(name for name in product.services if name not in names)
    return names


def _trend_uninstall_keys() -> list[str]:
    names: list[str] = []
    for product in TREND_PRODUCTS:
        names.extend(name for name in product.uninstall_keys if name not in names)
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
            # One regular expression over GetSubKeyNames() opens only the packages we read; rollups come
            # first so that the item limit never drops them.
            _probe("hotfixes.cbs", "reg_subkeys", path=CBS + r"\Packages",
                   match=r"^Package_for_(KB\d|RollupFix~)", first_match=r"^Package_for_RollupFix~",
                   values=["CurrentState"], where_value="", where_like=[], limit=MAX_ITEMS,
                   timeout_ms=CBS_TIMEOUT_MS),
        ]
    if "certificates" in chosen:
        probes += [
            _probe("certificates.stores", "reg_keys_exist",
                   paths=[f"{path}\\{ROOT_CA_SHA1}" for path in (*ROOT_STORES.values(), *DISALLOWED_STORES.values())]),
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
        # Uninstall entries three ways, each bounded: by English display name; by the key names Trend's
        # installers use, which do not change with the display language (only those keys are opened);
        # and by publisher. The controller merges them (_agents).
        entry_values = ["DisplayName", "DisplayVersion", "Publisher"]
        key_names = _trend_uninstall_keys()
        for suffix, path in (("", UNINSTALL), ("_wow", UNINSTALL_WOW)):
            probes.append(_probe("agents.uninstall" + suffix, "reg_subkeys", path=path, like=["*"],
                                 values=entry_values, where_value="DisplayName",
                                 where_like=["Trend Micro*", "*Deep Security*", "*Apex One*", "*Worry-Free*"],
                                 limit=50))
            probes.append(_probe("agents.uninstall_keys" + suffix, "reg_subkeys", path=path, like=key_names,
                                 values=entry_values, where_value="", where_like=[], limit=len(key_names)))
            probes.append(_probe("agents.uninstall_publisher" + suffix, "reg_subkeys", path=path, like=["*"],
                                 values=entry_values, where_value="Publisher", where_like=TREND_PUBLISHERS, limit=50))
        for view, prefix in (("native", "SOFTWARE\\"), ("wow", "SOFTWARE\\WOW6432Node\\")):
            for name, path in TREND_KEYS.items():
                probes.append(_probe(f"agents.registry.{view}.{name}", "reg_values", path=prefix + path, presence=[],
                                     names=["ProductName", "TmListen_Ver", "Version", "InstallationFolder",
                                            "Application Path", "ServerVersion"]))
        probes.append(_probe("agents.services", "services", names=_trend_services()))
    if "esu" in chosen:
        probes.append(_probe("esu.licenses", "wmi", namespace=r"root\cimv2", wmi_class="SoftwareLicensingProduct",
                             wmi_filter="Name LIKE '%ESU%' AND PartialProductKey IS NOT NULL", limit=50,
                             properties=["Name", "ID", "LicenseStatus", "Description"], timeout_ms=ESU_TIMEOUT_MS))
    if "connectivity" in chosen:
        probes.append(_probe("connectivity.ctl", "http_head", url=CTL_URL, request_timeout_ms=CTL_REQUEST_TIMEOUT_MS,
                             timeout_ms=CTL_PROBE_TIMEOUT_MS))
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


def render_script(probes: list[dict[str, t.Any]], timeout_ms: int, max_output: int = MAX_OUTPUT,
                  compress_above: int = COMPRESS_ABOVE) -> str:
    """The whole script sent on stdin: the runner, its options, the probe list, and the call.

    ``compress_above`` 0 keeps the answer plain whatever its length.
    """
    options = {"protocol": PROTOCOL, "timeout_ms": int(timeout_ms), "max_output": int(max_output),
               "compress_above": int(compress_above)}
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
