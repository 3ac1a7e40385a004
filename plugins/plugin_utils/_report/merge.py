# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One fleet report from the JSON reports of the slices of one job (AWX job slicing, or hand-made slices).

AWX runs a sliced job template as one job per slice, each on part of the inventory, and does not combine
what they leave behind. Each slice writes its own run's JSON (``<basename>-<run_id>.json``); this module
reads those files and gives the host records, the problems and the merge facts from which ``acs_report``
writes one report in every format (docs/report-schema.md, "Merging the slices of a job").

Rules:

* a slice is one run id; two files of one run id are one slice (the newer file is read);
* a host in two slices is reported once: the newest record wins (its ``gathered_at``, else the slice's
  ``generated_at``), except that a record saying ``acs_facts did not run on this host`` never replaces
  one that was gathered; the host gets a warning naming both slices;
* a slice file that is missing, unreadable, of another schema version, truncated or no report is named
  in the result and loses nothing else; so is a host record without a host name;
* with the expected number of slices, fewer readable slices make the merge incomplete; with the expected
  hosts, a host no slice reported is reported as ``failed`` with an error saying so.

Nothing a file holds may raise here: every record is copied within the controller's limits for untrusted
data (plugin_utils/_untrusted.py) before anything reads it.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import glob
import json
import os
import stat
import typing as t
from collections.abc import Mapping

from ansible_collections.codesign.windows.plugins.plugin_utils._gate import GATE_MODES, decide
from ansible_collections.codesign.windows.plugins.plugin_utils._hostnames import natural_key
from ansible_collections.codesign.windows.plugins.plugin_utils._report.model import (
    NOT_GATHERED,
    REPORT_SCHEMA_VERSION,
    normalize_bad_rows,
    normalize_record,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._report.plain import opt_text, text
from ansible_collections.codesign.windows.plugins.plugin_utils._untrusted import Bounded, clean_text

DEFAULT_SLICE_BASENAME = "acs-readiness-slice"
# A slice report of 50,000 hosts is a few hundred MB; a file beyond this is not one of ours.
MAX_SLICE_BYTES = 2 * 1024 ** 3
# Lists in the merge facts (run.merge) stop here; the counts are always whole.
LIST_CAP = 200
# The run fields every slice should share; when they differ, the merged report says so.
SHARED_RUN_FIELDS = ("policy_21h2", "gate_mode", "catalog_version", "collection_version", "agent_package")
# The variable AWX sets on every job of a workflow, the slices of a sliced job among them.
GROUP_FIELD = "awx_workflow_job_id"
NOT_REPORTED = "no slice reported this host"


class MergeError(ValueError):
    """Nothing could be merged: no slice report was found or none could be read."""


def _utc(value: t.Any) -> datetime.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def _group_of(run: t.Mapping[str, t.Any]) -> str | None:
    value = run.get(GROUP_FIELD)
    if value is None or value == "" or isinstance(value, (dict, list, bool)):
        return None
    return clean_text(value, 200)


def find_slice_files(directory: t.Any, basename: str = DEFAULT_SLICE_BASENAME) -> list[str]:
    """The run JSON files ``<basename>-<run_id>.json`` in ``directory``, sorted by name (not read yet)."""
    target = os.path.abspath(os.fspath(directory))
    prefix = f"{basename}-"
    try:
        with os.scandir(target) as entries:
            return sorted(entry.path for entry in entries
                          if entry.name.startswith(prefix) and entry.name.endswith(".json") and not entry.name.startswith("."))
    except OSError:
        return []


def _read(path: str) -> dict[str, t.Any]:
    """A slice report, its run and hosts copied within the untrusted-data limits. ValueError saying why not."""
    try:
        # Non-blocking, and only a regular file is read: a FIFO or a device planted in a shared directory
        # must not hang the merge or feed it without end.
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
        try:
            info = os.fstat(handle)
            if stat.S_ISDIR(info.st_mode):
                raise IsADirectoryError(errno.EISDIR, "is a directory")
            if not stat.S_ISREG(info.st_mode):
                raise ValueError("it is not a regular file")
            if info.st_size > MAX_SLICE_BYTES:
                raise ValueError(f"it is {info.st_size:,} bytes; a slice report is at most {MAX_SLICE_BYTES:,}")
            with os.fdopen(os.dup(handle), "rb") as stream:
                raw = stream.read(MAX_SLICE_BYTES + 1)
        finally:
            os.close(handle)
    except FileNotFoundError:
        raise ValueError("the file is missing") from None
    except IsADirectoryError:
        raise ValueError("it is a directory, not a report") from None
    except OSError as exc:
        raise ValueError(f"it cannot be read: {exc.strerror or exc}") from None
    if len(raw) > MAX_SLICE_BYTES:
        raise ValueError(f"it is more than {MAX_SLICE_BYTES:,} bytes; a slice report is at most that")
    if not raw.strip():
        raise ValueError("the file is empty (a slice that did not finish writing?)")
    try:
        document = json.loads(raw.decode("utf-8-sig"), parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise ValueError("it is not UTF-8 text") from None
    except RecursionError:
        raise ValueError("its JSON nests too deeply") from None
    except ValueError as exc:
        raise ValueError(f"it is not complete JSON (truncated?): {clean_text(exc, 200)}") from None
    if not isinstance(document, dict):
        raise ValueError("it holds no JSON object, so it is no report")
    version = document.get("schema_version")
    if type(version) is not int or version != REPORT_SCHEMA_VERSION:  # pylint: disable=unidiomatic-typecheck
        raise ValueError(f"it is not a report of schema version {REPORT_SCHEMA_VERSION} "
                         f"(schema_version {clean_text(repr(version), 40)})")
    run, hosts = document.get("run"), document.get("hosts")
    if not isinstance(run, dict) or not isinstance(hosts, list):
        raise ValueError("it is not a report: it has no run or no hosts list")
    try:
        run = Bounded().copy(run)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"its run section cannot be read: {clean_text(exc, 200)}") from None
    if isinstance(run.get("merge"), Mapping):
        raise ValueError("it is a merged fleet report, not the report of one slice")
    run_id = run.get("run_id")
    if not isinstance(run_id, str) or not run_id:
        raise ValueError("its run has no run_id")
    return {"run": run, "hosts": hosts, "bad_rows": document.get("bad_rows")}


def _no_constant(name: str) -> t.NoReturn:
    raise ValueError(f"{name} is not a number JSON allows")


def _record_time(record: t.Mapping[str, t.Any], slice_time: datetime.datetime) -> datetime.datetime:
    return _utc(record.get("gathered_at")) or slice_time


def _not_gathered(record: t.Mapping[str, t.Any]) -> bool:
    return record.get("status") == "failed" and str(record.get("error") or "").startswith(NOT_GATHERED)


def _newer(candidate: dict[str, t.Any], kept: dict[str, t.Any]) -> bool:
    """Whether ``candidate`` (a host record with its slice) replaces ``kept`` for the same host."""
    if _not_gathered(candidate["record"]) != _not_gathered(kept["record"]):
        return _not_gathered(kept["record"])
    return (candidate["time"], candidate["order"]) > (kept["time"], kept["order"])


def _capped(items: list[t.Any]) -> list[t.Any]:
    return items[:LIST_CAP]


def merge_slices(paths: t.Iterable[t.Any], *, expected_slices: int | None = None,
                 expected_hosts: t.Iterable[t.Any] | None = None, group: t.Any = None,
                 named: bool = False, gate_mode: str = "off", label: str = "the slice reports") -> dict[str, t.Any]:
    """Merge the slice reports at ``paths``.

    ``group`` keeps only the slices of that AWX workflow job (``run.awx_workflow_job_id``); without it and
    without ``named`` (the caller named the files), the group of the newest slice is taken. ``expected_slices``
    and ``expected_hosts`` say what a complete merge holds. Returns ``records`` (host records for
    build_document), ``bad_rows`` (the slices' own and one per problem, for every format to show), ``run``
    (the fields the slices share) and ``merge`` (the facts of the merge: docs/report-schema.md ``run.merge``).
    MergeError when no slice could be read.
    """
    problems: list[dict[str, t.Any]] = []
    warnings: list[str] = []

    def problem(path: str | None, message: str, host: str | None = None) -> None:
        problems.append({"file": path, "row": None, "column": None, "message": message, "host": host})
        warnings.append(f"{path}: {message}" if path else message)

    readable = []
    for path in dict.fromkeys(os.path.abspath(os.fspath(path)) for path in paths):
        try:
            read = _read(path)
        except ValueError as exc:
            problem(path, f"slice report not merged: {exc}; the hosts of this slice are not in the fleet report")
            continue
        read["path"] = path
        read["time"] = _utc(read["run"].get("generated_at"))
        if read["time"] is None:
            with contextlib.suppress(OSError):
                read["time"] = datetime.datetime.fromtimestamp(os.stat(path).st_mtime, datetime.timezone.utc)
        read["time"] = read["time"] or _EPOCH
        read["group"] = _group_of(read["run"])
        readable.append(read)

    wanted_group = None if group is None or group == "" else clean_text(group, 200)
    if wanted_group is None and not named and readable:
        newest = max(readable, key=lambda read: (read["time"], read["path"]))
        wanted_group = newest["group"]
        if wanted_group is None:
            raise MergeError(f"the newest slice report {newest['path']} names no AWX workflow job "
                             f"({GROUP_FIELD}), so the other slices of its job cannot be told apart from older "
                             "ones: name the slice files, or the group")
    if wanted_group is not None:
        others = [read for read in readable if read["group"] != wanted_group]
        readable = [read for read in readable if read["group"] == wanted_group]
        if named:
            for read in others:
                problem(read["path"], f"slice report not merged: it belongs to another job ({GROUP_FIELD} "
                                      f"{read['group']!r:.60}, not {wanted_group!r:.60})")
    elif len({read["group"] for read in readable}) > 1:
        groups = sorted({str(read["group"]) for read in readable})
        warnings.append(f"the named slice reports come from different jobs ({GROUP_FIELD} {', '.join(groups)}); "
                        "they are merged as named")

    # One run id is one slice: of two files of one run (the run's JSON and a copy), the newer is read.
    by_run: dict[str, dict[str, t.Any]] = {}
    for read in sorted(readable, key=lambda read: (read["time"], read["path"])):
        run_id = read["run"]["run_id"]
        if run_id in by_run:
            warnings.append(f"{by_run[run_id]['path']} and {read['path']} are the same slice (run {run_id}); "
                            f"the newer, {read['path']}, is merged")
        by_run[run_id] = read
    slices = sorted(by_run.values(), key=lambda read: (read["time"], read["path"]))
    if not slices:
        where = "; ".join(f"{item['file']}: {item['message']}" for item in problems) or "no slice report was found"
        raise MergeError(f"no slice report could be merged: {where}")

    chosen: dict[str, dict[str, t.Any]] = {}
    duplicates: dict[str, list[dict[str, t.Any]]] = {}
    bad_rows: list[dict[str, t.Any]] = []
    summaries = []
    unreadable_records = 0
    for order, read in enumerate(slices):
        hosts_here = 0
        for index, raw in enumerate(read["hosts"]):
            try:
                record = normalize_record(index, Bounded().copy(raw))
            except (ValueError, RecursionError) as exc:
                problem(read["path"], f"host record {index} not merged: {clean_text(exc, 300)}")
                unreadable_records += 1
                continue
            hosts_here += 1
            entry = {"record": record, "path": read["path"], "run_id": read["run"]["run_id"],
                     "time": _record_time(record, read["time"]), "order": order}
            host = record["host"]
            if host in chosen:
                duplicates.setdefault(host, [chosen[host]]).append(entry)
                if _newer(entry, chosen[host]):
                    chosen[host] = entry
            else:
                chosen[host] = entry
        try:
            bad_rows += normalize_bad_rows(Bounded().copy(read["bad_rows"]) if read["bad_rows"] is not None else None)
        except (ValueError, RecursionError) as exc:
            problem(read["path"], f"its bad_rows were not merged: {clean_text(exc, 300)}")
        summaries.append({"file": read["path"], "run_id": read["run"]["run_id"],
                          "awx_job_id": read["run"].get("awx_job_id"), "generated_at": opt_text(read["run"].get("generated_at")),
                          "hosts": hosts_here})

    duplicate_notes = []
    for host, entries in sorted(duplicates.items(), key=lambda item: natural_key(item[0])):
        kept = chosen[host]
        others = [entry for entry in entries if entry is not kept]
        seen = "; ".join(f"{entry['path']} (run {entry['run_id']}, {entry['record']['status']})" for entry in others)
        note = (f"acs_report: {host} has {len(entries)} records in the slices; the newest record, from {kept['path']} "
                f"(run {kept['run_id']}, {kept['record']['status']}), is reported; also in {seen}")
        kept["record"]["warnings"] = list(kept["record"]["warnings"]) + [note]
        duplicate_notes.append({"host": host, "kept": kept["path"], "also_in": [entry["path"] for entry in others]})
    if duplicate_notes:
        warnings.append(f"{len(duplicate_notes)} hosts are in more than one slice; each is reported once, from "
                        f"its newest record (first: {duplicate_notes[0]['host']})")

    run = _shared_run(slices, warnings)
    mode = run.get("gate_mode") if run.get("gate_mode") in GATE_MODES else gate_mode
    not_reported = []
    for host in dict.fromkeys(clean_text(host, 400) for host in (expected_hosts or []) if isinstance(host, str) and host):
        if host not in chosen:
            not_reported.append(host)
            error = f"{NOT_REPORTED}: its slice report is missing or could not be read"
            chosen[host] = {"record": normalize_record(0, {
                "host": host, "status": "failed", "error": error, "verdict": None, "evidence": None,
                "warnings": [], "gate": decide(mode, "failed", False, error), "gathered_at": None})}
    if not_reported:
        warnings.append(f"{len(not_reported)} hosts of the inventory are in no slice report; they are reported as "
                        f"failed (first: {not_reported[0]})")

    bad_files = [item for item in problems if item["file"] and item["message"].startswith("slice report not merged")]
    # A slice whose file could not be read is counted there; missing are the slices without any file.
    missing = max(expected_slices - len(slices) - len(bad_files), 0) if expected_slices is not None else None
    if expected_slices is not None and len(slices) > expected_slices:
        warnings.append(f"{len(slices)} slices were merged, more than the {expected_slices} expected")
    if expected_slices is None:
        warnings.append("the number of slices expected was not given (acs_merge_expected_slices, the job template's "
                        "slice count): a missing slice cannot be detected")
    if missing:
        problem(label, f"{missing} of {expected_slices} slices have no report file; their hosts are not in the fleet "
                "report")
    # A host record that could not be read is a host lost: the report is not complete either.
    lost = bool(bad_files or not_reported or unreadable_records)
    complete = None if expected_slices is None else (len(slices) >= expected_slices and not lost)
    if complete is None and lost:
        complete = False
    merge = {
        "group": wanted_group,
        "expected_slices": expected_slices,
        "merged_slices": len(slices),
        "missing_slices": missing,
        "complete": complete,
        "slices": summaries,
        "bad_files": _capped([{"file": item["file"], "problem": item["message"]} for item in bad_files]),
        "bad_file_count": len(bad_files),
        "duplicate_hosts": len(duplicate_notes),
        "duplicates": _capped(duplicate_notes),
        "unreadable_host_records": unreadable_records,
        "hosts_not_reported": len(not_reported),
        "not_reported": _capped(sorted(not_reported, key=natural_key)),
    }
    merge["notice"] = merge_notice(merge)
    return {"records": [entry["record"] for entry in chosen.values()], "bad_rows": bad_rows + problems,
            "run": run, "merge": merge, "warnings": warnings}


def _shared_run(slices: list[dict[str, t.Any]], warnings: list[str]) -> dict[str, t.Any]:
    """The run fields the slices share; a field they disagree on is taken from the newest slice, with a warning."""
    shared = {}
    for field in SHARED_RUN_FIELDS:
        values = [read["run"].get(field) for read in slices]
        distinct = {json.dumps(value, sort_keys=True, default=str) for value in values}
        if len(distinct) > 1:
            shown = ", ".join(sorted(text(value)[:60] if not isinstance(value, Mapping) else "(inspected package)"
                                     for value in {json.dumps(v, sort_keys=True, default=str): v for v in values}.values()))
            warnings.append(f"the slices differ in {field} ({shown}); the merged report gives the newest slice's")
        shared[field] = values[-1]
    return shared


def _count(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"


def merge_notice(merge: t.Mapping[str, t.Any]) -> str:
    """One line on how complete the merged report is, for the top of every human-readable format."""
    merged = merge.get("merged_slices")
    expected = merge.get("expected_slices")
    parts = []
    if expected is None:
        parts.append(f"Merged from {merged} slice reports; the number of slices expected was not given, so a "
                     "missing slice cannot be detected")
    else:
        parts.append(f"Merged from {merged} of {expected} slice reports")
    if merge.get("missing_slices"):
        parts.append(_count(merge["missing_slices"], "slice", "slices") + " missing")
    if merge.get("bad_file_count"):
        parts.append(_count(merge["bad_file_count"], "slice file", "slice files") + " could not be read")
    if merge.get("unreadable_host_records"):
        parts.append(_count(merge["unreadable_host_records"], "host record", "host records") + " could not be read")
    if merge.get("hosts_not_reported"):
        parts.append(_count(merge["hosts_not_reported"], "host", "hosts") + " of the inventory in no slice report")
    if merge.get("duplicate_hosts"):
        parts.append(_count(merge["duplicate_hosts"], "host", "hosts") + " in more than one slice (newest record kept)")
    prefix = "INCOMPLETE: " if merge.get("complete") is False else ""
    return prefix + "; ".join(parts) + "."


def _expand(files: t.Iterable[t.Any]) -> list[str]:
    """The named files, each pattern with ``*``, ``?`` or ``[`` replaced by the files it matches (sorted). A
    pattern that matches nothing stays as it is, so that it is reported as a missing file."""
    paths: list[str] = []
    for name in files:
        name = os.fspath(name)
        matches = sorted(glob.glob(name)) if any(char in name for char in "*?[") else []
        paths += matches or [name]
    return paths


def merge_files(files: t.Iterable[t.Any] | None, directory: t.Any, basename: str = DEFAULT_SLICE_BASENAME,
                **options: t.Any) -> dict[str, t.Any]:
    """merge_slices over the named ``files`` (patterns such as ``/reports/acs-readiness-slice-night1-*.json``
    are expanded), or over the slice files of ``directory`` (find_slice_files)."""
    named = files is not None and len(list(files)) > 0
    paths = _expand(files) if named else find_slice_files(directory, basename)
    if not paths:
        raise MergeError(f"no slice report {basename}-<run_id>.json in {os.path.abspath(os.fspath(directory))}: "
                         f"give the slices acs_readiness_report_basename: {basename}, or name the files")
    label = "the named slice reports" if named else os.path.join(os.path.abspath(os.fspath(directory)), f"{basename}-*.json")
    return merge_slices(paths, named=named, label=label, **options)


__all__ = ["DEFAULT_SLICE_BASENAME", "MergeError", "find_slice_files", "merge_files", "merge_notice", "merge_slices"]
