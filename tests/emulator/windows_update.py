r"""The Windows Update Agent of an emulated host, as ansible.windows.win_updates drives it.

win_updates (ansible.windows 3.x, plugins/modules/win_updates.ps1 and plugins/action/win_updates.py) is one
PowerShell module run three ways by its action plugin, chosen by ``_operation``:
- ``start`` starts a background process (a scheduled task or a WMI-created process) that searches, downloads
  and installs through the Windows Update Agent API, and answers ``poll_options: {pipe_name}`` and
  ``cancel_options: {cancel_id, task_pid}``;
- ``poll`` reads the progress records the process has written to its named pipe since the last poll:
  ``{"task": <name>, "result": {...}}`` with the tasks ``search_result`` (``updates``: id, title, kb, categories,
  is_hidden, browse_only ...; ``filtered``: id and the reasons an update was left out), ``download_result`` and
  ``install_result`` (``info``: id, result_code, hresult[, reboot_required]) and last ``exit`` (changed, failed,
  reboot_required, and on a failure ``exception``: message and, for a COM error, its hresult);
- ``cancel`` tells the process to end (the action sends it after it has read ``exit``, and on any failure).
The background process is modelled as having run at ``start``: the model changes then, and the records wait for
``poll`` (all of them in one poll; the real pipe gives what arrived within a second, so several polls).

What the agent does, each with its source:
- The search is ``IsInstalled = 0`` against the service the host is configured for (WSUS when its policy names
  one, otherwise Windows Update) (https://learn.microsoft.com/windows/win32/api/wuapi/nf-wuapi-iupdatesearcher-search,
  https://learn.microsoft.com/windows/win32/api/wuapi/ne-wuapi-serverselection). A host that cannot reach its
  update service fails the search with a COM error; the model's default, a host with no reachable update
  service, fails with 0x8024402C WU_E_PT_WINHTTP_NAME_NOT_RESOLVED ("the proxy server or target server name
  cannot be resolved", https://learn.microsoft.com/windows/deployment/update/windows-update-error-reference);
  win_updates reports it as "Searching for updates: Exception from HRESULT: 0x8024402C".
- The agent offers only updates that apply to the host and are not installed: an update for another build or
  architecture, one already installed (or waiting for a restart to finish) and a cumulative update or rollup that
  an installed one supersedes are not in the result; WSUS offers only what its administrator approved
  (https://learn.microsoft.com/windows-server/administration/windows-server-update-services/manage/updates-operations).
- win_updates leaves out updates its accept_list does not match (each entry a case-insensitive regular expression
  against the title and the KB ids), that are hidden, or whose categories are not in category_names.
- Installing an update is CBS adding its package: the same change DISM makes (emulator.servicing.apply_package:
  CBS package Install Pending, the QFE row, RebootPending, the Setup log event), a failure being the CBS HRESULT
  in the update's install result (result code 4, orcFailed,
  https://learn.microsoft.com/windows/win32/api/wuapi/ne-wuapi-operationresultcode). The agent also sets its own
  ``WindowsUpdate\Auto Update\RebootRequired`` key and writes event 19 ("Installation Successful") of
  Microsoft-Windows-WindowsUpdateClient to the System log
  (https://learn.microsoft.com/troubleshoot/windows-client/installing-updates-features-roles/windows-update-issues-troubleshooting).
- With a restart pending the agent installs nothing: win_updates fails "A reboot is required before more updates
  can be installed".

Which package an offered KB installs is the package tests/support/update_repository.py builds for that update,
OS and architecture (one place says what each catalog update is in CBS).

The fixture's windows_update: key (without it: no reachable update service):
  reachable: true                the host reaches its update service
  server: wsus | microsoft       which one (informational: the model does not tell server_selection apart)
  offers: [KB5006669, ...]       the updates the service has for the host (approved on WSUS); the agent offers
                                 those that apply and are not installed
  hidden: [KB...]                updates an administrator hid on the host (win_updates: filtered, "hidden")
  search_error: "0x80244022"     the search fails with this HRESULT even though the service is reachable
A failing install is the fixture's servicing: install_fails, as for DISM.
"""

from __future__ import annotations

import functools
import re
import typing as t
import uuid

from emulator import servicing
from emulator.windows import CBS, CBS_STATE, REBOOT_FLAG_KEYS, WindowsHost, servicing_build

WU_E_PT_WINHTTP_NAME_NOT_RESOLVED = 0x8024402C
# IUpdateInstaller results (OperationResultCode): 2 orcSucceeded, 4 orcFailed.
SUCCEEDED = 2
FAILED = 4
_NAMESPACE = uuid.UUID("7a1b8c52-5bd4-4c62-9d5a-2f4e8e1c0a11")
_CATEGORY_NAMES = {"CriticalUpdates": "Critical Updates", "SecurityUpdates": "Security Updates",
                   "UpdateRollups": "Update Rollups", "DefinitionUpdates": "Definition Updates",
                   "FeaturePacks": "Feature Packs", "ServicePacks": "Service Packs"}


def _signed(code: int) -> int:
    return code - 2**32 if code >= 2**31 else code


def _code(value: t.Any) -> int:
    text = str(value)
    return int(text, 16) if text.lower().startswith("0x") else int(text)


@functools.lru_cache(maxsize=1)
def _repository() -> tuple[dict, ...]:
    from support.update_repository import updates  # pylint: disable=import-outside-toplevel

    return tuple(updates())


def _manifest(host: WindowsHost, kb: str) -> servicing.Manifest | None:
    """The package the update is for this host's Windows and architecture; None when no such update applies."""
    from support import cab  # pylint: disable=import-outside-toplevel

    architecture = "x64" if host.architecture == "AMD64" else "x86"
    applies_to = f"{host.major}.{host.minor}.{servicing_build(host.build)}"
    for update in _repository():
        if update["kb"] == kb and update["architecture"] == architecture and update["applies_to"] == applies_to:
            data = cab.package_cab(kb, applies_to, architecture, payload_blocks=1, **update["mum"])
            return servicing.read_manifest(servicing.read_cabinet(data))
    return None


def _revision(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def _installed(host: WindowsHost, manifest: servicing.Manifest) -> bool:
    """IsInstalled: the KB's package is installed or waiting for a restart, or a rollup at its version or later
    is (a later cumulative update supersedes it); on 10.x the host's UBR already at or past it."""
    if any(str(row.get("HotFixID", "")).upper() == manifest.kb for row in host.qfe):
        return True
    packages = CBS + r"\Packages"
    done = (CBS_STATE["installed"], CBS_STATE["install_pending"], CBS_STATE["superseded"], CBS_STATE["permanent"])
    for name in host.registry.subkey_names(packages):
        parts = name.split("~")
        key = host.registry.open(f"{packages}\\{name}")
        if len(parts) < 5 or key is None or key.get("CurrentState") not in done:
            continue
        if parts[0].lower() == manifest.name.lower() and (
                manifest.name != "Package_for_RollupFix" or _revision(parts[4]) >= _revision(manifest.version)):
            return True
    if manifest.name == "Package_for_RollupFix" and host.major == 10 and host.ubr is not None:
        return host.ubr >= _revision(manifest.version)[1]
    return False


def _title(host: WindowsHost, manifest: servicing.Manifest) -> str:
    kind = "Cumulative Update" if manifest.name == "Package_for_RollupFix" else (
        "Servicing Stack Update" if manifest.restart == "never" else "Update")
    bits = "x64" if host.architecture == "AMD64" else "x86"
    return f"{kind} for {host.caption.removeprefix('Microsoft ')} for {bits}-based Systems ({manifest.kb})"


def _exit(changed: bool, reboot_required: bool, message: str | None = None, hresult: int | None = None) -> dict:
    result: dict[str, t.Any] = {"changed": changed, "failed": message is not None, "reboot_required": reboot_required}
    if message is not None:
        result["exception"] = {"message": message, "exception": message}
        if hresult is not None:
            result["exception"]["hresult"] = _signed(hresult)
    return {"task": "exit", "result": result}


def reboot_required(host: WindowsHost) -> bool:
    """Microsoft.Update.SystemInfo.RebootRequired: the agent's own flag, or servicing waiting for a restart."""
    return any(host.registry.open(REBOOT_FLAG_KEYS[flag]) is not None
               for flag in ("wu_reboot_required", "cbs_reboot_pending"))


def _matches(entries: list[str], patterns: list[str]) -> bool:
    if not patterns:
        return True
    for entry in entries:
        for pattern in patterns:
            try:
                if re.search(pattern, entry, re.IGNORECASE):
                    return True
            except re.error:
                continue
    return False


def _run(host: WindowsHost, args: t.Mapping[str, t.Any], check_mode: bool) -> list[dict]:
    """What the background process writes to its pipe, the model changed as it goes."""
    settings = host.windows_update
    records: list[dict] = []
    restart = reboot_required(host)
    if not settings.get("reachable"):
        code = WU_E_PT_WINHTTP_NAME_NOT_RESOLVED
        return [_exit(False, restart, f"Searching for updates: Exception from HRESULT: 0x{code:08X}", code)]
    if settings.get("search_error"):
        code = _code(settings["search_error"])
        return [_exit(False, restart, f"Searching for updates: Exception from HRESULT: 0x{code:08X}", code)]
    hidden = {str(kb).upper() for kb in settings.get("hidden") or ()}
    categories = [_CATEGORY_NAMES.get(str(name), str(name)) for name in
                  (args.get("category_names") or ["CriticalUpdates", "SecurityUpdates", "UpdateRollups"])]
    accept = [str(item) for item in args.get("accept_list") or ()]
    reject = [str(item) for item in args.get("reject_list") or ()]
    found, filtered, selected = [], [], []
    for kb in [str(kb).upper() for kb in settings.get("offers") or ()]:
        manifest = _manifest(host, kb)
        if manifest is None or _installed(host, manifest):
            continue
        update_id = str(uuid.uuid5(_NAMESPACE, f"{kb}-{manifest.name}-{manifest.version}-{manifest.architecture}"))
        category = "Updates" if manifest.release_type == "Update" else "Security Updates"
        info = {"id": update_id, "title": _title(host, manifest), "kb": [kb], "categories": [category],
                "is_hidden": kb in hidden, "browse_only": False, "is_installed": False, "is_downloaded": False,
                "reboot_required": False, "type": "Software", "deployment_action": "Installation"}
        found.append(info)
        reasons = []
        if not _matches([info["title"], kb], accept):
            reasons.append("accept_list")
        if reject and _matches([info["title"], kb], reject):
            reasons.append("reject_list")
        if kb in hidden:
            reasons.append("hidden")
        if not any(name == "*" or name.lower() == category.lower() for name in categories):
            reasons.append("category_names")
        if reasons:
            filtered.append({"id": update_id, "reasons": reasons})
        else:
            selected.append((info, manifest))
    records.append({"task": "search_result", "result": {"updates": found, "filtered": filtered}})
    if check_mode or args.get("state") == "searched" or not selected:
        records.append(_exit(bool(selected) and args.get("state") != "searched", restart))
        return records
    if restart:
        records.append(_exit(False, restart, "A reboot is required before more updates can be installed"))
        return records
    records.append({"task": "download_result", "result": {"info": [
        {"id": info["id"], "result_code": SUCCEEDED, "hresult": 0} for info, _manifest_ in selected]}})
    if args.get("state") == "downloaded":
        records.append(_exit(True, restart))
        return records
    results, failed = [], False
    for info, manifest in selected:
        answer = servicing.apply_package(host, manifest)
        code = answer.exit_code & 0xFFFFFFFF
        if code in (0, servicing.ERROR_SUCCESS_REBOOT_REQUIRED):
            pending = code == servicing.ERROR_SUCCESS_REBOOT_REQUIRED
            if pending:
                host.registry.ensure(REBOOT_FLAG_KEYS["wu_reboot_required"])
            results.append({"id": info["id"], "result_code": SUCCEEDED, "hresult": 0, "reboot_required": pending})
            host.events.append({"log": "System", "source": "Microsoft-Windows-WindowsUpdateClient", "id": 19,
                                "type": "Information", "message": "Installation Successful: Windows successfully "
                                                                  f"installed the following update: {info['title']}"})
        else:
            failed = True
            results.append({"id": info["id"], "result_code": FAILED, "hresult": _signed(code), "reboot_required": False})
            host.events.append({"log": "System", "source": "Microsoft-Windows-WindowsUpdateClient", "id": 20,
                                "type": "Error", "message": f"Installation Failure: Windows failed to install the "
                                                            f"following update with error 0x{code:08X}: {info['title']}"})
    records.append({"task": "install_result", "result": {"info": results}})
    if failed:
        records.append(_exit(True, reboot_required(host), "Failed to install all updates - see updates for more "
                                                          "information"))
    else:
        records.append(_exit(True, reboot_required(host)))
    return records


def module(host: WindowsHost, args: t.Mapping[str, t.Any], check_mode: bool) -> dict[str, t.Any]:
    """ansible.windows.win_updates' answer to one of its action's calls."""
    operation = args.get("_operation") or "start"
    options = args.get("_operation_options") or {}
    if operation == "cancel":
        # The cancel event's name is the pipe's with Global\ before it: the process ends, its pipe goes.
        host.update_tasks.pop(str(options.get("cancel_id", "")).removeprefix("Global\\"), None)
        return {"changed": False}
    if operation == "poll":
        records = host.update_tasks.get(str(options.get("pipe_name")))
        if records is None:
            # The pipe is gone: Receive-ProgressOutput waits for it and then fails.
            return {"failed": True, "msg": "Timed out waiting for server pipe to be available"}
        taken = list(records)
        records.clear()
        return {"changed": False, "output": taken}
    if operation not in ("start", "test"):
        return {"failed": True, "msg": f"value of _operation must be one of: start, cancel, poll, test, got: {operation}"}
    task_id = str(uuid.uuid4())
    pipe = f"Ansible.Windows.WinUpdates-{task_id}"
    if operation == "test":
        host.update_tasks[pipe] = [_exit(False, reboot_required(host))]
    else:
        host.update_tasks[pipe] = _run(host, args, check_mode)
    return {"changed": False, "poll_options": {"pipe_name": pipe},
            "cancel_options": {"cancel_id": f"Global\\Ansible.Windows.WinUpdates-{task_id}", "task_pid": 4242}}
