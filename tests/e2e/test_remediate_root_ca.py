"""codesign.windows.remediate with acs_readiness_remediate=root_ca, end to end: real ansible-playbook over WinRM to
emulated hosts that execute the operation script with their PowerShell interpreter, asserted on each host's model.

The runs build on each other (check mode, the run that changes hosts, the second run), on a fleet of their own.
"""

from __future__ import annotations

import hashlib
import json
import pathlib

import pytest

from emulator.fleet import backend, build_fleet
from support.e2e import run_playbook
from unit.plugins.plugin_utils.signing_helpers.roots import lookalike_root

ROOT_SHA1 = "F40042E2E5F7E8EF8189FED15519AECE42C3BFA2"
ROOT_KEY = rf"SOFTWARE\Microsoft\SystemCertificates\ROOT\Certificates\{ROOT_SHA1}"
NEEDS_ROOT = ["w2012r2-airgap-noroot", "w2008r2-airgap-noroot", "w2012r2-airgap-both"]
DISALLOWED = "w2016-root-disallowed"
USER = "w2012r2-airgap-noroot-user"
READY = ["w2019-2210", "win10-22h2-airgap"]
HOSTS = [*NEEDS_ROOT, DISALLOWED, USER, *READY]
FAST = ["-e", "acs_readiness_gather_timeout=5"]


def registry_snapshot(model) -> dict:
    """Every key and value of the host's registry, to compare before and after."""
    return {path: dict(key.values) for path, key in model.registry._keys.items()}  # pylint: disable=protected-access


def has_root(model) -> bool:
    return model.registry.open(ROOT_KEY) is not None


def report_hosts(directory: pathlib.Path) -> dict[str, dict]:
    report = json.loads((directory / "acs-readiness.json").read_text(encoding="utf-8"))
    return {record["host"]: record for record in report["hosts"]}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    with build_fleet(HOSTS) as running:
        inventory = tmp_path_factory.mktemp("remediate") / "hosts.yml"
        running.inventory(inventory, operation_timeout_sec=2, read_timeout_sec=4,
                          extra_vars={"acs_readiness_command_timeout": 30})
        running.inventory_path = inventory
        yield running


def models(fleet) -> dict:
    return {name: backend(fleet, name).model for name in HOSTS}


def commands(fleet) -> dict[str, int]:
    return {name: len(backend(fleet, name).commands) for name in HOSTS}


def remediate(fleet, work: pathlib.Path, *args: str):
    reports = work / "reports"
    run = run_playbook("codesign.windows.remediate", fleet.inventory_path, work,
                       ["-e", f"acs_readiness_report_dir={reports}", *FAST, *args])
    return run, reports


@pytest.fixture(scope="module")
def lookalike_run(fleet, tmp_path_factory):
    """First of all: a look-alike root file, refused on the controller before any host gets the operation."""
    work = tmp_path_factory.mktemp("lookalike")
    path = work / "lookalike.pem"
    path.write_bytes(lookalike_root().pem)
    before = {name: registry_snapshot(model) for name, model in models(fleet).items()}
    sent = commands(fleet)
    run, _reports = remediate(fleet, work, "-e", f"acs_readiness_root_ca_src={path}")
    return run, before, sent


@pytest.fixture(scope="module")
def check_run(fleet, lookalike_run, tmp_path_factory):
    work = tmp_path_factory.mktemp("check")
    before = {name: registry_snapshot(model) for name, model in models(fleet).items()}
    run, reports = remediate(fleet, work, "--check")
    return run, reports, before


@pytest.fixture(scope="module")
def first_run(fleet, check_run, tmp_path_factory):
    work = tmp_path_factory.mktemp("first")
    before = {name: registry_snapshot(model) for name, model in models(fleet).items()}
    run, reports = remediate(fleet, work)
    return run, reports, before


@pytest.fixture(scope="module")
def second_run(fleet, first_run, tmp_path_factory):
    work = tmp_path_factory.mktemp("second")
    before = {name: registry_snapshot(model) for name, model in models(fleet).items()}
    run, reports = remediate(fleet, work)
    return run, reports, before


def test_a_lookalike_root_file_is_refused_before_any_host_gets_the_operation(fleet, lookalike_run):
    run, before, sent = lookalike_run
    after = commands(fleet)
    for name in HOSTS:
        # The gather only: no host received the operation.
        assert after[name] - sent[name] == 1, name
        assert registry_snapshot(backend(fleet, name).model) == before[name], name
    for name in [*NEEDS_ROOT, USER]:
        message = run.last(name, "codesign.windows.acs_root_ca")["result"]["msg"]
        assert "is not Microsoft Identity Verification Root Certificate Authority 2020" in message
        assert "Microsoft Enterprise Identity Verification Root Certificate Authority 2020" in message
    assert run.rc != 0


def test_check_mode_changes_no_model_and_says_what_would_change(fleet, check_run):
    run, _reports, before = check_run
    for name, model in models(fleet).items():
        assert registry_snapshot(model) == before[name], f"check mode changed {name}"
    for name in NEEDS_ROOT:
        result = run.last(name, "codesign.windows.acs_root_ca")["result"]
        assert result["changed"] is True
        assert "check mode: nothing was changed" in result["msg"]
        assert result["stores"] == []


def test_the_root_is_installed_where_it_was_missing(fleet, first_run):
    run, reports, _before = first_run
    for name in NEEDS_ROOT:
        model = backend(fleet, name).model
        assert has_root(model), name
        blob = model.registry.open(ROOT_KEY).get("Blob")
        assert hashlib.sha1(blob).hexdigest().upper() == ROOT_SHA1, name  # nosec - a thumbprint
        result = run.last(name, "codesign.windows.acs_root_ca")["result"]
        assert result["changed"] is True and "root" in result["stores"], (name, result)
    hosts = report_hosts(reports)
    assert hosts["w2012r2-airgap-noroot"]["status"] == "ready"
    assert hosts["w2008r2-airgap-noroot"]["status"] == "ready"
    assert hosts["w2012r2-airgap-both"]["status"] == "needs_kb"


def test_the_verdict_before_remediation_is_kept_per_host(first_run):
    run, _reports, _before = first_run
    for name, status in (("w2012r2-airgap-noroot", "needs_root_ca"), ("w2012r2-airgap-both", "needs_kb_and_root_ca"),
                         ("w2019-2210", "ready")):
        kept = [r["result"]["ansible_facts"]["acs_verdict_before"] for r in run.host_results(name, "ansible.builtin.set_fact")
                if "acs_verdict_before" in r["result"].get("ansible_facts", {})]
        assert kept and kept[-1]["status"] == status, name


def test_a_disallowed_root_is_reported_and_left_alone(fleet, first_run):
    run, reports, before = first_run
    model = backend(fleet, DISALLOWED).model
    assert registry_snapshot(model) == before[DISALLOWED]
    assert not run.host_results(DISALLOWED, "codesign.windows.acs_root_ca") or \
        run.last(DISALLOWED, "codesign.windows.acs_root_ca")["status"] == "skipped"
    shown = [r["result"].get("msg", "") for r in run.host_results(DISALLOWED, "ansible.builtin.debug")]
    assert any("Disallowed (untrusted) store; it was left alone" in message for message in shown)
    assert report_hosts(reports)[DISALLOWED]["status"] == "needs_root_ca"


def test_an_account_that_is_not_an_administrator_fails_clearly(fleet, first_run):
    run, reports, before = first_run
    model = backend(fleet, USER).model
    assert not has_root(model)
    assert registry_snapshot(model) == before[USER]
    failed = [r["result"].get("msg", "") for r in run.host_results(USER) if r["status"] == "failed"]
    assert any("not allowed to write LocalMachine\\Root" in message and "local Administrators" in message
               for message in failed), failed
    assert report_hosts(reports)[USER]["status"] == "needs_root_ca"
    assert run.rc != 0


def test_no_ready_host_is_touched_or_worse(fleet, first_run):
    run, reports, before = first_run
    hosts = report_hosts(reports)
    for name in READY:
        assert hosts[name]["status"] == "ready", name
        assert registry_snapshot(backend(fleet, name).model) == before[name], name
        assert run.stats[name]["changed"] == 0, name


def test_a_second_run_changes_nothing(fleet, second_run):
    run, reports, before = second_run
    for name, model in models(fleet).items():
        assert registry_snapshot(model) == before[name], name
        assert run.stats[name]["changed"] == 0, (name, run.stats[name])
    for name in NEEDS_ROOT:
        result = run.last(name, "codesign.windows.acs_root_ca") if run.host_results(name, "codesign.windows.acs_root_ca") \
            else None
        # Now trusted, the verdict no longer asks for the root: the task is skipped.
        assert result is None or result["status"] == "skipped", (name, result)
    assert report_hosts(reports)["w2012r2-airgap-noroot"]["status"] == "ready"


def test_an_unknown_remediation_is_refused_before_any_host_is_contacted(fleet, second_run, tmp_path):
    sent = commands(fleet)
    run, _reports = remediate(fleet, tmp_path, "-e", "acs_readiness_remediate=everything")
    assert run.rc != 0
    assert "value of acs_readiness_remediate must be one of: none, root_ca, kb, all, got: everything" in run.stdout
    assert commands(fleet) == sent


class DropWhileAdding:
    """The host's backend with one fault switched on mid-run: once the host has answered the operation's first
    look, the connection drops on the next command's first Receive. That command is the add: the host runs it,
    only its answer is lost (wsman.Faults.drop_on_receive; the fields may change while the fleet runs)."""

    def __init__(self, host):
        self.host = host
        self.inner = host.config.backend
        self.name = self.inner.name
        self.armed = True

    def run_command(self, command_line, stdin):
        result = self.inner.run_command(command_line, stdin)
        if self.armed and b"Invoke-AcsRootCa" in stdin and b"add = $false" in stdin:
            self.armed = False
            self.host.config.faults.drop_on_receive = True
        return result


def test_a_connection_lost_while_adding_fails_the_host_and_a_rerun_finds_the_root(tmp_path):
    name = "w2012r2-airgap-noroot"
    with build_fleet([name]) as running:
        inventory = tmp_path / "hosts.yml"
        running.inventory(inventory, operation_timeout_sec=2, read_timeout_sec=4,
                          extra_vars={"acs_readiness_command_timeout": 30})
        running.inventory_path = inventory
        host = running[name]
        fault = DropWhileAdding(host)
        host.config.backend = fault
        run, reports = remediate(running, tmp_path / "first")
        assert not fault.armed and run.rc != 0
        failed = [r["result"].get("msg", "") for r in run.host_results(name) if r["status"] == "failed"]
        assert any("the connection to the host was lost while adding the root (run again to see whether it was "
                   "added)" in message for message in failed), failed
        model = fault.inner.model
        assert has_root(model), "the host ran the command; only its answer was lost"
        assert report_hosts(reports)[name]["status"] == "needs_root_ca", "not called fixed without seeing it"

        host.config.faults.drop_on_receive = False
        again, reports = remediate(running, tmp_path / "again")
        assert again.rc == 0 and again.stats[name]["changed"] == 0, again.stdout[-3000:]
        assert report_hosts(reports)[name]["status"] == "ready"
