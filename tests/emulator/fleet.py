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

from emulator import restart
from emulator.host import EmulatedWindows
from emulator.windows import WindowsHost, load_fleet
from emulator.wsman import CONNECTION_PLUGINS, Faults, Fleet, HostConfig, HostStats, write_inventory

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
    """A Fleet (not started, one process) whose hosts restart as Windows does, of the named fixture hosts, or
    all of them (see fixture_configs)."""
    return RestartingFleet(fixture_configs(names, distinct_addresses, first_address))


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


# ---------------------------------------------------------------------------- several processes
BuildConfigs = t.Callable[..., t.List[HostConfig]]


def _serve_partition(build: BuildConfigs, arguments: tuple, part: int, parts: int, history: int,
                     connection: multiprocessing.connection.Connection) -> None:
    """A worker process: build the fleet's hosts, start its own share, then answer the parent until told to stop
    (or orphaned). Building every host and keeping one share gives each worker the same hosts the parent meant."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the parent decides when the fleet stops
    try:
        configs = build(*arguments)[part::parts]
        fleet = RestartingFleet(configs, history=history)
        fleet.start()
    except BaseException:  # pylint: disable=broad-exception-caught
        # Reported to the parent, which raises.
        connection.send(("error", traceback.format_exc()))
        return
    connection.send(("ready", [config.name for config in configs]))
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
    """The hosts ``build(*arguments)`` returns, shared out over ``processes`` worker processes (round robin, each
    host in exactly one worker).

    The same use as Fleet for what a playbook run needs: a context manager, ``inventory()``, ``stats(name)``,
    ``reset_stats()``, ``len()``; plus ``all_stats()`` and ``cpu_seconds()``, the CPU the workers have used. A
    host's model lives in its worker, so ``fleet[name]`` (the in-process host and its model) does not exist here:
    tests that read or change a model use Fleet. Workers are spawned (fresh interpreters, never a fork of a
    process that may be serving hosts on threads), so each builds its hosts itself: ``build`` must be a
    module-level function and ``arguments`` plain data.
    """

    def __init__(self, build: BuildConfigs, arguments: tuple = (), processes: int = 2, *, history: int = 50) -> None:
        self.processes = max(1, int(processes))
        self._build = build
        self._arguments = tuple(arguments)
        self._history = history
        self._names: list[str] = []
        self._workers: list[tuple[multiprocessing.process.BaseProcess, multiprocessing.connection.Connection]] = []
        self._owner: dict[str, multiprocessing.connection.Connection] = {}

    def __enter__(self) -> ProcessFleet:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __len__(self) -> int:
        return len(self._names)

    @property
    def names(self) -> list[str]:
        """Every host, in the order ``build`` returned them."""
        return list(self._names)

    def start(self) -> ProcessFleet:
        if self._workers:
            return self
        context = multiprocessing.get_context("spawn")
        try:
            for part in range(self.processes):
                parent_end, child_end = context.Pipe()
                worker = context.Process(target=_serve_partition, name=f"emulator-part-{part}", daemon=True,
                                         args=(self._build, self._arguments, part, self.processes, self._history,
                                               child_end))
                worker.start()
                child_end.close()
                self._workers.append((worker, parent_end))
            shares = [self._reply(connection) for _worker, connection in self._workers]
        except BaseException:
            self.stop()
            raise
        if len({name for share in shares for name in share}) != sum(len(share) for share in shares):
            self.stop()
            raise ValueError("duplicate host names")
        # Round robin: host i is in share i % processes, at position i // processes.
        for index in range(sum(len(share) for share in shares)):
            name = shares[index % self.processes][index // self.processes]
            self._names.append(name)
            self._owner[name] = self._workers[index % self.processes][1]
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
        self._names.clear()

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
        """Fleet.inventory's document (same options), with every host in the order ``build`` returned them."""
        if plugin is not None and plugin not in CONNECTION_PLUGINS:
            raise ValueError(f"plugin must be one of {CONNECTION_PLUGINS}, not {plugin!r}")
        found: dict[str, dict[str, t.Any]] = {}
        for part in self._ask_all("inventory_vars", plugin):
            found.update(part)
        return write_inventory(path, {name: found[name] for name in self._names}, **options)


def serve_fleet(build: BuildConfigs, arguments: tuple = (), processes: int = 1) -> Fleet | ProcessFleet:
    """The hosts ``build(*arguments)`` returns, not started: a Fleet in this process, or a ProcessFleet over
    ``processes`` worker processes when that is more than 1."""
    return ProcessFleet(build, arguments, processes) if processes > 1 else RestartingFleet(build(*arguments))
