# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Assemble one evidence record per host from the rows of every export file that names it.

Policy (docs/exports.md):
- Host names match without regard to case; the record keeps the first spelling seen.
- A field given twice with different values (two rows for one host in a host-per-row file, or two
  files that disagree) is null - not known - and each disagreement is a bad row naming both places.
  Nothing is picked by file order: the cost of trusting a stale row is an agent that does not start.
- An update is installed when a row says Installed or InstalledPendingReboot; NotApplicable, Needed,
  Downloaded, Failed and Unknown rows do not list it (NotApplicable can mean superseded: the host's
  Installed rows decide). An update that one row calls installed and another needed is not counted.
- InstalledPendingReboot lists the update and sets reboot_pending.
- Evidence no file gives is null, with a note saying it was not in the export and what that means.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field

from ansible_collections.codesign.windows.plugins.plugin_utils._catalog import UBR
from ansible_collections.codesign.windows.plugins.plugin_utils._exports import _values as values
from ansible_collections.codesign.windows.plugins.plugin_utils._exports._layouts import (
    BOOL_FIELDS,
    EVIDENCE_FIELDS,
    LIST_FIELDS,
    OS_FIELDS,
    Layout,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._exports._tables import HEADER_ROW, Problem, Table
from ansible_collections.codesign.windows.plugins.plugin_utils._verdict import recognize_evidence
from ansible_collections.codesign.windows.plugins.plugin_utils._winver import (
    RecognitionError,
    parse_version,
    server_from_hints,
)

INSTALLED = ("installed", "installed_pending_reboot")
NOT_INSTALLED = ("needed", "downloaded", "failed")

# What a missing field means for the verdict, said once. Fields not listed here are never noted.
CONSEQUENCES = {
    "hotfixes": "the installed updates are not known: Windows 6.x hosts are judged unknown, never missing",
    "ubr": "the update build revision is not known, and this Windows version is judged by it: the host is "
           "judged unknown (give the full version, such as 10.0.17763.2210, or a UBR column)",
    "root_ca_present": "the root certificate counts as not checked: it is reported as needed where the host "
                       "cannot fetch it",
    "root_auto_update_disabled": "not known whether group policy turns automatic root certificate updates off; "
                                 "the verdict takes them as on (map the column if your export has it)",
    "offline": "not known whether the host reaches Windows Update; set acs_offline in the inventory for "
               "air-gapped hosts",
    "esu": "ESU licensing is not known; Windows 7, 2008 and 2008 R2 hosts without the fix are asked for it",
    "reboot_pending": "a pending restart cannot be seen: an update installed but not active yet counts as active",
    "agents": "the Trend Micro agents are not listed: the verdict gives no per-agent advice",
}


@dataclass(frozen=True)
class Origin:
    file: str
    row: int
    column: str | None

    def where(self) -> str:
        return f"{self.file} row {self.row}" + (f" ({self.column})" if self.column else "")


@dataclass
class HostBuilder:
    name: str
    sink: list[Problem]                                         # every bad row, in one list
    fields: dict[str, tuple[t.Any, Origin]] = field(default_factory=dict)
    conflicts: set[str] = field(default_factory=set)
    updates: dict[str, list[tuple[str, Origin]]] = field(default_factory=dict)
    unknown_state_rows: int = 0
    ignored_entries: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    sources: dict[str, dict[str, t.Any]] = field(default_factory=dict)
    lacks: list[str] = field(default_factory=list)
    host_rows: dict[str, int] = field(default_factory=dict)     # file -> first row, for host-per-row files
    malformed_only: bool = True

    def problem(self, origin: Origin, message: str) -> Problem:
        found = Problem(origin.file, origin.row, origin.column, message, host=self.name)
        self.problems.append(found)
        self.sink.append(found)
        return found

    def seen(self, layout: Layout, file: str, row: int) -> None:
        source = self.sources.setdefault(file, {"file": file, "format": layout.name, "first_row": row, "rows": 0})
        source["rows"] += 1
        if layout.lacks not in self.lacks:
            self.lacks.append(layout.lacks)

    def set(self, name: str, value: t.Any, origin: Origin) -> None:
        if value is None or name in self.conflicts:
            return
        if name not in self.fields:
            self.fields[name] = (value, origin)
            return
        old, old_origin = self.fields[name]
        same = sorted(old) == sorted(value) if name in LIST_FIELDS else old == value
        if not same:
            self.conflicts.add(name)
            del self.fields[name]
            self.problem(origin, f"{name} is {value!r} here but {old!r} on {old_origin.where()}: the rows "
                                 f"disagree, so {name} is null (not known)")

    def get(self, name: str) -> t.Any:
        return self.fields[name][0] if name in self.fields else None

    def origin(self, *names: str) -> Origin | None:
        for name in names:
            if name in self.fields:
                return self.fields[name][1]
        return None


class Assembler:
    """Feeds tables in, hands one record per host out."""

    def __init__(self) -> None:
        self.hosts: dict[str, HostBuilder] = {}
        self.problems: list[Problem] = []
        # Exports repeat the same few OS strings thousands of times: recognise each once.
        self.recognized: dict[tuple[t.Any, ...], t.Any] = {}

    def _host(self, name: str) -> HostBuilder:
        key = name.casefold()
        if key not in self.hosts:
            self.hosts[key] = HostBuilder(name, self.problems)
        return self.hosts[key]

    # -------------------------------------------------------------------------------- reading
    def add(self, table: Table, layout: Layout, mapping_columns: t.Iterable[str] = ()) -> dict[str, t.Any]:
        """Read a table's rows into the host builders; return the file's summary."""
        found = layout.resolve(table.columns)
        summary = {"path": table.path, "format": layout.name, "syntax": table.syntax, "encoding": table.encoding,
                   "delimiter": table.delimiter, "rows": len(table.rows) + len(table.malformed), "hosts": 0}
        for name in mapping_columns:
            if name in layout.columns and name not in found:
                self.problems.append(Problem(table.path, HEADER_ROW, " or ".join(layout.columns[name]),
                                             f"the mapping names the column {' or '.join(layout.columns[name])!r} "
                                             f"for {name}, and the file has no such column"))
        for group in layout.required():
            if group and not any(name in found for name in group):
                names = [column for name in group for column in layout.columns.get(name, ())]
                label = " or ".join(repr(n) for n in names) or "an OS column (os_name or os_version)"
                fatal = group[0] in ("host", "kb")
                consequence = ("no row can be used" if fatal else
                               "its hosts are listed without an OS and judged unknown")
                self.problems.append(Problem(table.path, HEADER_ROW, " or ".join(names) or None,
                                             f"the column {label} ({'/'.join(group) or 'os'}) is missing: "
                                             f"{consequence}; the file's columns are "
                                             f"{', '.join(repr(c) for c in table.columns[:20])}"))
                if fatal:
                    return summary
        if layout.name == "evidence" and table.syntax == "csv":
            known = {c.casefold() for names in layout.columns.values() for c in names}
            unknown = [c for c in table.columns if c and c.casefold() not in known]
            if unknown:
                table.warnings.append(f"{table.path}: columns that are no evidence field are ignored: "
                                      f"{', '.join(unknown[:20])}")
        hosts_before = len(self.hosts)
        host_column = found["host"]
        host_index = next((i for i, c in enumerate(table.columns) if c == host_column), None)
        for row_number, cells in table.malformed:
            host_text = cells[host_index].strip() if host_index is not None and host_index < len(cells) else ""
            message = (f"the row has {len(cells)} fields but the header has {len(table.columns)} (an unquoted "
                       f"delimiter in a cell?): its values may be shifted, so none is used")
            if host_text:
                builder = self._host(host_text)
                builder.seen(layout, table.path, row_number)
                builder.problem(Origin(table.path, row_number, None), message)
            else:
                self.problems.append(Problem(table.path, row_number, None, message))
        # PowerShell's Export-Csv writes a collection property such as KnowledgebaseArticles as its type name:
        # then the next candidate column (a title holding "(KB...)") still names the update.
        kb_columns = layout.all_present("kb", table.columns)
        for row_number, row in table.rows:
            self._row(table.path, layout, found, row_number, row, kb_columns)
        summary["hosts"] = len(self.hosts) - hosts_before
        return summary

    def _row(self, path: str, layout: Layout, found: dict[str, str], row_number: int, row: dict[str, t.Any],
             kb_columns: t.Sequence[str] = ()) -> None:
        host_column = found["host"]
        try:
            host = values.text(values.mapped(row.get(host_column), layout.values.get("host")))
        except values.CellError as exc:
            self.problems.append(Problem(path, row_number, host_column, f"host: {exc}"))
            return
        if not host:
            self.problems.append(Problem(path, row_number, host_column,
                                         "the host name is empty: the row cannot be given to a host"))
            return
        builder = self._host(host)
        builder.seen(layout, path, row_number)
        builder.malformed_only = False
        if not layout.updates:
            first = builder.host_rows.get(path)
            if first is not None:
                builder.problem(
                    Origin(path, row_number, host_column),
                    f"the host {host!r} is also on row {first} of this file: the rows are merged, and any field "
                    "on which they disagree is null (not known)")
            else:
                builder.host_rows[path] = row_number
        for name, column in found.items():
            if name in ("host", "kb", "state"):
                continue
            origin = Origin(path, row_number, column)
            try:
                value = self._convert(name, values.mapped(row.get(column), layout.values.get(name)), layout, builder)
            except values.CellError as exc:
                builder.problem(origin, f"{name}: {exc}")
                continue
            builder.set(name, value, origin)
        if layout.updates:
            kb = None
            for column in kb_columns:
                try:
                    kb = values.kb(values.mapped(row.get(column), layout.values.get("kb")))
                except values.CellError as exc:
                    builder.problem(Origin(path, row_number, column), f"kb: {exc}")
                    return
                if kb is not None:
                    break
            if kb is None:
                entry = row.get(found["kb"])
                builder.ignored_entries.append(str(entry).strip() if entry is not None else "")
                return
            state = "installed"
            if "state" in found:
                try:
                    state = values.state(values.mapped(row.get(found["state"]), layout.values.get("state")))
                except values.CellError as exc:
                    builder.problem(Origin(path, row_number, found["state"]), f"state: {exc}")
                    return
            if state == "unknown":
                builder.unknown_state_rows += 1
            builder.updates.setdefault(kb, []).append((state, Origin(path, row_number, found.get("state"))))

    @staticmethod
    def _convert(name: str, cell: t.Any, layout: Layout, builder: HostBuilder) -> t.Any:
        if name == "hotfixes":
            kbs, ignored = values.kb_list(cell, layout.separator)
            builder.ignored_entries.extend(ignored)
            return kbs
        if name in LIST_FIELDS:
            return values.string_list(cell, layout.separator)
        if name in BOOL_FIELDS:
            return values.flag(cell)
        if name in ("ubr", "build"):
            return values.integer(cell)
        if name == "agents":
            return values.agents(cell, layout.separator)
        return values.text(cell)

    # -------------------------------------------------------------------------------- records
    def records(self) -> tuple[dict[str, dict[str, t.Any]], list[Problem]]:
        records = {}
        for builder in self.hosts.values():
            records[builder.name] = self._record(builder)
        problems = list(self.problems)
        return records, problems

    def _record(self, builder: HostBuilder) -> dict[str, t.Any]:
        evidence: dict[str, t.Any] = dict.fromkeys(EVIDENCE_FIELDS)
        for name in EVIDENCE_FIELDS:
            evidence[name] = builder.get(name)
        notes: list[str] = []
        self._os(builder, evidence)
        self._updates(builder, evidence, notes)
        if evidence["installation_type"] is None and builder.get("product_type") is not None:
            server = server_from_hints(product_type=builder.get("product_type"))
            if server is not None:
                evidence["installation_type"] = "Server" if server else "Client"
        recognized = self._recognize(builder, evidence)
        lacks = " or ".join(builder.lacks) or "the export"
        missing = []
        for name, consequence in CONSEQUENCES.items():
            if evidence[name] is not None:
                continue
            if name == "ubr" and not (recognized is not None and recognized.row.kind == UBR and recognized.ubr is None):
                continue
            if name == "esu" and recognized is not None and not recognized.row.esu_only:
                continue  # ESU licensing decides nothing outside Windows 7, 2008 and 2008 R2
            missing.append(name)
            why = "the rows disagree" if name in builder.conflicts else f"not in {lacks}"
            notes.append(f"{name}: {why}; {consequence}")
        if builder.ignored_entries:
            shown = ", ".join(repr(e) for e in builder.ignored_entries[:5])
            more = f" and {len(builder.ignored_entries) - 5} more" if len(builder.ignored_entries) > 5 else ""
            notes.append(f"{len(builder.ignored_entries)} update entries are no KB id and were ignored ({shown}{more})")
        return {
            "host": builder.name,
            "evidence": evidence,
            "missing": missing,
            "notes": notes,
            "errors": [{k: v for k, v in p.as_dict().items() if k != "host"} for p in builder.problems],
            "sources": list(builder.sources.values()),
        }

    def _os(self, builder: HostBuilder, evidence: dict[str, t.Any]) -> None:
        full = builder.get("full_version")
        version = evidence["os_version"]
        if full is not None:
            full_numbers, numbers = parse_version(full), parse_version(version) if version else None
            if full_numbers is None:
                builder.problem(t.cast(Origin, builder.origin("full_version")),
                                f"full_version {full!r} is not major.minor.build.revision; it is not used")
            else:
                if numbers is not None and numbers[:3] != full_numbers[:3]:
                    builder.problem(t.cast(Origin, builder.origin("full_version")),
                                    f"the full version {full} and the version {version} name different builds; "
                                    "the full version is used")
                evidence["os_version"] = full
        build = builder.get("build")
        version = evidence["os_version"]
        numbers = parse_version(version) if isinstance(version, str) else None
        if build is not None and numbers is not None and numbers[2] != build:
            builder.problem(t.cast(Origin, builder.origin("build")),
                            f"the build number {build} and the version {version} disagree: the export is "
                            "inconsistent; the version is used")

    def _updates(self, builder: HostBuilder, evidence: dict[str, t.Any], notes: list[str]) -> None:
        listed = builder.get("hotfixes")
        if "hotfixes" in builder.conflicts:
            evidence["hotfixes"] = None
        installed: list[str] = []
        pending: list[str] = []
        reported = False
        for kb, rows in builder.updates.items():
            states = {state for state, _origin in rows}
            if states - {"unknown"}:
                reported = True
            if not states & set(INSTALLED):
                continue
            against = [origin for state, origin in rows if state in NOT_INSTALLED]
            if against:
                where = next(origin for state, origin in rows if state in INSTALLED)
                builder.problem(
                    against[0], f"{kb} is installed on {where.where()} but not installed here: it is not counted "
                                "as installed")
                continue
            installed.append(kb)
            if "installed_pending_reboot" in states:
                pending.append(kb)
        if "hotfixes" not in builder.conflicts and (listed is not None or reported):
            evidence["hotfixes"] = sorted(set(listed or []) | set(installed), key=lambda kb: (len(kb), kb))
        if builder.unknown_state_rows:
            notes.append(f"{builder.unknown_state_rows} update rows have the state Unknown (the client has not "
                         "reported to WSUS) and were not counted")
        if builder.updates and not reported:
            notes.append("every update row of this host has the state Unknown: its installed updates are not known")
        if pending:
            if evidence["reboot_pending"] is False:
                notes.append(f"reboot_pending is true although {builder.origin('reboot_pending').where()} says "  # type: ignore[union-attr]
                             f"false: {', '.join(pending)} is installed pending a restart")
            evidence["reboot_pending"] = True
            notes.append(f"{', '.join(pending)}: installed, pending a restart (reboot_pending is true)")

    def _recognize(self, builder: HostBuilder, evidence: dict[str, t.Any]):
        if evidence["os_name"] is None and evidence["os_version"] is None:
            first = next(iter(builder.sources.values()), None)
            origin = Origin(first["file"], first["first_row"], None) if first else Origin("", 0, None)
            if builder.malformed_only:
                return None  # the malformed row is its error already
            if any(name in builder.conflicts for name in OS_FIELDS):
                return None  # the disagreement is its error already
            if all(source["format"] == "configmgr_qfe" for source in builder.sources.values()):
                message = "the host has installed updates but no row in a ConfigMgr hosts file (Caption0, Version0)"
            else:
                message = "no OS is given for this host (os_name or os_version): it is judged unknown"
            builder.problem(origin, message)
            return None
        key = tuple(evidence[name] for name in ("os_name", "os_version", "ubr", "installation_type", "display_version"))
        if key not in self.recognized:
            try:
                self.recognized[key] = recognize_evidence(evidence)
            except Exception as exc:  # pylint: disable=broad-except
                self.recognized[key] = exc
        found = self.recognized[key]
        if not isinstance(found, Exception):
            return found
        origin = builder.origin("full_version", "os_version", "os_name") or Origin("", 0, None)
        if isinstance(found, RecognitionError):
            builder.problem(origin, f"the OS is not recognised: {found}")
        else:
            builder.problem(origin, f"the OS cannot be judged: {found}")
        return None
