# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A short Markdown summary that a person reads at the end of a play."""

from __future__ import annotations

import re
import typing as t
from collections.abc import Mapping

from ansible_collections.codesign.windows.plugins.plugin_utils._report import agents as agent_model
from ansible_collections.codesign.windows.plugins.plugin_utils._report.compare import CHANGE_KINDS, CHANGE_TEXT
from ansible_collections.codesign.windows.plugins.plugin_utils._report.model import (
    NEXT_STEP_CHARS,
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
    texts,
    without_cycle_collection,
)


def _md(value: t.Any) -> str:
    """One line of text that neither a terminal nor a Markdown viewer interprets."""
    text = " ".join(display(value).split())
    return re.sub(r"([\\`*<>\[\]|])", r"\\\1", text)


def _md_host(name: str) -> str:
    text = " ".join(display(name).split())
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


@without_cycle_collection()
def render_markdown(document: t.Any, paths: t.Mapping[str, t.Any] | None = None, limit: int = 20) -> str:
    """A short summary a person reads at the end of a play; ``paths`` ({format: path}) says where the reports are."""
    views = host_views(document)
    run = mapping(document.get("run"))
    counts = count_views(views)
    lines = [f"# ACS readiness: {counts['ready']} of {counts['total']} hosts ready", ""]
    if mapping(run.get("merge")).get("notice"):  # a report merged from slices says first how complete it is
        lines += [f"**{_md(mapping(run.get('merge')).get('notice'))}**", ""]
    facts = [f"run {_md(run.get('run_id'))}" if run.get("run_id") else "",
             f"generated {_md(run.get('generated_at'))}" if run.get("generated_at") else "",
             f"gate {_md(run.get('gate_mode'))}" if run.get("gate_mode") else "",
             f"21H2 policy {_md(run.get('policy_21h2'))}" if run.get("policy_21h2") else "",
             f"catalog {_md(run.get('catalog_version'))}" if run.get("catalog_version") else ""]
    if any(facts):
        sentence = "; ".join(fact for fact in facts if fact)
        lines += [sentence[:1].upper() + sentence[1:], ""]
    lines += [f"{_md(line)}" for line in package_lines(run)]
    if package_lines(run):
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
                    what += "; Trend agent service " + agent_model.service_text([a for a in view["agents"] if a["service_down"]]).lower()
                step = shorten(display(view["next_step"]), NEXT_STEP_CHARS)
                lines.append(f"- {_md_host(view['host'])}: {_md(what)}" + (f" - {_md(step)}" if step else ""))
            if len(attention) > limit:
                lines.append(f"- ... and {len(attention) - max(limit, 0)} more (see the HTML or CSV report)")
            lines.append("")
    lines += _changes_lines(document.get("changes"), limit)
    lines += _remediation_lines(document.get("remediation"), limit)
    lines += _bad_row_lines(document.get("bad_rows"), limit)
    products = [(key, value) for key, value in sorted(mapping(document.get("products")).items()) if isinstance(value, Mapping)]
    if products:
        rows = [(_md(entry.get("name") or product), str(len(texts(entry.get("ready_hosts")))),
                 str(len(texts(entry.get("not_ready_hosts")))), str(len(texts(entry.get("service_down_hosts")))))
                for product, entry in products]
        lines += ["## Trend Micro agents", ""]
        lines += _md_table(("Product", "Ready", "Not ready", "Service down"), rows, right=(1, 2, 3)) + [""]
    if paths:
        lines += ["## Reports", ""]
        lines += [f"- {_md(str(fmt).upper())}: {_md(path)}" for fmt, path in paths.items()] + [""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _changes_lines(changes: t.Any, limit: int) -> list[str]:
    if not isinstance(changes, Mapping):
        return []
    earlier = mapping(changes.get("previous_run"))
    counts = mapping(changes.get("counts"))
    lines = [f"## Changed since run {_md(earlier.get('run_id') or 'unknown')}"
             + (f" ({_md(earlier.get('generated_at'))})" if earlier.get("generated_at") else ""), ""]
    rows = [(CHANGE_TEXT[kind], kind, str(counts.get(kind, 0))) for kind in CHANGE_KINDS]
    lines += _md_table(("Change", "Code", "Hosts"), rows, right=(2,)) + [""]
    moved = [entry for entry in changes.get("hosts") or [] if isinstance(entry, Mapping) and entry.get("change") != "unchanged"]
    for entry in moved[:max(limit, 0)]:
        before, after = entry.get("before") or "not in the run", entry.get("after") or "not in the run"
        lines.append(f"- {_md_host(entry.get('host'))}: {_md(entry.get('change'))}, {_md(before)} -> {_md(after)}")
    if len(moved) > limit:
        lines.append(f"- ... and {len(moved) - max(limit, 0)} more (see the HTML or JSON report)")
    return lines + ([""] if moved else [])


def _remediation_lines(remediation: t.Any, limit: int) -> list[str]:
    """Each remediated host's status before -> after, with what was done, hosts that are not fixed first."""
    if not isinstance(remediation, Mapping):
        return []
    counts = mapping(remediation.get("counts"))
    lines = ["## Remediation: before -> after", ""]
    rows = [(CHANGE_TEXT[kind].replace("in the previous run", "before"),
             kind, str(counts.get(kind, 0))) for kind in CHANGE_KINDS if counts.get(kind)]
    lines += _md_table(("Change", "Code", "Hosts"), rows, right=(2,)) + [""]
    entries = [entry for entry in remediation.get("hosts") or [] if isinstance(entry, Mapping)]
    for entry in entries[:max(limit, 0)]:
        steps = "; ".join(_md(step) for step in texts(entry.get("steps")))
        lines.append(f"- {_md_host(entry.get('host'))}: {_md(entry.get('before'))} -> {_md(entry.get('after'))}"
                     + (f" ({steps})" if steps else ""))
    if len(entries) > limit:
        lines.append(f"- ... and {len(entries) - max(limit, 0)} more (see the HTML or JSON report)")
    return lines + [""]


def _bad_row_lines(bad_rows: t.Any, limit: int) -> list[str]:
    rows = [row for row in bad_rows if isinstance(row, Mapping)] if isinstance(bad_rows, list) else []
    if not rows:
        return []
    lines = [f"## Rows that could not be read ({len(rows)})", ""]
    for row in rows[:max(limit, 0)]:
        where = _md(row.get("file") or "the export")
        where += f", row {_md(row.get('row'))}" if row.get("row") is not None else ""
        where += f", column {_md(row.get('column'))}" if row.get("column") is not None else ""
        host = f" ({_md_host(row.get('host'))})" if row.get("host") else ""
        lines.append(f"- {where}{host}: {_md(row.get('message'))}")
    if len(rows) > limit:
        lines.append(f"- ... and {len(rows) - max(limit, 0)} more (see the HTML or JSON report)")
    return lines + [""]


# ---------------------------------------------------------------------------------------------
# Files
