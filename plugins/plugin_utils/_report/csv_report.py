# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One CSV row per host, for Excel, LibreOffice and scripts."""

from __future__ import annotations

import csv
import io
import typing as t
from collections.abc import Mapping

from ansible_collections.codesign.windows.plugins.plugin_utils._report import agents as agent_model
from ansible_collections.codesign.windows.plugins.plugin_utils._report.model import host_views
from ansible_collections.codesign.windows.plugins.plugin_utils._report.plain import clean, text, without_cycle_collection

CSV_COLUMNS = ("host", "status", "status_text", "ready", "gate_mode", "gate_decision", "gate_reason", "os", "os_version",
               "required_kb", "kb_titles", "kb_urls", "missing_prerequisites", "satisfied_by", "root_ca_needed",
               "reboot_pending", "esu", "agents", "agent_service_down", "agent_upgrade_safe", "reasons", "actions",
               "warnings", "error", "gathered_at", "source", "change", "status_before",
               "status_before_remediation", "remediation")
# Spreadsheets run a cell that starts with one of these as a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: t.Any) -> str:
    cell_text = clean(text(value))
    return "'" + cell_text if cell_text.startswith(_FORMULA_START) else cell_text


def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


def csv_row(view: dict[str, t.Any], change: t.Mapping[str, t.Any] | None = None,
            remediated: t.Mapping[str, t.Any] | None = None) -> dict[str, str]:
    """One host's row; ``change`` is its entry of the document's ``changes``, ``remediated`` its entry of the
    document's ``remediation`` (empty cells without one)."""
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
        "agents": agent_model.csv_agents(agents),
        "agent_service_down": _yes_no(view["service_down"]) if agents else "",
        "agent_upgrade_safe": upgrade_safe,
        "reasons": "\n".join(view["reasons"]),
        "actions": "\n".join(view["actions"]),
        "warnings": "\n".join(view["warnings"]),
        "error": view["error"],
        "gathered_at": view["gathered_at"],
        "source": view["source"],
        "change": text((change or {}).get("change")),
        "status_before": text((change or {}).get("before")),
        "status_before_remediation": text((remediated or {}).get("before")),
        "remediation": "\n".join(text(step) for step in (remediated or {}).get("steps") or []),
    }
    return {key: _cell(value) for key, value in row.items()}


@without_cycle_collection()
def render_csv(document: t.Any) -> str:
    """One row per host, in the document's order; starts with a UTF-8 byte order mark for Excel."""
    buffer = io.StringIO()
    # Excel reads a CSV without a byte order mark in the local ANSI code page and garbles
    # non-ASCII names; LibreOffice and Python's utf-8-sig codec read the mark correctly.
    buffer.write("\ufeff")
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writeheader()
    views = host_views(document)
    changes = document.get("changes") if isinstance(document.get("changes"), Mapping) else {}
    # The CSV is one row a host of this run: a host gone since the previous run is in the JSON and HTML only.
    change_of = {entry.get("host"): entry for entry in changes.get("hosts") or [] if isinstance(entry, Mapping)}
    remediation = document.get("remediation") if isinstance(document.get("remediation"), Mapping) else {}
    remediated = {entry.get("host"): entry for entry in remediation.get("hosts") or [] if isinstance(entry, Mapping)}
    for view in views:
        writer.writerow(csv_row(view, change_of.get(view["host"]), remediated.get(view["host"])))
    return buffer.getvalue()
