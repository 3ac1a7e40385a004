"""External programs some tests need (osslsigncode signs test binaries, Chromium renders the report).

A missing program fails those tests with a message saying how to install it: a run of `make test` that
silently skipped them would report signature checks and the browser report as tested when they were not.
A developer who knowingly lacks one sets ACS_ALLOW_MISSING_TOOLS=1 to skip them instead.
"""

from __future__ import annotations

import os

import pytest

ALLOW = "ACS_ALLOW_MISSING_TOOLS"


def _message(tool: str, hint: str) -> str:
    return f"{tool} is not installed ({hint}); set {ALLOW}=1 to skip the tests that need it"


def require(found: object, tool: str, hint: str) -> None:
    """In a fixture or at module level: fail (or skip, when allowed) unless the program was found."""
    if found:
        return
    if os.environ.get(ALLOW) == "1":
        pytest.skip(_message(tool, hint), allow_module_level=True)
    pytest.fail(_message(tool, hint), pytrace=False)


class _Missing:
    """A skipif condition that fails the test when pytest evaluates it."""

    def __init__(self, message: str):
        self.message = message

    def __bool__(self) -> bool:
        pytest.fail(self.message, pytrace=False)
        return True  # not reached: pytest.fail raises


def requires(found: object, tool: str, hint: str) -> pytest.MarkDecorator:
    """A mark for tests and parameters: the test fails (or skips, when allowed) unless the program was found."""
    message = _message(tool, hint)
    if found:
        return pytest.mark.skipif(False, reason=message)
    if os.environ.get(ALLOW) == "1":
        return pytest.mark.skipif(True, reason=message)
    return pytest.mark.skipif(_Missing(message), reason=message)
