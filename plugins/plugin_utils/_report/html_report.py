# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTML page: a view model built here, displayed by ``templates/report.html.j2``.

The markup, the style sheet and the script are files shipped beside this module and rendered
with Jinja2 (autoescape on, undefined names an error). The page is self-contained: nothing loads
from the network, and its Content-Security-Policy lets only its own style and script run, by
their SHA-256, computed from the files when the page is rendered.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import typing as t
from collections.abc import Mapping

import jinja2
from markupsafe import Markup

from ansible_collections.codesign.windows.plugins.plugin_utils._report import agents as agent_model
from ansible_collections.codesign.windows.plugins.plugin_utils._report.compare import CHANGE_KINDS, CHANGE_TEXT
from ansible_collections.codesign.windows.plugins.plugin_utils._report.model import (
    NEXT_STEP_CHARS,
    NOT_ASSESSED_STATUSES,
    STATUS_ORDER,
    STATUS_TEXT,
    counts as count_views,
    host_views,
    package_lines,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._report.plain import (
    display,
    mapping,
    shorten,
    text,
    texts,
    unique,
    without_cycle_collection,
)

TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
GATE_TEXT = {"allow": "Allowed", "block": "Blocked", "warn": "Allowed, warned", "skip": "Not checked"}
KB_KIND_TEXT = {"monthly_rollup": "monthly rollup", "security_only": "security-only update",
                "cumulative_update": "cumulative update"}
CHANGE_LABEL = {"regressed": "Regressed", "unassessed": "Not checked now", "new": "New", "changed": "Changed",
                "fixed": "Fixed", "gone": "Gone", "unchanged": "Unchanged"}
PAGE_SIZE = 250
# Rows written into the page as markup, for a reader without JavaScript (the script lays out every host
# from the page's data, a page at a time): 50,000 rows of markup take Chromium seconds to parse.
STATIC_ROWS = 1_000
PAGE_SIZES = (100, PAGE_SIZE, 1000, 0)
UNFOLDED_LIST = 40
COLUMNS = (("#", "num"), ("Host", "text"), ("Status", "status"), ("Upgrade gate", "text"), ("Windows", "text"),
           ("Version", "text"), ("Update needed", "text"), ("Trend agent", "text"), ("Agent service", "text"),
           ("Next step", "text"))


# ---------------------------------------------------------------------------------------------
# Assets and policy


@functools.lru_cache(maxsize=None)
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                                     undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                                     keep_trailing_newline=True)
    environment.filters["script_json"] = script_json
    return environment


def asset(name: str) -> str:
    with open(os.path.join(TEMPLATES, name), encoding="utf-8") as handle:
        return handle.read()


def page_style() -> str:
    # The colours live with the statuses (model.STATUS_TEXT); until the script takes over, only the
    # first page of the table is laid out.
    return (asset("report.css") + "".join(f".st-{status}::before{{background:{colour}}}\n"
                                          for status, (_label, _meaning, colour) in STATUS_TEXT.items())
            + f"#host-table:not(.live) #hosts tbody tr:nth-child(n+{PAGE_SIZE + 1}){{display:none}}\n"
            + f"#changes:not(.live) #change-table tbody tr:nth-child(n+{PAGE_SIZE + 1}){{display:none}}\n")


def csp_hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode("ascii") + "'"


def content_security_policy(script: str, styles: t.Iterable[str]) -> str:
    # Nothing may load from the network, and only this page's own script and style may run: an
    # escaping mistake elsewhere would still not execute injected markup.
    return ("default-src 'none'; script-src " + csp_hash(script) + "; style-src "
            + " ".join(csp_hash(style) for style in styles)
            + "; img-src 'none'; connect-src 'none'; font-src 'none'; form-action 'none'; base-uri 'none'")


def _raw_text(source: str, element: str) -> Markup:
    # Style and script are raw text in HTML: entities are not decoded there, so they go in as they are.
    # Only our own asset files come this way, and none may close its element.
    if f"</{element}" in source.lower():
        raise ValueError(f"a report asset must not contain </{element}")
    return Markup(source)  # nosec B704 - our own asset file, checked above


def script_json(value: t.Any) -> Markup:
    """JSON for a <script type="application/json"> element: it can neither close the element nor open a comment."""
    encoded = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return Markup(encoded.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e"))  # nosec B704


# ---------------------------------------------------------------------------------------------
# The view model


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
        "kbs": [{"kb": display(item["kb"]), "kind": display(KB_KIND_TEXT.get(item["kind"], item["kind"])),
                 "title": display(item["title"]), "architecture": display(item["architecture"]),
                 "released": display(item["released"]), "url": item["url"]} for item in view["kb_details"]],
        "prerequisites": [display(item) for item in view["prerequisites"]],
        "missing_prerequisites": [display(item) for item in view["missing_prerequisites"]],
        "satisfied_by": display(view["satisfied_by"]),
        "root_ca": root_ca,
        "reasons": [display(item) for item in view["reasons"]],
        "actions": [display(item) for item in view["actions"]],
        "agents": [{"name": display(agent["name"]), "version": display(agent["version"]),
                    "service_state": display(agent["service_state"]), "upgrade_safe": agent["upgrade_safe"],
                    "advice": [display(item) for item in agent["advice"]]} for agent in view["agents"]],
        "warnings": [display(item) for item in view["warnings"]],
        "error": display(view["error"]),
        "gate": display(gate),
    }


def _chart(counts: dict[str, int]) -> dict[str, t.Any]:
    bar_height, gap, label_width, bar_width = 22, 8, 220, 380
    maximum = max([counts[f"status:{status}"] for status in STATUS_ORDER] + [1])
    bars = []
    for row, status in enumerate(STATUS_ORDER):
        count = counts[f"status:{status}"]
        label, _meaning, colour = STATUS_TEXT[status]
        y = gap + row * (bar_height + gap)
        length = 0 if count == 0 else max(2, round(bar_width * count / maximum))
        bars.append({"status": status, "label": label, "colour": colour, "count": count, "y": y, "text_y": y + 16,
                     "length": length, "count_x": label_width + length + 8})
    return {"width": label_width + bar_width + 70, "height": len(STATUS_ORDER) * (bar_height + gap) + gap,
            "label_x": label_width - 10, "bar_x": label_width, "bar_height": bar_height, "bars": bars,
            "description": "; ".join(f"{entry['label']}: {entry['count']}" for entry in bars)}


class _TextTable:
    """Each distinct text once, numbered: the rows of a table in the page's data refer to their texts by
    number, because at 50,000 hosts most cells repeat (a status, a Windows version, a KB, a next step)."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self._numbers: dict[str, int] = {}

    def number(self, value: str) -> int:
        found = self._numbers.get(value)
        if found is None:
            found = self._numbers[value] = len(self.texts)
            self.texts.append(value)
        return found


def _host_table(views: list[dict[str, t.Any]], counts: dict[str, int]) -> tuple[dict[str, t.Any], list[dict[str, t.Any]]]:
    """The host table: every host as data for the page's script, which lays out one page at a time, and the
    first STATIC_ROWS hosts as markup as well, for a reader without JavaScript."""
    details: list[dict[str, t.Any]] = []
    index_of: dict[str, int] = {}
    texts = _TextTable()
    static_rows = []
    data_rows = []
    for position, view in enumerate(views, start=1):
        detail = _detail(view)
        # Hosts in one state share their explanation: storing each text once keeps 10,000 hosts small.
        key = json.dumps(detail, sort_keys=True)
        if key not in index_of:
            index_of[key] = len(details)
            details.append(detail)
        agents = view["agents"]
        # The order the template unpacks: position, status, detail, attention, checked at, host, status text,
        # gate, Windows, version, update needed, agents, agent service, service down, next step.
        row = (position, view["status"], index_of[key], view["attention"], display(view["gathered_at"]), display(view["host"]),
               STATUS_TEXT[view["status"]][0], display(GATE_TEXT.get(view["gate_decision"], view["gate_decision"])),
               display(view["os"]), display(view["os_version"]), display(" or ".join(view["required_kb"])),
               display(", ".join(agent_model.agent_text(agent) for agent in agents)),
               display(agent_model.service_text(agents)) if agents else "", view["service_down"],
               shorten(display(view["next_step"]), NEXT_STEP_CHARS))
        if position <= STATIC_ROWS:
            static_rows.append(row)
        # The fields report.js reads (its STATUS, DETAIL, FLAGS... numbers): status, detail, flags (1 attention,
        # 2 service down), then the texts: checked at, host, status text, gate, Windows, version, update needed,
        # agents, agent service, next step. The position is the row's place in the list.
        data_rows.append([texts.number(row[1]), row[2], int(row[3]) | int(row[13]) << 1,
                          *(texts.number(value) for value in row[4:13]), texts.number(row[14])])
    options = [("", f"All hosts ({counts['total']})"),
               ("attention", f"Needs attention ({sum(1 for view in views if view['attention'])})")]
    options += [(status, f"{STATUS_TEXT[status][0]} ({counts[f'status:{status}']})")
                for status in STATUS_ORDER if counts[f"status:{status}"]]
    table = {"columns": COLUMNS, "rows": static_rows, "options": options, "total": counts["total"],
             "data": {"texts": texts.texts, "rows": data_rows},
             "page_sizes": [(size, size or "All", size == PAGE_SIZE) for size in PAGE_SIZES]}
    return table, details


def _copy_list(element_id: str, title: str, hosts: list[str]) -> dict[str, t.Any]:
    # A long list stays folded: a closed <details> is not laid out, which keeps 10,000 names cheap.
    return {"id": element_id, "title": title, "count": len(hosts), "open": len(hosts) <= UNFOLDED_LIST,
            "rows": min(max(len(hosts), 2), 10), "text": display("\n".join(hosts))}


def _products(products: t.Any) -> list[dict[str, t.Any]]:
    entries = [(key, value) for key, value in sorted(mapping(products).items()) if isinstance(value, Mapping)]
    shown = []
    for number, (product, entry) in enumerate(entries):
        ready, not_ready = texts(entry.get("ready_hosts")), texts(entry.get("not_ready_hosts"))
        down = texts(entry.get("service_down_hosts"))
        versions = mapping(entry.get("versions"))
        shown.append({
            "name": display(entry.get("name") or product), "product": display(product),
            "hosts": _hosts(len(ready) + len(not_ready)), "ready": len(ready), "not_ready": len(not_ready),
            "down": len(down), "down_hosts": display(", ".join(down)),
            "versions": ", ".join(f"{display(version)} ({display(count)})" for version, count in sorted(versions.items())),
            "ready_list": _copy_list(f"product-{number}-ready", "Ready", ready),
            "not_ready_list": _copy_list(f"product-{number}-not-ready", "Not ready", not_ready)})
    return shown


def _hold_back_groups(hold_back: t.Any) -> list[dict[str, t.Any]]:
    """Hold-back hosts grouped by what a person does about them: same status, Windows, advice and actions."""
    groups: dict[tuple, dict[str, t.Any]] = {}
    for entry in hold_back if isinstance(hold_back, list) else []:
        if not isinstance(entry, Mapping) or not text(entry.get("host")):
            continue
        status = entry.get("status") if entry.get("status") in STATUS_TEXT else "unknown"
        agents = [agent for agent in entry.get("agents") if isinstance(agent, Mapping)] \
            if isinstance(entry.get("agents"), list) else []
        advice, actions = tuple(texts(entry.get("advice"))), tuple(texts(entry.get("actions")))
        key = (STATUS_ORDER.index(status), text(entry.get("os")), advice, actions)
        group = groups.setdefault(key, {"status": status, "os": text(entry.get("os")), "advice": advice,
                                        "actions": actions, "agents": [], "hosts": []})
        group["hosts"].append(text(entry.get("host")))
        group["agents"].extend(agent_model.document_agent_text(agent) for agent in agents)
    ordered = [groups[key] for key in sorted(groups, key=lambda key: (-len(groups[key]["hosts"]), key[0], key[1]))]
    return [{"status": group["status"], "status_text": STATUS_TEXT[group["status"]][0],
             "os": display(group["os"] or "Unknown Windows"),
             "agents": display(", ".join(unique(group["agents"])) or "none found"),
             "advice": [display(item) for item in group["advice"]], "actions": [display(item) for item in group["actions"]],
             "hosts": _copy_list(f"hold-back-{number}", "Hosts", group["hosts"])}
            for number, group in enumerate(ordered)]


def _hosts(count: int) -> str:
    return f"{count} host" if count == 1 else f"{count} hosts"


def _run_rows(run: t.Mapping[str, t.Any], total: int) -> list[tuple[str, str]]:
    rows = [("Run", text(run.get("run_id"))), ("Generated (UTC)", text(run.get("generated_at"))),
            ("Hosts", str(total)), ("Upgrade gate mode", text(run.get("gate_mode"))),
            ("Windows 10 21H2 policy", text(run.get("policy_21h2"))),
            ("KB catalog version", text(run.get("catalog_version"))),
            ("codesign.windows version", text(run.get("collection_version"))),
            ("Playbook", text(run.get("playbook"))), ("AWX job", text(run.get("awx_job_id")))]
    return [(label, display(value)) for label, value in rows if value]


def _changes_view(changes: t.Any) -> dict[str, t.Any] | None:
    """The "changed since" view: counts per kind, a row per host whose status moved, a list per kind to copy."""
    if not isinstance(changes, Mapping):
        return None
    earlier = mapping(changes.get("previous_run"))
    counts = mapping(changes.get("counts"))
    entries = [entry for entry in changes.get("hosts") or [] if isinstance(entry, Mapping)]
    moved = [entry for entry in entries if entry.get("change") in CHANGE_TEXT and entry.get("change") != "unchanged"]
    since = text(earlier.get("run_id")) or "the previous run"
    rows = [(entry["change"], CHANGE_LABEL[entry["change"]], display(entry.get("host")),
             display(STATUS_TEXT[entry["before"]][0] if entry.get("before") in STATUS_TEXT else entry.get("before") or "not in the run"),
             display(STATUS_TEXT[entry["after"]][0] if entry.get("after") in STATUS_TEXT else entry.get("after") or "not in the run"))
            for entry in moved]
    # As the host table: every row as data for the script, a page at a time; the first rows as markup too.
    texts = _TextTable()
    data_rows = [[texts.number(value) for value in row] for row in rows]
    return {
        "heading": display(f"Changed since run {since}"
                           + (f" ({text(earlier.get('generated_at'))})" if earlier.get("generated_at") else "")),
        "path": display(earlier.get("path")),
        "cards": [(kind, display(counts.get(kind, 0)), CHANGE_LABEL[kind], CHANGE_TEXT[kind]) for kind in CHANGE_KINDS],
        "rows": rows[:STATIC_ROWS],
        "total": len(rows),
        # The fields of a row, as indexes into texts: change, label, host, before, now.
        "data": {"texts": texts.texts, "rows": data_rows, "page_size": PAGE_SIZE},
        "options": [("", f"All changes ({len(moved)})")] + [
            (kind, f"{CHANGE_LABEL[kind]} ({display(counts.get(kind, 0))})") for kind in CHANGE_KINDS
            if kind != "unchanged" and counts.get(kind)],
        "lists": [_copy_list(f"change-{kind}", CHANGE_LABEL[kind],
                             [text(entry.get("host")) for entry in moved if entry["change"] == kind])
                  for kind in CHANGE_KINDS if kind != "unchanged" and counts.get(kind)],
    }


def _remediation_view(remediation: t.Any) -> dict[str, t.Any] | None:
    """Each remediated host's status before and now, with what was done (the document's ``remediation``)."""
    if not isinstance(remediation, Mapping):
        return None
    counts = mapping(remediation.get("counts"))

    def status_text(status: t.Any) -> str:
        return display(STATUS_TEXT[status][0] if status in STATUS_TEXT else status)
    return {
        "cards": [(kind, display(counts.get(kind, 0)), CHANGE_LABEL[kind]) for kind in CHANGE_KINDS if counts.get(kind)],
        "rows": [(entry.get("change") if entry.get("change") in CHANGE_LABEL else "changed",
                  display(CHANGE_LABEL.get(entry.get("change"), entry.get("change"))), display(entry.get("host")),
                  status_text(entry.get("before")), status_text(entry.get("after")),
                  [display(step) for step in texts(entry.get("steps"))])
                 for entry in remediation.get("hosts") or [] if isinstance(entry, Mapping)],
    }


def _bad_rows_view(bad_rows: t.Any) -> list[tuple[str, str, str, str, str]]:
    return [(display(row.get("file")), display(row.get("row")), display(row.get("column")), display(row.get("host")),
             display(row.get("message")))
            for row in (bad_rows if isinstance(bad_rows, list) else []) if isinstance(row, Mapping)]


def page_view(document: t.Any) -> dict[str, t.Any]:
    """Everything the template shows, as display text (control characters made visible); the template escapes it."""
    views = host_views(document)
    run = mapping(document.get("run"))
    summary = mapping(document.get("summary"))
    counts = count_views(views)
    table, details = _host_table(views, counts)
    not_assessed = [view["host"] for view in views if view["status"] in NOT_ASSESSED_STATUSES]
    hold_back = _hold_back_groups(document.get("hold_back"))
    hold_back_total = sum(group["hosts"]["count"] for group in hold_back)
    return {
        "title": display(f"ACS readiness: {counts['ready']} of {counts['total']} hosts ready"),
        "cards": [("ok", counts["ready"], "Ready"), ("warn", counts["needs_action"], "Need an update, certificate or restart"),
                  ("bad", counts["hold_back"], "Cannot be patched"), ("grey", counts["not_assessed"], "Could not be checked"),
                  ("bad", counts["service_down"], "Trend agent service down")],
        "run_rows": _run_rows(run, counts["total"]),
        # Merged from slices: how complete, in red unless every slice is known to be in.
        "merge_notice": display(mapping(run.get("merge")).get("notice") or ""),
        "merge_class": "muted" if mapping(run.get("merge")).get("complete") is True else "down",
        "package_lines": [display(line) for line in package_lines(run)],
        "chart": _chart(counts),
        "table": table,
        "products": _products(document.get("products")),
        "not_assessed": _copy_list("not-assessed", "Unreachable or failed", not_assessed) if not_assessed else None,
        "hold_back": hold_back,
        "hold_back_heading": f"Hold back: {_hosts(hold_back_total)} cannot be patched",
        "legend": [(status, STATUS_TEXT[status][0], STATUS_TEXT[status][1]) for status in reversed(STATUS_ORDER)],
        "schema_version": display(document.get("schema_version")),
        "total": display(summary.get("total", counts["total"])),
        "status_order": {status: index for index, status in enumerate(STATUS_ORDER)},
        "changes": _changes_view(document.get("changes")),
        "remediation": _remediation_view(document.get("remediation")),
        "bad_rows": _bad_rows_view(document.get("bad_rows")),
        "details": details,
    }


@without_cycle_collection()
def render_html(document: t.Any) -> str:
    """One self-contained page: no request leaves it; every value from the data is escaped."""
    view = page_view(document)
    style, noscript_style, script = page_style(), asset("noscript.css"), asset("report.js")
    return _environment().get_template("report.html.j2").render(
        page=view,
        csp=content_security_policy(script, (style, noscript_style)),
        style=_raw_text(style, "style"), noscript_style=_raw_text(noscript_style, "style"),
        script=_raw_text(script, "script"))
