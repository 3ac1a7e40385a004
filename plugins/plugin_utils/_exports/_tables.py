# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read one export file into a table: its encoding settled, its rows numbered as a person finds them.

Windows tools write CSV in several encodings: Excel's "CSV UTF-8" adds a UTF-8 byte order mark,
Excel's "Unicode Text" and PowerShell's ``>`` redirection write UTF-16 with a BOM, Excel's plain
"CSV (Comma delimited)" uses the ANSI code page (Windows-1252 on Western systems). Each is read;
none is rejected for its encoding alone. Nothing here raises for bad content: a problem becomes a
``Problem`` naming file, row and column.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import stat
import typing as t
from dataclasses import dataclass, field

# Row numbers follow a spreadsheet: the header is row 1, the first data row is row 2.
HEADER_ROW = 1
DELIMITERS = (",", ";", "\t")
SNIFF_BYTES = 4096


@dataclass
class Problem:
    """A bad row (or a bad file when row is None): what a person must look at, and where."""

    file: str
    row: int | None
    column: str | None
    message: str
    host: str | None = None

    def as_dict(self) -> dict[str, t.Any]:
        return {"file": self.file, "row": self.row, "column": self.column, "message": self.message,
                "host": self.host}


@dataclass
class Table:
    """The rows of one file: ``rows`` holds (row number, {column: cell}) for rows with the header's width;
    ``malformed`` holds (row number, cells) for rows that are not, so that their host can still be named."""

    path: str
    syntax: str                                  # csv or json
    columns: list[str] = field(default_factory=list)
    rows: list[tuple[int, dict[str, t.Any]]] = field(default_factory=list)
    malformed: list[tuple[int, list[str]]] = field(default_factory=list)
    encoding: str | None = None
    delimiter: str | None = None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    readable: bool = True

    def fail(self, message: str, row: int | None = None, column: str | None = None) -> "Table":
        self.problems.append(Problem(self.path, row, column, message))
        self.readable = False
        return self


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"  # pragma: no cover


def _decode(table: Table, data: bytes) -> str | None:
    """The file's text, or None (with the problem recorded) when it cannot be decoded."""
    if data.startswith(codecs.BOM_UTF32_LE) or data.startswith(codecs.BOM_UTF32_BE):
        table.fail("the file is UTF-32, which no Windows export tool writes by default; save it as UTF-8 or UTF-16")
        return None
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                          (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            label = "UTF-8 with BOM" if encoding == "utf-8-sig" else (
                "UTF-16 LE with BOM" if bom == codecs.BOM_UTF16_LE else "UTF-16 BE with BOM")
            try:
                table.encoding = label
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                table.fail(f"the file starts with a {label} byte order mark but is not valid {label} "
                           f"at byte {exc.start}: it may be truncated or mixed")
                return None
    head = data[:SNIFF_BYTES]
    if b"\x00" in head:
        # UTF-16 without a BOM: ASCII text has a NUL in every other byte.
        odd_nuls, even_nuls = head[1::2].count(0), head[0::2].count(0)
        encoding = "utf-16-le" if odd_nuls > even_nuls else "utf-16-be"
        if max(odd_nuls, even_nuls) * 2 < len(head) // 2:
            table.fail("the file contains NUL bytes and is not text (a binary file, or an Excel .xlsx saved "
                       "under a .csv name?): export it as CSV")
            return None
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            table.fail("the file looks like UTF-16 without a byte order mark but does not decode as such: save "
                       "it as UTF-8 or as UTF-16 with a BOM")
            return None
        table.encoding = f"{encoding.upper().replace('-LE', ' LE').replace('-BE', ' BE')} without BOM"
        table.warnings.append(f"{table.path}: no byte order mark; read as {table.encoding} (it has NUL bytes "
                              "between ASCII characters)")
        return text
    try:
        table.encoding = "UTF-8"
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        table.encoding = "Windows-1252"
        table.warnings.append(f"{table.path}: not UTF-8 (byte {exc.start}); read as Windows-1252, the code page "
                              "Excel's \"CSV (Comma delimited)\" uses on Western systems")
        return data.decode("cp1252", errors="replace")


def _sniff_delimiter(text: str) -> str:
    """The header line's delimiter: the data rows may hold ';' inside list cells, the header does not."""
    first = text.split("\n", 1)[0]
    counts = {delimiter: first.count(delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _read_csv(table: Table, text: str, delimiter: str | None) -> Table:
    table.syntax = "csv"
    table.delimiter = delimiter or _sniff_delimiter(text)
    # newline="" keeps line breaks inside quoted cells, as the csv module asks.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=table.delimiter, strict=True)
    header: list[str] | None = None
    row_number = 0
    while True:
        row_number += 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            # The reader continues with the next line; only this record is lost, and it is listed.
            table.problems.append(Problem(table.path, row_number, None, f"the row cannot be read as CSV: {exc}"))
            continue
        if header is None:
            if not any(cell.strip() for cell in cells):
                continue  # blank lines before the header
            header = [cell.strip() for cell in cells]
            if row_number != HEADER_ROW:
                row_number_offset = row_number - HEADER_ROW
                table.warnings.append(f"{table.path}: the header is on row {row_number}, after "
                                      f"{row_number_offset} blank row(s)")
            table.columns = header
            blank = [index + 1 for index, name in enumerate(header) if not name]
            duplicates = sorted({name for name in header if name and
                                 [h.casefold() for h in header].count(name.casefold()) > 1})
            for index in blank:
                table.problems.append(Problem(table.path, row_number, f"#{index}",
                                              f"column {index} of the header has no name; it is ignored"))
            for name in duplicates:
                table.problems.append(Problem(table.path, row_number, name,
                                              f"the header names column {name!r} more than once; the first is used"))
            continue
        if not any(cell.strip() for cell in cells):
            continue  # a blank line is no row
        if len(cells) != len(header):
            table.malformed.append((row_number, cells))
            continue
        row: dict[str, str] = {}
        for name, cell in zip(header, cells):
            if name and name not in row:
                row[name] = cell
        table.rows.append((row_number, row))
    if header is None:
        return table.fail("the file is empty (no header row)")
    if not table.rows and not table.malformed and not table.problems:
        table.problems.append(Problem(table.path, None, None, "the file has a header but no rows"))
    return table


def _read_json(table: Table, text: str) -> Table:
    table.syntax = "json"
    try:
        document = json.loads(text)
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        return table.fail(f"the file is not valid JSON: {exc}", row=line)
    if isinstance(document, dict) and isinstance(document.get("records"), dict):
        document = document["records"]  # the acs_export_evidence result itself, saved as JSON
    items: list[t.Any]
    if isinstance(document, list):
        items = document
    elif isinstance(document, dict):
        # host -> evidence record (or -> {evidence: ...} as acs_export_evidence returns it)
        items = []
        for host, value in document.items():
            if isinstance(value, dict) and isinstance(value.get("evidence"), dict):
                value = value["evidence"]
            items.append({"host": host, **value} if isinstance(value, dict) else value)
    else:
        return table.fail(f"the JSON document is a {type(document).__name__}; expected a list of evidence records "
                          "or a mapping of host name to evidence record")
    columns: dict[str, None] = {}
    for index, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            table.problems.append(Problem(table.path, index, None,
                                          f"record {index} is a {type(item).__name__}, not a mapping"))
            continue
        row = {str(key): value for key, value in item.items()}
        columns.update(dict.fromkeys(row))
        table.rows.append((index, row))
    table.columns = list(columns)
    if not items:
        table.fail("the file holds no records")
    return table


def read_table(path: str, max_file_size: int, delimiter: str | None = None, display: str | None = None) -> Table:
    """Read one export; every problem is recorded on the table, nothing raises for the file's content."""
    table = Table(path=display or path, syntax="csv")
    try:
        status = os.stat(path)
        if stat.S_ISDIR(status.st_mode):
            return table.fail("the path is a directory, not an export file")
        if not stat.S_ISREG(status.st_mode):
            # A device or a pipe has no size to check against the cap: /dev/zero would never end.
            return table.fail("the path is not a regular file (a device or a pipe?): export to a file")
        size = status.st_size
    except OSError as exc:
        return table.fail(f"the file cannot be read: {exc.strerror or exc}")
    if size > max_file_size:
        # Checked before reading: a multi-gigabyte file must not be pulled into memory first.
        return table.fail(f"the file is {human_size(size)}, over max_file_size ({human_size(max_file_size)}): "
                          "raise max_file_size or split the export")
    try:
        with open(path, "rb") as handle:
            data = handle.read(max_file_size + 1)
    except OSError as exc:
        return table.fail(f"the file cannot be read: {exc.strerror or exc}")
    if len(data) > max_file_size:
        return table.fail(f"the file grew beyond max_file_size ({human_size(max_file_size)}) while it was read")
    if not data.strip():
        return table.fail("the file is empty")
    text = _decode(table, data)
    if text is None:
        return table
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        return table.fail("the file is empty")
    if text.lstrip()[:1] in ("[", "{"):
        return _read_json(table, text)
    return _read_csv(table, text, delimiter)
