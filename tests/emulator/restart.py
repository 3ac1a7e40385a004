r"""Restarting an emulated Windows host: shutdown.exe, the connection going away, and what the next boot does.

What Windows does, each with its source:

* ``shutdown.exe /r /t <seconds> /c "<comment>"`` schedules a restart and returns at once with exit code 0;
  ``/a`` aborts a scheduled one. A second ``/r`` while one is scheduled fails with 1190
  (ERROR_SHUTDOWN_IS_SCHEDULED), one while the machine is already going down with 1115
  (ERROR_SHUTDOWN_IN_PROGRESS), ``/a`` with nothing scheduled with 1116 (ERROR_NO_SHUTDOWN_IN_PROGRESS), and an
  account without the shutdown privilege with 5 (access denied).
  https://learn.microsoft.com/en-us/windows-server/administration/windows-commands/shutdown,
  https://learn.microsoft.com/en-us/windows/win32/debug/system-error-codes--1000-1299-
* While the machine restarts, WinRM does not answer: connections are refused (the listener is gone) until
  the service starts again on the next boot. Shells of the old boot are gone.
* ``Win32_OperatingSystem.LastBootUpTime`` is the time of the new boot.
  https://learn.microsoft.com/en-us/windows/win32/cimwin32prov/win32-operatingsystem
* Component Based Servicing finishes the packages it left "Install Pending" (CurrentState 96) during shutdown
  and startup: they become "Installed" (112), "Uninstall Pending" (5) ones "Absent" (0), and the restart keys (CBS\RebootPending, RebootInProgress,
  Windows Update's RebootRequired, PendingFileRenameOperations) are gone. A package that fails there is rolled
  back ("Failure configuring Windows updates. Reverting changes.") and is not installed afterwards.
  https://learn.microsoft.com/en-us/troubleshoot/windows-server/installing-updates-features-roles/troubleshoot-windows-update-error-0x800f0922,
  https://learn.microsoft.com/en-us/windows/win32/api/cbsapi/ (CbsInstallState: 96 InstallPending,
  112 Installed, 5 UninstallPending, 0 Absent)
* On Windows 10 / Server 2016 and later the update build revision (UBR) is the installed cumulative update's
  revision: it changes with the restart that completes it (the rollup package's version is
  <build>.<UBR>.x.y). https://learn.microsoft.com/en-us/windows/release-health/release-information
* Servicing goes on after WinRM answers: TrustedInstaller (Windows Modules Installer) keeps running and CBS
  keeps PackagesPending while it finishes and cleans up, for seconds to many minutes.
  https://learn.microsoft.com/en-us/windows/deployment/update/servicing-stack-updates

A fixture says how its host restarts with the ``restart`` key (defaults in RESTART_DEFAULTS: a restart that
works): ``down_seconds`` (WinRM does not answer), ``servicing_seconds`` (TrustedInstaller busy after WinRM
answers), ``fault``: ``still_pending`` (the connection drops, the host comes back with its packages still
pending and RebootPending set), ``package_failed`` (the pending package is rolled back: absent, no QFE row),
``never_returns`` (the host does not come back).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
import typing as t

from emulator.pwsh.native import NativeResult
from emulator.pwsh.runtime import UnsupportedConstruct
from emulator.windows import CBS, CBS_STATE, REBOOT_FLAG_KEYS, WindowsHost, servicing_build

RESTART_DEFAULTS = {"down_seconds": 2.0, "servicing_seconds": 2.0, "fault": None}
RESTART_FAULTS = (None, "still_pending", "package_failed", "never_returns")
SESSION_MANAGER = r"SYSTEM\CurrentControlSet\Control\Session Manager"
CURRENT_VERSION = r"SOFTWARE\Microsoft\Windows NT\CurrentVersion"
ERROR_ACCESS_DENIED = 5
ERROR_INVALID_PARAMETER = 87
ERROR_SHUTDOWN_IN_PROGRESS = 1115
ERROR_NO_SHUTDOWN_IN_PROGRESS = 1116
ERROR_SHUTDOWN_IS_SCHEDULED = 1190
# What shutdown.exe prints for each (English display language).
SHUTDOWN_TEXT = {
    ERROR_ACCESS_DENIED: "Access is denied.(5)",
    ERROR_INVALID_PARAMETER: "The parameter is incorrect.(87)",
    ERROR_SHUTDOWN_IN_PROGRESS: "A system shutdown is in progress.(1115)",
    ERROR_NO_SHUTDOWN_IN_PROGRESS: "Unable to abort the system shutdown because no shutdown was in progress.(1116)",
    ERROR_SHUTDOWN_IS_SCHEDULED: "A system shutdown has already been scheduled.(1190)",
}


@dataclasses.dataclass(frozen=True)
class RestartSettings:
    down_seconds: float = RESTART_DEFAULTS["down_seconds"]
    servicing_seconds: float = RESTART_DEFAULTS["servicing_seconds"]
    fault: str | None = None

    @classmethod
    def of(cls, model: WindowsHost) -> RestartSettings:
        settings = {**RESTART_DEFAULTS, **(model.restart or {})}
        unknown = set(settings) - set(RESTART_DEFAULTS)
        if unknown:
            raise ValueError(f"{model.name}: unknown restart settings {sorted(unknown)}")
        if settings["fault"] not in RESTART_FAULTS:
            raise ValueError(f"{model.name}: restart fault must be one of {RESTART_FAULTS[1:]}")
        return cls(float(settings["down_seconds"]), float(settings["servicing_seconds"]), settings["fault"])


class Listener(t.Protocol):
    """The host's WinRM listener (emulator.wsman.EmulatedHost)."""

    def go_down(self, timeout: float = 5.0) -> None: ...

    def come_up(self) -> None: ...


class Machine:
    """One emulated machine's power state: a scheduled restart, the restart itself, servicing after it.

    ``lock`` is the lock the host's commands run under (EmulatedWindows.lock), so that a boot never changes
    the model in the middle of a command. Without a listener (a model run by the interpreter alone) the
    restart changes the model only."""

    def __init__(self, model: WindowsHost, lock: t.Any = None, listener: Listener | None = None) -> None:
        self.model = model
        self.lock = lock or threading.RLock()
        self.listener = listener
        self.settings = RestartSettings.of(model)
        self._state = threading.Condition()
        self._abort = threading.Event()
        self._scheduled: threading.Thread | None = None
        self.going_down = False
        self.stopped = False
        self.restarts = 0
        self.comments: list[str] = []

    # ---- shutdown.exe ---------------------------------------------------------------------------
    def shutdown(self, arguments: list[str]) -> NativeResult:
        options = _shutdown_options(arguments)
        if not self.model.administrator:
            return _failure(ERROR_ACCESS_DENIED)
        with self._state:
            if options["action"] == "abort":
                if self._scheduled is None or self.going_down:
                    return _failure(ERROR_NO_SHUTDOWN_IN_PROGRESS)
                self._abort.set()
                self._scheduled = None
                return NativeResult(0)
            if self.going_down:
                return _failure(ERROR_SHUTDOWN_IN_PROGRESS)
            if self._scheduled is not None:
                return _failure(ERROR_SHUTDOWN_IS_SCHEDULED)
            self._abort = threading.Event()
            self.comments.append(options["comment"])
            worker = threading.Thread(target=self._restart, args=(options["delay"], self._abort),
                                      name=f"restart-{self.model.name}", daemon=True)
            self._scheduled = worker
            worker.start()
        return NativeResult(0)

    def stop(self) -> None:
        """The fleet stops: a restart under way does not bring the listener back."""
        with self._state:
            self.stopped = True
            self._abort.set()

    # ---- the restart ------------------------------------------------------------------------------
    def _restart(self, delay: float, abort: threading.Event) -> None:
        if abort.wait(delay):
            return
        with self._state:
            if self.stopped or abort.is_set():
                return
            self.going_down = True
            if self.listener is not None:
                self.listener.go_down()
        time.sleep(self.settings.down_seconds)
        with self.lock:
            boot(self.model, self.settings)
        self.restarts += 1
        if self.settings.fault == "never_returns":
            return
        with self._state:
            self.going_down = False
            self._scheduled = None
            if self.stopped:
                return
            if self.listener is not None:
                self.listener.come_up()
        if abort.wait(self.settings.servicing_seconds) and self.stopped:
            return
        with self.lock:
            finish_servicing(self.model, self.settings)


def _shutdown_options(arguments: list[str]) -> dict[str, t.Any]:
    """shutdown.exe's switches as the collection uses them (/r /t /c, /a); others are not modelled."""
    options: dict[str, t.Any] = {"action": None, "delay": 30.0, "comment": ""}
    index = 0
    while index < len(arguments):
        switch = arguments[index].lower().replace("-", "/", 1)
        if switch == "/r":
            options["action"] = "restart"
        elif switch == "/a":
            options["action"] = "abort"
        elif switch in ("/t", "/c") and index + 1 < len(arguments):
            index += 1
            if switch == "/t":
                options["delay"] = float(int(arguments[index]))
            else:
                options["comment"] = arguments[index]
        else:
            raise UnsupportedConstruct(f"shutdown.exe {arguments[index]} is not modelled")
        index += 1
    if options["action"] is None:
        raise UnsupportedConstruct("shutdown.exe without /r or /a is not modelled")
    return options


def _failure(code: int) -> NativeResult:
    return NativeResult(code, [], [SHUTDOWN_TEXT[code]])


# ---- what the next boot does to the model -----------------------------------------------------------
def _rollup_version(package: str) -> tuple[int, ...] | None:
    if not package.lower().startswith("package_for_rollupfix~"):
        return None
    try:
        return tuple(int(part) for part in package.rsplit("~", 1)[-1].split("."))
    except ValueError:
        return None


def _kb_of(model: WindowsHost, package: str) -> str:
    """The KB a package installs: as the fixture named it, else from a Package_for_KB<n> name."""
    kb = model.package_kbs.get(package) or package.split("~", 1)[0].removeprefix("Package_for_")
    return kb.upper() if kb.upper().startswith("KB") else ""


def _remove_qfe(model: WindowsHost, package: str) -> None:
    """A rolled-back update is no longer listed by Win32_QuickFixEngineering."""
    kb = _kb_of(model, package)
    if kb:
        model.qfe[:] = [row for row in model.qfe if str(row.get("HotFixID", "")).upper() != kb]


def boot(model: WindowsHost, settings: RestartSettings) -> None:
    """The machine starts again: the new boot time, the pending packages finished (or not), the restart keys."""
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    model.boot_time = max(now, model.boot_time + dt.timedelta(seconds=1))
    if settings.fault == "still_pending":
        # The restart did not get to finish servicing: everything stays pending.
        return
    packages = CBS + r"\Packages"
    registry = model.registry
    for name in registry.subkey_names(packages):
        key = registry.open(f"{packages}\\{name}")
        if key is not None and key.get("CurrentState") == CBS_STATE["uninstall_pending"]:
            # An uninstall (dism /remove-package) completes at the restart: the package is absent.
            key.set("CurrentState", CBS_STATE["absent"])
            continue
        if key is None or key.get("CurrentState") != CBS_STATE["install_pending"]:
            continue
        if settings.fault == "package_failed":
            key.set("CurrentState", CBS_STATE["absent"])
            _remove_qfe(model, name)
            continue
        key.set("CurrentState", CBS_STATE["installed"])
        version = _rollup_version(name)
        if version and len(version) >= 2:
            _apply_rollup(model, version)
    for flag in ("cbs_reboot_pending", "cbs_reboot_in_progress", "wu_reboot_required"):
        registry.delete_key(REBOOT_FLAG_KEYS[flag])
    session = registry.open(SESSION_MANAGER)
    if session is not None:
        session.values.pop("pendingfilerenameoperations", None)
    if settings.servicing_seconds > 0:
        registry.ensure(REBOOT_FLAG_KEYS["cbs_packages_pending"])
        model.services["TrustedInstaller"].status = "Running"
    else:
        finish_servicing(model, settings)


def _apply_rollup(model: WindowsHost, version: tuple[int, ...]) -> None:
    """The kernel (and on 10.x the UBR) of the cumulative update just installed, when newer."""
    build, revision = version[0], version[1]
    if build != servicing_build(model.build):
        return
    if model.major == 10:
        if model.ubr is None or revision > model.ubr:
            model.ubr = revision
            for path in (CURRENT_VERSION, "SOFTWARE\\WOW6432Node\\" + CURRENT_VERSION[len("SOFTWARE\\"):]):
                if model.registry.open(path) is not None:
                    model.registry.set(path, "UBR", revision)
            model.files[r"c:\windows\system32\ntoskrnl.exe"] = f"10.0.{model.build}.{revision}"
        return
    kernel = model.files.get(r"c:\windows\system32\ntoskrnl.exe", "0.0.0.0")
    candidate = f"{model.major}.{model.minor}.{build}.{revision}"
    if tuple(int(p) for p in candidate.split(".")) > tuple(int(p) for p in kernel.split(".")):
        model.files[r"c:\windows\system32\ntoskrnl.exe"] = candidate


def finish_servicing(model: WindowsHost, settings: RestartSettings) -> None:
    """Servicing is done: TrustedInstaller stops, PackagesPending goes."""
    model.registry.delete_key(REBOOT_FLAG_KEYS["cbs_packages_pending"])
    model.services["TrustedInstaller"].status = "Stopped"


# ---- which machine a shutdown.exe runs on ---------------------------------------------------------
_MACHINES: dict[int, Machine] = {}
_MACHINES_LOCK = threading.Lock()


def attach(model: WindowsHost, lock: t.Any = None, listener: Listener | None = None) -> Machine:
    """The model's machine, with the lock its commands run under and its listener (emulator.fleet does this)."""
    with _MACHINES_LOCK:
        machine = Machine(model, lock, listener)
        _MACHINES[id(model)] = machine
        return machine


def machine_of(model: WindowsHost) -> Machine:
    with _MACHINES_LOCK:
        machine = _MACHINES.get(id(model))
        if machine is None or machine.model is not model:
            machine = _MACHINES[id(model)] = Machine(model)
        return machine


def _shutdown_exe(binding: t.Any, arguments: list[str]) -> NativeResult:
    return machine_of(binding.host).shutdown(arguments)


# The programs this module models, for emulator.pwsh.native.programs().
PROGRAMS = {"shutdown.exe": _shutdown_exe}
