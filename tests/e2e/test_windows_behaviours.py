"""Windows as real hosts behave, end to end: real ansible-playbook, real WinRM, the emulated hosts
that show each behaviour (regional settings, least privilege, Constrained Language Mode, PowerShell
2.0's wrapped errors, a probe that returns nothing, 32-bit PowerShell, console output hygiene).

What each behaviour is and where Windows documents it: docs/testing.md, "What the emulator models".
"""

from __future__ import annotations

import pytest

from support.e2e import E2E, run_playbook

GATHER = E2E / "playbooks" / "gather.yml"
HOSTS = ("w2012r2-en-gb", "w2019-de-de", "w2016-remote-mgmt-users", "w2008r2-ps2-denied", "w2016-constrained-language",
         "w2019-silent-probe", "w2019-powershell32", "w2016-utf8-console", "w2008-nopowershell-de")


@pytest.fixture(scope="module")
def gathered(fleet, tmp_path_factory):
    return run_playbook(GATHER, fleet.inventory_path, tmp_path_factory.mktemp("behaviours"),
                        args=["--limit", ",".join(HOSTS)])


def _acs(gathered, name):
    facts = gathered.last(name, "codesign.windows.acs_facts")
    assert facts["status"] == "ok", facts["result"].get("msg")
    return facts["result"]["ansible_facts"]["acs"]


def _warnings(gathered, name):
    return gathered.last(name, "codesign.windows.acs_facts")["result"].get("warnings", [])


def _verdict(gathered, name):
    return gathered.last(name, "ansible.builtin.set_fact")["result"]["ansible_facts"]["acs_test_verdict"]


def test_every_host_of_the_play_has_a_result(gathered):
    for name in HOSTS:
        assert gathered.host_results(name, "codesign.windows.acs_facts"), name


@pytest.mark.parametrize("name, dates", [
    ("w2012r2-en-gb", {"KB2919355": "2021-03-09", "KB5006714": "2021-10-13"}),
    ("w2019-de-de", {"KB5005112": "2021-08-13", "KB5006672": "2021-10-12"}),
])
def test_regional_settings_neither_lose_nor_swap_update_dates(gathered, name, dates):
    acs = _acs(gathered, name)
    assert acs["errors"] == []
    assert {item["id"]: item["installed_on"] for item in acs["hotfixes"]["qfe"]} == dates
    assert set(dates) <= set(acs["evidence"]["hotfixes"])
    assert _verdict(gathered, name)["status"] == "ready"


def test_least_privileged_account_still_finds_the_agent(gathered):
    name = "w2016-remote-mgmt-users"
    acs = _acs(gathered, name)
    ntrtscan = acs["agents"]["services"]["ntrtscan"]
    assert ntrtscan == {"exists": True, "status": None, "start": "auto"}
    assert acs["evidence"]["agents"] == [{"product": "apex_one", "version": "14.0.0.12526", "service_state": "unknown"}]
    warnings = _warnings(gathered, name)
    assert any("agents.services: permission denied (status of TMBMServer, TmListen, ntrtscan not readable: "
               "Cannot open TMBMServer service on computer '.'. (Access is denied))" in text for text in warnings), warnings
    assert _verdict(gathered, name)["status"] == "ready"


def test_powershell_2_wrapped_denials_read_as_denied(gathered):
    name = "w2008r2-ps2-denied"
    acs = _acs(gathered, name)
    categories = {error["probe"]: (error["category"], error["message"]) for error in acs["errors"]}
    assert categories["hotfixes.qfe"] == ("denied", "Access is denied. (Exception from HRESULT: 0x80070005 "
                                                    "(E_ACCESSDENIED))")
    assert categories["hotfixes.cbs"] == ("denied", "Requested registry access is not allowed.")
    assert acs["evidence"]["hotfixes"] is None
    verdict = _verdict(gathered, name)
    assert verdict["status"] == "unknown"
    assert verdict["required_kb"] == []


def test_constrained_language_mode_fails_the_host_with_what_to_do(gathered):
    result = gathered.last("w2016-constrained-language", "codesign.windows.acs_facts")
    assert result["status"] == "failed"
    message = result["result"]["msg"]
    assert "ConstrainedLanguage mode" in message
    assert "allow the codesign.windows probe runner through that policy" in message
    assert "assess this host from an export" in message
    assert "account" not in message     # under WDAC no account is exempt


def test_a_probe_that_returns_nothing_leaves_the_document_whole(gathered):
    name = "w2019-silent-probe"
    acs = _acs(gathered, name)
    assert acs["errors"] == [{"probe": "hotfixes.qfe", "subset": "hotfixes", "category": "error",
                              "message": "the probe returned nothing"}]
    assert acs["hotfixes"]["cbs_gathered"] is True       # the probes after it still answered
    assert acs["evidence"]["agents"][0]["product"] == "deep_security_agent"


def test_32_bit_powershell_fails_the_host_with_the_fix(gathered):
    result = gathered.last("w2019-powershell32", "codesign.windows.acs_facts")
    assert result["status"] == "failed"
    message = result["result"]["msg"]
    assert "32-bit PowerShell on 64-bit Windows" in message
    assert "Microsoft.PowerShell32" in message


def test_output_starting_with_a_byte_order_mark_is_read(gathered):
    acs = _acs(gathered, "w2016-utf8-console")
    assert acs["errors"] == []
    assert acs["evidence"]["os_version"] == "10.0.14393"
    assert (acs["runner"]["process_bits"], acs["runner"]["language_mode"]) == (64, "FullLanguage")
    assert _verdict(gathered, "w2016-utf8-console")["status"] == "ready"


def test_missing_powershell_is_recognised_in_any_display_language(gathered):
    result = gathered.last("w2008-nopowershell-de", "codesign.windows.acs_facts")
    assert result["status"] == "failed"
    assert "PowerShell is not installed" in result["result"]["msg"]
    assert "exit code 9009" in result["result"]["msg"]
