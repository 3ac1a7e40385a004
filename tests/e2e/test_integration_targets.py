"""The real-Windows integration targets cannot run here (no Windows host); they are checked for what can
be checked: each target's tasks parse and name modules that exist (ansible-playbook --syntax-check), each
is marked unsupported for CI, and the Vagrantfile that brings up the hosts is valid Ruby."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from support.e2e import BIN, REPO, ansible_env

INTEGRATION = REPO / "tests" / "integration"
TARGETS = sorted(path.name for path in (INTEGRATION / "targets").iterdir() if path.is_dir())


def test_every_module_and_the_role_has_a_target():
    modules = {path.stem for path in (REPO / "plugins" / "modules").glob("*.py") if not path.name.startswith("_")}
    # acs_export_evidence reads files on the controller and never contacts a host.
    assert modules - {"acs_export_evidence"} | {"acs_readiness"} <= set(TARGETS), "a module without a real-Windows target"


@pytest.mark.parametrize("target", TARGETS)
def test_target_parses_and_is_unsupported_in_ci(target, tmp_path):
    aliases = (INTEGRATION / "targets" / target / "aliases").read_text(encoding="utf-8").split()
    assert "windows" in aliases and "unsupported" in aliases
    playbook = tmp_path / "site.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": f"integration target {target}", "hosts": "windows", "gather_facts": False,
        "tasks": [{"name": "the target", "ansible.builtin.import_tasks": str(INTEGRATION / "targets" / target / "tasks" / "main.yml")}],
    }]), encoding="utf-8")
    inventory = tmp_path / "inventory.ini"
    inventory.write_text("[windows]\nwin ansible_connection=winrm\n", encoding="utf-8")
    completed = subprocess.run([str(BIN / "ansible-playbook"), "--syntax-check", "-i", str(inventory), str(playbook)],
                               capture_output=True, text=True, check=False, env=ansible_env(tmp_path))
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_vagrantfile_is_valid_ruby_and_names_every_documented_host():
    ruby = shutil.which("ruby")
    assert ruby, "ruby is missing: make test installs it (scripts/system-deps)"
    completed = subprocess.run([ruby, "-c", str(INTEGRATION / "Vagrantfile")], capture_output=True, text=True, check=False)
    assert completed.returncode == 0 and "Syntax OK" in completed.stdout, completed.stderr
    text = (INTEGRATION / "Vagrantfile").read_text(encoding="utf-8")
    for box in ("WindowsServer2008R2", "WindowsServer2012R2", "WindowsServer2016", "WindowsServer2019",
                "WindowsServer2022"):
        assert f'"jborean93/{box}"' in text
