"""The gate decision table: readiness, host errors and the installer's signature, per mode."""

from __future__ import annotations

import pytest

from ansible_collections.codesign.windows.plugins.plugin_utils._gate import decide

ACS = {"path": "agent.msi", "verdict": "acs_signed", "reasons": ["Verdict: ACS-signed"]}
CROSS = {"path": "agent.msi", "verdict": "cross_signed", "reasons": ["Verdict: cross-signed"]}
TAMPERED = {"path": "agent.msi", "verdict": "tampered", "reasons": ["Verdict: the content does not match"]}


@pytest.mark.parametrize("mode, status, ready, error, package, decision", [
    ("enforce", "ready", True, None, None, "allow"),
    ("enforce", "needs_kb", False, None, None, "block"),
    ("warn", "needs_kb", False, None, None, "warn"),
    ("off", "needs_kb", False, None, None, "skip"),
    ("enforce", "unreachable", False, "timed out", None, "block"),
    ("enforce", "needs_kb", False, None, ACS, "block"),
    ("enforce", "ready", True, None, ACS, "allow"),
    ("enforce", "needs_kb", False, None, CROSS, "allow"),
    ("enforce", "no_patch_path", False, None, CROSS, "allow"),
    ("enforce", "ready", True, None, TAMPERED, "block"),
    ("warn", "ready", True, None, TAMPERED, "warn"),
    ("enforce", "unreachable", False, "timed out", CROSS, "block"),
])
def test_decisions(mode, status, ready, error, package, decision):
    assert decide(mode, status, ready, error, package)["decision"] == decision


def test_reasons_name_what_is_missing():
    reason = decide("enforce", "needs_kb", False, missing="UBR 2209 is below 2210: KB5005625 is missing")["reason"]
    assert reason == "not ready for ACS-signed agent builds (needs_kb): UBR 2209 is below 2210: KB5005625 is missing"
    assert "must not be deployed anywhere" in decide("enforce", "ready", True, package=TAMPERED)["reason"]
    with pytest.raises(ValueError, match="gate mode must be one of"):
        decide("maybe", "ready", True)
