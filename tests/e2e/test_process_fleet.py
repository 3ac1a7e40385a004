"""The fleet served from several worker processes answers exactly as the one-process fleet does.

The same hosts, gathered with the same playbook, once from a Fleet and once from a ProcessFleet of two
workers: the same evidence per host, and the same per-host protocol figures (the stats tests read).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from emulator.fleet import ProcessFleet, fixture_configs
from emulator.wsman import Fleet
from support.e2e import E2E, REPO, run_playbook

HOSTS = ["w2019-2210", "w2008r2-esu-ready", "w2012r2-leastpriv", "win10-22h2", "w2016-ready"]


def _gather(fleet, work):
    inventory = fleet.inventory(work / "hosts.yml", operation_timeout_sec=20)
    run = run_playbook(E2E / "playbooks" / "gather.yml", inventory, work)
    evidence = {name: run.last(name, "codesign.windows.acs_facts")["result"]["ansible_facts"]["acs"]["evidence"]
                for name in HOSTS}
    stats = {name: fleet.stats(name) for name in HOSTS}
    return run, evidence, stats


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    with Fleet(fixture_configs(HOSTS)) as fleet:
        single = _gather(fleet, tmp_path_factory.mktemp("one-process"))
    with ProcessFleet(fixture_configs, (HOSTS,), processes=2) as fleet:
        assert fleet.processes == 2
        several = _gather(fleet, tmp_path_factory.mktemp("two-processes"))
        workers_cpu = fleet.cpu_seconds()
        fleet.reset_stats()
        after_reset = fleet.all_stats()
    return single, several, workers_cpu, after_reset


def test_the_same_evidence_from_several_processes(both):
    (single_run, single, _single_stats), (several_run, several, _several_stats), _cpu, _reset = both
    assert single_run.rc == several_run.rc == 0, several_run.stdout[-2000:]
    assert several == single


def test_the_same_stats_per_host_from_several_processes(both):
    (_single_run, _single_facts, single), (_several_run, _several_facts, several), workers_cpu, after_reset = both
    for name in HOSTS:
        mine, theirs = several[name], single[name]
        assert (mine.commands_run, mine.protocol_requests, mine.actions, mine.errors) == \
               (theirs.commands_run, theirs.protocol_requests, theirs.actions, theirs.errors), name
        assert mine.bytes_sent > 0 and mine.bytes_received > 0
    assert workers_cpu > 0   # the workers interpreted the runner, not this process
    assert sorted(after_reset) == sorted(HOSTS)
    assert all(stats.requests == 0 for stats in after_reset.values())


def test_serve_with_processes_writes_the_inventory_and_stops_its_workers(tmp_path):
    inventory, ready, pidfile = tmp_path / "hosts.yml", tmp_path / "ready", tmp_path / "pid"
    server = subprocess.Popen(  # pylint: disable=consider-using-with
        [sys.executable, "-m", "emulator", "serve", "--hosts", ",".join(HOSTS[:3]), "--processes", "2",
         "--inventory", str(inventory), "--ready-file", str(ready), "--pidfile", str(pidfile)],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO / "tests")}, stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and server.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ready.exists(), server.communicate(timeout=5)
        hosts = yaml.safe_load(inventory.read_text())["all"]["children"]["windows"]["hosts"]
        assert sorted(hosts) == sorted(HOSTS[:3])
        workers = subprocess.run(["pgrep", "-P", str(server.pid), "-f", "spawn_main"], capture_output=True,
                                 text=True, check=False)
        assert len(workers.stdout.split()) == 2
        run = run_playbook(E2E / "playbooks" / "gather.yml", inventory, tmp_path)
        assert run.rc == 0, run.stdout[-2000:]
    finally:
        server.send_signal(signal.SIGTERM)
        output, _errors = server.communicate(timeout=30)
    assert server.returncode == 0, output
    assert "3 hosts" in output
    assert not pidfile.exists()
    orphans = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True, check=False)
    assert orphans.stdout.strip() == ""
