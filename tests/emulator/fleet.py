"""Assemble emulated hosts (model + WinRM listener) from the fixtures, for tests, the demo and molecule.

A fleet runs in one process (``Fleet``: what tests use, since they read each host's model and stats directly),
or partitioned over several worker processes (``ProcessFleet``: for fleets of hundreds of hosts, where one
process interpreting every host's PowerShell under one interpreter lock would be slower than the hosts it
stands for). In a ProcessFleet each host lives in exactly one worker, with its own state (certificates added,
packages installed, restarts) and its own stats, which the parent asks the worker for.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import time
import traceback
import typing as t

from emulator.host import EmulatedWindows
from emulator.windows import WindowsHost, load_fleet
from emulator.wsman import CONNECTION_PLUGINS, Faults, Fleet, HostConfig, HostStats, write_inventory
from emulator.wsman import _NtlmUserFile  # pylint: disable=protected-access

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


def fixture_configs(names: t.Iterable[str] | None = None, distinct_addresses: bool = False,
                    first_address: int = 10) -> list[HostConfig]:
    """The HostConfigs of the named fixture hosts, or all of them.

    With distinct_addresses each host listens on its own 127.0.0.x, as hosts of a real network do.
    """
    configs = []
    for index, model in enumerate(load_fleet(names)):
        address = f"127.0.0.{first_address + index}" if distinct_addresses else "127.0.0.1"
        configs.append(host_config(model, address=address))
    return configs


def build_fleet(names: t.Iterable[str] | None = None, distinct_addresses: bool = False,
                first_address: int = 10) -> Fleet:
    """A Fleet (not started, one process) of the named fixture hosts, or all of them (see fixture_configs)."""
    return Fleet(fixture_configs(names, distinct_addresses, first_address))


def backend(fleet: Fleet, name: str) -> EmulatedWindows:
    return t.cast(EmulatedWindows, fleet[name].config.backend)


# ---------------------------------------------------------------------------- several processes
def _serve_partition(configs: list[HostConfig], history: int,
                     connection: multiprocessing.connection.Connection) -> None:
    """A worker process: start its hosts, then answer the parent's requests until told to stop (or orphaned)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the parent decides when the fleet stops
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _NtlmUserFile.forget_inherited()
    fleet = Fleet(configs, history=history)
    try:
        fleet.start()
    except BaseException:  # pylint: disable=broad-exception-caught  (reported to the parent, which raises)
        connection.send(("error", traceback.format_exc()))
        return
    connection.send(("ready", None))
    try:
        while True:
            try:
                command, argument = connection.recv()
            except EOFError:
                break   # the parent is gone
            if command == "stop":
                break
            try:
                if command == "stats":
                    reply: t.Any = {host.name: host.stats() for host in fleet}
                elif command == "reset_stats":
                    reply = fleet.reset_stats()
                elif command == "inventory_vars":
                    reply = {host.name: host.inventory_vars(argument) for host in fleet}
                elif command == "cpu":
                    reply = time.process_time()  # every thread of this process
                else:
                    raise ValueError(f"unknown request {command!r}")
            except Exception:  # pylint: disable=broad-exception-caught
                connection.send(("error", traceback.format_exc()))
                continue
            connection.send(("ok", reply))
    finally:
        fleet.stop()
        connection.close()


class ProcessFleet:
    """The hosts of a Fleet, partitioned over ``processes`` worker processes (round robin, one host in one worker).

    The same use as Fleet for what a playbook run needs: a context manager, ``inventory()``, ``stats(name)``,
    ``reset_stats()``, ``len()``; plus ``cpu_seconds()``, the CPU the workers have used. A host's model lives in
    its worker, so ``fleet[name]`` (the in-process host and its model) does not exist here: tests that read or
    change a model use Fleet. Workers are forked: the configurations (and their models) need no pickling. A
    worker inherits this process's open sockets (those of a Fleet already running here, for instance) but never
    accepts on them; it closes them when it ends.
    """

    def __init__(self, hosts: t.Iterable[HostConfig], processes: int, *, history: int = 50) -> None:
        configs = list(hosts)
        names = [config.name for config in configs]
        if len(set(names)) != len(names):
            raise ValueError("duplicate host names")
        self.processes = max(1, min(int(processes), len(configs) or 1))
        self._partitions = [configs[index::self.processes] for index in range(self.processes)]
        self._names = names
        self._history = history
        self._workers: list[tuple[multiprocessing.Process, multiprocessing.connection.Connection]] = []
        self._owner: dict[str, multiprocessing.connection.Connection] = {}

    def __enter__(self) -> ProcessFleet:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __len__(self) -> int:
        return len(self._names)

    @property
    def names(self) -> list[str]:
        return list(self._names)

    def start(self) -> ProcessFleet:
        if self._workers:
            return self
        context = multiprocessing.get_context("fork")
        try:
            for partition in self._partitions:
                parent_end, child_end = context.Pipe()
                worker = context.Process(target=_serve_partition, args=(partition, self._history, child_end),
                                         name="emulator-partition", daemon=True)
                worker.start()
                child_end.close()
                self._workers.append((worker, parent_end))
                for config in partition:
                    self._owner[config.name] = parent_end
            for _worker, connection in self._workers:
                self._reply(connection)   # "ready", or the worker's start-up failure
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 10.0) -> None:
        for _worker, connection in self._workers:
            try:
                connection.send(("stop", None))
            except OSError:
                pass
        for worker, connection in self._workers:
            worker.join(timeout)
            if worker.is_alive():
                worker.kill()
                worker.join(timeout)
            connection.close()
        self._workers.clear()
        self._owner.clear()

    @staticmethod
    def _reply(connection: multiprocessing.connection.Connection) -> t.Any:
        status, value = connection.recv()
        if status == "error":
            raise RuntimeError(f"an emulator worker process failed:\n{value}")
        return value

    def _ask_all(self, command: str, argument: t.Any = None) -> list[t.Any]:
        for _worker, connection in self._workers:
            connection.send((command, argument))
        return [self._reply(connection) for _worker, connection in self._workers]

    def stats(self, name: str) -> HostStats:
        connection = self._owner[name]
        connection.send(("stats", None))
        return self._reply(connection)[name]

    def all_stats(self) -> dict[str, HostStats]:
        """Every host's stats, one request per worker."""
        merged: dict[str, HostStats] = {}
        for part in self._ask_all("stats"):
            merged.update(part)
        return merged

    def reset_stats(self) -> None:
        self._ask_all("reset_stats")

    def cpu_seconds(self) -> float:
        """User + system CPU the worker processes have used since they started."""
        return sum(self._ask_all("cpu"))

    def inventory(self, path: str | os.PathLike[str], *, plugin: str | None = None, **options: t.Any):
        """Fleet.inventory's document (same options), with every host in the order the fleet was given."""
        if plugin is not None and plugin not in CONNECTION_PLUGINS:
            raise ValueError(f"plugin must be one of {CONNECTION_PLUGINS}, not {plugin!r}")
        found: dict[str, dict[str, t.Any]] = {}
        for part in self._ask_all("inventory_vars", plugin):
            found.update(part)
        return write_inventory(path, {name: found[name] for name in self._names}, **options)


def serve_fleet(configs: list[HostConfig], processes: int = 1) -> Fleet | ProcessFleet:
    """A fleet (not started) in this process, or over ``processes`` worker processes when that is more than 1."""
    return ProcessFleet(configs, processes) if processes > 1 else Fleet(configs)
