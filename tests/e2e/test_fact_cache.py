"""A fact cache keeps each host's verdict for later playbooks (docs/performance.md, "Fact caching"): assess once,
then read ``acs_verdict`` from the cache without contacting any host."""

from __future__ import annotations

import json

from support.e2e import REPO, run_playbook
from test_awx_slices import FLEET, inventory

READ_CACHE = """
- name: Read the verdicts from the fact cache
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Every host's status as cached
      ansible.builtin.debug:
        msg: "{{ dict(groups['windows'] | zip(groups['windows'] | map('extract', hostvars)
                 | map(attribute='acs_verdict.status', default='not cached'))) | to_json }}"
"""


def test_a_later_playbook_reads_every_assessed_hosts_verdict_from_the_cache(fleet, tmp_path):
    hosts = inventory(fleet, FLEET, tmp_path / "hosts.yml")
    cache = {"ANSIBLE_CACHE_PLUGIN": "jsonfile", "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(tmp_path / "cache"),
             "ANSIBLE_CACHE_PLUGIN_TIMEOUT": "86400"}
    run_playbook(REPO / "playbooks" / "assess.yml", hosts, tmp_path, ["-e", f"acs_readiness_report_dir={tmp_path / 'reports'}"],
                 env=cache)
    report = json.loads((tmp_path / "reports" / "acs-readiness.json").read_text(encoding="utf-8"))
    assessed = {host["host"]: host["status"] for host in report["hosts"] if host["status"] not in ("unreachable", "failed")}
    assert len(assessed) == len(FLEET) - 2

    # The hosts are down now: only the cache can answer.
    playbook = tmp_path / "read.yml"
    playbook.write_text(READ_CACHE, encoding="utf-8")
    down = tmp_path / "down.yml"
    down.write_text(hosts.read_text(encoding="utf-8").replace("127.0.0.1", "127.0.0.254"), encoding="utf-8")
    read = run_playbook(playbook, down, tmp_path, env=cache)
    assert read.rc == 0, read.stdout[-3000:]
    shown = json.loads(read.last("localhost", "ansible.builtin.debug")["result"]["msg"])
    assert shown == {**{host: "not cached" for host in FLEET}, **assessed}
