"""acs_hotfix with source=windows_update: the plan without files, the PowerShell check, what win_updates is asked,
and what its result means for the user."""

from __future__ import annotations

import pytest

from ansible_collections.codesign.windows.plugins.plugin_utils import _windows_update as wu
from ansible_collections.codesign.windows.plugins.plugin_utils._catalog import DEFAULT_CATALOG
from ansible_collections.codesign.windows.plugins.plugin_utils._verdict import evaluate


def verdict(os_version, hotfixes=(), esu=None):
    return evaluate({"os_version": os_version, "hotfixes": list(hotfixes), "architecture": "AMD64", "esu": esu,
                     "root_ca_present": True})


def update(kb, installed=False, hresult=None, failure_msg=None, **extra):
    found = {"id": f"id-{kb}", "title": f"Update ({kb})", "kb": [kb[2:]], "categories": ["Security Updates"],
             "downloaded": installed, "installed": installed, **extra}
    if hresult is not None:
        found["failure_hresult_code"] = hresult
        if failure_msg:
            found["failure_msg"] = failure_msg
    return found


def result(*updates, filtered=(), **extra):
    return {"changed": any(u["installed"] for u in updates), "reboot_required": False,
            "found_update_count": len(updates), "installed_update_count": sum(u["installed"] for u in updates),
            "failed_update_count": sum("failure_hresult_code" in u for u in updates),
            "updates": {u["id"]: u for u in updates}, "filtered_updates": {u["id"]: u for u in filtered}, **extra}


# ---------------------------------------------------------------------------------------------- the plan
def test_a_10x_host_asks_for_the_cumulative_update_or_a_later_one():
    # The servicing stack update 1607 needs is in place (KB5005698): only the cumulative update is asked for.
    decision, wanted = wu.update_plan(verdict("10.0.14393.4651", ["KB5005698"]), DEFAULT_CATALOG)
    assert decision.action == "install" and decision.kb == "KB5006669"
    assert len(wanted) == 1 and wanted[0].kbs[0] == "KB5006669" and wanted[-1].role == "update"
    assert "through Windows Update" in decision.message


def test_prerequisites_come_first_in_catalog_order_and_security_only_is_that_update_alone():
    decision, wanted = wu.update_plan(verdict("6.1.7601", esu=True), DEFAULT_CATALOG, "security_only")
    assert decision.action == "install"
    assert [item.role for item in wanted][-1] == "update" and wanted[-1].kbs == ("KB5006728",)
    assert [item.kbs[0] for item in wanted[:-1]] == ["KB4474419", "KB4490628", "KB4538483"]


@pytest.mark.parametrize("evidence, action", [
    (("10.0.17763.2300",), "none"),                    # fixed already, or superseded
    (("6.1.7601",), "refuse"),                          # ESU-only, no ESU known
    (("10.0.17134.1",), "refuse"),                      # no patch path
])
def test_the_files_plans_answers_stand(evidence, action):
    decision, wanted = wu.update_plan(verdict(*evidence), DEFAULT_CATALOG)
    assert decision.action == action and wanted == ()


def test_the_accept_list_is_anchored_so_no_other_kb_matches():
    wanted = (wu.Wanted("update", ("KB5006669",)),)
    args = wu.module_args(wanted, "managed_server")
    assert args["accept_list"] == ["^KB5006669$"] and args["reboot"] is False
    assert args["server_selection"] == "managed_server" and "Security Updates" in args["category_names"]


# ---------------------------------------------------------------------------------------------- PowerShell
@pytest.mark.parametrize("facts, problem", [
    ({"os": {"powershell_version": "5.1.14393.4583"}}, None),
    ({"runner": {"powershell": "5.1"}}, None),
    ({"os": {"powershell_version": "4.0"}}, "this host has PowerShell 4.0"),
    ({"os": {"powershell_version": "2.0"}}, "this host has PowerShell 2.0"),
    ({"os": {"powershell_version": "5.0.10586"}}, "this host has PowerShell 5.0"),
    ({}, "is not known: gather the host first"),
    (None, "is not known: gather the host first"),
    ({"os": {"powershell_version": ["garbage"]}}, "is not known"),
])
def test_win_updates_needs_powershell_5_1(facts, problem):
    found = wu.powershell_problem(facts)
    assert (found is None) if problem is None else (problem in found and "nothing was installed" in found)


# ---------------------------------------------------------------------------------------------- the result
WANTED = (wu.Wanted("prerequisite", ("KB4490628",)), wu.Wanted("update", ("KB5006743", "KB5007236")))


def test_installed_updates_are_reported_in_plan_order_with_the_restart():
    mapped = wu.outcome(WANTED, result(update("KB5007236", installed=True), update("KB4490628", installed=True),
                                       reboot_required=True))
    assert mapped["installed"] == ["KB4490628", "KB5007236"] and mapped["reboot_required"] is True
    assert mapped["changed"] is True and "failed" not in mapped
    assert mapped["msg"] == ("installed KB4490628, KB5007236 through Windows Update; a restart finishes the "
                             "installation")


def test_a_cbs_failure_code_is_made_readable_with_the_dism_table():
    mapped = wu.outcome(WANTED, result(update("KB4490628", installed=True),
                                       update("KB5006743", hresult=0x800F0922, failure_msg="Unknown WUA HRESULT"),
                                       failed=True, msg="Failed to install all updates"))
    assert mapped["failed"] is True and mapped["installed"] == ["KB4490628"] and mapped["changed"] is True
    assert "KB5006743: 0x800f0922 (CBS_E_INSTALLERS_FAILED)" in mapped["msg"]
    assert "installed before it failed: KB4490628" in mapped["msg"]


def test_a_windows_update_agent_code_keeps_win_updates_meaning():
    text = "Update failed to download (WU_E_DOWNLOAD_FAILED 0x80240034)"
    mapped = wu.outcome(WANTED[1:], result(update("KB5006743", hresult=0x80240034, failure_msg=text), failed=True))
    assert mapped["failed"] is True and text in mapped["msg"]


def test_an_update_not_offered_fails_naming_it():
    mapped = wu.outcome(WANTED, result(update("KB4490628", installed=True)))
    assert mapped["failed"] is True
    assert "the update is not offered by the update server: KB5006743 (or a later one: KB5007236)" in mapped["msg"]


def test_an_update_found_but_filtered_says_why():
    mapped = wu.outcome(WANTED[1:], result(filtered=[update("KB5006743", filtered_reasons=["hidden"])]))
    assert "not offered by the update server: KB5006743" in mapped["msg"]
    assert "KB5006743 was found but left out (hidden)" in mapped["msg"]


def test_a_search_failure_is_the_failure_win_updates_reports():
    msg = ("Searching for updates: Exception from HRESULT: 0x8024402C - Same as ERROR_WINHTTP_NAME_NOT_RESOLVED "
           "(WU_E_PT_WINHTTP_NAME_NOT_RESOLVED 0x8024402C)")
    mapped = wu.outcome(WANTED, {"failed": True, "msg": msg, "updates": {}, "filtered_updates": {}})
    assert mapped["failed"] is True and mapped["changed"] is False
    assert mapped["msg"] == f"ansible.windows.win_updates failed: {msg}"


@pytest.mark.parametrize("hostile", [None, "text", [], {"updates": "x"}, {"updates": {"a": "b"}},
                                     {"updates": {"a": {"kb": [None, {}], "installed": True}}},
                                     {"unreachable": True, "msg": "\x1b[31mgone"}])
def test_a_malformed_result_never_raises_and_never_counts_as_success(hostile):
    mapped = wu.outcome(WANTED, hostile)
    assert mapped["failed"] is True and "\x1b" not in mapped["msg"]


@pytest.mark.parametrize("count, shown", [(3, 3), (0, 0), (True, None), (-1, None), (2**80, None), ("3", None),
                                          ("\x1b[31m", None), (None, None)])
def test_the_found_update_count_is_returned_only_when_it_is_a_plain_count(count, shown):
    result = {"found_update_count": count, "updates": {}, "filtered_updates": {}, "changed": False}
    assert wu.outcome(WANTED, result)["found_update_count"] == shown
