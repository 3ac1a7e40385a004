"""The acs_readiness role and its playbooks, end to end: real ansible-playbook over WinRM to the fleet."""

from __future__ import annotations

import csv
import json
import pathlib

import pytest

from support.e2e import REPO, run_playbook

READY = ["w2019-2210", "w2012r2-oct2021", "w2008r2-esu-ready", "win11-misnamed"]
UNREADY = ["w2019-2209", "w2012r2-airgap-noroot", "win7-noesu", "w2003-dsa96", "w2019-pending"]
# acs_readiness_command_timeout comes from the inventory (15 s, longer where a host needs it).
FAST = ["-e", "acs_readiness_gather_timeout=3"]


def report_of(directory: pathlib.Path) -> dict:
    return json.loads((directory / "acs-readiness.json").read_text(encoding="utf-8"))


def by_host(report: dict) -> dict[str, dict]:
    return {record["host"]: record for record in report["hosts"]}


def test_assess_reports_every_host_with_its_expected_status(assessed, fleet_models):
    run, reports = assessed
    hosts = by_host(report_of(reports))
    assert set(hosts) == set(fleet_models), "no host may be silently missing"
    for name, model in fleet_models.items():
        expect = model.expect
        record = hosts[name]
        if "status" in expect:
            assert record["status"] == expect["status"], (name, record.get("verdict", {}).get("reasons"))
        elif "unreachable" in expect:
            assert record["status"] == "unreachable", name
            assert expect["unreachable"] in record["error"]
        else:
            assert record["status"] == "failed", name
            assert expect["failed"] in record["error"]


def test_assess_is_read_only_and_fails_only_the_unassessed(assessed, fleet_models):
    run, _reports = assessed
    for name, model in fleet_models.items():
        stats = run.stats[name]
        assert stats["changed"] == 0, name
        unassessed = "unreachable" in model.expect or "failed" in model.expect
        assert (stats["failures"] + stats["unreachable"] > 0) is unassessed, (name, stats)
    messages = [r["result"].get("msg", "") for r in run.results if r["status"] == "failed"]
    assert any("fault-down could not be assessed (unreachable)" in m for m in messages)
    assert run.rc != 0


def test_the_gate_play_visits_only_the_hosts_it_has_something_to_do_for(assessed, fleet_models):
    """Every task costs a worker process per host: the assessed hosts never enter the gate's play."""
    run, _reports = assessed
    unassessed = {name for name, model in fleet_models.items()
                  if "unreachable" in model.expect or "failed" in model.expect}
    visited = {r["host"] for r in run.results if r["task"].endswith("Fail the hosts that could not be assessed")}
    assert visited == unassessed


def test_assess_csv_html_markdown_and_stats(assessed, fleet_models):
    run, reports = assessed
    with (reports / "acs-readiness.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(fleet_models)
    html = (reports / "acs-readiness.html").read_text(encoding="utf-8")
    assert "w2012r2-airgap-both" in html and "KB5006714" in html
    for fetch in ("<script src", "<link ", "<img src=\"http", "@import", "url(http"):
        assert fetch not in html, f"the HTML report must not fetch anything ({fetch})"
    markdown = (reports / "acs-readiness.md").read_text(encoding="utf-8")
    assert "needs_kb" in markdown or "Needs" in markdown
    stats = run.custom["_run"]["acs_readiness"]
    assert stats["total"] == len(fleet_models)
    assert "w2019-2210" in stats["products"]["apex_one"]["ready_hosts"]
    assert "w2019-2209" in stats["products"]["apex_one"]["not_ready_hosts"]
    assert stats["reports"]["html"].endswith("acs-readiness.html")


def test_published_stats_cut_host_lists_at_the_cap(fleet, tmp_path):
    """With a cap of 2 the artifact lists two names a list, says how many it left out, and points at the report."""
    hosts = READY + UNREADY[:3]
    reports = tmp_path / "reports"
    run = run_playbook("codesign.windows.assess", fleet.inventory_path, tmp_path,
                       ["-l", ",".join(hosts), "-e", f"acs_readiness_report_dir={reports}",
                        "-e", "acs_readiness_stats_host_cap=2", *FAST])
    assert run.rc == 0, run.stdout[-2000:]
    stats = run.custom["_run"]["acs_readiness"]
    assert stats["total"] == len(hosts) and stats["ready"] == len(READY), "counts stay whole"
    assert stats["host_list_cap"] == 2
    assert len(stats["ready_hosts"]) == 2 and set(stats["ready_hosts"]) <= set(READY)
    assert len(stats["hosts_needing_action"]) == 2 and set(stats["hosts_needing_action"]) <= set(UNREADY)
    assert stats["truncated"]["ready_hosts"] == len(READY)
    assert stats["truncated"]["hosts_needing_action"] == 3
    assert all(len(entry[key]) <= 2 for entry in stats["products"].values() for key in entry if key.endswith("_hosts"))
    left_out = sum(full - 2 for full in stats["truncated"].values())
    assert f"{left_out} names left out" in stats["note"]
    assert stats["note"].endswith(f"every host is in the report: {reports / 'acs-readiness.json'}")
    assert sorted(by_host(report_of(reports))) == sorted(hosts), "the report keeps every host"


def test_stopped_agents_come_first(assessed):
    _run, reports = assessed
    first = report_of(reports)["hosts"][0]
    agents = (first.get("verdict") or {}).get("agents") or []
    assert any(agent["service_state"] in ("stopped", "missing") for agent in agents), first["host"]


def test_gate_stops_exactly_the_unready_hosts(fleet, tmp_path):
    run = run_playbook("codesign.windows.gate", fleet.inventory_path, tmp_path,
                       ["-l", ",".join(READY + UNREADY), "-e", f"acs_readiness_report_dir={tmp_path / 'r'}", *FAST])
    for name in READY:
        assert run.stats[name]["failures"] == 0, (name, run.host_results(name))
    for name in UNREADY:
        assert run.stats[name]["failures"] == 1, name
        gate = [r for r in run.host_results(name) if r["status"] == "failed"][0]
        assert "ACS gate" in gate["result"]["msg"] and "not ready" in gate["result"]["msg"]
    blocked = [r for r in run.host_results("w2019-2209") if r["status"] == "failed"][0]["result"]["msg"]
    assert "KB5005625" in blocked and "UBR 2209 is below 2210" in blocked, blocked
    rootless = [r for r in run.host_results("w2012r2-airgap-noroot") if r["status"] == "failed"][0]["result"]["msg"]
    assert "root certificate Microsoft Identity Verification Root Certificate Authority 2020" in rootless, rootless
    assert "in place" not in rootless
    decisions = {r["host"]: r["gate"]["decision"] for r in report_of(tmp_path / "r")["hosts"]}
    assert decisions == {**{h: "allow" for h in READY}, **{h: "block" for h in UNREADY}}


SERIAL_PLAY = """
- name: Assess in batches
  hosts: windows
  gather_facts: false
  serial: 2
  roles:
    - role: codesign.windows.acs_readiness
      vars:
        acs_readiness_gate: "off"
        acs_readiness_print_summary: false
"""


def test_serial_batches_add_up_and_a_new_run_starts_fresh(fleet, tmp_path):
    playbook = tmp_path / "serial.yml"
    playbook.write_text(SERIAL_PLAY, encoding="utf-8")
    reports = tmp_path / "reports"
    five = READY[:2] + UNREADY[:3]
    run = run_playbook(playbook, fleet.inventory_path, tmp_path,
                       ["-l", ",".join(five), "-e", f"acs_readiness_report_dir={reports}", *FAST])
    assert run.rc == 0, run.stdout[-2000:]
    first = report_of(reports)
    assert sorted(by_host(first)) == sorted(five)
    assert run.custom["_run"]["acs_readiness"]["total"] == 5

    run_playbook(playbook, fleet.inventory_path, tmp_path,
                 ["-l", READY[2], "-e", f"acs_readiness_report_dir={reports}", *FAST])
    second = report_of(reports)
    assert sorted(by_host(second)) == [READY[2]]
    assert second["run"]["run_id"] != first["run"]["run_id"]


def test_report_is_written_when_every_host_is_unreachable(fleet, tmp_path):
    run = run_playbook("codesign.windows.assess", fleet.inventory_path, tmp_path,
                       ["-l", "fault-badcreds,fault-down", "-e", f"acs_readiness_report_dir={tmp_path / 'r'}", *FAST])
    hosts = by_host(report_of(tmp_path / "r"))
    assert {name: record["status"] for name, record in hosts.items()} == {"fault-badcreds": "unreachable",
                                                                          "fault-down": "unreachable"}
    assert run.rc != 0


def test_report_copied_to_another_place(fleet, tmp_path):
    copies = tmp_path / "share"
    copies.mkdir()
    extra = json.dumps({"acs_readiness_report_dir": str(tmp_path / "r"),
                        "acs_readiness_report_copy_to": [{"host": "localhost", "path": str(copies)}]})
    run = run_playbook("codesign.windows.assess", fleet.inventory_path, tmp_path,
                       ["-l", READY[0], "-e", extra, *FAST])
    assert run.rc == 0, run.stdout[-3000:]
    assert sorted(p.name for p in copies.iterdir()) == ["acs-readiness.csv", "acs-readiness.html",
                                                        "acs-readiness.json", "acs-readiness.md"]


@pytest.mark.parametrize("extra, message", [
    ("acs_readiness_gate=maybe", "acs_readiness_gate"),
    ("acs_readiness_policy_21h2=loose", "acs_readiness_policy_21h2"),
    ('{"acs_readiness_gather_timeout": "soon"}', "acs_readiness_gather_timeout"),
])
def test_bad_input_fails_before_any_task(fleet, tmp_path, extra, message):
    fleet.reset_stats()
    run = run_playbook("codesign.windows.assess", fleet.inventory_path, tmp_path, ["-l", READY[0], "-e", extra])
    assert run.rc != 0
    failure = [r for r in run.results if r["status"] == "failed"][0]
    assert message in failure["result"]["msg"]
    assert fleet.stats(READY[0]).commands_run == 0, "nothing may reach the host before validation"


def test_check_mode_changes_nothing_and_still_reports(fleet, tmp_path):
    run = run_playbook("codesign.windows.assess", fleet.inventory_path, tmp_path,
                       ["--check", "-l", ",".join(READY[:2]), "-e", f"acs_readiness_report_dir={tmp_path / 'r'}", *FAST])
    assert run.rc == 0, run.stdout[-2000:]
    assert all(stats["changed"] == 0 for stats in run.stats.values())
    assert sorted(by_host(report_of(tmp_path / "r"))) == sorted(READY[:2])


CACHED_PLAY = """
- name: Read yesterday's verdict from the fact cache, without touching the host
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Show the cached verdict
      ansible.builtin.debug:
        msg: "{{ hostvars['%s'].acs_verdict.status }} {{ hostvars['%s'].acs.evidence.os_version }}"
"""


def test_verdict_is_a_cacheable_fact(fleet, tmp_path):
    cache = {"ANSIBLE_CACHE_PLUGIN": "ansible.builtin.jsonfile", "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(tmp_path / "facts")}
    run_playbook("codesign.windows.assess", fleet.inventory_path, tmp_path,
                 ["-l", READY[0], "-e", f"acs_readiness_report_dir={tmp_path / 'r'}", *FAST], env=cache)
    fleet.reset_stats()
    playbook = tmp_path / "cached.yml"
    playbook.write_text(CACHED_PLAY % (READY[0], READY[0]), encoding="utf-8")
    later = run_playbook(playbook, fleet.inventory_path, tmp_path, env=cache)
    assert later.last("localhost", "ansible.builtin.debug")["result"]["msg"] == "ready 10.0.17763"
    assert fleet.stats(READY[0]).requests == 0


def test_playbooks_exist_where_the_readme_says():
    for name in ("assess.yml", "gate.yml"):
        assert (REPO / "playbooks" / name).is_file()
