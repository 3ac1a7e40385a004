"""Night to night and groups by status, end to end: two assess runs over WinRM against an emulated fleet whose
hosts are fixed, broken, taken down, added and removed in between; the report names exactly the hosts that changed."""

from __future__ import annotations

import dataclasses
import json

import pytest

from emulator.fleet import backend, build_fleet
from emulator.windows import load_fleet
from support.e2e import REPO, run_playbook

FAST = ["-e", "acs_readiness_gather_timeout=3"]
# The first night's status of each host (the fixtures' own expectations) and what happens before the second.
HOSTS = {
    "w2019-2209": "needs_kb",               # the cumulative update is installed: the UBR becomes 2210
    "w2019-2210": "ready",                  # the cumulative update is uninstalled: the UBR goes back to 2209
    "w2012r2-oct2021": "ready",             # switched off: unreachable
    "w2012r2-airgap-noroot": "needs_root_ca",  # the monthly rollup is removed: it also needs the update now
    "w2012r2-airgap-both": "needs_kb_and_root_ca",  # untouched
    "w2016-ready": "ready",                 # untouched
    "win7-noesu": "needs_esu",              # decommissioned: not in the second night's inventory
    "w2022-current": "ready",               # joins the inventory on the second night
}
EXPECTED_CHANGES = {
    "w2019-2209": ("fixed", "needs_kb", "ready"),
    "w2019-2210": ("regressed", "ready", "needs_kb"),
    "w2012r2-oct2021": ("unassessed", "ready", "unreachable"),
    "w2012r2-airgap-noroot": ("changed", "needs_root_ca", "needs_kb_and_root_ca"),
    "w2012r2-airgap-both": ("unchanged", "needs_kb_and_root_ca", "needs_kb_and_root_ca"),
    "w2016-ready": ("unchanged", "ready", "ready"),
    "win7-noesu": ("gone", "needs_esu", None),
    "w2022-current": ("new", None, "ready"),
}


def _as(host_name: str, model_of: str):
    """The model of fixture ``model_of`` under the name ``host_name``: the same machine after an update
    was installed or removed. A cumulative update sets the OS build's revision (the UBR) to its own, and removing it
    brings back the previous one (Windows 10 and Windows Server 2019 update history, each update's "OS Build":
    https://support.microsoft.com/help/4464619); a monthly rollup of Windows 8.1 / 2012 R2 is a package of its own
    that can be removed (https://learn.microsoft.com/windows/deployment/update/servicing-stack-updates)."""
    return dataclasses.replace(load_fleet([model_of])[0], name=host_name)


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    work = tmp_path_factory.mktemp("nightly")
    reports = work / "reports"
    with build_fleet(list(HOSTS)) as fleet:
        inventory = fleet.inventory(work / "hosts.yml", operation_timeout_sec=2, read_timeout_sec=4,
                                    extra_vars={"acs_readiness_command_timeout": 15})
        first = run_playbook("codesign.windows.assess", inventory, work,
                             ["-l", ",".join(h for h in HOSTS if h != "w2022-current"),
                              "-e", f"acs_readiness_report_dir={reports}", *FAST])
        first_report = json.loads((reports / "acs-readiness.json").read_text(encoding="utf-8"))

        backend(fleet, "w2019-2209").model = _as("w2019-2209", "w2019-2210")
        backend(fleet, "w2019-2210").model = _as("w2019-2210", "w2019-2209")
        backend(fleet, "w2012r2-airgap-noroot").model = _as("w2012r2-airgap-noroot", "w2012r2-airgap-both")
        fleet["w2012r2-oct2021"].go_down()

        second = run_playbook(REPO / "docs" / "examples" / "upgrade-ready-hosts.yml", inventory, work,
                              ["-l", ",".join(h for h in HOSTS if h != "win7-noesu"),
                               "-e", f"acs_readiness_report_dir={reports}", *FAST])
    second_report = json.loads((reports / "acs-readiness.json").read_text(encoding="utf-8"))
    return first, first_report, second, second_report, reports


def test_the_first_night_has_nothing_to_compare_with(nights):
    first, first_report, _second, _second_report, _reports = nights
    assert {h["host"]: h["status"] for h in first_report["hosts"]} == {
        host: status for host, status in HOSTS.items() if host != "w2022-current"}
    assert first_report["changes"] is None
    assert first.custom["_run"]["acs_readiness"]["changes"] is None


def test_the_second_night_names_exactly_the_hosts_that_changed(nights):
    _first, first_report, second, second_report, reports = nights
    changes = second_report["changes"]
    assert changes["previous_run"]["run_id"] == first_report["run"]["run_id"]
    assert changes["previous_run"]["path"] == str(reports / f"acs-readiness-{first_report['run']['run_id']}.json")
    assert {e["host"]: (e["change"], e["before"], e["after"]) for e in changes["hosts"]} == EXPECTED_CHANGES
    assert changes["counts"] == {"regressed": 1, "unassessed": 1, "new": 1, "changed": 1, "fixed": 1, "gone": 1,
                                 "unchanged": 2}

    stats = second.custom["_run"]["acs_readiness"]["changes"]
    assert stats["counts"] == changes["counts"]
    assert stats["hosts"] == {"regressed": ["w2019-2210"], "unassessed": ["w2012r2-oct2021"], "new": ["w2022-current"],
                              "changed": ["w2012r2-airgap-noroot"], "fixed": ["w2019-2209"], "gone": ["win7-noesu"],
                              "truncated": {}}

    markdown = (reports / "acs-readiness.md").read_text(encoding="utf-8")
    assert f"## Changed since run {first_report['run']['run_id']}" in markdown
    assert "- `w2019-2210`: regressed, ready -> needs_kb" in markdown
    html = (reports / "acs-readiness.html").read_text(encoding="utf-8")
    assert 'id="changes"' in html and 'data-change="gone"' in html
    csv_text = (reports / "acs-readiness.csv").read_text(encoding="utf-8-sig")
    assert "w2019-2209" in csv_text and ",fixed,needs_kb" in csv_text


def test_the_next_play_reaches_exactly_the_ready_hosts(nights):
    _first, _first_report, second, second_report, _reports = nights
    ready = sorted(h["host"] for h in second_report["hosts"] if h["status"] == "ready")
    assert ready == ["w2016-ready", "w2019-2209", "w2022-current"]
    upgraded = sorted(r["host"] for r in second.results
                      if r["action"] == "ansible.builtin.debug" and "is ready for the ACS-signed" in str(r["result"].get("msg")))
    assert upgraded == ready
    # One add_host task for the whole fleet, not one per host.
    assert len([r for r in second.results if r["action"] == "ansible.builtin.add_host"]) == 1
