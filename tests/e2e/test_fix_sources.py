"""Where the fix is found, end to end: in QFE only, in the CBS package store only, in both, and a CBS
package one below the fixed build; and the esu gather subset on the ESU fixtures. Real ansible-playbook over
real WinRM; the expected statuses are written here by hand (acs-facts.md lines 64 and 67), not taken from the
catalog or the fixtures.
"""

from __future__ import annotations

import json

import pytest

from support.e2e import E2E, run_playbook

GATHER = E2E / "playbooks" / "gather.yml"
# host: (status, hotfixes contain KB5006714 or KB5006729, rollup_builds)
SOURCES = {
    "w2012r2-fix-qfe-only": ("ready", ["KB2919355", "KB5006714"], []),
    "w2012r2-fix-cbs-only": ("ready", ["KB2919355"], ["9600.20144.1.5"]),
    "w2012r2-seconly-cbs-only": ("ready", ["KB2919355", "KB5006729"], []),
    "w2012r2-oct2021": ("ready", ["KB2919355", "KB5006714"], ["9600.20144.1.5"]),
    "w2012r2-fix-cbs-below": ("needs_kb", ["KB2919355"], ["9600.20143.1.1"]),
}
# host: (evidence esu with the esu subset, status); 7 / 2008 / 2008 R2 need ESU for the update.
ESU = {
    "w2008r2-esu-missing": (True, "needs_kb"),       # an ESU product with LicenseStatus 1
    "w2008r2-esu-unlicensed": (False, "needs_esu"),  # a key installed, LicenseStatus 0
    "w2008r2-esu-azure": (None, "needs_kb"),         # no ESU product: Azure licenses without one
    "w2008r2-esu-ready": (True, "ready"),            # acs_esu in the inventory
    "w2008-esu-ready": (True, "ready"),
    "w2008-noesu": (False, "needs_esu"),             # acs_esu: false in the inventory wins
    "win7-noesu": (False, "needs_esu"),
}


@pytest.fixture(scope="module")
def gathered(fleet, tmp_path_factory):
    extra = json.dumps({"acs_test_subset": ["all", "esu"]})
    return run_playbook(GATHER, fleet.inventory_path, tmp_path_factory.mktemp("sources"),
                        args=["--limit", ",".join([*SOURCES, *ESU]), "-e", extra])


def _acs(run, name):
    result = run.last(name, "codesign.windows.acs_facts")
    assert result["status"] == "ok", result
    return result["result"]["ansible_facts"]["acs"]


def _verdict(run, name):
    return run.last(name, "ansible.builtin.set_fact")["result"]["ansible_facts"]["acs_test_verdict"]


@pytest.mark.parametrize("name", SOURCES)
def test_the_fix_is_found_in_either_source(gathered, name):
    status, hotfixes, rollups = SOURCES[name]
    acs = _acs(gathered, name)
    assert acs["errors"] == []
    assert acs["evidence"]["hotfixes"] == hotfixes
    assert acs["evidence"]["rollup_builds"] == rollups
    assert acs["evidence"]["pending_rollup_builds"] == []
    verdict = _verdict(gathered, name)
    assert verdict["status"] == status, verdict["reasons"]
    if status == "needs_kb":
        assert verdict["required_kb"] == ["KB5006714", "KB5006729"]


@pytest.mark.parametrize("name", ESU)
def test_esu_subset(gathered, name):
    esu, status = ESU[name]
    acs = _acs(gathered, name)
    assert "esu" in acs["gathered_subsets"]
    assert acs["evidence"]["esu"] is esu
    verdict = _verdict(gathered, name)
    assert verdict["status"] == status, verdict["reasons"]
    assert verdict["esu"] is esu
    if status != "ready":
        assert verdict["required_kb"][0] in ("KB5006743", "KB5006736")
