"""Timing: two ways to put N hosts into groups by their report status, in one ansible-playbook run each.

- ``add_host``: one task, run once, looping over the report's statuses (roles/acs_readiness/tasks/groups.yml);
- ``group_by``: one task run for each host.

The hosts are the emulated fleet's host names, repeated with a suffix up to N: neither way connects to a
host, so what is timed is Ansible's own cost per host. Each run also counts the hosts that landed in
``acs_ready``, so a way that does not work cannot look fast. Not a test: nothing asserts.

    python tests/benchmarks/status_groups.py [N ...]      (default 100 1000 5000)
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

from emulator.windows import load_fleet  # noqa: E402  pylint: disable=wrong-import-position

STATUSES = ("ready", "needs_kb", "needs_root_ca", "reboot_pending", "unreachable")
PLAYBOOK = """
- name: Statuses as the report gives them
  hosts: all
  gather_facts: false
  tasks:
    - name: The report's statuses (what acs_report returns)
      ansible.builtin.set_fact:
        acs_readiness_report:
          statuses: "{{ lookup('file', statuses_file) | from_json }}"
      run_once: true
      delegate_to: localhost
      delegate_facts: false

    - name: Start the clock
      ansible.builtin.set_fact:
        started: "{{ now().timestamp() }}"
      run_once: true

{grouping}

    - name: Stop the clock
      ansible.builtin.debug:
        msg: "GROUPING {{ (now().timestamp() - started | float) | round(3) }} READY {{ groups['acs_ready'] | default([]) | length }}"
      run_once: true
"""
WAYS = {
    "add_host": """
    - name: Groups the add_host way (the role's task file)
      ansible.builtin.import_role:
        name: codesign.windows.acs_readiness
        tasks_from: groups
      vars:
        acs_readiness_group_prefix: acs_
""",
    "group_by": """
    - name: Groups the group_by way
      ansible.builtin.group_by:
        key: "acs_{{ acs_readiness_report.statuses[inventory_hostname] }}"
      changed_when: false
""",
}


def hosts(count: int) -> list[str]:
    names = [host.name for host in load_fleet()]
    return [f"{names[index % len(names)]}-{index:05d}" for index in range(count)]


def main(counts: list[int]) -> None:
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / ".work" / "collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_DISPLAY_SKIPPED_HOSTS="false", ANSIBLE_HOST_KEY_CHECKING="false")
    print(f"{'hosts':>6} {'way':9} {'grouping s':>10} {'playbook s':>10} {'in acs_ready':>12}")
    with tempfile.TemporaryDirectory() as work:
        directory = pathlib.Path(work)
        for way, task in WAYS.items():
            # str.replace, not format: the playbook's Jinja2 braces stay as they are.
            (directory / f"{way}.yml").write_text(PLAYBOOK.replace("{grouping}", task), encoding="utf-8")
        for count in counts:
            names = hosts(count)
            statuses = {name: STATUSES[index % len(STATUSES)] for index, name in enumerate(names)}
            (directory / "statuses.json").write_text(json.dumps(statuses), encoding="utf-8")
            (directory / "hosts.ini").write_text(
                "[windows]\n" + "\n".join(names) + f"\n[windows:vars]\nansible_connection=local\n"
                f"ansible_python_interpreter={sys.executable}\n", encoding="utf-8")
            for way in WAYS:
                started = time.perf_counter()
                command = [str(pathlib.Path(sys.executable).with_name("ansible-playbook")), "-i", str(directory / "hosts.ini"),
                           str(directory / f"{way}.yml"), "-e", f"statuses_file={directory / 'statuses.json'}"]
                run = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
                total = time.perf_counter() - started
                line = next((line for line in run.stdout.splitlines() if "GROUPING" in line), "")
                parts = line.split("GROUPING", 1)[-1].replace('"', "").split()
                grouping, ready = (parts[0], parts[2]) if len(parts) >= 3 else ("failed", run.stdout[-300:])
                print(f"{count:>6} {way:9} {grouping:>10} {total:>10.2f} {ready:>12}")


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [100, 1000, 5000])
