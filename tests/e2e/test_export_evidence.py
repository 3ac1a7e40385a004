"""acs_export_evidence end to end: real ansible-playbook on localhost, the sample exports, the acs_verdict filter."""

from __future__ import annotations

import sys

from support.e2e import REPO, run_playbook
from support.export_samples import SAMPLE_STATUSES

SAMPLES = REPO / "docs" / "samples" / "exports"


def test_sample_exports_through_the_action_and_the_verdict_filter(tmp_path):
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n",
                         encoding="utf-8")
    run = run_playbook(REPO / "tests" / "e2e" / "playbooks" / "export_evidence.yml", inventory, tmp_path,
                       ["-e", f"acs_samples={SAMPLES}"])
    assert run.rc == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert run.stats["localhost"]["failures"] == 0 and run.stats["localhost"]["changed"] == 0
    assert set(run.stats) == {"localhost"}, "no host but the controller is touched"

    exported = run.last("localhost", "codesign.windows.acs_export_evidence")["result"]
    assert exported["msg"] == f"{len(SAMPLE_STATUSES)} hosts from 6 file(s); 1 bad row(s) (see bad_rows)"
    assert [(b["file"], b["row"], b["column"], b["host"]) for b in exported["bad_rows"]] == [
        (f"{SAMPLES}/wsus.csv", 13, "OSDescription", "ws-0099.corp.example.com")]
    assert exported["records"]["SRV-FS01"]["evidence"]["root_ca_present"] is None
    assert any(note.startswith("root_ca_present: not in the ConfigMgr export")
               for note in exported["records"]["SRV-FS01"]["notes"])

    verdicts = run.last("localhost", "ansible.builtin.set_fact")["result"]["ansible_facts"]["acs_export_verdicts"]
    assert {host: verdict["status"] for host, verdict in verdicts.items()} == SAMPLE_STATUSES
    assert verdicts["fs04.corp.example.com"]["reboot_pending"] is True
    assert verdicts["ws-0099.corp.example.com"]["reasons"][0].startswith("The OS cannot be judged: Windows 10 without")
