"""Version recognition from typed strings, evidence and ansible.windows.setup facts."""

from __future__ import annotations

import pytest

from ansible_collections.codesign.windows.plugins.plugin_utils._winver import (
    RecognitionError,
    from_setup_facts,
    from_text,
)

TEXT = [
    ("Windows Server 2012 R2", "Windows Server 2012 R2", "win81_2012r2"),
    ("Microsoft Windows Server 2019 Datacenter", "Windows Server 2019", "ws2019"),
    ("Microsoft Windows Server 2022 Standard", "Windows Server 2022", "ws2022"),
    ("Windows Server 2016 Datacenter", "Windows Server 2016", "ws2016"),
    ("Windows Server 2012 Standard", "Windows Server 2012", "ws2012"),
    ("Windows Server 2008 R2 Enterprise", "Windows Server 2008 R2", "win7_2008r2"),
    ("Windows Server (R) 2008 Standard", "Windows Server 2008", "ws2008"),
    ("Windows Server 2008 SP2", "Windows Server 2008", "ws2008"),
    ("Windows Server 2025", "Windows Server 2025", "win11_and_later"),
    ("Windows Server 2003 R2", "Windows Server 2003", "legacy_5x"),
    ("Windows 10 21H2", "Windows 10 21H2", "win10_21h2"),
    ("Windows 10 Enterprise version 1809", "Windows 10 1809", "ws2019"),
    ("Windows 10 Enterprise LTSC 2019", "Windows 10 1809", "ws2019"),
    ("Windows 10 Enterprise 2016 LTSB", "Windows 10 1607", "ws2016"),
    ("Windows 10 20H2", "Windows 10 20H2", "win10_2004_21h1"),
    ("Windows 10 1903", "Windows 10 1903", "win10_no_path"),
    ("10.0.19044.1288", "Windows 10 21H2", "win10_21h2"),
    ("6.1.7601", "Windows 7 / Windows Server 2008 R2", "win7_2008r2"),
    ("Windows 11 23H2", "Windows 11 23H2", "win11_and_later"),
    ("Windows 11 Pro", "Windows 11", "win11_and_later"),
    ("Windows 8.1 Pro", "Windows 8.1", "win81_2012r2"),
    ("Windows 8 Enterprise", "Windows 8", "win8"),
    ("Windows 7 Professional", "Windows 7", "win7_2008r2"),
    ("Windows XP Professional", "Windows XP", "legacy_5x"),
    ("Windows 2000", "Windows 2000", "legacy_5x"),
    ("Windows Vista Business", "Windows Vista", "vista"),
    ("Windows Server 2012 R2 (6.3.9600)", "Windows Server 2012 R2", "win81_2012r2"),
    ("6.3.9600", "Windows 8.1 / Windows Server 2012 R2", "win81_2012r2"),
    ("Windows 10 Enterprise LTSC 2021", "Windows 10 21H2", "win10_21h2"),
    ("Microsoft Windows Server 2019 Datacenter 10.0.17763", "Windows Server 2019", "ws2019"),
    ("10.0.22631", "Windows 11 23H2", "win11_and_later"),
    ("10.0.26100.1", "Windows 11 24H2 or Windows Server 2025", "win11_and_later"),
    ("ws2019", "Windows 10 1809 / Windows Server 2019", "ws2019"),
]


@pytest.mark.parametrize("text, name, row", TEXT)
def test_from_text(text, name, row):
    found = from_text(text)
    assert found.row.id == row
    assert found.name == name


def test_version_with_server_name_hint():
    assert from_text("Windows Server 2012 R2 (6.3.9600)").server is True


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("Windows 10", "without a release"),
    ("Windows 95", "not a Windows version"),
    ("Ubuntu 22.04", "not a Windows version"),
    ("6.2.9200", "server or a client"),
    ("10.0.12345", "not a released Windows 10"),
    ("10.0.99999.1", "out of range"),
    ("Windows 11 26H2", "no release 26H2"),
    (None, "expected a Windows name"),
    (12, "expected a Windows name"),
])
def test_from_text_errors(text, message):
    with pytest.raises(RecognitionError, match=message):
        from_text(text)


SETUP = [
    ({"ansible_distribution": "Microsoft Windows Server 2019 Datacenter", "ansible_distribution_version": "10.0.17763.0",
      "ansible_os_installation_type": "Server", "ansible_os_product_type": "server"}, "Windows Server 2019", None),
    ({"distribution": "Microsoft Windows Server 2012 Standard", "distribution_version": "6.2.9200.0",
      "os_installation_type": "Server", "os_product_type": "server"}, "Windows Server 2012", None),
    ({"ansible_distribution": "Microsoft Windows 10 Pro", "ansible_distribution_version": "10.0.22631.0",
      "ansible_os_installation_type": "Client", "ansible_os_product_type": "workstation"}, "Windows 11 23H2", None),
    ({"ansible_distribution": None, "ansible_distribution_version": "6.2.9200.0",
      "ansible_os_product_type": "workstation"}, "Windows 8", None),
    ({"ansible_distribution": "Microsoft Windows Server 2012 R2 Standard",
      "ansible_distribution_version": "6.3.9600.0", "ansible_os_product_type": "domain_controller"},
     "Windows Server 2012 R2", None),
]


@pytest.mark.parametrize("facts, name, ubr", SETUP)
def test_from_setup_facts(facts, name, ubr):
    found = from_setup_facts(facts)
    assert found.name == name
    # setup's revision is [Environment]::OSVersion's 0, never a UBR
    assert found.ubr is ubr


def test_setup_facts_without_version():
    with pytest.raises(RecognitionError, match="ansible_distribution_version"):
        from_setup_facts({"ansible_os_family": "Windows"})
