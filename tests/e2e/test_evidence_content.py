"""What the gathered evidence says about hosts as they really are: thousands of CBS packages, ESU without a
licence product, a distrusted root, pending-restart keys, and whether the host can fetch the root itself.

Real ansible-playbook over real WinRM to the emulated hosts, with the opt-in subsets (esu, connectivity).
"""

from __future__ import annotations

import json

import pytest

from support.e2e import E2E, run_playbook

GATHER = E2E / "playbooks" / "gather.yml"
HOSTS = (
    "w2012r2-cbs-12000", "w2008r2-esu-azure", "w2008r2-esu-unlicensed", "w2008r2-esu-missing", "w2008r2-esu-ready",
    "w2016-root-disallowed", "w2016-ready", "w2012r2-packages-pending", "w2012r2-reboot-in-progress",
    "w2019-proxy-required", "w2019-ctl-unreachable", "w2019-ctl-reachable-inventory", "w2012r2-airgap-root",
)


@pytest.fixture(scope="module")
def gathered(fleet, tmp_path_factory):
    fleet.reset_stats()
    extra = json.dumps({"acs_test_subset": ["all", "esu", "connectivity"]})
    return run_playbook(GATHER, fleet.inventory_path, tmp_path_factory.mktemp("content"),
                        args=["--limit", ",".join(HOSTS), "-e", extra])


def _facts(run, name):
    result = run.last(name, "codesign.windows.acs_facts")
    assert result["status"] == "ok", result
    return result["result"]["ansible_facts"]["acs"]


def _verdict(run, name):
    return run.last(name, "ansible.builtin.set_fact")["result"]["ansible_facts"]["acs_test_verdict"]


def test_every_host_is_gathered(gathered):
    for name in HOSTS:
        assert gathered.stats[name]["failures"] == 0 and gathered.stats[name]["unreachable"] == 0, name
        assert "esu" in _facts(gathered, name)["gathered_subsets"]


# ---- thousands of CBS packages ----------------------------------------------------------------
def test_rollup_read_first_survives_the_item_limit_on_a_12000_package_host(gathered):
    facts = _facts(gathered, "w2012r2-cbs-12000")
    assert facts["errors"] == []
    assert facts["hotfixes"]["cbs_truncated"] is True
    assert len(facts["hotfixes"]["cbs"]) == 3000
    # The rollup's package sorts after all 3,200 KB packages; read first, it is still there.
    assert facts["hotfixes"]["cbs"][0]["rollup_build"] == "9600.21830.1.3"
    assert facts["evidence"]["rollup_builds"] == ["9600.21830.1.3"]
    assert _verdict(gathered, "w2012r2-cbs-12000")["status"] == "ready"


def test_the_slow_cbs_probe_is_slow_but_within_its_own_timeout(gathered):
    facts = _facts(gathered, "w2012r2-cbs-12000")
    # 3,000 packages at 1 ms a key: longer than gather_timeout (2 s), so only the probe's own timeout saves it.
    assert facts["elapsed_seconds"] >= 3
    assert not [error for error in facts["errors"] if error["category"] == "timeout"]


def test_normal_hosts_still_take_one_command_and_at_most_six_requests(gathered, fleet, fleet_models):
    normal = [name for name in HOSTS if not fleet_models[name].faults]
    assert len(normal) >= 10
    for name in normal:
        stats = fleet.stats(name)
        assert stats.commands_run == 1, (name, stats)
        assert stats.protocol_requests <= 6, (name, stats)


# ---- ESU --------------------------------------------------------------------------------------
def test_no_esu_licence_product_is_unknown_not_unlicensed(gathered):
    facts = _facts(gathered, "w2008r2-esu-azure")
    assert facts["esu"]["licenses"] == []
    assert facts["esu"]["licensed"] is None
    assert "Azure" in facts["esu"]["reason"]
    assert facts["evidence"]["esu"] is None
    verdict = _verdict(gathered, "w2008r2-esu-azure")
    assert verdict["status"] == "needs_kb"          # not needs_esu: the host may well be licensed
    assert verdict["esu"] is None
    assert any("set esu in the inventory" in reason for reason in verdict["reasons"])


def test_only_license_status_1_is_licensed(gathered):
    unlicensed = _facts(gathered, "w2008r2-esu-unlicensed")
    assert [item["license_status"] for item in unlicensed["esu"]["licenses"]] == [0]
    assert unlicensed["evidence"]["esu"] is False
    assert _verdict(gathered, "w2008r2-esu-unlicensed")["status"] == "needs_esu"
    licensed = _facts(gathered, "w2008r2-esu-missing")
    assert licensed["evidence"]["esu"] is True
    assert _verdict(gathered, "w2008r2-esu-missing")["status"] == "needs_kb"
    # The inventory's acs_esu still decides when it is set.
    assert _facts(gathered, "w2008r2-esu-ready")["evidence"]["esu"] is True


# ---- a distrusted root ----------------------------------------------------------------------
def test_a_root_also_in_the_disallowed_store_is_not_usable(gathered):
    facts = _facts(gathered, "w2016-root-disallowed")
    certificates = facts["certificates"]
    assert certificates["root_ca_stores"]["auth_root"] is True
    assert certificates["disallowed"]["policy_disallowed"] is True
    assert certificates["root_ca_disallowed"] is True
    assert certificates["root_ca_present"] is False
    assert "Disallowed" in certificates["root_ca_reason"]
    assert facts["evidence"]["root_ca_present"] is False
    verdict = _verdict(gathered, "w2016-root-disallowed")
    assert verdict["status"] == "needs_root_ca"
    assert any("Disallowed" in action for action in verdict["actions"])
    assert _facts(gathered, "w2016-ready")["certificates"]["root_ca_disallowed"] is False


# ---- pending-restart keys ---------------------------------------------------------------------
def test_packages_pending_and_post_reboot_reporting_mean_a_restart(gathered):
    reboot = _facts(gathered, "w2012r2-packages-pending")["reboot"]
    assert reboot["cbs_packages_pending"] is True
    assert reboot["wu_post_reboot_reporting"] is True
    assert reboot["cbs_reboot_pending"] is False
    assert reboot["reboot_pending"] is True
    assert "servicing_in_progress" not in reboot
    assert _verdict(gathered, "w2012r2-packages-pending")["status"] == "reboot_pending"


def test_reboot_in_progress_means_a_restart(gathered):
    reboot = _facts(gathered, "w2012r2-reboot-in-progress")["reboot"]
    assert reboot["cbs_reboot_in_progress"] is True
    assert reboot["reboot_pending"] is True
    assert _verdict(gathered, "w2012r2-reboot-in-progress")["status"] == "reboot_pending"


# ---- can the host fetch the root by itself? ----------------------------------------------------
@pytest.mark.parametrize("name, result", [("w2019-proxy-required", "proxy_required"),
                                          ("w2019-ctl-unreachable", "unreachable")])
def test_a_host_that_cannot_fetch_the_ctl_counts_as_offline(gathered, name, result):
    facts = _facts(gathered, name)
    assert facts["connectivity"]["result"] == result
    assert facts["evidence"]["offline"] is True
    assert facts["evidence"]["offline_source"] == "probe"
    verdict = _verdict(gathered, name)
    assert verdict["status"] == "needs_root_ca"     # without the connectivity subset this host reads "ready"
    assert verdict["offline"] is True


def test_a_host_that_fetches_the_ctl_is_online(gathered):
    facts = _facts(gathered, "w2016-ready")
    assert facts["connectivity"] == {
        "url": "http://ctldl.windowsupdate.com/msdownload/update/v3/static/trustedr/en/authrootstl.cab",
        "result": "reachable", "status": 200, "error_code": None, "error": None, "detail": "HTTP 200"}
    assert facts["evidence"]["offline"] is False
    assert facts["evidence"]["offline_source"] == "probe"
    assert _verdict(gathered, "w2016-ready")["status"] == "ready"


@pytest.mark.parametrize("name", ["w2019-ctl-reachable-inventory", "w2012r2-airgap-root"])
def test_the_inventory_decides_when_it_sets_acs_offline(gathered, name):
    facts = _facts(gathered, name)
    assert facts["evidence"]["offline"] is True
    assert facts["evidence"]["offline_source"] == "inventory"
    assert facts["connectivity"]["result"] in ("reachable", "unreachable")


def test_without_the_subset_nothing_is_probed_and_the_inventory_is_the_only_source(fleet, tmp_path_factory):
    run = run_playbook(GATHER, fleet.inventory_path, tmp_path_factory.mktemp("default"),
                       args=["--limit", "w2019-proxy-required,w2019-ctl-reachable-inventory"])
    proxy = _facts(run, "w2019-proxy-required")
    assert proxy["connectivity"] is None
    assert proxy["evidence"]["offline"] is None and proxy["evidence"]["offline_source"] is None
    assert _verdict(run, "w2019-proxy-required")["status"] == "ready"
    assert _facts(run, "w2019-ctl-reachable-inventory")["evidence"]["offline_source"] == "inventory"
