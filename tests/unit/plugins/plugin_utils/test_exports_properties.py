"""Property-based: whatever bytes an export file holds, reading it never raises, and every record is whole."""

from __future__ import annotations

import json
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.codesign.windows.plugins.plugin_utils._exports import (
    EVIDENCE_FIELDS,
    ExportSource,
    read_exports,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._verdict import STATUSES, evaluate

HEADERS = ["host", "os_name", "os_version", "ubr", "hotfixes", "esu", "agents", "Name0", "Caption0", "Version0",
           "BuildExt", "HotFixID0", "FullDomainName", "OSDescription", "KnowledgebaseArticles",
           "UpdateInstallationState", "x"]
CELLS = st.sampled_from(["", "h1", "H1", "6.3.9600", "10.0.17763.2210", "Windows Server 2012 R2", "KB5006714",
                         "Installed", "InstalledPendingReboot", "Unknown", "yes", "maybe", "70000", "a:b:c:d",
                         '"', "none", "File 1", "\u00e9"]) | st.text(max_size=12)
CSV = st.builds(
    lambda header, rows, delimiter: "\n".join(delimiter.join(row) for row in [header, *rows]),
    st.lists(st.sampled_from(HEADERS), min_size=1, max_size=6),
    st.lists(st.lists(CELLS, max_size=7), max_size=6),
    st.sampled_from([",", ";", "\t"]),
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["host", *EVIDENCE_FIELDS, "records", "evidence"]) | st.text(max_size=5), children,
        max_size=5),
    max_leaves=15,
)
ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252"])


def _check(result):
    for host, record in result["records"].items():
        assert record["host"] == host
        assert set(record["evidence"]) == set(EVIDENCE_FIELDS)
        assert evaluate(record["evidence"])["status"] in STATUSES
    for bad in result["bad_rows"]:
        assert bad["file"] and bad["message"]


def _read(data: bytes) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".csv") as handle:
        handle.write(data)
        handle.flush()
        return read_exports([ExportSource(handle.name)])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(CSV, ENCODINGS)
def test_arbitrary_csv_never_raises(text, encoding):
    _check(_read(text.encode(encoding, errors="replace")))


@settings(max_examples=150, deadline=None)
@given(JSON)
def test_arbitrary_json_never_raises(value):
    _check(_read(json.dumps(value).encode("utf-8")))


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(data):
    _check(_read(data))
