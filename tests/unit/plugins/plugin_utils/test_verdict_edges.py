"""Edges of the verdict that mutation testing found untested (docs/testing.md, "Mutation testing")."""

from __future__ import annotations

import pytest

from ansible_collections.codesign.windows.plugins.plugin_utils._verdict import evaluate


@pytest.mark.parametrize("ubr, status", [(0, "needs_kb"), (65535, "ready"), (65536, "unknown"), (-1, "unknown")])
def test_ubr_range_is_0_to_65535(ubr, status):
    # UBR is a DWORD the update stack writes; 0 is a real value (an RTM build), not "unusable".
    verdict = evaluate({"os_version": "10.0.17763", "installation_type": "Server", "ubr": ubr, "hotfixes": [],
                        "root_ca_present": True})
    assert verdict["status"] == status, verdict["reasons"]
    if status == "unknown":
        assert verdict["reasons"][0] == f"The OS cannot be judged: ubr {ubr} is out of range (0 to 65535)"


@pytest.mark.parametrize("architecture, named", [("AMD64", "x64"), ("x86", "x86"), ("ARM64", "ARM64"),
                                                 (" arm64 ", "ARM64"), ("64-bit", "x64"), ("32-bit", "x86"),
                                                 ("IA64", None), (None, None)])
def test_kb_titles_name_the_architecture(architecture, named):
    evidence = {"os_version": "10.0.17763.1000", "installation_type": "Server", "hotfixes": [],
                "root_ca_present": True}
    if architecture is not None:
        evidence["architecture"] = architecture
    (detail,) = evaluate(evidence)["kb_details"]
    assert detail["architecture"] == named
    suffix = f" for {named}-based Systems" if named else ""
    assert detail["title"] == f"2021-09 Cumulative Update for Windows Server 2019{suffix} (KB5005625)"


@pytest.mark.parametrize("evidence, reason", [
    (None, "the evidence must be a mapping (an evidence record), got nothing"),
    ([], "the evidence must be a mapping (an evidence record), got list"),
    ({}, "The OS cannot be judged: the evidence names no OS (os_name or os_version is required)"),
    ({"os_version": "10.0.17763", "installation_type": "Server"},
     "The OS cannot be judged: Windows Server 2019 is judged by its UBR (update build revision)"),
])
def test_unusable_evidence_says_why_and_what_to_do(evidence, reason):
    verdict = evaluate(evidence)
    assert verdict["status"] == "unknown" and verdict["ready"] is False
    assert verdict["reasons"][0].startswith(reason)
    if isinstance(evidence, dict):
        assert verdict["actions"] == ["Gather the evidence again with codesign.windows.acs_facts and check the "
                                      "host's error"]
    else:
        assert verdict["actions"] == []


@pytest.mark.parametrize("release, status", [("1511", "no_patch_path"), ("1507", "unknown"), ("1809", "unknown"),
                                             ("22H2", "ready")])
def test_windows_10_named_by_release_only(release, status):
    # Without os_version there is no UBR: releases judged by their UBR stay unknown, the others are judged.
    verdict = evaluate({"os_name": "Windows 10 Pro", "display_version": release, "hotfixes": [],
                        "root_ca_present": True})
    assert verdict["status"] == status, verdict["reasons"]
