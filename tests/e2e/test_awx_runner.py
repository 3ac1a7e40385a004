"""The playbooks as AWX runs them: through ansible-runner, asserting the job status, its event stream
and the set_stats artifact a workflow's next node receives.

ansible-runner runs as its own process (its pty handling must not fork this multi-threaded test
process), and the tests read what AWX reads: the artifacts directory of the job.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest
import yaml

from support.e2e import REPO

READY = ["w2019-2210", "w2012r2-oct2021"]
UNREADY = ["w2019-2209", "win7-noesu"]


def run_job(fleet, tmp_path: pathlib.Path, playbook: str, limit: list[str], extravars: dict | None = None):
    """One AWX-style job: a private data dir with project/, inventory/, env/, run by ansible-runner."""
    private = tmp_path / "job"
    (private / "project").mkdir(parents=True)
    shutil.copy(REPO / "playbooks" / playbook, private / "project" / playbook)
    (private / "inventory").mkdir()
    shutil.copy(fleet.inventory_path, private / "inventory" / "hosts.yml")
    envvars = {"ANSIBLE_COLLECTIONS_PATH": os.environ.get("ANSIBLE_COLLECTIONS_PATH", str(REPO / ".work" / "collections")),
               "ANSIBLE_CONFIG": str(REPO / "tests" / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    extravars = {"acs_readiness_report_dir": str(tmp_path / "reports"), "acs_readiness_command_timeout": 15,
                 "awx_job_id": 4242, **(extravars or {})}
    (private / "env").mkdir()
    (private / "env" / "envvars").write_text(yaml.safe_dump(envvars), encoding="utf-8")
    (private / "env" / "extravars").write_text(yaml.safe_dump(extravars), encoding="utf-8")
    runner = pathlib.Path(sys.executable).parent / "ansible-runner"
    completed = subprocess.run([str(runner), "run", str(private), "-p", playbook, "--limit", ",".join(limit),
                                "--ident", "job"], capture_output=True, text=True, check=False, timeout=600,
                               env={**os.environ, "PATH": f"{runner.parent}{os.pathsep}{os.environ['PATH']}"})
    return Job.load(private / "artifacts" / "job", completed)


@dataclasses.dataclass
class Job:
    status: str
    rc: int
    events: list[dict]
    stdout: str

    @classmethod
    def load(cls, artifacts: pathlib.Path, completed: subprocess.CompletedProcess) -> "Job":
        assert artifacts.is_dir(), completed.stdout[-3000:] + completed.stderr[-3000:]
        events = [json.loads(path.read_text(encoding="utf-8")) for path in (artifacts / "job_events").glob("*.json")]
        events.sort(key=lambda event: event["counter"])
        return cls((artifacts / "status").read_text().strip(), int((artifacts / "rc").read_text().strip()), events,
                   (artifacts / "stdout").read_text(encoding="utf-8", errors="replace"))


def artifact(result) -> dict:
    stats = [event for event in result.events if event["event"] == "playbook_on_stats"]
    assert stats, "no playbook_on_stats event"
    return stats[-1]["event_data"]["artifact_data"]


def test_gate_job_goes_red_and_hands_the_ready_hosts_to_the_next_node(fleet, tmp_path):
    result = run_job(fleet, tmp_path, "gate.yml", READY + UNREADY)
    assert result.status == "failed"
    assert result.rc != 0
    failed = {event["event_data"]["host"] for event in result.events if event["event"] == "runner_on_failed"}
    assert failed == set(UNREADY)
    messages = [event["event_data"]["res"]["msg"] for event in result.events if event["event"] == "runner_on_failed"]
    assert all(message.startswith("ACS gate: ") for message in messages)
    data = artifact(result)["acs_readiness"]
    assert data["run_id"] == "awx-4242"
    assert sorted(data["ready_hosts"]) == sorted(READY)
    assert sorted(data["hosts_needing_action"]) == sorted(UNREADY)
    assert data["products"]["apex_one"]["ready_hosts"] == sorted(READY)
    assert "w2019-2209" in data["products"]["apex_one"]["not_ready_hosts"]
    assert pathlib.Path(data["reports"]["json"]).is_file()


def test_assess_job_of_a_healthy_fleet_is_green(fleet, tmp_path):
    result = run_job(fleet, tmp_path, "assess.yml", READY + UNREADY)
    assert result.status == "successful", result.stdout[-3000:]
    data = artifact(result)["acs_readiness"]
    assert data["total"] == 4
    assert data["by_status"]["needs_kb"] == 1 and data["by_status"]["needs_esu"] == 1


@pytest.mark.parametrize("host", ["fault-down", "fault-badcreds"])
def test_an_unreachable_host_turns_the_assess_job_red(fleet, tmp_path, host):
    result = run_job(fleet, tmp_path, "assess.yml", [READY[0], host])
    assert result.status == "failed"
    data = artifact(result)["acs_readiness"]
    assert data["total"] == 2 and host in data["hosts_needing_action"]
