"""playbooks/evaluate_export.yml end to end: real ansible-playbook on localhost, the sample exports, the report."""

from __future__ import annotations

import csv
import json
import sys

import yaml

from support.e2e import REPO, run_playbook
from support.export_samples import SAMPLE_STATUSES

SAMPLES = REPO / "docs" / "samples" / "exports"


def _run(tmp_path, files, *extra):
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n",
                         encoding="utf-8")
    variables = tmp_path / "vars.yml"
    variables.write_text(yaml.safe_dump({"acs_export_files": files,
                                         "acs_readiness_report_dir": str(tmp_path / "reports")}), encoding="utf-8")
    return run_playbook("codesign.windows.evaluate_export", inventory, tmp_path, ["-e", f"@{variables}", *extra])


def test_sample_exports_give_the_assess_report_with_every_row(tmp_path):
    empty = tmp_path / "empty-wsus.csv"
    empty.write_text("", encoding="utf-8")
    files = [f"{SAMPLES}/evidence.csv", f"{SAMPLES}/evidence.json", f"{SAMPLES}/configmgr-os.csv",
             f"{SAMPLES}/configmgr-qfe.csv", f"{SAMPLES}/wsus.csv",
             {"path": f"{SAMPLES}/cmdb.csv", "format": "cmdb", "mapping": f"{SAMPLES}/cmdb-mapping.yml"},
             {"path": str(empty), "format": "wsus"}]
    run = _run(tmp_path, files, "-e", "acs_readiness_run_id=export-night-1")
    assert run.rc == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert set(run.stats) == {"localhost"}, "no host but the controller is touched"
    assert run.stats["localhost"]["failures"] == 0 and run.stats["localhost"]["changed"] == 0

    reports = tmp_path / "reports"
    report = json.loads((reports / "acs-readiness.json").read_text(encoding="utf-8"))
    assert {h["host"]: h["status"] for h in report["hosts"]} == SAMPLE_STATUSES
    for host in report["hosts"]:
        assert host["gathered_at"] is None and host["source"]["kind"] == "export", host["host"]
        assert host["source"]["files"], host["host"]
    fs01 = next(h for h in report["hosts"] if h["host"] == "SRV-FS01")
    assert fs01["evidence"]["root_ca_present"] is None, "evidence an export lacks is not guessed"
    assert any(w.startswith("root_ca_present: not in the ConfigMgr export") for w in fs01["warnings"])
    assert [s["file"] for s in fs01["source"]["files"]] == [f"{SAMPLES}/configmgr-os.csv", f"{SAMPLES}/configmgr-qfe.csv"]

    # Every bad row, also one that names no host (the empty file).
    assert [(b["file"], b["row"], b["column"], b["host"]) for b in report["bad_rows"]] == [
        (f"{SAMPLES}/wsus.csv", 13, "OSDescription", "ws-0099.corp.example.com"),
        (str(empty), None, None, None)]
    markdown = (reports / "acs-readiness.md").read_text(encoding="utf-8")
    assert "## Rows that could not be read (2)" in markdown
    assert f"- {empty}: the file is empty" in markdown.replace("\\", "")
    html = (reports / "acs-readiness.html").read_text(encoding="utf-8")
    assert 'id="bad-rows"' in html and "empty-wsus.csv" in html and "OSDescription" in html
    with (reports / "acs-readiness.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = {row["host"]: row for row in csv.DictReader(handle)}
    assert set(rows) == set(SAMPLE_STATUSES)
    assert rows["SRV-FS01"]["source"] == f"export: {SAMPLES}/configmgr-os.csv row 4; {SAMPLES}/configmgr-qfe.csv row 4"
    assert rows["SRV-FS01"]["gathered_at"] == ""

    # The same summary and set_stats as assess.
    stats = run.custom["_run"]["acs_readiness"]
    assert stats["total"] == len(SAMPLE_STATUSES) and stats["run_id"] == "export-night-1"
    assert stats["ready"] == sum(1 for status in SAMPLE_STATUSES.values() if status == "ready")
    summary = run.last("localhost", "ansible.builtin.debug")["result"]["msg"]
    assert summary[0] == f"# ACS readiness: {stats['ready']} of {len(SAMPLE_STATUSES)} hosts ready"


def test_the_next_export_is_compared_with_the_previous(tmp_path):
    (tmp_path / "night1.csv").write_text(
        "host,os_name,os_version,ubr,installation_type,hotfixes\n"
        "app01,Windows Server 2019 Standard,10.0.17763,2209,Server,none\n"
        "app02,Windows Server 2019 Standard,10.0.17763,2210,Server,none\n", encoding="utf-8")
    (tmp_path / "night2.csv").write_text(
        "host,os_name,os_version,ubr,installation_type,hotfixes\n"
        "app01,Windows Server 2019 Standard,10.0.17763,2210,Server,none\n", encoding="utf-8")
    first = _run(tmp_path, [str(tmp_path / "night1.csv")], "-e", "acs_readiness_run_id=n1")
    assert first.rc == 0, first.stdout[-2000:]
    second = _run(tmp_path, [str(tmp_path / "night2.csv")], "-e", "acs_readiness_run_id=n2")
    assert second.rc == 0, second.stdout[-2000:]
    report = json.loads((tmp_path / "reports" / "acs-readiness.json").read_text(encoding="utf-8"))
    assert report["changes"]["previous_run"]["run_id"] == "n1"
    assert {e["host"]: e["change"] for e in report["changes"]["hosts"]} == {"app01": "fixed", "app02": "gone"}


def test_no_export_files_is_a_clear_error(tmp_path):
    run = _run(tmp_path, [])
    assert run.rc != 0
    assert "Name the export files in acs_export_files" in run.stdout
