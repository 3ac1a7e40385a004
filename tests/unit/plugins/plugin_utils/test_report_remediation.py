"""Before -> after of a remediation in the report: from the role's facts to the document and every format."""

from __future__ import annotations

import csv
import io
import json

from ansible_collections.codesign.windows.plugins.plugin_utils._catalog import load_catalog
from ansible_collections.codesign.windows.plugins.plugin_utils._report import (
    build_document,
    host_record,
    render_csv,
    render_html,
    render_json,
    render_markdown,
)

RUN = {"run_id": "run-1", "generated_at": "2026-11-29T19:00:00Z"}


def record(host, status, before=None, steps=()):
    found = {"host": host, "status": status, "verdict": {"status": status, "ready": status == "ready"}}
    if before is not None:
        found["remediation"] = {"before": before, "steps": list(steps)}
    return found


def fleet():
    return [
        record("restarted", "ready", "reboot_pending", ["reboot: restarted (boot time a -> b)"]),
        record("still-pending", "reboot_pending", "reboot_pending",
               ["reboot: failed: acs_reboot: the host is still pending a restart after the restart"]),
        record("worse", "needs_kb", "ready", ["root_ca: nothing"]),
        record("untouched", "needs_kb"),
    ]


def test_the_document_compares_each_remediated_host_before_and_after_with_the_night_to_night_comparison():
    document = build_document(fleet(), RUN)
    remediation = document["remediation"]
    by_host = {entry["host"]: entry for entry in remediation["hosts"]}
    assert set(by_host) == {"restarted", "still-pending", "worse"}
    assert (by_host["restarted"]["change"], by_host["restarted"]["before"], by_host["restarted"]["after"]) == \
        ("fixed", "reboot_pending", "ready")
    # Not fixed, whatever was done: the status after is what was judged after.
    assert by_host["still-pending"]["change"] == "unchanged"
    assert by_host["worse"]["change"] == "regressed"
    assert remediation["counts"]["fixed"] == 1 and remediation["counts"]["regressed"] == 1
    assert by_host["restarted"]["steps"] == ["reboot: restarted (boot time a -> b)"]
    # What got worse comes first.
    assert remediation["hosts"][0]["host"] == "worse"


def test_without_a_remediation_there_is_no_section():
    assert build_document([record("a", "ready")], RUN)["remediation"] is None


def test_every_format_shows_before_and_after():
    document = build_document(fleet(), RUN)
    assert json.loads(render_json(document))["remediation"]["counts"]["fixed"] == 1
    markdown = render_markdown(document)
    assert "## Remediation: before -> after" in markdown
    # The host's text is escaped as every text from the data is.
    assert "- `restarted`: reboot_pending -> ready (reboot: restarted (boot time a -\\> b))" in markdown
    html = render_html(document)
    assert 'id="remediation-table"' in html and "still pending a restart after the restart" in html
    rows = {row["host"]: row for row in csv.DictReader(io.StringIO(render_csv(document)[1:], newline=""))}
    assert rows["restarted"]["status_before_remediation"] == "reboot_pending"
    assert rows["restarted"]["remediation"] == "reboot: restarted (boot time a -> b)"
    assert rows["untouched"]["status_before_remediation"] == "" and rows["untouched"]["remediation"] == ""


def test_host_records_take_the_role_facts_and_a_broken_fact_is_no_remediation():
    gathered = {"ansible_facts": {"acs": {"evidence": {}, "gathered_at": "x"}}}
    host_vars = {"acs_readiness_gathered": gathered, "acs_verdict": {"status": "ready", "ready": True},
                 "acs_verdict_before": {"status": "reboot_pending"},
                 "acs_readiness_remediation": {"reboot": {"msg": "restarted", "failed": False},
                                               "root_ca": {"msg": "", "changed": False}, "odd": "text"}}
    options = {"gathered_var": "acs_readiness_gathered", "verdict_var": "acs_verdict", "gate_mode": "off",
               "policy_21h2": "strict", "catalog": load_catalog(None), "package": None}
    made = host_record("h", host_vars, **options)
    assert made["remediation"] == {"before": "reboot_pending", "steps": ["reboot: restarted"]}
    host_vars["acs_verdict_before"] = "not a verdict"
    assert "remediation" not in host_record("h", host_vars, **options)


def test_serial_batches_of_one_run_add_up_in_the_section():
    first = build_document(fleet()[:2], RUN)
    second = build_document(fleet()[2:], RUN, first)
    assert {entry["host"] for entry in second["remediation"]["hosts"]} == {"restarted", "still-pending", "worse"}
