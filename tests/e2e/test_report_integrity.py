"""Every host of the play is in the report, always: serial batches, hosts that fail early, odd host names,
and runs that share a report directory. Real ansible-playbook over WinRM to the emulated fleet."""

from __future__ import annotations

import concurrent.futures
import json
import pathlib

import yaml

from support.e2e import run_playbook

UNASSESSABLE = ["fault-down", "fault-badcreds"]
READY = ["w2019-2210", "w2012r2-oct2021"]
UNREADY = ["w2019-2209", "w2012r2-airgap-noroot"]
FAST = ["-e", "acs_readiness_gather_timeout=3", "-e", "acs_readiness_command_timeout=15"]


def inventory(fleet, directory: pathlib.Path, hosts: dict[str, str]) -> pathlib.Path:
    """An inventory of ``hosts`` ({inventory name: fleet host}) in this order: serial batches follow it."""
    full = yaml.safe_load(fleet.inventory_path.read_text(encoding="utf-8"))
    group = full["all"]["children"]["windows"]
    chosen = {"all": {"children": {"windows": {"hosts": {name: group["hosts"][host] for name, host in hosts.items()},
                                               "vars": group["vars"]}}}}
    path = directory / "inventory.yml"
    path.write_text(yaml.safe_dump(chosen, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def report_of(directory: pathlib.Path) -> dict:
    return json.loads((directory / "acs-readiness.json").read_text(encoding="utf-8"))


def statuses(report: dict) -> dict[str, str]:
    return {record["host"]: record["status"] for record in report["hosts"]}


def report_writes(run) -> int:
    return len([r for r in run.results if r["action"].endswith("acs_report") and r["status"] == "ok"])


def failures(run, host: str) -> list[str]:
    return [r["result"].get("msg", "") for r in run.host_results(host) if r["status"] == "failed"]


def test_an_unassessable_batch_does_not_stop_the_batches_after_it(fleet, fleet_models, tmp_path):
    """Serial batches of two: the first batch is all unreachable; the healthy hosts after it are still checked."""
    hosts = UNASSESSABLE + READY + UNREADY
    fleet.reset_stats()
    run = run_playbook("codesign.windows.assess", inventory(fleet, tmp_path, {h: h for h in hosts}), tmp_path,
                       ["-e", "acs_readiness_serial=2", "-e", f"acs_readiness_report_dir={tmp_path / 'r'}", *FAST])
    assert report_writes(run) == 3, "three batches of two, one report write each"
    report = report_of(tmp_path / "r")
    assert statuses(report) == {**{h: "unreachable" for h in UNASSESSABLE}, **{h: "ready" for h in READY},
                                **{h: fleet_models[h].expect["status"] for h in UNREADY}}, run.stdout[-3000:]
    for host in READY + UNREADY:
        assert fleet.stats(host).commands_run > 0, f"{host} of a later batch was never checked"
        assert run.stats[host]["failures"] == 0, (host, failures(run, host))
    for host in UNASSESSABLE:
        assert any(f"{host} could not be assessed (unreachable)" in message for message in failures(run, host))
    assert report["summary"]["total"] == 6 and run.custom["_run"]["acs_readiness"]["total"] == 6
    assert run.rc != 0


def test_the_gate_fails_blocked_hosts_not_the_run(fleet, tmp_path):
    """Serial batches of two: a batch of blocked hosts, then one unassessable, then the ready hosts."""
    hosts = UNREADY + UNASSESSABLE + READY
    run = run_playbook("codesign.windows.gate", inventory(fleet, tmp_path, {h: h for h in hosts}), tmp_path,
                       ["-e", "acs_readiness_serial=2", "-e", f"acs_readiness_report_dir={tmp_path / 'r'}", *FAST])
    assert report_writes(run) == 3, "three batches of two, one report write each"
    decisions = {record["host"]: record["gate"]["decision"] for record in report_of(tmp_path / "r")["hosts"]}
    assert decisions == {**{h: "block" for h in UNREADY + UNASSESSABLE}, **{h: "allow" for h in READY}}
    for host in READY:
        assert run.stats[host]["failures"] == 0, (host, failures(run, host))
        assert run.stats[host]["ok"] > 0
    for host in UNREADY:
        assert run.stats[host]["failures"] == 1, host
        assert "ACS gate" in failures(run, host)[0] and "must not receive" in failures(run, host)[0]
    for host in UNASSESSABLE:
        assert run.stats[host]["failures"] == 1, host
    assert run.rc != 0


def test_a_host_name_with_non_ascii_digits_is_reported_with_the_others(fleet, tmp_path):
    hosts = {"web2\u00b2": "w2019-2210", "w2012r2-oct2021": "w2012r2-oct2021", "srv\u0663": "w2019-2209"}
    run = run_playbook("codesign.windows.assess", inventory(fleet, tmp_path, hosts), tmp_path,
                       ["-e", f"acs_readiness_report_dir={tmp_path / 'r'}", *FAST])
    assert run.rc == 0, run.stdout[-3000:]
    assert statuses(report_of(tmp_path / "r")) == {"web2\u00b2": "ready", "w2012r2-oct2021": "ready", "srv\u0663": "needs_kb"}
    page = (tmp_path / "r" / "acs-readiness.html").read_text(encoding="utf-8")
    assert "web2\u00b2" in page and "srv\u0663" in page


EARLY_FAILURE_PLAY = """
- name: A play in which one host fails before the assessment
  hosts: windows
  gather_facts: false
  pre_tasks:
    - name: Fail one host early
      ansible.builtin.fail:
        msg: maintenance window closed
      when: inventory_hostname == '%s'
  roles:
    - role: codesign.windows.acs_readiness
      vars:
        acs_readiness_gate: "off"
"""


def test_a_host_that_left_the_play_early_is_still_in_the_report(fleet, tmp_path):
    playbook = tmp_path / "early.yml"
    playbook.write_text(EARLY_FAILURE_PLAY % READY[1], encoding="utf-8")
    run = run_playbook(playbook, inventory(fleet, tmp_path, {h: h for h in READY}), tmp_path,
                       ["-e", f"acs_readiness_report_dir={tmp_path / 'r'}", *FAST])
    records = {record["host"]: record for record in report_of(tmp_path / "r")["hosts"]}
    assert set(records) == set(READY)
    assert records[READY[0]]["status"] == "ready"
    assert records[READY[1]]["status"] == "failed" and "acs_facts did not run" in records[READY[1]]["error"]
    assert run.rc != 0


def test_two_runs_sharing_a_run_id_write_one_report(fleet, tmp_path):
    """Two AWX slices of one job: separate ansible-playbook processes at once, one run id, one directory."""
    reports = tmp_path / "shared"
    slices = {"a": READY[:1] + UNREADY[:1], "b": READY[1:] + UNREADY[1:]}

    def run_slice(name: str):
        work = tmp_path / name
        work.mkdir()
        return run_playbook("codesign.windows.assess", inventory(fleet, work, {h: h for h in slices[name]}), work,
                            ["-e", f"acs_readiness_report_dir={reports}", "-e", "acs_readiness_run_id=awx-wf-9", *FAST])

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(run_slice, slices))
    assert all(run.rc == 0 for run in runs), [run.stdout[-2000:] for run in runs]
    report = report_of(reports)
    assert sorted(statuses(report)) == sorted(READY + UNREADY)
    assert report["run"]["run_id"] == "awx-wf-9"
    assert json.loads((reports / "acs-readiness-awx-wf-9.json").read_text(encoding="utf-8")) == report
    assert not [path.name for path in reports.iterdir() if path.name.endswith(".tmp")]


SERIAL_GATE_PLAYS = """
- name: Assess in batches, as the role's documentation shows
  hosts: windows
  gather_facts: false
  serial: 2
  roles:
    - role: codesign.windows.acs_readiness
      vars:
        acs_readiness_gate: enforce
        acs_readiness_apply_gate: false
        acs_readiness_print_summary: false

- name: Then apply the gate to every host of the run
  hosts: windows
  gather_facts: false
  tasks:
    - name: Gate
      ansible.builtin.include_role:
        name: codesign.windows.acs_readiness
        tasks_from: gate
      vars:
        acs_readiness_gate: enforce
"""


def test_a_serial_play_of_ones_own_gates_every_batch(fleet, tmp_path):
    """The pattern the role documents for serial plays: a first batch that is all blocked stops nothing."""
    playbook = tmp_path / "serial-gate.yml"
    playbook.write_text(SERIAL_GATE_PLAYS, encoding="utf-8")
    hosts = UNREADY + READY
    fleet.reset_stats()
    run = run_playbook(playbook, inventory(fleet, tmp_path, {h: h for h in hosts}), tmp_path,
                       ["-e", f"acs_readiness_report_dir={tmp_path / 'r'}", *FAST])
    assert set(statuses(report_of(tmp_path / "r"))) == set(hosts)
    for host in READY:
        assert fleet.stats(host).commands_run > 0, f"{host} of the second batch was never checked"
        assert run.stats[host]["failures"] == 0, (host, failures(run, host))
    for host in UNREADY:
        assert run.stats[host]["failures"] == 1 and "ACS gate" in failures(run, host)[0]


def test_a_package_that_cannot_be_inspected_blocks_every_host_after_the_report(fleet, tmp_path):
    missing = tmp_path / "no-such-agent.msi"
    run = run_playbook("codesign.windows.gate", inventory(fleet, tmp_path, {h: h for h in READY}), tmp_path,
                       ["-e", f"acs_readiness_report_dir={tmp_path / 'r'}", "-e", f"acs_readiness_agent_package={missing}",
                        *FAST])
    report = report_of(tmp_path / "r")
    assert statuses(report) == {h: "ready" for h in READY}
    assert report["run"]["agent_package"]["verdict"] == "unreadable"
    assert "does not exist" in report["run"]["agent_package"]["reasons"][0]
    for host in READY:
        assert run.stats[host]["failures"] == 1
        message = failures(run, host)[-1]
        assert "ACS gate" in message and "must not be deployed anywhere" in message, message
