"""The runner executed by the interpreter gives the same raw facts (not only the same evidence record) as the
emulator's independent Python reading of the probes: what acs_facts returns under ansible_facts.acs is shown to
users too (file renames pending, the root's stores, CBS state names, agent registry values)."""

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


def _facts(stdout, probes, subsets):
    facts = _evidence.build_facts(_evidence.parse_runner_output(0, stdout, ""), probes, subsets,
                                  {"esu": None, "offline": None})
    facts.pop("runner")          # elapsed time differs by nature
    for error in facts["errors"]:
        error.pop("message")     # the interpreter's and the model's wording of one failure may differ
    return facts


@pytest.mark.parametrize("host", HOSTS, ids=[host.name for host in HOSTS])
def test_executed_runner_gives_the_same_raw_facts_as_the_model(host, script):
    subsets, probes, text = script
    (executed,) = run_script(host, _probes.BOOTSTRAP, input_lines=text.splitlines())
    modelled = probe_runner.run(host, text, sleep=lambda seconds: None)
    assert _plain(executed)["complete"] is True
    try:
        theirs = _facts(modelled, probes, subsets)
    except _evidence.RunnerOutputError as refused:
        # A session the controller refuses (ConstrainedLanguage, 32-bit on 64-bit): refused alike.
        with pytest.raises(_evidence.RunnerOutputError) as executed_refused:
            _facts(executed, probes, subsets)
        assert str(executed_refused.value) == str(refused)
        return
    assert _facts(executed, probes, subsets) == theirs
