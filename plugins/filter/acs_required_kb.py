# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""acs_required_kb: which KB an OS needs for ACS signatures. Logic lives in plugin_utils."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.codesign.windows.plugins.plugin_utils._filter_args import filter_catalog, filter_policy
from ansible_collections.codesign.windows.plugins.plugin_utils._filter_input import describe, windows_version
from ansible_collections.codesign.windows.plugins.plugin_utils._verdict import PolicyError, required_kb
from ansible_collections.codesign.windows.plugins.plugin_utils._winver import RecognitionError


def acs_required_kb(value, rollup="monthly", policy_21h2="strict", catalog=None):
    """The KB id the catalog names for the OS, ignoring what is installed; "" when natively ready."""
    policy = filter_policy("acs_required_kb", policy_21h2)
    resolved = filter_catalog("acs_required_kb", catalog)
    try:
        os = windows_version(value, resolved)
        return required_kb(os, rollup=rollup, policy_21h2=policy)
    except (RecognitionError, PolicyError) as exc:
        raise AnsibleFilterError(f"acs_required_kb: {describe(value)}: {exc}") from None


class FilterModule:
    """codesign.windows ACS filters."""

    def filters(self):
        return {"acs_required_kb": acs_required_kb}
