# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""acs_summary: fleet counts from many verdicts. Logic lives in plugin_utils."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.codesign.windows.plugins.plugin_utils._summary import SummaryError, summarize


def acs_summary(verdicts, query=None):
    """Counts per status, OS and Trend product; hosts needing action; optional JMESPath selection."""
    try:
        return summarize(verdicts, query=query)
    except SummaryError as exc:
        raise AnsibleFilterError(f"acs_summary: {exc}") from None


class FilterModule:
    """codesign.windows ACS filters."""

    def filters(self):
        return {"acs_summary": acs_summary}
