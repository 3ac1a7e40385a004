# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host records from what a play left in hostvars: the gathered result, the verdict, the gate decision."""

from __future__ import annotations

import datetime
import typing as t

from ansible_collections.codesign.windows.plugins.plugin_utils._gate import decide
from ansible_collections.codesign.windows.plugins.plugin_utils._report.model import NOT_GATHERED
from ansible_collections.codesign.windows.plugins.plugin_utils._report.plain import mapping, plain, shared_plain, texts
from ansible_collections.codesign.windows.plugins.plugin_utils._verdict import evaluate


def _get(host_vars: t.Any, name: str) -> t.Any:
    try:
        return host_vars.get(name) if hasattr(host_vars, "get") else None
    except Exception:  # pylint: disable=broad-except
        # An undefined or broken variable of one host must not lose the whole report.
        return None


def missing_text(verdict: t.Mapping[str, t.Any] | None) -> str | None:
    """What keeps the host from being ready, in words: the verdict's first reason, and the root
    certificate when it is needed (for needs_root_ca the first reason says the update is in place)."""
    if not verdict or verdict.get("ready"):
        return None
    parts = [] if verdict.get("status") == "needs_root_ca" else texts(verdict.get("reasons"))[:1]
    root = mapping(verdict.get("root_ca"))
    if root.get("needed"):
        parts.append(f"the root certificate {root.get('name')} (SHA-1 {root.get('sha1')}) must be imported")
    return "; ".join(parts) or None


def host_record(host: str, host_vars: t.Any, *, gathered_var: str, verdict_var: str, gate_mode: str,
                policy_21h2: str, catalog: t.Any, package: t.Mapping[str, t.Any] | None) -> dict[str, t.Any]:
    """The report record of one host of the play, with the gate's decision for it."""
    gathered = plain(_get(host_vars, gathered_var))
    verdict = plain(_get(host_vars, verdict_var))
    record: dict[str, t.Any] = {"host": host, "status": None, "error": None, "verdict": None, "evidence": None,
                                "warnings": [], "gate": None, "gathered_at": None}
    if not isinstance(gathered, dict) or gathered.get("skipped"):
        record.update(status="failed", error=f"{NOT_GATHERED} (skipped, or the play ended for it before gathering)")
    elif gathered.get("unreachable"):
        record.update(status="unreachable", error=str(gathered.get("msg") or "unreachable"))
    elif not isinstance(mapping(gathered.get("ansible_facts")).get("acs"), dict):
        # failed_when: false keeps the host in the play; the missing facts tell the failure.
        record.update(status="failed", error=str(gathered.get("msg") or "acs_facts returned no evidence"))
    else:
        facts = gathered["ansible_facts"]["acs"]
        evidence = facts.get("evidence")
        if not isinstance(verdict, dict) or "status" not in verdict:
            verdict = evaluate(evidence, policy_21h2=policy_21h2, catalog=catalog)
        record.update(status=verdict["status"], verdict=verdict, evidence=evidence, gathered_at=facts.get("gathered_at"))
    record["warnings"] = texts(gathered.get("warnings")) if isinstance(gathered, dict) else []
    remediation = remediation_of(host_vars)
    if remediation is not None:
        record["remediation"] = remediation
    ready = bool(record["verdict"] and record["verdict"].get("ready") is True)
    record["gate"] = decide(gate_mode, record["status"], ready, record["error"], package,
                            missing=missing_text(record["verdict"]))
    return record


# The role keeps the verdict from before a remediation, and what each step did (roles/acs_readiness/tasks/remediate.yml).
BEFORE_VAR = "acs_verdict_before"
REMEDIATION_VAR = "acs_readiness_remediation"


def remediation_of(host_vars: t.Any) -> dict[str, t.Any] | None:
    """A remediated host's status before, and one line per step (``<step>: <what it said>``); None for a
    host no remediation ran on."""
    before = plain(_get(host_vars, BEFORE_VAR))
    if not isinstance(before, dict) or not isinstance(before.get("status"), str):
        return None
    steps = []
    for step, outcome in sorted(mapping(plain(_get(host_vars, REMEDIATION_VAR))).items()):
        outcome = mapping(outcome)
        if outcome.get("msg"):
            steps.append(f"{step}: {'failed: ' if outcome.get('failed') else ''}{outcome.get('msg')}")
    return {"before": before["status"], "steps": steps}


def _source_files(sources: t.Any) -> list[dict[str, t.Any]]:
    files = []
    for source in sources if isinstance(sources, list) else []:
        source = mapping(source)
        files.append({"file": str(source.get("file") or ""), "format": str(source.get("format") or ""),
                      "first_row": _number(source.get("first_row")), "rows": _number(source.get("rows"))})
    return files


def _number(value: t.Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _row_text(error: t.Mapping[str, t.Any]) -> str:
    where = str(error.get("file") or "the export")
    if error.get("row") is not None:
        where += f", row {error.get('row')}"
    if error.get("column") is not None:
        where += f", column {error.get('column')}"
    return f"{where}: {error.get('message') or 'the row could not be read'}"


def export_record(host: str, exported: t.Any, *, gate_mode: str, policy_21h2: str, catalog: t.Any,
                  package: t.Mapping[str, t.Any] | None) -> dict[str, t.Any]:
    """The report record of a host known only from export files (codesign.windows.acs_export_evidence).

    Nothing was gathered from the host: ``gathered_at`` is null and ``source`` names the files and rows.
    Evidence the export lacks stays null, and the export's notes say what that means for the verdict.
    """
    exported = mapping(shared_plain(exported))
    evidence = exported.get("evidence") if isinstance(exported.get("evidence"), dict) else None
    errors = [mapping(error) for error in exported.get("errors") or [] if isinstance(error, dict)] \
        if isinstance(exported.get("errors"), list) else []
    record: dict[str, t.Any] = {
        "host": host, "status": None, "error": None, "verdict": None, "evidence": evidence,
        "warnings": texts(exported.get("notes")) + [_row_text(error) for error in errors], "gate": None,
        "gathered_at": None,
        "source": {"kind": "export", "files": _source_files(exported.get("sources")),
                   "missing": texts(exported.get("missing"))},
    }
    if evidence is None:
        record.update(status="failed", error="the export gave no evidence record for this host")
    else:
        verdict = evaluate(evidence, policy_21h2=policy_21h2, catalog=catalog)
        record.update(status=verdict["status"], verdict=verdict)
    ready = bool(record["verdict"] and record["verdict"].get("ready") is True)
    record["gate"] = decide(gate_mode, record["status"], ready, record["error"], package,
                            missing=missing_text(record["verdict"]))
    return record


def export_records(exported: t.Any, *, gate_mode: str, policy_21h2: str, catalog: t.Any,
                   package: t.Mapping[str, t.Any] | None) -> list[dict[str, t.Any]]:
    """Report records for every host of an export result's ``records`` (host -> record, or a list of
    records with ``host``), judged here once for all of them, with the options of export_record."""
    if isinstance(exported, dict):
        items = list(exported.items())
    elif isinstance(exported, list):
        items = [(mapping(record).get("host"), record) for record in exported]
    else:
        raise ValueError(f"records must be the records of codesign.windows.acs_export_evidence (a mapping of host "
                         f"to record), got {type(exported).__name__}")
    records = []
    for index, (host, record) in enumerate(items):
        if not isinstance(host, str) or not host.strip():
            raise ValueError(f"records[{index}] has no host name")
        records.append(export_record(host, record, gate_mode=gate_mode, policy_21h2=policy_21h2, catalog=catalog,
                                     package=package))
    return records


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
