"""Edges of the gate that mutation testing found untested (docs/testing.md, "Mutation testing")."""

from __future__ import annotations

from ansible_collections.codesign.windows.plugins.plugin_utils._gate import decide, package_summary


def test_the_gate_names_the_refused_package():
    package = {"path": "/srv/agent.msi", "verdict": "untrusted", "reasons": ["the chain ends at an unknown root"]}
    decision = decide("enforce", "ready", True, package=package)
    assert decision == {"mode": "enforce", "decision": "block",
                        "reason": "the agent package /srv/agent.msi: untrusted must not be deployed anywhere: "
                                  "the chain ends at an unknown root"}
    assert package_summary(None) == "" and package_summary({}) == ""


def test_the_gate_says_why_it_allows():
    assert decide("enforce", "ready", True)["reason"] == "ready for ACS-signed agent builds"
    assert decide("warn", "needs_kb", False, missing="KB5005625 is missing") == {
        "mode": "warn", "decision": "warn", "reason": "not ready for ACS-signed agent builds (needs_kb): "
                                                      "KB5005625 is missing"}


def test_a_cross_signed_package_needs_no_acs_update():
    package = {"path": "agent.msi", "verdict": "cross_signed", "reasons": ["Verdict: cross-signed"]}
    assert decide("enforce", "needs_kb", False, package=package) == {
        "mode": "enforce", "decision": "allow",
        "reason": "the agent package is cross-signed (not ACS-signed): it does not need the ACS update"}
