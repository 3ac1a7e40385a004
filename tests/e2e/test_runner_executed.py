"""The collection's PowerShell runner, executed line by line by the interpreter against every emulated host's
model, gives the controller the same evidence as the emulator's independent Python reading of the probes.

Two independent readings of one model: where they disagree, either the runner or the model reading is wrong.
"""

from __future__ import annotations

import base64
import gzip
import json

import pytest

from ansible_collections.codesign.windows.plugins.plugin_utils import _evidence, _probes
from emulator import probe_runner
from emulator.pwsh.dotnet import run_script
from emulator.windows import load_fleet

HOSTS = [host for host in load_fleet() if host.powershell is not None]


def _plain(line: str) -> dict:
    """The runner's document; a long one travels gzip-compressed (read here without the controller's code)."""
    document = json.loads(line)
    if "gzip" in document:
        document = json.loads(gzip.decompress(base64.b64decode(document["gzip"])))
    return document


@pytest.fixture(scope="module")
def script():
    subsets = list(_probes.SUBSETS)
    probes = _probes.build_probes(subsets)
    return subsets, probes, _probes.render_script(probes, timeout_ms=10_000)


def _facts(stdout: str, probes, subsets, host):
    document = _evidence.parse_runner_output(0, stdout, "")
    return _evidence.build_facts(document, probes, subsets, {"esu": None, "offline": None})


@pytest.mark.parametrize("host", HOSTS, ids=[host.name for host in HOSTS])
def test_executed_runner_gives_the_same_evidence_as_the_model(host, script):
    subsets, probes, text = script
    executed = run_script(host, _probes.BOOTSTRAP, input_lines=text.splitlines())
    assert len(executed) == 1 and isinstance(executed[0], str), executed
    document = _plain(executed[0])
    assert document["complete"] is True and document["powershell"] == host.powershell
    assert executed[0].isascii()
    modelled = probe_runner.run(host, text, sleep=lambda seconds: None)
    try:
        theirs = _facts(modelled, probes, subsets, host)
    except _evidence.RunnerOutputError as refused:
        # A session the controller refuses (ConstrainedLanguage, 32-bit on 64-bit): refused alike. Only those:
        # a controller that refused every document would otherwise pass here.
        assert host.language_mode != "FullLanguage" or host.wow64, str(refused)
        with pytest.raises(_evidence.RunnerOutputError) as executed_refused:
            _facts(executed[0], probes, subsets, host)
        assert str(executed_refused.value) == str(refused)
        return
    mine = _facts(executed[0], probes, subsets, host)
    assert mine["evidence"] == theirs["evidence"]
    assert [(e["probe"], e["category"]) for e in mine["errors"]] == [(e["probe"], e["category"]) for e in theirs["errors"]]
