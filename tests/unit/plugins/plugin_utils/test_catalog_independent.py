"""The catalog and the verdict against a hand-written table (tests/support/expectations.py).

The expected KBs, minimum UBRs, fixed builds, later rollups and prerequisites are copied from the facts
file by hand; a catalog row that drifts from them, or a verdict off by one at a boundary, fails here.
"""

from __future__ import annotations

import pytest

from support.expectations import BY_ROW, EXPECTED, ROLLUP_ROWS, UBR_ROWS, WITH_MINIMUM, os_version

from ansible_collections.codesign.windows.plugins.plugin_utils._catalog import DEFAULT_CATALOG
from ansible_collections.codesign.windows.plugins.plugin_utils._verdict import evaluate


def ids(entry):
    return entry.row


def test_the_table_and_the_catalog_have_the_same_rows():
    assert sorted(row.id for row in DEFAULT_CATALOG.rows) == sorted(BY_ROW)


@pytest.mark.parametrize("entry", EXPECTED, ids=ids)
def test_catalog_row_matches_the_facts(entry):
    row = DEFAULT_CATALOG.row(entry.row)
    assert row.kind == entry.kind, entry.cite
    assert set(row.builds) == set(entry.builds), entry.cite
    if entry.version != "5.x":
        assert f"{row.major}.{row.minor}" == entry.version, entry.cite
    assert row.family == entry.version.split(".")[0] + ".x"
    assert row.as_dict()["family"] == row.family and row.as_dict()["required_kb"] == entry.required_kb
    assert row.required_kbs() == entry.required_kb, entry.cite
    assert row.kb == entry.kb, entry.cite
    assert row.min_ubr == entry.min_ubr, entry.cite
    assert row.monthly_rollup == entry.monthly, entry.cite
    assert row.security_only == entry.security_only, entry.cite
    assert row.fixed_build == entry.fixed_build, entry.cite
    assert row.later_rollups == entry.later_rollups, entry.cite   # in release order: the newest is named
    assert row.esu_only is entry.esu_only, entry.cite
    every_build = [p.kb for p in row.prerequisites if not p.builds]
    assert sorted(every_build) == sorted(entry.prerequisites), entry.cite
    assert sorted(p.kb for p in row.prerequisites if p.or_later) == sorted(entry.or_later), entry.cite
    assert sorted(kb for p in row.prerequisites for kb in p.later) == sorted(entry.later_prerequisites), entry.cite
    service_packs = [(p.kb, p.builds) for p in row.prerequisites if p.builds]
    assert service_packs == ([(entry.service_pack[0], (entry.service_pack[1],))] if entry.service_pack else []), \
        entry.cite


# ---- the verdict at each row's exact boundary ---------------------------------------------------
def host(entry, **evidence):
    record = {"installation_type": entry.installation_type, "root_ca_present": True}
    if entry.esu_only:
        record["esu"] = True
    record.update(evidence)
    return evaluate(record)


@pytest.mark.parametrize("entry", UBR_ROWS, ids=ids)
@pytest.mark.parametrize("offset, status", [(-1, "needs_kb"), (0, "ready"), (1, "ready")])
def test_ubr_at_the_minimum(entry, offset, status):
    for build in entry.builds:
        verdict = host(entry, os_version=os_version(entry, build, entry.min_ubr + offset), hotfixes=[])
        assert verdict["status"] == status, (build, entry.cite)
        assert verdict["os"]["row"] == entry.row
        assert verdict["required_kb"] == ([] if status == "ready" else entry.required_kb)


@pytest.mark.parametrize("entry", UBR_ROWS, ids=ids)
@pytest.mark.parametrize("offset, status", [(-1, "needs_kb"), (0, "reboot_pending"), (1, "reboot_pending")])
def test_ubr_pending_cumulative_update_at_the_minimum(entry, offset, status):
    build = entry.builds[0]
    verdict = host(entry, os_version=os_version(entry, build, entry.min_ubr - 1), hotfixes=[],
                   pending_rollup_builds=[f"{build}.{entry.min_ubr + offset}.1.7"])
    assert verdict["status"] == status, entry.cite
    # a staged package of another build is not this host's update
    other = host(entry, os_version=os_version(entry, build, entry.min_ubr - 1), hotfixes=[],
                 pending_rollup_builds=[f"{build + 1}.{entry.min_ubr}.1.7"])
    assert other["status"] == "needs_kb"


@pytest.mark.parametrize("entry", UBR_ROWS, ids=ids)
def test_ubr_kb_listed_below_the_minimum_is_reboot_pending(entry):
    verdict = host(entry, os_version=os_version(entry, entry.builds[0], entry.min_ubr - 1), hotfixes=[entry.kb])
    assert verdict["status"] == "reboot_pending"


@pytest.mark.parametrize("entry", ROLLUP_ROWS, ids=ids)
@pytest.mark.parametrize("offset, status", [(-1, "needs_kb"), (0, "ready"), (1, "ready")])
def test_cbs_rollup_package_at_the_fixed_build(entry, offset, status):
    build, revision = entry.fixed
    verdict = host(entry, os_version=os_version(entry, build), hotfixes=[],
                   rollup_builds=[f"{build}.{revision + offset}.1.5"])
    assert verdict["status"] == status, entry.cite
    if status == "ready":
        assert verdict["satisfied_by"].startswith(f"rollup package {build}.{revision + offset} (CBS)")
    else:
        assert verdict["required_kb"] == entry.required_kb


@pytest.mark.parametrize("entry", ROLLUP_ROWS, ids=ids)
@pytest.mark.parametrize("offset, status", [(-1, "needs_kb"), (0, "reboot_pending"), (1, "reboot_pending")])
def test_pending_rollup_package_at_the_fixed_build(entry, offset, status):
    build, revision = entry.fixed
    verdict = host(entry, os_version=os_version(entry, build), hotfixes=[],
                   pending_rollup_builds=[f"{build}.{revision + offset}.1.5"])
    assert verdict["status"] == status, entry.cite


@pytest.mark.parametrize("entry", ROLLUP_ROWS, ids=ids)
def test_pending_rollup_at_the_minimum_holds_back_a_listed_kb(entry):
    build, revision = entry.fixed
    verdict = host(entry, os_version=os_version(entry, build), hotfixes=[entry.monthly], reboot_pending=False,
                   pending_rollup_builds=[f"{build}.{revision}.1.5"])
    assert verdict["status"] == "reboot_pending"
    assert "install-pending" in verdict["reasons"][0]


@pytest.mark.parametrize("entry", ROLLUP_ROWS, ids=ids)
def test_each_named_update_satisfies_and_is_named(entry):
    build = entry.fixed[0]
    monthly = host(entry, os_version=os_version(entry, build), hotfixes=[entry.monthly])
    assert (monthly["status"], monthly["satisfied_by"]) == ("ready", f"monthly rollup {entry.monthly}")
    security = host(entry, os_version=os_version(entry, build), hotfixes=[entry.security_only])
    assert (security["status"], security["satisfied_by"]) == ("ready", f"security-only update {entry.security_only}")
    for kb in entry.later_rollups:
        later = host(entry, os_version=os_version(entry, build), hotfixes=[kb])
        assert (later["status"], later["satisfied_by"]) == ("ready", f"monthly rollup {kb} supersedes {entry.monthly}")
    newest = host(entry, os_version=os_version(entry, build), hotfixes=list(entry.later_rollups[:3]))
    assert newest["satisfied_by"] == f"monthly rollup {entry.later_rollups[2]} supersedes {entry.monthly}"


@pytest.mark.parametrize("entry", ROLLUP_ROWS, ids=ids)
def test_missing_update_names_the_kbs_and_prerequisites(entry):
    for build in entry.builds:
        verdict = host(entry, os_version=os_version(entry, build), hotfixes=list(entry.prerequisites[:1]))
        assert verdict["status"] == "needs_kb", (build, entry.cite)
        assert verdict["required_kb"] == entry.required_kb
        expected = list(entry.prerequisites)
        if entry.service_pack and entry.service_pack[1] == build:
            expected.insert(0, entry.service_pack[0])
        assert sorted(verdict["prerequisites"]) == sorted(expected), build
        installed = entry.prerequisites[:1]
        assert sorted(verdict["missing_prerequisites"]) == sorted(kb for kb in expected if kb not in installed)


@pytest.mark.parametrize("entry", [e for e in ROLLUP_ROWS if e.esu_only], ids=ids)
def test_esu_only_rows_without_esu(entry):
    verdict = host(entry, os_version=os_version(entry, entry.fixed[0]), hotfixes=[], esu=False)
    assert verdict["status"] == "needs_esu"
    assert verdict["required_kb"] == entry.required_kb


@pytest.mark.parametrize("entry", [e for e in EXPECTED if e.kind in ("native", "no_path")], ids=ids)
def test_rows_without_a_minimum(entry):
    for build in entry.builds:
        verdict = host(entry, os_version=os_version(entry, build, 1) if entry.version == "10.0"
                       else os_version(entry, build), hotfixes=[])
        assert verdict["status"] == ("ready" if entry.kind == "native" else "no_patch_path"), (build, entry.cite)
        assert verdict["required_kb"] == []


def test_every_row_with_a_minimum_is_covered():
    assert {entry.row for entry in WITH_MINIMUM} == {
        row.id for row in DEFAULT_CATALOG.rows if row.kind in ("ubr", "rollup")}


# ---- "or later" prerequisites (servicing stack updates) --------------------------------------------
def below_the_minimum(entry, hotfixes):
    if entry.kind == "ubr":
        return host(entry, os_version=os_version(entry, entry.builds[0], entry.min_ubr - 1), hotfixes=list(hotfixes))
    return host(entry, os_version=os_version(entry, entry.fixed[0]), hotfixes=list(hotfixes))


@pytest.mark.parametrize("entry", [e for e in WITH_MINIMUM if e.or_later], ids=ids)
def test_an_or_later_prerequisite_is_missing_until_it_or_a_listed_later_one_is_installed(entry):
    others = [kb for kb in entry.prerequisites if kb not in entry.or_later]
    none = below_the_minimum(entry, others)
    assert none["status"] == "needs_kb"
    assert sorted(none["missing_prerequisites"]) == sorted(entry.or_later), entry.cite
    assert all(kb in none["actions"][0] for kb in entry.or_later)
    exact = below_the_minimum(entry, others + list(entry.or_later))
    assert exact["missing_prerequisites"] == [] and not any("satisfied by the later" in r for r in exact["reasons"])
    for later in entry.later_prerequisites:
        verdict = below_the_minimum(entry, others + [later])
        assert verdict["missing_prerequisites"] == [], (later, entry.cite)
        assert any(f"is satisfied by the later {later}" in reason for reason in verdict["reasons"]), later
    # A higher KB number that is not known as an update of the prerequisite's kind says nothing.
    unknown = below_the_minimum(entry, others + ["KB5099999"])
    assert sorted(unknown["missing_prerequisites"]) == sorted(entry.or_later)


def test_server_2016_below_the_minimum_names_its_servicing_stack_first():
    entry = BY_ROW["ws2016"]
    verdict = host(entry, os_version="10.0.14393.4651", hotfixes=[])
    assert verdict["prerequisites"] == ["KB5005698"] and verdict["missing_prerequisites"] == ["KB5005698"]
    assert verdict["actions"][0].startswith("Install KB5006669 after its prerequisites (KB5005698)")
    newest = host(entry, os_version="10.0.14393.4651", hotfixes=["KB5016058", "KB5023788", "KB5011570"])
    assert newest["missing_prerequisites"] == []
    assert any("satisfied by the later KB5023788" in reason for reason in newest["reasons"])
    # A host at the minimum UBR is ready whatever its servicing stack: the prerequisite matters only to install.
    assert host(entry, os_version="10.0.14393.4704", hotfixes=[])["status"] == "ready"
