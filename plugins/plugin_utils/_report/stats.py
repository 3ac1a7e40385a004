# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet summary the role publishes with set_stats: counts, and host lists cut at a cap.

AWX stores a job's artifacts in its database and hands them to every later node of a workflow as extra
variables; ansible-runner writes them to the job's artifact directory. Every host name of 50,000 hosts
in half a dozen lists would be megabytes there. The counts stay whole; each list of host names stops at
the cap, ``truncated`` gives the full length of each list that was cut, and ``note`` says where every
host is: the report.
"""

from __future__ import annotations

import typing as t
from collections.abc import Mapping

from ansible_collections.codesign.windows.plugins.plugin_utils._report.compare import hosts_by_change
from ansible_collections.codesign.windows.plugins.plugin_utils._report.plain import mapping

# Enough names to act on by hand or to check a few; a fleet larger than that is read from the report.
DEFAULT_HOST_LIST_CAP = 100
# The per-product lists of host names (plugin_utils/_agents.aggregate_products).
PRODUCT_HOST_LISTS = ("ready_hosts", "not_ready_hosts", "hold_back_hosts", "service_down_hosts")
# Where the note sends a reader for the full lists, best first.
_FULL_LIST_FORMATS = ("json", "csv", "html", "md")


def check_cap(cap: t.Any) -> int:
    if not isinstance(cap, int) or isinstance(cap, bool) or cap < 0:
        raise ValueError(f"the host list cap must be a whole number, 0 or more, got {cap!r:.40}")
    return cap


def changes_summary(changes: t.Any, cap: int = DEFAULT_HOST_LIST_CAP) -> dict[str, t.Any] | None:
    """The comparison in brief: the earlier run, the counts and, per kind of change, the host names cut at ``cap``
    (``hosts.truncated`` gives the full length of each list that was cut)."""
    if not isinstance(changes, Mapping):
        return None
    return {"previous_run": changes.get("previous_run"), "counts": changes.get("counts"),
            "hosts": hosts_by_change(changes, cap=check_cap(cap))}


def remediation_summary(remediation: t.Any, cap: int = DEFAULT_HOST_LIST_CAP) -> dict[str, t.Any] | None:
    """Before -> after of a remediation in brief, as changes_summary: the counts and, per kind of change, the
    host names cut at ``cap``; None without a remediation."""
    if not isinstance(remediation, Mapping) or not remediation:
        return None
    return {"counts": remediation.get("counts"), "hosts": hosts_by_change(remediation, cap=check_cap(cap))}


def published_stats(document: t.Mapping[str, t.Any], paths: t.Mapping[str, str], run_id: str,
                    cap: int = DEFAULT_HOST_LIST_CAP) -> dict[str, t.Any]:
    """``acs_readiness`` as the role publishes it: counts whole, lists of host names cut at ``cap`` names."""
    cap = check_cap(cap)
    summary = mapping(document.get("summary"))
    truncated: dict[str, int] = {}

    def cut(name: str, hosts: t.Any) -> list[str]:
        hosts = list(hosts) if isinstance(hosts, (list, tuple)) else []
        if len(hosts) > cap:
            truncated[name] = len(hosts)
            return hosts[:cap]
        return hosts

    products = {}
    for product, entry in mapping(document.get("products")).items():
        entry = dict(mapping(entry))
        for key in PRODUCT_HOST_LISTS:
            if key in entry:
                entry[key] = cut(f"products.{product}.{key}", entry[key])
        products[product] = entry
    hold_back = [item.get("host") for item in document.get("hold_back") or [] if isinstance(item, Mapping)]
    stats = {
        "run_id": run_id,
        "total": summary.get("total"),
        "ready": summary.get("ready"),
        "by_status": summary.get("by_status"),
        "hosts_needing_action": cut("hosts_needing_action", summary.get("hosts_needing_action")),
        "ready_hosts": cut("ready_hosts", summary.get("ready_hosts")),
        "products": products,
        "hold_back": cut("hold_back", hold_back),
        "reports": dict(paths),
        "changes": changes_summary(document.get("changes"), cap),
        "remediation": remediation_summary(document.get("remediation"), cap),
        "host_list_cap": cap,
        "truncated": truncated,
    }
    cut_changes = [full for section in ("changes", "remediation")
                   for full in (mapping(mapping(mapping(stats[section]).get("hosts")).get("truncated")).values())]
    left_out = sum(full - cap for full in truncated.values()) + sum(full - cap for full in cut_changes)
    lists = len(truncated) + len(cut_changes)
    if lists:
        where = next((paths[fmt] for fmt in _FULL_LIST_FORMATS if fmt in paths), "the report")
        stats["note"] = (f"{lists} host list{'s' if lists > 1 else ''} cut at {cap} names, {left_out} names left out "
                         f"(truncated, changes.hosts.truncated and remediation.hosts.truncated give each full length); every host is in the report: "
                         f"{where}")
    else:
        stats["note"] = ""
    return stats
