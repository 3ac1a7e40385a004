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
    host_record,
    render_markdown,
    update_reports,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._report.plain import plain
from ansible_collections.codesign.windows.plugins.plugin_utils._report.records import utc_now
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
        try:
            catalog = load_catalog(args["catalog"])
        except CatalogError as exc:
            result.update(failed=True, msg=f"acs_report: catalog: {exc}")
            return result

        # Every host of the play, not only this batch's: a host that left the play early is reported too.
        hosts = args["hosts"] or list(task_vars.get("ansible_play_hosts_all") or task_vars.get("ansible_play_batch") or [])
        hostvars = task_vars.get("hostvars") or {}
        package = plain(args["package"]) if args["package"] else None
        records = [host_record(host, hostvars[host] if host in hostvars else {}, gathered_var=args["gathered_var"],
                               verdict_var=args["verdict_var"], gate_mode=args["gate"], policy_21h2=args["policy_21h2"],
                               catalog=catalog, package=package)
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
        # Relative to where ansible-playbook runs, and absolute in the result (set_stats, copy tasks).
        directory = os.path.abspath(args["directory"])
        try:
            document, paths = update_reports(records, run, directory, tuple(args["formats"]), args["basename"])
        except (OSError, ValueError) as exc:
            result.update(failed=True, msg=f"acs_report: cannot write the report in {directory}: {exc}")
            return result

        result.update(
            paths=paths,
            summary=document["summary"],
            products=document["products"],
            hold_back=document["hold_back"],
            decisions={record["host"]: record["gate"] for record in records},
            markdown=render_markdown(document, paths=paths),
            hosts_in_report=len(document["hosts"]),
            msg=f"report on {len(document['hosts'])} hosts written to {directory}",
        )
        return result
