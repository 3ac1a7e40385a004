# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report document: host records in, one document out, and the per-host view every writer shows.

Host records come from hostvars and may have been edited by hand, so every field is read
defensively: odd types are shown as text or left out, never a traceback. Only a record without
a host name is refused, because without a name a host cannot be reported, merged or upgraded.
"""

from __future__ import annotations

import copy
import re
import typing as t
from collections.abc import Mapping

from ansible_collections.codesign.windows.plugins.plugin_utils._agents import HOLD_BACK_STATUSES
from ansible_collections.codesign.windows.plugins.plugin_utils._hostnames import natural_key as natural
from ansible_collections.codesign.windows.plugins.plugin_utils._report import agents as agent_model
from ansible_collections.codesign.windows.plugins.plugin_utils._report.compare import compare_statuses
from ansible_collections.codesign.windows.plugins.plugin_utils._report.plain import (
    clean,
    flag,
    mapping,
    opt_text,
    plain,
    safe_url,
    shared_plain,
    text,
    texts,
    without_cycle_collection,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._summary import HOST_ERROR_STATUSES, summarize
from ansible_collections.codesign.windows.plugins.plugin_utils._verdict import CATALOG_SEARCH, STATUSES

REPORT_SCHEMA_VERSION = 1

# Hosts that gave no verdict come first: nobody knows what an ACS-signed build would do to them.
STATUS_ORDER = HOST_ERROR_STATUSES + STATUSES
NOT_ASSESSED_STATUSES = HOST_ERROR_STATUSES
# The error of a host of the play that has no gathered result (yet): a later serial batch, or a host
# that left the play before gathering. Such a record never replaces what another batch found.
NOT_GATHERED = "acs_facts did not run on this host"

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
# The next step for a host, shortened to fit a table cell or one line of the summary.
NEXT_STEP_CHARS = 140
_KB = re.compile(r"^KB[0-9]{6,7}$")


# ---------------------------------------------------------------------------------------------
# Host records


def _host_name(index: int, record: t.Any) -> str:
    if not isinstance(record, Mapping):
        raise ValueError(f"host record {index} is not a mapping (got {type(record).__name__})")
    host = record.get("host")
    if not isinstance(host, str) or not host.strip():
        raise ValueError(f"host record {index} has no host name: 'host' must be a non-empty string, got {host!r:.80}")
    return clean(host)


def _status_of(record: t.Mapping[str, t.Any]) -> str:
    status = record.get("status")
    if isinstance(status, str) and status in STATUS_ORDER:
        return status
    verdict_status = mapping(record.get("verdict")).get("status")
    if isinstance(verdict_status, str) and verdict_status in STATUSES:
        return verdict_status
    return "failed" if record.get("error") else "unknown"


def normalize_record(index: int, record: t.Any) -> dict[str, t.Any]:
    """One host record as plain data with every documented key present; ValueError without a host name."""
    host = _host_name(index, record)
    # The verdict and evidence are most of a record: kept as they are when plain already, not copied.
    record_data = shared_plain(record)
    notes = []
    status = _status_of(record_data)
    if record_data.get("status") is None:
        notes.append(f"acs_report: the record has no status; reported as {status}")
    elif record_data.get("status") != status:
        notes.append(f"acs_report: status {record_data.get('status')!r:.60} is not a known status; reported as {status}")
    for key in ("verdict", "evidence"):
        if record_data.get(key) is not None and not isinstance(record_data.get(key), dict):
            notes.append(f"acs_report: the {key} is not a mapping and was left out")
            record_data[key] = None
    gate = dict(mapping(record_data.get("gate")))
    for key in ("mode", "decision", "reason"):
        gate[key] = opt_text(gate.get(key))
    record_data.update({
        "host": host,
        "status": status,
        "error": opt_text(record_data.get("error")),
        "verdict": record_data.get("verdict"),
        "evidence": record_data.get("evidence"),
        "warnings": texts(record_data.get("warnings")) + notes,
        "gate": gate,
        "gathered_at": opt_text(record_data.get("gathered_at")),
    })
    return record_data


def _kb_details(verdict: t.Mapping[str, t.Any]) -> list[dict[str, t.Any]]:
    details = []
    for item in verdict.get("kb_details") if isinstance(verdict.get("kb_details"), list) else []:
        if isinstance(item, Mapping) and text(item.get("kb")):
            details.append({"kb": text(item.get("kb")), "kind": text(item.get("kind")),
                            "title": text(item.get("title")), "architecture": text(item.get("architecture")),
                            "released": text(item.get("released")), "url": safe_url(item.get("url"))})
    if not details:
        for kb in texts(verdict.get("required_kb")):
            details.append({"kb": kb, "kind": "", "title": "", "architecture": "", "released": "",
                            "url": CATALOG_SEARCH + kb if _KB.match(kb) else None})
    return details


def host_view(index: int, record: t.Any) -> dict[str, t.Any]:
    """What every writer shows about one host, read defensively from its record."""
    host = _host_name(index, record)
    status = _status_of(record)
    verdict = mapping(record.get("verdict"))
    evidence = mapping(record.get("evidence"))
    os_info = mapping(verdict.get("os"))
    gate = mapping(record.get("gate"))
    root_ca = mapping(verdict.get("root_ca"))
    agents = agent_model.agents_of(verdict, evidence)
    kb_details = _kb_details(verdict)
    reasons = texts(verdict.get("reasons"))
    actions = texts(verdict.get("actions"))
    error = text(record.get("error"))
    if actions:
        next_step = actions[0]
    elif error:
        next_step = error.strip().splitlines()[0] if error.strip() else ""
    else:
        next_step = ""
    service_down = any(agent["service_down"] for agent in agents)
    source = mapping(record.get("source"))
    source_text = ""
    if source.get("kind") == "export":
        places = [f"{text(item.get('file'))} row {text(item.get('first_row'))}" if item.get("first_row") is not None
                  else text(item.get("file")) for item in map(mapping, source.get("files") or [])]
        source_text = "export: " + ("; ".join(places) or "no file named")
    return {
        "host": host,
        "status": status,
        "status_text": STATUS_TEXT[status][0],
        "ready": status == "ready",
        "gate_mode": text(gate.get("mode")),
        "gate_decision": text(gate.get("decision")),
        "gate_reason": text(gate.get("reason")),
        "os": text(os_info.get("name")) or text(evidence.get("os_name")),
        "os_version": text(os_info.get("version")) or text(evidence.get("os_version")),
        "required_kb": [item["kb"] for item in kb_details] or texts(verdict.get("required_kb")),
        "kb_details": kb_details,
        "prerequisites": texts(verdict.get("prerequisites")),
        "missing_prerequisites": texts(verdict.get("missing_prerequisites")),
        "satisfied_by": text(verdict.get("satisfied_by")),
        "root_ca_present": flag(root_ca.get("present")),
        "root_ca_can_fetch": flag(root_ca.get("can_fetch")),
        "root_ca_needed": flag(root_ca.get("needed")),
        "reboot_pending": flag(verdict.get("reboot_pending")),
        "esu": flag(verdict.get("esu")),
        "agents": agents,
        "service_down": service_down,
        "reasons": reasons,
        "actions": actions,
        "warnings": texts(record.get("warnings")),
        "error": error,
        "gathered_at": text(record.get("gathered_at")),
        "source": source_text,
        "next_step": next_step,
        "attention": status != "ready" or service_down,
    }


def _order_key(view: dict[str, t.Any]) -> tuple:
    return (0 if view["service_down"] else 1, STATUS_ORDER.index(view["status"]), natural(view["host"]))


class ReportDocument(dict):
    """The document as build_document made it, with the host views it sorted by.

    A writer reads the views from here instead of computing them again (10,000 hosts take a tenth of a
    second per pass) as long as the document still holds the same host records; a copy is a plain dict.
    """

    views: tuple[list[dict[str, t.Any]], list[dict[str, t.Any]]] | None = None

    def __copy__(self) -> dict[str, t.Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, t.Any]) -> dict[str, t.Any]:
        return copy.deepcopy(dict(self), memo)

    def __reduce__(self) -> tuple[t.Any, ...]:
        return dict, (dict(self),)


def host_views(document: t.Any) -> list[dict[str, t.Any]]:
    if not isinstance(document, Mapping):
        raise ValueError(f"a report document is a mapping, got {type(document).__name__}")
    hosts = document.get("hosts")
    cached = getattr(document, "views", None)
    if cached is not None and cached[0] is hosts and len(hosts) == len(cached[1]):
        return cached[1]
    if hosts is None:
        return []
    if not isinstance(hosts, (list, tuple)):
        raise ValueError(f"the document's hosts must be a list, got {type(hosts).__name__}")
    return [host_view(index, record) for index, record in enumerate(hosts)]


def counts(views: list[dict[str, t.Any]]) -> dict[str, int]:
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


def package_lines(run: t.Mapping[str, t.Any]) -> list[str]:
    """The inspected agent package in a few lines: path and verdict, the first reason, then every other
    plain field (a digest, a size, a trust bundle version...) so that fields added later show too."""
    package = run.get("agent_package")
    if not isinstance(package, Mapping):
        return []
    reasons = texts(package.get("reasons"))
    lines = [f"Agent package {text(package.get('path'))}: {text(package.get('verdict')) or 'not inspected'}"]
    if reasons:
        lines.append(reasons[0])
    for key in sorted(package):
        shown = _package_field(package[key]) if key not in ("path", "verdict", "reasons") else ""
        if shown:
            lines.append(f"{str(key).replace('_', ' ').capitalize()}: {shown}")
    return lines


def _plain_value(value: t.Any) -> bool:
    return isinstance(value, (str, int, float)) and value != ""


def _package_field(value: t.Any) -> str:
    """A field of the package result in a few words: plain values, lists of them, and mappings of them
    (a trust bundle's name and version); a certificate chain and other nested data are left out."""
    if _plain_value(value):
        return text(value)
    if isinstance(value, (list, tuple)) and value and all(_plain_value(item) for item in value):
        return text(value)
    if isinstance(value, Mapping):
        return ", ".join(f"{text(key)} {text(item)}" for key, item in value.items() if _plain_value(item))
    return ""


# ---------------------------------------------------------------------------------------------
# The document


def _same_run(previous: t.Any, run: t.Mapping[str, t.Any]) -> bool:
    if not isinstance(previous, Mapping) or previous.get("schema_version") != REPORT_SCHEMA_VERSION:
        return False
    run_id = run.get("run_id")
    return isinstance(run_id, str) and bool(run_id) and mapping(previous.get("run")).get("run_id") == run_id


def _not_gathered(record: t.Mapping[str, t.Any]) -> bool:
    return record.get("status") == "failed" and str(record.get("error") or "").startswith(NOT_GATHERED)


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
                                           key=natural)
    summary["service_down_hosts"] = sorted((view["host"] for view in views if view["service_down"]), key=natural)
    return summary


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
            "agents": agent_model.hold_back_agents(view["agents"]),
            "advice": agent_model.hold_back_advice(view["agents"]),
            "actions": view["actions"],
        })
    return sorted(entries, key=lambda entry: natural(entry["host"]))


@without_cycle_collection()
def build_document(records: t.Any, run: t.Any, previous: t.Any = None, *, baseline: t.Any = None,
                   bad_rows: t.Any = None) -> dict[str, t.Any]:
    """The report document for ``records``; the hosts of ``previous`` are kept when it is the same run.

    Ansible ``serial`` batches and AWX slices write the report once per batch: the same ``run_id``
    adds the batch's hosts to the previous document (a host seen again is replaced, unless this
    batch has no gathered result for it), another run id starts afresh.

    ``baseline`` is an earlier run's document, ``{"document": ..., "path": ...}``: the ``changes`` section
    compares with it. ``bad_rows`` are the export rows that could not be read; with the same run, those
    of ``previous`` are kept too.
    """
    if isinstance(records, (str, bytes)) or not isinstance(records, (list, tuple)):
        raise ValueError(f"records must be a list of host records, got {type(records).__name__}")
    if not isinstance(run, Mapping):
        raise ValueError(f"run must be a mapping with run_id and generated_at, got {type(run).__name__}")
    run_info = plain(run)
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
        if _not_gathered(fresh) and fresh["host"] in by_host:
            continue
        by_host[fresh["host"]] = fresh
    pairs = sorted(((host_view(0, record), record) for record in by_host.values()), key=lambda pair: _order_key(pair[0]))
    views = [view for view, _record in pairs]
    hosts = [record for _view, record in pairs]
    kept_rows = previous.get("bad_rows") if _same_run(previous, run_info) else None
    document = ReportDocument(
        schema_version=REPORT_SCHEMA_VERSION,
        run=run_info,
        summary=_summary(hosts, views),
        products=agent_model.products(views),
        hold_back=_hold_back(views),
        hosts=hosts,
        bad_rows=normalize_bad_rows(kept_rows) + normalize_bad_rows(bad_rows),
        changes=_changes(views, baseline),
        remediation=_remediation(hosts),
    )
    # The same row reported by two batches of one run is listed once.
    document["bad_rows"] = [dict(row) for row in dict.fromkeys(
        tuple(row.items()) for row in document["bad_rows"])]
    document.views = (hosts, views)
    return document


def _remediation(hosts: list[dict[str, t.Any]]) -> dict[str, t.Any] | None:
    """Before -> after of each host a remediation ran on (docs/report-schema.md ``remediation``), compared by the
    function that compares two runs; None when no host was remediated."""
    before, after, steps = {}, {}, {}
    for record in hosts:
        done = mapping(record.get("remediation"))
        if isinstance(done.get("before"), str) and done["before"]:
            before[record["host"]] = done["before"]
            after[record["host"]] = record["status"]
            steps[record["host"]] = texts(done.get("steps"))
    if not before:
        return None
    comparison = compare_statuses(before, after)
    for entry in comparison["hosts"]:
        entry["steps"] = steps[entry["host"]]
    return {"counts": comparison["counts"], "hosts": comparison["hosts"]}


BAD_ROW_KEYS = ("file", "row", "column", "message", "host")


def normalize_bad_rows(rows: t.Any) -> list[dict[str, t.Any]]:
    """The rows of an export that could not be read, each with file, row, column, message and host
    (row, column and host may be null); an entry that is no mapping is kept as its text."""
    normalized = []
    for row in rows if isinstance(rows, (list, tuple)) else []:
        row = row if isinstance(row, Mapping) else {"message": text(row)}
        number = row.get("row")
        normalized.append({
            "file": opt_text(row.get("file")),
            "row": number if isinstance(number, int) and not isinstance(number, bool) else opt_text(number),
            "column": opt_text(row.get("column")),
            "message": text(row.get("message")),
            "host": opt_text(row.get("host")),
        })
    return normalized


def comparison_basis(earlier: t.Any) -> t.Any:
    """What the comparison reads of an earlier report: its run, and each host's name and status.

    The earlier report of 50,000 hosts is some 500 MB once parsed: keeping only this while the new report
    is built and written keeps the two from being in memory at once. Entries that are no mapping are kept
    as they are (the comparison skips them), and a status is read as the comparison reads it.
    """
    if not isinstance(earlier, Mapping):
        return earlier
    hosts = earlier.get("hosts")
    if isinstance(hosts, list):
        hosts = [{"host": record.get("host"), "status": _status_of(record)} if isinstance(record, Mapping) else record
                 for record in hosts]
    return {"run": earlier.get("run"), "hosts": hosts}


def _changes(views: list[dict[str, t.Any]], baseline: t.Any) -> dict[str, t.Any] | None:
    """The comparison with an earlier run (docs/report-schema.md ``changes``), or None without one."""
    if not isinstance(baseline, Mapping) or not isinstance(baseline.get("document"), Mapping):
        return None
    earlier = baseline["document"]
    before = {}
    for index, record in enumerate(earlier.get("hosts") if isinstance(earlier.get("hosts"), list) else []):
        try:
            host = _host_name(index, record)  # first: it refuses what is no record, which _status_of cannot read
        except ValueError:
            continue  # a hand-damaged entry of the earlier report cannot be compared
        before[host] = _status_of(record)
    comparison = compare_statuses(before, {view["host"]: view["status"] for view in views})
    earlier_run = mapping(earlier.get("run"))
    return {
        "previous_run": {"run_id": opt_text(earlier_run.get("run_id")),
                         "generated_at": opt_text(earlier_run.get("generated_at")),
                         "path": opt_text(baseline.get("path"))},
        "counts": comparison["counts"],
        "hosts": comparison["hosts"],
    }
