"""What the role publishes with set_stats stays small at 50,000 hosts: counts whole, host lists capped, a note."""

from __future__ import annotations

import json

import pytest

from ansible_collections.codesign.windows.plugins.plugin_utils import _report
from ansible_collections.codesign.windows.plugins.plugin_utils._report.stats import (
    DEFAULT_HOST_LIST_CAP,
    published_stats,
)

HOSTS = 50_000
PATHS = {"json": "/reports/acs-readiness.json", "html": "/reports/acs-readiness.html"}


def record(index: int) -> dict:
    status = _report.STATUS_ORDER[index % len(_report.STATUS_ORDER)]
    agents = [{"product": "apex_one", "name": "Trend Micro Apex One", "version": "14.0.0.12526",
               "service_state": "stopped" if index % 1000 == 0 else "running", "upgrade_safe": status == "ready"}]
    return {"host": f"web{index:05d}", "status": status, "verdict": {"status": status, "agents": agents}}


@pytest.fixture(scope="module")
def fleet():
    """50,000 hosts, every status, and a previous night without the last 1,000 and with 500 more."""
    records = [record(index) for index in range(HOSTS)]
    earlier = [dict(item, status="ready") for item in records[:HOSTS - 1000]] + [
        {"host": f"gone{index:04d}", "status": "ready"} for index in range(500)]
    baseline = {"document": _report.build_document(earlier, {"run_id": "n1", "generated_at": "x"}), "path": "/r/n1.json"}
    return _report.build_document(records, {"run_id": "n2", "generated_at": "y"}, baseline=baseline)


def host_lists(stats: dict) -> dict[str, list]:
    lists = {key: stats[key] for key in ("ready_hosts", "hosts_needing_action", "hold_back")}
    for product, entry in stats["products"].items():
        lists.update({f"products.{product}.{key}": value for key, value in entry.items() if key.endswith("_hosts")})
    lists.update({f"changes.{kind}": value for kind, value in stats["changes"]["hosts"].items() if kind != "truncated"})
    return lists


def test_fifty_thousand_hosts_publish_a_few_kilobytes(fleet):
    stats = published_stats(fleet, PATHS, "n2")
    assert len(json.dumps(stats)) < 40_000, "every list cut at 100 names"
    assert stats["total"] == HOSTS and stats["ready"] == HOSTS // len(_report.STATUS_ORDER)
    assert sum(stats["by_status"].values()) == HOSTS
    assert stats["host_list_cap"] == DEFAULT_HOST_LIST_CAP == 100
    summary = fleet["summary"]
    assert stats["ready_hosts"] == summary["ready_hosts"][:100]
    assert stats["hosts_needing_action"] == summary["hosts_needing_action"][:100]
    assert all(len(hosts) <= 100 for hosts in host_lists(stats).values())
    assert stats["truncated"] == {
        "ready_hosts": 5_000, "hosts_needing_action": 45_000, "hold_back": 10_000,
        "products.apex_one.ready_hosts": 5_000, "products.apex_one.not_ready_hosts": 45_000,
        "products.apex_one.hold_back_hosts": 10_000}
    assert stats["changes"]["counts"] == fleet["changes"]["counts"]
    assert stats["changes"]["hosts"]["truncated"] == {"regressed": 34_300, "unassessed": 9_800, "new": 1_000,
                                                      "gone": 500}
    left_out = sum(full - 100 for full in stats["truncated"].values()) + \
        sum(full - 100 for full in stats["changes"]["hosts"]["truncated"].values())
    assert stats["note"] == (f"10 host lists cut at 100 names, {left_out} names left out (truncated, "
                             "changes.hosts.truncated and remediation.hosts.truncated give each full length); "
                             "every host is in the report: "
                             "/reports/acs-readiness.json")
    # Counts stay whole whatever the cap.
    assert stats["products"]["apex_one"]["total"] == HOSTS and stats["products"]["apex_one"]["ready"] == 5_000


def test_service_down_list_below_the_cap_is_whole(fleet):
    stats = published_stats(fleet, PATHS, "n2")
    assert stats["products"]["apex_one"]["service_down_hosts"] == [f"web{index:05d}" for index in range(0, HOSTS, 1000)]
    assert "products.apex_one.service_down_hosts" not in stats["truncated"]


def test_a_cap_of_zero_publishes_counts_only(fleet):
    stats = published_stats(fleet, {"csv": "/r/a.csv"}, "n2", cap=0)
    assert all(hosts == [] for hosts in host_lists(stats).values())
    assert stats["total"] == HOSTS and stats["truncated"]["ready_hosts"] == 5_000
    assert stats["note"].endswith("every host is in the report: /r/a.csv")


def test_a_cap_above_the_fleet_cuts_nothing(fleet):
    stats = published_stats(fleet, PATHS, "n2", cap=HOSTS)
    assert stats["truncated"] == {} and stats["changes"]["hosts"]["truncated"] == {} and stats["note"] == ""
    assert stats["ready_hosts"] == fleet["summary"]["ready_hosts"]


@pytest.mark.parametrize("cap", [-1, True, "100", 1.5])
def test_a_cap_that_is_no_count_is_refused(fleet, cap):
    with pytest.raises(ValueError, match="host list cap"):
        published_stats(fleet, PATHS, "n2", cap=cap)


def test_a_small_document_without_changes():
    document = _report.build_document([record(0), record(9)], {"run_id": "r", "generated_at": "z"})
    stats = published_stats(document, {}, "r")
    assert stats["changes"] is None and stats["truncated"] == {} and stats["note"] == ""
    assert stats["ready_hosts"] == ["web00009"] and stats["reports"] == {}
