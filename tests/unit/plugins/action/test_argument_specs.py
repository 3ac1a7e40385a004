"""Each action plugin's argument spec says what its documentation says: names, types, defaults, choices,
elements, required. The documentation is read as users read it, through ansible-doc (fragments merged)."""

from __future__ import annotations

import importlib
import json
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[4]
ACTIONS = sorted(path.stem for path in (REPO / "plugins" / "action").glob("*.py") if not path.stem.startswith("_"))
# What the argument spec and the documentation leave out means the same on both sides.
IMPLIED = {"type": "str", "required": False, "default": None, "choices": None, "elements": None}
COMPARED = tuple(IMPLIED)
# Disagreements known and left to the plugin's owners; strict, so a fix shows here as an unexpected pass.
KNOWN_MISMATCHES: dict[str, str] = {}


@pytest.fixture(scope="module")
def documented() -> dict[str, dict]:
    names = [f"codesign.windows.{name}" for name in ACTIONS]
    completed = subprocess.run([str(pathlib.Path(sys.executable).parent / "ansible-doc"), "-t", "module", "--json", *names],
                               capture_output=True, text=True, check=True)
    return {name.rsplit(".", 1)[1]: entry["doc"] for name, entry in json.loads(completed.stdout).items()}


def _normal(option: dict) -> dict:
    shown = {key: option.get(key, IMPLIED[key]) for key in COMPARED}
    if shown["elements"] is None and shown["type"] != "list":
        shown.pop("elements")
    if isinstance(shown["choices"], (list, tuple)):
        shown["choices"] = sorted(map(str, shown["choices"]))
    return shown


def test_every_action_has_its_documentation_module():
    assert ACTIONS, "no action plugins found"
    assert [name for name in ACTIONS if not (REPO / "plugins" / "modules" / f"{name}.py").is_file()] == []


@pytest.mark.parametrize("name", [
    pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=KNOWN_MISMATCHES[name])) if name in KNOWN_MISMATCHES
    else name for name in ACTIONS])
def test_argument_spec_matches_the_documentation(name, documented):
    spec = importlib.import_module(f"ansible_collections.codesign.windows.plugins.action.{name}").ARGUMENT_SPEC
    options = documented[name].get("options") or {}
    assert sorted(spec) == sorted(options), f"{name}: options only in the spec or only in the documentation"
    mismatches = {option: {"spec": _normal(spec[option]), "documentation": _normal(options[option])}
                  for option in spec if _normal(spec[option]) != _normal(options[option])}
    assert mismatches == {}, f"{name}: the argument spec and the documentation disagree"
