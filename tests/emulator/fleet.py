"""Assemble emulated hosts (model + WinRM listener) from the fixtures, for tests, the demo and molecule."""

from __future__ import annotations

import typing as t

from emulator.host import EmulatedWindows
from emulator.windows import WindowsHost, load_fleet
from emulator.wsman import Faults, Fleet, HostConfig

NETWORK_FAULTS = ("reject_credentials", "refuse_unencrypted", "drop_on_receive", "hang", "delay_seconds",
                  "stdout_transform")


def host_config(model: WindowsHost, address: str = "127.0.0.1", port: int = 0) -> HostConfig:
    connection = model.connection
    faults = Faults(**{key: value for key, value in model.faults.items() if key in NETWORK_FAULTS})
    inventory_vars = dict(model.inventory)
    return HostConfig(
        name=model.name, backend=EmulatedWindows(model), address=address, port=port,
        transport=connection.get("transport", "basic"), https_auth=connection.get("https_auth", "basic"),
        message_encryption=connection.get("message_encryption", "auto"), faults=faults,
        down=bool(model.faults.get("down")), inventory_vars=inventory_vars,
        plugin=connection.get("plugin", "winrm"), powershell=model.powershell,
    )


def with_installed_updates(fixture: dict[str, t.Any], count: int, first_kb: int = 4_000_000) -> dict[str, t.Any]:
    """The fixture with ``count`` more installed updates: years of monthly updates and servicing stacks, each a
    Win32_QuickFixEngineering row and a CBS package (the benchmark's and the wire-size tests' long-lived host)."""
    extra = [{"kb": f"KB{first_kb + index}", "installed_on": "3/9/2021"} for index in range(count)]
    return {**fixture, "updates": [*(fixture.get("updates") or []), *extra]}


def build_fleet(names: t.Iterable[str] | None = None, distinct_addresses: bool = False,
                first_address: int = 10) -> Fleet:
    """A Fleet (not started) of the named fixture hosts, or all of them.

    With distinct_addresses each host listens on its own 127.0.0.x, as hosts of a real network do.
    """
    configs = []
    for index, model in enumerate(load_fleet(names)):
        address = f"127.0.0.{first_address + index}" if distinct_addresses else "127.0.0.1"
        configs.append(host_config(model, address=address))
    return Fleet(configs)


def backend(fleet: Fleet, name: str) -> EmulatedWindows:
    return t.cast(EmulatedWindows, fleet[name].config.backend)
