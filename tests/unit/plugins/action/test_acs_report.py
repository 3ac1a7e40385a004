"""The acs_report action plugin: hostvars in, report files and gate decisions out, whatever the hosts left.

Host results are replayed from the evidence the emulated fleet gave (tests/unit/plugins/plugin_utils/data/
report_records.json), shaped as acs_facts returns them; unreachable, failed and skipped hosts as Ansible
registers them.
"""

from __future__ import annotations

import json
import pathlib
from unittest.mock import MagicMock

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.codesign.windows.plugins.action.acs_report import ActionModule

DATA = pathlib.Path(__file__).resolve().parents[1] / "plugin_utils" / "data" / "report_records.json"


@pytest.fixture(scope="module")
def recorded() -> dict[str, dict]:
    return {record["host"]: record for record in json.loads(DATA.read_text(encoding="utf-8"))}


def gathered(record: dict) -> dict:
    """What `register: acs_readiness_gathered` holds for a host after acs_facts."""
    if record["status"] == "unreachable":
        return {"unreachable": True, "changed": False, "msg": record["error"]}
    if record["evidence"] is None:
        return {"failed": True, "changed": False, "msg": record["error"]}
    return {"changed": False, "warnings": list(record["warnings"]),
            "ansible_facts": {"acs": {"evidence": record["evidence"], "gathered_at": record["gathered_at"]}}}


def run_action(args: dict, hostvars: dict, play_hosts: list[str], check_mode: bool = False, batch=None) -> dict:
    task = MagicMock()
    task.args = args
    task.async_val = 0
    task.check_mode = check_mode
    task.diff = False
    action = ActionModule(task, MagicMock(), MagicMock(), loader=None, templar=None, shared_loader_obj=None)
    action._load_name = "codesign.windows.acs_report"  # set by the plugin loader; ansible-core 2.16 reads it
    task_vars = {"hostvars": hostvars, "ansible_play_hosts_all": play_hosts,
                 "ansible_play_batch": play_hosts if batch is None else batch}
    return action.run(task_vars=task_vars)


def report_of(directory: pathlib.Path) -> dict:
    return json.loads((directory / "acs-readiness.json").read_text(encoding="utf-8"))


def test_every_host_of_the_play_with_its_status_and_decision(tmp_path, recorded):
    hostvars = {host: {"acs_readiness_gathered": gathered(record)} for host, record in recorded.items()}
    result = run_action({"directory": str(tmp_path), "run_id": "r1", "gate": "enforce"}, hostvars, list(recorded))
    assert result.get("failed") is not True, result
    assert result["changed"] is False
    report = report_of(tmp_path)
    assert {record["host"]: record["status"] for record in report["hosts"]} == \
        {host: record["status"] for host, record in recorded.items()}
    assert result["hosts_in_report"] == len(recorded) == result["summary"]["total"]
    assert result["decisions"]["w2019-2210"]["decision"] == "allow"
    assert result["decisions"]["w2019-2209"]["decision"] == "block"
    assert "KB5005625" in result["decisions"]["w2019-2209"]["reason"]
    assert result["decisions"]["fault-down"]["decision"] == "block"
    assert sorted(result["paths"]) == ["csv", "html", "json", "md"]
    assert result["markdown"].startswith("# ACS readiness:")
    assert report["run"]["run_id"] == "r1" and report["run"]["gate_mode"] == "enforce"


def test_the_hosts_fact_verdict_is_used_when_present(tmp_path, recorded):
    record = recorded["w2019-2209"]
    verdict = {**record["verdict"], "status": "ready", "ready": True, "reasons": ["judged elsewhere"]}
    hostvars = {"h": {"acs_readiness_gathered": gathered(record), "acs_verdict": verdict}}
    result = run_action({"directory": str(tmp_path), "run_id": "r1", "gate": "enforce"}, hostvars, ["h"])
    assert result["decisions"]["h"]["decision"] == "allow"
    assert report_of(tmp_path)["hosts"][0]["verdict"]["reasons"] == ["judged elsewhere"]


class BrokenHostVars(dict):
    """A host whose variables cannot be read (an undefined template in its inventory, for example)."""

    def get(self, *_args, **_kwargs):
        raise RuntimeError("'undefined_thing' is undefined")


@pytest.mark.parametrize("host_vars, status, error", [
    pytest.param({}, "failed", "acs_facts did not run", id="never-gathered"),
    pytest.param({"acs_readiness_gathered": {"skipped": True}}, "failed", "acs_facts did not run", id="skipped"),
    pytest.param({"acs_readiness_gathered": {"unreachable": True, "msg": "timed out"}}, "unreachable", "timed out",
                 id="unreachable"),
    pytest.param({"acs_readiness_gathered": {"failed": True, "msg": "garbled"}}, "failed", "garbled", id="failed"),
    pytest.param({"acs_readiness_gathered": "text"}, "failed", "acs_facts did not run", id="not-a-result"),
    pytest.param(BrokenHostVars(), "failed", "acs_facts did not run", id="variables-raise"),
])
def test_hosts_without_evidence_are_reported_and_blocked(tmp_path, recorded, host_vars, status, error):
    hostvars = {"odd": host_vars, "w2019-2210": {"acs_readiness_gathered": gathered(recorded["w2019-2210"])}}
    result = run_action({"directory": str(tmp_path), "run_id": "r1", "gate": "enforce"}, hostvars,
                        ["odd", "w2019-2210", "not-in-hostvars"])
    records = {record["host"]: record for record in report_of(tmp_path)["hosts"]}
    assert records["odd"]["status"] == status and error in records["odd"]["error"]
    assert records["not-in-hostvars"]["status"] == "failed"
    assert result["decisions"]["odd"]["decision"] == "block"
    assert result["decisions"]["w2019-2210"]["decision"] == "allow"


def test_hosts_come_from_the_whole_play_not_the_batch(tmp_path, recorded):
    hostvars = {host: {"acs_readiness_gathered": gathered(recorded[host])} for host in ("w2019-2210", "w2012-ready")}
    run_action({"directory": str(tmp_path), "run_id": "r1"}, hostvars, ["w2019-2210", "w2012-ready"], batch=["w2012-ready"])
    assert sorted(record["host"] for record in report_of(tmp_path)["hosts"]) == ["w2012-ready", "w2019-2210"]


def test_batches_of_one_run_add_up_and_a_new_run_starts_afresh(tmp_path, recorded):
    first = {"w2019-2210": {"acs_readiness_gathered": gathered(recorded["w2019-2210"])}}
    second = {"w2012-ready": {"acs_readiness_gathered": gathered(recorded["w2012-ready"])}}
    run_action({"directory": str(tmp_path), "run_id": "r1"}, first, list(first))
    result = run_action({"directory": str(tmp_path), "run_id": "r1"}, second, list(second))
    assert result["hosts_in_report"] == 2 and set(result["decisions"]) == {"w2012-ready"}
    result = run_action({"directory": str(tmp_path), "run_id": "r2"}, second, list(second))
    assert result["hosts_in_report"] == 1
    assert (tmp_path / "acs-readiness-r1.json").is_file() and (tmp_path / "acs-readiness-r2.json").is_file()


def test_a_refused_package_blocks_every_host_and_shows_in_the_run(tmp_path, recorded):
    package = {"path": "/srv/agent.msi", "verdict": "tampered", "reasons": ["the content does not match its signature"],
               "sha256": "00" * 32}
    hostvars = {"w2019-2210": {"acs_readiness_gathered": gathered(recorded["w2019-2210"])}}
    result = run_action({"directory": str(tmp_path), "run_id": "r1", "gate": "enforce", "package": package},
                        hostvars, ["w2019-2210"])
    assert result["decisions"]["w2019-2210"]["decision"] == "block"
    assert "must not be deployed anywhere" in result["decisions"]["w2019-2210"]["reason"]
    assert report_of(tmp_path)["run"]["agent_package"]["sha256"] == "00" * 32
    assert f"Sha256: {'00' * 32}" in (tmp_path / "acs-readiness.html").read_text(encoding="utf-8")


def test_check_mode_writes_the_report_too(tmp_path, recorded):
    hostvars = {"w2019-2210": {"acs_readiness_gathered": gathered(recorded["w2019-2210"])}}
    result = run_action({"directory": str(tmp_path / "new"), "run_id": "r1", "formats": ["json"]}, hostvars,
                        ["w2019-2210"], check_mode=True)
    assert result["changed"] is False and result["paths"] == {"json": str(tmp_path / "new" / "acs-readiness.json")}
    assert report_of(tmp_path / "new")["summary"]["ready"] == 1


@pytest.mark.parametrize("args, message", [
    pytest.param({"catalog": {"rows": "nonsense"}}, "acs_report: catalog:", id="bad-catalog"),
    pytest.param({"directory": "/dev/null/reports"}, "acs_report: cannot write the report in /dev/null/reports", id="not-a-directory"),
    pytest.param({"basename": "../escape"}, "basename must be a plain file name", id="basename-with-a-directory"),
])
def test_what_cannot_be_done_fails_the_task_with_a_message(tmp_path, args, message):
    result = run_action({"directory": str(tmp_path), "run_id": "r1", **args}, {}, ["h"])
    assert result["failed"] is True and message in result["msg"]


@pytest.mark.parametrize("args, message", [
    ({"run_id": "r1", "gate": "maybe"}, "gate"),
    ({"run_id": "r1", "formats": ["pdf"]}, "formats"),
    ({"run_id": "r1", "unknown_option": 1}, "unknown_option"),
    ({"directory": "x"}, "run_id"),
])
def test_arguments_are_checked_against_the_spec(tmp_path, args, message):
    with pytest.raises(AnsibleActionFail, match=message):
        run_action({"directory": str(tmp_path), **args}, {}, [])


def test_changes_since_the_previous_run_in_the_result_capped(tmp_path, recorded):
    hostvars = {host: {"acs_readiness_gathered": gathered(record)} for host, record in recorded.items()}
    first = run_action({"directory": str(tmp_path), "run_id": "n1"}, hostvars, list(recorded)[:10])
    assert first["changes"] is None
    second = run_action({"directory": str(tmp_path), "run_id": "n2", "host_list_cap": 2}, hostvars, list(recorded)[5:])
    changes = second["changes"]
    assert changes["previous_run"]["run_id"] == "n1"
    assert changes["counts"]["gone"] == 5 and len(changes["hosts"]["gone"]) == 2
    assert set(changes["hosts"]["gone"]) <= set(list(recorded)[:5])
    assert changes["hosts"]["truncated"]["gone"] == 5
    assert changes["counts"]["new"] == len(recorded) - 10
    assert second["statuses"] == {record["host"]: record["status"] for record in report_of(tmp_path)["hosts"]}
    off = run_action({"directory": str(tmp_path), "run_id": "n3", "compare": False}, hostvars, list(recorded))
    assert off["changes"] is None and report_of(tmp_path)["changes"] is None


def test_an_unreadable_previous_report_fails_with_its_path(tmp_path, recorded):
    result = run_action({"directory": str(tmp_path), "run_id": "n1", "previous_report": str(tmp_path / "nope.json")},
                        {}, ["h"])
    assert result["failed"] is True and f"cannot read the previous report {tmp_path / 'nope.json'}" in result["msg"]


def test_export_records_replace_the_hosts_of_the_play(tmp_path):
    exported = {"srv-a": {"host": "srv-a", "evidence": {"os_name": "Windows Server 2019 Standard",
                                                        "os_version": "10.0.17763", "ubr": 2210,
                                                        "installation_type": "Server"},
                          "missing": [], "notes": [], "errors": [],
                          "sources": [{"file": "e.csv", "format": "evidence", "first_row": 2, "rows": 1}]}}
    bad_rows = [{"file": "e.csv", "row": None, "column": None, "message": "x", "host": None}]
    result = run_action({"directory": str(tmp_path), "run_id": "x1", "records": exported, "bad_rows": bad_rows},
                        {}, ["localhost"])
    assert result.get("failed") is not True, result
    report = report_of(tmp_path)
    assert [host["host"] for host in report["hosts"]] == ["srv-a"], "localhost, the play's host, is not reported"
    assert report["hosts"][0]["status"] == "ready" and report["bad_rows"] == bad_rows and result["bad_rows"] == 1
    broken = run_action({"directory": str(tmp_path), "run_id": "x2", "records": "srv-a"}, {}, ["localhost"])
    assert broken["failed"] is True and broken["msg"].startswith("acs_report: records:")


def test_statuses_name_only_the_hosts_this_task_reported_on(tmp_path, recorded):
    hostvars = {host: {"acs_readiness_gathered": gathered(record)} for host, record in recorded.items()}
    hosts = list(recorded)
    run_action({"directory": str(tmp_path), "run_id": "slices"}, hostvars, hosts[:3])
    other_slice = run_action({"directory": str(tmp_path), "run_id": "slices"}, hostvars, hosts[3:6])
    assert len(report_of(tmp_path)["hosts"]) == 6, "the report holds both slices"
    assert other_slice["statuses"] == {host: recorded[host]["status"] for host in hosts[3:6]}


def test_remediation_before_and_after_in_the_result_from_the_role_facts(tmp_path, recorded):
    hosts = list(recorded)[:4]
    hostvars = {host: {"acs_readiness_gathered": gathered(recorded[host])} for host in hosts}
    assert run_action({"directory": str(tmp_path), "run_id": "r0"}, hostvars, hosts)["remediation"] is None
    # What the role leaves: the verdict from before, and what each step said.
    for host in hosts[:2]:
        hostvars[host]["acs_verdict_before"] = {"status": "reboot_pending"}
        hostvars[host]["acs_readiness_remediation"] = {"reboot": {"msg": "restarted", "failed": False}}
    result = run_action({"directory": str(tmp_path), "run_id": "r1"}, hostvars, hosts)
    entries = {entry["host"]: entry for entry in report_of(tmp_path)["remediation"]["hosts"]}
    assert set(entries) == set(hosts[:2])
    assert all(entry["before"] == "reboot_pending" and entry["steps"] == ["reboot: restarted"]
               for entry in entries.values())
    assert sum(result["remediation"]["counts"].values()) == 2


def test_the_published_stats_cut_host_lists_at_the_cap(tmp_path, recorded):
    hostvars = {host: {"acs_readiness_gathered": gathered(record)} for host, record in recorded.items()}
    result = run_action({"directory": str(tmp_path), "run_id": "r1", "host_list_cap": 3}, hostvars, list(recorded))
    stats = result["stats"]
    assert stats["run_id"] == "r1" and stats["total"] == len(recorded) and stats["host_list_cap"] == 3
    assert stats["ready_hosts"] == result["summary"]["ready_hosts"][:3]
    assert stats["truncated"]["ready_hosts"] == len(result["summary"]["ready_hosts"]) > 3
    assert stats["note"].endswith(f"every host is in the report: {tmp_path / 'acs-readiness.json'}")
    assert len(report_of(tmp_path)["hosts"]) == len(recorded), "the report keeps every host"
    whole = run_action({"directory": str(tmp_path), "run_id": "r1"}, hostvars, list(recorded))["stats"]
    assert whole["host_list_cap"] == 100 and whole["truncated"] == {} and whole["note"] == ""


def test_a_negative_host_list_cap_fails_the_task(tmp_path):
    result = run_action({"directory": str(tmp_path), "run_id": "r1", "host_list_cap": -1}, {}, ["h"])
    assert result["failed"] is True and "host_list_cap must be 0 or more" in result["msg"]
