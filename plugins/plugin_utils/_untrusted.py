# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Text and data a host sends, made safe for the controller: its own limits, never the runner's.

A host can send anything: a compromised or broken host, a proxy that rewrites output, a runner of
another version. The controller therefore enforces its own bounds on size, nesting, item counts
and string length, and cleans every string before it is shown on a console, written to a report or
stored in facts:

* terminal control sequences (ESC/CSI/OSC, 8-bit CSI) and other C0/C1 control characters are
  removed (tab and newline are kept; a carriage return could hide text on a terminal);
* Unicode bidirectional overrides, embeddings, isolates and marks are removed ("Trojan Source",
  CVE-2021-42574), so a name cannot display differently from what it is;
* lone UTF-16 surrogates (a JSON ``\\ud800`` escape) become U+FFFD so the text can be encoded.

``clean_text`` is the one function every writer (console messages, facts, CSV/HTML reports) uses.
"""

from __future__ import annotations

import json
import math
import re
import typing as t

MAX_STDOUT_CHARS = 16_000_000  # what the controller reads of a host's stdout at all
MAX_DOCUMENT_CHARS = 8_000_000  # the runner's JSON line
MAX_DEPTH = 16  # JSON nesting; the runner writes at most 7 levels
MAX_LIST_ITEMS = 20_000  # per list; a long-lived host has up to ~15,000 CBS packages
MAX_MAP_KEYS = 2_000  # per mapping
MAX_STRING_CHARS = 4_096  # per string or key
MAX_MESSAGE_CHARS = 1_000  # an error message a probe reports
MAX_INT = 2 ** 63 - 1  # beyond 64 bits a number is not one Windows reports
CUT_MARK = " [...]"

# ESC sequences: CSI (ESC [ ... final), OSC / DCS / SOS / PM / APC strings (ended by BEL or ST, or
# running to the end of the text), two-character escapes; and the 8-bit CSI (U+009B).
_TERMINAL_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"
    r"|\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[ -~]?"
    r"|\x9b[0-?]*[ -/]*[@-~]?"
)
_UNSAFE_CHARACTERS = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 (but tab, newline) and C1 controls, DEL
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"  # bidi marks, embeddings, overrides, isolates
    "\ud800-\udfff]"  # lone surrogates
)
_TOKEN = re.compile(r"[a-z][a-z0-9_]{0,31}")


class UntrustedDataError(ValueError):
    """What a host sent breaks one of the controller's limits; the message says which."""


def clean_text(value: t.Any, max_chars: int = MAX_STRING_CHARS) -> str:
    """``value`` as text fit for a console, a report or facts: see the module docstring."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= max_chars and text.isascii() and text.isprintable():
        return text  # the common case: nothing to remove (ASCII printable has no controls)
    if len(text) > 4 * max_chars + 64:
        text = text[:4 * max_chars + 64]  # the cleaning below never needs more than this
    text = text.replace("\r\n", "\n")
    text = _TERMINAL_SEQUENCE.sub("", text)
    text = _UNSAFE_CHARACTERS.sub(lambda m: "\ufffd" if "\ud800" <= m.group() <= "\udfff" else "", text)
    if len(text) > max_chars:
        text = text[:max(0, max_chars - len(CUT_MARK))] + CUT_MARK
    return text


def clean_token(value: t.Any, default: str) -> str:
    """A short lower-case word (a probe's error category) or ``default``."""
    return value if isinstance(value, str) and _TOKEN.fullmatch(value) else default


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_JSON_BRACKET = re.compile(r"[\[\]{}]")


def json_nesting_depth(text: str) -> int:
    """How deep ``text``'s arrays and objects nest, counted without parsing (brackets in strings skipped)."""
    depth = deepest = 0
    for bracket in _JSON_BRACKET.findall(_JSON_STRING.sub("", text)):
        if bracket in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _reject_constant(name: str) -> t.NoReturn:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise ValueError(f"the number {text[:40]} is out of range")
    return number


def load_json(text: str) -> t.Any:
    """Parse one JSON document within the limits. UntrustedDataError or ValueError when it cannot be."""
    if len(text) > MAX_DOCUMENT_CHARS:
        raise UntrustedDataError(f"it is {len(text):,} characters long; the controller reads at most "
                                 f"{MAX_DOCUMENT_CHARS:,}")
    depth = json_nesting_depth(text)
    if depth > MAX_DEPTH:
        raise UntrustedDataError(f"it nests {depth} levels deep; the controller reads at most {MAX_DEPTH}")
    return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)


class Bounded:
    """Copies parsed JSON within the limits, cleaning every string; counts what it had to change."""

    def __init__(self) -> None:
        self.cut_strings = 0
        self.cut_lists = 0

    def copy(self, value: t.Any, depth: int = 0) -> t.Any:
        """The cleaned copy. UntrustedDataError for nesting or mappings beyond the limits."""
        if depth > MAX_DEPTH:
            raise UntrustedDataError(f"nested deeper than {MAX_DEPTH} levels")
        if value is None or isinstance(value, (bool, float)):
            return value
        if isinstance(value, int):
            return value if -MAX_INT <= value <= MAX_INT else None
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            if len(value) > MAX_LIST_ITEMS:
                self.cut_lists += 1
                value = value[:MAX_LIST_ITEMS]
            return [self.copy(item, depth + 1) for item in value]
        if isinstance(value, dict):
            if len(value) > MAX_MAP_KEYS:
                raise UntrustedDataError(f"a mapping has {len(value):,} keys; the controller reads at most "
                                         f"{MAX_MAP_KEYS:,}")
            lists_cut = self.cut_lists
            copied = {self.text(str(key)): self.copy(item, depth + 1) for key, item in value.items()}
            if self.cut_lists > lists_cut and isinstance(copied.get("items"), list):
                copied["truncated"] = True  # the runner's own flag for a list it could not send whole
            return copied
        raise UntrustedDataError(f"unexpected {type(value).__name__}")

    def text(self, value: str) -> str:
        cleaned = clean_text(value)
        if cleaned.endswith(CUT_MARK) and len(value) > MAX_STRING_CHARS:
            self.cut_strings += 1
        return cleaned
