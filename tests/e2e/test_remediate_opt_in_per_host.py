"""acs_readiness_remediate set for one host only (its inventory variables), not for the first host of the batch:
that host is still remediated, and the others are not. The role skips its remediation include once for the whole
batch when no host asks for it (roles/acs_readiness/tasks/main.yml); this is the case that must not be skipped."""

from __future__ import annotations

import json

import pytest
import yaml

from emulator.fleet import backend, build_fleet
from support.e2e import run_playbook

ROOT_KEY = r"SOFTWARE\Microsoft\SystemCertificates\ROOT\Certificates\F40042E2E5F7E8EF8189FED15519AECE42C3BFA2"
FIRST = "w2008r2-airgap-noroot"      # first of the batch, needs the root, does not ask for remediation
ASKS = "w2012r2-airgap-noroot"       # needs the root and asks for it in its host variables
HOSTS = [FIRST, ASKS]


@pytest.fixture(scope="module")
def assessed(tmp_path_factory):
    with build_fleet(HOSTS) as fleet:
        work = tmp_path_factory.mktemp("opt-in")
        inventory = work / "hosts.yml"
        fleet.inventory(inventory, operation_timeout_sec=2, read_timeout_sec=4,
                        extra_vars={"acs_readiness_command_timeout": 30})
        document = yaml.safe_load(inventory.read_text(encoding="utf-8"))
        (group,) = document["all"]["children"].values()
        assert list(group["hosts"]) == HOSTS, "the host that does not ask comes first"
        (work / "host_vars").mkdir()
        (work / "host_vars" / f"{ASKS}.yml").write_text("acs_readiness_remediate: root_ca\n", encoding="utf-8")
        run = run_playbook("codesign.windows.assess", inventory, work,
                           ["-e", f"acs_readiness_report_dir={work / 'reports'}", "-e", "acs_readiness_gather_timeout=5"])
        report = json.loads((work / "reports" / "acs-readiness.json").read_text(encoding="utf-8"))
        yield run, {record["host"]: record for record in report["hosts"]}, fleet


def test_a_host_that_asks_is_remediated_though_the_first_host_does_not(assessed):
    run, hosts, fleet = assessed
    assert backend(fleet, ASKS).model.registry.open(ROOT_KEY) is not None, run.stdout[-3000:]
    assert hosts[ASKS]["status"] == "ready"
    assert hosts[ASKS]["remediation"]["before"] == "needs_root_ca"


def test_a_host_that_does_not_ask_is_left_as_it_was(assessed):
    _run, hosts, fleet = assessed
    assert backend(fleet, FIRST).model.registry.open(ROOT_KEY) is None
    assert hosts[FIRST]["status"] == "needs_root_ca"
    assert not hosts[FIRST].get("remediation")
