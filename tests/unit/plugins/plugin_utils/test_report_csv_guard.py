"""The CSV report's formula guard over every column: a cell a spreadsheet would run as a formula gets a
leading apostrophe, whichever column the host's text reaches. Uses only the report's public functions."""

from __future__ import annotations

import csv
import io

import pytest

from ansible_collections.codesign.windows.plugins.plugin_utils._report import CSV_COLUMNS, build_document, render_csv

# OWASP "CSV Injection": a cell starting with one of these is a formula in Excel, LibreOffice or Sheets.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Columns whose text comes from the host's record (everything else is the report's own vocabulary).
DATA_COLUMNS = {"host", "gate_mode", "gate_decision", "gate_reason", "os", "os_version", "required_kb", "kb_titles",
                "missing_prerequisites", "satisfied_by", "agents", "reasons", "actions", "warnings", "error",
                "gathered_at"}
# source always starts with the report's own "export: "; change and the status_before columns are statuses and change
# kinds; each line of remediation starts with the role's name of the step.
OWN_COLUMNS = {"status", "status_text", "ready", "kb_urls", "root_ca_needed", "reboot_pending", "esu",
               "agent_service_down", "agent_upgrade_safe", "source", "change", "status_before",
               "status_before_remediation", "remediation"}


def hostile(text):
    return {"host": text, "status": "needs_kb", "error": text, "warnings": [text], "gathered_at": text,
            "gate": {"mode": text, "decision": text, "reason": text},
            "evidence": {"os_name": text, "os_version": text},
            "verdict": {"status": "needs_kb", "ready": False, "os": {"name": text, "version": text},
                        "required_kb": [text], "kb_details": [{"kb": text, "title": text, "url": text}],
                        "missing_prerequisites": [text], "satisfied_by": text, "root_ca": {}, "reasons": [text],
                        "actions": [text], "agents": [{"product": text, "name": text, "version": text,
                                                       "service_state": text, "upgrade_safe": None}]}}


def rows(*records):
    text = render_csv(build_document(list(records), {"run_id": "run"}))
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:], newline="")))


def test_every_column_is_either_data_or_the_reports_own():
    assert set(CSV_COLUMNS) == DATA_COLUMNS | OWN_COLUMNS and not DATA_COLUMNS & OWN_COLUMNS


@pytest.mark.parametrize("start", FORMULA_START, ids=repr)
def test_no_cell_of_any_column_can_start_a_formula(start):
    payload = start + "cmd|' /C calc'!A0"
    (row,) = rows(hostile(payload), )
    for column in CSV_COLUMNS:
        assert not row[column].startswith(FORMULA_START), (column, row[column])
    for column in DATA_COLUMNS:
        assert row[column].startswith("'" + payload), (column, row[column])


@pytest.mark.parametrize("text", ["plain-host", "a=1", "KB5006714", "'quoted", "10.0.17763.2210"])
def test_harmless_text_is_left_as_it_is(text):
    (row,) = rows(hostile(text))
    for column in DATA_COLUMNS - {"agents"}:
        assert row[column] == text, column
    assert row["agents"].startswith(text)


def test_every_host_row_is_guarded_not_only_the_first():
    table = rows(hostile("plain"), hostile("=1+1"), hostile("@SUM(A1)"))
    assert [row["host"] for row in table] == ["'=1+1", "'@SUM(A1)", "plain"]


@pytest.mark.parametrize("text, cell", [
    ("plain-host", "plain-host"),
    ("Zürich-ÄÖ-東京", "Zürich-ÄÖ-東京"),               # valid non-ASCII text is kept as it is
    # Bytes that were not valid text reach Python as lone surrogates (PEP 383), which no UTF-8 file can hold:
    # they are written as escapes, so the CSV can still be saved.
    ("disk \udce9 failed", "disk \\udce9 failed"),
])
def test_every_cell_can_be_written_as_utf8(text, cell):
    record = {"host": "h1", "status": "failed", "error": text, "warnings": [text]}
    csv_text = render_csv(build_document([record], {"run_id": "run"}))
    csv_text.encode("utf-8")
    (row,) = list(csv.DictReader(io.StringIO(csv_text[1:], newline="")))
    assert row["error"] == cell
    assert row["warnings"] == cell
