"""Tests that need osslsigncode or Chromium fail when the program is missing, unless skipping is asked for."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

from support import tools

REPO = pathlib.Path(__file__).resolve().parents[2]


def test_a_missing_program_fails():
    with pytest.raises(pytest.fail.Exception, match="osslsigncode is not installed .*ACS_ALLOW_MISSING_TOOLS=1"):
        tools.require(None, "osslsigncode", "apt-get install osslsigncode")
    mark = tools.requires(None, "Chromium", "apt-get install chromium")
    assert mark.name == "skipif"
    with pytest.raises(pytest.fail.Exception, match="Chromium is not installed"):
        bool(mark.args[0])


def test_a_missing_program_skips_only_when_allowed(monkeypatch):
    monkeypatch.setenv(tools.ALLOW, "1")
    with pytest.raises(pytest.skip.Exception, match="osslsigncode is not installed"):
        tools.require(None, "osslsigncode", "x")
    assert tools.requires(None, "osslsigncode", "x").args == (True,)


def test_a_present_program_changes_nothing():
    assert tools.requires("/usr/bin/osslsigncode", "osslsigncode", "x").args == (False,)
    assert tools.require("/usr/bin/osslsigncode", "osslsigncode", "x") is None


@pytest.mark.parametrize("allow, outcome", [("", "1 error"), ("1", "1 skipped")])
def test_signature_tests_without_osslsigncode(allow, outcome, tmp_path):
    # A PATH without osslsigncode: only the interpreter's own directory.
    env = {**os.environ, "PATH": str(pathlib.Path(sys.executable).parent), tools.ALLOW: allow}
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--no-header",
         "tests/unit/plugins/plugin_utils/test_signature.py::test_legacy_chain_is_cross_signed", "-k", "pe"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert outcome in completed.stdout, completed.stdout[-2000:]
    assert (completed.returncode == 0) is bool(allow)
    if not allow:
        assert "osslsigncode is not installed" in completed.stdout
