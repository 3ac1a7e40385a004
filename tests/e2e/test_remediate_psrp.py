"""prepare_upgrade over the psrp connection plugin (a RunspacePool on the Microsoft.PowerShell endpoint) instead of
winrm: the root certificate, the update from files on the controller (chunked through the runner), the restart and
the wait for servicing work the same way, and the after-report says ready."""

from __future__ import annotations

import json

import pytest

from emulator.fleet import backend, build_fleet
from support.e2e import run_playbook

HOSTS = {
    "w2012r2-airgap-noroot": "the root certificate",
    "w2016-wfbs-old": "the cumulative update (and the servicing stack update first), then a restart",
    "w2012r2-hotfix-seconly": "the security-only update its owners chose, then a restart",
    "w2019-pending": "a restart that finishes an installed update",
}
ROOT_KEY = r"SOFTWARE\Microsoft\SystemCertificates\ROOT\Certificates\F40042E2E5F7E8EF8189FED15519AECE42C3BFA2"


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, update_repository):
    with build_fleet(list(HOSTS)) as fleet:
        work = tmp_path_factory.mktemp("psrp-remediate")
        inventory = fleet.inventory(work / "psrp.yml", operation_timeout_sec=2, read_timeout_sec=4, plugin="psrp",
                                    extra_vars={"acs_readiness_command_timeout": 30})
        text = inventory.read_text(encoding="utf-8")
        assert "ansible_connection: psrp" in text and "ansible_connection: winrm" not in text
        boots = {name: backend(fleet, name).model.boot_time for name in HOSTS}
        run = run_playbook("codesign.windows.prepare_upgrade", inventory, work,
                           ["-e", f"acs_readiness_report_dir={work / 'reports'}", "-e", "acs_readiness_remediate=all",
                            "-e", "acs_readiness_reboot=if_required", "-e", f"acs_readiness_hotfix_src={update_repository}",
                            "-e", "acs_readiness_gather_timeout=5", "-e", "acs_readiness_reboot_timeout=120",
                            "-e", "acs_readiness_servicing_timeout=120", "-e", "acs_readiness_servicing_check_interval=1"],
                           timeout=900)
        report = json.loads((work / "reports" / "acs-readiness.json").read_text(encoding="utf-8"))
        yield run, {record["host"]: record for record in report["hosts"]}, fleet, boots


def test_every_host_is_ready_after_prepare_upgrade_over_psrp(prepared):
    run, hosts, _fleet, _boots = prepared
    assert {name: hosts[name]["status"] for name in HOSTS} == dict.fromkeys(HOSTS, "ready"), run.stdout[-4000:]
    assert run.rc == 0, run.stdout[-4000:]


def test_what_was_done_is_what_each_host_needed(prepared):
    run, hosts, fleet, boots = prepared
    assert backend(fleet, "w2012r2-airgap-noroot").model.registry.open(ROOT_KEY) is not None
    assert backend(fleet, "w2012r2-airgap-noroot").model.boot_time == boots["w2012r2-airgap-noroot"], "no restart"
    for name in ("w2016-wfbs-old", "w2012r2-hotfix-seconly", "w2019-pending"):
        assert backend(fleet, name).model.boot_time > boots[name], name
        assert hosts[name]["remediation"]["before"] != "ready", name
    installed = run.last_run("w2016-wfbs-old", "codesign.windows.acs_hotfix")["result"]["installed"]
    assert installed == ["KB5005698", "KB5006669"]
    installed = run.last_run("w2012r2-hotfix-seconly", "codesign.windows.acs_hotfix")["result"]["installed"]
    assert installed == ["KB5006729"]
