# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Evidence records from export files (ConfigMgr, WSUS, a CMDB, evidence CSV/JSON), without touching a host.

``read_exports`` is the one entry point: sources in; per host an evidence record (the ``acs_verdict``
contract, docs/verdict.md) with notes on what the export lacks and the errors of its rows; and every
bad row, named by file, row and column. It raises only for the caller's own configuration
(``MappingError``: an unknown format, a malformed mapping), never for a file's content.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from ansible_collections.codesign.windows.plugins.plugin_utils._exports._assemble import CONSEQUENCES, Assembler
from ansible_collections.codesign.windows.plugins.plugin_utils._exports._layouts import (
    EVIDENCE_FIELDS,
    FIELDS,
    FORMATS,
    MappingError,
    choose_layout,
    parse_mapping,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._exports._tables import Problem, read_table

__all__ = ["CONSEQUENCES", "DEFAULT_MAX_FILE_SIZE", "EVIDENCE_FIELDS", "FIELDS", "FORMATS", "ExportSource",
           "MappingError", "parse_mapping", "read_exports"]

# 10,000 hosts of evidence CSV are about 2 MB; a WSUS export with a row per (host, update) is the
# largest kind, some 100 bytes a row. 256 MiB holds two million such rows and still fits in memory.
DEFAULT_MAX_FILE_SIZE = 256 * 1024 * 1024


@dataclass(frozen=True)
class ExportSource:
    """One file to read: where it is, how messages name it, its format and its mapping (parsed)."""

    path: str
    display: str | None = None
    format: str = "auto"
    mapping: dict[str, t.Any] | None = None


def read_exports(sources: t.Sequence[ExportSource], max_file_size: int = DEFAULT_MAX_FILE_SIZE) -> dict[str, t.Any]:
    """Read every source; return records (host -> record), bad_rows, files and warnings."""
    assembler = Assembler()
    files: list[dict[str, t.Any]] = []
    warnings: list[str] = []
    order: dict[str, int] = {}
    for source in sources:
        if source.format not in FORMATS:
            raise MappingError(f"format must be one of {', '.join(FORMATS)}, got {source.format!r}")
        delimiter = source.mapping.get("delimiter") if source.mapping else None
        table = read_table(source.path, max_file_size, delimiter=delimiter, display=source.display)
        order.setdefault(table.path, len(order))
        assembler.problems.extend(table.problems)
        summary: dict[str, t.Any] = {"path": table.path, "format": None, "syntax": table.syntax,
                                     "encoding": table.encoding, "delimiter": table.delimiter, "rows": 0, "hosts": 0}
        if table.readable:
            layout, why = choose_layout(source.format, table.columns, source.mapping)
            if layout is None:
                assembler.problems.append(Problem(table.path, 1, None, why))
            else:
                mapped = tuple(source.mapping["columns"]) if source.mapping else ()
                summary = assembler.add(table, layout, mapped)
        warnings.extend(table.warnings)
        files.append(summary)
    records, problems = assembler.records()
    problems.sort(key=lambda p: (order.get(p.file, len(order)), p.row or 0))
    return {"records": records, "bad_rows": [p.as_dict() for p in problems], "files": files, "warnings": warnings}
