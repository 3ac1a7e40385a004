# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What changed between two sets of host statuses: one night and the next, or before and after a remediation.

Pure: statuses in, one entry per host out. The report's ``changes`` section (docs/report-schema.md) and
the role's ``set_stats`` are made from it.
"""

from __future__ import annotations

import typing as t
from collections.abc import Mapping

from ansible_collections.codesign.windows.plugins.plugin_utils._hostnames import natural_key
from ansible_collections.codesign.windows.plugins.plugin_utils._summary import HOST_ERROR_STATUSES

# In the order a reader looks at them: what got worse first, what nobody knows, then the rest.
CHANGE_KINDS = ("regressed", "unassessed", "new", "changed", "fixed", "gone", "unchanged")
CHANGE_TEXT = {
    "regressed": "Was ready, is not ready now",
    "unassessed": "Could not be checked this time (unreachable or the check failed)",
    "new": "Not in the previous run",
    "changed": "Another status than in the previous run",
    "fixed": "Ready now, was not ready",
    "gone": "In the previous run, not in this one",
    "unchanged": "Same status as in the previous run",
}
READY = "ready"


def change_kind(before: str | None, after: str | None) -> str:
    """The kind of change of one host: ``before``/``after`` are its statuses, None where it was not in that run."""
    if before is None and after is None:
        raise ValueError("a host must be in at least one of the two runs")
    if before is None:
        return "new"
    if after is None:
        return "gone"
    if after in HOST_ERROR_STATUSES:
        # Nothing is known about the host now: calling it regressed or unchanged would be a guess.
        return "unassessed"
    if after == READY and before != READY:
        return "fixed"
    if before == READY and after != READY:
        return "regressed"
    return "unchanged" if before == after else "changed"


def _statuses(hosts: t.Any, which: str) -> dict[str, str]:
    """{host: status} from a mapping of host -> status, or from a list of records with ``host`` and ``status``."""
    if isinstance(hosts, Mapping):
        items = list(hosts.items())
    elif isinstance(hosts, (list, tuple)):
        items = [(record.get("host"), record.get("status")) for record in hosts if isinstance(record, Mapping)]
    else:
        raise ValueError(f"the {which} hosts must be a mapping of host to status or a list of host records, "
                         f"got {type(hosts).__name__}")
    statuses: dict[str, str] = {}
    for host, status in items:
        if isinstance(host, str) and host:
            # A status that is no text (a hand-edited report) still compares: as its text.
            statuses[host] = status if isinstance(status, str) else str(status)
    return statuses


def compare_statuses(before: t.Any, after: t.Any) -> dict[str, t.Any]:
    """Compare two runs: ``{"counts": {kind: n}, "hosts": [{host, change, before, after}]}``.

    ``before`` and ``after`` are each a mapping of host -> status or a list of records with ``host`` and
    ``status``. Every host of either run has one entry, sorted by kind (CHANGE_KINDS) and then by name.
    """
    old = _statuses(before, "previous")
    new = _statuses(after, "current")
    entries = [{"host": host, "change": change_kind(old.get(host), new.get(host)),
                "before": old.get(host), "after": new.get(host)}
               for host in {**old, **new}]
    rank = {kind: index for index, kind in enumerate(CHANGE_KINDS)}
    entries.sort(key=lambda entry: (rank[entry["change"]], natural_key(entry["host"])))
    counts = dict.fromkeys(CHANGE_KINDS, 0)
    for entry in entries:
        counts[entry["change"]] += 1
    return {"counts": counts, "hosts": entries}


def hosts_by_change(comparison: t.Mapping[str, t.Any], cap: int | None = None) -> dict[str, t.Any]:
    """{kind: [host...]} for every kind but ``unchanged``, each list cut at ``cap`` hosts;
    ``truncated`` names the kinds whose list was cut, with their full count."""
    lists: dict[str, list[str]] = {kind: [] for kind in CHANGE_KINDS if kind != "unchanged"}
    for entry in comparison.get("hosts") or []:
        if entry.get("change") in lists:
            lists[entry["change"]].append(entry["host"])
    truncated = {}
    if cap is not None:
        for kind, hosts in lists.items():
            if len(hosts) > cap:
                truncated[kind] = len(hosts)
                lists[kind] = hosts[:cap]
    return {**lists, "truncated": truncated}
