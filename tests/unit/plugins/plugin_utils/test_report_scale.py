"""What keeps a report of 50,000 hosts linear: no copy of what is plain already, no cycle collection while building."""

from __future__ import annotations

import copy
import gc
import json
import math
import pathlib
from collections.abc import Mapping

import pytest

from ansible_collections.codesign.windows.plugins.plugin_utils import _report
from ansible_collections.codesign.windows.plugins.plugin_utils._report.plain import is_plain, plain, shared_plain

DATA = pathlib.Path(__file__).parent / "data" / "report_records.json"
RUN = {"run_id": "scale", "generated_at": "2026-11-22T03:10:00Z"}


class Text(str):
    """A str subclass, as Ansible's tagged and unsafe values are."""


@pytest.mark.parametrize("value", [
    "ascii", "non-ascii é", None, True, 0, 1.5, [], {}, {"a": [1, "b", {"c": None}]}, [[[["deep"]]]],
])
def test_plain_values_are_recognised(value):
    assert is_plain(value) and plain(value) == value


@pytest.mark.parametrize("value", [
    ("a", "tuple"), {1: "int key"}, {"a": {"b": ("nested", "tuple")}}, {"s": {1, 2}}, b"bytes", float("nan"),
    {"f": float("inf")}, "lone surrogate \udcff", {"k": Text("subclass")}, [Text("subclass")], {Text("k"): 1},
])
def test_values_plain_would_change_are_not(value):
    assert not is_plain(value)


def test_nesting_beyond_the_depth_limit_is_not_plain():
    deep: list = []
    for _round in range(80):
        deep = [deep, 1.5]
    assert not is_plain(deep)
    assert plain(deep) != deep   # plain writes the innermost levels as text


def test_shared_plain_keeps_plain_parts_and_copies_the_rest():
    verdict = {"status": "ready", "reasons": ["fine"]}
    evidence = {"hotfixes": ("KB1", "KB2"), "os": {"name": "Windows"}}
    record = {"host": "web01", "verdict": verdict, "evidence": evidence, "ratio": float("nan")}
    shared = shared_plain(record)
    assert shared == plain(record)
    assert shared is not record and shared["verdict"] is verdict, "a plain verdict is kept, not copied"
    assert shared["evidence"] is not evidence and shared["evidence"]["hotfixes"] == ["KB1", "KB2"]
    assert shared["ratio"] == "nan" and math.isnan(record["ratio"])


def test_the_document_equals_one_built_from_copies():
    """Sharing the records' plain parts changes nothing the report says, and the records are left as they were."""
    records = json.loads(DATA.read_text(encoding="utf-8"))
    records[0]["evidence"] = {"tuple": ("a", "b"), "set": {"x"}}
    untouched = copy.deepcopy(records)
    document = _report.build_document(records, RUN)
    assert records == untouched
    assert _report.render_json(document) == _report.render_json(_report.build_document(untouched, RUN))
    assert document["hosts"][0] is not records[0]


class Probe(Mapping):
    """A host record that notes, each time it is read, whether the cycle collector was on."""

    seen: list[bool] = []

    def __init__(self, data):
        self._data = data

    def __getitem__(self, key):
        Probe.seen.append(gc.isenabled())
        return self._data[key]

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return len(self._data)


@pytest.mark.parametrize("step", ["build", "json", "csv", "html", "md"])
def test_no_cycle_collection_while_the_report_is_built_or_written(step):
    """The collector's passes over every object alive made the document grow faster than the fleet."""
    sample = json.loads(DATA.read_text(encoding="utf-8"))
    probe = Probe(next(record for record in sample if record["status"] == "needs_kb"))
    Probe.seen = []
    if step == "build":
        _report.build_document([probe], RUN)
    else:
        # A plain dict, not build_document's: the writers read every host record themselves.
        document = {"schema_version": 1, "run": RUN, "hosts": [probe], "unserializable": probe}
        render = {"json": _report.render_json, "csv": _report.render_csv, "html": _report.render_html,
                  "md": _report.render_markdown}[step]
        render(document)
    assert Probe.seen and not any(Probe.seen)
    assert gc.isenabled(), "the collector runs again afterwards"


def test_one_report_write_is_one_pause(tmp_path):
    """update_reports builds and writes in one pause: no collection between the document and its files."""
    sample = json.loads(DATA.read_text(encoding="utf-8"))
    records = [{**sample[index % len(sample)], "host": f"host-{index}"} for index in range(3_000)]
    collections = []

    def count(phase, _info):
        if phase == "start":
            collections.append(1)

    gc.callbacks.append(count)
    try:
        _report.update_reports(records, RUN, tmp_path)
    finally:
        gc.callbacks.remove(count)
    # At most the one that the first allocation after the pause starts, here in the test.
    assert len(collections) <= 1
    assert gc.isenabled()


def test_a_failed_build_leaves_the_collector_on():
    with pytest.raises(ValueError):
        _report.build_document([{"host": ""}], RUN)
    assert gc.isenabled()
