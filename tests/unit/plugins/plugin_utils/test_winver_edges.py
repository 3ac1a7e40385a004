"""Edges of version recognition that mutation testing found untested (docs/testing.md, "Mutation testing")."""

from __future__ import annotations

import re

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


# What Microsoft calls each build, server and client (Windows release information pages); row ids from
# docs/catalog.md. None: the name does not depend on it.
NAMES = [
    (5, 0, 2195, None, "Windows 2000", "legacy_5x"),
    (5, 1, 2600, False, "Windows XP", "legacy_5x"),
    (5, 2, 3790, True, "Windows Server 2003", "legacy_5x"),
    (5, 2, 3790, False, "Windows XP Professional x64", "legacy_5x"),
    (6, 0, 6002, False, "Windows Vista", "vista"),
    (6, 0, 6003, True, "Windows Server 2008", "ws2008"),
    (6, 1, 7601, False, "Windows 7", "win7_2008r2"),
    (6, 1, 7601, True, "Windows Server 2008 R2", "win7_2008r2"),
    (6, 2, 9200, False, "Windows 8", "win8"),
    (6, 2, 9200, True, "Windows Server 2012", "ws2012"),
    (6, 3, 9600, False, "Windows 8.1", "win81_2012r2"),
    (6, 3, 9600, True, "Windows Server 2012 R2", "win81_2012r2"),
    (10, 0, 10240, False, "Windows 10 1507", "win10_1507"),
    (10, 0, 10586, False, "Windows 10 1511", "win10_no_path"),
    (10, 0, 14393, False, "Windows 10 1607", "ws2016"),
    (10, 0, 14393, True, "Windows Server 2016", "ws2016"),
    (10, 0, 15063, False, "Windows 10 1703", "win10_no_path"),
    (10, 0, 16299, False, "Windows 10 1709", "win10_no_path"),
    (10, 0, 17134, False, "Windows 10 1803", "win10_no_path"),
    (10, 0, 17763, False, "Windows 10 1809", "ws2019"),
    (10, 0, 17763, True, "Windows Server 2019", "ws2019"),
    (10, 0, 18362, False, "Windows 10 1903", "win10_no_path"),
    (10, 0, 18363, False, "Windows 10 1909", "win10_1909"),
    (10, 0, 19041, False, "Windows 10 2004", "win10_2004_21h1"),
    (10, 0, 19042, False, "Windows 10 20H2", "win10_2004_21h1"),
    (10, 0, 19043, False, "Windows 10 21H1", "win10_2004_21h1"),
    (10, 0, 19044, False, "Windows 10 21H2", "win10_21h2"),
    (10, 0, 19045, False, "Windows 10 22H2", "win10_22h2"),
    (10, 0, 20348, True, "Windows Server 2022", "ws2022"),
    (10, 0, 22000, False, "Windows 11 21H2", "win11_and_later"),
    (10, 0, 22621, False, "Windows 11 22H2", "win11_and_later"),
    (10, 0, 22631, False, "Windows 11 23H2", "win11_and_later"),
    (10, 0, 25398, True, "Windows Server 23H2", "win11_and_later"),
    (10, 0, 26100, False, "Windows 11 24H2", "win11_and_later"),
    (10, 0, 26100, True, "Windows Server 2025", "win11_and_later"),
    (10, 0, 26200, False, "Windows 11 25H2", "win11_and_later"),
]


@pytest.mark.parametrize("major, minor, build, server, name, row", NAMES, ids=[n[4] for n in NAMES])
def test_every_build_has_its_product_name(major, minor, build, server, name, row):
    found = recognize(major, minor, build, 1 if major == 10 else None, server)
    assert (found.name, found.row.id) == (name, row)
    if server is not None:
        assert found.server is server
    assert from_text(name, server=server).row.id == row


SERVER_RELEASES = {"Windows Server 2016": "1607", "Windows Server 2019": "1809", "Windows Server 2022": "21H2",
                   "Windows Server 23H2": "23H2", "Windows Server 2025": "24H2"}


@pytest.mark.parametrize("major, minor, build, server, name, row", NAMES, ids=[n[4] for n in NAMES])
def test_every_windows_10_and_later_build_has_its_release(major, minor, build, server, name, row):
    found = recognize(major, minor, build, 7, server)
    expected = SERVER_RELEASES.get(name, name.rsplit(" ", 1)[-1]) if major == 10 else None
    assert found.release == expected


def test_the_verdict_names_the_os_in_full():
    from ansible_collections.codesign.windows.plugins.plugin_utils._verdict import evaluate

    server_2019 = evaluate({"os_version": "10.0.17763.2210", "installation_type": "Server"})["os"]
    assert server_2019 == {"name": "Windows Server 2019", "row": "ws2019", "row_name": "Windows 10 1809 / Windows "
                           "Server 2019", "family": "10.x", "version": "10.0.17763.2210", "major": 10, "minor": 0,
                           "build": 17763, "ubr": 2210, "server": True, "release": "1809", "end_of_support": None}
    r2 = evaluate({"os_version": "6.3.9600", "installation_type": "Server", "hotfixes": []})["os"]
    assert (r2["version"], r2["ubr"], r2["release"], r2["family"]) == ("6.3.9600", None, None, "6.x")
    assert r2["end_of_support"].startswith("2023-10-10")


@pytest.mark.parametrize("numbers, message", [
    ((10, 0, 65536, None), "build 65536 is out of range (Windows builds are below 65536)"),
    ((10, 0, 18000, None), "10.0.18000 is not a released Windows 10 or Windows Server build"),
    ((10, 0, 17763, 65536), "UBR 65536 is out of range (0 to 65535)"),
    ((10, 0, 17763, -1), "UBR -1 is out of range (0 to 65535)"),
    ((100, 0, 17763, None), "100.0 is not a Windows version"),
    ((10, 100, 17763, None), "10.100 is not a Windows version"),
])
def test_numbers_out_of_range(numbers, message):
    with pytest.raises(RecognitionError, match=f"^{re.escape(message)}"):
        recognize(*numbers)


def test_numbers_at_the_limits_are_accepted():
    assert recognize(10, 0, 17763, 65535).ubr == 65535
    assert recognize(10, 0, 17763, 0).ubr == 0
    assert recognize(10, 0, 65535).row.id == "win11_and_later"    # any build from 22000 is native


@pytest.mark.parametrize("numbers, name", [
    ((10, 0, 14393), "Windows 10 1607 / Windows Server 2016"),
    ((10, 0, 17763), "Windows 10 1809 / Windows Server 2019"),
    ((5, 2, 3790), "Windows Server 2003 / Windows XP Professional x64"),
    ((6, 3, 9600), "Windows 8.1 / Windows Server 2012 R2"),
])
def test_a_build_of_two_products_without_a_hint_names_both(numbers, name):
    assert recognize(*numbers, None, None).name == name


@pytest.mark.parametrize("text, message", [
    ("", "the OS string is empty"),
    ("   ", "the OS string is empty"),
    ("x" * 301, "the OS string is too long to be a Windows name or version"),
    (7, "expected a Windows name or version string, got int"),
    (None, "expected a Windows name or version string, got NoneType"),
])
def test_text_that_names_nothing(text, message):
    with pytest.raises(RecognitionError, match=f"^{re.escape(message)}$"):
        from_text(text)


@pytest.mark.parametrize("numbers", [(99, 0, 1), (6, 99, 1)])
def test_version_numbers_up_to_99_are_read_as_numbers(numbers):
    text = ".".join(map(str, numbers))
    with pytest.raises(RecognitionError, match=f"^{re.escape(text)} is not a Windows version this catalog knows$"):
        recognize(*numbers)
