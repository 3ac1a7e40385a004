"""The collection as a user gets it: built into a tarball, installed with ansible-galaxy into a clean
collections path, run from a clean virtual environment that has only the controller requirements the
README names, from a working directory of the user's own.

Nothing here uses the working tree's collection link or the test virtual environment's extra tools.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tarfile

import pytest

from support.e2e import BIN, REPO

READY = "w2019-2210"
UNREADY = "w2019-2209"
# The README's controller requirements, at the versions this test environment was built with.
CONTROLLER_PACKAGES = ("ansible-core", "pywinrm", "jmespath")


def _run(command, **kwargs):
    completed = subprocess.run(command, capture_output=True, text=True, check=False, timeout=900, **kwargs)
    assert completed.returncode == 0, f"{command}\n{completed.stdout[-4000:]}\n{completed.stderr[-4000:]}"
    return completed


@pytest.fixture(scope="module")
def tarball(tmp_path_factory) -> pathlib.Path:
    out = tmp_path_factory.mktemp("dist")
    _run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(out), str(REPO)],
         env={**os.environ, "ANSIBLE_NOCOLOR": "1"})
    found = list(out.glob("codesign-windows-*.tar.gz"))
    assert len(found) == 1
    return found[0]


@pytest.fixture(scope="module")
def user_env(tmp_path_factory, tarball):
    """A clean venv with only the README's controller requirements, and a clean collections path."""
    root = tmp_path_factory.mktemp("user")
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    pins = [f"{name}=={importlib.metadata.version(name)}" for name in CONTROLLER_PACKAGES]
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *pins])
    collections = root / "collections"
    # ansible.windows without Galaxy, as the README says: the folder from the `ansible` package.
    source = pathlib.Path(os.environ["ANSIBLE_COLLECTIONS_PATH"]) / "ansible_collections" / "ansible" / "windows"
    shutil.copytree(source, collections / "ansible_collections" / "ansible" / "windows")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ANSIBLE_", "PYTHON"))}
    env.update({"PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_HOME": str(root / "ansible-home"), "ANSIBLE_HOST_KEY_CHECKING": "False"})
    _run([str(venv / "bin" / "ansible-galaxy"), "collection", "install", "--offline", "-p", str(collections),
          str(tarball)], env=env)
    env["ANSIBLE_COLLECTIONS_PATH"] = str(collections)
    work = root / "work"
    work.mkdir()
    return {"venv": venv, "env": env, "work": work, "collections": collections}


def test_tarball_leaves_out_development_files_and_carries_the_licence(tarball):
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
    assert "COPYING" in names
    assert "plugins/plugin_utils/_acs_runner.ps1" in names
    assert not any(name.startswith(("tests/emulator", "tests/e2e", ".venv", ".work", "scripts/")) for name in names)


def test_installed_collection_assesses_and_gates_from_the_user_directory(fleet, user_env):
    env, work, venv = user_env["env"], user_env["work"], user_env["venv"]
    installed = user_env["collections"] / "ansible_collections" / "codesign" / "windows"
    assert (installed / "MANIFEST.json").is_file()
    limit = ["--limit", f"{READY},{UNREADY}", "-e", "acs_readiness_command_timeout=15"]
    assess = subprocess.run([str(venv / "bin" / "ansible-playbook"), "-i", str(fleet.inventory_path),
                             "codesign.windows.assess", *limit], cwd=work, env=env, capture_output=True, text=True,
                            timeout=600, check=False)
    assert assess.returncode == 0, assess.stdout[-4000:] + assess.stderr[-2000:]
    report = json.loads((work / "reports" / "acs-readiness.json").read_text(encoding="utf-8"))
    statuses = {host["host"]: host["status"] for host in report["hosts"]}
    assert statuses == {READY: "ready", UNREADY: "needs_kb"}
    assert not (installed / "playbooks" / "reports").exists(), "the report went into the installed collection"

    gate = subprocess.run([str(venv / "bin" / "ansible-playbook"), "-i", str(fleet.inventory_path),
                           "codesign.windows.gate", *limit], cwd=work, env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    assert gate.returncode == 2, gate.stdout[-4000:]
    assert f"ACS gate: {UNREADY} must not receive an ACS-signed agent build" in gate.stdout
    recap = {line.split()[0]: line for line in gate.stdout.split("PLAY RECAP", 1)[1].splitlines() if ":" in line}
    assert "failed=0" in recap[READY] and "failed=1" in recap[UNREADY], recap
