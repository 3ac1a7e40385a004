# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The order hosts are listed in, everywhere: reports, per-product lists, summaries."""

from __future__ import annotations

import re

# ASCII digits only: "web²" is text, not a number.
_DIGITS = re.compile(r"([0-9]+)")


def natural_key(name: str) -> tuple:
    """Sort key: web2 before web10, case-insensitive, ties broken by the exact name.

    Digit runs compare by length, then by text, after leading zeros: no int(), which refuses
    runs longer than 4,300 digits.
    """
    parts = []
    for position, part in enumerate(_DIGITS.split(name)):
        if not part:
            continue
        if position % 2:
            number = part.lstrip("0") or "0"
            parts.append((0, len(number), number))
        else:
            parts.append((1, 0, part.casefold()))
    return tuple(parts), name
