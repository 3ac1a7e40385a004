# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report document as JSON: the user contract of docs/report-schema.md."""

from __future__ import annotations

import json
import typing as t
from collections.abc import Mapping

from ansible_collections.codesign.windows.plugins.plugin_utils._report.plain import plain, without_cycle_collection

_TOP_LEVEL = ("schema_version", "run", "summary", "products", "hold_back", "hosts")


@without_cycle_collection()
def render_json(document: t.Any) -> str:
    """The document as JSON: schema_version first, every other key sorted, so equal documents give equal bytes."""
    if not isinstance(document, Mapping):
        raise ValueError(f"a report document is a mapping, got {type(document).__name__}")
    try:
        return _json_text(document)
    except (TypeError, ValueError):
        return _json_text(plain(document))


def _json_text(document: t.Mapping[str, t.Any]) -> str:
    keys = [key for key in _TOP_LEVEL if key in document]
    keys += sorted(key for key in document if key not in _TOP_LEVEL)
    # Each top-level value is dumped on its own so that the schema version opens the file.
    parts = []
    for key in keys:
        value = json.dumps(document[key], sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
        parts.append(f"  {json.dumps(key)}: " + value.replace("\n", "\n  "))
    return "{\n" + ",\n".join(parts) + "\n}\n"
