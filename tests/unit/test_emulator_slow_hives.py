"""The emulator's slow hive: each opened key costs time, and a probe over its limit is abandoned the way the
runner abandons it. The sleep is recorded instead of slept."""

from __future__ import annotations

import json

from ansible_collections.codesign.windows.plugins.plugin_utils._probes import build_probes, render_script

from emulator import probe_runner
from emulator.windows import build_host

FIXTURE = {"os": "ws2012r2", "cbs_history": {"packages": 1200, "kb_packages": 320},
           "updates": [{"kb": "KB5034819", "rollup_build": "9600.21830.1.3"}]}


def _run(fixture, gather_timeout_ms):
    slept = []
    host = build_host("slow", fixture)
    output = probe_runner.run(host, render_script(build_probes(("os", "hotfixes")), gather_timeout_ms), slept.append)
    results = {item["id"]: item for item in json.loads(output)["results"]}
    return results["hotfixes.cbs"], slept


def test_only_matching_packages_are_opened_and_rollups_come_first():
    cbs, slept = _run(FIXTURE, 2000)
    names = [item["name"] for item in cbs["data"]["items"]]
    assert len(names) == 321                        # 320 KB packages and the rollup, no component packages
    assert names[0].startswith("Package_for_RollupFix~")
    assert slept == []                              # no cost configured: nothing to wait for


def test_each_opened_key_costs_time_within_the_probes_own_timeout():
    cbs, slept = _run({**FIXTURE, "faults": {"registry_key_cost_ms": 10}}, 2000)
    assert cbs["ok"] is True
    # The Packages key and 321 packages at 10 ms: longer than gather_timeout, shorter than the CBS timeout.
    assert cbs["ms"] == 3220 and 3.22 in slept


def test_a_probe_slower_than_its_timeout_is_abandoned():
    cbs, slept = _run({**FIXTURE, "faults": {"registry_key_cost_ms": 500}}, 2000)
    assert cbs == {"id": "hotfixes.cbs", "ok": False, "category": "timeout", "error": "no answer within 60 s",
                   "ms": 60000}
    assert 60.0 in slept and sum(slept) < 70       # the other probes open one key each
