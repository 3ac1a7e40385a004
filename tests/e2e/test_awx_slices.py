"""AWX job slicing, imitated: the slices of one job run as separate ansible-runner jobs, each on its slice of
the inventory, writing into one shared directory; then the merge playbook makes one fleet report.

AWX cuts a sliced job's inventory by host name: slice k of n gets the hosts sorted by name from the k-th,
every n-th (awx/main/models/inventory.py, Inventory.get_script_data: ``hosts[offset::slice_count]``), and
runs each slice on "a pared-down version of the original inventory that only contains the hosts in that
particular slice" (AWX user guide, Job Slicing). Every slice is its own job (its own ``awx_job_id``) inside
the workflow job AWX makes of the sliced job (one ``awx_workflow_job_id``).
"""

from __future__ import annotations

import concurrent.futures
import csv
import io
import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest
import yaml

from support.e2e import REPO
from test_awx_runner import Job, artifact

# Every kind of verdict, a stopped agent service, a host that is down and one without PowerShell.
FLEET = sorted(["w2003-dsa96", "w2008-noesu", "w2008r2-esu-azure", "w2012r2-airgap-both", "w2012r2-leastpriv",
                "w2012r2-oct2021", "w2012r2-pending", "w2016-root-disallowed", "w2019-2209", "w2019-2210",
                "w2019-apexone-stoppending", "win10-1803", "fault-down", "w2008-nopowershell"])
SLICES = 3
WORKFLOW_JOB = 700


def inventory(fleet, hosts: list[str], path: pathlib.Path) -> pathlib.Path:
    """The fleet's inventory pared down to ``hosts``, as AWX gives a slice."""
    document = yaml.safe_load(pathlib.Path(fleet.inventory_path).read_text(encoding="utf-8"))
    group = document["all"]["children"]["windows"]
    group["hosts"] = {name: values for name, values in group["hosts"].items() if name in hosts}
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def run_job(private: pathlib.Path, playbook: str, hosts_file: pathlib.Path, extravars: dict) -> Job:
    """One AWX-style job in its own private data dir, run by ansible-runner as its own process."""
    (private / "project").mkdir(parents=True)
    shutil.copy(REPO / "playbooks" / playbook, private / "project" / playbook)
    (private / "inventory").mkdir()
    shutil.copy(hosts_file, private / "inventory" / "hosts.yml")
    envvars = {"ANSIBLE_COLLECTIONS_PATH": os.environ.get("ANSIBLE_COLLECTIONS_PATH", str(REPO / ".work" / "collections")),
               "ANSIBLE_CONFIG": str(REPO / "tests" / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    (private / "env").mkdir()
    (private / "env" / "envvars").write_text(yaml.safe_dump(envvars), encoding="utf-8")
    (private / "env" / "extravars").write_text(yaml.safe_dump({"acs_readiness_command_timeout": 15, **extravars}),
                                               encoding="utf-8")
    runner = pathlib.Path(sys.executable).parent / "ansible-runner"
    completed = subprocess.run([str(runner), "run", str(private), "-p", playbook, "--ident", "job"],
                               capture_output=True, text=True, check=False, timeout=900,
                               env={**os.environ, "PATH": f"{runner.parent}{os.pathsep}{os.environ['PATH']}"})
    return Job.load(private / "artifacts" / "job", completed)


def report(path: pathlib.Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def statuses(document: dict) -> dict[str, str]:
    names = [host["host"] for host in document["hosts"]]
    assert len(names) == len(set(names)), "a host is reported twice"
    return {host["host"]: host["status"] for host in document["hosts"]}


@pytest.fixture(scope="module")
def sliced(fleet, tmp_path_factory):
    """One full run of assess.yml, and the same inventory run as a job of three slices into one directory."""
    work = tmp_path_factory.mktemp("slices")
    full_inventory = inventory(fleet, FLEET, work / "fleet.yml")
    shared = work / "shared"
    with concurrent.futures.ThreadPoolExecutor(max_workers=SLICES + 1) as pool:
        single = pool.submit(run_job, work / "single", "assess.yml", full_inventory,
                             {"acs_readiness_report_dir": str(work / "single-reports"), "awx_job_id": 600})
        # AWX runs the slices at the same time, each in its own job, all writing into the shared directory.
        slices = [pool.submit(run_job, work / f"slice{number}", "assess.yml",
                              inventory(fleet, FLEET[number - 1::SLICES], work / f"slice{number}.yml"),
                              {"acs_readiness_report_dir": str(shared), "awx_job_id": WORKFLOW_JOB + number,
                               "awx_workflow_job_id": WORKFLOW_JOB, "acs_readiness_report_basename": "acs-readiness-slice"})
                  for number in range(1, SLICES + 1)]
        jobs = [future.result() for future in slices]
        single.result()  # the full run: its report is read below
    return {"work": work, "inventory": full_inventory, "shared": shared, "slices": jobs,
            "full": report(work / "single-reports" / "acs-readiness.json")}


def merge(sliced, name: str, reports: pathlib.Path, **extravars) -> Job:
    return run_job(sliced["work"] / name, "merge_reports.yml", sliced["inventory"],
                   {"acs_readiness_report_dir": str(reports), "awx_job_id": 800, "awx_workflow_job_id": 799, **extravars})


def copy_slices(sliced, name: str) -> pathlib.Path:
    target = sliced["work"] / name
    target.mkdir()
    for path in sliced["shared"].glob("acs-readiness-slice-awx-*.json"):
        shutil.copy(path, target / path.name)
    return target


def test_the_merged_report_has_every_host_once_with_the_verdicts_of_a_single_run(sliced):
    assert statuses(sliced["full"]).keys() == set(FLEET)
    assert statuses(sliced["full"])["fault-down"] == "unreachable"
    slice_files = sorted(sliced["shared"].glob("acs-readiness-slice-awx-*.json"))
    assert [path.name for path in slice_files] == [f"acs-readiness-slice-awx-{WORKFLOW_JOB + n}.json" for n in (1, 2, 3)]
    for number, path in enumerate(slice_files, 1):
        assert statuses(report(path)).keys() == set(FLEET[number - 1::SLICES])  # each slice saw its hosts only

    job = merge(sliced, "merge", sliced["shared"], acs_merge_expected_slices=SLICES, acs_merge_expected_hosts="windows")
    assert job.status == "successful", job.stdout[-3000:]
    merged = report(sliced["shared"] / "acs-readiness.json")
    assert statuses(merged) == statuses(sliced["full"])
    parts = [report(path)["summary"] for path in slice_files]
    for key in ("total", "ready", "not_ready", "assessed", "unreachable", "failed", "hold_back"):
        assert merged["summary"][key] == sum(part[key] for part in parts) == sliced["full"]["summary"][key], key
    assert merged["summary"]["by_status"] == sliced["full"]["summary"]["by_status"]
    assert merged["products"] == sliced["full"]["products"]
    assert [entry["host"] for entry in merged["hold_back"]] == [entry["host"] for entry in sliced["full"]["hold_back"]]
    assert merged["run"]["merge"]["complete"] is True and merged["run"]["merge"]["merged_slices"] == SLICES
    assert merged["run"]["merge"]["group"] == str(WORKFLOW_JOB)
    assert merged["bad_rows"] == []

    # Every format, as assess.yml writes them.
    rows = list(csv.DictReader(io.StringIO((sliced["shared"] / "acs-readiness.csv").read_text(encoding="utf-8-sig"))))
    assert {row["host"]: row["status"] for row in rows} == statuses(sliced["full"])
    html = (sliced["shared"] / "acs-readiness.html").read_text(encoding="utf-8")
    assert "Merged from 3 of 3 slice reports." in html and "INCOMPLETE" not in html
    markdown = (sliced["shared"] / "acs-readiness.md").read_text(encoding="utf-8")
    ready, total = sliced["full"]["summary"]["ready"], len(FLEET)
    assert markdown.startswith(f"# ACS readiness: {ready} of {total} hosts ready\n\n**Merged from 3 of 3 slice reports.**")

    # The job's artifacts carry the fleet's counts, as a single run's do.
    stats = artifact(job)
    assert stats["acs_readiness"]["total"] == total and stats["acs_readiness"]["ready"] == ready
    assert stats["acs_readiness"]["by_status"] == sliced["full"]["summary"]["by_status"]
    assert stats["acs_readiness_merge"]["complete"] is True and stats["acs_readiness_merge"]["merged_slices"] == SLICES
    assert len(stats["acs_readiness_merge"]["slice_files"]) == SLICES


def test_a_missing_slice_turns_the_merge_red_and_the_report_says_which_hosts_are_lost(sliced):
    reports = copy_slices(sliced, "one-missing")
    (reports / f"acs-readiness-slice-awx-{WORKFLOW_JOB + 2}.json").unlink()
    job = merge(sliced, "merge-missing", reports, acs_merge_expected_slices=SLICES, acs_merge_expected_hosts="windows")
    assert job.status == "failed"
    failures = [event["event_data"]["res"]["msg"] for event in job.events if event["event"] == "runner_on_failed"]
    assert failures and failures[0].startswith("INCOMPLETE: Merged from 2 of 3 slice reports; 1 slice missing; "
                                               "5 hosts of the inventory in no slice report.")
    merged = report(reports / "acs-readiness.json")
    lost = FLEET[1::SLICES]
    assert statuses(merged).keys() == set(FLEET)
    for host in merged["hosts"]:
        if host["host"] in lost:
            assert host["status"] == "failed" and host["error"].startswith("no slice reported this host")
        else:
            assert host["status"] == statuses(sliced["full"])[host["host"]]
    assert merged["run"]["merge"]["complete"] is False and merged["run"]["merge"]["missing_slices"] == 1
    assert "INCOMPLETE" in (reports / "acs-readiness.md").read_text(encoding="utf-8").split("\n")[2]
    assert 'id="merge-notice">INCOMPLETE' in (reports / "acs-readiness.html").read_text(encoding="utf-8")
    assert artifact(job)["acs_readiness_merge"]["complete"] is False


def test_a_truncated_slice_is_named_and_the_other_slices_are_kept(sliced):
    reports = copy_slices(sliced, "one-truncated")
    bad = reports / f"acs-readiness-slice-awx-{WORKFLOW_JOB + 3}.json"
    bad.write_bytes(bad.read_bytes()[:5000])
    job = merge(sliced, "merge-truncated", reports, acs_merge_expected_slices=SLICES, acs_merge_fail_incomplete=False)
    assert job.status == "successful", job.stdout[-3000:]
    assert f"{bad}: slice report not merged: it is not complete JSON (truncated?)" in job.stdout
    merged = report(reports / "acs-readiness.json")
    assert statuses(merged) == {host: status for host, status in statuses(sliced["full"]).items()
                                if host not in FLEET[2::SLICES]}
    assert merged["run"]["merge"]["bad_files"][0]["file"] == str(bad)
    assert any(row["file"] == str(bad) for row in merged["bad_rows"])
    assert "INCOMPLETE: Merged from 2 of 3 slice reports; 1 slice file could not be read" in \
        (reports / "acs-readiness.html").read_text(encoding="utf-8")


def test_the_merged_report_is_the_previous_run_of_the_next_merge(sliced):
    reports = copy_slices(sliced, "two-nights")
    first = merge(sliced, "night1", reports, acs_merge_expected_slices=SLICES)
    assert first.status == "successful", first.stdout[-3000:]
    second = merge(sliced, "night2", reports, acs_merge_expected_slices=SLICES, awx_job_id=801)
    assert second.status == "successful", second.stdout[-3000:]
    merged = report(reports / "acs-readiness.json")
    assert merged["run"]["run_id"] == "awx-801"
    assert merged["changes"]["previous_run"]["run_id"] == "awx-800"
    assert merged["changes"]["counts"]["unchanged"] + merged["changes"]["counts"]["unassessed"] == len(FLEET)


def test_slices_run_by_hand_are_named_by_a_pattern(sliced):
    """Slices without AWX (several controllers, each with --limit) are named by a pattern; here the same
    slice files under the names such runs give them."""
    reports = sliced["work"] / "by-hand"
    reports.mkdir()
    for number, path in enumerate(sorted(sliced["shared"].glob("acs-readiness-slice-awx-*.json"))):
        shutil.copy(path, reports / f"acs-readiness-slice-night1-0{number}.json")
    job = merge(sliced, "merge-by-hand", reports, acs_merge_expected_slices=SLICES,
                acs_merge_files=[str(reports / "acs-readiness-slice-night1-*.json")])
    assert job.status == "successful", job.stdout[-3000:]
    merged = report(reports / "acs-readiness.json")
    assert statuses(merged) == statuses(sliced["full"])
    assert merged["run"]["merge"]["complete"] is True and merged["run"]["merge"]["group"] is None


def test_a_pattern_of_expected_hosts_that_matches_nothing_stops_the_merge(sliced):
    reports = copy_slices(sliced, "typo")
    job = merge(sliced, "merge-typo", reports, acs_merge_expected_slices=SLICES, acs_merge_expected_hosts="windwos")
    assert job.status == "failed"
    failures = [event["event_data"]["res"]["msg"] for event in job.events if event["event"] == "runner_on_failed"]
    assert failures == ["acs_merge_expected_hosts: the pattern windwos matches no host of the inventory"]
    assert not (reports / "acs-readiness.json").exists()
