"""acs_report with ``slices``: the reports of the slices of one job merged into one fleet report, every format."""

from __future__ import annotations

import csv
import io
import json

from test_acs_report import run_action
from ansible_collections.codesign.windows.plugins.plugin_utils._report import build_document, write_reports

SLICE = "acs-readiness-slice"


def write_slice(directory, job_id, hosts, group="900", policy="strict"):
    records = [{"host": host, "status": status, "error": None if status != "unreachable" else "no route",
                "verdict": None if status == "unreachable" else {"status": status, "ready": status == "ready"},
                "evidence": None, "warnings": [], "gate": {"mode": "off", "decision": "skip", "reason": None},
                "gathered_at": "2026-11-22T03:00:00Z"} for host, status in hosts.items()]
    run = {"run_id": f"awx-{job_id}", "generated_at": "2026-11-22T03:05:00Z", "policy_21h2": policy, "gate_mode": "off",
           "catalog_version": "2026.11", "awx_job_id": job_id, "awx_workflow_job_id": group}
    write_reports(build_document(records, run), directory, ["json", "csv", "html", "md"], SLICE)


def test_slices_become_one_report_in_every_format(tmp_path):
    write_slice(str(tmp_path), 11, {"a1": "ready", "a2": "needs_kb"})
    write_slice(str(tmp_path), 12, {"b1": "ready", "b2": "unreachable"}, policy="lenient")
    result = run_action({"directory": str(tmp_path), "run_id": "awx-20", "slices": {"expected": 2}}, {}, [])
    assert result.get("failed") is not True, result
    assert set(result["paths"]) == {"json", "csv", "html", "md"}
    report = json.loads((tmp_path / "acs-readiness.json").read_text(encoding="utf-8"))
    assert {host["host"]: host["status"] for host in report["hosts"]} == {"a1": "ready", "a2": "needs_kb", "b1": "ready",
                                                                          "b2": "unreachable"}
    assert report["run"]["merge"]["complete"] is True and report["run"]["merge"]["merged_slices"] == 2
    assert report["run"]["policy_21h2"] == "lenient"  # the slices' own, not this task's default
    assert (tmp_path / "acs-readiness-awx-20.json").is_file()
    assert result["summary"]["total"] == 4 and result["summary"]["ready"] == 2
    assert result["hosts_in_report"] == 4 and result["merge"]["notice"] == "Merged from 2 of 2 slice reports."
    assert any("differ in policy_21h2" in warning for warning in result["warnings"])
    rows = list(csv.DictReader(io.StringIO((tmp_path / "acs-readiness.csv").read_text(encoding="utf-8-sig"))))
    assert sorted(row["host"] for row in rows) == ["a1", "a2", "b1", "b2"]
    assert "Merged from 2 of 2 slice reports." in (tmp_path / "acs-readiness.md").read_text(encoding="utf-8")
    assert "Merged from 2 of 2 slice reports." in (tmp_path / "acs-readiness.html").read_text(encoding="utf-8")


def test_a_missing_slice_is_in_the_result_the_warnings_and_the_report(tmp_path):
    write_slice(str(tmp_path), 11, {"a1": "ready"})
    result = run_action({"directory": str(tmp_path), "run_id": "awx-20",
                         "slices": {"expected": 3, "expected_hosts": ["a1", "b1"]}}, {}, [])
    assert result.get("failed") is not True, result
    assert result["merge"]["complete"] is False and result["merge"]["missing_slices"] == 2
    assert "INCOMPLETE" in result["msg"] and "INCOMPLETE" in result["markdown"]
    assert any("2 of 3 slices have no report file" in warning for warning in result["warnings"])
    assert result["statuses"] == {"a1": "ready", "b1": "failed"}
    assert result["bad_rows"] == 1


def test_what_cannot_be_merged_fails_the_task_with_a_message(tmp_path):
    result = run_action({"directory": str(tmp_path), "run_id": "r", "slices": {}}, {}, [])
    assert result["failed"] and result["msg"].startswith("acs_report: slices: no slice report acs-readiness-slice-")
    result = run_action({"directory": str(tmp_path), "run_id": "r", "slices": {"basename": "acs-readiness"}}, {}, [])
    assert result["failed"] and "both named acs-readiness" in result["msg"]
    result = run_action({"directory": str(tmp_path), "run_id": "r", "slices": {"expected": 0}}, {}, [])
    assert result["failed"] and "expected must be the number of slices" in result["msg"]
    assert not (tmp_path / "acs-readiness.json").exists()


def test_named_files_in_another_directory(tmp_path):
    shared = tmp_path / "shared"
    write_slice(str(shared), 11, {"a1": "ready"})
    out = tmp_path / "out"
    result = run_action({"directory": str(out), "run_id": "fleet-1",
                         "slices": {"files": [str(shared / f"{SLICE}-awx-11.json"), str(shared / "gone.json")]}}, {}, [])
    assert result.get("failed") is not True, result
    assert result["merge"]["complete"] is False and result["merge"]["bad_files"][0]["problem"].startswith(
        "slice report not merged: the file is missing")
    assert json.loads((out / "acs-readiness.json").read_text(encoding="utf-8"))["summary"]["total"] == 1
