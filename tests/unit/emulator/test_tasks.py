"""Task Scheduler and WinRM's shell memory quota on the emulated hosts (emulator.tasks), run the way a script
runs schtasks.exe and DISM. Sources are in the module."""

from __future__ import annotations

import csv

import pytest

from emulator import servicing, tasks
from emulator.host import EmulatedWindows
from emulator.pwsh.dotnet import run_script
from emulator.windows import CBS, build_host
from support import cab

CAB = r"C:\Windows\Temp\u\Windows6.1-KB5006743-x64.cab"
ROLLUP = CBS + r"\Packages\Package_for_RollupFix~31bf3856ad364e35~amd64~~7601.25740.1.5"
TR = rf"C:\Windows\System32\dism.exe /online /add-package /packagepath:{CAB} /quiet /norestart"


def host(**fixture):
    model = build_host("h", {"os": "ws2008r2", **fixture})
    data = cab.package_cab("KB5006743", "6.1.7601", package="Package_for_RollupFix", version="7601.25740.1.5")
    servicing.write_file(model, CAB, data)
    model.directories.add(servicing.norm(r"C:\Windows\Temp\u"))
    return model


def schtasks(model, *arguments):
    quoted = " ".join("'" + argument.replace("'", "''") + "'" for argument in arguments)
    return run_script(model, f"$out = @(& schtasks.exe {quoted}); $LASTEXITCODE; $out")


def test_a_task_as_system_runs_dism_against_the_model_and_reports_its_exit_code():
    model = host()
    assert schtasks(model, "/Create", "/TN", "acs", "/RU", "SYSTEM", "/SC", "ONCE", "/ST", "00:00", "/TR", TR,
                    "/F")[0] == 0
    assert schtasks(model, "/Query", "/TN", "acs", "/FO", "CSV", "/V", "/NH")[1].split('","')[6] == "267011"
    assert model.registry.open(ROLLUP) is None
    assert schtasks(model, "/Run", "/TN", "acs")[0] == 0
    assert model.registry.open(ROLLUP).get("CurrentState") == 96
    code, line = schtasks(model, "/Query", "/TN", "acs", "/FO", "CSV", "/V", "/NH")
    row = next(csv.reader([line]))
    assert code == 0 and row[1] == "\\acs" and row[6] == "3010" and row[8] == TR and row[14] == "SYSTEM"
    assert schtasks(model, "/Delete", "/TN", "acs", "/F")[0] == 0
    assert schtasks(model, "/Query", "/TN", "acs", "/FO", "CSV", "/V", "/NH") == [1]
    assert model.scheduled_tasks == {}


def test_a_task_runs_for_task_seconds_and_says_so():
    model = host(servicing={"task_seconds": 30})
    schtasks(model, "/Create", "/TN", "acs", "/RU", "SYSTEM", "/SC", "ONCE", "/ST", "00:00", "/TR", TR, "/F")
    schtasks(model, "/Run", "/TN", "acs")
    assert schtasks(model, "/Query", "/TN", "acs", "/FO", "CSV", "/V", "/NH")[1].split('","')[6] == "267009"


def test_an_account_that_is_not_an_administrator_cannot_create_a_system_task():
    model = host(administrator=False)
    assert schtasks(model, "/Create", "/TN", "acs", "/RU", "SYSTEM", "/SC", "ONCE", "/ST", "00:00", "/TR", TR,
                    "/F") == [1]
    assert model.scheduled_tasks == {}


def test_an_unknown_task_and_a_too_long_command_fail_with_exit_code_1():
    model = host()
    assert schtasks(model, "/Run", "/TN", "nope") == [1]
    assert schtasks(model, "/Create", "/TN", "acs", "/RU", "SYSTEM", "/SC", "ONCE", "/ST", "00:00",
                    "/TR", "x" * 262, "/F") == [1]


def test_dism_beyond_the_shell_quota_terminates_the_shell_but_not_in_a_task():
    model = host(servicing={"dism_memory_mb": 400})
    script = f'& dism.exe /online /add-package "/packagepath:{CAB}" /quiet /norestart; $LASTEXITCODE'
    with pytest.raises(tasks.ShellTerminated):
        run_script(model, script)
    assert model.registry.open(ROLLUP) is None, "terminated before the package was added"
    answer = EmulatedWindows(model)._execute("$input | iex", script)  # pylint: disable=protected-access
    assert answer.rc == 1 and answer.stdout == b""
    schtasks(model, "/Create", "/TN", "acs", "/RU", "SYSTEM", "/SC", "ONCE", "/ST", "00:00", "/TR", TR, "/F")
    schtasks(model, "/Run", "/TN", "acs")
    assert model.registry.open(ROLLUP).get("CurrentState") == 96


def test_a_larger_quota_lets_dism_run_in_the_shell():
    model = host(servicing={"dism_memory_mb": 400, "max_memory_per_shell_mb": 1024})
    assert run_script(model, f'$null = @(& dism.exe /online /add-package "/packagepath:{CAB}" /quiet /norestart); '
                             "$LASTEXITCODE") == [3010]
