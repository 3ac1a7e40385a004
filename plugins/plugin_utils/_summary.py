# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fleet summary: counts per status, per OS and per Trend product, and who needs action."""

from __future__ import annotations

import typing as t

from ansible_collections.codesign.windows.plugins.plugin_utils._agents import aggregate_products
from ansible_collections.codesign.windows.plugins.plugin_utils._verdict import STATUSES

# Statuses a report adds for hosts that gave no verdict.
HOST_ERROR_STATUSES = ("unreachable", "failed")


class SummaryError(ValueError):
    """The input is not a list of verdicts or the query is unusable."""


def host_records(verdicts: t.Any) -> list[dict[str, t.Any]]:
    """Accept {host: verdict} or [verdict-with-host, ...]; return a list of records with a 'host' key."""
    if isinstance(verdicts, t.Mapping):
        records = []
        for host, verdict in verdicts.items():
            if not isinstance(verdict, t.Mapping):
                raise SummaryError(f"the verdict of {host} is not a mapping (got {type(verdict).__name__})")
            records.append({**verdict, "host": verdict.get("host", host)})
        return records
    if isinstance(verdicts, (list, tuple)):
        records = []
        for index, verdict in enumerate(verdicts):
            if not isinstance(verdict, t.Mapping):
                raise SummaryError(f"item {index} is not a verdict mapping (got {type(verdict).__name__})")
            record = dict(verdict)
            record.setdefault("host", f"#{index}")
            records.append(record)
        return records
    raise SummaryError(f"expected a list of verdicts or a mapping of host to verdict, got {type(verdicts).__name__}")


def _select(records: list[dict[str, t.Any]], query: str | None) -> list[dict[str, t.Any]]:
    if query is None or query == "":
        return records
    if not isinstance(query, str):
        raise SummaryError(f"query must be a JMESPath string, got {type(query).__name__}")
    try:
        import jmespath  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise SummaryError("the query option needs the Python library jmespath on the controller "
                           "(pip install jmespath)") from None
    try:
        selected = jmespath.search(query, records)
    except jmespath.exceptions.JMESPathError as exc:
        raise SummaryError(f"the query {query!r} is not valid JMESPath: {exc}") from None
    if selected is None:
        return []
    if not isinstance(selected, list) or not all(isinstance(item, t.Mapping) and "status" in item for item in selected):
        raise SummaryError(f"the query {query!r} must select host verdicts (a list of the input items), "
                           "for example \"[?os.family=='6.x']\"")
    return [dict(item) for item in selected]


def _os_name(record: t.Mapping[str, t.Any]) -> str:
    os_info = record.get("os")
    if isinstance(os_info, t.Mapping) and isinstance(os_info.get("name"), str):
        return os_info["name"]
    return "unknown"


def summarize(verdicts: t.Any, query: str | None = None) -> dict[str, t.Any]:
    records = _select(host_records(verdicts), query)
    by_status: dict[str, int] = {status: 0 for status in STATUSES}
    by_os: dict[str, dict[str, int]] = {}
    ready_hosts: list[str] = []
    needing_action: list[str] = []
    for record in records:
        host = str(record.get("host"))
        status = str(record.get("status", "unknown"))
        by_status[status] = by_status.get(status, 0) + 1
        os_counts = by_os.setdefault(_os_name(record), {})
        os_counts[status] = os_counts.get(status, 0) + 1
        if status == "ready":
            ready_hosts.append(host)
        else:
            needing_action.append(host)
    by_product = aggregate_products(records)
    for entry in by_product.values():
        # The name this filter used before the report and the summary shared one aggregation.
        entry["service_not_running"] = list(entry["service_down_hosts"])
    return {
        "total": len(records),
        "ready": len(ready_hosts),
        "not_ready": len(needing_action),
        "by_status": by_status,
        "by_os": dict(sorted(by_os.items())),
        "by_product": dict(sorted(by_product.items())),
        "ready_hosts": sorted(ready_hosts),
        "hosts_needing_action": sorted(needing_action),
    }
