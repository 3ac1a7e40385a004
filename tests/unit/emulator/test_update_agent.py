"""The emulated Windows Update Agent (emulator.windows_update), called as ansible.windows.win_updates' action calls
its module: start, poll, cancel. Sources are in the module."""

from __future__ import annotations

from emulator import windows_update
from emulator.restart import RestartSettings, boot
from emulator.windows import CBS, REBOOT_FLAG_KEYS, build_host

ROLLUP_14393 = f"{CBS}\\Packages\\Package_for_RollupFix~31bf3856ad364e35~amd64~~14393.4704.1.5"
ACCEPT = {"accept_list": ["^KB5006669$"], "category_names": ["Security Updates"], "state": "installed"}


def host(**windows_update):
    return build_host("h", {"os": "ws2016", "ubr": 4651, "windows_update": windows_update})


def run(model, args=None, check_mode=False):
    """start, then poll until exit, then cancel: the records the action would read."""
    started = windows_update.module(model, {**ACCEPT, **(args or {})}, check_mode)
    records = windows_update.module(model, {"_operation": "poll", "_operation_options": started["poll_options"]},
                                    False)["output"]
    assert records[-1]["task"] == "exit"
    windows_update.module(model, {"_operation": "cancel", "_operation_options": started["cancel_options"]}, False)
    assert model.update_tasks == {}
    return {record["task"]: record["result"] for record in records}


def test_without_the_fixture_key_the_search_fails_as_with_no_reachable_update_service():
    model = host()
    exited = run(model)["exit"]
    assert exited["failed"] is True and exited["exception"]["hresult"] & 0xFFFFFFFF == 0x8024402C
    assert exited["exception"]["message"] == "Searching for updates: Exception from HRESULT: 0x8024402C"


def test_an_offered_update_installs_as_dism_does_and_the_restart_finishes_it():
    model = host(reachable=True, offers=["KB5006669"])
    records = run(model)
    assert [update["kb"] for update in records["search_result"]["updates"]] == [["KB5006669"]]
    assert records["install_result"]["info"][0]["result_code"] == windows_update.SUCCEEDED
    assert records["exit"] == {"changed": True, "failed": False, "reboot_required": True}
    assert model.registry.open(ROLLUP_14393).get("CurrentState") == 96
    assert model.registry.open(REBOOT_FLAG_KEYS["wu_reboot_required"]) is not None
    assert [event["id"] for event in model.events if event["log"] == "System"] == [19]
    boot(model, RestartSettings(servicing_seconds=0))
    assert model.registry.open(ROLLUP_14393).get("CurrentState") == 112 and model.ubr == 4704
    assert run(model)["search_result"]["updates"] == [], "installed: no longer offered"


def test_updates_for_another_windows_or_already_superseded_are_not_offered():
    model = host(reachable=True, offers=["KB5005625", "KB5006714"])
    assert run(model)["search_result"]["updates"] == []
    offers = {"reachable": True, "offers": ["KB5006669"]}
    current = build_host("h", {"os": "ws2016", "ubr": 4800, "windows_update": offers})
    assert run(current)["search_result"]["updates"] == []


def test_check_mode_and_filters_change_nothing():
    model = host(reachable=True, offers=["KB5006669"], hidden=["KB5006669"])
    records = run(model)
    assert records["search_result"]["filtered"][0]["reasons"] == ["hidden"]
    assert records["exit"]["changed"] is False and model.registry.open(ROLLUP_14393) is None
    visible = host(reachable=True, offers=["KB5006669"])
    assert run(visible, check_mode=True)["exit"]["changed"] is True
    assert run(visible, {"accept_list": ["^KB500666$"]})["search_result"]["filtered"][0]["reasons"] == ["accept_list"]
    assert visible.registry.open(ROLLUP_14393) is None and visible.events == []


def test_a_failing_package_is_the_cbs_hresult_and_a_pending_restart_stops_the_install():
    model = build_host("h", {"os": "ws2016", "ubr": 4651, "servicing": {"install_fails": {"KB5006669": "0x800f0922"}},
                             "windows_update": {"reachable": True, "offers": ["KB5006669"]}})
    records = run(model)
    info = records["install_result"]["info"][0]
    assert info["result_code"] == windows_update.FAILED and info["hresult"] & 0xFFFFFFFF == 0x800F0922
    assert records["exit"]["failed"] is True and model.registry.open(ROLLUP_14393) is None
    pending = build_host("h", {"os": "ws2016", "ubr": 4651, "reboot": {"cbs_reboot_pending": True},
                               "windows_update": {"reachable": True, "offers": ["KB5006669"]}})
    exited = run(pending)["exit"]
    assert exited["failed"] is True and "A reboot is required" in exited["exception"]["message"]
