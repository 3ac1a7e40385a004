# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""acs_hotfix: install the update the verdict names, over the connection's exec.

Thin: decide on the controller (plugin_utils._hotfix) whether anything is needed and which files, check
them, then one command per step on the host: a look (pre-flight), each chunk of each file, a hash of the
copy, expand, DISM (pkgmgr on Server 2008), and the clean-up. No PowerShell module, no put_file and no
wusa.exe: the first two need a newer PowerShell than the hosts that need the update, the last refuses to
run in a WinRM session.
"""

from __future__ import annotations

import ntpath
import re
import time

from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.codesign.windows.plugins.plugin_utils._catalog import CatalogError, load_catalog, normalize_kb
from ansible_collections.codesign.windows.plugins.plugin_utils._evidence import CBS_INSTALLED, CBS_PENDING
from ansible_collections.codesign.windows.plugins.plugin_utils._hotfix import (
    DEFAULT_CHUNK_BYTES,
    REMOTE_WORK_DIR,
    RESTART_REQUIRED,
    RETRY_AFTER_RESTART,
    ROLLUP_CHOICES,
    TASK_NAME,
    TASK_NOT_FINISHED,
    FileCheck,
    HotfixError,
    UpdateFile,
    chunks,
    files_from_mapping,
    files_in_directory,
    hash_file,
    ROLLUP_PACKAGE,
    host_error,
    manifest_kb,
    needs_task,
    package_results,
    parse_operation_output,
    plan,
    preflight,
    preflight_problem,
    render_operation,
    superseded_prerequisite,
    task_command,
    task_last_result,
    update_file,
    verify,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._probes import (
    CBS,
    REBOOT_KEYS,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._operation import ConnectionLost, OperationOutputError, execute
from ansible_collections.codesign.windows.plugins.plugin_utils._untrusted import clean_text
from ansible_collections.codesign.windows.plugins.plugin_utils._windows_update import (
    SERVERS,
    SOURCES,
    WIN_UPDATES,
    module_args,
    outcome,
    powershell_problem,
    update_plan,
)

ARGUMENT_SPEC = {
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "source": {"type": "str", "choices": list(SOURCES), "default": "files"},
    "windows_update_server": {"type": "str", "choices": list(SERVERS), "default": "default"},
    "verdict": {"type": "dict"},
    "src": {"type": "path"},
    "files": {"type": "dict"},
    "remote_src": {"type": "str"},
    "checksums": {"type": "dict", "default": {}},
    "rollup": {"type": "str", "choices": list(ROLLUP_CHOICES), "default": "monthly"},
    "esu": {"type": "bool"},
    "catalog": {"type": "raw"},
    "kb": {"type": "str"},
    "min_free_mb": {"type": "int", "default": 2048},
    "chunk_size": {"type": "int", "default": DEFAULT_CHUNK_BYTES},
    "task_timeout": {"type": "int", "default": 7200},
}
EVENT_INSTALL = 100
EVENT_REMOVE = 101
# The cabinets of a .msu that are not the update: the Windows Update scan metadata, never installed
# (https://learn.microsoft.com/troubleshoot/windows-client/installing-updates-features-roles/description-of-windows-update-standalone-installer).
_SKIP_CABS = re.compile(r"^wsusscan\.cab$", re.IGNORECASE)
# Servicing stack updates bundled in a .msu since 2021 come as SSU-<version>-<arch>.cab and go first.
_SSU_CAB = re.compile(r"^ssu-.*\.cab$", re.IGNORECASE)
_SYSTEM_ROOT = re.compile(r"^[A-Za-z]:\\[A-Za-z0-9_.\\-]{1,200}$")
TASK_POLL_SECONDS = 3


class _Lost(Exception):
    """The connection dropped while a step ran."""


class ActionModule(ActionBase):
    """Install the ACS update the verdict names on a Windows host that lacks it."""

    _supports_check_mode = True
    _supports_async = False
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        result["changed"] = False
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            if args["state"] == "absent":
                return self._absent(args, result)
            if args["source"] == "windows_update":
                return self._windows_update(args, task_vars, result)
            return self._present(args, task_vars, result)
        except (HotfixError, CatalogError, OperationOutputError) as exc:
            result.update(failed=True, msg=f"acs_hotfix: {exc}")
            return result
        except _Lost as exc:
            raise AnsibleConnectionFailure(f"acs_hotfix: the connection to the host was lost: {exc}") from None

    # ------------------------------------------------------------------------------------------ present
    def _sources(self, args) -> list[UpdateFile]:
        found: list[UpdateFile] = []
        if args["src"]:
            try:
                directory = self._find_needle("files", args["src"])
            except AnsibleError:
                directory = args["src"]
            found.extend(files_in_directory(directory))
        if args["files"] and not args["remote_src"]:
            found.extend(files_from_mapping(args["files"]))
        return found

    def _present(self, args, task_vars, result):
        verdict = args["verdict"] if args["verdict"] is not None else task_vars.get("acs_verdict")
        catalog = load_catalog(args["catalog"])
        if args["chunk_size"] < 4096 or args["chunk_size"] > 8 * 1024 * 1024:
            raise HotfixError("chunk_size must be from 4096 to 8388608 bytes")
        files = self._sources(args)
        decision = plan(verdict, catalog, files, args["rollup"], args["esu"])
        result.update(kb=decision.kb, msg=decision.message)
        if decision.action in ("none", "pending"):
            result["reboot_required"] = decision.action == "pending"
            return result
        if decision.action == "refuse":
            result.update(failed=True, msg=f"acs_hotfix: {decision.message}")
            return result
        # The files are checked before the host is contacted: a wrong file never reaches a host.
        checked = {}
        if not args["remote_src"]:
            for step in decision.steps:
                if step.file is not None:
                    check = hash_file(step.file.path)
                    verify(step.file, check, args["checksums"])
                    checked[step.file.path] = check

        look = self._run_operation({"action": "look", "pending_keys": list(REBOOT_KEYS.values()),
                                    "remote_dir": args["remote_src"] or ""})
        self._raise_host_error(look, "the host's pre-flight look failed")
        if args["remote_src"]:
            decision = self._remote_plan(args, verdict, catalog, look)
            result.update(kb=decision.kb, msg=decision.message)
        if decision.action != "install":
            result.update(failed=True, msg=f"acs_hotfix: {decision.message}")
            return result
        found = preflight(look)
        result.update(free_mb=found.free_mb, shell_memory_mb=found.shell_memory_mb, tool=found.servicing_tool)
        problem = preflight_problem(found, args["min_free_mb"])
        if problem:
            result.update(failed=True, msg=f"acs_hotfix: {problem}", restart_first=bool(found.restart_pending))
            return result
        via_task = needs_task(found.shell_memory_mb)
        result["ran_as"] = "scheduled_task" if via_task else "shell"
        system_root = clean_text(look.get("system_root"), 300)
        if via_task and not _SYSTEM_ROOT.match(system_root):
            raise HotfixError("the host did not say where Windows is ($env:SystemRoot), which the scheduled task "
                              "needs; nothing was installed")
        planned = [step.kb for step in decision.steps]
        result["planned"] = planned
        if self._task.check_mode:
            how = (f" as a scheduled task running as SYSTEM: WinRM allows a shell {found.shell_memory_mb} MB "
                   "(MaxMemoryPerShellMB)") if via_task else ""
            result.update(changed=True, msg=f"{decision.message}{how} (check mode: nothing was changed)")
            return result
        host = {"tool": found.servicing_tool, "quota": found.shell_memory_mb, "system_root": system_root,
                "via_task": via_task}
        return self._install(args, decision, checked, host, result)

    # ------------------------------------------------------------------------------------------ windows update
    def _windows_update(self, args, task_vars, result):
        """Plan as for files, then let the host's Windows Update Agent install the planned KBs (win_updates)."""
        if args["src"] or args["files"] or args["remote_src"]:
            raise HotfixError("src, files and remote_src are for source=files; source=windows_update takes the update "
                              "from Windows Update or WSUS")
        verdict = args["verdict"] if args["verdict"] is not None else task_vars.get("acs_verdict")
        decision, wanted = update_plan(verdict, load_catalog(args["catalog"]), args["rollup"], args["esu"])
        result.update(kb=decision.kb, msg=decision.message, source="windows_update")
        if decision.action in ("none", "pending"):
            result["reboot_required"] = decision.action == "pending"
            return result
        if decision.action != "install":
            result.update(failed=True, msg=f"acs_hotfix: {decision.message}")
            return result
        facts = task_vars.get("ansible_facts") if isinstance(task_vars.get("ansible_facts"), dict) else {}
        problem = powershell_problem(facts.get("acs"))
        if problem:
            result.update(failed=True, msg=f"acs_hotfix: {problem}")
            return result
        options = module_args(wanted, args["windows_update_server"])
        task = self._task.copy()
        task.args = options
        action = self._shared_loader_obj.action_loader.get(
            WIN_UPDATES, task=task, connection=self._connection, play_context=self._play_context,
            loader=self._loader, templar=self._templar, shared_loader_obj=self._shared_loader_obj)
        if action is None:
            result.update(failed=True, msg="acs_hotfix: source=windows_update needs the ansible.windows collection "
                                           "on the controller (ansible-galaxy collection install ansible.windows); "
                                           "nothing was installed")
            return result
        result.update(planned=[item.kbs[0] for item in wanted], windows_update_server=args["windows_update_server"])
        if self._task.check_mode:
            result.update(changed=True, msg=f"{decision.message} (check mode: Windows Update was not asked, nothing "
                                            "was changed)")
            return result
        answer = action.run(task_vars=task_vars)
        if isinstance(answer, dict) and answer.get("unreachable") is True:
            # As for files: a host whose connection dropped is unreachable, not failed; the agent's task may go on.
            raise AnsibleConnectionFailure(f"acs_hotfix: the connection to the host was lost while Windows Update "
                                           f"installed {', '.join(result['planned'])}: run again to see whether it "
                                           "was installed")
        mapped = outcome(wanted, answer)
        result.update(mapped)
        if mapped.get("failed"):
            result["msg"] = f"acs_hotfix: {mapped['msg']}"
        for kb in mapped["installed"]:
            self._wu_event(kb, result)
        return result

    def _wu_event(self, kb: str, result) -> None:
        """The Application log entry the files path writes for each installed package, for this KB."""
        text = f"codesign.windows acs_hotfix: {kb} installed through Windows Update (ansible.windows.win_updates)"
        try:
            answer = self._run_operation({"action": "event", "event_id": EVENT_INSTALL, "event_text": text})
        except (OperationOutputError, _Lost) as exc:
            answer = {"error": str(exc)}
        if answer.get("error") is not None:
            result.setdefault("warnings", []).append(f"acs_hotfix: the event log entry for {kb} was not written: "
                                                     f"{host_error(answer)}")

    def _remote_plan(self, args, verdict, catalog, look):
        """Pick from the files the host lists in remote_src, then check each picked one on the host."""
        listed = look.get("remote_files")
        names = [clean_text(name, 1000) for name in listed if isinstance(name, str)] if isinstance(listed, list) else []
        files = [item for item in (update_file(name, remote=True) for name in names) if item is not None]
        if args["files"]:
            directory = args["remote_src"].rstrip("\\/")
            mapped = {kb: path if ("\\" in path or "/" in path) else f"{directory}\\{path}"
                      for kb, path in args["files"].items() if isinstance(path, str)}
            files.extend(files_from_mapping(mapped, remote=True))
        decision = plan(verdict, catalog, files, args["rollup"], args["esu"])
        for step in decision.steps if decision.action == "install" else ():
            answer = self._run_operation({"action": "hash", "path": step.file.path})
            self._raise_host_error(answer, f"the host could not read {step.file.path}")
            if answer.get("exists") is not True:
                raise HotfixError(f"{step.file.path} is not readable on the host")
            check = _remote_check(answer)
            verify(step.file, check, args["checksums"])
        return decision

    def _install(self, args, decision, checked, host, result):
        installed, copied, directories, restart = [], [], [], False
        try:
            for index, step in enumerate(decision.steps):
                item = step.file
                path = item.path
                if not item.remote:
                    path = self._transfer(item, checked[item.path], args["chunk_size"])
                    copied.append(path)
                cabs = [path]
                if item.ext == "msu":
                    directory = f"{REMOTE_WORK_DIR}\\{index}-{item.kb}"
                    directories.append(directory)
                    cabs = self._expand(path, directory, item)
                outcome = self._add(cabs, host, step.kb, args["task_timeout"])
                failed = [package for package in outcome if package["exit_code"] not in (0, RESTART_REQUIRED)]
                restart = restart or any(package["exit_code"] == RESTART_REQUIRED for package in outcome)
                if superseded_prerequisite(step, failed):
                    # "Not applicable": a later servicing stack is installed; the update that needs it tells.
                    result.setdefault("superseded", []).append(step.kb)
                    continue
                if failed or len(outcome) != len(cabs):
                    bad = failed[0] if failed else {"cab": "?", "exit_code": None, "result": "the host did not "
                                                    "report every package"}
                    retry = " (retry after the restart)" if bad["exit_code"] in RETRY_AFTER_RESTART else ""
                    result.update(failed=True, changed=bool(installed), installed=installed, packages=outcome,
                                  reboot_required=restart, restart_first=bool(retry),
                                  msg=f"acs_hotfix: {step.kb} was not installed: {ntpath.basename(bad['cab'])} "
                                      f"returned {bad['result']}{retry}"
                                      + (f"; installed before it: {', '.join(installed)}" if installed else ""))
                    return result
                installed.append(step.kb)
        except _Lost as exc:
            raise AnsibleConnectionFailure(f"acs_hotfix: the connection to the host was lost while installing "
                                           f"{exc}: run again to see whether it was installed") from None
        finally:
            if copied or directories:
                # Everything copied or expanded lives under the work directory: it goes as a whole.
                self._clean(copied, [*directories, REMOTE_WORK_DIR], result)
        how = " (DISM ran as a scheduled task as SYSTEM: the shell's memory quota is too small)" \
            if host["via_task"] else ""
        superseded = result.get("superseded")
        later = (f"; {', '.join(superseded)} not needed: Windows calls it not applicable, a later servicing stack "
                 "update is installed" if superseded else "")
        result.update(changed=True, installed=installed, reboot_required=restart,
                      msg=f"{decision.message}: done{how}{later}" +
                      ("; a restart finishes the installation" if restart else ""))
        return result

    def _add(self, cabs: list[str], host, kb: str, timeout: int) -> list[dict]:
        """Add the packages, in the shell or through the scheduled task; each one's result, normalised."""
        event = {"event_id": EVENT_INSTALL, "event_text": f"codesign.windows acs_hotfix: {kb}"}
        if not host["via_task"]:
            try:
                answer = self._step("add", {"action": "add", "cabs": cabs, "tool": host["tool"], **event}, kb)
            except OperationOutputError as exc:
                quota = f" ({host['quota']} MB)" if host["quota"] else ""
                raise HotfixError(f"installing {kb} failed: {exc}; WinRM ends a shell whose processes need more "
                                  f"memory than MaxMemoryPerShellMB{quota}: raise it (winrm set winrm/config/winrs "
                                  "@{MaxMemoryPerShellMB=\"2048\"}) and run again") from None
            self._raise_host_error(answer, f"installing {kb} failed")
            return package_results(answer)
        outcome = []
        for cab in cabs:
            code = self._run_task(task_command(host["tool"], host["system_root"], cab), kb, host["quota"], timeout)
            item = {"cab": cab, "exit_code": code}
            if code in (0, RESTART_REQUIRED):
                self._step("event", {"action": "event", "event_id": EVENT_INSTALL,
                                     "event_text": f"{event['event_text']} installed {cab} (exit code {code}, "
                                                   "scheduled task)"}, kb)
            outcome.extend(package_results({"packages": [item]}))
            if code not in (0, RESTART_REQUIRED):
                break
        return outcome

    def _run_task(self, command: str, kb: str, quota, timeout: int) -> int | None:
        """Run one command as SYSTEM through a scheduled task and wait for its exit code (its Last Result)."""
        task = {"action": "task", "task_name": TASK_NAME, "task_run": command}
        answer = self._step("task", {**task, "verb": "create"}, kb)
        self._raise_host_error(answer, f"creating the scheduled task for {kb} failed")
        if answer.get("exit_code") != 0:
            raise HotfixError(
                f"{kb} was not installed: WinRM allows a shell {quota} MB (MaxMemoryPerShellMB), too little for DISM, "
                "so it runs as a scheduled task as SYSTEM, and creating that task was refused (schtasks.exe exit code "
                f"{clean_text(answer.get('exit_code'), 20)}): registering a task that runs as SYSTEM needs an account "
                "in the local Administrators group; or raise the quota (winrm set winrm/config/winrs "
                "@{MaxMemoryPerShellMB=\"1024\"})")
        finished = True
        try:
            answer = self._step("task", {**task, "verb": "run"}, kb)
            self._raise_host_error(answer, f"starting the scheduled task for {kb} failed")
            if answer.get("exit_code") != 0:
                raise HotfixError(f"{kb} was not installed: the scheduled task did not start (schtasks.exe exit code "
                                  f"{clean_text(answer.get('exit_code'), 20)})")
            deadline = time.monotonic() + timeout
            while True:
                answer = self._step("task", {**task, "verb": "query"}, kb)
                self._raise_host_error(answer, f"reading the scheduled task for {kb} failed")
                code = task_last_result(answer.get("output")) if answer.get("exit_code") == 0 else None
                if code is None:
                    raise HotfixError(f"{kb}: the host's schtasks.exe /Query gave no Last Result for the task "
                                      f"(exit code {clean_text(answer.get('exit_code'), 20)}); see the host's "
                                      "C:\\Windows\\Logs\\CBS\\CBS.log for whether it was installed")
                if code not in TASK_NOT_FINISHED:
                    return code
                if time.monotonic() > deadline:
                    finished = False   # deleting the task could end DISM halfway: it is left to finish
                    raise HotfixError(f"{kb}: the scheduled task that installs it was still running after "
                                      f"{timeout} s (task_timeout); it was left to finish: run again later to see "
                                      "whether it was installed")
                time.sleep(TASK_POLL_SECONDS)
        except _Lost:
            finished = False
            raise
        finally:
            if finished:
                try:
                    self._run_operation({**task, "verb": "delete"})
                except (OperationOutputError, _Lost):
                    pass

    def _transfer(self, item: UpdateFile, check, chunk_size: int) -> str:
        """Copy a controller file to the host, one command per chunk, each chunk's SHA-256 checked there, then
        the whole copy's SHA-256."""
        target = f"{REMOTE_WORK_DIR}\\{item.name}"
        for offset, data, sha256 in chunks(item.path, chunk_size):
            answer = self._step("write", {"action": "write", "path": target, "directory": REMOTE_WORK_DIR,
                                          "offset": offset, "content": data, "sha256": sha256}, item.kb)
            self._raise_host_error(answer, f"copying {item.name} to the host failed")
            if answer.get("chunk_sha256") != sha256:
                raise HotfixError(f"copying {item.name}: the chunk at {offset} arrived with another SHA-256 "
                                  f"({clean_text(answer.get('chunk_sha256'), 80)}); nothing was installed")
            if answer.get("length_before") != offset:
                raise HotfixError(f"copying {item.name}: the copy on the host has "
                                  f"{clean_text(answer.get('length_before'), 20)} bytes where {offset} were expected; "
                                  "nothing was installed")
        answer = self._step("hash", {"action": "hash", "path": target}, item.kb)
        self._raise_host_error(answer, f"reading the copy of {item.name} failed")
        if answer.get("sha256") != check.sha256:
            raise HotfixError(f"the copy of {item.name} on the host has the SHA-256 "
                              f"{clean_text(answer.get('sha256'), 80)}, not {check.sha256}; nothing was installed")
        return target

    def _expand(self, path: str, directory: str, item: UpdateFile) -> list[str]:
        """Expand a .msu; its cabinets in install order: SSU-*.cab first, WSUSSCAN.cab never."""
        answer = self._step("expand", {"action": "expand", "path": path, "directory": directory}, item.kb)
        self._raise_host_error(answer, f"expanding {item.name} failed")
        listed = answer.get("files")
        names = [clean_text(name, 1000) for name in listed if isinstance(name, str)] if isinstance(listed, list) else []
        cabs = [name for name in names if name.lower().endswith(".cab") and not _SKIP_CABS.match(ntpath.basename(name))]
        ordered = sorted(cabs, key=lambda name: (not _SSU_CAB.match(ntpath.basename(name)), name.lower()))
        if not ordered:
            raise HotfixError(f"{item.name} holds no update cabinet (expand.exe exit code "
                              f"{clean_text(answer.get('exit_code'), 20)}); the file is not a Windows update package")
        return ordered

    def _clean(self, files, directories, result) -> None:
        try:
            answer = self._run_operation({"action": "clean", "files": files, "directories": directories})
        except (OperationOutputError, _Lost) as exc:
            result.setdefault("warnings", []).append(f"acs_hotfix: the copied files were not removed: {exc}")
            return
        if answer.get("error") is not None:
            result.setdefault("warnings", []).append(f"acs_hotfix: the copied files were not removed: "
                                                     f"{host_error(answer)}")

    # ------------------------------------------------------------------------------------------ absent
    def _absent(self, args, result):
        kb = normalize_kb(args["kb"])
        if kb is None:
            raise HotfixError("state=absent needs kb, the update to remove (e.g. KB5006714)")
        look = self._run_operation({"action": "look", "pending_keys": [], "remote_dir": "",
                                    "packages_path": CBS + "\\Packages",
                                    "packages_like": f"^Package_for_({kb}|RollupFix)~"})
        self._raise_host_error(look, "the host's look at its packages failed")
        packages = look.get("packages")
        items = packages.get("items") if isinstance(packages, dict) else None
        # Installed, superseded, permanent, or waiting for a restart to finish installing (the states the gather
        # reads the same way): a package uninstall-pending or absent is gone or going.
        names = [clean_text(item.get("name"), 300) for item in items
                 if isinstance(item, dict) and isinstance(item.get("values"), dict)
                 and item["values"].get("CurrentState") in (*CBS_INSTALLED, *CBS_PENDING)] if isinstance(items, list) else []
        names = [name for name in names if name]
        rollups = [name for name in names if ROLLUP_PACKAGE.match(name)]
        names = [name for name in names if not name.lower().startswith("package_for_rollupfix~")]
        if rollups:
            # A cumulative or monthly rollup is Package_for_RollupFix~...: its manifest says which KB it is.
            answer = self._run_operation({"action": "manifests", "package_names": rollups})
            self._raise_host_error(answer, "reading the rollup packages' manifests failed")
            listed = answer.get("manifests")
            for item in listed if isinstance(listed, list) else []:
                if isinstance(item, dict) and item.get("name") in rollups and manifest_kb(item.get("text")) == kb:
                    names.append(item["name"])
        result.update(kb=kb, packages=names)
        if not names:
            result["msg"] = (f"{kb} is not installed (no Package_for_{kb} package, and no rollup package whose "
                             "manifest names it); nothing to remove")
            return result
        if self._task.check_mode:
            result.update(changed=True, msg=f"removes {', '.join(names)} (check mode: nothing was changed)")
            return result
        try:
            answer = self._step("remove", {"action": "remove", "package_names": names, "event_id": EVENT_REMOVE,
                                           "event_text": f"codesign.windows acs_hotfix: {kb}"}, kb)
        except _Lost:
            raise AnsibleConnectionFailure(f"acs_hotfix: the connection to the host was lost while removing {kb}: "
                                           "run again to see whether it was removed") from None
        self._raise_host_error(answer, f"removing {kb} failed")
        outcome = package_results(answer)
        failed = [package for package in outcome if package["exit_code"] not in (0, RESTART_REQUIRED)]
        restart = any(package["exit_code"] == RESTART_REQUIRED for package in outcome)
        if failed or len(outcome) != len(names):
            bad = failed[0] if failed else {"cab": "?", "result": "the host did not report every package"}
            result.update(failed=True, changed=len(outcome) > 1, packages=outcome,
                          msg=f"acs_hotfix: {kb} was not removed: {bad['cab']} returned {bad['result']}")
            return result
        result.update(changed=True, reboot_required=restart, removed=names,
                      msg=f"{kb} removed" + ("; a restart finishes the removal" if restart else ""))
        return result

    # ------------------------------------------------------------------------------------------ the host
    @staticmethod
    def _raise_host_error(answer, what: str) -> None:
        error = host_error(answer)
        if error is not None:
            raise HotfixError(f"{what}: {error}")

    def _step(self, name: str, operation, kb: str):
        """An operation that changes the host: a lost connection says which update it was at."""
        try:
            return self._run_operation(operation)
        except _Lost:
            raise _Lost(kb) from None

    def _run_operation(self, operation):
        """Run one operation on the host and read its answer; _Lost when the connection drops."""
        try:
            outcome = execute(self, render_operation(operation))
        except ConnectionLost as exc:
            raise _Lost(str(exc)) from None
        return parse_operation_output(outcome.get("rc"), to_text(outcome.get("stdout")), to_text(outcome.get("stderr")))


def _remote_check(answer):
    """The host's hashes of a file it reads, in the shape verify() takes."""
    return FileCheck(clean_text(answer.get("sha1"), 80).upper(), clean_text(answer.get("sha256"), 80).upper(), -1)
