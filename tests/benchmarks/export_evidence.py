"""Benchmark: how long acs_export_evidence's reader takes for 10,000-row exports. Not a test: nothing asserts.

Run: .venv/bin/python tests/benchmarks/export_evidence.py   (the budget: well under 3 s per 10,000 rows)

Each export is written to a temporary directory in the shape of the sample files (docs/samples/exports/),
with a realistic mix of Windows versions, then read with read_exports; the verdict of every host is
timed apart, since the report pays for it either way.
"""

from __future__ import annotations

import csv
import os
import pathlib
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
os.environ.setdefault("ANSIBLE_COLLECTIONS_PATH", str(REPO / ".work" / "collections"))

import conftest  # noqa: E402,F401  pylint: disable=unused-import,wrong-import-position
from ansible_collections.codesign.windows.plugins.plugin_utils._exports import (  # noqa: E402  pylint: disable=wrong-import-position
    ExportSource,
    read_exports,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._verdict import evaluate  # noqa: E402  pylint: disable=wrong-import-position

ROWS = 10_000
# (caption, version, full version, updates): a mix as a mid-size estate has it.
MIX = (
    ("Microsoft Windows Server 2012 R2 Standard", "6.3.9600", "6.3.9600", ["KB2919355", "KB5006714", "KB4474419"]),
    ("Microsoft Windows Server 2012 R2 Standard", "6.3.9600", "6.3.9600", ["KB2919355"]),
    ("Microsoft Windows Server 2019 Datacenter", "10.0.17763", "10.0.17763.2237", ["KB5005625"]),
    ("Microsoft Windows Server 2016 Standard", "10.0.14393", "10.0.14393.4651", ["KB5005573"]),
    ("Microsoft Windows 10 Enterprise", "10.0.19044", "10.0.19044.1288", ["KB5006670"]),
    ("Microsoft Windows Server 2008 R2 Standard", "6.1.7601", "6.1.7601", ["KB4474419", "KB4490628"]),
)


def write_csv(path: pathlib.Path, header: list[str], rows) -> pathlib.Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def exports(directory: pathlib.Path) -> dict[str, list[ExportSource]]:
    hosts = [(f"SRV{index:05d}",) + MIX[index % len(MIX)] for index in range(ROWS)]
    evidence = write_csv(directory / "evidence.csv", ["host", "os_name", "os_version", "hotfixes"],
                         ((h, c, full, ";".join(kbs)) for h, c, _v, full, kbs in hosts))
    os_file = write_csv(directory / "configmgr-os.csv", ["Name0", "Caption0", "Version0", "BuildExt", "ProductType0"],
                        ((h, c, v, full, "3") for h, c, v, full, _kbs in hosts))
    # ConfigMgr's updates file: 10,000 rows over 2,000 of the hosts.
    qfe = write_csv(directory / "configmgr-qfe.csv", ["Name0", "HotFixID0"],
                    ((hosts[index % 2000][0], f"KB{5000000 + index}") for index in range(ROWS)))
    wsus = write_csv(directory / "wsus.csv", ["FullDomainName", "OSDescription", "KnowledgebaseArticles",
                                              "UpdateInstallationState"],
                     ((f"{h.lower()}.corp.example.com", c.replace("Microsoft ", ""), kbs[0][2:],
                       ("Installed", "NotApplicable", "InstalledPendingReboot", "Needed")[i % 4])
                      for i, (h, c, _v, _full, kbs) in enumerate(hosts)))
    return {
        "evidence CSV, 10,000 hosts": [ExportSource(str(evidence))],
        "ConfigMgr, 10,000 hosts + 10,000 update rows": [ExportSource(str(os_file)), ExportSource(str(qfe))],
        "WSUS, 10,000 (host, update) rows": [ExportSource(str(wsus))],
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as temporary:
        for label, sources in exports(pathlib.Path(temporary)).items():
            rows = sum(sum(1 for _line in open(s.path, encoding="utf-8")) - 1 for s in sources)
            started = time.perf_counter()
            result = read_exports(sources)
            read = time.perf_counter() - started
            started = time.perf_counter()
            statuses = [evaluate(record["evidence"])["status"] for record in result["records"].values()]
            judged = time.perf_counter() - started
            print(f"{label:48} {rows:6d} rows read in {read:5.2f} s ({rows / read:8.0f} rows/s), "
                  f"{len(statuses)} hosts judged in {judged:5.2f} s, {len(result['bad_rows'])} bad rows")


if __name__ == "__main__":
    main()
