# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn the probe runner's output into ansible_facts.acs: raw evidence plus the evidence record.

A probe that failed leaves its part of the record null, never "missing": a least-privilege
account that cannot read the CBS store must not make a host look unpatched.
"""

from __future__ import annotations

import json
import re
import typing as t

from ansible_collections.codesign.windows.plugins.plugin_utils._catalog import ROOT_CA_SHA1, normalize_kb
from ansible_collections.codesign.windows.plugins.plugin_utils._probes import (
    CTL_URL,
    DISALLOWED_STORES,
    PROTOCOL,
    REBOOT_KEYS,
    ROOT_STORES,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._agents import gathered_service, products_from_gathered

FACTS_SCHEMA = 1

# CBS package CurrentState values as commonly documented (verify on a real host).
CBS_STATES = {0: "absent", 5: "uninstall_pending", 16: "resolving", 32: "resolved", 48: "staging", 64: "staged",
              80: "superseded", 96: "install_pending", 101: "partially_installed", 112: "installed",
              128: "permanent"}
CBS_INSTALLED = (80, 112, 128)
CBS_PENDING = (96, 101)

_PACKAGE_KB = re.compile(r"^Package_for_(KB\d{6,7})~", re.IGNORECASE)
_PACKAGE_ROLLUP = re.compile(r"^Package_for_RollupFix~[^~]*~[^~]*~[^~]*~(\d+\.\d+(?:\.\d+)*)$", re.IGNORECASE)


class RunnerOutputError(ValueError):
    """The runner's output cannot be used; the message says what was wrong in words an admin reads."""


def _clixml_text(stderr: str) -> str:
    """Keep the readable part of a CLIXML error stream (progress records and tags dropped)."""
    if "#< CLIXML" not in stderr:
        return stderr.strip()
    messages = re.findall(r'<S S="Error">(.*?)</S>', stderr, re.S)
    text = "".join(messages).replace("_x000D__x000A_", "\n")
    text = re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), text)
    return text.strip()


def parse_runner_output(rc: int, stdout: str, stderr: str) -> dict[str, t.Any]:
    """The runner's JSON document; RunnerOutputError for anything else."""
    error_text = _clixml_text(stderr or "")
    lines = [line.strip() for line in (stdout or "").splitlines() if line.strip()]
    document_line = next((line for line in lines if line.startswith('{"acs_runner"')), None)
    if document_line is None:
        if "is not recognized as an internal or external command" in error_text and "powershell" in error_text.lower():
            raise RunnerOutputError("PowerShell is not installed on this host (Windows Server 2008 SP2 has none "
                                    "in-box: install Windows Management Framework 2.0 or later)")
        if rc != 0:
            detail = error_text or (stdout or "").strip() or "no output"
            raise RunnerOutputError(f"the probe script failed (rc={rc}): {detail[:2000]}")
        if not lines:
            suffix = f"; stderr: {error_text[:2000]}" if error_text else ""
            raise RunnerOutputError("the probe script printed nothing" + suffix)
        if stdout.lstrip().startswith("#< CLIXML"):
            raise RunnerOutputError("the probe script printed CLIXML instead of JSON")
        raise RunnerOutputError(f"the probe script's output is not JSON: {lines[0][:200]!r}")
    try:
        document = json.loads(document_line)
    except ValueError as exc:
        raise RunnerOutputError(f"the probe script's output was truncated or garbled ({exc}; "
                                f"{len(document_line)} characters received)") from None
    if not isinstance(document, dict):
        raise RunnerOutputError("the probe script's output is not a JSON object")
    if document.get("acs_runner") != PROTOCOL:
        raise RunnerOutputError(f"the probe script speaks protocol {document.get('acs_runner')!r}, expected {PROTOCOL}")
    missing = [key for key in ("results", "complete") if key not in document]
    if missing:
        raise RunnerOutputError(f"the probe script's output lacks {', '.join(missing)}: it was cut short")
    if not isinstance(document["results"], list) or not all(
            isinstance(item, dict) and isinstance(item.get("id"), str) and isinstance(item.get("ok"), bool)
            for item in document["results"]):
        raise RunnerOutputError("the probe script's results are malformed")
    return document


class _Results:
    """Probe results by id, remembering which ones failed and how."""

    def __init__(self, document: dict[str, t.Any], probes: list[dict[str, t.Any]]):
        self.by_id = {item["id"]: item for item in document["results"]}
        self.probes = {probe["id"]: probe for probe in probes}
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
    if isinstance(value, str) and value.strip().isdigit():
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
    for name, info in (services or {}).items():
        service = gathered_service(info)
        if service is not None:
            service_states[name] = service
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
