"""MemoryStream, GZipStream, Encoding and Convert.ToBase64String as an emulated host's .NET gives them
(sources in emulator/pwsh/streams.py)."""

from __future__ import annotations

import base64
import gzip

import pytest

from emulator.pwsh.dotnet import run_script
from emulator.windows import load_fleet

COMPRESS = """
$bytes = [System.Text.Encoding]::ASCII.GetBytes($args_text)
$buffer = New-Object -TypeName System.IO.MemoryStream
$zipper = New-Object -TypeName System.IO.Compression.GZipStream -ArgumentList @($buffer, [System.IO.Compression.CompressionMode]::Compress)
$zipper.Write($bytes, 0, $bytes.Length)
$zipper.Close()
[System.Convert]::ToBase64String($buffer.ToArray())
"""
TEXT = '{"acs_runner":1,"results":[' + ",".join(f'{{"HotFixID":"KB{4000000 + i}"}}' for i in range(500)) + "]}"
# PowerShell 2.0 (CLR 2.0, the managed encoder) and 5.1 (CLR 4.x, zlib).
HOSTS = {"w2008r2-esu-ready": "2.0", "w2019-2210": "5.1"}


def _run(name: str, script: str) -> list:
    (model,) = load_fleet([name])
    assert model.powershell == HOSTS[name]
    return run_script(model, script)


@pytest.mark.parametrize("name", list(HOSTS))
def test_gzipstream_writes_gzip_that_inflates_to_the_text(name):
    (encoded,) = _run(name, f"$args_text = '{TEXT}'\n{COMPRESS}")
    payload = base64.b64decode(encoded, validate=True)
    assert payload[:3] == b"\x1f\x8b\x08"
    assert gzip.decompress(payload).decode("ascii") == TEXT
    assert len(payload) < len(TEXT) / 4


def test_clr2_gzipstream_writes_its_header_and_fixed_huffman_blocks_only():
    (encoded,) = _run("w2008r2-esu-ready", f"$args_text = '{TEXT}'\n{COMPRESS}")
    payload = base64.b64decode(encoded)
    assert payload[:10] == bytes.fromhex("1f8b0800000000000400")
    assert (payload[10] >> 1) & 3 == 1   # BTYPE 01: compressed with the fixed Huffman code (RFC 1951, 3.2.3)
    (modern,) = _run("w2019-2210", f"$args_text = '{TEXT}'\n{COMPRESS}")
    assert len(base64.b64decode(modern)) < len(payload)   # zlib's dynamic codes compress better


def test_a_closed_memorystream_still_gives_its_bytes_but_takes_no_more():
    script = """
$buffer = New-Object System.IO.MemoryStream
$bytes = [System.Text.Encoding]::ASCII.GetBytes('abc')
$buffer.Write($bytes, 0, $bytes.Length)
$buffer.Close()
[System.Convert]::ToBase64String($buffer.ToArray())
try { $buffer.Write($bytes, 0, 1) } catch { $_.Exception.InnerException.GetType().FullName }
"""
    assert _run("w2019-2210", script) == ["YWJj", "System.ObjectDisposedException"]


def test_ascii_encoding_replaces_what_is_not_ascii():
    script = "[System.Convert]::ToBase64String([System.Text.Encoding]::ASCII.GetBytes([string][char]233 + 'e'))"
    assert _run("w2019-2210", script) == [base64.b64encode(b"?e").decode("ascii")]
