"""Fuzz: whatever a host sends back, the controller ends with evidence or a RunnerOutputError.

Real runner outputs (the emulated hosts answering the real probe script) are damaged by a seeded
generator of hostile documents (deep nesting, wrong types, non-ASCII digits, huge strings and
lists, terminal escapes, bidi overrides, lone surrogates, cut or garbled text, ...) and by
hypothesis, then fed through parse_runner_output, build_facts, warnings_for and the acs_verdict
filter. No exception may escape, and every string that reaches facts or a message is clean.
"""

from __future__ import annotations

import copy
import json
import random
import re
import typing as t

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.codesign.windows.plugins.filter.acs_verdict import acs_verdict
from ansible_collections.codesign.windows.plugins.plugin_utils._evidence import (
    RunnerOutputError,
    build_facts,
    parse_runner_output,
    warnings_for,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._probes import SUBSETS, build_probes, render_script
from ansible_collections.codesign.windows.plugins.plugin_utils._untrusted import (
    MAX_LIST_ITEMS,
    MAX_STRING_CHARS,
)
from emulator import probe_runner
from emulator.windows import load_fleet

GENERATED = 10_000
HOSTS = ("w2008r2-esu-ready", "w2019-2210", "w2012r2-leastpriv", "win7-noesu")
PROBES = build_probes(SUBSETS)
SCRIPT = render_script(PROBES, timeout_ms=1)
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
HOSTILE_TEXT = [
    "\x1b[31mRED\x1b[0m", "\x1b]0;owned\x07", "\x9b2J", "a\u202eevil\u202c", "\u2066iso\u2069", "\x00nul",
    "\r\rhidden", "\ud800", "\udfff\ud800", "\ufeff", "²", "١٢٣", "𝟗", "KB\u0665\u0660\u0660\u0666\u0667\u0661\u0664",
    "Ａｐｅｘ Ｏｎｅ", "\u0007bell", "x" * 70_000, "\x1bP" + "q" * 100, "'; Remove-Item C:\\ -Recurse",
]
HOSTILE_VALUES: list[t.Any] = [
    None, True, False, 0, -1, 2 ** 64, 10 ** 30, 1.5, -0.0, 1e308, "", "²", "٣", [], {}, [[[]]], {"a": {}},
    ["x"] * 3, {"": None}, *HOSTILE_TEXT,
]

SMALL_VALUES = [value for value in HOSTILE_VALUES if len(json.dumps(value)) < 100]


def _runner_outputs() -> dict[str, str]:
    return {model.name: probe_runner.run(model, SCRIPT, sleep=lambda _seconds: None) for model in load_fleet(HOSTS)}


OUTPUTS = _runner_outputs()
BASELINES = list(OUTPUTS.values())


# ---------------------------------------------------------------------------------------- checks
def _strings(value: t.Any) -> t.Iterator[str]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _assert_clean(value: t.Any) -> None:
    for text in _strings(value):
        assert not UNSAFE.search(text), repr(text[:200])
        assert len(text) <= MAX_STRING_CHARS + 200, len(text)


def feed(rc: t.Any, stdout: t.Any, stderr: t.Any) -> str:
    """Run one host answer through the controller; 'evidence' or 'failed'. Any exception fails the test."""
    try:
        document = parse_runner_output(rc, stdout, stderr)
    except RunnerOutputError as exc:
        _assert_clean(str(exc))
        return "failed"
    facts = build_facts(document, PROBES, list(SUBSETS), {"esu": None, "offline": None})
    _assert_clean(facts)
    for key in ("qfe", "cbs"):
        assert len((facts["hotfixes"] or {}).get(key) or []) <= MAX_LIST_ITEMS
    json.dumps(facts)  # Ansible serialises the facts; nothing in them may refuse
    _assert_clean(warnings_for(facts["errors"]))
    verdict = acs_verdict(facts["evidence"])
    assert verdict["status"]
    json.dumps(verdict)
    return "evidence"


# ---------------------------------------------------------------------------------------- generator
def _paths(value: t.Any, path: tuple = ()) -> t.Iterator[tuple]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, path + (index,))


def _replace(document: t.Any, path: tuple, value: t.Any) -> t.Any:
    value = copy.deepcopy(value)  # shared sample values must not make the document a cycle
    if not path:
        return value
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    return document


DEEP = "\u0000DEEP\u0000"  # placeholder replaced textually: json.dumps itself refuses very deep data


def _structural(rng: random.Random, document: t.Any, paths: list[tuple]) -> t.Any:
    path = rng.choice(paths)
    kind = rng.randrange(9)
    if kind == 0:
        value: t.Any = rng.choice(HOSTILE_VALUES)
    elif kind == 1:
        value = DEEP
    elif kind == 2:
        length = rng.choice([1, 50] * 10 + [MAX_LIST_ITEMS + 5])
        value = [rng.choice(SMALL_VALUES) for _index in range(length)]
    elif kind == 3:
        value = {f"k{index}{rng.choice(HOSTILE_TEXT)[:5]}": index for index in range(rng.choice([3] * 10 + [2500]))}
    elif kind == 4 and path:
        parent = document
        for step in path[:-1]:
            parent = parent[step]
        parent.pop(path[-1])
        return document
    elif kind == 5:  # a numeric-looking string where a number belongs
        value = rng.choice(["²", "١٢", "12\u00b2", " 7 ", "0x10", "-5", "1" * 40, "𝟗𝟗"])
    elif kind == 6:  # the right container with the wrong content
        value = [{"id": rng.choice(HOSTILE_TEXT)[:20], "ok": rng.choice(HOSTILE_VALUES)}] * rng.randrange(1, 4)
    elif kind == 7:
        value = rng.choice(HOSTILE_TEXT) * rng.randrange(1, 3)
    else:
        value = {"items": rng.choice(HOSTILE_VALUES), "values": rng.choice(HOSTILE_VALUES),
                 "exists": rng.choice(HOSTILE_VALUES), "truncated": rng.choice(HOSTILE_VALUES)}
    return _replace(document, path, value)


def _textual(rng: random.Random, text: str) -> str:
    kind = rng.randrange(8)
    position = rng.randrange(len(text) + 1)
    if kind == 0:
        return text[:position]
    if kind == 1:
        return text[:position] + chr(rng.randrange(0, 0x3000)) + text[position + 1:]
    if kind == 2:
        return "\ufeff" + text
    if kind == 3:
        return "noise \x1b[2J\r\n" + text + "\r\ntrailer"
    if kind == 4:
        return text.replace('"acs_runner":1', rng.choice(['"acs_runner":true', '"acs_runner":"1"',
                                                          '"acs_runner":1.0', '"acs_runner":2']))
    if kind == 5:
        return text.replace("1", rng.choice(["NaN", "Infinity", "1e999", "-1e999", "1" * 5000]), 1)
    if kind == 6:
        return text[:position] + "\\ud800" + text[position:]
    return text + text


def hostile_outputs(count: int, seed: int = 7) -> t.Iterator[tuple[t.Any, t.Any, t.Any]]:
    rng = random.Random(seed)
    paths = {text: list(_paths(json.loads(text))) for text in BASELINES}
    for _output in range(count):
        baseline = rng.choice(BASELINES)
        document = json.loads(baseline)
        for _mutation in range(rng.randrange(1, 4)):
            try:
                document = _structural(rng, document, paths[baseline])
            except (LookupError, TypeError, AttributeError):
                pass  # an earlier mutation removed or replaced this path
        text = json.dumps(document, ensure_ascii=rng.random() < 0.5)
        if DEEP in text:
            depth = rng.choice([20, 200, 2000, 100_000])
            text = text.replace(json.dumps(DEEP), "[" * depth + "]" * depth, 1)
        if rng.random() < 0.3:
            text = _textual(rng, text)
        rc = rng.choice([0, 0, 0, 1, 9009, -1, None, "0"])
        stderr = rng.choice(["", "", rng.choice(HOSTILE_TEXT), "#< CLIXML\r\n<S S=\"Error\">\x1b[1mboom_x001B_</S>"])
        stdout = text if rng.random() < 0.9 else text.encode("utf-8", "surrogatepass")
        yield rc, stdout, stderr


# ---------------------------------------------------------------------------------------- tests
def test_the_baselines_are_whole_evidence():
    assert {feed(0, text, "") for text in BASELINES} == {"evidence"}


def test_generated_hostile_outputs_never_raise():
    outcomes = {"evidence": 0, "failed": 0}
    for rc, stdout, stderr in hostile_outputs(GENERATED):
        outcomes[feed(rc, stdout, stderr)] += 1
    assert sum(outcomes.values()) == GENERATED
    assert outcomes["evidence"] > GENERATED // 4 and outcomes["failed"] > GENERATED // 10, outcomes


@pytest.mark.parametrize("depth", [17, 2_000, 1_000_000])
def test_deep_document_fails_the_host_with_a_message(depth):
    text = BASELINES[0].replace('"results":[', '"deep":' + "[" * depth + "]" * depth + ',"results":[')
    with pytest.raises(RunnerOutputError, match=f"nests {depth + 1} levels deep"):
        parse_runner_output(0, text, "")


def test_non_ascii_digit_is_not_a_number():
    text = OUTPUTS["w2019-2210"].replace('"UBR":2210', '"UBR":"\\u00b2"')
    assert '"\\u00b2"' in text
    document = parse_runner_output(0, text, "")
    assert build_facts(document, PROBES, list(SUBSETS))["evidence"]["ubr"] is None


def test_list_where_a_mapping_belongs_costs_only_that_probe():
    document = json.loads(OUTPUTS["w2019-2210"])
    for item in document["results"]:
        if item["id"] == "hotfixes.cbs":
            item["data"] = [item["data"]]
    facts = build_facts(parse_runner_output(0, json.dumps(document), ""), PROBES, list(SUBSETS))
    assert {"probe": "hotfixes.cbs", "subset": "hotfixes", "category": "malformed",
            "message": "the host's answer to this reg_subkeys probe does not have the expected form"} in facts["errors"]
    assert facts["evidence"]["os_version"] == "10.0.17763"


JSON_LEAF = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
             | st.text(max_size=20) | st.sampled_from(HOSTILE_TEXT[:-3]))
JSON_VALUE = st.recursive(JSON_LEAF, lambda children: st.lists(children, max_size=4)
                          | st.dictionaries(st.text(max_size=8), children, max_size=4), max_leaves=12)


@settings(max_examples=1_500, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_hypothesis_values_anywhere_never_raise(data):
    document = json.loads(data.draw(st.sampled_from(BASELINES)))
    paths = list(_paths(document))
    for _replacement in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        try:
            document = _replace(document, path, data.draw(JSON_VALUE))
        except (KeyError, IndexError, TypeError):
            pass  # an earlier replacement removed this path
    feed(0, json.dumps(document), "")


@pytest.mark.parametrize("stdout", [
    "\n" * 5_000_000,  # millions of empty lines
    " " * 2_000_000 + "x",  # one long line of blanks
    '{"acs_runner"' + " " * 2_000_000 + "x",
    "\ufeff" * 100_000,
])
def test_pathological_text_is_read_in_linear_time(stdout):
    with pytest.raises(RunnerOutputError):
        parse_runner_output(0, stdout, "#< CLIXML\r\n" + '<S S="Error">' * 200_000)


def test_a_leading_bom_and_blanks_are_not_the_document():
    text = OUTPUTS["w2019-2210"]
    assert parse_runner_output(0, "\r\n \ufeff " + text, "")["complete"] is True
