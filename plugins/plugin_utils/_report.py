# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fleet readiness reports: host records in, one document out, written as JSON, CSV, HTML and Markdown.

The JSON document is a user contract (docs/report-schema.md). Host records come from hostvars
and may have been edited by hand, so every field is read defensively: odd types are shown as
text or left out, never a traceback. Only a record without a host name is refused, because
without a name a host cannot be reported, merged or upgraded.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import hashlib
import html
import io
import json
import math
import os
import re
import tempfile
import typing as t
from collections.abc import Mapping

from ansible_collections.codesign.windows.plugins.plugin_utils._summary import HOST_ERROR_STATUSES, summarize
from ansible_collections.codesign.windows.plugins.plugin_utils._verdict import CATALOG_SEARCH, STATUSES

REPORT_SCHEMA_VERSION = 1
FORMATS = ("json", "csv", "html", "md")
DEFAULT_BASENAME = "acs-readiness"

# Hosts that gave no verdict come first: nobody knows what an ACS-signed build would do to them.
STATUS_ORDER = HOST_ERROR_STATUSES + STATUSES
HOLD_BACK_STATUSES = ("no_patch_path", "needs_esu")
NOT_ASSESSED_STATUSES = HOST_ERROR_STATUSES
# A stopped or vanished agent leaves the host unprotected today, whatever its ACS readiness.
SERVICE_DOWN_STATES = frozenset(("stopped", "missing", "notfound", "disabled", "stoppending", "paused", "pausepending"))

# Plain words for a manager, the meaning, and the colour of each status.
STATUS_TEXT: dict[str, tuple[str, str, str]] = {
    "unreachable": ("Unreachable", "Ansible could not connect to the host, so it was not checked.", "#6e40c9"),
    "failed": ("Check failed", "Ansible reached the host but the check did not finish; see the error.", "#8250df"),
    "unknown": ("Cannot tell", "The host answered, but its Windows version or updates could not be judged.", "#57606a"),
    "no_patch_path": ("Cannot be patched",
                      "No Windows update adds ACS support to this Windows version: the OS must be upgraded. "
                      "Keep ACS-signed agent builds away from it.", "#a40e26"),
    "needs_esu": ("Cannot be patched (no ESU)",
                  "The fix is published only for Extended Security Updates customers; this host is not licensed and "
                  "ESU can no longer be bought. Upgrade the OS; keep ACS-signed agent builds away from it.", "#cf222e"),
    "reboot_pending": ("Restart needed", "The update is installed but takes effect only after a restart.", "#0969da"),
    "needs_kb_and_root_ca": ("Needs update and certificate",
                             "Install the Windows update and import the Microsoft root certificate.", "#bc4c00"),
    "needs_kb": ("Needs update", "Install the Windows update named in the details, restart, and check again.", "#d4a72c"),
    "needs_root_ca": ("Needs certificate",
                      "Import the Microsoft Identity Verification Root CA 2020: this host cannot fetch it by itself.",
                      "#e16f24"),
    "ready": ("Ready", "The host can take ACS-signed Trend Micro agent builds.", "#1a7f37"),
}
GATE_TEXT = {"allow": "Allowed", "block": "Blocked", "warn": "Allowed, warned", "skip": "Not checked"}
KB_KIND_TEXT = {"monthly_rollup": "monthly rollup", "security_only": "security-only update",
                "cumulative_update": "cumulative update"}
CSV_COLUMNS = ("host", "status", "status_text", "ready", "gate_mode", "gate_decision", "gate_reason", "os", "os_version",
               "required_kb", "kb_titles", "kb_urls", "missing_prerequisites", "satisfied_by", "root_ca_needed",
               "reboot_pending", "esu", "agents", "agent_service_down", "agent_upgrade_safe", "reasons", "actions",
               "warnings", "error", "gathered_at")
# Spreadsheets run a cell that starts with one of these as a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_DIGITS = re.compile("([0-9]+)")
_SAFE_URL = re.compile(r"^https?://[^\s\"'<>`\\]+$", re.IGNORECASE)
_KB = re.compile(r"^KB[0-9]{6,7}$")
_MAX_DEPTH = 64
_NEXT_STEP_CHARS = 140
_PAGE_SIZE = 250
_UNFOLDED_LIST = 40


# ---------------------------------------------------------------------------------------------
# Plain data


def _clean(text: str) -> str:
    if text.isascii():
        return str(text)
    # Undecodable bytes reach Python as lone surrogates, which no UTF-8 file can hold.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return str(text)


def _plain(value: t.Any, depth: int = 0) -> t.Any:
    """The value as JSON data (str keys, no NaN, no sets or bytes), whatever hostvars held."""
    kind = type(value)
    if kind is str:
        return _clean(value)
    if value is None or kind is bool or kind is int:
        return value
    if depth > _MAX_DEPTH:
        return _clean(str(value))
    if kind is dict:
        return {_clean(str(key)): _plain(item, depth + 1) for key, item in value.items()}
    if kind is list:
        return [_plain(item, depth + 1) for item in value]
    # Subclasses (Ansible's tagged and unsafe values among them) take the slower, general path.
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "backslashreplace")
    if isinstance(value, Mapping):
        return {_clean(str(key)): _plain(item, depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item, depth + 1) for item in value]
    if isinstance(value, (set, frozenset)):
        items = [_plain(item, depth + 1) for item in value]
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    return _clean(str(value))


def _text(value: t.Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(item) for item in value)
    return str(value)


def _opt_text(value: t.Any) -> str | None:
    return None if value is None else _text(value)


def _texts(value: t.Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [text for text in (_text(item) for item in value if item is not None) if text]
    text = _text(value)
    return [text] if text else []


def _mapping(value: t.Any) -> t.Mapping[str, t.Any]:
    return value if isinstance(value, Mapping) else {}


def _flag(value: t.Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "yes", "on", "1"):
            return True
        if lowered in ("false", "no", "off", "0"):
            return False
    return None


def _natural(name: str) -> tuple:
    """Sort key: web2 before web10, case-insensitive, ties broken by the exact name."""
    parts = tuple((0, int(part), "") if part.isdigit() else (1, 0, part.casefold())
                  for part in _DIGITS.split(name) if part)
    return parts, name


def _safe_url(value: t.Any) -> str | None:
    # Only web links: a hand-edited catalog must not turn a link into javascript: or file:.
    if isinstance(value, str) and _SAFE_URL.match(value.strip()):
        return value.strip()
    return None


def _unique(items: t.Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


# ---------------------------------------------------------------------------------------------
# Host records


def _host_name(index: int, record: t.Any) -> str:
    if not isinstance(record, Mapping):
        raise ValueError(f"host record {index} is not a mapping (got {type(record).__name__})")
    host = record.get("host")
    if not isinstance(host, str) or not host.strip():
        raise ValueError(f"host record {index} has no host name: 'host' must be a non-empty string, got {host!r:.80}")
    return _clean(host)


def _status_of(record: t.Mapping[str, t.Any]) -> str:
    status = record.get("status")
    if isinstance(status, str) and status in STATUS_ORDER:
        return status
    verdict_status = _mapping(record.get("verdict")).get("status")
    if isinstance(verdict_status, str) and verdict_status in STATUSES:
        return verdict_status
    return "failed" if record.get("error") else "unknown"


def normalize_record(index: int, record: t.Any) -> dict[str, t.Any]:
    """One host record as plain data with every documented key present; ValueError without a host name."""
    host = _host_name(index, record)
    clean = _plain(record)
    notes = []
    status = _status_of(clean)
    if clean.get("status") is None:
        notes.append(f"acs_report: the record has no status; reported as {status}")
    elif clean.get("status") != status:
        notes.append(f"acs_report: status {clean.get('status')!r:.60} is not a known status; reported as {status}")
    for key in ("verdict", "evidence"):
        if clean.get(key) is not None and not isinstance(clean.get(key), dict):
            notes.append(f"acs_report: the {key} is not a mapping and was left out")
            clean[key] = None
    gate = dict(_mapping(clean.get("gate")))
    for key in ("mode", "decision", "reason"):
        gate[key] = _opt_text(gate.get(key))
    clean.update({
        "host": host,
        "status": status,
        "error": _opt_text(clean.get("error")),
        "verdict": clean.get("verdict"),
        "evidence": clean.get("evidence"),
        "warnings": _texts(clean.get("warnings")) + notes,
        "gate": gate,
        "gathered_at": _opt_text(clean.get("gathered_at")),
    })
    return clean


def _service_down(state: str | None) -> bool:
    return bool(state) and re.sub("[^a-z]", "", state.lower()) in SERVICE_DOWN_STATES


def _short_product_name(name: str) -> str:
    # "Trend Micro Deep Security Agent / Cloud One Workload Security" does not fit a table cell.
    short = name[len("Trend Micro "):] if name.startswith("Trend Micro ") else name
    return short.split(" / ")[0].strip() or name


def _agents(verdict: t.Mapping[str, t.Any], evidence: t.Mapping[str, t.Any]) -> list[dict[str, t.Any]]:
    items = verdict.get("agents")
    if not isinstance(items, list) or not items:
        # Without a verdict the evidence still shows a stopped agent service.
        items = evidence.get("agents") if isinstance(evidence.get("agents"), list) else []
    agents = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        product = _text(item.get("product")) or "unknown"
        state = item.get("service_state")
        state = state.strip().lower() if isinstance(state, str) and state.strip() else None
        name = _text(item.get("name")) or product
        agents.append({
            "product": product,
            "name": name,
            "label": _short_product_name(name),
            "version": _text(item.get("version")),
            "service_state": state,
            "service_down": _service_down(state),
            "upgrade_safe": item.get("upgrade_safe") is True,
            "affected": _flag(item.get("affected")),
            "advice": _texts(item.get("advice")),
        })
    return agents


def _kb_details(verdict: t.Mapping[str, t.Any]) -> list[dict[str, t.Any]]:
    details = []
    for item in verdict.get("kb_details") if isinstance(verdict.get("kb_details"), list) else []:
        if isinstance(item, Mapping) and _text(item.get("kb")):
            details.append({"kb": _text(item.get("kb")), "kind": _text(item.get("kind")),
                            "title": _text(item.get("title")), "architecture": _text(item.get("architecture")),
                            "released": _text(item.get("released")), "url": _safe_url(item.get("url"))})
    if not details:
        for kb in _texts(verdict.get("required_kb")):
            details.append({"kb": kb, "kind": "", "title": "", "architecture": "", "released": "",
                            "url": CATALOG_SEARCH + kb if _KB.match(kb) else None})
    return details


def host_view(index: int, record: t.Any) -> dict[str, t.Any]:
    """What every writer shows about one host, read defensively from its record."""
    host = _host_name(index, record)
    status = _status_of(record)
    verdict = _mapping(record.get("verdict"))
    evidence = _mapping(record.get("evidence"))
    os_info = _mapping(verdict.get("os"))
    gate = _mapping(record.get("gate"))
    root_ca = _mapping(verdict.get("root_ca"))
    agents = _agents(verdict, evidence)
    kb_details = _kb_details(verdict)
    reasons = _texts(verdict.get("reasons"))
    actions = _texts(verdict.get("actions"))
    error = _text(record.get("error"))
    if actions:
        next_step = actions[0]
    elif error:
        next_step = error.strip().splitlines()[0] if error.strip() else ""
    else:
        next_step = ""
    return {
        "host": host,
        "status": status,
        "status_text": STATUS_TEXT[status][0],
        "ready": status == "ready",
        "gate_mode": _text(gate.get("mode")),
        "gate_decision": _text(gate.get("decision")),
        "gate_reason": _text(gate.get("reason")),
        "os": _text(os_info.get("name")) or _text(evidence.get("os_name")),
        "os_version": _text(os_info.get("version")) or _text(evidence.get("os_version")),
        "required_kb": [item["kb"] for item in kb_details] or _texts(verdict.get("required_kb")),
        "kb_details": kb_details,
        "prerequisites": _texts(verdict.get("prerequisites")),
        "missing_prerequisites": _texts(verdict.get("missing_prerequisites")),
        "satisfied_by": _text(verdict.get("satisfied_by")),
        "root_ca_present": _flag(root_ca.get("present")),
        "root_ca_can_fetch": _flag(root_ca.get("can_fetch")),
        "root_ca_needed": _flag(root_ca.get("needed")),
        "reboot_pending": _flag(verdict.get("reboot_pending")),
        "esu": _flag(verdict.get("esu")),
        "agents": agents,
        "service_down": any(agent["service_down"] for agent in agents),
        "reasons": reasons,
        "actions": actions,
        "warnings": _texts(record.get("warnings")),
        "error": error,
        "gathered_at": _text(record.get("gathered_at")),
        "next_step": next_step,
        "attention": status != "ready" or any(agent["service_down"] for agent in agents),
    }


def _order_key(view: dict[str, t.Any]) -> tuple:
    return (0 if view["service_down"] else 1, STATUS_ORDER.index(view["status"]), _natural(view["host"]))


def _host_views(document: t.Any) -> list[dict[str, t.Any]]:
    if not isinstance(document, Mapping):
        raise ValueError(f"a report document is a mapping, got {type(document).__name__}")
    hosts = document.get("hosts")
    if hosts is None:
        return []
    if not isinstance(hosts, (list, tuple)):
        raise ValueError(f"the document's hosts must be a list, got {type(hosts).__name__}")
    return [host_view(index, record) for index, record in enumerate(hosts)]


# ---------------------------------------------------------------------------------------------
# The document


def _same_run(previous: t.Any, run: t.Mapping[str, t.Any]) -> bool:
    if not isinstance(previous, Mapping) or previous.get("schema_version") != REPORT_SCHEMA_VERSION:
        return False
    run_id = run.get("run_id")
    return isinstance(run_id, str) and bool(run_id) and _mapping(previous.get("run")).get("run_id") == run_id


def _summary(records: list[dict[str, t.Any]], views: list[dict[str, t.Any]]) -> dict[str, t.Any]:
    verdicts = []
    for record in records:
        verdict = dict(record["verdict"] or {})
        verdict.update(host=record["host"], status=record["status"])
        verdicts.append(verdict)
    summary = summarize(verdicts)
    for status in STATUS_ORDER:
        summary["by_status"].setdefault(status, 0)
    summary["unreachable"] = summary["by_status"]["unreachable"]
    summary["failed"] = summary["by_status"]["failed"]
    summary["assessed"] = summary["total"] - summary["unreachable"] - summary["failed"]
    summary["hold_back"] = sum(summary["by_status"][status] for status in HOLD_BACK_STATUSES)
    summary["not_assessed_hosts"] = sorted((view["host"] for view in views if view["status"] in NOT_ASSESSED_STATUSES),
                                           key=_natural)
    summary["service_down_hosts"] = sorted((view["host"] for view in views if view["service_down"]), key=_natural)
    return summary


def _products(views: list[dict[str, t.Any]]) -> dict[str, dict[str, t.Any]]:
    products: dict[str, dict[str, t.Any]] = {}
    for view in views:
        for agent in view["agents"]:
            entry = products.setdefault(agent["product"], {
                "name": agent["name"], "ready_hosts": [], "not_ready_hosts": [], "hold_back_hosts": [],
                "service_down_hosts": [], "versions": {}})
            version = agent["version"] or "unknown"
            entry["versions"][version] = entry["versions"].get(version, 0) + 1
            entry["ready_hosts" if agent["upgrade_safe"] else "not_ready_hosts"].append(view["host"])
            if view["status"] in HOLD_BACK_STATUSES:
                entry["hold_back_hosts"].append(view["host"])
            if agent["service_down"]:
                entry["service_down_hosts"].append(view["host"])
    for entry in products.values():
        for key in ("ready_hosts", "not_ready_hosts", "hold_back_hosts", "service_down_hosts"):
            entry[key] = sorted(set(entry[key]), key=_natural)
        # A host with two agents of one product must not be both ready and not ready.
        not_ready = set(entry["not_ready_hosts"])
        entry["ready_hosts"] = [host for host in entry["ready_hosts"] if host not in not_ready]
        entry.update(total=len(entry["ready_hosts"]) + len(entry["not_ready_hosts"]), ready=len(entry["ready_hosts"]),
                     not_ready=len(entry["not_ready_hosts"]))
    return dict(sorted(products.items()))


def _hold_back(views: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    entries = []
    for view in views:
        if view["status"] not in HOLD_BACK_STATUSES:
            continue
        entries.append({
            "host": view["host"],
            "status": view["status"],
            "os": view["os"] or None,
            "os_version": view["os_version"] or None,
            "agents": [{"product": agent["product"], "name": agent["name"], "version": agent["version"] or None,
                        "service_state": agent["service_state"]} for agent in view["agents"]],
            "advice": _unique(advice for agent in view["agents"] for advice in agent["advice"]),
            "actions": view["actions"],
        })
    return sorted(entries, key=lambda entry: _natural(entry["host"]))


def build_document(records: t.Any, run: t.Any, previous: t.Any = None) -> dict[str, t.Any]:
    """The report document for ``records``; the hosts of ``previous`` are kept when it is the same run.

    Ansible ``serial`` batches write the report once per batch: the same ``run_id`` adds the batch's
    hosts to the previous document (a host seen again is replaced), another run id starts afresh.
    """
    if isinstance(records, (str, bytes)) or not isinstance(records, (list, tuple)):
        raise ValueError(f"records must be a list of host records, got {type(records).__name__}")
    if not isinstance(run, Mapping):
        raise ValueError(f"run must be a mapping with run_id and generated_at, got {type(run).__name__}")
    run_info = _plain(run)
    by_host: dict[str, dict[str, t.Any]] = {}
    if _same_run(previous, run_info) and isinstance(previous.get("hosts"), list):
        for index, record in enumerate(previous["hosts"]):
            try:
                kept = normalize_record(index, record)
            except ValueError:
                continue  # a hand-damaged entry of an earlier batch must not stop this batch's report
            by_host[kept["host"]] = kept
    for index, record in enumerate(records):
        fresh = normalize_record(index, record)
        by_host[fresh["host"]] = fresh
    pairs = sorted(((host_view(0, record), record) for record in by_host.values()), key=lambda pair: _order_key(pair[0]))
    views = [view for view, _record in pairs]
    hosts = [record for _view, record in pairs]
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "run": run_info,
        "summary": _summary(hosts, views),
        "products": _products(views),
        "hold_back": _hold_back(views),
        "hosts": hosts,
    }


# ---------------------------------------------------------------------------------------------
# JSON

_TOP_LEVEL = ("schema_version", "run", "summary", "products", "hold_back", "hosts")


def render_json(document: t.Any) -> str:
    """The document as JSON: schema_version first, every other key sorted, so equal documents give equal bytes."""
    if not isinstance(document, Mapping):
        raise ValueError(f"a report document is a mapping, got {type(document).__name__}")
    try:
        return _json_text(document)
    except (TypeError, ValueError):
        return _json_text(_plain(document))


def _json_text(document: t.Mapping[str, t.Any]) -> str:
    keys = [key for key in _TOP_LEVEL if key in document]
    keys += sorted(key for key in document if key not in _TOP_LEVEL)
    # Each top-level value is dumped on its own so that the schema version opens the file.
    parts = []
    for key in keys:
        value = json.dumps(document[key], sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
        parts.append(f"  {json.dumps(key)}: " + value.replace("\n", "\n  "))
    return "{\n" + ",\n".join(parts) + "\n}\n"


# ---------------------------------------------------------------------------------------------
# CSV


def _cell(value: t.Any) -> str:
    text = _clean(_text(value))
    return "'" + text if text.startswith(_FORMULA_START) else text


def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


def csv_row(view: dict[str, t.Any]) -> dict[str, str]:
    agents = view["agents"]
    safe = {agent["upgrade_safe"] for agent in agents}
    if len(safe) == 1:
        upgrade_safe = _yes_no(safe.pop())
    else:
        upgrade_safe = "; ".join(f"{agent['product']}: {_yes_no(agent['upgrade_safe'])}" for agent in agents)
    row = {
        "host": view["host"],
        "status": view["status"],
        "status_text": view["status_text"],
        "ready": _yes_no(view["ready"]),
        "gate_mode": view["gate_mode"],
        "gate_decision": view["gate_decision"],
        "gate_reason": view["gate_reason"],
        "os": view["os"],
        "os_version": view["os_version"],
        "required_kb": "; ".join(view["required_kb"]),
        "kb_titles": "\n".join(item["title"] for item in view["kb_details"] if item["title"]),
        "kb_urls": "\n".join(item["url"] for item in view["kb_details"] if item["url"]),
        "missing_prerequisites": "; ".join(view["missing_prerequisites"]),
        "satisfied_by": view["satisfied_by"],
        "root_ca_needed": _yes_no(view["root_ca_needed"]),
        "reboot_pending": _yes_no(view["reboot_pending"]),
        "esu": _yes_no(view["esu"]),
        "agents": "; ".join(" ".join(part for part in (agent["product"], agent["version"], agent["service_state"] or "")
                                     if part) for agent in agents),
        "agent_service_down": _yes_no(view["service_down"]) if agents else "",
        "agent_upgrade_safe": upgrade_safe,
        "reasons": "\n".join(view["reasons"]),
        "actions": "\n".join(view["actions"]),
        "warnings": "\n".join(view["warnings"]),
        "error": view["error"],
        "gathered_at": view["gathered_at"],
    }
    return {key: _cell(value) for key, value in row.items()}


def render_csv(document: t.Any) -> str:
    """One row per host, in the document's order; starts with a UTF-8 byte order mark for Excel."""
    buffer = io.StringIO()
    # Excel reads a CSV without a byte order mark in the local ANSI code page and garbles
    # non-ASCII names; LibreOffice and Python's utf-8-sig codec read the mark correctly.
    buffer.write("\ufeff")
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writeheader()
    for view in _host_views(document):
        writer.writerow(csv_row(view))
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------
# Display text for people (HTML, Markdown)


def _display(value: t.Any) -> str:
    """Text with control characters made visible: a host's error must not drive a terminal or the page."""
    text = _clean(_text(value))
    if _CONTROL.search(text):
        text = _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)
    return text


def _e(value: t.Any) -> str:
    return html.escape(_display(value), quote=True)


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "\u2026"


def _counts(views: list[dict[str, t.Any]]) -> dict[str, int]:
    by_status = {status: 0 for status in STATUS_ORDER}
    for view in views:
        by_status[view["status"]] += 1
    return {
        "total": len(views),
        "ready": by_status["ready"],
        "hold_back": sum(by_status[status] for status in HOLD_BACK_STATUSES),
        "not_assessed": sum(by_status[status] for status in NOT_ASSESSED_STATUSES),
        "needs_action": sum(count for status, count in by_status.items()
                            if status not in HOLD_BACK_STATUSES + NOT_ASSESSED_STATUSES + ("ready",)),
        "service_down": sum(1 for view in views if view["service_down"]),
        **{f"status:{status}": count for status, count in by_status.items()},
    }


def _agent_text(agent: dict[str, t.Any]) -> str:
    return " ".join(part for part in (agent["label"], agent["version"]) if part)


def _service_text(agents: list[dict[str, t.Any]]) -> str:
    states = _unique((agent["service_state"] or "unknown").replace("_", " ") for agent in agents)
    return ", ".join(state.capitalize() for state in states)


def _kb_text(view: dict[str, t.Any]) -> str:
    return " or ".join(view["required_kb"])


def _run_rows(run: t.Mapping[str, t.Any], total: int) -> list[tuple[str, str]]:
    rows = [("Run", _text(run.get("run_id"))), ("Generated (UTC)", _text(run.get("generated_at"))),
            ("Hosts", str(total)), ("Upgrade gate mode", _text(run.get("gate_mode"))),
            ("Windows 10 21H2 policy", _text(run.get("policy_21h2"))),
            ("KB catalog version", _text(run.get("catalog_version"))),
            ("codesign.windows version", _text(run.get("collection_version"))),
            ("Playbook", _text(run.get("playbook"))), ("AWX job", _text(run.get("awx_job_id")))]
    return [(label, value) for label, value in rows if value]


def _package_lines(run: t.Mapping[str, t.Any]) -> list[str]:
    package = run.get("agent_package")
    if not isinstance(package, Mapping):
        return []
    reasons = _texts(package.get("reasons"))
    lines = [f"Agent package {_text(package.get('path'))}: {_text(package.get('verdict')) or 'not inspected'}"]
    if reasons:
        lines.append(reasons[0])
    return lines


# ---------------------------------------------------------------------------------------------
# HTML

_CSS_RULES = """
:root{color-scheme:light;--line:#d0d7de;--muted:#57606a;--bg:#f6f8fa}
*{box-sizing:border-box}
[hidden]{display:none!important}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1f2328;background:var(--bg)}
header{background:#24292f;color:#fff;padding:18px 24px}
header h1{margin:0 0 4px;font-size:22px}
header p{margin:0;color:#d0d7de}
main{padding:0 24px 40px;max-width:1600px}
section{background:#fff;border:1px solid var(--line);border-radius:8px;margin:18px 0;padding:16px 20px}
h2{font-size:18px;margin:0 0 10px}
h3{font-size:15px;margin:14px 0 6px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:0;padding:0;list-style:none}
.cards li{border:1px solid var(--line);border-radius:8px;padding:10px 14px;min-width:150px;background:#fff}
.cards b{display:block;font-size:26px;line-height:1.1}
.cards .ok b{color:#1a7f37}.cards .bad b{color:#a40e26}.cards .warn b{color:#9a6700}.cards .grey b{color:#6e40c9}
dl.run{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:12px 0 0}
dl.run dt{color:var(--muted)}dl.run dd{margin:0;overflow-wrap:anywhere}
.package{margin:10px 0 0;padding:8px 12px;border-left:4px solid #0969da;background:#ddf4ff}
.chart-wrap{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
svg.chart{max-width:100%;height:auto}
svg.chart text{font:13px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;fill:#1f2328}
svg.chart a{cursor:pointer}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;vertical-align:top;padding:5px 8px;border-bottom:1px solid #eaeef2}
td:empty::after{content:"\\2014";color:#8c959f}
table.legend td:first-child{white-space:nowrap}
.controls{display:flex;flex-wrap:wrap;gap:10px;align-items:center;margin:0 0 10px}
.controls input[type=search]{min-width:280px;padding:6px 8px;border:1px solid var(--line);border-radius:6px;font:inherit}
.controls select{padding:6px 8px;border:1px solid var(--line);border-radius:6px;font:inherit;background:#fff}
#shown,#page-text{color:var(--muted)}
#host-table:not(.live) .controls{display:none}
.pager{margin:8px 0 0;display:flex;gap:10px;align-items:center}
.table-wrap{overflow:auto;max-height:80vh;border:1px solid var(--line);border-radius:6px}
#hosts thead th{position:sticky;top:0;background:#f6f8fa;cursor:pointer;user-select:none;border-bottom:1px solid var(--line)}
#hosts thead th::after{content:"\\00a0\\2195";color:#8c959f}
#hosts thead th[aria-sort=ascending]::after{content:"\\00a0\\25B2";color:#1f2328}
#hosts thead th[aria-sort=descending]::after{content:"\\00a0\\25BC";color:#1f2328}
#hosts tbody tr:hover{background:#f6f8fa}
#hosts td:last-child{min-width:14em;overflow-wrap:anywhere}
#hosts td.st{white-space:normal;min-width:9em}
#hosts td.host{cursor:pointer;font-weight:600;white-space:nowrap;overflow-wrap:normal}
#hosts td.host::before{content:"\\25B8 ";color:#8c959f}
#hosts tr.open td.host::before{content:"\\25BE ";color:#1f2328}
#hosts td.num{color:var(--muted);text-align:right}
.st{white-space:nowrap}
.st::before{content:"";display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:6px;background:#57606a}
tr.detail>td{background:#fbfcfd;padding:10px 18px 14px}
tr.detail h4{margin:8px 0 2px;font-size:13px}
tr.detail ul,tr.detail ol{margin:2px 0 4px;padding-left:20px}
tr.detail pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#fff5f5;border:1px solid #ffcecb;padding:6px 8px;margin:2px 0}
.down{color:#a40e26;font-weight:700}
.products{display:grid;grid-template-columns:repeat(auto-fill,minmax(460px,1fr));gap:14px}
.product{border:1px solid var(--line);border-radius:8px;padding:10px 14px}
.product h3{margin-top:0}
.lists{display:grid;grid-template-columns:1fr 1fr;gap:10px}
.copy-head{display:flex;flex-wrap:wrap;gap:6px;align-items:center;margin:4px 0}
.copy-head label{font-weight:600;margin-right:auto}
.copy-list summary{cursor:pointer;color:var(--muted);font-size:12px}
.copy-list textarea{width:100%;font:12px ui-monospace,SFMono-Regular,Consolas,monospace;border:1px solid var(--line);border-radius:6px}
.product h4{margin:8px 0 2px;font-size:13px}
.product ul{margin:2px 0 6px;padding-left:20px}
button{font:inherit;font-size:12px;padding:3px 10px;border:1px solid var(--line);border-radius:6px;background:#f6f8fa;cursor:pointer}
.muted{color:var(--muted)}
.note{padding:8px 12px;background:#fff8c5;border:1px solid #d4a72c;border-radius:6px}
footer{color:var(--muted);padding:0 24px 24px}
@media print{.controls,button{display:none}.table-wrap{max-height:none;overflow:visible}}
"""

_SCRIPT = """
(function () {
  "use strict";
  var ORDER = JSON.parse(document.getElementById("status-order").textContent);
  var DETAILS = JSON.parse(document.getElementById("host-details").textContent);
  var section = document.getElementById("host-table");
  var table = document.getElementById("hosts");
  var tbody = table.tBodies[0];
  var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var filterBox = document.getElementById("filter");
  var statusBox = document.getElementById("status-filter");
  var pageSizeBox = document.getElementById("page-size");
  var shown = document.getElementById("shown");
  var pager = document.getElementById("pager");
  var pageText = document.getElementById("page-text");
  var previous = document.getElementById("page-previous");
  var next = document.getElementById("page-next");
  var collator = new Intl.Collator(undefined, {numeric: true, sensitivity: "base"});
  // Every host row, in the current sort order; only the current page is in the document, because
  // a table of 10,000 rows takes seconds to lay out again after each change.
  var rows = Array.prototype.slice.call(tbody.rows);
  var matches = rows;
  var page = 0;
  var opened = new Map();
  var texts = new Map();
  var timer = null;

  function rowText(row) {
    var text = texts.get(row);
    if (text === undefined) {
      text = row.textContent.toLowerCase();
      texts.set(row, text);
    }
    return text;
  }

  function matchesFilter(row, terms, want) {
    var ok = !want || (want === "attention" ? row.hasAttribute("data-attention") : row.getAttribute("data-status") === want);
    if (ok && terms.length) {
      var text = rowText(row);
      ok = terms.every(function (term) { return text.indexOf(term) !== -1; });
    }
    return ok;
  }

  function render() {
    var size = Number(pageSizeBox.value) || matches.length || 1;
    var pages = Math.max(1, Math.ceil(matches.length / size));
    page = Math.min(Math.max(page, 0), pages - 1);
    var fragment = document.createDocumentFragment();
    matches.slice(page * size, (page + 1) * size).forEach(function (row) {
      row.cells[1].tabIndex = 0;
      fragment.appendChild(row);
      var detail = opened.get(row);
      if (detail) { fragment.appendChild(detail); }
    });
    tbody.textContent = "";
    tbody.appendChild(fragment);
    shown.textContent = matches.length + " of " + rows.length + " hosts match";
    pager.hidden = pages < 2;
    pageText.textContent = "Page " + (page + 1) + " of " + pages + " (hosts " + (matches.length ? page * size + 1 : 0) +
      "\\u2013" + Math.min((page + 1) * size, matches.length) + ")";
    previous.disabled = page === 0;
    next.disabled = page >= pages - 1;
  }

  function applyFilter() {
    var terms = filterBox.value.toLowerCase().split(/\\s+/).filter(Boolean);
    var want = statusBox.value;
    matches = rows.filter(function (row) { return matchesFilter(row, terms, want); });
    page = 0;
    render();
  }

  function sortKey(row, index, kind) {
    if (kind === "status") { return ORDER[row.getAttribute("data-status")]; }
    var text = row.cells[index].textContent;
    return kind === "num" ? Number(text) : text;
  }

  function sortBy(th) {
    var index = headers.indexOf(th);
    var kind = th.getAttribute("data-kind");
    var direction = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    headers.forEach(function (other) { other.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", direction === 1 ? "ascending" : "descending");
    var keyed = rows.map(function (row, position) { return [sortKey(row, index, kind), position, row]; });
    keyed.sort(function (a, b) {
      var order = typeof a[0] === "number" ? a[0] - b[0] : collator.compare(a[0], b[0]);
      return order ? order * direction : a[1] - b[1];
    });
    rows = keyed.map(function (item) { return item[2]; });
    var matching = new Set(matches);
    matches = rows.filter(function (row) { return matching.has(row); });
    page = 0;
    render();
  }

  function add(parent, tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) { node.textContent = text; }
    if (className) { node.className = className; }
    parent.appendChild(node);
    return node;
  }

  function addList(parent, title, items, ordered) {
    if (!items || !items.length) { return; }
    add(parent, "h4", title);
    var list = add(parent, ordered ? "ol" : "ul");
    items.forEach(function (item) { add(list, "li", item); });
  }

  // Built with textContent only: nothing from the data is ever parsed as markup.
  function buildDetail(row) {
    var data = DETAILS[Number(row.getAttribute("data-detail"))] || {};
    var tr = document.createElement("tr");
    tr.className = "detail";
    var td = add(tr, "td");
    td.colSpan = row.cells.length;
    if (data.kbs && data.kbs.length) {
      add(td, "h4", data.kbs.length > 1 ? "Windows update needed (any one of these)" : "Windows update needed");
      var kbList = add(td, "ul");
      data.kbs.forEach(function (kb) {
        var li = add(kbList, "li");
        add(li, "strong", kb.kb);
        var extra = [kb.kind, kb.title, kb.architecture, kb.released ? "released " + kb.released : ""].filter(Boolean);
        if (extra.length) { li.appendChild(document.createTextNode(" \\u2014 " + extra.join(", ") + " ")); }
        if (kb.url && /^https?:\\/\\//i.test(kb.url)) {
          var link = add(li, "a", "Microsoft Update Catalog");
          link.href = kb.url;
          link.target = "_blank";
          link.rel = "noopener noreferrer";
        }
      });
    }
    addList(td, "Prerequisite updates", data.prerequisites);
    addList(td, "Prerequisites not found on the host", data.missing_prerequisites);
    if (data.satisfied_by) { add(td, "h4", "Update found"); add(td, "div", data.satisfied_by); }
    if (data.root_ca) { add(td, "h4", "Root certificate"); add(td, "div", data.root_ca); }
    addList(td, "Why", data.reasons);
    addList(td, "What to do", data.actions, true);
    (data.agents || []).forEach(function (agent) {
      add(td, "h4", "Trend Micro agent: " + agent.name + (agent.version ? " " + agent.version : "") +
          " (service " + (agent.service_state || "unknown") + "; " +
          (agent.upgrade_safe ? "safe to upgrade" : "do not upgrade yet") + ")");
      var list = add(td, "ul");
      (agent.advice || []).forEach(function (item) { add(list, "li", item); });
    });
    addList(td, "Warnings", data.warnings);
    if (data.error) { add(td, "h4", "Error"); add(td, "pre", data.error); }
    if (data.gate) { add(td, "h4", "Upgrade gate"); add(td, "div", data.gate); }
    if (row.getAttribute("data-at")) { add(td, "p", "Checked at " + row.getAttribute("data-at"), "muted"); }
    return tr;
  }

  function toggle(row) {
    var detail = opened.get(row);
    if (detail) {
      detail.remove();
      opened.delete(row);
      row.classList.remove("open");
      row.cells[1].setAttribute("aria-expanded", "false");
      return;
    }
    detail = buildDetail(row);
    row.after(detail);
    opened.set(row, detail);
    row.classList.add("open");
    row.cells[1].setAttribute("aria-expanded", "true");
  }

  function copy(text, button) {
    var label = button.textContent;
    function done() {
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    }
    function fallback() {
      var area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      try { document.execCommand("copy"); done(); } catch (error) { button.textContent = "Select and copy by hand"; }
      area.remove();
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, fallback);
    } else {
      fallback();
    }
  }

  filterBox.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(applyFilter, rows.length > 2000 ? 200 : 60);
  });
  statusBox.addEventListener("change", applyFilter);
  pageSizeBox.addEventListener("change", function () { page = 0; render(); });
  previous.addEventListener("click", function () { page -= 1; render(); section.scrollIntoView(); });
  next.addEventListener("click", function () { page += 1; render(); section.scrollIntoView(); });
  headers.forEach(function (th) {
    th.tabIndex = 0;
    th.addEventListener("click", function () { sortBy(th); });
    th.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sortBy(th); }
    });
  });
  tbody.addEventListener("click", function (event) {
    var cell = event.target.closest("td.host");
    if (cell) { toggle(cell.parentNode); }
  });
  tbody.addEventListener("keydown", function (event) {
    var cell = event.target.closest("td.host");
    if (cell && (event.key === "Enter" || event.key === " ")) { event.preventDefault(); toggle(cell.parentNode); }
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (button) {
      var source = document.getElementById(button.getAttribute("data-copy"));
      var separator = button.getAttribute("data-separator");
      var text = source.value;
      if (separator) { text = text.split("\\n").filter(Boolean).join(separator); }
      copy(text, button);
      return;
    }
    var bar = event.target.closest("[data-show-status]");
    if (bar) {
      event.preventDefault();
      statusBox.value = bar.getAttribute("data-show-status");
      applyFilter();
      section.scrollIntoView();
    }
  });
  render();
  section.classList.add("live");
}());
"""


# Until the script takes over, only the first page is laid out; without JavaScript every row shows.
_CSS = (_CSS_RULES + "".join(f".st-{status}::before{{background:{colour}}}\n" for status, (_label, _meaning, colour)
                             in STATUS_TEXT.items())
        + f"#host-table:not(.live) #hosts tbody tr:nth-child(n+{_PAGE_SIZE + 1}){{display:none}}\n")
_NOSCRIPT_CSS = "#host-table:not(.live) #hosts tbody tr:nth-child(n){display:table-row}"


def _csp_hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode("ascii") + "'"


# Nothing may load from the network, and only this page's own script and style may run: an
# escaping mistake elsewhere would still not execute injected markup.
_CSP = ("default-src 'none'; script-src " + _csp_hash(_SCRIPT) + "; style-src " + _csp_hash(_CSS) + " " + _csp_hash(_NOSCRIPT_CSS)
        + "; img-src 'none'; connect-src 'none'; font-src 'none'; form-action 'none'; base-uri 'none'")


def _script_json(value: t.Any) -> str:
    # JSON inside <script> must not be able to close the element or open a comment.
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _yes_no_unknown(value: bool | None) -> str:
    return "unknown" if value is None else ("yes" if value else "no")


def _detail(view: dict[str, t.Any]) -> dict[str, t.Any]:
    root_ca = ""
    if view["root_ca_needed"] is not None or view["root_ca_present"] is not None:
        root_ca = (f"needed: {_yes_no_unknown(view['root_ca_needed'])}; installed: {_yes_no_unknown(view['root_ca_present'])}; "
                   f"host can fetch it: {_yes_no_unknown(view['root_ca_can_fetch'])}")
    gate = ""
    if view["gate_decision"] or view["gate_mode"]:
        gate = GATE_TEXT.get(view["gate_decision"], view["gate_decision"] or "no decision")
        gate += f" (mode {view['gate_mode'] or 'unknown'})" + (f": {view['gate_reason']}" if view["gate_reason"] else "")
    return {
        "kbs": [{"kb": _display(item["kb"]), "kind": _display(KB_KIND_TEXT.get(item["kind"], item["kind"])),
                 "title": _display(item["title"]), "architecture": _display(item["architecture"]),
                 "released": _display(item["released"]), "url": item["url"]} for item in view["kb_details"]],
        "prerequisites": [_display(item) for item in view["prerequisites"]],
        "missing_prerequisites": [_display(item) for item in view["missing_prerequisites"]],
        "satisfied_by": _display(view["satisfied_by"]),
        "root_ca": root_ca,
        "reasons": [_display(item) for item in view["reasons"]],
        "actions": [_display(item) for item in view["actions"]],
        "agents": [{"name": _display(agent["name"]), "version": _display(agent["version"]),
                    "service_state": _display(agent["service_state"]), "upgrade_safe": agent["upgrade_safe"],
                    "advice": [_display(item) for item in agent["advice"]]} for agent in view["agents"]],
        "warnings": [_display(item) for item in view["warnings"]],
        "error": _display(view["error"]),
        "gate": _display(gate),
    }


def _chart(counts: dict[str, int]) -> str:
    bar_height, gap, label_width, bar_width = 22, 8, 220, 380
    maximum = max([counts[f"status:{status}"] for status in STATUS_ORDER] + [1])
    height = len(STATUS_ORDER) * (bar_height + gap) + gap
    width = label_width + bar_width + 70
    parts = [f'<svg class="chart" id="status-chart" role="img" aria-labelledby="chart-title chart-desc" '
             f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
             '<title id="chart-title">Hosts per status</title>',
             '<desc id="chart-desc">' + html.escape("; ".join(
                 f"{STATUS_TEXT[status][0]}: {counts[f'status:{status}']}" for status in STATUS_ORDER)) + "</desc>"]
    for row, status in enumerate(STATUS_ORDER):
        count = counts[f"status:{status}"]
        label, _meaning, colour = STATUS_TEXT[status]
        y = gap + row * (bar_height + gap)
        length = 0 if count == 0 else max(2, round(bar_width * count / maximum))
        parts.append(
            f'<a href="#host-table" data-show-status="{status}"><title>{html.escape(label)}: {count} hosts</title>'
            f'<text x="{label_width - 10}" y="{y + 16}" text-anchor="end">{html.escape(label)}</text>'
            f'<rect class="bar" data-status="{status}" x="{label_width}" y="{y}" width="{length}" height="{bar_height}" '
            f'rx="3" fill="{colour}"/>'
            f'<text x="{label_width + length + 8}" y="{y + 16}">{count}</text></a>')
    parts.append("</svg>")
    return "".join(parts)


def _status_cell(status: str, tag: str = "td") -> str:
    return f'<{tag} class="st st-{status}">{html.escape(STATUS_TEXT[status][0])}</{tag}>'


def _host_row(position: int, view: dict[str, t.Any], detail_index: int) -> str:
    agents = view["agents"]
    service = _service_text(agents) if agents else ""
    service_cell = f'<span class="down">{_e(service)}</span>' if view["service_down"] else _e(service)
    attention = " data-attention" if view["attention"] else ""
    checked = f' data-at="{_e(view["gathered_at"])}"' if view["gathered_at"] else ""
    return (f'<tr data-status="{view["status"]}" data-detail="{detail_index}"{attention}{checked}>'
            f'<td class="num">{position}</td>'
            f'<td class="host">{_e(view["host"])}</td>'
            f'{_status_cell(view["status"])}'
            f'<td>{_e(GATE_TEXT.get(view["gate_decision"], view["gate_decision"]))}</td>'
            f'<td>{_e(view["os"])}</td>'
            f'<td>{_e(view["os_version"])}</td>'
            f'<td>{_e(_kb_text(view))}</td>'
            f'<td>{_e(", ".join(_agent_text(agent) for agent in agents))}</td>'
            f'<td>{service_cell}</td>'
            f'<td>{_e(_shorten(_display(view["next_step"]), _NEXT_STEP_CHARS))}</td></tr>')


_COLUMNS = (("#", "num"), ("Host", "text"), ("Status", "status"), ("Upgrade gate", "text"), ("Windows", "text"),
            ("Version", "text"), ("Update needed", "text"), ("Trend agent", "text"), ("Agent service", "text"),
            ("Next step", "text"))


def _host_table(views: list[dict[str, t.Any]], counts: dict[str, int]) -> tuple[str, list[dict[str, t.Any]]]:
    details: list[dict[str, t.Any]] = []
    index_of: dict[str, int] = {}
    rows = []
    for position, view in enumerate(views, start=1):
        detail = _detail(view)
        # Hosts in one state share their explanation: storing each text once keeps 10,000 hosts small.
        key = json.dumps(detail, sort_keys=True)
        if key not in index_of:
            index_of[key] = len(details)
            details.append(detail)
        rows.append(_host_row(position, view, index_of[key]))
    options = [f'<option value="">All hosts ({counts["total"]})</option>',
               f'<option value="attention">Needs attention ({sum(1 for view in views if view["attention"])})</option>']
    options += [f'<option value="{status}">{html.escape(STATUS_TEXT[status][0])} ({counts[f"status:{status}"]})</option>'
                for status in STATUS_ORDER if counts[f"status:{status}"]]
    head = "".join(f'<th scope="col" data-kind="{kind}">{html.escape(title)}</th>' for title, kind in _COLUMNS)
    table = (
        '<section id="host-table"><h2>Hosts</h2>'
        '<p class="muted">Hosts needing attention come first: a stopped Trend agent service, then hosts that could not be '
        'checked, then the most serious status. Click a host for its details; click a column title to sort.</p>'
        '<div class="controls"><label>Filter <input type="search" id="filter" placeholder="host, status, OS, KB, agent..." '
        'autocomplete="off"></label>'
        f'<label>Status <select id="status-filter">{"".join(options)}</select></label>'
        '<label>Rows per page <select id="page-size">'
        + "".join(f'<option value="{size}"{" selected" if size == _PAGE_SIZE else ""}>{size or "All"}</option>'
                  for size in (100, _PAGE_SIZE, 1000, 0))
        + f'</select></label><span id="shown" aria-live="polite">{counts["total"]} hosts</span></div>'
        '<noscript><p class="note">Sorting, filtering and per-host details need JavaScript; '
        'the CSV and JSON reports hold every detail.</p></noscript>'
        f'<div class="table-wrap"><table id="hosts"><thead><tr>{head}</tr></thead><tbody>'
        + "".join(rows) + "</tbody></table></div>"
        '<div class="pager" id="pager" hidden><button type="button" id="page-previous">Previous</button>'
        '<span id="page-text"></span><button type="button" id="page-next">Next</button></div></section>')
    return table, details


def _hosts(count: int) -> str:
    return f"{count} host" if count == 1 else f"{count} hosts"


def _copy_list(element_id: str, title: str, hosts: list[str]) -> str:
    # A long list stays folded: a closed <details> is not laid out, which keeps 10,000 names cheap.
    if not hosts:
        return f'<div class="copy-list"><div class="copy-head"><b>{html.escape(title)} (0)</b></div></div>'
    unfolded = " open" if len(hosts) <= _UNFOLDED_LIST else ""
    return (f'<div class="copy-list"><div class="copy-head"><label for="{element_id}">{html.escape(title)} ({len(hosts)})</label> '
            f'<button type="button" data-copy="{element_id}">Copy list</button> '
            f'<button type="button" data-copy="{element_id}" data-separator=",">Copy as AWX limit</button></div>'
            f'<details{unfolded}><summary>Host names</summary>'
            f'<textarea id="{element_id}" readonly rows="{min(max(len(hosts), 2), 10)}">'
            + _e("\n".join(hosts)) + "</textarea></details></div>")


def _products_section(products: t.Any, not_assessed: list[str]) -> str:
    parts = ['<section id="products"><h2>Trend Micro agents: which hosts can be upgraded</h2>'
             '<p>Trend Micro agents are upgraded from Trend\'s own consoles. Paste the <b>Ready</b> list into an Apex One '
             'agent group, Deep Security agent version control or an AWX limit; keep the <b>Not ready</b> hosts out of '
             'any upgrade to an ACS-signed build.</p><div class="products">']
    entries = [(key, value) for key, value in sorted(_mapping(products).items()) if isinstance(value, Mapping)]
    if not entries:
        parts.append('<p class="muted">No Trend Micro agent was found on the hosts that were checked.</p>')
    for number, (product, entry) in enumerate(entries):
        ready, not_ready = _texts(entry.get("ready_hosts")), _texts(entry.get("not_ready_hosts"))
        down = _texts(entry.get("service_down_hosts"))
        versions = _mapping(entry.get("versions"))
        version_text = ", ".join(f"{_display(version)} ({_display(count)})" for version, count in sorted(versions.items()))
        parts.append(
            f'<div class="product"><h3>{_e(entry.get("name") or product)} <span class="muted">({_e(product)})</span></h3>'
            f'<p>{_hosts(len(ready) + len(not_ready))}: <b>{len(ready)} ready</b>, <b>{len(not_ready)} not ready</b>'
            + (f', <span class="down">{len(down)} with the agent service down ({_e(", ".join(down))})</span>' if down else "")
            + (f'<br><span class="muted">Versions: {html.escape(version_text)}</span>' if version_text else "")
            + '</p><div class="lists">'
            + _copy_list(f"product-{number}-ready", "Ready", ready)
            + _copy_list(f"product-{number}-not-ready", "Not ready", not_ready) + "</div></div>")
    parts.append("</div>")
    if not_assessed:
        parts.append('<h3>Hosts that could not be checked</h3><p>Their Trend agents are unknown: check them again before '
                     'any upgrade.</p><div class="lists">' + _copy_list("not-assessed", "Unreachable or failed", not_assessed)
                     + "</div>")
    parts.append("</section>")
    return "".join(parts)


def _hold_back_groups(hold_back: t.Any) -> list[dict[str, t.Any]]:
    """Hold-back hosts grouped by what a person does about them: same status, Windows, advice and actions."""
    groups: dict[tuple, dict[str, t.Any]] = {}
    for entry in hold_back if isinstance(hold_back, list) else []:
        if not isinstance(entry, Mapping) or not _text(entry.get("host")):
            continue
        status = entry.get("status") if entry.get("status") in STATUS_TEXT else "unknown"
        agents = [agent for agent in entry.get("agents") if isinstance(agent, Mapping)] \
            if isinstance(entry.get("agents"), list) else []
        advice, actions = tuple(_texts(entry.get("advice"))), tuple(_texts(entry.get("actions")))
        key = (STATUS_ORDER.index(status), _text(entry.get("os")), advice, actions)
        group = groups.setdefault(key, {"status": status, "os": _text(entry.get("os")), "advice": advice,
                                        "actions": actions, "agents": [], "hosts": []})
        group["hosts"].append(_text(entry.get("host")))
        group["agents"].extend(" ".join(part for part in (_short_product_name(_text(agent.get("name") or agent.get("product"))),
                                                          _text(agent.get("version"))) if part) for agent in agents)
    return [groups[key] for key in sorted(groups, key=lambda key: (-len(groups[key]["hosts"]), key[0], key[1]))]


def _hold_back_section(hold_back: t.Any) -> str:
    groups = _hold_back_groups(hold_back)
    total = sum(len(group["hosts"]) for group in groups)
    parts = [f'<section id="hold-back"><h2>Hold back: {_hosts(total)} cannot be patched</h2>'
             '<p>No Windows update can make these hosts ready (Windows too old, or no Extended Security Updates). '
             'Keep ACS-signed Trend Micro agent builds away from them and plan an OS upgrade.</p>']
    if not groups:
        parts.append('<p class="muted">None.</p></section>')
        return "".join(parts)
    parts.append('<div class="products">')
    for number, group in enumerate(groups):
        agents = ", ".join(_unique(group["agents"]))
        advice = "".join(f"<li>{_e(item)}</li>" for item in group["advice"])
        actions = "".join(f"<li>{_e(item)}</li>" for item in group["actions"])
        parts.append(
            f'<div class="product"><h3>{_e(group["os"] or "Unknown Windows")}: '
            f'<span class="st st-{group["status"]}">{html.escape(STATUS_TEXT[group["status"]][0])}</span></h3>'
            f'<p>Trend agents: {_e(agents or "none found")}</p>'
            + (f"<h4>Trend Micro advice</h4><ul>{advice}</ul>" if advice else "")
            + (f"<h4>What to do</h4><ul>{actions}</ul>" if actions else "")
            + _copy_list(f"hold-back-{number}", "Hosts", group["hosts"]) + "</div>")
    parts.append("</div></section>")
    return "".join(parts)


def _legend() -> str:
    rows = "".join(f"<tr>{_status_cell(status)}<td>{html.escape(STATUS_TEXT[status][1])}</td></tr>"
                   for status in reversed(STATUS_ORDER))
    gates = ("<p><b>Upgrade gate</b>: what this run's gate decided for the host. <i>Allowed</i>: it may receive "
             "ACS-signed agent builds; <i>Blocked</i>: it must not; <i>Allowed, warned</i>: not ready, but the gate only "
             "warns; <i>Not checked</i>: the gate was off.</p>")
    return (f'<section id="legend"><h2>What the statuses mean</h2><table class="legend"><tbody>{rows}</tbody></table>'
            f"{gates}<p>ACS: Azure Code Signing. From February 2023 Trend Micro signs agent builds with it; a Windows host "
            "that cannot validate it fails to start the agent after the upgrade.</p></section>")


def render_html(document: t.Any) -> str:
    """One self-contained page: no request leaves it; every value from the data is escaped."""
    views = _host_views(document)
    run = _mapping(document.get("run"))
    summary = _mapping(document.get("summary"))
    counts = _counts(views)
    table, details = _host_table(views, counts)
    not_assessed = [view["host"] for view in views if view["status"] in NOT_ASSESSED_STATUSES]
    title = f"ACS readiness: {counts['ready']} of {counts['total']} hosts ready"
    run_rows = "".join(f"<dt>{html.escape(label)}</dt><dd>{_e(value)}</dd>" for label, value in _run_rows(run, counts["total"]))
    package = _package_lines(run)
    cards = [("ok", counts["ready"], "Ready"), ("warn", counts["needs_action"], "Need an update, certificate or restart"),
             ("bad", counts["hold_back"], "Cannot be patched"), ("grey", counts["not_assessed"], "Could not be checked"),
             ("bad", counts["service_down"], "Trend agent service down")]
    card_html = "".join(f'<li class="{kind}"><b>{number}</b>{html.escape(label)}</li>' for kind, number, label in cards)
    body = [
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="referrer" content="no-referrer">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style><noscript><style>{_NOSCRIPT_CSS}</style></noscript></head><body>",
        f"<header><h1>{_e(title)}</h1><p>Can each Windows host take Trend Micro agent builds signed with Azure Code Signing "
        f"(ACS)?</p></header><main>",
        f'<section id="overview"><h2>Overview</h2><ul class="cards">{card_html}</ul>',
        f'<dl class="run">{run_rows}</dl>',
        ("<p class=\"package\">" + "<br>".join(_e(line) for line in package) + "</p>") if package else "",
        "</section>",
        f'<section id="chart"><h2>Hosts per status</h2><div class="chart-wrap">{_chart(counts)}</div></section>',
        table,
        _products_section(document.get("products"), not_assessed),
        _hold_back_section(document.get("hold_back")),
        _legend(),
        "</main>",
        f"<footer>codesign.windows report, schema version {_e(document.get('schema_version'))}. "
        f"{_e(summary.get('total', counts['total']))} hosts. This page loads nothing from the network.</footer>",
        f'<script type="application/json" id="status-order">{_script_json({s: i for i, s in enumerate(STATUS_ORDER)})}</script>',
        f'<script type="application/json" id="host-details">{_script_json(details)}</script>',
        f"<script>{_SCRIPT}</script></body></html>\n",
    ]
    return "".join(body)


# ---------------------------------------------------------------------------------------------
# Markdown


def _md(value: t.Any) -> str:
    """One line of text that neither a terminal nor a Markdown viewer interprets."""
    text = " ".join(_display(value).split())
    return re.sub(r"([\\`*<>\[\]|])", r"\\\1", text)


def _md_host(name: str) -> str:
    text = " ".join(_display(name).split())
    fence = "``" if "`" in text else "`"
    return f"{fence} {text} {fence}" if fence == "``" else f"`{text}`"


def _md_table(header: tuple[str, ...], rows: list[tuple[str, ...]], right: tuple[int, ...] = ()) -> list[str]:
    widths = [max([len(header[col])] + [len(row[col]) for row in rows]) for col in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(cell.rjust(widths[col]) if col in right else cell.ljust(widths[col])
                                 for col, cell in enumerate(cells)) + " |"
    rule = "|" + "|".join(("-" * (widths[col] + 1) + ":") if col in right else ("-" * (widths[col] + 2))
                          for col in range(len(header))) + "|"
    return [line(header), rule] + [line(row) for row in rows]


def render_markdown(document: t.Any, paths: t.Mapping[str, t.Any] | None = None, limit: int = 20) -> str:
    """A short summary a person reads at the end of a play; ``paths`` ({format: path}) says where the reports are."""
    views = _host_views(document)
    run = _mapping(document.get("run"))
    counts = _counts(views)
    lines = [f"# ACS readiness: {counts['ready']} of {counts['total']} hosts ready", ""]
    facts = [f"run {_md(run.get('run_id'))}" if run.get("run_id") else "",
             f"generated {_md(run.get('generated_at'))}" if run.get("generated_at") else "",
             f"gate {_md(run.get('gate_mode'))}" if run.get("gate_mode") else "",
             f"21H2 policy {_md(run.get('policy_21h2'))}" if run.get("policy_21h2") else "",
             f"catalog {_md(run.get('catalog_version'))}" if run.get("catalog_version") else ""]
    if any(facts):
        sentence = "; ".join(fact for fact in facts if fact)
        lines += [sentence[:1].upper() + sentence[1:], ""]
    lines += [f"{_md(line)}" for line in _package_lines(run)]
    if _package_lines(run):
        lines.append("")
    if not views:
        lines += ["No hosts were in this run.", ""]
    else:
        lines += [f"{counts['ready']} ready, {counts['needs_action']} need an update, certificate or restart, "
                  f"{counts['hold_back']} cannot be patched, {counts['not_assessed']} could not be checked; "
                  f"{counts['service_down']} with the Trend agent service down.", ""]
        rows = [(STATUS_TEXT[status][0], status, str(counts[f"status:{status}"]))
                for status in STATUS_ORDER if counts[f"status:{status}"]]
        lines += ["## Hosts per status", ""] + _md_table(("Status", "Code", "Hosts"), rows, right=(2,)) + [""]
        attention = [view for view in views if view["attention"]]
        if attention:
            lines += [f"## Hosts needing action ({len(attention)})", ""]
            for view in attention[:max(limit, 0)]:
                what = STATUS_TEXT[view["status"]][0]
                if view["service_down"]:
                    what += "; Trend agent service " + _service_text([a for a in view["agents"] if a["service_down"]]).lower()
                step = _shorten(_display(view["next_step"]), _NEXT_STEP_CHARS)
                lines.append(f"- {_md_host(view['host'])}: {_md(what)}" + (f" - {_md(step)}" if step else ""))
            if len(attention) > limit:
                lines.append(f"- ... and {len(attention) - max(limit, 0)} more (see the HTML or CSV report)")
            lines.append("")
    products = [(key, value) for key, value in sorted(_mapping(document.get("products")).items()) if isinstance(value, Mapping)]
    if products:
        rows = [(_md(entry.get("name") or product), str(len(_texts(entry.get("ready_hosts")))),
                 str(len(_texts(entry.get("not_ready_hosts")))), str(len(_texts(entry.get("service_down_hosts")))))
                for product, entry in products]
        lines += ["## Trend Micro agents", ""]
        lines += _md_table(("Product", "Ready", "Not ready", "Service down"), rows, right=(1, 2, 3)) + [""]
    if paths:
        lines += ["## Reports", ""]
        lines += [f"- {_md(str(fmt).upper())}: {_md(path)}" for fmt, path in paths.items()] + [""]
    return "\n".join(lines).rstrip("\n") + "\n"


# ---------------------------------------------------------------------------------------------
# Files


def _check_basename(basename: t.Any) -> str:
    if (not isinstance(basename, str) or not basename or basename in (".", "..") or "/" in basename or "\\" in basename
            or "\0" in basename):
        raise ValueError(f"basename must be a plain file name without a directory, got {basename!r}")
    return basename


def report_path(directory: t.Any, fmt: str, basename: str = DEFAULT_BASENAME) -> str:
    return os.path.join(os.path.abspath(os.fspath(directory)), f"{_check_basename(basename)}.{fmt}")


def read_previous(directory: t.Any, basename: str = DEFAULT_BASENAME) -> dict[str, t.Any] | None:
    """The JSON report already in ``directory`` when this collection's schema can merge with it; otherwise None."""
    try:
        path = report_path(directory, "json", basename)
        with open(path, "rb") as handle:
            document = json.loads(handle.read().decode("utf-8-sig"))
    except (OSError, ValueError, TypeError, RecursionError):
        return None
    if not isinstance(document, dict):
        return None
    version = document.get("schema_version")
    if type(version) is not int or version != REPORT_SCHEMA_VERSION:  # pylint: disable=unidiomatic-typecheck
        return None
    if not isinstance(document.get("run"), dict) or not isinstance(document.get("hosts"), list):
        return None
    return document


def _unchanged(path: str, data: bytes) -> bool:
    try:
        if os.stat(path).st_size != len(data):
            return False
        with open(path, "rb") as handle:
            return handle.read() == data
    except OSError:
        return False


def _atomic_write(path: str, data: bytes) -> None:
    # Leaving an identical file alone keeps its timestamp, so a re-run is not a change.
    if _unchanged(path, data):
        return
    directory, name = os.path.split(path)
    handle, temp_path = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp_path, 0o644)
        os.replace(temp_path, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_path)
        raise
    with contextlib.suppress(OSError):
        directory_handle = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(directory_handle)
        finally:
            os.close(directory_handle)


def write_reports(document: t.Any, directory: t.Any, formats: t.Any = FORMATS,
                  basename: str = DEFAULT_BASENAME) -> dict[str, str]:
    """Write the document in each format to ``directory/basename.<format>`` atomically; return {format: path}."""
    wanted = [formats] if isinstance(formats, str) else list(formats)
    unknown = [fmt for fmt in wanted if fmt not in FORMATS]
    if unknown or not wanted:
        raise ValueError(f"formats must be among {', '.join(FORMATS)}, got {', '.join(map(repr, unknown)) or 'none'}")
    wanted = _unique(wanted)
    _check_basename(basename)
    paths = {fmt: report_path(directory, fmt, basename) for fmt in wanted}
    renderers: dict[str, t.Callable[[t.Any], str]] = {
        "json": render_json, "csv": render_csv, "html": render_html,
        "md": lambda doc: render_markdown(doc, paths=paths)}
    # Everything is rendered before anything is written: a bad document leaves the old reports whole.
    contents = {fmt: renderers[fmt](document).encode("utf-8", "backslashreplace") for fmt in wanted}
    os.makedirs(os.path.dirname(paths[wanted[0]]), exist_ok=True)
    for fmt in wanted:
        _atomic_write(paths[fmt], contents[fmt])
    return paths
