"""ANSIBLE_STRATEGY=free, as an admin sets it for a large fleet: the playbooks keep the linear strategy.

Under the free strategy Ansible runs a run_once task once per host and refuses add_host (it "bypasses the host
loop"): the role's report, written once for all hosts, would be written once per host, and the play would stop at
the status groups before the second play fails the unassessed hosts. assess.yml and gate.yml therefore set
``strategy: linear`` on their plays, which overrides the configured default.
"""

from __future__ import annotations

import json

import pytest

from support.e2e import REPO, run_playbook
from test_awx_slices import FLEET, inventory

REPORT_TASK = "Write the readiness report on the controller"


@pytest.fixture(scope="module")
def linear_run(fleet, tmp_path_factory):
    work = tmp_path_factory.mktemp("linear")
    hosts = inventory(fleet, FLEET, work / "hosts.yml")
    run = run_playbook(REPO / "playbooks" / "assess.yml", hosts, work, ["-e", f"acs_readiness_report_dir={work / 'reports'}"])
    return hosts, run, json.loads((work / "reports" / "acs-readiness.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("playbook", ["assess.yml", "gate.yml"])
def test_the_free_strategy_gives_the_same_report_and_result_as_linear(linear_run, tmp_path, playbook):
    hosts, linear, linear_report = linear_run
    run = run_playbook(REPO / "playbooks" / playbook, hosts, tmp_path,
                       ["-e", f"acs_readiness_report_dir={tmp_path / 'reports'}"], env={"ANSIBLE_STRATEGY": "free"})
    assert "bypasses the host loop" not in run.stdout + run.stderr
    assert run.stdout.count(REPORT_TASK) == 1, "the report was written more than once"
    report = json.loads((tmp_path / "reports" / "acs-readiness.json").read_text(encoding="utf-8"))
    assert {host["host"]: host["status"] for host in report["hosts"]} == \
        {host["host"]: host["status"] for host in linear_report["hosts"]}
    # Both go red for the hosts that cannot be assessed (gate.yml also for the gated ones), in the second play.
    assert run.rc == 2 and linear.rc == 2
    failed = {host for host, counts in run.stats.items() if counts.get("failures")}
    assert {"fault-down", "w2008-nopowershell"} <= failed
