"""A compressed runner answer is read like a plain one, and a hostile one cannot exhaust the controller.

The host chooses the bytes: a gzip "bomb" of a few hundred KB inflates to gigabytes, so the controller inflates
at most what it would read of a plain answer and refuses the rest with a RunnerOutputError.
"""

from __future__ import annotations

import base64
import gzip
import json
import tracemalloc
import zlib

import pytest

from ansible_collections.codesign.windows.plugins.plugin_utils._evidence import (
    RunnerOutputError,
    build_facts,
    parse_runner_output,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._probes import (
    BOOTSTRAP,
    DEFAULT_SUBSETS,
    build_probes,
    render_script,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._untrusted import MAX_DOCUMENT_CHARS
from emulator.pwsh.dotnet import run_script
from emulator.windows import load_fleet

PROBES = build_probes(DEFAULT_SUBSETS)
MODEL = load_fleet(["w2019-2210"])[0]
PLAIN = run_script(MODEL, BOOTSTRAP, render_script(PROBES, timeout_ms=10_000).splitlines())[0]


def _wrapped(payload: bytes) -> str:
    return '{"acs_runner":1,"gzip":"' + base64.b64encode(payload).decode("ascii") + '"}'


def _facts(stdout: str) -> dict:
    facts = build_facts(parse_runner_output(0, stdout, ""), PROBES, list(DEFAULT_SUBSETS))
    facts["runner"].pop("elapsed_ms")
    return facts


def test_the_runner_compresses_only_a_long_answer_and_it_reads_the_same():
    assert PLAIN.startswith('{"acs_runner":1,"powershell"')  # short: plain JSON
    compressed = run_script(MODEL, BOOTSTRAP, render_script(PROBES, timeout_ms=10_000, compress_above=1).splitlines())
    assert compressed[0].startswith('{"acs_runner":1,"gzip":"H4sI') and compressed[0].isascii()
    assert _facts(compressed[0]) == _facts(PLAIN)


def test_a_compressed_answer_with_a_byte_order_mark_and_blank_lines_is_read():
    assert _facts("\r\n\ufeff" + _wrapped(gzip.compress(PLAIN.encode("ascii"))) + "\r\n") == _facts(PLAIN)


def test_a_gzip_bomb_is_refused_without_inflating_it():
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b" " * (1 << 20)
    payload = b"".join(compressor.compress(chunk) for _block in range(512)) + compressor.flush()  # 512 MB of spaces
    assert len(payload) < 1_000_000
    stdout = _wrapped(payload)
    tracemalloc.start()
    try:
        with pytest.raises(RunnerOutputError, match="inflates to more than"):
            parse_runner_output(0, stdout, "")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * MAX_DOCUMENT_CHARS + 4 * len(stdout)


@pytest.mark.parametrize("stdout, problem", [
    (_wrapped(gzip.compress(PLAIN.encode("ascii"))[:-100]), "truncated or garbled"),
    (_wrapped(gzip.compress(PLAIN.encode("ascii")) + b"trailing"), "truncated or garbled"),
    (_wrapped(b"\x1f\x8b\x08\x00garbage" * 10), "garbled"),
    (_wrapped(zlib.compress(PLAIN.encode("ascii"))), "garbled"),     # zlib, not gzip
    ('{"acs_runner":1,"gzip":"not base64!"}', "not base64"),
    ('{"acs_runner":1,"gzip":["H4sI"]}', "not text"),
    (_wrapped(gzip.compress(b"[1, 2, 3]")), "does not hold one runner document"),
    (_wrapped(gzip.compress(PLAIN.encode("ascii") + b"\n" + PLAIN.encode("ascii"))), "does not hold one"),
    (_wrapped(gzip.compress(_wrapped(gzip.compress(PLAIN.encode("ascii"))).encode("ascii"))), "holds another one"),
])
def test_a_damaged_compressed_answer_is_refused_clearly(stdout, problem):
    with pytest.raises(RunnerOutputError, match="compressed output cannot be used") as refused:
        parse_runner_output(0, stdout, "")
    assert problem in str(refused.value)


def test_a_compressed_answer_is_held_to_the_plain_answer_s_limits():
    hostile = json.loads(PLAIN)
    hostile["results"][0]["data"] = {"values": {"ProductName": "\x1b[31mred\x1b[0m"}, "exists": True}
    facts = _facts(_wrapped(gzip.compress(json.dumps(hostile).encode("ascii"))))
    assert "\x1b" not in json.dumps(facts)
