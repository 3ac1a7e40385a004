# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plain data and text from whatever hostvars held: never a traceback, whatever the type."""

from __future__ import annotations

import contextlib
import gc
import json
import math
import re
import typing as t
from collections.abc import Mapping

from ansible.module_utils.parsing.convert_bool import boolean

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SAFE_URL = re.compile(r"^https?://[^\s\"'<>`\\]+$", re.IGNORECASE)
_MAX_DEPTH = 64
_SCALARS = frozenset((type(None), bool, int))


@contextlib.contextmanager
def without_cycle_collection() -> t.Iterator[None]:
    """Pause Python's cycle collector while a report is built or written (a decorator as well).

    A report of 50,000 hosts makes millions of small dicts, lists and strings, each tracked by the
    collector; its passes over them grow with everything alive, so a report of five times the hosts took
    fifteen times as long. Nothing made here forms a cycle: reference counting frees it all the same.
    A caller that disabled the collector itself finds it disabled afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def clean(text: str) -> str:
    if text.isascii():
        return str(text)
    # Undecodable bytes reach Python as lone surrogates, which no UTF-8 file can hold.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return str(text)


def plain(value: t.Any, depth: int = 0) -> t.Any:
    """The value as JSON data (str keys, no NaN, no sets or bytes), whatever hostvars held."""
    kind = type(value)
    if kind is str:
        return clean(value)
    if value is None or kind is bool or kind is int:
        return value
    if depth > _MAX_DEPTH:
        return clean(str(value))
    # The common leaves (ASCII text, None, booleans, integers) are taken as they are, without a call each.
    if kind is dict:
        return {(key if type(key) is str and key.isascii() else clean(str(key))):  # pylint: disable=unidiomatic-typecheck
                (item if type(item) in _SCALARS or (type(item) is str and item.isascii())  # pylint: disable=unidiomatic-typecheck
                 else plain(item, depth + 1))
                for key, item in value.items()}
    if kind is list:
        return [item if type(item) in _SCALARS or (type(item) is str and item.isascii())  # pylint: disable=unidiomatic-typecheck
                else plain(item, depth + 1) for item in value]
    # Subclasses (Ansible's tagged and unsafe values among them) take the slower, general path.
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "backslashreplace")
    if isinstance(value, Mapping):
        return {clean(str(key)): plain(item, depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item, depth + 1) for item in value]
    if isinstance(value, (set, frozenset)):
        items = [plain(item, depth + 1) for item in value]
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    return clean(str(value))


def is_plain(value: t.Any, depth: int = 0) -> bool:
    """Whether plain(value) would equal value exactly: then the value itself can be kept, not a copy of it."""
    kind = type(value)
    if kind is str:
        return value.isascii() or _encodable(value)
    if kind in _SCALARS:
        return True
    if depth > _MAX_DEPTH:
        return False
    if kind is float:
        return math.isfinite(value)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not (key.isascii() or _encodable(key)):  # pylint: disable=unidiomatic-typecheck
                return False
            if not (type(item) in _SCALARS or (type(item) is str and item.isascii())  # pylint: disable=unidiomatic-typecheck
                    or is_plain(item, depth + 1)):
                return False
        return True
    if kind is list:
        return all(type(item) in _SCALARS or (type(item) is str and item.isascii())  # pylint: disable=unidiomatic-typecheck
                   or is_plain(item, depth + 1) for item in value)
    return False


def shared_plain(value: t.Any) -> t.Any:
    """plain(value), sharing every part of it that is plain already instead of copying it.

    For a record about to be reshaped: its top level is a new dict (change it freely), its values are
    the caller's own objects where they were plain. Nothing that reads a report changes them.
    """
    if type(value) is not dict:  # pylint: disable=unidiomatic-typecheck
        return plain(value)
    return {(key if type(key) is str and key.isascii() else clean(str(key))):  # pylint: disable=unidiomatic-typecheck
            (item if is_plain(item, 1) else plain(item, 1)) for key, item in value.items()}


def text(value: t.Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(text(item) for item in value)
    return str(value)


def opt_text(value: t.Any) -> str | None:
    return None if value is None else text(value)


def texts(value: t.Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [item_text for item_text in (text(item) for item in value if item is not None) if item_text]
    single = text(value)
    return [single] if single else []


def mapping(value: t.Any) -> t.Mapping[str, t.Any]:
    return value if isinstance(value, Mapping) else {}


def flag(value: t.Any) -> bool | None:
    """True, False, or None when the value is no boolean at all (Ansible's own reading of yes/no/1/0)."""
    if value is None:
        return None
    try:
        return boolean(value, strict=True)
    except (TypeError, ValueError):
        return None


def safe_url(value: t.Any) -> str | None:
    # Only web links: a hand-edited catalog must not turn a link into javascript: or file:.
    if isinstance(value, str) and _SAFE_URL.match(value.strip()):
        return value.strip()
    return None


def unique(items: t.Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def display(value: t.Any) -> str:
    """Text with control characters made visible: a host's error must not drive a terminal or the page."""
    shown = clean(text(value))
    if _CONTROL.search(shown):
        shown = _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", shown)
    return shown


def shorten(value: str, limit: int) -> str:
    value = " ".join(value.split())
    return value if len(value) <= limit else value[:limit - 1].rstrip() + "\u2026"
