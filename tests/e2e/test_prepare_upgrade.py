"""codesign.windows.prepare_upgrade, end to end: assess -> remediate -> assess again -> gate on emulated hosts over
WinRM. The after-report shows each host at the best state it can reach, and the gate stops exactly the hosts that
still cannot take an ACS-signed agent build."""

from __future__ import annotations

import json

import pytest

from emulator.fleet import backend, build_fleet
from support.e2e import run_playbook

RESTART = "w2019-pending"               # installed, waits for a restart
ROOT = "w2012r2-airgap-noroot"          # needs the root certificate
PS2 = "w2008r2-pending"                 # restart through PowerShell 2.0
READY = "w2019-2210"
NEEDS_KB = "w2012-missing"              # the update is not installed: no restart or certificate helps
HOSTS = [RESTART, ROOT, PS2, READY, NEEDS_KB]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    with build_fleet(HOSTS) as fleet:
        work = tmp_path_factory.mktemp("prepare")
        inventory = fleet.inventory(work / "hosts.yml", operation_timeout_sec=2, read_timeout_sec=4,
                                    extra_vars={"acs_readiness_command_timeout": 30})
        check = run_playbook("codesign.windows.prepare_upgrade", inventory, work,
                             ["--check", "-e", f"acs_readiness_report_dir={work / 'check'}",
                              "-e", "acs_readiness_reboot=if_required"])
        restarts_after_check = {name: machine.restarts for name, machine in fleet.machines.items()}
        run = run_playbook("codesign.windows.prepare_upgrade", inventory, work,
                           ["-e", f"acs_readiness_report_dir={work / 'reports'}", "-e", "acs_readiness_reboot=if_required",
                            "-e", "acs_readiness_servicing_check_interval=1", "-e", "acs_readiness_gather_timeout=5"])
        document = json.loads((work / "reports" / "acs-readiness.json").read_text(encoding="utf-8"))
        models = {name: backend(fleet, name).model for name in HOSTS}
        yield check, restarts_after_check, run, document, models


def test_check_mode_restarts_no_host(prepared):
    _check, restarts, _run, _document, _models = prepared
    assert set(restarts.values()) == {0}


def test_the_after_report_shows_each_host_at_the_best_state_it_can_reach(prepared):
    _check, _restarts, _run, document, _models = prepared
    entries = {entry["host"]: entry for entry in document["remediation"]["hosts"]}
    assert {name: (entries[name]["before"], entries[name]["after"]) for name in HOSTS} == {
        RESTART: ("reboot_pending", "ready"),
        PS2: ("reboot_pending", "ready"),
        ROOT: ("needs_root_ca", "ready"),
        READY: ("ready", "ready"),
        NEEDS_KB: ("needs_kb", "needs_kb"),
    }
    assert document["remediation"]["counts"]["fixed"] == 3
    assert document["remediation"]["counts"]["regressed"] == 0


def test_the_gate_stops_exactly_the_hosts_still_not_ready(prepared):
    _check, _restarts, run, document, _models = prepared
    assert run.rc != 0
    failed = {name for name in HOSTS if any(r["status"] == "failed" for r in run.host_results(name))}
    assert failed == {NEEDS_KB}
    decisions = {record["host"]: record["gate"]["decision"] for record in document["hosts"]}
    assert decisions[READY] == decisions[RESTART] == decisions[ROOT] == "allow"
