# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn one cell into an evidence value. Each function returns the value or raises CellError with the reason.

An empty cell is ``None``: not known. The word ``none`` in a list cell is an empty list: known to be empty.
"""

from __future__ import annotations

import re
import typing as t

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.codesign.windows.plugins.plugin_utils._catalog import normalize_kb

MAX_UBR = 65535
_KB_IN_TEXT = re.compile(r"\bKB\s?(\d{6,7})\b", re.IGNORECASE)
_SPLIT_LIST = re.compile(r"[\s,]+")

# IUpdateInstallationInfo.UpdateInstallationState: names and numbers, plus the console's word "Needed".
# https://learn.microsoft.com/previous-versions/ms824306(v=msdn.10)
STATES = ("installed", "installed_pending_reboot", "needed", "downloaded", "failed", "not_applicable", "unknown")
_STATE_WORDS = {
    "installed": "installed", "4": "installed",
    "installedpendingreboot": "installed_pending_reboot", "6": "installed_pending_reboot",
    "needed": "needed", "notinstalled": "needed", "2": "needed",
    "downloaded": "downloaded", "3": "downloaded",
    "failed": "failed", "5": "failed",
    "notapplicable": "not_applicable", "1": "not_applicable",
    "unknown": "unknown", "0": "unknown", "nostatus": "unknown",
}


class CellError(ValueError):
    """The cell cannot be used for its field; the message says why."""


def _blank(value: t.Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def text(value: t.Any) -> str | None:
    if _blank(value):
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise CellError(f"expected text, got {type(value).__name__}")
    return str(value).strip()


def flag(value: t.Any) -> bool | None:
    if _blank(value):
        return None
    try:
        return boolean(value.strip() if isinstance(value, str) else value, strict=True)
    except TypeError:
        raise CellError(f"expected true or false (yes/no, 1/0), got {value!r}") from None


def integer(value: t.Any, maximum: int = MAX_UBR) -> int | None:
    if _blank(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        stripped = value.strip()
        # Excel writes whole numbers it read as numbers back as "2210.0" at times.
        if re.fullmatch(r"\d+(\.0+)?", stripped):
            value = int(stripped.split(".")[0])
    if isinstance(value, bool) or not isinstance(value, int):
        raise CellError(f"expected a whole number, got {value!r}")
    if not 0 <= value <= maximum:
        raise CellError(f"{value} is out of range (0 to {maximum})")
    return value


def string_list(value: t.Any, separator: str) -> list[str] | None:
    """A list cell split on the separator (and on spaces and commas, which no KB id or build holds)."""
    if _blank(value):
        return None
    if isinstance(value, (list, tuple)):
        return [str(item).strip() for item in value if not _blank(item)]
    if isinstance(value, str):
        if value.strip().casefold() == "none":
            return []
        return [item for part in value.split(separator) for item in _SPLIT_LIST.split(part.strip()) if item]
    raise CellError(f"expected a {separator!r}-separated list, got {type(value).__name__}")


def kb_list(value: t.Any, separator: str) -> tuple[list[str] | None, list[str]]:
    """(KB ids, entries that are no KB id). QFE lists entries such as "File 1": they are ignored, not errors."""
    items = string_list(value, separator)
    if items is None:
        return None, []
    kbs: list[str] = []
    ignored: list[str] = []
    for item in items:
        kb = normalize_kb(item)
        if kb is None:
            ignored.append(item)
        elif kb not in kbs:
            kbs.append(kb)
    return kbs, ignored


def kb(value: t.Any) -> str | None:
    """One update's KB id: "KB5006714", "5006714", or a title holding "(KB5006714)". None when there is none."""
    if _blank(value):
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return normalize_kb(value)
    if not isinstance(value, str):
        raise CellError(f"expected a KB id, got {type(value).__name__}")
    found = normalize_kb(value.strip())
    if found:
        return found
    match = _KB_IN_TEXT.search(value)
    return f"KB{match.group(1)}" if match else None


def state(value: t.Any) -> str:
    """An update's installation state, one of STATES. A missing state cell means installed (a QFE row)."""
    if isinstance(value, str) and value.strip().casefold() in STATES:
        return value.strip().casefold()
    word = re.sub(r"[\s_\-/]", "", str(value)).casefold() if not _blank(value) else ""
    if word in _STATE_WORDS:
        return _STATE_WORDS[word]
    raise CellError(f"{value!r} is not an update state (Installed, InstalledPendingReboot, Needed, NotInstalled, "
                    "Downloaded, Failed, NotApplicable, Unknown or 0-6)")


def agents(value: t.Any, separator: str) -> list[dict[str, t.Any]] | None:
    """Trend Micro agents: a list of mappings, or text "product:version:state" per agent."""
    if _blank(value):
        return None
    if isinstance(value, (list, tuple)):
        result = []
        for index, item in enumerate(value):
            if not isinstance(item, t.Mapping) or _blank(item.get("product")):
                raise CellError(f"agents[{index}] must be a mapping with product, version and service_state")
            result.append({"product": str(item["product"]).strip(), "version": text(item.get("version")),
                           "service_state": text(item.get("service_state"))})
        return result
    if not isinstance(value, str):
        raise CellError(f"expected agents as 'product:version:state' entries, got {type(value).__name__}")
    if value.strip().casefold() == "none":
        return []
    result = []
    for entry in (part.strip() for part in value.split(separator)):
        if not entry:
            continue
        parts = [part.strip() for part in entry.split(":")]
        if len(parts) > 3 or not parts[0]:
            raise CellError(f"agent {entry!r} is not 'product:version:state'")
        parts += [""] * (3 - len(parts))
        result.append({"product": parts[0], "version": parts[1] or None, "service_state": parts[2] or None})
    return result


def mapped(value: t.Any, table: dict[str, t.Any] | None) -> t.Any:
    """The user's value map applied to a cell (compared without regard to case or surrounding spaces)."""
    if table and isinstance(value, (str, int)) and not isinstance(value, bool):
        key = str(value).strip().casefold()
        if key in table:
            return table[key]
    return value
