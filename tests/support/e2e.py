"""Helpers for the end-to-end tests: run real ansible-playbook and read back what it reported."""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import subprocess
import sys
import typing as t

from emulator.windows import load_fleet

REPO = pathlib.Path(__file__).resolve().parents[2]
E2E = REPO / "tests" / "e2e"
BIN = pathlib.Path(sys.executable).parent


@dataclasses.dataclass
class PlaybookRun:
    rc: int
    stdout: str
    stderr: str
    results: list[dict[str, t.Any]]
    stats: dict[str, dict[str, int]]
    custom: dict[str, t.Any]

    def host_results(self, host: str, action: str | None = None) -> list[dict[str, t.Any]]:
        return [r for r in self.results if r["host"] == host and (action is None or r["action"] == action)]

    def last(self, host: str, action: str) -> dict[str, t.Any]:
        found = self.host_results(host, action)
        assert found, f"{host} has no {action} result;\n{self.stdout[-3000:]}"
        return found[-1]

    def last_run(self, host: str, action: str) -> dict[str, t.Any]:
        """The last result of that action the host did not skip (a play may hold the action twice, the second
        only for some hosts)."""
        found = [r for r in self.host_results(host, action) if r["status"] != "skipped"]
        assert found, f"{host} ran no {action};\n{self.stdout[-3000:]}"
        return found[-1]


def ansible_env(tmp_path: pathlib.Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "ANSIBLE_CONFIG": str(REPO / "tests" / "ansible.cfg"),
        "ANSIBLE_CALLBACK_PLUGINS": str(E2E / "callback_plugins"),
        "ANSIBLE_CALLBACKS_ENABLED": "acs_record",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    })
    env.update(extra)
    return env


def run_playbook(playbook: str | pathlib.Path, inventory: pathlib.Path, tmp_path: pathlib.Path,
                 args: t.Sequence[str] = (), timeout: int = 600, env: dict[str, str] | None = None) -> PlaybookRun:
    record = tmp_path / f"record-{len(list(tmp_path.glob('record-*.json')))}.json"
    command = [str(BIN / "ansible-playbook"), "-i", str(inventory), str(playbook), *args]
    completed = subprocess.run(command, capture_output=True, check=False, text=True, timeout=timeout, cwd=REPO,
                               env={**ansible_env(tmp_path, ACS_RECORD_FILE=str(record)), **(env or {})})
    data = json.loads(record.read_text()) if record.exists() else {"results": [], "stats": {}, "custom": {}}
    return PlaybookRun(completed.returncode, completed.stdout, completed.stderr, data["results"], data["stats"],
                       data["custom"])


def expectations(kind: str) -> list[str]:
    """Fixture hosts whose expect block has this key (status, failed, unreachable)."""
    return [host.name for host in load_fleet() if kind in host.expect]
