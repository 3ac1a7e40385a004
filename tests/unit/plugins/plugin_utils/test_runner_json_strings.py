"""The runner's JSON strings, executed by the emulated hosts' PowerShell: ASCII only, whatever the text.

PowerShell's -match is case-insensitive, and .NET folds case with the culture's rules before comparing
with a character class (https://learn.microsoft.com/dotnet/standard/base-types/regular-expression-options,
"Case-insensitive matching"): the KELVIN SIGN (U+212A) folds to "k" and LATIN CAPITAL LETTER I WITH DOT
ABOVE (U+0130) to "i", so a printable-ASCII test written with -match lets them through unescaped. The runner
tests with -cmatch.
"""

from __future__ import annotations

import json

import pytest

from ansible_collections.codesign.windows.plugins.plugin_utils._probes import runner_text
from emulator.pwsh.dotnet import run_script
from emulator.windows import load_fleet


def _library() -> str:
    text = runner_text()
    start = text.index("$AcsLibrary = {")
    return text[start:text.index("\n}\n", start) + 3] + ". $AcsLibrary\n"


@pytest.mark.parametrize("host_name", ["w2008r2-esu-ready", "w2019-2210"])   # PowerShell 2.0 and 5.1
@pytest.mark.parametrize("text", ["plain", "", "SOFTWARE\\Microsoft\\Windows NT", 'say "hi"', "\u212a\u0130",
                                  "tab\there", "caf\u00e9 \u30a8\u30fc\u30b8\u30a7\u30f3\u30c8", "\x7f\x1b[31m"])
def test_json_strings_are_ascii_and_read_back_as_the_text(host_name, text):
    (model,) = load_fleet([host_name])
    # The script stays ASCII: the text is built from its character codes.
    build = "".join(f"$s = $s + [string][char]{ord(char)}\n" for char in text)
    (written,) = run_script(model, _library() + "$s = ''\n" + build + "ConvertTo-AcsJsonString $s\n")
    assert written.isascii() and written.isprintable()
    assert json.loads(written) == text


def test_a_hashtable_of_strings_and_numbers_is_one_json_object():
    (model,) = load_fleet(["w2008r2-esu-ready"])
    script = _library() + "ConvertTo-AcsJson @{ name = 'Package_for_KB1~x'; values = @{ CurrentState = 112 }; ok = $true }\n"
    (written,) = run_script(model, script)
    assert json.loads(written) == {"name": "Package_for_KB1~x", "values": {"CurrentState": 112}, "ok": True}
