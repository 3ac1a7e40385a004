"""The catalog's own integrity and the user override format."""

from __future__ import annotations

import re

import pytest

from ansible_collections.codesign.windows.plugins.plugin_utils._catalog import (
    DEFAULT_CATALOG,
    KINDS,
    ROLLUP,
    UBR,
    CatalogError,
    agent_build,
    load_catalog,
    normalize_kb,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._verdict import evaluate

KB = re.compile(r"^KB\d{6,7}$")


@pytest.mark.parametrize("row", DEFAULT_CATALOG.rows, ids=lambda r: r.id)
def test_every_row_is_complete_and_sourced(row):
    assert row.kind in KINDS
    assert row.source and len(row.source) > 20
    assert row.builds
    if row.kind == UBR:
        assert KB.match(row.kb) and row.min_ubr and row.kb_released
    if row.kind == ROLLUP:
        assert KB.match(row.monthly_rollup) and KB.match(row.security_only)
        assert re.match(r"^6\.\d\.\d{4}\.\d{5}$", row.fixed_build)
        assert row.later_rollups and row.later_source
        assert all(KB.match(kb) for kb in row.later_rollups)
        assert len(set(row.later_rollups)) == len(row.later_rollups)
        assert row.monthly_rollup not in row.later_rollups
        assert row.security_only not in row.later_rollups
    for prerequisite in row.prerequisites:
        assert KB.match(prerequisite.kb) and prerequisite.title


def test_row_ids_unique_and_products_point_at_rows():
    ids = [row.id for row in DEFAULT_CATALOG.rows]
    assert len(ids) == len(set(ids))
    for product in DEFAULT_CATALOG.products:
        assert DEFAULT_CATALOG.has_row(product.row), product


def test_catalog_is_plain_data():
    data = DEFAULT_CATALOG.as_dict()
    assert data["root_ca"]["sha1"] == "F40042E2E5F7E8EF8189FED15519AECE42C3BFA2"
    assert {row["id"] for row in data["rows"]} >= {"ws2019", "win81_2012r2", "legacy_5x"}


@pytest.mark.parametrize("value, expected", [
    ("KB5006714", "KB5006714"), ("kb5006714", "KB5006714"), ("5006714", "KB5006714"), (5006714, "KB5006714"),
    (" KB 976932 ", "KB976932"), ("KB12", None), ("File 1", None), (None, None), (True, None), ("", None),
])
def test_normalize_kb(value, expected):
    assert normalize_kb(value) == expected


def test_overrides_add_and_change():
    catalog = load_catalog({"later_rollups": {"ws2012": ["5071000", "KB5070887"]},
                            "rows": {"ws2019": {"min_ubr": 2300, "source": "change board 2026-01"}}})
    assert catalog.row("ws2012").later_rollups[-1] == "KB5071000"
    assert catalog.row("ws2012").later_rollups.count("KB5070887") == 1
    assert catalog.row("ws2019").min_ubr == 2300
    assert DEFAULT_CATALOG.row("ws2019").min_ubr == 2210
    assert load_catalog(None) is DEFAULT_CATALOG
    assert load_catalog({}) is DEFAULT_CATALOG


@pytest.mark.parametrize("override, message", [
    ([1], "must be a mapping"),
    ({"extra": 1}, "unknown catalog override key"),
    ({"later_rollups": {"nope": ["KB1234567"]}}, "unknown catalog row 'nope'"),
    ({"later_rollups": {"ws2012": ["rollup"]}}, "'rollup' is not a KB id"),
    ({"later_rollups": {"ws2019": ["KB5034768"]}}, "use later_updates"),
    ({"later_updates": {"ws2012": ["KB5034768"]}}, "only Windows 10/Server 2016+ rows"),
    ({"later_rollups": ["KB1234567"]}, "must map a catalog row id"),
    ({"later_prerequisites": ["KB5099998"]}, "must map an \"or later\" prerequisite's KB"),
    ({"later_prerequisites": {"KB4474419": ["KB5099998"]}}, "not an \"or later\" prerequisite of any catalog row"),
    ({"later_prerequisites": {"KB5005698": ["KB5000001"]}}, "KB5000001 is not later than KB5005698"),
    ({"later_prerequisites": {"KB5005698": ["stack"]}}, "'stack' is not a KB id"),
    ({"rows": {"ws2019": {"min_ubr": 2300}}}, "must say where its numbers come from"),
    ({"rows": {"ws2019": {"min_ubr": "high", "source": "x"}}}, "must be an integer"),
    ({"rows": {"ws2019": {"builds": [1], "source": "x"}}}, "cannot override builds"),
    ({"rows": {"ws2019": {"kind": "magic", "source": "x"}}}, "is not one of"),
    ({"rows": {"ws2019": {"kb": "latest", "source": "x"}}}, "is not a KB id"),
    ({"rows": {"ws2019": {"esu_only": "yes", "source": "x"}}}, "must be true or false"),
    ({"rows": {"ws2019": "x"}}, "must be a mapping of fields"),
    ({"rows": {"ws2019": {"notes": [1], "source": "x"}}}, "a list of strings"),
])
def test_override_errors(override, message):
    with pytest.raises(CatalogError, match=re.escape(message)):
        load_catalog(override)


def test_override_file_errors(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("later_rollups: [unclosed\n", encoding="utf-8")
    with pytest.raises(CatalogError, match="is not valid YAML"):
        load_catalog(str(broken))
    empty = tmp_path / "empty.yml"
    empty.write_text("", encoding="utf-8")
    assert load_catalog(str(empty)).rows == DEFAULT_CATALOG.rows


# ---- facts that used to be branches in the verdict are fields of the rows
def test_service_packs_are_prerequisites_of_the_builds_without_them():
    win7 = DEFAULT_CATALOG.row("win7_2008r2")
    assert [p.kb for p in win7.prerequisites_for(7600)][0] == "KB976932"
    assert "KB976932" not in [p.kb for p in win7.prerequisites_for(7601)]
    ws2008 = DEFAULT_CATALOG.row("ws2008")
    assert [p.kb for p in ws2008.prerequisites_for(6001)][0] == "KB948465"
    assert "KB948465" not in [p.kb for p in ws2008.prerequisites_for(6003)]


def test_only_the_21h2_row_changes_under_the_lenient_policy():
    assert [row.id for row in DEFAULT_CATALOG.rows if row.native_when_lenient] == ["win10_21h2"]


def test_every_trend_product_names_its_primary_service_and_sources():
    for product in DEFAULT_CATALOG.trend_products:
        assert product.primary_service in product.services, product.id
        assert product.identity_source, product.id
        for note in product.notes:
            assert note.source, (product.id, note.text)
            assert all(DEFAULT_CATALOG.has_row(row) for row in note.os_rows), (product.id, note.os_rows)


@pytest.mark.parametrize("version, build", [("14.0.0.11960", 11960), ("14.0.11564", 11564), ("14.0", None),
                                            ("14.0.0.1²", None), (None, None), ("9.6.2.7723", 7723)])
def test_agent_build(version, build):
    assert agent_build(version) == build


def test_later_servicing_stack_updates_are_added_to_the_prerequisite_and_count_in_the_verdict():
    catalog = load_catalog({"later_prerequisites": {"5005698": ["KB5099998"]}})
    stack = catalog.row("ws2016").prerequisites[0]
    assert stack.kb == "KB5005698" and stack.later[-1] == "KB5099998"
    assert "KB5099998" not in DEFAULT_CATALOG.row("ws2016").prerequisites[0].later
    assert catalog.overrides_applied == ("later_prerequisites.KB5005698: +1",)
    host = {"os_version": "10.0.14393.4651", "hotfixes": ["KB5099998"], "root_ca_present": True}
    assert evaluate(host)["missing_prerequisites"] == ["KB5005698"]
    assert evaluate(host, catalog=catalog)["missing_prerequisites"] == []
