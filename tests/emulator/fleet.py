"""Assemble emulated hosts (model + WinRM listener) from the fixtures, for tests, the demo and molecule."""

from __future__ import annotations

import typing as t

from emulator import restart
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


def build_fleet(names: t.Iterable[str] | None = None, distinct_addresses: bool = False,
                first_address: int = 10) -> Fleet:
    """A Fleet (not started) of the named fixture hosts, or all of them.

    With distinct_addresses each host listens on its own 127.0.0.x, as hosts of a real network do.
    """
    configs = []
    for index, model in enumerate(load_fleet(names)):
        address = f"127.0.0.{first_address + index}" if distinct_addresses else "127.0.0.1"
        configs.append(host_config(model, address=address))
    return RestartingFleet(configs)


class RestartingFleet(Fleet):
    """A Fleet whose hosts restart as Windows does (emulator.restart): shutdown.exe takes a host's listener
    down and brings it back after the boot. ``machines[name]`` is the host's power state."""

    def __init__(self, hosts: t.Iterable[HostConfig], **kwargs: t.Any) -> None:
        super().__init__(hosts, **kwargs)
        self.machines = {host.name: restart.attach(backend(self, host.name).model, backend(self, host.name).lock, host)
                         for host in self}

    def stop(self, timeout: float = 5.0) -> None:
        for machine in self.machines.values():
            machine.stop()
        super().stop(timeout)


def backend(fleet: Fleet, name: str) -> EmulatedWindows:
    return t.cast(EmulatedWindows, fleet[name].config.backend)
