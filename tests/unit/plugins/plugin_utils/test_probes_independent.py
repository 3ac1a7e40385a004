"""Every registry key and value the runner reads, against a hand-written list of what Windows and Trend's
installers write (acs-facts.md sections 1, 4 and 5; docs/testing.md for the restart keys). The names are
collected from the probe list the controller sends and from the runner's own literals, so a misspelt
value name, a value read from the wrong key, or a new read that nobody documented fails here.
"""

from __future__ import annotations

import re

import pytest

from ansible_collections.codesign.windows.plugins.plugin_utils import _probes
from ansible_collections.codesign.windows.plugins.plugin_utils._probes import (
    DEFAULT_SUBSETS,
    SUBSETS,
    SubsetError,
    build_probes,
    resolve_subsets,
)

NT = r"SOFTWARE\Microsoft\Windows NT\CurrentVersion"
CBS = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing"
UNINSTALL = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall"
UNINSTALL_WOW = r"SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall"
TREND_VALUES = {"ProductName", "TmListen_Ver", "Version", "InstallationFolder", "Application Path", "ServerVersion"}
UNINSTALL_VALUES = {"DisplayName", "DisplayVersion", "Publisher"}

# (key, value names) read by a registry value probe; acs-facts.md line numbers in the comments.
VALUES_BY_KEY = {
    NT: {"ProductName", "CurrentBuild", "CurrentBuildNumber", "UBR", "CurrentMajorVersionNumber",   # 87-92
         "CurrentMinorVersionNumber", "CurrentVersion", "ReleaseId", "DisplayVersion", "EditionID", "CSDVersion",
         "InstallationType", "BuildLabEx"},
    r"SYSTEM\CurrentControlSet\Control\ProductOptions": {"ProductType"},                                 # 93
    r"SYSTEM\CurrentControlSet\Control\Session Manager\Environment": {"PROCESSOR_ARCHITECTURE"},
    r"SOFTWARE\Policies\Microsoft\SystemCertificates\AuthRoot": {"DisableRootAutoUpdate"},               # 27-28
    r"SOFTWARE\Microsoft\SystemCertificates\AuthRoot\AutoUpdate": {"DisableRootAutoUpdate", "RootDirURL"},
    r"SYSTEM\CurrentControlSet\Control\Session Manager": {"PendingFileRenameOperations"},               # 102
    **{prefix + key: TREND_VALUES for prefix in ("SOFTWARE\\", "SOFTWARE\\WOW6432Node\\")                # 119-123
       for key in (r"TrendMicro\PC-cillinNTCorp\CurrentVersion", r"TrendMicro\PC-cillinNTCorp\CurrentVersion\Misc.",
                   r"TrendMicro\Wofie\CurrentVersion", r"TrendMicro\UniClient", r"TrendMicro\Deep Security Agent")},
}
# (key, values read from each subkey)
SUBKEY_VALUES = {CBS + r"\Packages": {"CurrentState"}, UNINSTALL: UNINSTALL_VALUES, UNINSTALL_WOW: UNINSTALL_VALUES}
# The one value the runner names itself: a service's start type (REG_DWORD Start; 4 = disabled),
# https://learn.microsoft.com/en-us/windows-hardware/drivers/install/hklm-system-currentcontrolset-services-registry-tree
RUNNER_VALUES = {"Start"}
ROOT_SHA1 = "F40042E2E5F7E8EF8189FED15519AECE42C3BFA2"    # acs-facts.md line 19
KEYS_THAT_MUST_EXIST = {
    rf"SOFTWARE\Microsoft\SystemCertificates\ROOT\Certificates\{ROOT_SHA1}",                          # 23
    rf"SOFTWARE\Microsoft\SystemCertificates\AuthRoot\Certificates\{ROOT_SHA1}",                      # 24
    rf"SOFTWARE\Policies\Microsoft\SystemCertificates\Root\Certificates\{ROOT_SHA1}",                 # 25
    rf"SOFTWARE\Microsoft\EnterpriseCertificates\Root\Certificates\{ROOT_SHA1}",                      # 26
    rf"SOFTWARE\Microsoft\SystemCertificates\Disallowed\Certificates\{ROOT_SHA1}",
    rf"SOFTWARE\Policies\Microsoft\SystemCertificates\Disallowed\Certificates\{ROOT_SHA1}",
    rf"SOFTWARE\Microsoft\EnterpriseCertificates\Disallowed\Certificates\{ROOT_SHA1}",
    CBS + r"\RebootPending", CBS + r"\RebootInProgress", CBS + r"\PackagesPending",                  # 101
    r"SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired",
    r"SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\PostRebootReporting",
}

PROBES = build_probes(SUBSETS)


def test_every_registry_value_probe_reads_the_documented_names_from_the_documented_key():
    read = {}
    for probe in PROBES:
        if probe["op"] == "reg_values":
            read.setdefault(probe["path"], set()).update(probe["names"], probe["presence"])
    assert read == VALUES_BY_KEY


def test_every_subkey_probe_reads_the_documented_values():
    read = {}
    for probe in PROBES:
        if probe["op"] == "reg_subkeys":
            read.setdefault(probe["path"], set()).update(probe["values"])
            if probe["where_value"]:
                assert probe["where_value"] in probe["values"], probe["id"]
    assert read == SUBKEY_VALUES


def test_the_runner_names_no_other_value():
    runner = _probes.runner_text()
    assert set(re.findall(r"GetValue\('([^']+)'\)", runner)) == RUNNER_VALUES
    assert r"'SYSTEM\CurrentControlSet\Services\' + $name" in runner


def test_every_key_whose_existence_is_the_signal():
    read = set()
    for probe in PROBES:
        if probe["op"] == "reg_keys_exist":
            read.update(probe["paths"])
    assert read == KEYS_THAT_MUST_EXIST


def test_the_wmi_classes_and_properties():
    read = {p["wmi_class"]: (set(p["properties"]), p["wmi_filter"]) for p in PROBES if p["op"] == "wmi"}
    assert read == {
        "Win32_OperatingSystem": ({"Caption", "Version", "LastBootUpTime", "ProductType", "OSArchitecture"}, ""),
        "Win32_QuickFixEngineering": ({"HotFixID", "Description", "InstalledOn"}, ""),
        # ESU: SoftwareLicensingProduct, LicenseStatus 1 = licensed (docs/verdict.md, esu)
        "SoftwareLicensingProduct": ({"Name", "ID", "LicenseStatus", "Description"},
                                     "Name LIKE '%ESU%' AND PartialProductKey IS NOT NULL"),
    }


def test_the_services_of_every_trend_agent_are_read():
    services = [p for p in PROBES if p["op"] == "services"]
    assert len(services) == 1
    # acs-facts.md lines 119-123
    assert set(services[0]["names"]) == {"ntrtscan", "TmListen", "TMBMServer", "ds_agent", "ds_notifier",
                                         "ds_monitor", "Amsp"}


def test_kernel_file_and_the_ctl_url():
    (kernel,) = [p for p in PROBES if p["op"] == "file_version"]
    assert kernel["path"].lower() == r"%systemroot%\system32\ntoskrnl.exe"     # acs-facts.md line 83
    (head,) = [p for p in PROBES if p["op"] == "http_head"]
    assert head["url"] == ("http://ctldl.windowsupdate.com/msdownload/update/v3/static/trustedr/en/"
                           "authrootstl.cab")


@pytest.mark.parametrize("subset, ops", [
    ("os", {"reg_values", "file_version", "powershell_version", "wmi"}),
    ("hotfixes", {"wmi", "reg_subkeys"}),
    ("certificates", {"reg_keys_exist", "reg_values"}),
    ("reboot", {"reg_keys_exist", "reg_values"}),
    ("agents", {"reg_subkeys", "reg_values", "services"}),
    ("esu", {"wmi"}),
    ("connectivity", {"http_head"}),
])
def test_each_subset_sends_only_its_probes(subset, ops):
    probes = build_probes([subset])
    assert probes and {p["subset"] for p in probes} == {subset}
    assert {p["op"] for p in probes} == ops


@pytest.mark.parametrize("requested, chosen", [
    (["all"], ["os", "hotfixes", "certificates", "agents", "reboot"]),        # esu and connectivity are opt-in
    (["all", "esu"], ["os", "hotfixes", "certificates", "agents", "reboot", "esu"]),
    (["all", "!agents"], ["os", "hotfixes", "certificates", "reboot"]),
    (["min"], ["os"]),
    (["!os"], ["os"]),
    (["esu", "connectivity"], ["os", "esu", "connectivity"]),
])
def test_gather_subset(requested, chosen):
    assert resolve_subsets(requested)[0] == chosen
    assert list(DEFAULT_SUBSETS) == ["os", "hotfixes", "certificates", "agents", "reboot"]


def test_unknown_subset_is_an_error():
    with pytest.raises(SubsetError, match="unknown subset 'cpu'"):
        resolve_subsets(["cpu"])
    assert resolve_subsets(["!os"])[1] == ["gather_subset: the os subset is always gathered; '!os' was ignored"]


def test_uninstall_entries_are_picked_three_ways_in_both_views():
    # By English display name, by the installers' own key names, by publisher (docs/catalog.md, "How an
    # installed agent is recognised"); both registry views (acs-facts.md line 115).
    picked = sorted((p["path"], tuple(p["like"]), p["where_value"], tuple(p["where_like"]))
                    for p in PROBES if p["op"] == "reg_subkeys" and "Uninstall" in p["path"])
    key_names = ("OfficeScanNT", "Wofie", "HostedAgent", "{BED0B8A2-2986-49F8-90D6-FA008D37A3D2}")
    expected = []
    for path in (UNINSTALL, UNINSTALL_WOW):
        expected += [(path, ("*",), "DisplayName", ("Trend Micro*", "*Deep Security*", "*Apex One*", "*Worry-Free*")),
                     (path, ("*",), "Publisher", ("Trend Micro*", "TrendMicro*"))]
    assert [(path, like, where, names) for path, like, where, names in picked if like == ("*",)] == sorted(expected)
    by_key = [(path, set(like)) for path, like, where, _names in picked if like != ("*",)]
    assert sorted(path for path, _like in by_key) == sorted([UNINSTALL, UNINSTALL_WOW])
    assert all(like == set(key_names) for _path, like in by_key)


def test_trend_registry_keys_are_read_in_both_views_under_distinct_names():
    from ansible_collections.codesign.windows.plugins.plugin_utils._evidence import build_facts

    trend = [p for p in PROBES if p["op"] == "reg_values" and "TrendMicro" in p["path"]]
    document = {"acs_runner": 1, "complete": True, "results": [
        {"id": p["id"], "ok": True, "data": {"exists": True, "values": {"Version": p["path"]}}} for p in trend]}
    services = [p["id"] for p in PROBES if p["op"] == "services"][0]
    document["results"].append({"id": services, "ok": True, "data": {"ntrtscan": {"exists": False}}})
    registry = build_facts(document, PROBES, list(SUBSETS))["agents"]["registry"]
    assert len(registry) == len(trend) == 10
    native = {name: values for name, values in registry.items() if "WOW6432Node" not in values["Version"]}
    wow = {name: values for name, values in registry.items() if "WOW6432Node" in values["Version"]}
    assert len(native) == len(wow) == 5
    assert all(name.startswith("native.") for name in native) and all(name.startswith("wow.") for name in wow)
