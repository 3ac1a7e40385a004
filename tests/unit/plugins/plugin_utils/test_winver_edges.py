"""Edges of version recognition that mutation testing found untested (docs/testing.md, "Mutation testing")."""

from __future__ import annotations

import pytest

from ansible_collections.codesign.windows.plugins.plugin_utils._winver import (
    RecognitionError,
    from_text,
    looks_like_setup_facts,
    recognize,
)


@pytest.mark.parametrize("text, build, row", [
    ("Windows Server 2008 Service Pack 1", 6001, "ws2008"),     # SP1 needs SP2 (KB948465) first
    ("Windows Server 2008 SP1", 6001, "ws2008"),
    ("Windows Server 2008", 6003, "ws2008"),
    ("Windows 7 RTM", 7600, "win7_2008r2"),
    ("Microsoft Windows Server 2012 R2 Standard, x64", 9600, "win81_2012r2"),
    ("Microsoft\u00ae Windows Server\u00ae 2008 R2 Enterprise", 7601, "win7_2008r2"),
])
def test_service_packs_and_noise_in_names(text, build, row):
    found = from_text(text)
    assert (found.build, found.row.id) == (build, row)


def test_a_6_2_host_without_a_server_hint_names_both_products():
    with pytest.raises(RecognitionError, match=r"^6\.2\.9200 is Windows 8 or Windows Server 2012, and nothing says"):
        recognize(6, 2, 9200, None, None)


@pytest.mark.parametrize("value, setup", [
    ({"ansible_facts": {"distribution": "Microsoft Windows Server 2019 Standard"}}, True),
    ({"ansible_distribution": "Microsoft Windows Server 2019 Standard"}, True),
    ({"distribution_version": "10.0.17763.0"}, True),
    ({"ansible_os_family": "Windows"}, True),
    ({"os_version": "10.0.17763.2210"}, False),
    ({"os_name": "Windows Server 2019"}, False),
])
def test_setup_facts_are_told_from_evidence_records(value, setup):
    assert looks_like_setup_facts(value) is setup
