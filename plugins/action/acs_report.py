# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""acs_report: write the fleet's ACS readiness report on the controller, once per run (or batch).

It reads each host's gathered result and verdict straight from hostvars in Python, so the
report costs one pass over the data, not a template per host. Writing a report is output,
not a change to any host: the task never reports changed.
"""

from __future__ import annotations

import datetime
import os
import typing as t
from collections.abc import Mapping

from ansible.plugins.action import ActionBase

from ansible_collections.codesign.windows.plugins.plugin_utils._catalog import CatalogError, collection_version, load_catalog
from ansible_collections.codesign.windows.plugins.plugin_utils._gate import GATE_MODES, decide
from ansible_collections.codesign.windows.plugins.plugin_utils._report import (
    build_document,
    read_previous,
    render_markdown,
    write_reports,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._verdict import POLICIES_21H2, evaluate

ARGUMENT_SPEC = {
    "directory": {"type": "path", "required": True},
    "run_id": {"type": "str", "required": True},
    "formats": {"type": "list", "elements": "str", "default": ["json", "csv", "html", "md"],
                "choices": ["json", "csv", "html", "md"]},
    "basename": {"type": "str", "default": "acs-readiness"},
    "gate": {"type": "str", "default": "warn", "choices": list(GATE_MODES)},
    "policy_21h2": {"type": "str", "default": "strict", "choices": list(POLICIES_21H2)},
    "catalog": {"type": "raw"},
    "package": {"type": "dict"},
    "hosts": {"type": "list", "elements": "str"},
    "gathered_var": {"type": "str", "default": "acs_readiness_gathered"},
    "verdict_var": {"type": "str", "default": "acs_verdict"},
    "run_info": {"type": "dict", "default": {}},
}


def plain(value: t.Any) -> t.Any:
    """Builtin containers and scalars only: hostvars hand out Ansible's own lazy and tagged types."""
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)


def _get(host_vars: t.Any, name: str) -> t.Any:
    try:
        return host_vars.get(name) if hasattr(host_vars, "get") else None
    except Exception:  # pylint: disable=broad-except
        # An undefined or broken variable of one host must not lose the whole report.
        return None


def _missing(verdict: dict[str, t.Any] | None) -> str | None:
    """What keeps the host from being ready, in words: the verdict's first reason, and the root
    certificate when it is needed (for needs_root_ca the first reason says the update is in place)."""
    if not verdict or verdict.get("ready"):
        return None
    parts = [] if verdict.get("status") == "needs_root_ca" else list((verdict.get("reasons") or [])[:1])
    root = verdict.get("root_ca") or {}
    if root.get("needed"):
        parts.append(f"the root certificate {root.get('name')} (SHA-1 {root.get('sha1')}) must be imported")
    return "; ".join(parts) or None


class ActionModule(ActionBase):
    """Write the readiness report and decide the gate per host."""

    _supports_check_mode = True
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        result["changed"] = False
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            catalog = load_catalog(args["catalog"])
        except CatalogError as exc:
            result.update(failed=True, msg=f"acs_report: catalog: {exc}")
            return result

        hosts = args["hosts"] or list(task_vars.get("ansible_play_batch") or [])
        hostvars = task_vars.get("hostvars") or {}
        package = plain(args["package"]) if args["package"] else None
        records = [self._record(host, hostvars[host] if host in hostvars else {}, args, catalog, package)
                   for host in hosts]

        run = {
            "run_id": args["run_id"],
            "generated_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "policy_21h2": args["policy_21h2"],
            "gate_mode": args["gate"],
            "catalog_version": catalog.version,
            "collection_version": collection_version(),
            "agent_package": package,
            **plain(args["run_info"]),
        }
        # Relative to where ansible-playbook runs, and absolute in the result (set_stats, copy tasks).
        directory = os.path.abspath(args["directory"])
        previous = read_previous(directory, args["basename"])
        document = build_document(records, run, previous)
        try:
            paths = write_reports(document, directory, tuple(args["formats"]), args["basename"])
        except OSError as exc:
            result.update(failed=True, msg=f"acs_report: cannot write the report in {directory}: {exc}")
            return result

        result.update(
            paths=paths,
            summary=document["summary"],
            products=document.get("products", {}),
            hold_back=document.get("hold_back", []),
            decisions={record["host"]: record["gate"] for record in records},
            markdown=render_markdown(document, paths=paths),
            hosts_in_report=len(document["hosts"]),
            msg=f"report on {len(document['hosts'])} hosts written to {directory}",
        )
        return result

    def _record(self, host: str, host_vars: t.Any, args: dict[str, t.Any], catalog, package) -> dict[str, t.Any]:
        gathered = plain(_get(host_vars, args["gathered_var"]))
        verdict = plain(_get(host_vars, args["verdict_var"]))
        record: dict[str, t.Any] = {"host": host, "status": None, "error": None, "verdict": None, "evidence": None,
                                    "warnings": [], "gate": None, "gathered_at": None}
        if not isinstance(gathered, dict) or gathered.get("skipped"):
            record.update(status="failed", error="acs_facts did not run on this host (skipped, or the play ended "
                                                 "for it before gathering)")
        elif gathered.get("unreachable"):
            record.update(status="unreachable", error=str(gathered.get("msg") or "unreachable"))
        elif not isinstance((gathered.get("ansible_facts") or {}).get("acs"), dict):
            # failed_when: false keeps the host in the play; the missing facts tell the failure.
            record.update(status="failed", error=str(gathered.get("msg") or "acs_facts returned no evidence"))
        else:
            facts = gathered["ansible_facts"]["acs"]
            evidence = facts.get("evidence")
            if not isinstance(verdict, dict) or "status" not in verdict:
                verdict = evaluate(evidence, policy_21h2=args["policy_21h2"], catalog=catalog)
            record.update(status=verdict["status"], verdict=verdict, evidence=evidence,
                          gathered_at=facts.get("gathered_at"))
        record["warnings"] = [str(item) for item in (gathered or {}).get("warnings") or []] if isinstance(
            gathered, dict) else []
        ready = bool(record["verdict"] and record["verdict"].get("ready"))
        record["gate"] = decide(args["gate"], record["status"], ready, record["error"], package,
                                missing=_missing(record["verdict"]))
        return record
