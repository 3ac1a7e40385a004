# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn the probe runner's output into ansible_facts.acs: raw evidence plus the evidence record.

A probe that failed leaves its part of the record null, never "missing": a least-privilege
account that cannot read the CBS store must not make a host look unpatched.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import re
import typing as t
import zlib

from ansible_collections.codesign.windows.plugins.plugin_utils._catalog import ROOT_CA_SHA1, normalize_kb
from ansible_collections.codesign.windows.plugins.plugin_utils._probes import (
    CTL_URL,
    DISALLOWED_STORES,
    PROTOCOL,
    REBOOT_KEYS,
    ROOT_STORES,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._agents import gathered_service, products_from_gathered
from ansible_collections.codesign.windows.plugins.plugin_utils._untrusted import (
    MAX_DOCUMENT_CHARS,
    MAX_MESSAGE_CHARS,
    MAX_STDOUT_CHARS,
    Bounded,
    UntrustedDataError,
    clean_text,
    clean_token,
    load_json,
)

FACTS_SCHEMA = 1

# CBS package CurrentState values as commonly documented (verify on a real host).
CBS_STATES = {0: "absent", 5: "uninstall_pending", 16: "resolving", 32: "resolved", 48: "staging", 64: "staged",
              80: "superseded", 96: "install_pending", 101: "partially_installed", 112: "installed",
              128: "permanent"}
CBS_INSTALLED = (80, 112, 128)
CBS_PENDING = (96, 101)

_PACKAGE_KB = re.compile(r"^Package_for_(KB\d{6,7})~", re.IGNORECASE)
_PACKAGE_ROLLUP = re.compile(r"^Package_for_RollupFix~[^~]*~[^~]*~[^~]*~(\d+\.\d+(?:\.\d+)*)$", re.IGNORECASE)


BOM = "\ufeff"
# FullyQualifiedErrorIds PowerShell gives what Constrained Language Mode blocks, e.g.
# MethodInvocationNotSupportedInConstrainedLanguage, CannotCreateTypeConstrainedLanguage.
_CONSTRAINED_ERROR_ID = re.compile(r"FullyQualifiedErrorId\s*:\s*\w*ConstrainedLanguage\b")
CMD_NOT_FOUND = 9009      # cmd.exe's exit code for "is not recognized", in every display language

# What an exception chain from the runner must contain to mean "access denied", on any PowerShell
# version (2.0 wraps cmdlet errors in ActionPreferenceStopException, method calls arrive as
# MethodInvocationException around the real exception).
DENIED_TYPES = ("System.UnauthorizedAccessException", "System.Security.SecurityException")
DENIED_HRESULTS = (-2147024891, -2147217405)        # E_ACCESSDENIED 0x80070005, WBEM_E_ACCESS_DENIED 0x80041003
ERROR_ACCESS_DENIED = "5"                           # Win32Exception.NativeErrorCode
WRAPPERS = ("System.Management.Automation.ActionPreferenceStopException",
            "System.Management.Automation.MethodInvocationException")


def _exceptions(record: t.Any) -> list[dict[str, t.Any]]:
    items = record.get("exceptions") if isinstance(record, dict) else None
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def classify_error(record: t.Any) -> str:
    """'denied' or 'error' for an error record the runner sent (Get-AcsErrorRecord)."""
    if isinstance(record, dict) and record.get("category") == "PermissionDenied":
        return "denied"
    for item in _exceptions(record):
        hresult = item.get("hresult")
        if (item.get("type") in DENIED_TYPES or (isinstance(hresult, int) and not isinstance(hresult, bool)
                                                 and hresult in DENIED_HRESULTS)
                or (item.get("type") == "System.Management.ManagementException" and item.get("code") == "AccessDenied")
                or (item.get("type") == "System.ComponentModel.Win32Exception"
                    and str(item.get("code")) == ERROR_ACCESS_DENIED)):
            return "denied"
    return "error"


def error_message(record: t.Any, fallback: t.Any) -> str:
    """What went wrong, under PowerShell's wrappers: the outermost real error, and its root cause."""
    messages = [clean_text(item.get("message"), MAX_MESSAGE_CHARS).strip() for item in _exceptions(record)
                if item.get("type") not in WRAPPERS and isinstance(item.get("message"), str) and item.get("message")]
    if not messages:
        return clean_text(fallback, MAX_MESSAGE_CHARS) if isinstance(fallback, str) else ""
    if len(messages) > 1 and messages[-1] not in messages[0]:
        return clean_text(f"{messages[0]} ({messages[-1]})", MAX_MESSAGE_CHARS)
    return messages[0]


class RunnerOutputError(ValueError):
    """The runner's output cannot be used; the message says what was wrong in words an admin reads."""


def _clixml_text(stderr: str) -> str:
    """Keep the readable part of a CLIXML error stream (progress records and tags dropped)."""
    if "#< CLIXML" not in stderr:
        return stderr.strip()
    # [^<]* (the text is XML-escaped) keeps the search linear on a hostile stream with no </S>.
    messages = re.findall(r'<S S="Error">([^<]*)</S>', stderr)
    text = "".join(messages).replace("_x000D__x000A_", "\n")
    text = re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), text)
    return text.strip()


# The runner's line, after blanks and a leading BOM; greedy and unambiguous, so linear on any input.
_DOCUMENT_LINE = re.compile(r'^[^\S\r\n]*(?:\ufeff[^\S\r\n]*)?(\{"acs_runner"[^\r\n]*)', re.M)
_FIRST_TEXT = re.compile(r"\S[^\r\n]*")


def parse_runner_output(rc: t.Any, stdout: t.Any, stderr: t.Any) -> dict[str, t.Any]:
    """The runner's JSON document, within the controller's limits; RunnerOutputError for anything else.

    Every string in the document is cleaned (``_untrusted.clean_text``); results that are not
    readable become failed results of category ``malformed``, so one bad probe costs only its own
    evidence. Messages quote the host only through ``clean_text``.
    """
    stdout = _as_text(stdout)[:MAX_STDOUT_CHARS]
    error_text = clean_text(_clixml_text(_as_text(stderr)[:MAX_STDOUT_CHARS]), 2000)
    # Regular expressions rather than splitlines(): a host may send millions of empty lines. A console on
    # code page 65001 starts its output with the UTF-8 preamble, which the pattern allows.
    found = _DOCUMENT_LINE.search(stdout)
    document_line = found.group(1).rstrip() if found else None
    first_line = _FIRST_TEXT.search(stdout)
    if document_line is None:
        if _CONSTRAINED_ERROR_ID.search(error_text):
            # Blocked before the runner could check (its error ids are not translated).
            raise _language_mode_error("ConstrainedLanguage")
        if rc == CMD_NOT_FOUND:
            raise RunnerOutputError("PowerShell is not installed on this host (cmd.exe could not find it, exit code "
                                    f"{CMD_NOT_FOUND}; Windows Server 2008 SP2 has none in-box: install Windows "
                                    "Management Framework 2.0 or later)")
        if rc != 0:
            detail = error_text or clean_text(stdout.strip(), 2000) or "no output"
            raise RunnerOutputError(f"the probe script failed (rc={clean_text(rc, 20)}): {detail}")
        if first_line is None:
            suffix = f"; stderr: {error_text}" if error_text else ""
            raise RunnerOutputError("the probe script printed nothing" + suffix)
        if stdout.lstrip().startswith("#< CLIXML"):
            raise RunnerOutputError("the probe script printed CLIXML instead of JSON")
        raise RunnerOutputError(f"the probe script's output is not JSON: {clean_text(first_line.group(), 200)!r}")
    document = _load_document(document_line)
    if isinstance(document, dict) and "gzip" in document and "results" not in document:
        # A long answer travels compressed (the runner's ConvertTo-AcsGzipBase64); once, never nested.
        document_line = _inflate(document.get("gzip"))
        document = _load_document(document_line)
        if isinstance(document, dict) and "gzip" in document:
            problem = "it holds another one"
            raise RunnerOutputError(f"the probe script's compressed output cannot be used: {problem}")
    if not isinstance(document, dict):
        raise RunnerOutputError("the probe script's output is not a JSON object")
    protocol = document.get("acs_runner")
    if type(protocol) is not int or protocol != PROTOCOL:  # pylint: disable=unidiomatic-typecheck
        raise RunnerOutputError(f"the probe script speaks protocol {clean_text(protocol, 40)!r}, expected {PROTOCOL}")
    missing = [key for key in ("results", "complete") if key not in document]
    if missing:
        raise RunnerOutputError(f"the probe script's output lacks {', '.join(missing)}: it was cut short")
    if not isinstance(document["results"], list):
        raise RunnerOutputError("the probe script's results are malformed")
    bounded = Bounded()
    try:
        document = bounded.copy(document)
    except UntrustedDataError as exc:
        raise RunnerOutputError(f"the probe script's output cannot be used: {exc}") from None
    document["results"] = [_result(item) for item in document["results"]
                           if isinstance(item, dict) and isinstance(item.get("id"), str)]
    # The session fields the facts show and the session checks read: of their type, or unknown.
    for key, kind in (("powershell", str), ("elapsed_ms", int), ("language_mode", str), ("process_bits", int),
                      ("wow64", bool)):
        value = document.get(key)
        if value is not None and (not isinstance(value, kind) or (kind is not bool and isinstance(value, bool))):
            document[key] = None
    for key in ("powershell", "language_mode"):
        if isinstance(document.get(key), str):
            document[key] = document[key][:40]
    _refuse_unusable_session(document)
    return document


def _load_document(line: str) -> t.Any:
    try:
        return load_json(line)
    except UntrustedDataError as exc:
        raise RunnerOutputError(f"the probe script's output cannot be used: {exc}") from None
    except (ValueError, RecursionError) as exc:
        raise RunnerOutputError(f"the probe script's output was truncated or garbled ({clean_text(exc, 200)}; "
                                f"{len(line)} characters received)") from None


def _inflate(encoded: t.Any) -> str:
    """The document a compressed answer carries, never more than the controller reads of a plain one.

    The host chooses the compressed bytes: a few KB can inflate to gigabytes, so inflation stops one character
    past MAX_DOCUMENT_CHARS, and gzip's own CRC-32 and length must confirm what was received.
    """
    text, problem = _inflate_text(encoded)
    found = _DOCUMENT_LINE.match(text) if problem is None else None
    if found is None or found.group(1).rstrip() != text.strip():
        problem = problem or "it does not hold one runner document"
        raise RunnerOutputError(f"the probe script's compressed output cannot be used: {problem}")
    return found.group(1).rstrip()


def _inflate_text(encoded: t.Any) -> tuple[str, str | None]:
    """(the inflated text, None) or ("", what is wrong)."""
    if not isinstance(encoded, str):
        return "", "it is not text"
    try:
        compressed = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return "", "it is not base64"
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip only
    try:
        inflated = inflater.decompress(compressed, MAX_DOCUMENT_CHARS + 1)
    except zlib.error as exc:
        return "", f"it is garbled ({clean_text(exc, 200)})"
    if len(inflated) > MAX_DOCUMENT_CHARS:
        return "", f"it inflates to more than {MAX_DOCUMENT_CHARS:,} characters, more than the controller reads"
    if not inflater.eof or inflater.unused_data:
        return "", f"it was truncated or garbled ({len(compressed):,} bytes received)"
    return inflated.decode("utf-8", errors="replace"), None


def _as_text(value: t.Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value if isinstance(value, str) else str(value)


def _result(item: dict[str, t.Any]) -> dict[str, t.Any]:
    """One probe result as build_facts reads it: ok with data, or failed with category and message."""
    if item.get("ok") is True:
        return item
    category = "malformed" if item.get("ok") is not False else clean_token(item.get("category"), "error")
    message = item.get("error") if item.get("ok") is False else "the result has no ok flag"
    return {**item, "ok": False, "category": category,
            "error": clean_text(message if isinstance(message, str) else "", MAX_MESSAGE_CHARS)}


# What the data of each runner operation must look like for build_facts to read it: the keys
# build_facts reads, when present, have these types; other keys may come and are kept. Data that
# does not fit costs that probe's evidence (category "malformed"), never the host.
def _scalar(value: t.Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _value(value: t.Any) -> bool:  # a registry or WMI value: scalar, or a list of them (REG_MULTI_SZ)
    return _scalar(value) or (isinstance(value, list) and all(_scalar(item) for item in value))


def _flag(value: t.Any) -> bool:
    return isinstance(value, bool)


def _name(value: t.Any) -> bool:
    return isinstance(value, str)


def _record(**fields: t.Callable[[t.Any], bool]) -> t.Callable[[t.Any], bool]:
    return lambda value: isinstance(value, dict) and all(
        name not in value or check(value[name]) for name, check in fields.items())


def _list_of(check: t.Callable[[t.Any], bool]) -> t.Callable[[t.Any], bool]:
    return lambda value: isinstance(value, list) and all(check(item) for item in value)


def _map_of(check: t.Callable[[t.Any], bool]) -> t.Callable[[t.Any], bool]:
    return lambda value: isinstance(value, dict) and all(check(item) for item in value.values())


DATA_SHAPES: dict[str, t.Callable[[t.Any], bool]] = {
    "reg_values": _record(exists=_flag, values=_map_of(_value)),
    "reg_keys_exist": _map_of(_flag),
    "reg_subkeys": _record(exists=_flag, truncated=_flag,
                           items=_list_of(_record(name=_name, values=_map_of(_value)))),
    "wmi": _record(truncated=_flag, items=_list_of(_map_of(_value))),
    "services": _map_of(_record(exists=_flag, status=_scalar, start=_scalar)),
    "file_version": _record(exists=_flag, version=_scalar, product_version=_scalar),
    "powershell_version": _record(version=_scalar, clr=_scalar),
}


def checked_result(item: dict[str, t.Any], probe: dict[str, t.Any] | None) -> dict[str, t.Any]:
    """``item`` if its data has the form its probe's operation promises; else a failed result saying so."""
    if not item.get("ok") or probe is None:
        return item
    shape = DATA_SHAPES.get(str(probe.get("op")), lambda value: isinstance(value, dict))
    if "data" in item and shape(item["data"]):
        return item
    return {"id": item["id"], "ok": False, "category": "malformed",
            "error": f"the host's answer to this {probe.get('op')} probe does not have the expected form"}


def _language_mode_error(language_mode: str) -> RunnerOutputError:
    # Under App Control for Business (WDAC) no account is exempt: the way out is the policy or an export.
    return RunnerOutputError(
        f"PowerShell runs in {language_mode} mode on this host (an AppLocker or App Control for "
        "Business/WDAC policy), which blocks the .NET calls the probes need, so nothing was gathered. Either "
        "allow the codesign.windows probe runner through that policy (only code the policy trusts, such as a "
        "script signed by a publisher it allows, runs in FullLanguage mode), or assess this host from an export "
        "(ConfigMgr, WSUS, CMDB) with codesign.windows.acs_export_evidence, see docs/exports.md")


def _refuse_unusable_session(document: dict[str, t.Any]) -> None:
    """Fail the host when the runner's session cannot give true evidence, saying what to do."""
    language_mode = document.get("language_mode")
    if language_mode not in (None, "FullLanguage"):
        raise _language_mode_error(str(language_mode)[:40])
    if document.get("wow64") is True:
        bits = document.get("process_bits")
        bits = bits if isinstance(bits, int) and not isinstance(bits, bool) and 0 < bits < 128 else 32
        raise RunnerOutputError(
            f"the probes ran in a {bits}-bit PowerShell on 64-bit Windows, which sees "
            "the 32-bit registry view (HKLM\\SOFTWARE\\WOW6432Node) and SysWOW64, not the servicing store: connect "
            "to the 64-bit endpoint (ansible_psrp_configuration_name: Microsoft.PowerShell, not "
            "Microsoft.PowerShell32) or use a 64-bit shell (a 64-bit OpenSSH server)")


class _Results:
    """Probe results by id, remembering which ones failed and how."""

    def __init__(self, document: dict[str, t.Any], probes: list[dict[str, t.Any]]):
        self.probes = {probe["id"]: probe for probe in probes}
        self.by_id = {item["id"]: checked_result(item, self.probes.get(item["id"])) for item in document["results"]}
        self.errors: list[dict[str, t.Any]] = []
        for probe_id in self.probes:
            item = self.by_id.get(probe_id)
            if item is None:
                self.errors.append({"probe": probe_id, "subset": self.probes[probe_id]["subset"],
                                    "category": "missing", "message": "the runner returned no result"})
            elif not item["ok"]:
                category = str(item.get("category") or "error")
                if category == "error" and item.get("record") is not None:
                    category = classify_error(item["record"])
                self.errors.append({"probe": probe_id, "subset": self.probes[probe_id]["subset"],
                                    "category": category,
                                    "message": error_message(item.get("record"), item.get("error"))})

    def add_error(self, probe_id: str, category: str, message: str) -> None:
        """A failure found inside a probe's data (a value it could not read)."""
        subset = (self.probes.get(probe_id) or {}).get("subset", probe_id.split(".", 1)[0])
        self.errors.append({"probe": probe_id, "subset": subset, "category": category, "message": message})

    def data(self, probe_id: str) -> t.Any:
        """The probe's data, or None when it was not gathered or failed."""
        item = self.by_id.get(probe_id)
        if not item or not item.get("ok"):
            return None
        return item.get("data")

    def values(self, probe_id: str) -> dict[str, t.Any] | None:
        data = self.data(probe_id)
        if not isinstance(data, dict):
            return None
        values = data.get("values")
        return values if isinstance(values, dict) else {}


def _int(value: t.Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    # ASCII digits only: str.isdigit() also accepts "²" or "٣", which int() then refuses.
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,18}", value.strip()):
        return int(value.strip())
    return None


def _os(results: _Results) -> dict[str, t.Any] | None:
    values = results.values("os.current_version")
    if values is None:
        return None
    product_options = results.values("os.product_options") or {}
    environment = results.values("os.environment") or {}
    kernel = results.data("os.kernel") or {}
    boot = results.data("os.boot") or {}
    powershell = results.data("os.powershell") or {}
    wmi_os = (boot.get("items") or [{}])[0] if isinstance(boot, dict) else {}
    major = _int(values.get("CurrentMajorVersionNumber"))
    minor = _int(values.get("CurrentMinorVersionNumber"))
    if major is None and isinstance(values.get("CurrentVersion"), str) and "." in values["CurrentVersion"]:
        major_text, minor_text = values["CurrentVersion"].split(".", 1)
        major, minor = _int(major_text), _int(minor_text)
    build = _int(values.get("CurrentBuildNumber")) or _int(values.get("CurrentBuild"))
    return {
        "product_name": values.get("ProductName"),
        "major": major,
        "minor": minor,
        "build": build,
        "ubr": _int(values.get("UBR")),
        "version": f"{major}.{minor}.{build}" if None not in (major, minor, build) else None,
        "display_version": values.get("DisplayVersion"),
        "release_id": values.get("ReleaseId"),
        "edition_id": values.get("EditionID"),
        "csd_version": values.get("CSDVersion"),
        "installation_type": values.get("InstallationType"),
        "product_type": product_options.get("ProductType"),
        "build_lab": values.get("BuildLabEx"),
        "architecture": environment.get("PROCESSOR_ARCHITECTURE"),
        "kernel_version": kernel.get("version") if isinstance(kernel, dict) else None,
        "caption": wmi_os.get("Caption") if isinstance(wmi_os, dict) else None,
        "last_boot": wmi_os.get("LastBootUpTime") if isinstance(wmi_os, dict) else None,
        "powershell_version": powershell.get("version") if isinstance(powershell, dict) else None,
    }


def _installation_type(os_facts: dict[str, t.Any]) -> str | None:
    if isinstance(os_facts.get("installation_type"), str) and os_facts["installation_type"]:
        return os_facts["installation_type"]
    return {"winnt": "Client", "servernt": "Server", "lanmannt": "Server"}.get(
        str(os_facts.get("product_type") or "").lower())


_QFE_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$", re.ASCII)
_QFE_FILETIME = re.compile(r"^[0-9A-Fa-f]{15,16}$", re.ASCII)
_QFE_DIGITS = re.compile(r"^(\d{4})(\d{2})(\d{2})$", re.ASCII)


def parse_installed_on(raw: t.Any) -> str | None:
    """Win32_QuickFixEngineering.InstalledOn, raw as WMI holds it, as an ISO date (None if unreadable).

    Windows 7 / 2008 R2 and later hold M/d/yyyy whatever the host's regional settings; older
    Windows hold a hexadecimal FILETIME (some rows yyyymmdd). PowerShell's own InstalledOn parses
    the string with the session's culture, which is why the runner sends the raw value.
    https://learn.microsoft.com/en-us/windows/win32/cimwin32prov/win32-quickfixengineering
    """
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    try:
        match = _QFE_US_DATE.match(text)
        if match:
            return datetime.date(int(match.group(3)), int(match.group(1)), int(match.group(2))).isoformat()
        match = _QFE_DIGITS.match(text)
        if match:
            return datetime.date(int(match.group(1)), int(match.group(2)), int(match.group(3))).isoformat()
        if _QFE_FILETIME.match(text):
            moment = datetime.datetime(1601, 1, 1) + datetime.timedelta(microseconds=int(text, 16) // 10)
            return moment.date().isoformat() if moment.year >= 1980 else None
    except (ValueError, OverflowError):
        return None
    return None


def _items(data: dict[str, t.Any] | None) -> list[t.Any]:
    items = (data or {}).get("items")
    return items if isinstance(items, list) else []


def _hotfixes(results: _Results) -> dict[str, t.Any] | None:
    # A host answer of the wrong shape (a list, a bare value) is treated as not gathered.
    qfe_data = results.data("hotfixes.qfe")
    qfe_data = qfe_data if isinstance(qfe_data, dict) else None
    cbs_data = results.data("hotfixes.cbs")
    cbs_data = cbs_data if isinstance(cbs_data, dict) else None
    if isinstance(cbs_data, dict) and cbs_data.get("exists") is False:
        # Every Windows since Vista has this key: missing, it says the view is wrong (a redirected
        # 32-bit registry, a broken servicing stack), never that no update is installed.
        results.add_error("hotfixes.cbs", "error", "the Component Based Servicing Packages key was not found; "
                          "updates known only from Win32_QuickFixEngineering")
        cbs_data = None
    if qfe_data is None and cbs_data is None:
        return None
    qfe = []
    for item in _items(qfe_data):
        if isinstance(item, dict):
            qfe.append({"id": item.get("HotFixID"), "description": item.get("Description"),
                        "installed_on": parse_installed_on(item.get("InstalledOn")),
                        "installed_on_raw": item.get("InstalledOn")})
    cbs = []
    for item in _items(cbs_data):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        values = item.get("values")
        state = _int(values.get("CurrentState")) if isinstance(values, dict) else None
        kb_match = _PACKAGE_KB.match(item["name"])
        rollup_match = _PACKAGE_ROLLUP.match(item["name"])
        cbs.append({"name": item["name"], "kb": kb_match.group(1).upper() if kb_match else None,
                    "rollup_build": rollup_match.group(1) if rollup_match else None,
                    "state": state, "state_name": CBS_STATES.get(state, "unknown") if state is not None else None})
    return {
        "qfe": qfe, "qfe_gathered": qfe_data is not None, "qfe_truncated": bool((qfe_data or {}).get("truncated")),
        "cbs": cbs, "cbs_gathered": cbs_data is not None, "cbs_truncated": bool((cbs_data or {}).get("truncated")),
    }


def _certificates(results: _Results) -> dict[str, t.Any] | None:
    stores = results.data("certificates.stores")
    policy = results.values("certificates.policy")
    auto_update = results.values("certificates.auto_update")
    if stores is None and policy is None and auto_update is None:
        return None
    found = disallowed = None
    if isinstance(stores, dict):
        found = {name: bool(stores.get(f"{path}\\{ROOT_CA_SHA1}")) for name, path in ROOT_STORES.items()}
        disallowed = {name: bool(stores.get(f"{path}\\{ROOT_CA_SHA1}")) for name, path in DISALLOWED_STORES.items()}
    # A certificate in a Disallowed store is explicitly distrusted: chains through it fail even when the same
    # certificate is in Root, and automatic root update does not take it out again.
    is_disallowed = any(disallowed.values()) if disallowed is not None else None
    present = (any(found.values()) and not is_disallowed) if found is not None else None
    reason = None
    if is_disallowed:
        stores_named = ", ".join(name for name, hit in disallowed.items() if hit)
        reason = (f"the root certificate is in the Disallowed (untrusted) store ({stores_named}), which overrides "
                  "Root: Windows does not trust it")
    disabled = None
    if policy is not None or auto_update is not None:
        disabled = any(_int((values or {}).get("DisableRootAutoUpdate")) == 1 for values in (policy, auto_update))
        if not disabled and (policy is None or auto_update is None):
            disabled = None
    return {
        "root_ca_sha1": ROOT_CA_SHA1,
        "root_ca_stores": found,
        "disallowed": disallowed,
        "root_ca_disallowed": is_disallowed,
        "root_ca_present": present,
        "root_ca_reason": reason,
        "disable_root_auto_update": disabled,
        "root_dir_url": (auto_update or {}).get("RootDirURL"),
    }


def _reboot(results: _Results) -> dict[str, t.Any] | None:
    keys = results.data("reboot.keys")
    renames = results.values("reboot.file_rename")
    if keys is None and renames is None:
        return None
    flags = {name: (bool(keys.get(path)) if isinstance(keys, dict) else None) for name, path in REBOOT_KEYS.items()}
    flags["pending_file_rename"] = bool(renames.get("PendingFileRenameOperations")) if renames is not None else None
    servicing = [flags[name] for name in REBOOT_KEYS]
    flags["reboot_pending"] = True if any(servicing) else (None if None in servicing else False)
    return flags


def _agents(results: _Results) -> dict[str, t.Any] | None:
    services = results.data("agents.services")
    uninstall_ids = [probe_id for probe_id in results.probes if probe_id.startswith("agents.uninstall")]
    uninstall = [results.data(probe_id) for probe_id in uninstall_ids]
    if services is None and all(item is None for item in uninstall):
        return None
    registry: dict[str, dict[str, t.Any]] = {}
    for probe_id in results.probes:
        if probe_id.startswith("agents.registry."):
            values = results.values(probe_id)
            if values:
                registry[probe_id[len("agents.registry."):]] = values
    # The uninstall probes pick entries by display name, key name and publisher: one entry may come
    # from several of them, once per registry view.
    entries = []
    seen = set()
    for probe_id, data in zip(uninstall_ids, uninstall):
        view = "wow" if probe_id.endswith("_wow") else "native"
        items = data.get("items") if isinstance(data, dict) else None
        for item in items if isinstance(items, list) else []:
            values = item.get("values") if isinstance(item, dict) else None
            if not isinstance(values, dict) or not isinstance(item.get("name"), str) or (view, item["name"]) in seen:
                continue
            seen.add((view, item["name"]))
            entries.append({"key": item["name"], "display_name": values.get("DisplayName"),
                            "display_version": values.get("DisplayVersion"), "publisher": values.get("Publisher")})
    if not isinstance(services, dict):
        services = None     # a malformed answer says nothing about the services
    service_states = {}
    unreadable: dict[str, list[tuple[str, str]]] = {}
    for name, info in (services or {}).items():
        if isinstance(info, dict) and info.get("status_error") is not None:
            # The service exists (its key says so) but its status could not be asked for.
            record = info["status_error"]
            unreadable.setdefault(classify_error(record), []).append((str(name), error_message(record, "status unreadable")))
        service = gathered_service(info)
        if service is not None:
            service_states[name] = service
    for category, failures in unreadable.items():
        failures.sort()
        names = ", ".join(name for name, _message in failures)
        results.add_error("agents.services", category, f"status of {names} not readable: {failures[0][1]}")
    return {"uninstall": entries, "registry": registry, "services": service_states,
            "services_gathered": services is not None,
            "products": products_from_gathered(entries, registry, service_states, services is not None)}


def _esu(results: _Results) -> dict[str, t.Any] | None:
    data = results.data("esu.licenses")
    if data is None:
        return None
    items = data.get("items") if isinstance(data, dict) else None
    licenses = [{"name": item.get("Name"), "id": item.get("ID"), "license_status": _int(item.get("LicenseStatus"))}
                for item in (items if isinstance(items, list) else []) if isinstance(item, dict)]
    # Only LicenseStatus 1 (licensed) proves a licence. No ESU product at all proves nothing: Azure-hosted
    # 2008 R2 and Arc-enabled 2012/2012 R2 receive ESU without a SoftwareLicensingProduct row
    # (https://learn.microsoft.com/en-us/azure/azure-arc/servers/deliver-extended-security-updates).
    # An ESU key that is installed but not licensed (status 0, 2-6) says this host is not licensed by it.
    if any(item["license_status"] == 1 for item in licenses):
        licensed, reason = True, "an ESU licence product is licensed (LicenseStatus 1)"
    elif licenses:
        licensed, reason = False, "an ESU key is installed but not licensed (LicenseStatus is not 1)"
    else:
        licensed, reason = None, ("no ESU licence product found; Azure and Azure Arc deliver ESU without one, "
                                  "so this is unknown: set acs_esu in the inventory")
    return {"licenses": licenses, "licensed": licensed, "reason": reason}


# WinHTTP errors (https://learn.microsoft.com/en-us/windows/win32/winhttp/error-messages) as the HRESULTs
# WinHttpRequest raises: 12002 timeout, 12007 name not resolved, 12017 cancelled, 12029 cannot connect,
# 12030 connection error. A proxy that wants credentials is no error: it answers HTTP 407.
_WINHTTP_ERRORS = {"0x80072EE2": "timed out", "0x80072EE7": "the name could not be resolved",
                   "0x80072EF1": "the request was cancelled", "0x80072EFD": "the connection could not be made",
                   "0x80072EFE": "the connection was ended abnormally"}


def _connectivity(results: _Results) -> dict[str, t.Any] | None:
    """Whether the host's own WinHTTP stack fetched the trusted root CTL's URL."""
    data = results.data("connectivity.ctl")
    if not isinstance(data, dict):
        return None
    status = _int(data.get("status"))
    code = str(data["error_code"]).upper().replace("0X", "0x") if data.get("error_code") else None
    if status is not None and 200 <= status < 400:
        result = "reachable"
    elif status == 407:
        result = "proxy_required"
    else:
        result = "unreachable"
    error = str(data["error"])[:500] if data.get("error") is not None and status is None else None
    detail = f"HTTP {status}" if status is not None else _WINHTTP_ERRORS.get(code or "", error or "no answer")
    return {"url": CTL_URL, "result": result, "status": status, "error_code": code[:12] if code else None,
            "error": error, "detail": f"{detail} ({code[:12]})" if code and status is None else detail}


def build_facts(document: dict[str, t.Any], probes: list[dict[str, t.Any]], subsets: list[str],
                inventory: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
    """ansible_facts.acs from the runner's document; inventory supplies esu/offline the host cannot tell."""
    results = _Results(document, probes)
    os_facts = _os(results)
    hotfixes = _hotfixes(results)
    certificates = _certificates(results)
    reboot = _reboot(results)
    agents = _agents(results)
    esu = _esu(results)
    connectivity = _connectivity(results)
    inventory = inventory or {}

    evidence: dict[str, t.Any] = {
        "os_name": None, "os_version": None, "ubr": None, "installation_type": None, "display_version": None,
        "architecture": None, "kernel_version": None, "hotfixes": None, "rollup_builds": None,
        "pending_rollup_builds": None, "root_ca_present": None, "root_auto_update_disabled": None,
        "offline": inventory.get("offline"), "esu": inventory.get("esu"), "reboot_pending": None, "agents": None,
        "offline_source": "inventory" if inventory.get("offline") is not None else None,
        "root_ca_disallowed": None,
    }
    if os_facts:
        evidence.update(os_name=os_facts["product_name"], os_version=os_facts["version"], ubr=os_facts["ubr"],
                        installation_type=_installation_type(os_facts),
                        display_version=os_facts["display_version"] or os_facts["release_id"],
                        architecture=os_facts["architecture"], kernel_version=os_facts["kernel_version"])
    if hotfixes:
        # Either source alone is partial: QFE lists only CBS-installed updates (by KB), CBS names
        # rollups by build. A denied source leaves the list as far as the other one tells.
        kbs = {normalize_kb(item["id"]) for item in hotfixes["qfe"]}
        kbs |= {item["kb"] for item in hotfixes["cbs"] if item["kb"] and item["state"] in CBS_INSTALLED}
        if hotfixes["qfe_gathered"] or hotfixes["cbs_gathered"]:
            evidence["hotfixes"] = sorted(kb for kb in kbs if kb)
        evidence["rollup_builds"] = sorted({item["rollup_build"] for item in hotfixes["cbs"]
                                            if item["rollup_build"] and item["state"] in CBS_INSTALLED})
        evidence["pending_rollup_builds"] = sorted({item["rollup_build"] for item in hotfixes["cbs"]
                                                    if item["rollup_build"] and item["state"] in CBS_PENDING})
    if certificates:
        evidence["root_ca_present"] = certificates["root_ca_present"]
        evidence["root_ca_disallowed"] = certificates["root_ca_disallowed"]
        evidence["root_auto_update_disabled"] = certificates["disable_root_auto_update"]
    if reboot:
        evidence["reboot_pending"] = reboot["reboot_pending"]
    if agents:
        evidence["agents"] = [{"product": item["product"], "version": item["version"],
                               "service_state": item["service_state"]} for item in agents["products"]]
    if esu and evidence["esu"] is None:
        evidence["esu"] = esu["licensed"]
    # The inventory decides when it says something; otherwise the host's own attempt to fetch the CTL does,
    # unless automatic root update is redirected to an internal RootDirURL (a disconnected environment's own
    # CTL server), where Windows Update's URL says nothing about what the host can fetch.
    if connectivity and certificates and certificates.get("root_dir_url"):
        connectivity["note"] = "automatic root update is redirected to RootDirURL; this probe does not decide offline"
    elif connectivity and evidence["offline"] is None:
        evidence["offline"] = connectivity["result"] != "reachable"
        evidence["offline_source"] = "probe"

    return {
        "schema": FACTS_SCHEMA,
        "gathered_subsets": subsets,
        "runner": {"protocol": document.get("acs_runner"), "powershell": document.get("powershell"),
                   "process_bits": document.get("process_bits"), "language_mode": document.get("language_mode"),
                   "elapsed_ms": document.get("elapsed_ms")},
        "os": os_facts,
        "hotfixes": hotfixes,
        "certificates": certificates,
        "reboot": reboot,
        "agents": agents,
        "esu": esu,
        "connectivity": connectivity,
        "errors": results.errors,
        "evidence": evidence,
    }


def warnings_for(errors: list[dict[str, t.Any]]) -> list[str]:
    """One warning per failed probe, saying what the verdict will make of it."""
    warnings = []
    for error in errors:
        if error["category"] == "denied":
            warnings.append(f"acs_facts: {error['probe']}: permission denied ({error['message']}); that evidence is "
                            "left unknown, not treated as missing")
        elif error["category"] == "timeout":
            warnings.append(f"acs_facts: {error['probe']}: {error['message']} (gather_timeout); that evidence is "
                            "left unknown")
        else:
            warnings.append(f"acs_facts: {error['probe']}: {error['category']}: {error['message']}; that evidence "
                            "is left unknown")
    return warnings
