"""Benchmarks: print figures side by side in one run (make benchmark). Not a test: nothing asserts.

1. The verdict: evaluations per second over a realistic mix of evidence records.
2. The report: building and rendering JSON, CSV, HTML and Markdown for 1,000 and 10,000 hosts.
3. Gathering over WinRM: codesign.windows.acs_facts against ansible.windows.setup (the module path a
   naive playbook would use) on the same emulated Windows Server 2019 hosts: wall time, HTTP
   requests and commands per host.
"""

from __future__ import annotations

import copy
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
os.environ.setdefault("ANSIBLE_COLLECTIONS_PATH", str(REPO / ".work" / "collections"))

import conftest  # noqa: E402,F401  pylint: disable=unused-import,wrong-import-position
from ansible_collections.codesign.windows.plugins.plugin_utils import _report  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.codesign.windows.plugins.plugin_utils._verdict import evaluate  # noqa: E402  pylint: disable=wrong-import-position
from emulator.fleet import host_config  # noqa: E402  pylint: disable=wrong-import-position
from emulator.windows import FIXTURES, build_host, load_templates  # noqa: E402  pylint: disable=wrong-import-position
from emulator.wsman import Fleet  # noqa: E402  pylint: disable=wrong-import-position

SAMPLE = REPO / "tests" / "unit" / "plugins" / "plugin_utils" / "data" / "report_records.json"


def records(count: int) -> list[dict]:
    base = json.loads(SAMPLE.read_text(encoding="utf-8"))
    result = []
    for index in range(count):
        record = copy.deepcopy(base[index % len(base)])
        record["host"] = f"{record['host']}-{index:05d}"
        result.append(record)
    return result


def bench_verdict() -> None:
    evidence = [record["evidence"] for record in records(10_000) if record["evidence"]]
    started = time.perf_counter()
    for item in evidence:
        evaluate(item)
    elapsed = time.perf_counter() - started
    print(f"verdict: {len(evidence)} evaluations in {elapsed:.2f} s = {elapsed / len(evidence) * 1e6:.0f} us each")


def bench_report() -> None:
    run = {"run_id": "bench", "generated_at": "2026-11-22T00:00:00Z", "policy_21h2": "strict", "gate_mode": "warn",
           "catalog_version": "bench", "collection_version": "bench"}
    print(f"{'report':8} {'hosts':>6} {'build s':>8} {'json s':>7} {'csv s':>6} {'html s':>7} {'md s':>6} "
          f"{'html MB':>8} {'json MB':>8}")
    for count in (1_000, 10_000):
        data = records(count)
        timings = {}
        started = time.perf_counter()
        document = _report.build_document(data, run)
        timings["build"] = time.perf_counter() - started
        sizes = {}
        for name, render in (("json", _report.render_json), ("csv", _report.render_csv),
                             ("html", _report.render_html), ("md", _report.render_markdown)):
            started = time.perf_counter()
            text = render(document)
            timings[name] = time.perf_counter() - started
            sizes[name] = len(text.encode("utf-8")) / 1e6
        print(f"{'':8} {count:>6} {timings['build']:>8.2f} {timings['json']:>7.2f} {timings['csv']:>6.2f} "
              f"{timings['html']:>7.2f} {timings['md']:>6.2f} {sizes['html']:>8.1f} {sizes['json']:>8.1f}")


PLAYS = {
    "acs_facts": "- hosts: windows\n  gather_facts: false\n  tasks:\n    - codesign.windows.acs_facts:\n",
    "ansible.windows.setup": "- hosts: windows\n  gather_facts: false\n  tasks:\n    - ansible.windows.setup:\n",
}


def bench_gather(count: int = 50) -> None:
    import yaml  # pylint: disable=import-outside-toplevel

    fixture = yaml.safe_load((FIXTURES / "hosts" / "w2019-2210.yml").read_text(encoding="utf-8"))
    templates = load_templates()
    configs = [host_config(build_host(f"w2019-{index:03d}", fixture, templates)) for index in range(count)]
    print(f"\ngather over WinRM, {count} emulated Server 2019 hosts, forks=10")
    print(f"{'task':24} {'wall s':>7} {'requests/host':>14} {'commands/host':>14}")
    results = {}
    with Fleet(configs) as fleet, tempfile.TemporaryDirectory() as work:
        inventory = fleet.inventory(pathlib.Path(work) / "hosts.yml", operation_timeout_sec=10)
        for name, play in PLAYS.items():
            playbook = pathlib.Path(work) / f"{name}.yml"
            playbook.write_text(play, encoding="utf-8")
            fleet.reset_stats()
            started = time.perf_counter()
            subprocess.run([str(pathlib.Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory),
                            str(playbook), "-f", "10"], check=True, capture_output=True, cwd=REPO,
                           env={**os.environ, "ANSIBLE_CONFIG": str(REPO / "tests" / "ansible.cfg")})
            wall = time.perf_counter() - started
            stats = [fleet.stats(config.name) for config in configs]
            requests = sum(item.requests for item in stats) / count
            commands = sum(item.commands_run for item in stats) / count
            results[name] = (wall, requests)
            print(f"{name:24} {wall:>7.2f} {requests:>14.1f} {commands:>14.1f}")
    ours, peer = results["acs_facts"], results["ansible.windows.setup"]
    print(f"acs_facts / setup: wall {ours[0] / peer[0]:.2f}x, requests {ours[1] / peer[1]:.2f}x "
          "(setup needs PowerShell 5.1; acs_facts also runs on 2.0-4.0)")


if __name__ == "__main__":
    bench_verdict()
    bench_report()
    bench_gather()
