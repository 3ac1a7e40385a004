"""Benchmark: a 10,000-row export evaluated and reported. Not a test: nothing asserts.

Run: .venv/bin/python tests/benchmarks/evaluate_export.py

Writes a ConfigMgr export of 10,000 hosts (and 10,000 update rows) in the shape of the sample files, with a
few bad rows, then:
1. times each stage in process: reading (read_exports), judging every host (export_records), and writing
   the four report files (update_reports), second night included, so that the comparison is counted;
2. times the whole ``ansible-playbook codesign.windows.evaluate_export`` run on the same files, twice (the
   second run compares with the first).
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "benchmarks"))
os.environ.setdefault("ANSIBLE_COLLECTIONS_PATH", str(REPO / ".work" / "collections"))

import conftest  # noqa: E402,F401  pylint: disable=unused-import,wrong-import-position
from export_evidence import MIX, ROWS, write_csv  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.codesign.windows.plugins.plugin_utils._catalog import load_catalog  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.codesign.windows.plugins.plugin_utils._exports import ExportSource, read_exports  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.codesign.windows.plugins.plugin_utils._report import export_records, update_reports  # noqa: E402  pylint: disable=wrong-import-position


def write_export(directory: pathlib.Path) -> list[pathlib.Path]:
    hosts = [(f"SRV{index:05d}",) + MIX[index % len(MIX)] for index in range(ROWS)]
    rows = [(h, c, v, full, "3") for h, c, v, full, _kbs in hosts]
    for index in range(0, ROWS, 1000):  # ten rows whose OS no catalog row knows
        rows[index] = (rows[index][0], "Microsoft Windows 95", "4.0.950", "4.0.950", "1")
    os_file = write_csv(directory / "configmgr-os.csv", ["Name0", "Caption0", "Version0", "BuildExt", "ProductType0"], rows)
    qfe = write_csv(directory / "configmgr-qfe.csv", ["Name0", "HotFixID0"],
                    ((hosts[index][0], hosts[index][4][0]) for index in range(ROWS)))
    return [os_file, qfe]


def in_process(files: list[pathlib.Path], reports: pathlib.Path) -> None:
    catalog = load_catalog(None)
    for night in ("bench-1", "bench-2"):
        started = time.perf_counter()
        exported = read_exports([ExportSource(str(path)) for path in files])
        read = time.perf_counter() - started
        started = time.perf_counter()
        records = export_records(exported["records"], gate_mode="off", policy_21h2="strict", catalog=catalog, package=None)
        judged = time.perf_counter() - started
        started = time.perf_counter()
        document, _paths = update_reports(records, {"run_id": night, "generated_at": "2026-11-22T00:00:00Z"}, reports,
                                          compare=True, bad_rows=exported["bad_rows"])
        written = time.perf_counter() - started
        print(f"in process, {night}: {len(records)} hosts, {len(document['bad_rows'])} bad rows: read {read:.2f} s, "
              f"judged {judged:.2f} s, report written {written:.2f} s (compared: {document['changes'] is not None}); "
              f"total {read + judged + written:.2f} s")


def playbook(files: list[pathlib.Path], work: pathlib.Path) -> None:
    variables = work / "vars.json"
    variables.write_text(json.dumps({"acs_export_files": [str(path) for path in files],
                                     "acs_readiness_report_dir": str(work / "playbook-reports"),
                                     "acs_readiness_print_summary": False}), encoding="utf-8")
    inventory = work / "hosts.ini"
    inventory.write_text(f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n",
                         encoding="utf-8")
    command = [str(pathlib.Path(sys.executable).with_name("ansible-playbook")), "-i", str(inventory),
               "codesign.windows.evaluate_export", "-e", f"@{variables}"]
    for night in (1, 2):
        started = time.perf_counter()
        run = subprocess.run(command, capture_output=True, text=True, check=False, cwd=work)
        elapsed = time.perf_counter() - started
        report = json.loads((work / "playbook-reports" / "acs-readiness.json").read_text(encoding="utf-8"))
        print(f"ansible-playbook codesign.windows.evaluate_export, night {night}: rc {run.returncode}, "
              f"{len(report['hosts'])} hosts, {len(report['bad_rows'])} bad rows, {elapsed:.2f} s")


def main() -> None:
    with tempfile.TemporaryDirectory() as temporary:
        work = pathlib.Path(temporary)
        files = write_export(work)
        in_process(files, work / "reports")
        playbook(files, work)


if __name__ == "__main__":
    main()
