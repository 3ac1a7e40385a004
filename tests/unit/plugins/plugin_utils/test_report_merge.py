"""Merging the JSON reports of the slices of one job into one fleet report (plugin_utils/_report/merge.py)."""

from __future__ import annotations

import json
import os
import random

import pytest

from ansible_collections.codesign.windows.plugins.plugin_utils._report import (
    build_document,
    find_baseline,
    render_csv,
    render_html,
    render_markdown,
    update_reports,
    write_reports,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._report.merge import (
    MergeError,
    find_slice_files,
    merge_files,
    merge_slices,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._report.model import NOT_GATHERED

SLICE = "acs-readiness-slice"


def record(host, status, gathered_at="2026-11-22T03:00:00Z", error=None):
    verdict = None if status in ("unreachable", "failed") else {"status": status, "ready": status == "ready"}
    return {"host": host, "status": status, "error": error or (f"{status} here" if verdict is None else None),
            "verdict": verdict, "evidence": None, "warnings": [], "gate": {"mode": "off", "decision": "skip", "reason": None},
            "gathered_at": gathered_at if verdict is not None else None}


def write_slice(directory, job_id, records, group="900", generated_at="2026-11-22T03:05:00Z", **run):
    run = {"run_id": f"awx-{job_id}", "generated_at": generated_at, "policy_21h2": "strict", "gate_mode": "off",
           "catalog_version": "2026.11", "awx_job_id": job_id, "awx_workflow_job_id": group, **run}
    write_reports(build_document(records, run), directory, ["json"], SLICE)
    return os.path.join(directory, f"{SLICE}-awx-{job_id}.json")


FLEET = {f"web{n}": status for n, status in enumerate(
    ["ready", "needs_kb", "ready", "needs_esu", "unreachable", "needs_root_ca", "ready", "failed", "reboot_pending"], 1)}


def three_slices(directory, group="900"):
    """The fleet cut as AWX cuts an inventory: sorted by name, slice k takes every third host from the k-th."""
    hosts = sorted(FLEET)
    return [write_slice(directory, 100 + k, [record(host, FLEET[host]) for host in hosts[k::3]], group=group)
            for k in range(3)]


def statuses(records):
    return {item["host"]: item["status"] for item in records}


def test_three_slices_give_every_host_once_and_the_counts_add_up(tmp_path):
    paths = three_slices(str(tmp_path))
    merged = merge_files(None, str(tmp_path), expected_slices=3)
    assert statuses(merged["records"]) == FLEET
    assert merged["merge"]["complete"] is True
    assert merged["merge"]["merged_slices"] == 3 and merged["merge"]["missing_slices"] == 0
    assert [item["file"] for item in merged["merge"]["slices"]] == paths
    assert merged["merge"]["notice"] == "Merged from 3 of 3 slice reports."
    assert merged["bad_rows"] == [] and merged["warnings"] == []
    fleet = build_document(merged["records"], {"run_id": "fleet", **merged["run"], "merge": merged["merge"]},
                           bad_rows=merged["bad_rows"])["summary"]
    parts = [json.loads(open(path, encoding="utf-8").read())["summary"] for path in paths]
    assert fleet["total"] == sum(part["total"] for part in parts) == len(FLEET)
    for status, count in fleet["by_status"].items():
        assert count == sum(part["by_status"][status] for part in parts)
    assert fleet["ready_hosts"] == ["web1", "web3", "web7"]


def test_a_missing_slice_makes_the_report_say_it_is_incomplete_in_every_readable_format(tmp_path):
    paths = three_slices(str(tmp_path))
    os.unlink(paths[1])
    merged = merge_files(None, str(tmp_path), expected_slices=3)
    assert merged["merge"]["complete"] is False and merged["merge"]["missing_slices"] == 1
    assert merged["merge"]["notice"].startswith("INCOMPLETE: Merged from 2 of 3 slice reports; 1 slice missing")
    assert set(statuses(merged["records"])) == set(sorted(FLEET)[0::3] + sorted(FLEET)[2::3])
    problem = merged["bad_rows"][0]
    assert "1 of 3 slices have no report file" in problem["message"]
    assert problem["file"].endswith(f"{SLICE}-*.json")
    document = build_document(merged["records"], {"run_id": "fleet", "merge": merged["merge"]}, bad_rows=merged["bad_rows"])
    assert "**INCOMPLETE: Merged from 2 of 3 slice reports" in render_markdown(document)
    assert '<p class="down" id="merge-notice">INCOMPLETE: Merged from 2 of 3' in render_html(document)
    whole = merge_files(None, str(tmp_path), expected_slices=2)
    document = build_document(whole["records"], {"run_id": "fleet", "merge": whole["merge"]})
    assert '<p class="muted" id="merge-notice">Merged from 2 of 2 slice reports.</p>' in render_html(document)


def test_without_the_expected_count_the_report_says_a_missing_slice_cannot_be_seen(tmp_path):
    three_slices(str(tmp_path))
    merged = merge_files(None, str(tmp_path))
    assert merged["merge"]["complete"] is None
    assert "the number of slices expected was not given" in merged["merge"]["notice"]
    assert any("a missing slice cannot be detected" in warning for warning in merged["warnings"])


def test_expected_hosts_no_slice_reported_are_failed_in_every_format(tmp_path):
    paths = three_slices(str(tmp_path))
    os.unlink(paths[0])
    merged = merge_files(None, str(tmp_path), expected_slices=3, expected_hosts=sorted(FLEET))
    lost = sorted(FLEET)[0::3]
    assert merged["merge"]["hosts_not_reported"] == len(lost) and merged["merge"]["not_reported"] == sorted(lost)
    records = {item["host"]: item for item in merged["records"]}
    assert set(records) == set(FLEET)
    for host in lost:
        assert records[host]["status"] == "failed" and records[host]["error"].startswith("no slice reported this host")
    document = build_document(merged["records"], {"run_id": "fleet", "merge": merged["merge"]})
    assert all(f"{host}," in render_csv(document) for host in lost)


@pytest.mark.parametrize(("content", "message"), [
    (None, "the file is missing"),
    (b"", "the file is empty"),
    (b'{"schema_version": 1, "run": {"run_id": "awx-1"}, "hosts": [{"host": "a", "sta', "not complete JSON (truncated?)"),
    (b'{"schema_version": 2, "run": {"run_id": "awx-1"}, "hosts": []}', "not a report of schema version 1 (schema_version 2)"),
    (b'{"schema_version": "1", "run": {}, "hosts": []}', "schema_version '1'"),
    (b"[1, 2]", "holds no JSON object"),
    (b'{"schema_version": 1, "run": [], "hosts": []}', "no run or no hosts list"),
    (b'{"schema_version": 1, "run": {"run_id": ""}, "hosts": []}', "its run has no run_id"),
    (b'{"schema_version": 1, "run": {"run_id": "x"}, "hosts": [], "x": NaN}', "not complete JSON"),
    (b"\xff\xfe{}", "not UTF-8"),
    (b"[" * 200_000 + b"]" * 200_000, "nests too deeply"),
    (b'{"schema_version": 1, "run": {"run_id": "awx-7", "merge": {"complete": true}}, "hosts": []}',
     "a merged fleet report, not the report of one slice"),
])
def test_a_bad_slice_file_is_named_and_loses_nothing_else(tmp_path, content, message):
    paths = three_slices(str(tmp_path))
    bad = str(tmp_path / "bad-slice.json")
    if content is not None:
        with open(bad, "wb") as handle:
            handle.write(content)
    merged = merge_files(paths + [bad], str(tmp_path), expected_slices=4)
    assert statuses(merged["records"]) == FLEET
    assert merged["merge"]["complete"] is False and merged["merge"]["bad_file_count"] == 1
    assert merged["merge"]["bad_files"][0]["file"] == bad and message in merged["merge"]["bad_files"][0]["problem"]
    assert any(row["file"] == bad and message in row["message"] for row in merged["bad_rows"])
    assert any(warning.startswith(f"{bad}: slice report not merged") for warning in merged["warnings"])
    assert merged["merge"]["notice"].startswith("INCOMPLETE: Merged from 3 of 4 slice reports")


def test_a_directory_and_an_unreadable_file_are_named(tmp_path):
    paths = three_slices(str(tmp_path))
    locked = tmp_path / "locked.json"
    locked.write_text("{}", encoding="utf-8")
    locked.chmod(0)
    try:
        merged = merge_slices(paths + [str(tmp_path), str(locked)], named=True)
    finally:
        locked.chmod(0o600)
    problems = {item["file"]: item["problem"] for item in merged["merge"]["bad_files"]}
    assert "it is a directory" in problems[str(tmp_path)]
    if os.geteuid() != 0:
        assert "cannot be read" in problems[str(locked)]


def test_a_host_in_two_slices_is_reported_once_from_its_newest_record_with_a_warning(tmp_path):
    first = write_slice(str(tmp_path), 1, [record("a", "needs_kb", "2026-11-22T03:00:00Z"), record("b", "ready")])
    second = write_slice(str(tmp_path), 2, [record("a", "ready", "2026-11-22T04:00:00Z"), record("c", "ready")],
                         generated_at="2026-11-22T02:00:00Z")
    merged = merge_files(None, str(tmp_path), expected_slices=2)
    records = {item["host"]: item for item in merged["records"]}
    assert statuses(merged["records"]) == {"a": "ready", "b": "ready", "c": "ready"}
    assert merged["merge"]["duplicate_hosts"] == 1
    assert merged["merge"]["duplicates"] == [{"host": "a", "kept": second, "also_in": [first]}]
    assert any("a has 2 records in the slices; the newest record" in warning and first in warning for warning in records["a"]["warnings"])
    assert any("1 hosts are in more than one slice" in warning for warning in merged["warnings"])
    assert merged["merge"]["complete"] is True  # a duplicate loses no host
    assert "1 host in more than one slice (newest record kept)" in merged["merge"]["notice"]


def test_an_unreachable_record_without_time_takes_its_slices_time(tmp_path):
    write_slice(str(tmp_path), 1, [record("a", "ready", "2026-11-22T03:00:00Z")], generated_at="2026-11-22T03:01:00Z")
    write_slice(str(tmp_path), 2, [record("a", "unreachable")], generated_at="2026-11-22T05:00:00Z")
    assert statuses(merge_files(None, str(tmp_path))["records"]) == {"a": "unreachable"}


def test_a_host_not_gathered_never_replaces_one_that_was(tmp_path):
    write_slice(str(tmp_path), 1, [record("a", "needs_kb", "2026-11-22T03:00:00Z")])
    write_slice(str(tmp_path), 2, [record("a", "failed", error=f"{NOT_GATHERED} (skipped)")], generated_at="2026-11-23T00:00:00Z")
    assert statuses(merge_files(None, str(tmp_path))["records"]) == {"a": "needs_kb"}


def test_only_the_slices_of_the_newest_job_are_merged_by_default(tmp_path):
    write_slice(str(tmp_path), 1, [record("old-only", "ready")], group="800", generated_at="2026-11-21T03:00:00Z")
    write_slice(str(tmp_path), 2, [record("a", "ready")], group="900")
    write_slice(str(tmp_path), 3, [record("b", "needs_kb")], group="900")
    merged = merge_files(None, str(tmp_path))
    assert statuses(merged["records"]) == {"a": "ready", "b": "needs_kb"} and merged["merge"]["group"] == "900"
    older = merge_files(None, str(tmp_path), group="800")
    assert statuses(older["records"]) == {"old-only": "ready"}


def test_named_files_of_another_job_are_left_out_when_a_group_is_given(tmp_path):
    other = write_slice(str(tmp_path), 1, [record("x", "ready")], group="800")
    mine = write_slice(str(tmp_path), 2, [record("a", "ready")], group="900")
    merged = merge_files([other, mine], str(tmp_path), group="900")
    assert statuses(merged["records"]) == {"a": "ready"}
    assert "belongs to another job" in merged["merge"]["bad_files"][0]["problem"]
    mixed = merge_files([other, mine], str(tmp_path))
    assert statuses(mixed["records"]) == {"a": "ready", "x": "ready"}
    assert any("come from different jobs" in warning for warning in mixed["warnings"])


def test_a_slice_without_a_workflow_job_needs_named_files(tmp_path):
    write_slice(str(tmp_path), 1, [record("a", "ready")], group=None)
    with pytest.raises(MergeError, match="names no AWX workflow job"):
        merge_files(None, str(tmp_path))


def test_no_slice_at_all_is_an_error_naming_the_directory(tmp_path):
    with pytest.raises(MergeError, match=f"no slice report {SLICE}-<run_id>.json in {tmp_path}"):
        merge_files(None, str(tmp_path))
    (tmp_path / f"{SLICE}-awx-1.json").write_text("{", encoding="utf-8")
    with pytest.raises(MergeError, match="no slice report could be merged: .*not complete JSON"):
        merge_files(None, str(tmp_path))


def test_two_files_of_one_run_are_one_slice(tmp_path):
    path = write_slice(str(tmp_path), 1, [record("a", "ready")])
    copy = tmp_path / "copy.json"
    copy.write_bytes(open(path, "rb").read())
    merged = merge_slices([path, str(copy)], named=True, expected_slices=1)
    assert merged["merge"]["merged_slices"] == 1 and merged["merge"]["complete"] is True
    assert merged["merge"]["duplicate_hosts"] == 0


def test_slices_judged_differently_are_merged_with_a_warning(tmp_path):
    write_slice(str(tmp_path), 1, [record("a", "ready")], policy_21h2="strict", generated_at="2026-11-22T03:00:00Z")
    write_slice(str(tmp_path), 2, [record("b", "ready")], policy_21h2="lenient", generated_at="2026-11-22T03:10:00Z")
    merged = merge_files(None, str(tmp_path))
    assert merged["run"]["policy_21h2"] == "lenient"
    assert any("the slices differ in policy_21h2 (lenient, strict)" in warning for warning in merged["warnings"])


def test_hostile_records_are_named_or_cleaned_never_raised(tmp_path):
    hostile = [
        {"host": "ok\x1b[31m\u202egood", "status": "ready", "verdict": {"status": "ready", "ready": True}},
        {"status": "ready"},  # no host name
        "not a mapping",
        {"host": "wide", "status": "ready", "evidence": {f"k{n}": n for n in range(3000)}},
        {"host": "deep", "status": "ready", "evidence": json.loads("[" * 40 + "]" * 40)},
        {"host": "odd", "status": {"x": 1}, "verdict": [1], "gathered_at": 12, "warnings": "one"},
        {"host": "huge", "status": "ready", "error": "x" * 100_000, "verdict": None},
    ]
    document = {"schema_version": 1, "run": {"run_id": "awx-1", "awx_workflow_job_id": 5, "generated_at": ["no"]},
                "hosts": hostile, "bad_rows": [{"file": 7}, "text", None]}
    path = tmp_path / f"{SLICE}-awx-1.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    merged = merge_files(None, str(tmp_path))
    records = {item["host"]: item for item in merged["records"]}
    assert set(records) == {"okgood", "odd", "huge"}
    assert records["odd"]["status"] == "unknown" and records["odd"]["verdict"] is None
    assert len(records["huge"]["error"]) <= 4096
    messages = [row["message"] for row in merged["bad_rows"]]
    assert any("host record 1 not merged" in message and "no host name" in message for message in messages)
    assert any("host record 2 not merged" in message for message in messages)
    assert any("host record 3 not merged" in message and "3,000 keys" in message for message in messages)
    assert any("host record 4 not merged" in message and "nested deeper" in message for message in messages)
    assert merged["merge"]["unreadable_host_records"] == 4 and merged["merge"]["complete"] is False
    assert merged["merge"]["notice"].startswith("INCOMPLETE: ") and "4 host records could not be read" in merged["merge"]["notice"]
    document = build_document(merged["records"], {"run_id": "fleet", "merge": merged["merge"]}, bad_rows=merged["bad_rows"])
    for render in (render_csv, render_html, render_markdown):
        render(document)


@pytest.mark.parametrize("seed", range(40))
def test_no_damage_to_a_slice_file_raises(tmp_path, seed):
    paths = three_slices(str(tmp_path))
    data = bytearray(open(paths[0], "rb").read())
    rng = random.Random(seed)
    for _change in range(rng.randint(1, 8)):
        position = rng.randrange(len(data))
        action = rng.choice(("flip", "cut", "insert"))
        if action == "flip":
            data[position] = rng.randrange(256)
        elif action == "cut":
            del data[position:position + rng.randint(1, 200)]
        else:
            data[position:position] = rng.choice([b"{", b"]", b'"', b"\\u0000", b"1e999", b"\xc3", b"null"])
    with open(paths[0], "wb") as handle:
        handle.write(bytes(data))
    merged = merge_files(None, str(tmp_path), group="900", expected_slices=3)
    build_document(merged["records"], {"run_id": "fleet", "merge": merged["merge"]}, bad_rows=merged["bad_rows"])
    assert set(statuses(merged["records"])) >= set(sorted(FLEET)[1::3] + sorted(FLEET)[2::3])


def test_slice_files_are_the_run_files_of_the_basename_only(tmp_path):
    paths = three_slices(str(tmp_path))
    (tmp_path / f"{SLICE}.json").write_text("{}", encoding="utf-8")
    (tmp_path / "acs-readiness-awx-1.json").write_text("{}", encoding="utf-8")
    assert find_slice_files(str(tmp_path)) == sorted(paths)


def test_the_merged_report_is_the_previous_run_of_the_next_night(tmp_path):
    three_slices(str(tmp_path))
    merged = merge_files(None, str(tmp_path), expected_slices=3)
    run = {"run_id": "awx-500", "generated_at": "2026-11-22T04:00:00Z", **merged["run"], "merge": merged["merge"]}
    update_reports(merged["records"], run, str(tmp_path), ["json"], "acs-readiness")
    next_night = dict(FLEET, web2="ready")
    document, _paths = update_reports([record(host, status) for host, status in next_night.items()],
                                      {"run_id": "awx-600", "generated_at": "2026-11-23T04:00:00Z"}, str(tmp_path),
                                      ["json"], "acs-readiness", compare=True)
    assert document["changes"]["previous_run"]["run_id"] == "awx-500"
    assert document["changes"]["counts"]["fixed"] == 1 and document["changes"]["counts"]["gone"] == 0
    assert find_baseline(str(tmp_path), "awx-700", "acs-readiness")["document"]["run"]["run_id"] == "awx-600"


def test_named_patterns_are_expanded_and_one_matching_nothing_is_named(tmp_path):
    paths = three_slices(str(tmp_path))
    nothing = str(tmp_path / "other-night-*.json")
    merged = merge_files([str(tmp_path / f"{SLICE}-awx-*.json"), nothing], str(tmp_path), expected_slices=3)
    assert [item["file"] for item in merged["merge"]["slices"]] == paths
    problem = "slice report not merged: the file is missing; the hosts of this slice are not in the fleet report"
    assert merged["merge"]["bad_files"] == [{"file": nothing, "problem": problem}]


def test_a_fifo_or_device_among_the_slices_is_named_without_hanging(tmp_path):
    paths = three_slices(str(tmp_path))
    fifo = tmp_path / f"{SLICE}-awx-999.json"
    os.mkfifo(fifo)
    merged = merge_files(paths + [str(fifo), "/dev/zero"], str(tmp_path), expected_slices=3)
    problems = {item["file"]: item["problem"] for item in merged["merge"]["bad_files"]}
    assert "it is not a regular file" in problems[str(fifo)] and "it is not a regular file" in problems["/dev/zero"]
    assert statuses(merged["records"]) == FLEET
