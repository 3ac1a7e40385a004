# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""acs_report: write the fleet's ACS readiness report on the controller, once per run (or batch).

It reads each host's gathered result and verdict straight from hostvars in Python, so the
report costs one pass over the data, not a template per host. Writing a report is output,
not a change to any host: the task never reports changed. The work is in plugin_utils/_report.
"""

from __future__ import annotations

import os

from ansible.plugins.action import ActionBase

from ansible_collections.codesign.windows.plugins.plugin_utils._catalog import CatalogError, collection_version, load_catalog
from ansible_collections.codesign.windows.plugins.plugin_utils._gate import GATE_MODES
from ansible_collections.codesign.windows.plugins.plugin_utils._report import (
    DEFAULT_BASENAME,
    FORMATS,
    export_records,
    host_record,
    render_markdown,
    update_reports,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._report.merge import DEFAULT_SLICE_BASENAME, MergeError, merge_files
from ansible_collections.codesign.windows.plugins.plugin_utils._report.plain import plain
from ansible_collections.codesign.windows.plugins.plugin_utils._report.records import utc_now
from ansible_collections.codesign.windows.plugins.plugin_utils._report.stats import (
    DEFAULT_HOST_LIST_CAP,
    changes_summary,
    published_stats,
    remediation_summary,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._verdict import POLICIES_21H2

ARGUMENT_SPEC = {
    "directory": {"type": "path", "required": True},
    "run_id": {"type": "str", "required": True},
    "formats": {"type": "list", "elements": "str", "default": list(FORMATS), "choices": list(FORMATS)},
    "basename": {"type": "str", "default": DEFAULT_BASENAME},
    "gate": {"type": "str", "default": "warn", "choices": list(GATE_MODES)},
    "policy_21h2": {"type": "str", "default": "strict", "choices": list(POLICIES_21H2)},
    "catalog": {"type": "raw"},
    "package": {"type": "dict"},
    "hosts": {"type": "list", "elements": "str"},
    "gathered_var": {"type": "str", "default": "acs_readiness_gathered"},
    "verdict_var": {"type": "str", "default": "acs_verdict"},
    "run_info": {"type": "dict", "default": {}},
    "records": {"type": "raw"},
    "bad_rows": {"type": "list", "elements": "raw", "default": []},
    "compare": {"type": "bool", "default": True},
    "previous_report": {"type": "path"},
    "slices": {"type": "dict", "options": {
        "files": {"type": "list", "elements": "path"},
        "directory": {"type": "path"},
        "basename": {"type": "str", "default": DEFAULT_SLICE_BASENAME},
        "group": {"type": "str"},
        "expected": {"type": "int"},
        "expected_hosts": {"type": "list", "elements": "str"},
    }},
    "host_list_cap": {"type": "int", "default": DEFAULT_HOST_LIST_CAP},
}


class ActionModule(ActionBase):
    """Write the readiness report and decide the gate per host."""

    _supports_check_mode = True
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        result["changed"] = False
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        if args["host_list_cap"] < 0:
            result.update(failed=True, msg=f"acs_report: host_list_cap must be 0 or more, got {args['host_list_cap']}")
            return result
        try:
            catalog = load_catalog(args["catalog"])
        except CatalogError as exc:
            result.update(failed=True, msg=f"acs_report: catalog: {exc}")
            return result

        package = plain(args["package"]) if args["package"] else None
        # Relative to where ansible-playbook runs, and absolute in the result (set_stats, copy tasks).
        directory = os.path.abspath(args["directory"])
        merged = None
        if args["slices"] is not None:
            # The reports of the slices of one job (AWX job slicing), merged into one fleet report.
            try:
                merged = _merge(args["slices"], directory, args["basename"], args["gate"])
            except ValueError as exc:
                result.update(failed=True, msg=f"acs_report: slices: {exc}")
                return result
            records = merged["records"]
        elif args["records"] is not None:
            # Hosts known from exports (acs_export_evidence), not gathered: judged here, all in one pass.
            try:
                records = export_records(plain(args["records"]), gate_mode=args["gate"],
                                         policy_21h2=args["policy_21h2"], catalog=catalog, package=package)
            except ValueError as exc:
                result.update(failed=True, msg=f"acs_report: records: {exc}")
                return result
        else:
            # Every host of the play, not only this batch's: a host that left the play early is reported too.
            hosts = args["hosts"] or list(task_vars.get("ansible_play_hosts_all") or task_vars.get("ansible_play_batch") or [])
            hostvars = task_vars.get("hostvars") or {}
            records = [host_record(host, hostvars[host] if host in hostvars else {}, gathered_var=args["gathered_var"],
                                   verdict_var=args["verdict_var"], gate_mode=args["gate"],
                                   policy_21h2=args["policy_21h2"], catalog=catalog, package=package)
                       for host in hosts]
        run = {
            "run_id": args["run_id"],
            "generated_at": utc_now(),
            "policy_21h2": args["policy_21h2"],
            "gate_mode": args["gate"],
            "catalog_version": catalog.version,
            "collection_version": collection_version(),
            "agent_package": package,
            **plain(args["run_info"]),
        }
        bad_rows = plain(args["bad_rows"])
        if merged is not None:
            # What the slices were judged with, not this task's defaults; and how complete the merge is.
            run.update({key: value for key, value in merged["run"].items() if value is not None})
            run["merge"] = merged["merge"]
            bad_rows = merged["bad_rows"] + bad_rows
        try:
            document, paths = update_reports(records, run, directory, tuple(args["formats"]), args["basename"],
                                             compare=args["compare"], previous_report=args["previous_report"],
                                             bad_rows=bad_rows)
        except (OSError, ValueError) as exc:
            result.update(failed=True, msg=f"acs_report: cannot write the report in {directory}: {exc}")
            return result

        result.update(
            paths=paths,
            summary=document["summary"],
            products=document["products"],
            hold_back=document["hold_back"],
            decisions={record["host"]: record["gate"] for record in records},
            statuses=_statuses(records, document),
            markdown=render_markdown(document, paths=paths),
            hosts_in_report=len(document["hosts"]),
            bad_rows=len(document["bad_rows"]),
            changes=changes_summary(document["changes"], args["host_list_cap"]),
            remediation=remediation_summary(document.get("remediation"), args["host_list_cap"]),
            stats=published_stats(document, paths, args["run_id"], args["host_list_cap"]),
            msg=f"report on {len(document['hosts'])} hosts written to {directory}",
        )
        if merged is not None:
            result["merge"] = merged["merge"]
            result["msg"] += f" ({merged['merge']['notice']})"
            if merged["warnings"]:
                result["warnings"] = merged["warnings"][:50]
        return result


def _merge(options, directory, basename, gate):
    """merge_files with the task's ``slices`` options; ValueError (MergeError) saying what is wrong."""
    files = options["files"] or None
    if files is None and options["basename"] == basename:
        raise MergeError(f"the slices and the fleet report are both named {basename}: give the slices their own "
                         f"basename (acs_readiness_report_basename: {DEFAULT_SLICE_BASENAME}), or name the files")
    if options["expected"] is not None and options["expected"] < 1:
        raise MergeError(f"expected must be the number of slices (1 or more), got {options['expected']}")
    return merge_files(files, options["directory"] or directory, options["basename"],
                       expected_slices=options["expected"], expected_hosts=options["expected_hosts"],
                       group=options["group"], gate_mode=gate)


def _statuses(records, document):
    """The status of each host this task reported on, as the report has it (an earlier batch of the run may
    have judged a host that this batch has no result for). Only these hosts: groups made from them must not
    bring hosts of another AWX slice, unknown to this inventory, into a later play."""
    in_report = {record["host"]: record["status"] for record in document["hosts"]}
    return {record["host"]: in_report.get(record["host"], record["status"]) for record in records}
