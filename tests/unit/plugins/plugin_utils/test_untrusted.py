"""clean_text and the controller's own limits on what a host sends."""

from __future__ import annotations

import pytest

from ansible_collections.codesign.windows.plugins.plugin_utils._untrusted import (
    MAX_DEPTH,
    MAX_LIST_ITEMS,
    MAX_MAP_KEYS,
    Bounded,
    UntrustedDataError,
    clean_text,
    clean_token,
    json_nesting_depth,
    load_json,
)


@pytest.mark.parametrize(("text", "expected"), [
    ("Trend Micro Apex One", "Trend Micro Apex One"),
    ("tab\tand\nnewline", "tab\tand\nnewline"),
    ("crlf\r\nline", "crlf\nline"),
    ("\x1b[31mred\x1b[0m", "red"),  # CSI colour
    ("\x1b[2J\x1b[Hclear", "clear"),  # clear screen, cursor home
    ("\x1b]0;title\x07text", "text"),  # OSC window title, BEL-terminated
    ("\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\", "link"),  # OSC 8 hyperlink, ST-terminated
    ("\x9b31mred", "red"),  # 8-bit CSI
    ("over\rwrite", "overwrite"),  # a lone CR would hide "over" on a terminal
    ("nul\x00bell\x07del\x7f", "nulbelldel"),
    ("abc\u202edcb\u202c", "abcdcb"),  # right-to-left override (CVE-2021-42574)
    ("\u2066isolate\u2069 \u200fmark\u200e \u061c", "isolate mark "),
    ("lone \ud800 surrogate", "lone \ufffd surrogate"),
    ("日本語 Ａｐｅｘ", "日本語 Ａｐｅｘ"),  # other scripts are text, not controls
    (None, "None"),
    (12, "12"),
])
def test_clean_text(text, expected):
    assert clean_text(text) == expected


def test_clean_text_cuts_long_text_with_a_mark():
    assert clean_text("x" * 50, 20) == "x" * 14 + " [...]"
    assert len(clean_text("\x1b[1m" * 100_000 + "y" * 100, 50)) <= 50


@pytest.mark.parametrize(("value", "expected"), [("denied", "denied"), ("time_out2", "time_out2"),
                                                 ("Denied", "error"), ("x" * 40, "error"), (3, "error"),
                                                 ("a\u202eb", "error")])
def test_clean_token(value, expected):
    assert clean_token(value, "error") == expected


def test_nesting_depth_skips_brackets_in_strings():
    assert json_nesting_depth('{"a":[1,{"b":"[[[[{{"}],"c":"\\"]]"}') == 3
    assert json_nesting_depth("[" * 5000 + "]" * 5000) == 5000


def test_load_json_refuses_what_python_would_accept():
    with pytest.raises(UntrustedDataError, match="nests 2000 levels deep"):
        load_json("[" * 2000 + "]" * 2000)
    for text in ("[NaN]", "[Infinity]", "[-Infinity]", "[1e999]"):
        with pytest.raises(ValueError):
            load_json(text)
    assert load_json('{"a":[1,2.5,"x"]}') == {"a": [1, 2.5, "x"]}


def test_bounded_copy():
    bounded = Bounded()
    copied = bounded.copy({"items": list(range(MAX_LIST_ITEMS + 3)), "huge": 2 ** 70, "name": "\x1b[1mx",
                           "\u202ekey": "y" * 10_000})
    assert len(copied["items"]) == MAX_LIST_ITEMS and copied["truncated"] is True
    assert copied["huge"] is None and copied["name"] == "x" and len(copied["key"]) < 5000
    assert (bounded.cut_lists, bounded.cut_strings) == (1, 1)
    with pytest.raises(UntrustedDataError, match="keys"):
        Bounded().copy({str(index): index for index in range(MAX_MAP_KEYS + 1)})
    deep = []
    for _level in range(MAX_DEPTH + 2):
        deep = [deep]
    with pytest.raises(UntrustedDataError, match="nested deeper"):
        Bounded().copy(deep)
