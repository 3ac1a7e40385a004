"""What must never be committed: unresolved merge conflicts, and links to a developer's environment."""

from __future__ import annotations

import pathlib
import re
import subprocess

REPO = pathlib.Path(__file__).resolve().parents[2]
MARKER = re.compile(rb"^(<{7} |>{7} |={7}$)", re.M)


def _tracked() -> list[str]:
    return subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout.decode().split("\0")


def test_no_conflict_markers_in_tracked_files():
    offenders = []
    for name in filter(None, _tracked()):
        path = REPO / name
        if path.is_file() and not path.is_symlink() and MARKER.search(path.read_bytes()):
            offenders.append(name)
    assert not offenders, f"unresolved merge conflicts in {offenders}"


def test_no_virtual_environment_or_work_directory_is_tracked():
    assert not [name for name in _tracked() if name.split("/")[0].startswith((".venv", ".work"))]
