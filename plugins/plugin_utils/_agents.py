# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Trend Micro agents on the controller: which product an install is, what its service state means,
what the host's readiness means for it, and how a fleet's agents add up per product.

The one place these are decided. The evidence (``_evidence``) calls ``products_from_gathered``; the
verdict calls ``agents_impact``; the summary filter and the report call ``service_down`` and
``aggregate_products``. Facts about the products themselves (services, uninstall key names, notes,
sources) are fields of the catalog's ``TrendProduct`` rows.
"""

from __future__ import annotations

import re
import typing as t

from ansible_collections.codesign.windows.plugins.plugin_utils._catalog import (
    DEFAULT_CATALOG,
    OFFICESCAN_KEY,
    Catalog,
    TrendProduct,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._hostnames import natural_key

# ---------------------------------------------------------------------------------------------
# Service states
# ---------------------------------------------------------------------------------------------
# What the runner reports is [string]$service.Status, a System.ServiceProcess.ServiceControllerStatus
# (https://learn.microsoft.com/dotnet/api/system.serviceprocess.servicecontrollerstatus), lower-cased.
SERVICE_CONTROLLER_STATES = ("running", "stopped", "startpending", "stoppending", "continuepending",
                             "pausepending", "paused")
# What the evidence derives: the service is not installed, or its start type is Disabled while it is stopped.
MISSING = "missing"
DISABLED = "disabled"
UNKNOWN = "unknown"          # a state was reported but is none of the above
SERVICE_STATES = SERVICE_CONTROLLER_STATES + (MISSING, DISABLED, UNKNOWN)
# Down: the agent does not protect the host now and is not on its way to. A service that is starting or
# resuming is on its way; anything stopping, stopped, paused or absent is not.
SERVICE_DOWN_STATES = frozenset(("stopped", "stoppending", "pausepending", "paused", MISSING, DISABLED))
# Spellings older evidence and hand-written inventories use.
_STATE_ALIASES = {"notfound": MISSING, "notinstalled": MISSING, "absent": MISSING}


def normalize_service_state(value: t.Any) -> str | None:
    """One vocabulary: "StopPending", "stop_pending" and "Stop Pending" are all "stoppending".

    None when no state was reported; "unknown" for text that is no known state.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    letters = re.sub("[^a-z]", "", value.lower())
    letters = _STATE_ALIASES.get(letters, letters)
    return letters if letters in SERVICE_STATES else UNKNOWN


def service_down(state: t.Any) -> bool:
    """Whether an agent in this service state leaves the host unprotected now."""
    return normalize_service_state(state) in SERVICE_DOWN_STATES


_SERVICE_START = {0: "boot", 1: "system", 2: "auto", 3: "manual", 4: "disabled"}


def gathered_service(info: t.Any) -> dict[str, t.Any] | None:
    """The runner's record of one service, {exists, status, start}, in this module's words."""
    if not isinstance(info, t.Mapping):
        return None
    start = info.get("start")
    start = start if isinstance(start, int) and not isinstance(start, bool) else None
    status = info.get("status")
    return {
        "exists": info.get("exists") is True,
        "status": normalize_service_state(status) if isinstance(status, str) else None,
        "start": _SERVICE_START.get(start) if start is not None else None,
    }


def product_service_state(service: t.Mapping[str, t.Any] | None) -> str:
    """The state an agent's primary service gives the agent: missing, disabled, or its status."""
    if not service or not service.get("exists"):
        return MISSING
    status = service.get("status")
    if service.get("start") == "disabled" and status in (None, "stopped"):
        return DISABLED
    return status or UNKNOWN


# ---------------------------------------------------------------------------------------------
# Which product an install is
# ---------------------------------------------------------------------------------------------
PRODUCT_IDS = frozenset(product.id for product in DEFAULT_CATALOG.trend_products)


def identify_product(text: t.Any) -> str | None:
    """Map a product name or id as hosts and users write it (English names) to a catalog product id."""
    if not isinstance(text, str):
        return None
    if text.strip().lower() in PRODUCT_IDS:
        return text.strip().lower()
    value = text.strip().lower().replace("-", " ").replace("_", " ")
    if not value:
        return None
    if "deep security" in value or "workload security" in value or value in ("dsa", "ds agent"):
        return "deep_security_agent"
    if "wfbsh" in value or ("worry free" in value and ("service" in value or "saas" in value)):
        return "wfbs_services"
    if "worry free" in value or value in ("wfbs", "wofie"):
        return "wfbs"
    if "officescan" in value:
        return "officescan"
    if "apex one" in value and ("service" in value or "saas" in value):
        return "apex_one_saas"
    if "apex one" in value or value in ("trend micro security agent", "security agent"):
        return "apex_one"
    return None


def _key_candidates(key: t.Any, catalog: Catalog) -> list[str]:
    """Products whose uninstall key (or MSI ProductCode) is this key name, in catalog order."""
    if not isinstance(key, str):
        return []
    name = key.strip().lower()
    return [product.id for product in catalog.trend_products
            if any(name == known.lower() for known in product.uninstall_keys)]


def identify_entry(entry: t.Mapping[str, t.Any], misc_name: t.Any = None,
                   catalog: Catalog = DEFAULT_CATALOG) -> tuple[str | None, str | None]:
    """(product id, what identified it) for one uninstall entry {key, display_name, publisher}.

    The key name does not change with the display language; the English display name and the agent's
    own Misc.\\ProductName tell apart the products that share a key (OfficeScanNT). A localized name
    under a known key is still that product.
    """
    candidates = _key_candidates(entry.get("key"), catalog)
    by_name = identify_product(entry.get("display_name"))
    by_misc = identify_product(misc_name)
    if candidates:
        for named in (by_misc, by_name):
            if named in candidates:
                return named, "uninstall_key"
        return candidates[0], "uninstall_key"
    if by_name is not None:
        # Misc.\ProductName is more precise than a generic "Security Agent" display name in the same hive.
        pccillin = _key_candidates(OFFICESCAN_KEY, catalog)
        if by_name in pccillin and by_misc in pccillin:
            return by_misc, "display_name"
        return by_name, "display_name"
    return None, None


def _registry_value(registry: t.Mapping[str, t.Any], key: str, name: str) -> t.Any:
    for view in ("native", "wow"):
        values = registry.get(f"{view}.{key}")
        value = values.get(name) if isinstance(values, t.Mapping) else None
        if value not in (None, ""):
            return value
    return None


def _text(value: t.Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def products_from_gathered(entries: list[dict[str, t.Any]], registry: t.Mapping[str, t.Any],
                           services: t.Mapping[str, t.Any], services_gathered: bool,
                           catalog: Catalog = DEFAULT_CATALOG) -> list[dict[str, t.Any]]:
    """The Trend agents a host has, from its uninstall entries, Trend's registry keys and its services.

    ``entries``: {key, display_name, display_version, publisher}; ``registry``: "<view>.<trend key>" ->
    values; ``services``: name -> gathered_service(). Each product: product, display_name, version,
    identified_by (uninstall_key, display_name or registry), service, service_state.
    """
    misc_name = _registry_value(registry, "pccillin_misc", "ProductName")
    found: dict[str, dict[str, t.Any]] = {}
    for entry in entries:
        product, identified_by = identify_entry(entry, misc_name, catalog)
        if product and product not in found:
            found[product] = {"product": product, "display_name": _text(entry.get("display_name")),
                              "version": _text(entry.get("display_version")), "identified_by": identified_by}
    if "deep_security_agent" not in found and _registry_value(registry, "deep_security", "InstallationFolder"):
        found["deep_security_agent"] = {"product": "deep_security_agent",
                                        "display_name": "Trend Micro Deep Security Agent",
                                        "version": _text(_registry_value(registry, "deep_security", "Version")),
                                        "identified_by": "registry"}
    # Products that share the OfficeScanNT key also share its registry hive (PC-cillinNTCorp) and Misc. values.
    pccillin = [p.id for p in catalog.trend_products if OFFICESCAN_KEY in p.uninstall_keys]
    if not any(p in found for p in pccillin + ["wfbs"]) and isinstance(misc_name, str):
        product = identify_product(misc_name)
        if product:
            found[product] = {"product": product, "display_name": misc_name,
                              "version": _text(_registry_value(registry, "pccillin_misc", "TmListen_Ver")),
                              "identified_by": "registry"}
    for item in found.values():
        if not item.get("version") and item["product"] in pccillin:
            item["version"] = _text(_registry_value(registry, "pccillin_misc", "TmListen_Ver"))
        if item.get("display_name") is None:
            known = catalog.trend_product(item["product"])
            item["display_name"] = known.name if known else item["product"]
        known = catalog.trend_product(item["product"])
        service = known.primary_service if known else None
        item["service"] = service or None
        item["service_state"] = (product_service_state(services.get(service))
                                 if services_gathered and service else None)
    return list(found.values())


# ---------------------------------------------------------------------------------------------
# What the host's readiness means for an agent
# ---------------------------------------------------------------------------------------------
class HostContext(t.NamedTuple):
    """What the impact of an agent depends on besides the agent: the host's status and OS."""

    status: str
    os_row: str | None = None
    server: bool | None = None


def _version_affected(product: TrendProduct, version: str | None) -> bool | None:
    if product.affected_versions is None:
        return True
    if not product.affected_versions or not version:
        return None
    for listed in product.affected_versions:
        if version == listed or version.startswith(listed + "."):
            return True
    return None


def agent_impact(item: t.Mapping[str, t.Any], catalog: Catalog, host: HostContext) -> dict[str, t.Any]:
    """One agent of a host: is it affected, is it safe to upgrade, and what to do."""
    product_text = item.get("product")
    version = _text(item.get("version"))
    version = version.strip() if version else None
    state = normalize_service_state(item.get("service_state"))
    product_id = identify_product(product_text)
    product = catalog.trend_product(product_id) if product_id else None
    advice: list[str] = []
    affected = _version_affected(product, version) if product else None
    ready = host.status == "ready"
    if product is None:
        advice.append(f"{product_text!r} is not a Trend Micro product named in the ACS advisories")
    else:
        if affected is None:
            advice.append(f"{product.name} {version or ''} is not in Trend's list of affected versions; treat it "
                          "as affected if it receives new agent binaries".replace("  ", " "))
        if service_down(state):
            advice.append(f"The agent service is {state}: the host is not protected now; check it before "
                          "any agent upgrade")
        if ready:
            advice.append("Ready for ACS-signed agent builds")
        elif host.status in ("no_patch_path", "needs_esu"):
            advice.append("This host cannot take ACS-signed agent builds: hold them back - " + product.hold_back)
        elif host.status != "unknown":
            advice.append("Do not upgrade this agent yet: after an ACS-signed update its service would fail to start")
        else:
            advice.append("Readiness unknown: do not upgrade this agent until the host is assessed")
        advice.extend(product.notes_for(host.os_row, host.server, version, ready))
    return {
        "product": product_id or (product_text if isinstance(product_text, str) else None),
        "name": product.name if product else (product_text if isinstance(product_text, str) else None),
        "version": version,
        "service_state": state,
        "service_down": service_down(state),
        "affected": affected,
        "upgrade_safe": bool(ready or (product is not None and affected is False)),
        "advice": advice,
        "source": product.source if product else None,
    }


def agents_impact(raw: t.Any, catalog: Catalog, host: HostContext, reasons: list[str]) -> list[dict[str, t.Any]]:
    """agent_impact for each agent of an evidence record; what cannot be read becomes a reason."""
    if raw is None:
        return []
    if not isinstance(raw, (list, tuple)):
        reasons.append(f"agents was ignored: expected a list, got {type(raw).__name__}")
        return []
    result = []
    for index, item in enumerate(raw):
        if not isinstance(item, t.Mapping):
            reasons.append(f"agents[{index}] was ignored: expected a mapping with product, version, service_state")
            continue
        result.append(agent_impact(item, catalog, host))
    return result


# ---------------------------------------------------------------------------------------------
# Per product, over a fleet
# ---------------------------------------------------------------------------------------------
HOLD_BACK_STATUSES = ("no_patch_path", "needs_esu")


def aggregate_products(hosts: t.Iterable[t.Mapping[str, t.Any]]) -> dict[str, dict[str, t.Any]]:
    """Per Trend product over hosts, each {host, status, agents: [verdict agents]}.

    Returns product id -> {name, total, ready, not_ready, ready_hosts, not_ready_hosts, hold_back_hosts,
    service_down_hosts, versions}. Hosts are counted once per product: a host with two agents of one
    product is ready only when both are. ``versions`` counts agents per version ("unknown" when none).
    """
    products: dict[str, dict[str, t.Any]] = {}
    for record in hosts:
        if not isinstance(record, t.Mapping):
            continue
        host = str(record.get("host"))
        agents = record.get("agents")
        for agent in agents if isinstance(agents, (list, tuple)) else []:
            if not isinstance(agent, t.Mapping):
                continue
            product = _text(agent.get("product")) or "unknown"
            entry = products.setdefault(product, {
                "name": _text(agent.get("name")) or product, "ready_hosts": [], "not_ready_hosts": [],
                "hold_back_hosts": [], "service_down_hosts": [], "versions": {}})
            version = _text(agent.get("version")) or "unknown"
            entry["versions"][version] = entry["versions"].get(version, 0) + 1
            entry["ready_hosts" if agent.get("upgrade_safe") is True else "not_ready_hosts"].append(host)
            if record.get("status") in HOLD_BACK_STATUSES:
                entry["hold_back_hosts"].append(host)
            if service_down(agent.get("service_state")):
                entry["service_down_hosts"].append(host)
    for entry in products.values():
        for key in ("ready_hosts", "not_ready_hosts", "hold_back_hosts", "service_down_hosts"):
            entry[key] = sorted(set(entry[key]), key=natural_key)
        not_ready = set(entry["not_ready_hosts"])
        entry["ready_hosts"] = [host for host in entry["ready_hosts"] if host not in not_ready]
        entry.update(total=len(entry["ready_hosts"]) + len(entry["not_ready_hosts"]), ready=len(entry["ready_hosts"]),
                     not_ready=len(entry["not_ready_hosts"]))
    return dict(sorted(products.items()))
