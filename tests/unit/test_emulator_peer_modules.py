"""The ansible.windows modules a hand-written readiness playbook calls, answered from the host model
(the benchmark's peer playbook): win_shell Get-HotFix and a Cert: Test-Path, win_reg_stat."""

from __future__ import annotations

import pytest

from emulator.host import EmulatedWindows
from emulator.windows import ROOT_CA_SHA1, build_host

HOTFIXES = "Get-HotFix | Select-Object -ExpandProperty HotFixID"
ROOT_TEST = f"Test-Path Cert:\\LocalMachine\\Root\\{ROOT_CA_SHA1}"


def _windows(**fixture):
    return EmulatedWindows(build_host("peer", {"os": "ws2019", **fixture}))


def test_get_hotfix_lists_the_qfe_rows():
    windows = _windows(updates=[{"kb": "KB5005625"}, {"kb": "4589208"}])
    answer = windows._module_win_shell({"_raw_params": HOTFIXES}, False)  # pylint: disable=protected-access
    assert answer["rc"] == 0 and answer["stdout_lines"] == ["KB5005625", "KB4589208"]


@pytest.mark.parametrize("store, found", [("root", "True"), ("auth_root", "True"), ("policy", "True"),
                                          ("enterprise", "True"), ("disallowed", "False")])
def test_the_root_store_joins_its_physical_stores(store, found):
    windows = _windows(certificates={store: True})
    answer = windows._module_win_shell({"_raw_params": ROOT_TEST}, False)  # pylint: disable=protected-access
    assert answer["stdout"] == f"{found}\r\n"


def test_another_command_fails_with_its_name():
    answer = _windows()._module_win_shell({"_raw_params": "Get-Process"}, False)  # pylint: disable=protected-access
    assert answer["failed"] and "Get-Process" in answer["stderr"]


def test_win_reg_stat_reads_a_value_with_its_type():
    windows = _windows(ubr=2210)
    read = windows._module_win_reg_stat  # pylint: disable=protected-access
    answer = read({"path": r"HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion", "name": "UBR"}, False)
    assert (answer["exists"], answer["value"], answer["type"]) == (True, 2210, "REG_DWORD")
    assert read({"path": r"HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion", "name": "Nope"}, False) == {
        "changed": False, "exists": False}
    assert read({"path": r"HKCU:\Software", "name": "x"}, False)["failed"]
