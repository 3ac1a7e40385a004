# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""acs_verdict: evidence record in, ACS readiness verdict out. Logic lives in plugin_utils."""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.codesign.windows.plugins.plugin_utils._filter_args import filter_catalog, filter_policy
from ansible_collections.codesign.windows.plugins.plugin_utils._verdict import evaluate


def acs_verdict(evidence, policy_21h2="strict", catalog=None, esu=None, offline=None):
    """Judge one host. Bad evidence gives status 'unknown' with a reason, never an error."""
    policy = filter_policy("acs_verdict", policy_21h2)
    resolved = filter_catalog("acs_verdict", catalog)
    # default(omit) reaches a filter as Ansible's placeholder string: it means "not given".
    esu, offline = (None if isinstance(value, str) and value.startswith("__omit_place_holder__") else value
                    for value in (esu, offline))
    try:
        # The caller's options, read the way Ansible reads every boolean; a typo is the caller's error.
        esu, offline = (None if value is None else boolean(value, strict=True) for value in (esu, offline))
    except TypeError as exc:
        raise AnsibleFilterError(f"acs_verdict: esu and offline must be true, false or null: {exc}") from None
    if isinstance(evidence, Mapping) and (esu is not None or offline is not None):
        # Inventory knowledge fills what the host could not say; measured evidence wins.
        evidence = dict(evidence)
        for key, value in (("esu", esu), ("offline", offline)):
            if value is not None and evidence.get(key) is None:
                evidence[key] = value
    return evaluate(evidence, policy_21h2=policy, catalog=resolved)


class FilterModule:
    """codesign.windows ACS filters."""

    def filters(self):
        return {"acs_verdict": acs_verdict}
