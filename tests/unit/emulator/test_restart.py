"""The emulated restart (emulator.restart): shutdown.exe as the PowerShell interpreter runs it, and what the next
boot does to the model, fault by fault."""

from __future__ import annotations

import time

import pytest

from emulator import restart
from emulator.pwsh.dotnet import run_script
from emulator.windows import CBS, load_fleet

PACKAGES = CBS + r"\Packages"
QUICK = {"down_seconds": 0, "servicing_seconds": 0.2}


def host(name, **settings):
    model = load_fleet([name])[0]
    model.restart = {**model.restart, **QUICK, **settings}
    restart.attach(model)
    return model


def shutdown(model, arguments="/r /t 0 /c 'Restart now'"):
    script = f"$out = @(& shutdown.exe {arguments}); $LASTEXITCODE"
    return run_script(model, script)[0]


def wait_for(predicate, seconds=5.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("the restart did not happen")


def states(model):
    return {name: model.registry.open(f"{PACKAGES}\\{name}").get("CurrentState")
            for name in model.registry.subkey_names(PACKAGES)}


def test_a_restart_finishes_the_pending_rollup_bumps_the_ubr_and_clears_the_keys():
    model = host("w2019-pending")
    before = model.boot_time
    assert model.registry.open(CBS + r"\RebootPending") is not None
    assert shutdown(model) == 0
    machine = restart.machine_of(model)
    wait_for(lambda: machine.restarts == 1)
    assert model.boot_time > before
    assert set(states(model).values()) == {112}
    assert model.ubr == 2210
    assert model.registry.open(r"SOFTWARE\Microsoft\Windows NT\CurrentVersion").get("UBR") == 2210
    assert model.files[r"c:\windows\system32\ntoskrnl.exe"] == "10.0.17763.2210"
    assert model.registry.open(CBS + r"\RebootPending") is None
    # Servicing goes on for a while after the boot, then stops.
    wait_for(lambda: model.services["TrustedInstaller"].status == "Stopped")
    assert model.registry.open(CBS + r"\PackagesPending") is None


def test_a_6x_restart_updates_the_kernel_version_not_a_ubr():
    model = host("w2012r2-pending")
    assert shutdown(model) == 0
    wait_for(lambda: restart.machine_of(model).restarts == 1)
    assert model.ubr is None
    assert model.files[r"c:\windows\system32\ntoskrnl.exe"] == "6.3.9600.20144"


def test_still_pending_comes_back_with_a_new_boot_time_and_nothing_finished():
    model = host("w2019-pending-still-pending")
    before = model.boot_time
    shutdown(model)
    wait_for(lambda: restart.machine_of(model).restarts == 1)
    assert model.boot_time > before
    assert 96 in states(model).values()
    assert model.registry.open(CBS + r"\RebootPending") is not None


def test_a_failed_package_is_rolled_back_absent_and_gone_from_qfe():
    model = host("w2012r2-pending-package-fails")
    shutdown(model)
    wait_for(lambda: restart.machine_of(model).restarts == 1)
    rollups = {name: state for name, state in states(model).items() if "RollupFix" in name}
    assert set(rollups.values()) == {0}
    assert "KB5006714" not in {row["HotFixID"] for row in model.qfe}
    assert model.registry.open(CBS + r"\RebootPending") is None


@pytest.mark.parametrize("first, second, code", [
    ("/r /t 30", "/r /t 0", 1190),     # another restart is scheduled
    ("/r /t 30", "/a", 0),             # aborting a scheduled restart works
    (None, "/a", 1116),                # nothing to abort
])
def test_shutdown_exit_codes(first, second, code):
    model = host("w2019-pending")
    if first:
        assert shutdown(model, first) == 0
    assert shutdown(model, second) == code
    restart.machine_of(model).stop()


def test_an_aborted_restart_does_not_happen():
    model = host("w2019-pending", down_seconds=0)
    before = model.boot_time
    assert shutdown(model, "/r /t 1") == 0
    assert shutdown(model, "/a") == 0
    time.sleep(1.3)
    assert model.boot_time == before and restart.machine_of(model).restarts == 0


def test_an_account_that_is_not_an_administrator_is_refused():
    model = host("w2012r2-airgap-noroot-user")
    assert shutdown(model) == 5


def test_unmodelled_switches_fail_loudly():
    model = host("w2019-pending")
    with pytest.raises(Exception, match="not modelled"):
        shutdown(model, "/s /t 0")


def test_fixture_settings_are_checked():
    model = load_fleet(["w2019-pending"])[0]
    model.restart = {"fault": "melts"}
    with pytest.raises(ValueError, match="restart fault must be one of"):
        restart.attach(model)


def test_an_uninstall_pending_package_is_absent_after_the_restart():
    model = host("w2019-pending")
    name = next(name for name in states(model) if "RollupFix" in name)
    model.registry.open(f"{PACKAGES}\\{name}").set("CurrentState", 5)
    shutdown(model)
    wait_for(lambda: restart.machine_of(model).restarts == 1)
    assert states(model)[name] == 0
    assert model.ubr == 2183
