"""inspect_package when the file cannot be read: the cause in the operating system's words."""

from __future__ import annotations

import errno

from ansible_collections.codesign.windows.plugins.plugin_utils import _authenticode as _signature


def test_a_read_error_is_described_by_the_operating_system(tmp_path, monkeypatch):
    path = tmp_path / "package.msi"
    path.write_bytes(b"x")

    def failing_read(_path, _result):
        raise OSError(errno.EIO, "Input/output error", str(path))

    monkeypatch.setattr(_signature, "_read_once", failing_read)
    result = _signature.inspect_package(str(path))
    assert result["verdict"] == "unreadable"
    assert "The file could not be read: Input/output error." in result["reasons"][0]

    def failing_without_errno(_path, _result):
        raise OSError("the share went away")

    monkeypatch.setattr(_signature, "_read_once", failing_without_errno)
    result = _signature.inspect_package(str(path))
    assert "The file could not be read: the share went away." in result["reasons"][0]


def test_every_public_name_exists():
    """`from ... import *` raises AttributeError on a name in __all__ that the package does not define."""
    assert set(_signature.__all__) == {"ACS_ROOT_CERTIFICATE_PEM", "DEFAULT_ACS_ROOTS", "VERDICTS", "inspect_package"}
    assert all(hasattr(_signature, name) for name in _signature.__all__)
