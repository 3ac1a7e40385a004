# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the filters accept: an OS string, an evidence record, or ansible.windows.setup facts."""

from __future__ import annotations

import typing as t

from ansible_collections.codesign.windows.plugins.plugin_utils._catalog import Catalog
from ansible_collections.codesign.windows.plugins.plugin_utils._verdict import recognize_evidence
from ansible_collections.codesign.windows.plugins.plugin_utils._winver import (
    RecognitionError,
    WindowsVersion,
    from_setup_facts,
    from_text,
    looks_like_setup_facts,
)


def describe(value: t.Any) -> str:
    """A short rendering of the input for error messages."""
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def windows_version(value: t.Any, catalog: Catalog) -> WindowsVersion:
    if isinstance(value, str):
        return from_text(value, catalog)
    if isinstance(value, t.Mapping):
        if "ansible_facts" in value and isinstance(value["ansible_facts"], t.Mapping):
            value = value["ansible_facts"]
        if isinstance(value.get("acs"), t.Mapping) and isinstance(value["acs"].get("evidence"), t.Mapping):
            return recognize_evidence(value["acs"]["evidence"], catalog)
        if "os_name" in value or "os_version" in value:
            return recognize_evidence(value, catalog)
        if looks_like_setup_facts(value):
            return from_setup_facts(value, catalog)
        raise RecognitionError("the mapping is neither an evidence record (os_name/os_version) nor "
                               "ansible.windows.setup facts (ansible_distribution/ansible_distribution_version)")
    raise RecognitionError(f"expected an OS string, an evidence record or setup facts, got {type(value).__name__}")
