# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn the probe runner's output into ansible_facts.acs: raw evidence plus the evidence record.

A probe that failed leaves its part of the record null, never "missing": a least-privilege
account that cannot read the CBS store must not make a host look unpatched.
"""

from __future__ import annotations

import re
import typing as t

from ansible_collections.codesign.windows.plugins.plugin_utils._catalog import ROOT_CA_SHA1, normalize_kb
from ansible_collections.codesign.windows.plugins.plugin_utils._probes import PROTOCOL, REBOOT_KEYS, ROOT_STORES
from ansible_collections.codesign.windows.plugins.plugin_utils._untrusted import (
    MAX_MESSAGE_CHARS,
    MAX_STDOUT_CHARS,
    Bounded,
    UntrustedDataError,
    clean_text,
    clean_token,
    load_json,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._verdict import identify_product

FACTS_SCHEMA = 1

# CBS package CurrentState values as commonly documented (verify on a real host).
CBS_STATES = {0: "absent", 5: "uninstall_pending", 16: "resolving", 32: "resolved", 48: "staging", 64: "staged",
              80: "superseded", 96: "install_pending", 101: "partially_installed", 112: "installed",
              128: "permanent"}
CBS_INSTALLED = (80, 112, 128)
CBS_PENDING = (96, 101)
SERVICE_START = {0: "boot", 1: "system", 2: "auto", 3: "manual", 4: "disabled"}
PRIMARY_SERVICE = {"apex_one": "ntrtscan", "apex_one_saas": "ntrtscan", "officescan": "ntrtscan", "wfbs": "ntrtscan",
                   "wfbs_services": "ntrtscan", "deep_security_agent": "ds_agent"}

_PACKAGE_KB = re.compile(r"^Package_for_(KB\d{6,7})~", re.IGNORECASE)
_PACKAGE_ROLLUP = re.compile(r"^Package_for_RollupFix~[^~]*~[^~]*~[^~]*~(\d+\.\d+(?:\.\d+)*)$", re.IGNORECASE)


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
    # Regular expressions rather than splitlines(): a host may send millions of empty lines.
    found = _DOCUMENT_LINE.search(stdout)
    document_line = found.group(1).rstrip() if found else None
    first_line = _FIRST_TEXT.search(stdout)
    if document_line is None:
        if "is not recognized as an internal or external command" in error_text and "powershell" in error_text.lower():
            raise RunnerOutputError("PowerShell is not installed on this host (Windows Server 2008 SP2 has none "
                                    "in-box: install Windows Management Framework 2.0 or later)")
        if rc != 0:
            detail = error_text or clean_text(stdout.strip(), 2000) or "no output"
            raise RunnerOutputError(f"the probe script failed (rc={clean_text(rc, 20)}): {detail}")
        if first_line is None:
            suffix = f"; stderr: {error_text}" if error_text else ""
            raise RunnerOutputError("the probe script printed nothing" + suffix)
        if stdout.lstrip().startswith("#< CLIXML"):
            raise RunnerOutputError("the probe script printed CLIXML instead of JSON")
        raise RunnerOutputError(f"the probe script's output is not JSON: {clean_text(first_line.group(), 200)!r}")
    try:
        document = load_json(document_line)
    except UntrustedDataError as exc:
        raise RunnerOutputError(f"the probe script's output cannot be used: {exc}") from None
    except (ValueError, RecursionError) as exc:
        raise RunnerOutputError(f"the probe script's output was truncated or garbled ({clean_text(exc, 200)}; "
                                f"{len(document_line)} characters received)") from None
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
    for key, kind in (("powershell", str), ("elapsed_ms", int)):
        value = document.get(key)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            document[key] = None
    if isinstance(document.get("powershell"), str):
        document["powershell"] = document["powershell"][:40]
    return document


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
                self.errors.append({"probe": probe_id, "subset": self.probes[probe_id]["subset"],
                                    "category": str(item.get("category") or "error"),
                                    "message": str(item.get("error") or "")})

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


def _hotfixes(results: _Results) -> dict[str, t.Any] | None:
    qfe_data = results.data("hotfixes.qfe")
    cbs_data = results.data("hotfixes.cbs")
    if qfe_data is None and cbs_data is None:
        return None
    qfe = []
    for item in (qfe_data or {}).get("items") or []:
        if isinstance(item, dict):
            qfe.append({"id": item.get("HotFixID"), "description": item.get("Description"),
                        "installed_on": item.get("InstalledOn")})
    cbs = []
    for item in (cbs_data or {}).get("items") or []:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        state = _int((item.get("values") or {}).get("CurrentState"))
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
    found = None
    if isinstance(stores, dict):
        found = {name: bool(stores.get(f"{path}\\{ROOT_CA_SHA1}")) for name, path in ROOT_STORES.items()}
    disabled = None
    if policy is not None or auto_update is not None:
        disabled = any(_int((values or {}).get("DisableRootAutoUpdate")) == 1 for values in (policy, auto_update))
        if not disabled and (policy is None or auto_update is None):
            disabled = None
    return {
        "root_ca_sha1": ROOT_CA_SHA1,
        "root_ca_stores": found,
        "root_ca_present": any(found.values()) if found is not None else None,
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
    servicing = [flags["cbs_reboot_pending"], flags["wu_reboot_required"]]
    flags["reboot_pending"] = True if any(servicing) else (None if None in servicing else False)
    return flags


def _agents(results: _Results) -> dict[str, t.Any] | None:
    services = results.data("agents.services")
    uninstall = [results.data("agents.uninstall"), results.data("agents.uninstall_wow")]
    if services is None and all(item is None for item in uninstall):
        return None
    registry: dict[str, dict[str, t.Any]] = {}
    for probe_id in results.probes:
        if probe_id.startswith("agents.registry."):
            values = results.values(probe_id)
            if values:
                registry[probe_id[len("agents.registry."):]] = values
    entries = []
    for data in uninstall:
        for item in (data or {}).get("items") or []:
            values = item.get("values") if isinstance(item, dict) else None
            if isinstance(values, dict) and isinstance(values.get("DisplayName"), str):
                entries.append({"key": item.get("name"), "display_name": values["DisplayName"],
                                "display_version": values.get("DisplayVersion"), "publisher": values.get("Publisher")})
    service_states = {}
    for name, info in (services or {}).items():
        if isinstance(info, dict):
            service_states[name] = {
                "exists": bool(info.get("exists")),
                "status": str(info["status"]).lower() if info.get("status") else None,
                "start": SERVICE_START.get(_int(info.get("start")), None) if info.get("start") is not None else None,
            }
    return {"uninstall": entries, "registry": registry, "services": service_states,
            "services_gathered": services is not None,
            "products": _products(entries, registry, service_states, services is not None)}


def _registry_value(registry: dict[str, dict[str, t.Any]], key: str, name: str) -> t.Any:
    for view in ("native", "wow"):
        value = (registry.get(f"{view}.{key}") or {}).get(name)
        if value not in (None, ""):
            return value
    return None


def _products(entries: list[dict[str, t.Any]], registry: dict[str, dict[str, t.Any]],
              services: dict[str, dict[str, t.Any]], services_gathered: bool) -> list[dict[str, t.Any]]:
    misc_name = _registry_value(registry, "pccillin_misc", "ProductName")
    found: dict[str, dict[str, t.Any]] = {}
    for entry in entries:
        product = identify_product(entry["display_name"])
        if product in ("apex_one", "officescan") and isinstance(misc_name, str):
            product = identify_product(misc_name) or product
        if product and product not in found:
            found[product] = {"product": product, "display_name": entry["display_name"],
                              "version": entry.get("display_version")}
    if "deep_security_agent" not in found and _registry_value(registry, "deep_security", "InstallationFolder"):
        found["deep_security_agent"] = {"product": "deep_security_agent", "display_name": "Trend Micro Deep Security Agent",
                                        "version": _registry_value(registry, "deep_security", "Version")}
    if not any(p in found for p in ("apex_one", "officescan", "wfbs", "wfbs_services")) and isinstance(misc_name, str):
        product = identify_product(misc_name)
        if product:
            found[product] = {"product": product, "display_name": misc_name,
                              "version": _registry_value(registry, "pccillin_misc", "TmListen_Ver")}
    for item in found.values():
        if not item.get("version") and item["product"] in ("apex_one", "officescan", "wfbs_services"):
            item["version"] = _registry_value(registry, "pccillin_misc", "TmListen_Ver")
        service = PRIMARY_SERVICE.get(item["product"])
        state = None
        if services_gathered and service:
            info = services.get(service) or {}
            state = (info.get("status") or "unknown") if info.get("exists") else "missing"
        item["service"] = service
        item["service_state"] = state
    return list(found.values())


def _esu(results: _Results) -> dict[str, t.Any] | None:
    data = results.data("esu.licenses")
    if data is None:
        return None
    licenses = [{"name": item.get("Name"), "id": item.get("ID"), "license_status": _int(item.get("LicenseStatus"))}
                for item in data.get("items") or [] if isinstance(item, dict)]
    return {"licenses": licenses, "licensed": any(item["license_status"] == 1 for item in licenses)}


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
    inventory = inventory or {}

    evidence: dict[str, t.Any] = {
        "os_name": None, "os_version": None, "ubr": None, "installation_type": None, "display_version": None,
        "architecture": None, "kernel_version": None, "hotfixes": None, "rollup_builds": None,
        "pending_rollup_builds": None, "root_ca_present": None, "root_auto_update_disabled": None,
        "offline": inventory.get("offline"), "esu": inventory.get("esu"), "reboot_pending": None, "agents": None,
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
        evidence["root_auto_update_disabled"] = certificates["disable_root_auto_update"]
    if reboot:
        evidence["reboot_pending"] = reboot["reboot_pending"]
    if agents:
        evidence["agents"] = [{"product": item["product"], "version": item["version"],
                               "service_state": item["service_state"]} for item in agents["products"]]
    if esu and evidence["esu"] is None:
        evidence["esu"] = esu["licensed"]

    return {
        "schema": FACTS_SCHEMA,
        "gathered_subsets": subsets,
        "runner": {"protocol": document.get("acs_runner"), "powershell": document.get("powershell"),
                   "elapsed_ms": document.get("elapsed_ms")},
        "os": os_facts,
        "hotfixes": hotfixes,
        "certificates": certificates,
        "reboot": reboot,
        "agents": agents,
        "esu": esu,
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
