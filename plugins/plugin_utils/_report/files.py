# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report files: where they live, how a run's batches merge into them, and how a set is replaced.

Serial batches, AWX slices and parallel playbook runs may write into one directory at once. Each
writer takes an exclusive lock (``.<basename>.lock`` in the directory), reads the JSON report, merges
its hosts in and writes the new set, so that no writer's hosts are lost. The set of files is replaced
together or not at all: every format is first written in full to a temporary file in the same
directory, and only then is each renamed over the old one; a failure before the renames (a full
disk) removes the temporary files and leaves the old set as it was.

The lock is ``flock``: reliable on a local file system. On NFS it is emulated with POSIX locks
where the server supports them and is unreliable otherwise: do not let two runs write into one
NFS directory at the same time.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import tempfile
import time
import typing as t

from ansible_collections.codesign.windows.plugins.plugin_utils._report.csv_report import render_csv
from ansible_collections.codesign.windows.plugins.plugin_utils._report.html_report import render_html
from ansible_collections.codesign.windows.plugins.plugin_utils._report.json_report import render_json
from ansible_collections.codesign.windows.plugins.plugin_utils._report.markdown_report import render_markdown
from ansible_collections.codesign.windows.plugins.plugin_utils._report.model import (
    REPORT_SCHEMA_VERSION,
    build_document,
    comparison_basis,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._report.plain import mapping, unique, without_cycle_collection

FORMATS = ("json", "csv", "html", "md")
DEFAULT_BASENAME = "acs-readiness"
LOCK_TIMEOUT = 300.0
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_RUN_ID_CHARS = 80


class ReportLockTimeout(OSError):
    """Another writer held the report directory's lock for longer than the timeout."""


def _check_basename(basename: t.Any) -> str:
    if (not isinstance(basename, str) or not basename or basename in (".", "..") or "/" in basename or "\\" in basename
            or "\0" in basename):
        raise ValueError(f"basename must be a plain file name without a directory, got {basename!r}")
    return basename


def report_path(directory: t.Any, fmt: str, basename: str = DEFAULT_BASENAME) -> str:
    return os.path.join(os.path.abspath(os.fspath(directory)), f"{_check_basename(basename)}.{fmt}")


def run_id_file_part(run_id: t.Any) -> str:
    """The run id as part of a file name: letters, digits, '.', '_' and '-' only, never hidden.

    A run id that had to be changed gets a short digest of the original, so two run ids never share
    a file.
    """
    original = str(run_id)
    safe = _UNSAFE_NAME.sub("_", original).lstrip(".")[:_RUN_ID_CHARS] or "run"
    if safe != original:
        safe += "-" + hashlib.sha256(original.encode("utf-8", "backslashreplace")).hexdigest()[:10]
    return safe


def run_json_path(directory: t.Any, run_id: t.Any, basename: str = DEFAULT_BASENAME) -> str:
    """Where a run's JSON report is kept for later comparison: ``<basename>-<run_id>.json``."""
    return os.path.join(os.path.abspath(os.fspath(directory)), f"{_check_basename(basename)}-{run_id_file_part(run_id)}.json")


def _slim_host_record(item: dict[str, t.Any]) -> dict[str, t.Any]:
    """json's object_hook (every object, innermost first): a host record as the comparison reads it.

    Its evidence and verdict are dropped as soon as the record is read, so that a report of 50,000 hosts
    is never whole in memory when only names and statuses are wanted (model.comparison_basis).
    """
    if "host" not in item or ("verdict" not in item and "evidence" not in item):
        return item  # not a host record: the run's agent package has a verdict too
    verdict = item.get("verdict")
    return {"host": item.get("host"), "status": item.get("status"), "error": item.get("error"),
            "verdict": {"status": verdict.get("status")} if isinstance(verdict, dict) else verdict}


def read_report(path: t.Any, *, for_comparison: bool = False) -> dict[str, t.Any]:
    """A JSON report of this collection's schema; ValueError (or OSError) saying why a file is none.

    ``for_comparison`` reads only what comparing with it needs: the run and each host's name and status.
    """
    with open(path, "rb") as handle:
        try:
            document = json.loads(handle.read().decode("utf-8-sig"), object_hook=_slim_host_record if for_comparison else None)
        except (ValueError, RecursionError) as exc:
            raise ValueError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ValueError(f"{path} is not a report: it holds no JSON object")
    version = document.get("schema_version")
    if type(version) is not int or version != REPORT_SCHEMA_VERSION:  # pylint: disable=unidiomatic-typecheck
        raise ValueError(f"{path} is not a report of schema version {REPORT_SCHEMA_VERSION} (schema_version {version!r:.40})")
    if not isinstance(document.get("run"), dict) or not isinstance(document.get("hosts"), list):
        raise ValueError(f"{path} is not a report: it has no run or no hosts list")
    return comparison_basis(document) if for_comparison else document


_HEAD_BYTES = 1 << 16
# How render_json starts every report: the schema version, then the run.
_HEAD = re.compile(r'\{\s*"schema_version":\s*1,\s*"run":\s*')
_UNKNOWN = object()


def _run_id_at_head(path: str) -> t.Any:
    """The run id of a report read from its first bytes, or _UNKNOWN when they do not show it plainly."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(_HEAD_BYTES).decode("utf-8-sig", "ignore")
        match = _HEAD.match(head)
        run, _end = json.JSONDecoder().raw_decode(head, match.end()) if match else (None, 0)
    except (OSError, ValueError, RecursionError):
        return _UNKNOWN
    return run.get("run_id", _UNKNOWN) if isinstance(run, dict) else _UNKNOWN


def read_previous(directory: t.Any, basename: str = DEFAULT_BASENAME, run_id: t.Any = _UNKNOWN) -> dict[str, t.Any] | None:
    """The JSON report already in ``directory`` when this collection's schema can merge with it; otherwise None.

    With ``run_id``, a report whose first bytes show another run is not read at all (None): only a batch of
    the same run merges with it, and another night's report of 50,000 hosts is some 500 MB once parsed.
    """
    try:
        path = report_path(directory, "json", basename)
        if run_id is not _UNKNOWN:
            found = _run_id_at_head(path)
            if found is not _UNKNOWN and found != run_id:
                return None
        return read_report(path)
    except (OSError, ValueError, TypeError):
        return None


def find_baseline(directory: t.Any, run_id: t.Any, basename: str = DEFAULT_BASENAME,
                  path: t.Any = None, *, for_comparison: bool = False) -> dict[str, t.Any] | None:
    """The earlier run to compare with: ``{"document", "path"}``, or None when there is none.

    With ``path``, that report (ValueError or OSError when it cannot be read). Otherwise the newest
    ``<basename>-<run_id>.json`` of another run in ``directory`` (by modification time) that is a
    report and whose run id names the file: a file of another basename that happens to match the
    pattern is skipped, and so is an unreadable one. ``for_comparison``: the document holds only what the
    comparison reads (read_report).
    """
    if path is not None:
        path = os.path.abspath(os.fspath(path))
        try:
            return {"document": read_report(path, for_comparison=for_comparison), "path": path}
        except OSError as exc:
            raise ValueError(f"cannot read the previous report {path}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise ValueError(f"the previous report: {exc}") from None
    target = os.path.abspath(os.fspath(directory))
    own = run_json_path(target, run_id, basename)
    prefix = f"{_check_basename(basename)}-"
    candidates = []
    try:
        with os.scandir(target) as entries:
            for entry in entries:
                if entry.name.startswith(prefix) and entry.name.endswith(".json") and entry.path != own:
                    with contextlib.suppress(OSError):
                        candidates.append((entry.stat().st_mtime_ns, entry.path))
    except OSError:
        return None
    for _mtime, candidate in sorted(candidates, reverse=True):
        try:
            document = read_report(candidate, for_comparison=for_comparison)
        except (OSError, ValueError, TypeError):
            continue
        earlier_id = mapping(document.get("run")).get("run_id")
        if isinstance(earlier_id, str) and earlier_id and earlier_id != run_id \
                and run_json_path(target, earlier_id, basename) == candidate:
            return {"document": document, "path": candidate}
    return None


@contextlib.contextmanager
def report_lock(directory: t.Any, basename: str = DEFAULT_BASENAME, timeout: float = LOCK_TIMEOUT) -> t.Iterator[None]:
    """Hold the report directory's lock for ``basename``: one writer at a time reads, merges and writes."""
    path = os.path.join(os.path.abspath(os.fspath(directory)), f".{_check_basename(basename)}.lock")
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    raise ReportLockTimeout(errno.ETIMEDOUT, f"another run kept the report lock {path} for "
                                                             f"{timeout:.0f} s") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(handle)  # closing the descriptor releases the lock


def _unchanged(path: str, data: bytes) -> bool:
    try:
        if os.stat(path).st_size != len(data):
            return False
        with open(path, "rb") as handle:
            return handle.read() == data
    except OSError:
        return False


def _write_temp(path: str, data: bytes) -> str:
    directory, name = os.path.split(path)
    handle, temp_path = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp_path, 0o644)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_path)
        raise
    return temp_path


def _sync_directory(directory: str) -> None:
    with contextlib.suppress(OSError):
        directory_handle = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(directory_handle)
        finally:
            os.close(directory_handle)


def replace_files(contents: t.Mapping[str, bytes], stale: t.Iterable[str] = ()) -> None:
    """Replace every file of ``contents`` ({path: bytes}), all of them or none; then remove ``stale`` files.

    All temporary files are written first; a failure there (a full disk) removes them and leaves
    every old file as it was. A file whose content would not change is left alone, so a re-run is
    not a change.
    """
    changed = {path: data for path, data in contents.items() if not _unchanged(path, data)}
    temp_paths: dict[str, str] = {}
    try:
        for path, data in changed.items():
            temp_paths[path] = _write_temp(path, data)
        for path, temp_path in temp_paths.items():
            os.replace(temp_path, path)
    finally:
        for temp_path in temp_paths.values():
            with contextlib.suppress(OSError):
                os.unlink(temp_path)
    removed = []
    for path in stale:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
            removed.append(path)
    for directory in unique(os.path.dirname(path) for path in [*changed, *removed]):
        _sync_directory(directory)


def _wanted_formats(formats: t.Any) -> list[str]:
    wanted = [formats] if isinstance(formats, str) else list(formats)
    unknown = [fmt for fmt in wanted if fmt not in FORMATS]
    if unknown or not wanted:
        raise ValueError(f"formats must be among {', '.join(FORMATS)}, got {', '.join(map(repr, unknown)) or 'none'}")
    return unique(wanted)


def render_files(document: t.Any, directory: t.Any, formats: t.Any = FORMATS,
                 basename: str = DEFAULT_BASENAME) -> tuple[dict[str, str], dict[str, bytes]]:
    """({format: path}, {path: bytes}) for the document; also the run's own JSON when it has a run id."""
    wanted = _wanted_formats(formats)
    _check_basename(basename)
    paths = {fmt: report_path(directory, fmt, basename) for fmt in wanted}
    renderers: dict[str, t.Callable[[t.Any], str]] = {
        "json": render_json, "csv": render_csv, "html": render_html,
        "md": lambda doc: render_markdown(doc, paths=paths)}
    # Everything is rendered before anything is written: a bad document leaves the old reports whole.
    contents = {paths[fmt]: renderers[fmt](document).encode("utf-8", "backslashreplace") for fmt in wanted}
    run_id = mapping(mapping(document).get("run")).get("run_id")
    if "json" in wanted and isinstance(run_id, str) and run_id:
        contents[run_json_path(directory, run_id, basename)] = contents[paths["json"]]
    return paths, contents


def write_reports(document: t.Any, directory: t.Any, formats: t.Any = FORMATS,
                  basename: str = DEFAULT_BASENAME, replaces_run: bool = False) -> dict[str, str]:
    """Write the document in each format to ``directory/basename.<format>``, all or none; return {format: path}.

    With the JSON format, the run's JSON is also kept as ``<basename>-<run_id>.json``. When the document
    ``replaces_run`` (another run wrote the files there), the formats not written this time are removed:
    they belong to the other run.
    """
    paths, contents = render_files(document, directory, formats, basename)
    os.makedirs(os.path.dirname(paths[next(iter(paths))]), exist_ok=True)
    stale = [report_path(directory, fmt, basename) for fmt in FORMATS if fmt not in paths] if replaces_run else []
    replace_files(contents, stale)
    return paths


@without_cycle_collection()
def update_reports(records: t.Any, run: t.Any, directory: t.Any, formats: t.Any = FORMATS,
                   basename: str = DEFAULT_BASENAME, lock_timeout: float = LOCK_TIMEOUT, *,
                   compare: bool = False, previous_report: t.Any = None, bad_rows: t.Any = None
                   ) -> tuple[dict[str, t.Any], dict[str, str]]:
    """Merge ``records`` into the run's report in ``directory`` under the lock and write it: (document, paths).

    The JSON report is read back even when this call does not write JSON, so that batches of one run
    always add up; without a JSON report only this call's hosts are written. With ``compare``, the
    document's ``changes`` compare it with ``previous_report`` (a path) or the newest earlier run's JSON
    in ``directory`` (find_baseline); ``bad_rows`` are listed in the document.
    """
    _wanted_formats(formats)
    _check_basename(basename)
    target = os.path.abspath(os.fspath(directory))
    os.makedirs(target, exist_ok=True)
    with report_lock(target, basename, lock_timeout):
        run_id = mapping(run).get("run_id")
        previous = read_previous(target, basename, run_id)
        same_run = previous is not None and mapping(previous.get("run")).get("run_id") == run_id
        if not same_run:
            # Another run's report is not merged (build_document would ignore it): let it go before the
            # baseline is read, so that two large reports are never in memory at once.
            previous = None
        baseline = find_baseline(target, run_id, basename, previous_report, for_comparison=True) if compare else None
        document = build_document(records, run, previous, baseline=baseline, bad_rows=bad_rows)
        paths = write_reports(document, target, formats, basename, replaces_run=not same_run)
    return document, paths
