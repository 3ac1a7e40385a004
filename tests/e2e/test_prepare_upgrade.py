"""codesign.windows.prepare_upgrade, end to end: assess -> remediate -> assess again -> gate on emulated hosts over
WinRM, with the update files at hand (acs_readiness_remediate=all). The after-report shows each host at the best
state it can reach: the root installed, the update installed and its restart done, and the gate stops exactly the
hosts that still cannot take an ACS-signed agent build."""

from __future__ import annotations

import json

import pytest

from emulator.fleet import backend, build_fleet
from support import cab
from support.e2e import run_playbook

RESTART = "w2019-pending"               # installed, waits for a restart
ROOT = "w2012r2-airgap-noroot"          # needs the root certificate
PS2 = "w2008r2-pending"                 # restart through PowerShell 2.0
READY = "w2019-2210"
NEEDS_KB = "w2012-missing"              # no file of its update is at hand: it stays as it is
CUMULATIVE = "w2019-2209"               # the cumulative update is installed, then the restart finishes it
ROOT_AND_KB = "w2012r2-airgap-both"     # the root and the monthly rollup, then the restart
HOSTS = [RESTART, ROOT, PS2, READY, NEEDS_KB, CUMULATIVE, ROOT_AND_KB]


def update_files(directory):
    """The two updates as the Microsoft Update Catalog names them (tests/support/cab.py)."""
    for os_tag, kb, applies_to, version in (("windows10.0", "KB5005625", "10.0.17763", "17763.2210.1.6"),
                                            ("windows8.1", "KB5006714", "6.3.9600", "9600.20144.1.5")):
        data = cab.msu(os_tag, kb, applies_to, package="Package_for_RollupFix", version=version)
        (directory / cab.catalog_name(os_tag, kb, "x64", data)).write_bytes(data)
    return directory


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
        updates = work / "updates"
        updates.mkdir()
        update_files(updates)
        run = run_playbook("codesign.windows.prepare_upgrade", inventory, work,
                           ["-e", f"acs_readiness_report_dir={work / 'reports'}", "-e", "acs_readiness_reboot=if_required",
                            "-e", "acs_readiness_remediate=all", "-e", f"acs_readiness_hotfix_src={updates}",
                            # Go on to the gate whatever failed: the test looks at both.
                            "-e", "acs_readiness_max_fail_percentage=100",
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
        CUMULATIVE: ("needs_kb", "ready"),
        ROOT_AND_KB: ("needs_kb_and_root_ca", "ready"),
    }
    assert document["remediation"]["counts"]["fixed"] == 5
    assert document["remediation"]["counts"]["regressed"] == 0


def test_a_host_whose_update_is_not_at_hand_fails_naming_what_to_fetch_and_only_it_is_blocked(prepared):
    _check, _restarts, run, document, _models = prepared
    assert run.rc != 0
    failed = {name for name in HOSTS if any(r["status"] == "failed" for r in run.host_results(name))}
    assert failed == {NEEDS_KB}
    message = run.last(NEEDS_KB, "ansible.builtin.fail")["result"]["msg"]
    assert "the update was not installed" in message and "fetch KB5006739" in message
    decisions = {record["host"]: record["gate"]["decision"] for record in document["hosts"]}
    assert {name for name, decision in decisions.items() if decision != "allow"} == {NEEDS_KB}


def test_an_installed_update_is_finished_by_the_restart(prepared):
    _check, _restarts, run, _document, models = prepared
    assert models[CUMULATIVE].ubr == 2210
    for name in (CUMULATIVE, ROOT_AND_KB):
        assert run.last_run(name, "codesign.windows.acs_hotfix")["result"]["reboot_required"] is True
        assert "servicing has finished" in run.last(name, "codesign.windows.acs_reboot")["result"]["msg"]
