"""A host with years of installed updates answers acs_facts in one WS-Management envelope.

1,200 updates make the runner's answer about 220 KB of JSON, more than one Receive carries (pywinrm asks for
envelopes of at most 153,600 bytes): the runner sends it gzip-compressed, so the gather stays at six HTTP
requests with Basic auth, and the controller reads every update back.
"""

from __future__ import annotations

import pytest
import yaml

from emulator.fleet import host_config, with_installed_updates
from emulator.windows import FIXTURES, build_host, load_templates
from emulator.wsman import Fleet
from support.e2e import E2E, run_playbook

UPDATES = 1_200
# A PowerShell 5.1 host (CLR 4: zlib) and a PowerShell 2.0 host (CLR 2: the old managed encoder).
HOSTS = {"w2019-u1200": "w2019-2210.yml", "w2008r2-u1200": "w2008r2-esu-ready.yml"}


@pytest.fixture(scope="module")
def gathered(tmp_path_factory):
    templates = load_templates()
    configs = []
    for name, fixture_file in HOSTS.items():
        fixture = yaml.safe_load((FIXTURES / "hosts" / fixture_file).read_text(encoding="utf-8"))
        configs.append(host_config(build_host(name, with_installed_updates(fixture, UPDATES), templates)))
    work = tmp_path_factory.mktemp("many-updates")
    with Fleet(configs) as fleet:
        inventory = fleet.inventory(work / "hosts.yml", operation_timeout_sec=30, read_timeout_sec=40,
                                    extra_vars={"acs_readiness_command_timeout": 60})
        run = run_playbook(E2E / "playbooks" / "gather.yml", inventory, work,
                           args=["-e", '{"acs_test_subset": ["os", "hotfixes", "certificates", "agents", "reboot"]}'])
        yield run, {name: fleet.stats(name) for name in HOSTS}


@pytest.mark.parametrize("name", list(HOSTS))
def test_at_most_six_requests_with_1200_installed_updates(gathered, name):
    run, stats = gathered
    assert run.last(name, "codesign.windows.acs_facts")["status"] == "ok", run.stdout[-3000:]
    assert stats[name].commands_run == 1, stats[name]
    assert stats[name].actions.get("Receive") == 1, stats[name]
    assert stats[name].protocol_requests <= 6, stats[name]
    assert stats[name].errors == ()


@pytest.mark.parametrize("name", list(HOSTS))
def test_every_update_reaches_the_facts(gathered, name):
    run, _stats = gathered
    facts = run.last(name, "codesign.windows.acs_facts")["result"]["ansible_facts"]["acs"]
    wanted = {f"KB{4_000_000 + index}" for index in range(UPDATES)}
    assert wanted <= set(facts["evidence"]["hotfixes"])
    qfe = {row["id"]: row for row in facts["hotfixes"]["qfe"]}
    assert wanted <= set(qfe)
    assert qfe["KB4000000"]["description"] == "Security Update"
    assert qfe["KB4000000"]["installed_on"] == "2021-03-09"
    assert {item["kb"] for item in facts["hotfixes"]["cbs"] if item["state_name"] == "installed"} >= wanted
    assert not facts["hotfixes"]["qfe_truncated"] and not facts["hotfixes"]["cbs_truncated"]
    assert facts["errors"] == []
    # The rest of the evidence is there too, and the verdict is the fixture's own.
    assert facts["evidence"]["root_ca_present"] is not None and facts["evidence"]["agents"]
    verdict = run.last(name, "ansible.builtin.set_fact")["result"]["ansible_facts"]["acs_test_verdict"]
    assert verdict["status"] == "ready", verdict["reasons"]
