"""What changed since the previous run, and hosts known from exports, in the report document and its files."""

from __future__ import annotations

import csv
import io
import json
import os
import re

import pytest

from ansible_collections.codesign.windows.plugins.plugin_utils._report import (
    CHANGE_KINDS,
    build_document,
    change_kind,
    compare_statuses,
    export_records,
    find_baseline,
    hosts_by_change,
    render_csv,
    render_html,
    render_markdown,
    run_json_path,
    update_reports,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._catalog import load_catalog


@pytest.mark.parametrize(("before", "after", "kind"), [
    (None, "ready", "new"),
    (None, "unreachable", "new"),
    ("needs_kb", None, "gone"),
    ("ready", None, "gone"),
    ("needs_kb", "ready", "fixed"),
    ("unreachable", "ready", "fixed"),
    ("unknown", "ready", "fixed"),
    ("ready", "needs_kb", "regressed"),
    ("ready", "reboot_pending", "regressed"),
    ("ready", "unreachable", "unassessed"),
    ("needs_kb", "failed", "unassessed"),
    ("unreachable", "unreachable", "unassessed"),
    ("needs_kb", "needs_kb_and_root_ca", "changed"),
    ("failed", "needs_kb", "changed"),
    ("needs_kb", "needs_kb", "unchanged"),
    ("ready", "ready", "unchanged"),
])
def test_change_kind_table(before, after, kind):
    assert change_kind(before, after) == kind


def test_change_kind_needs_a_host_in_one_run():
    with pytest.raises(ValueError):
        change_kind(None, None)


def test_compare_gives_every_host_of_both_runs_once_in_kind_order():
    before = {"a": "ready", "b": "needs_kb", "c": "ready", "d": "needs_kb", "gone1": "ready", "host10": "ready",
              "host9": "ready"}
    after = [{"host": "a", "status": "ready"}, {"host": "b", "status": "ready"}, {"host": "c", "status": "needs_kb"},
             {"host": "d", "status": "unreachable"}, {"host": "new1", "status": "needs_root_ca"},
             {"host": "host10", "status": "ready"}, {"host": "host9", "status": "ready"}]
    comparison = compare_statuses(before, after)
    assert [(e["host"], e["change"], e["before"], e["after"]) for e in comparison["hosts"]] == [
        ("c", "regressed", "ready", "needs_kb"),
        ("d", "unassessed", "needs_kb", "unreachable"),
        ("new1", "new", None, "needs_root_ca"),
        ("b", "fixed", "needs_kb", "ready"),
        ("gone1", "gone", "ready", None),
        ("a", "unchanged", "ready", "ready"),
        ("host9", "unchanged", "ready", "ready"),
        ("host10", "unchanged", "ready", "ready"),
    ]
    assert comparison["counts"] == {"regressed": 1, "unassessed": 1, "new": 1, "changed": 0, "fixed": 1, "gone": 1,
                                    "unchanged": 3}
    assert list(comparison["counts"]) == list(CHANGE_KINDS)


def test_compare_refuses_what_is_no_host_list():
    with pytest.raises(ValueError, match="previous"):
        compare_statuses("ready", {})


def test_host_lists_are_capped_with_the_full_count():
    comparison = compare_statuses({}, {f"h{n}": "ready" for n in range(5)})
    lists = hosts_by_change(comparison, cap=3)
    assert lists["new"] == ["h0", "h1", "h2"]
    assert lists["truncated"] == {"new": 5}
    assert "unchanged" not in lists
    assert hosts_by_change(comparison)["truncated"] == {}


def _record(host, status):
    return {"host": host, "status": status, "verdict": {"status": status, "ready": status == "ready"}}


def _run(run_id):
    return {"run_id": run_id, "generated_at": f"2026-11-2{run_id[-1]}T02:00:00Z"}


def test_update_reports_compares_with_the_newest_earlier_run(tmp_path):
    update_reports([_record("a", "needs_kb"), _record("b", "ready")], _run("night1"), tmp_path, compare=True)
    first = json.loads((tmp_path / "acs-readiness.json").read_text())
    assert first["changes"] is None, "nothing to compare with on the first night"
    os.utime(run_json_path(tmp_path, "night1"), (1, 1))
    document, _paths = update_reports([_record("a", "ready"), _record("c", "needs_kb")], _run("night2"), tmp_path,
                                      compare=True)
    changes = document["changes"]
    assert changes["previous_run"] == {"run_id": "night1", "generated_at": "2026-11-21T02:00:00Z",
                                       "path": run_json_path(tmp_path, "night1")}
    assert {e["host"]: e["change"] for e in changes["hosts"]} == {"a": "fixed", "b": "gone", "c": "new"}
    # A second batch of the same run compares with the same earlier night, never with itself.
    document, _paths = update_reports([_record("d", "ready")], _run("night2"), tmp_path, compare=True)
    assert document["changes"]["previous_run"]["run_id"] == "night1"
    assert document["changes"]["counts"]["new"] == 2
    # The third night compares with the second (the newest), not the first.
    document, _paths = update_reports([_record("a", "needs_kb")], _run("night3"), tmp_path, compare=True)
    assert document["changes"]["previous_run"]["run_id"] == "night2"
    assert {e["host"]: e["change"] for e in document["changes"]["hosts"]} == {
        "a": "regressed", "c": "gone", "d": "gone"}
    markdown = render_markdown(document)
    assert "## Changed since run night2 (2026-11-22T02:00:00Z)" in markdown
    assert "- `a`: regressed, ready -> needs_kb" in markdown
    assert re.search(r"\| Was ready, is not ready now +\| regressed +\| +1 \|", markdown)
    assert re.search(r"\| In the previous run, not in this one +\| gone +\| +2 \|", markdown)


def test_baseline_skips_other_basenames_and_broken_files(tmp_path):
    update_reports([_record("a", "ready")], _run("night1"), tmp_path)
    (tmp_path / "acs-readiness-broken.json").write_text("{not json")
    update_reports([_record("z", "ready")], _run("night5"), tmp_path, basename="acs-readiness-dmz")
    baseline = find_baseline(tmp_path, "night2")
    assert baseline["document"]["run"]["run_id"] == "night1"
    assert find_baseline(tmp_path, "night1") is None


def test_an_explicit_previous_report_that_cannot_be_read_fails_clearly(tmp_path):
    with pytest.raises(ValueError, match="cannot read the previous report .*missing.json"):
        update_reports([_record("a", "ready")], _run("night1"), tmp_path, compare=True,
                       previous_report=tmp_path / "missing.json")
    (tmp_path / "other.json").write_text('{"schema_version": 1}')
    with pytest.raises(ValueError, match="no run or no hosts"):
        find_baseline(tmp_path, "x", path=tmp_path / "other.json")


def test_html_shows_the_changes_view(tmp_path):
    update_reports([_record("a", "ready"), _record("b", "needs_kb")], _run("night1"), tmp_path)
    document, _paths = update_reports([_record("a", "needs_kb"), _record("b", "needs_kb")], _run("night2"), tmp_path,
                                      compare=True)
    page = render_html(document)
    assert 'id="changes"' in page and "Changed since run night1" in page
    assert 'data-change="regressed"' in page
    assert 'data-change="unchanged"' not in page, "unchanged hosts are counted, not listed"
    assert "changes_section" not in page


EXPORTED = {
    "srv-a": {"host": "srv-a", "evidence": {"os_name": "Microsoft Windows Server 2019 Standard", "os_version": "10.0.17763",
                                            "ubr": 2210, "installation_type": "Server", "hotfixes": None,
                                            "root_ca_present": None},
              "missing": ["root_ca_present"], "notes": ["root_ca_present: not in the ConfigMgr export"],
              "errors": [], "sources": [{"file": "os.csv", "format": "configmgr_os", "first_row": 2, "rows": 1}]},
    "srv-b": {"host": "srv-b", "evidence": {"os_name": "Windows 95"}, "missing": [], "notes": [],
              "errors": [{"file": "os.csv", "row": 3, "column": "Caption0", "message": "the OS is not recognised"}],
              "sources": [{"file": "os.csv", "format": "configmgr_os", "first_row": 3, "rows": 1}]},
}
BAD_ROWS = [{"file": "os.csv", "row": 3, "column": "Caption0", "message": "the OS is not recognised", "host": "srv-b"},
            {"file": "qfe.csv", "row": None, "column": None, "message": "the file is empty", "host": None}]


def test_export_records_are_judged_and_marked_as_exported():
    records = export_records(EXPORTED, gate_mode="warn", policy_21h2="strict", catalog=load_catalog(None), package=None)
    by_host = {record["host"]: record for record in records}
    assert by_host["srv-b"]["status"] == "unknown"
    for record in records:
        assert record["gathered_at"] is None
        assert record["source"]["kind"] == "export"
    assert by_host["srv-a"]["source"]["files"] == [{"file": "os.csv", "format": "configmgr_os", "first_row": 2, "rows": 1}]
    assert "root_ca_present: not in the ConfigMgr export" in by_host["srv-a"]["warnings"]
    assert "os.csv, row 3, column Caption0: the OS is not recognised" in by_host["srv-b"]["warnings"]
    with pytest.raises(ValueError, match="mapping of host"):
        export_records("srv-a", gate_mode="warn", policy_21h2="strict", catalog=load_catalog(None), package=None)


def test_every_bad_row_is_in_every_format_that_lists_rows():
    records = export_records(EXPORTED, gate_mode="warn", policy_21h2="strict", catalog=load_catalog(None), package=None)
    document = build_document(records, _run("export1"), bad_rows=BAD_ROWS)
    assert document["bad_rows"] == BAD_ROWS
    markdown = render_markdown(document)
    assert "## Rows that could not be read (2)" in markdown
    assert "- os.csv, row 3, column Caption0 (`srv-b`): the OS is not recognised" in markdown
    assert "- qfe.csv: the file is empty" in markdown
    page = render_html(document)
    assert 'id="bad-rows"' in page and "the file is empty" in page and "qfe.csv" in page
    rows = render_csv(document)
    assert "export: os.csv row 2" in rows


def test_bad_rows_of_batches_of_one_run_add_up_once():
    first = build_document([], _run("r1"), bad_rows=BAD_ROWS[:1])
    second = build_document([], _run("r1"), first, bad_rows=BAD_ROWS)
    assert second["bad_rows"] == BAD_ROWS


def test_the_comparison_reads_only_names_and_statuses_of_the_earlier_report():
    """update_reports keeps only this of last night's report while it builds tonight's: the same changes."""
    from ansible_collections.codesign.windows.plugins.plugin_utils._report.model import comparison_basis  # pylint: disable=import-outside-toplevel

    earlier = build_document([_record("a", "needs_kb"), _record("b", "ready"), _record("c", "ready")], _run("night1"))
    earlier["hosts"][0]["status"] = "no-such-status"   # hand-edited: read from the verdict, as the comparison does
    earlier["hosts"].append("not a record")
    earlier["hosts"].append({"host": "", "status": "ready"})
    tonight = [_record("a", "ready"), _record("b", "needs_kb"), _record("d", "ready")]
    whole = build_document(tonight, _run("night2"), baseline={"document": earlier, "path": "/r/n1.json"})
    basis = comparison_basis(earlier)
    assert set(basis) == {"run", "hosts"} and all(set(entry) == {"host", "status"}
                                                  for entry in basis["hosts"] if isinstance(entry, dict))
    slim = build_document(tonight, _run("night2"), baseline={"document": basis, "path": "/r/n1.json"})
    assert slim["changes"] == whole["changes"]
    assert {entry["host"]: entry["change"] for entry in slim["changes"]["hosts"]} == {
        "a": "fixed", "b": "regressed", "c": "gone", "d": "new"}
    assert comparison_basis(["not", "a", "report"]) == ["not", "a", "report"]


def test_an_earlier_report_entry_that_is_no_record_is_skipped_not_raised():
    earlier = {"run": {"run_id": "night1"}, "hosts": ["not a record", 7, None, {"host": "a", "status": "ready"}]}
    document = build_document([_record("a", "needs_kb")], _run("night2"), baseline={"document": earlier, "path": "p"})
    assert [(entry["host"], entry["change"]) for entry in document["changes"]["hosts"]] == [("a", "regressed")]


def test_another_runs_report_is_not_parsed_and_the_baseline_only_in_part(tmp_path, monkeypatch):
    """Last night's report of 50,000 hosts is some 500 MB parsed: tonight reads its run id from its first bytes,
    and of the baseline only names and statuses."""
    from ansible_collections.codesign.windows.plugins.plugin_utils._report import files  # pylint: disable=import-outside-toplevel
    from ansible_collections.codesign.windows.plugins.plugin_utils._report.model import comparison_basis  # pylint: disable=import-outside-toplevel

    update_reports([_record("a", "needs_kb"), _record("b", "ready")], _run("night1"), tmp_path, compare=True)
    path = tmp_path / "acs-readiness.json"
    full = files.read_report(path)
    slim = files.read_report(path, for_comparison=True)
    assert slim == comparison_basis(full) and "evidence" not in json.dumps(slim)
    assert find_baseline(tmp_path, "night2", for_comparison=True)["document"] == slim

    parsed = []
    real_read_report = files.read_report
    monkeypatch.setattr(files, "read_report", lambda *args, **kwargs: parsed.append(args[0]) or real_read_report(*args, **kwargs))
    assert files.read_previous(tmp_path, run_id="night2") is None and parsed == []
    assert files.read_previous(tmp_path, run_id="night1") == full and len(parsed) == 1
    # A file laid out otherwise (keys reordered by hand) is read whole, as before.
    path.write_text(json.dumps({"run": full["run"], **full}), encoding="utf-8")
    assert files.read_previous(tmp_path, run_id="night2")["run"]["run_id"] == "night1"
    document, _paths = update_reports([_record("a", "ready")], _run("night2"), tmp_path, compare=True)
    assert {entry["host"]: entry["change"] for entry in document["changes"]["hosts"]} == {"a": "fixed", "b": "gone"}


def test_reading_for_comparison_leaves_the_run_as_it_is(tmp_path):
    """The agent package of the run has a verdict too: only host records are cut down."""
    from ansible_collections.codesign.windows.plugins.plugin_utils._report import files  # pylint: disable=import-outside-toplevel

    package = {"path": "/pkg/agent.msi", "verdict": "acs_signed", "reasons": ["signed"]}
    update_reports([_record("a", "ready")], {**_run("night1"), "agent_package": package}, tmp_path)
    slim = files.read_report(tmp_path / "acs-readiness.json", for_comparison=True)
    assert slim["run"]["agent_package"] == package
    assert slim["hosts"] == [{"host": "a", "status": "ready"}]


def test_the_csv_row_of_a_host_says_what_changed(tmp_path):
    update_reports([_record("a", "needs_kb"), _record("b", "ready")], _run("night1"), tmp_path, compare=True)
    os.utime(run_json_path(tmp_path, "night1"), (1, 1))
    document, _paths = update_reports([_record("a", "ready"), _record("c", "needs_kb")], _run("night2"), tmp_path,
                                      compare=True)
    text = render_csv(document)
    rows = {row["host"]: row for row in csv.DictReader(io.StringIO(text[1:], newline=""))}
    # One row a host of this run: "b", gone since night1, is in the JSON and HTML only.
    assert {host: (row["change"], row["status_before"]) for host, row in rows.items()} == {
        "a": ("fixed", "needs_kb"), "c": ("new", "")}
