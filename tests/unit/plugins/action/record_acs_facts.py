"""Record what emulated hosts answer to acs_facts' command, for the action plugin's replay tests.

Run from the repository root after the probe list or the runner's protocol changed:

    PYTHONPATH=tests .venv/bin/python tests/unit/plugins/action/record_acs_facts.py

Each file in data/acs_facts/ holds one host's answer (rc, stdout, stderr) to the whole default
gather, the way the connection returns it. Hostile answers are written by hand in the tests.
"""

from __future__ import annotations

import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))  # tests/

# Importing tests/conftest.py installs Ansible's collection loader, as pytest does.
import conftest  # noqa: E402,F401  pylint: disable=unused-import,wrong-import-position

from ansible_collections.codesign.windows.plugins.plugin_utils._probes import (  # noqa: E402
    DEFAULT_SUBSETS,
    bootstrap_command,
    build_probes,
    render_script,
)
from emulator.host import EmulatedWindows  # noqa: E402
from emulator.windows import load_fleet  # noqa: E402
from emulator.wsman import _transform_output  # noqa: E402  pylint: disable=protected-access

HOSTS = ("w2019-2210", "w2008r2-esu-ready", "w2012r2-leastpriv", "w2008-nopowershell", "fault-garbled",
         "fault-truncated", "fault-clixml")


def main() -> None:
    probes = build_probes(DEFAULT_SUBSETS)
    script = render_script(probes, timeout_ms=10_000).encode("ascii")
    for model in load_fleet(HOSTS):
        result = EmulatedWindows(model).run_command(bootstrap_command(), script)
        result = _transform_output(result, model.faults.get("stdout_transform"))
        record = {"host": model.name, "description": model.description, "rc": result.rc,
                  "stdout": result.stdout.decode("utf-8", errors="surrogateescape"),
                  "stderr": result.stderr.decode("utf-8", errors="surrogateescape")}
        path = HERE / "data" / "acs_facts" / f"{model.name}.json"
        path.write_text(json.dumps(record, indent=1, ensure_ascii=True) + "\n", encoding="ascii")
        print(f"{path.relative_to(HERE)}: rc={result.rc}, {len(result.stdout)} bytes of stdout")


if __name__ == "__main__":
    main()
