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


# ------------------------------------------------------------------------------- the whole decision table
# Written out by hand from the gate's rules, not computed from _gate.py: the gate off skips every
# host; a host that could not be assessed is stopped whatever the package; an unsigned, untrusted,
# unreadable or tampered package goes nowhere; a cross-signed (pre-ACS) package goes to every
# assessed host; an ACS-signed package, or none, only to ready hosts. "warn" warns where "enforce"
# blocks.
PACKAGE_COLUMNS = ("none", "unsigned", "untrusted", "unreadable", "tampered", "cross_signed", "acs_signed")
EXPECTED_TABLES = {
    "enforce": """
        status                none   unsigned untrusted unreadable tampered cross_signed acs_signed
        ready                 allow  block    block     block      block    allow        allow
        needs_kb              block  block    block     block      block    allow        block
        needs_root_ca         block  block    block     block      block    allow        block
        needs_kb_and_root_ca  block  block    block     block      block    allow        block
        reboot_pending        block  block    block     block      block    allow        block
        needs_esu             block  block    block     block      block    allow        block
        no_patch_path         block  block    block     block      block    allow        block
        unknown               block  block    block     block      block    allow        block
        unreachable           block  block    block     block      block    block        block
        failed                block  block    block     block      block    block        block
    """,
    "warn": """
        status                none   unsigned untrusted unreadable tampered cross_signed acs_signed
        ready                 allow  warn     warn      warn       warn     allow        allow
        needs_kb              warn   warn     warn      warn       warn     allow        warn
        needs_root_ca         warn   warn     warn      warn       warn     allow        warn
        needs_kb_and_root_ca  warn   warn     warn      warn       warn     allow        warn
        reboot_pending        warn   warn     warn      warn       warn     allow        warn
        needs_esu             warn   warn     warn      warn       warn     allow        warn
        no_patch_path         warn   warn     warn      warn       warn     allow        warn
        unknown               warn   warn     warn      warn       warn     allow        warn
        unreachable           warn   warn     warn      warn       warn     warn         warn
        failed                warn   warn     warn      warn       warn     warn         warn
    """,
    "off": """
        status                none   unsigned untrusted unreadable tampered cross_signed acs_signed
        ready                 skip   skip     skip      skip       skip     skip         skip
        needs_kb              skip   skip     skip      skip       skip     skip         skip
        needs_root_ca         skip   skip     skip      skip       skip     skip         skip
        needs_kb_and_root_ca  skip   skip     skip      skip       skip     skip         skip
        reboot_pending        skip   skip     skip      skip       skip     skip         skip
        needs_esu             skip   skip     skip      skip       skip     skip         skip
        no_patch_path         skip   skip     skip      skip       skip     skip         skip
        unknown               skip   skip     skip      skip       skip     skip         skip
        unreachable           skip   skip     skip      skip       skip     skip         skip
        failed                skip   skip     skip      skip       skip     skip         skip
    """,
}
HOST_ERRORS = {"unreachable": "ntlm: the connection timed out", "failed": "the probe runner printed no JSON"}


def _expected_rows():
    for mode, table in EXPECTED_TABLES.items():
        header, *rows = [line.split() for line in table.strip().splitlines()]
        assert tuple(header[1:]) == PACKAGE_COLUMNS
        for row in rows:
            for package, decision in zip(PACKAGE_COLUMNS, row[1:], strict=True):
                yield pytest.param(mode, row[0], package, decision, id=f"{mode}-{row[0]}-{package}")


def test_the_table_covers_every_status_verdict_and_mode():
    from ansible_collections.codesign.windows.plugins.plugin_utils._authenticode import VERDICTS
    from ansible_collections.codesign.windows.plugins.plugin_utils._gate import GATE_MODES
    from ansible_collections.codesign.windows.plugins.plugin_utils._summary import HOST_ERROR_STATUSES
    from ansible_collections.codesign.windows.plugins.plugin_utils._verdict import STATUSES

    assert set(EXPECTED_TABLES) == set(GATE_MODES)
    assert set(PACKAGE_COLUMNS) == set(VERDICTS) | {"none"}
    for table in EXPECTED_TABLES.values():
        statuses = {line.split()[0] for line in table.strip().splitlines()[1:]}
        assert statuses == set(STATUSES) | set(HOST_ERROR_STATUSES) == set(HOST_ERRORS) | set(STATUSES)


@pytest.mark.parametrize("mode, status, package, decision", list(_expected_rows()))
def test_decision_table(mode, status, package, decision):
    inspected = None if package == "none" else {
        "path": "agent.msi", "verdict": package, "sha256": "AB" * 32, "reasons": [f"Verdict: {package}."]}
    outcome = decide(mode, status, status == "ready", HOST_ERRORS.get(status), inspected,
                     missing=None if status == "ready" else "what the verdict names first")

    assert outcome["decision"] == decision
    assert outcome["mode"] == mode
    if decision in ("block", "warn"):
        assert outcome["reason"]
        if status in HOST_ERRORS:
            assert HOST_ERRORS[status] in outcome["reason"]
        elif package in ("unsigned", "untrusted", "unreadable", "tampered"):
            assert "must not be deployed anywhere" in outcome["reason"]
            assert f"Verdict: {package}." in outcome["reason"]
        else:
            assert f"not ready for ACS-signed agent builds ({status})" in outcome["reason"]
