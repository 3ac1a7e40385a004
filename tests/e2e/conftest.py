"""End-to-end fixtures: the emulated fleet on loopback, started once per session."""

from __future__ import annotations

import pytest

from support.e2e import run_playbook

from emulator.fleet import build_fleet
from emulator.windows import load_fleet
from support.update_repository import write_repository


@pytest.fixture(scope="session")
def fleet_models():
    return {host.name: host for host in load_fleet()}


@pytest.fixture(scope="session")
def fleet(tmp_path_factory):
    """Every fixture host, started once for the session."""
    with build_fleet() as running:
        inventory = tmp_path_factory.mktemp("fleet") / "hosts.yml"
        # The command timeout is a group variable, so that a host that needs longer (thousands of updates)
        # can say so in its own host variables, as an admin would.
        running.inventory(inventory, operation_timeout_sec=2, read_timeout_sec=4,
                          extra_vars={"acs_readiness_command_timeout": 15})
        running.inventory_path = inventory
        yield running


@pytest.fixture(scope="session")
def assessed(fleet, tmp_path_factory):
    """codesign.windows.assess over the whole fleet, faulty hosts included, once per session: the role's tests
    and the browser tests read the same run and its reports (JSON, CSV, HTML, Markdown)."""
    work = tmp_path_factory.mktemp("assess")
    reports = work / "reports"
    # acs_readiness_command_timeout comes from the inventory (15 s, longer where a host needs it).
    run = run_playbook("codesign.windows.assess", fleet.inventory_path, work,
                       ["-e", f"acs_readiness_report_dir={reports}", "-e", "acs_readiness_gather_timeout=3"])
    return run, reports


@pytest.fixture(scope="session")
def update_repository(tmp_path_factory):
    """Every update the catalog names, for every architecture, as the Microsoft Update Catalog names the files
    (tests/support/update_repository.py): built once per session."""
    directory = tmp_path_factory.mktemp("update-repository")
    write_repository(directory)
    return directory
