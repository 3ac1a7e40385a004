# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fleet readiness reports: host records in, one document out, written as JSON, CSV, HTML and Markdown.

- ``model``: the report document (docs/report-schema.md) and the per-host view every writer shows;
- ``agents``: what the report does with Trend Micro agents (service states, per-product lists);
- ``json_report``, ``csv_report``, ``html_report`` (with ``templates/``), ``markdown_report``: the writers;
- ``compare``: what changed between two runs (night to night, before and after a remediation);
- ``files``: file names, the lock, merging batches of one run, replacing a set of files all or none;
- ``records``: host records from what a play left in hostvars;
- ``plain``: plain data and text from whatever hostvars held.
"""

from __future__ import annotations

from ansible_collections.codesign.windows.plugins.plugin_utils._report.csv_report import CSV_COLUMNS, csv_row, render_csv
from ansible_collections.codesign.windows.plugins.plugin_utils._report.files import (
    DEFAULT_BASENAME,
    FORMATS,
    ReportLockTimeout,
    find_baseline,
    read_previous,
    read_report,
    report_lock,
    report_path,
    run_json_path,
    update_reports,
    write_reports,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._report.compare import (
    CHANGE_KINDS,
    change_kind,
    compare_statuses,
    hosts_by_change,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._report.html_report import render_html
from ansible_collections.codesign.windows.plugins.plugin_utils._report.json_report import render_json
from ansible_collections.codesign.windows.plugins.plugin_utils._report.markdown_report import render_markdown
from ansible_collections.codesign.windows.plugins.plugin_utils._report.model import (
    HOLD_BACK_STATUSES,
    NOT_ASSESSED_STATUSES,
    REPORT_SCHEMA_VERSION,
    STATUS_ORDER,
    STATUS_TEXT,
    build_document,
    host_view,
    normalize_record,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._report.records import export_record, export_records, host_record

__all__ = ["CHANGE_KINDS", "change_kind", "compare_statuses", "export_record", "export_records", "find_baseline", "hosts_by_change",
           "read_report", "CSV_COLUMNS", "DEFAULT_BASENAME", "FORMATS", "HOLD_BACK_STATUSES", "NOT_ASSESSED_STATUSES",
           "REPORT_SCHEMA_VERSION", "STATUS_ORDER", "STATUS_TEXT", "ReportLockTimeout", "build_document", "csv_row",
           "host_record", "host_view", "normalize_record", "read_previous", "render_csv", "render_html", "render_json",
           "render_markdown", "report_lock", "report_path", "run_json_path", "update_reports", "write_reports"]
