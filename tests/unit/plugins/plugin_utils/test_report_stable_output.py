"""The report's bytes for a generated fleet stay the same when its code is made faster.

The digests in data/report_stable_output.json were taken from the writers before they were tuned for
fleets of 50,000 hosts. A change here must be deliberate: regenerate them with
``PYTHONPATH=.work/collections python tests/unit/plugins/plugin_utils/test_report_stable_output.py --write`` and say why in the commit.
"""

from __future__ import annotations

import copy
import hashlib
import json
import pathlib
import sys

from ansible_collections.codesign.windows.plugins.plugin_utils import _report

DATA = pathlib.Path(__file__).parent / "data"
DIGESTS = DATA / "report_stable_output.json"
RUN = {"run_id": "night-2", "generated_at": "2026-11-23T03:10:00Z", "policy_21h2": "strict", "gate_mode": "warn",
       "catalog_version": "2026.11.22", "collection_version": "0.1.0", "playbook": "site.yml", "awx_job_id": 7}
HOSTS = 2_000


def fleet() -> tuple[list, dict, dict, list]:
    """HOSTS records made from the 54 sample hosts, an earlier batch of the same run, last night's report
    with statuses that differ, and unreadable export rows: every path of build_document taken."""
    sample = json.loads((DATA / "report_records.json").read_text(encoding="utf-8"))
    records = []
    for index in range(HOSTS):
        record = copy.deepcopy(sample[index % len(sample)])
        record["host"] = f"{record['host']}-{index:05d}" if index % 7 else f"{record['host'].upper()}{index}"
        records.append(record)
    # Values hostvars may hold: a tuple, a set, a float, a non-ASCII name, a host name with a control character.
    records[3]["warnings"] = ("one", "two")
    records[4]["evidence"] = {**(records[4]["evidence"] or {}), "extra": {3, 1, 2}, "ratio": 0.5}
    records[5]["host"] = "sérveur-ü-0005"
    records[6]["error"] = "bad\x07bell"
    records[7]["status"] = "not-a-status"
    earlier_batch = _report.build_document([dict(record, host=f"batch1-{index}") for index, record in
                                            enumerate(sample[:20])], RUN)
    night_1 = []
    for index, record in enumerate(records[100:]):
        record = dict(record)
        if index % 5 == 0:
            record["status"] = "ready" if record["status"] != "ready" else "needs_kb"
        night_1.append(record)
    night_1.append({"host": "decommissioned-01", "status": "ready"})
    baseline = {"document": _report.build_document(night_1, {**RUN, "run_id": "night-1"}), "path": "/reports/n1.json"}
    bad_rows = [{"file": "wsus.csv", "row": 13, "column": "OSDescription", "message": "the OS is not recognised",
                 "host": "ws-1"}, "a bare message"]
    return records, earlier_batch, baseline, bad_rows


def digests() -> dict[str, str]:
    records, earlier_batch, baseline, bad_rows = fleet()
    document = _report.build_document(records, RUN, earlier_batch, baseline=baseline, bad_rows=bad_rows)
    outputs = {"json": _report.render_json(document), "csv": _report.render_csv(document),
               "md": _report.render_markdown(document, paths={"json": "/reports/acs-readiness.json"})}
    return {name: hashlib.sha256(value.encode("utf-8", "backslashreplace")).hexdigest() for name, value in outputs.items()}


def test_json_csv_and_markdown_keep_their_bytes():
    assert digests() == json.loads(DIGESTS.read_text(encoding="utf-8"))


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        DIGESTS.write_text(json.dumps(digests(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
