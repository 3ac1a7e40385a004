# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which column of an export holds which evidence field: the built-in formats and the user's mapping.

A layout names, per field, the columns that may hold it (the first one present is used, compared
without regard to case). A layout with a ``kb`` column is an update layout: one row per (host,
update); otherwise one row per host. The built-in formats are layouts; a CMDB export gets one from
the user's mapping, without code.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field, replace

# The evidence record's keys (docs/verdict.md), in its order.
EVIDENCE_FIELDS = ("os_name", "os_version", "ubr", "installation_type", "display_version", "hotfixes",
                   "rollup_builds", "pending_rollup_builds", "root_ca_present", "root_auto_update_disabled",
                   "offline", "esu", "reboot_pending", "agents", "architecture", "kernel_version")
# Columns that are no evidence field themselves but feed one: the build (a cross-check of os_version),
# a full version with its revision (ConfigMgr's BuildExt), Win32_OperatingSystem.ProductType.
INPUT_FIELDS = ("build", "full_version", "product_type")
ROW_FIELDS = ("host", "kb", "state")
FIELDS = ROW_FIELDS + EVIDENCE_FIELDS + INPUT_FIELDS
LIST_FIELDS = ("hotfixes", "rollup_builds", "pending_rollup_builds")
BOOL_FIELDS = ("root_ca_present", "root_auto_update_disabled", "offline", "esu", "reboot_pending")
OS_FIELDS = ("os_version", "full_version", "os_name")

FORMATS = ("auto", "evidence", "configmgr", "wsus", "cmdb")
MAPPING_KEYS = ("columns", "values", "separator", "delimiter")


class MappingError(ValueError):
    """The user's mapping or format option is wrong; the message says what to change."""


@dataclass(frozen=True)
class Layout:
    name: str                                    # evidence, configmgr_os, configmgr_qfe, wsus, cmdb
    columns: dict[str, tuple[str, ...]]          # field -> candidate column names
    values: dict[str, dict[str, t.Any]] = field(default_factory=dict)   # field -> {cell (casefolded): value}
    separator: str = ";"
    delimiter: str | None = None
    lacks: str = "the export"                    # how notes name what lacked a field

    @property
    def updates(self) -> bool:
        return "kb" in self.columns

    def resolve(self, columns: t.Sequence[str]) -> dict[str, str]:
        """field -> the column of this file that holds it."""
        present = {name.casefold(): name for name in columns if isinstance(name, str)}
        found = {}
        for name, candidates in self.columns.items():
            for candidate in candidates:
                if candidate.casefold() in present:
                    found[name] = present[candidate.casefold()]
                    break
        return found

    def all_present(self, name: str, columns: t.Sequence[str]) -> list[str]:
        """Every column of this file that may hold the field, in the layout's order."""
        present = {column.casefold(): column for column in columns if isinstance(column, str)}
        return [present[c.casefold()] for c in self.columns.get(name, ()) if c.casefold() in present]

    def required(self) -> list[tuple[str, ...]]:
        """Groups of fields of which one must be present: the host, the KB for update rows, an OS for host rows."""
        groups = [("host",)]
        if self.updates:
            groups.append(("kb",))
        else:
            groups.append(tuple(f for f in OS_FIELDS if f in self.columns))
        return groups


_EVIDENCE = Layout("evidence", {name: (name,) for name in ("host",) + EVIDENCE_FIELDS},
                   lacks="the evidence export")

# Microsoft Configuration Manager site database views, exported from SQL or a report:
# v_R_System (Name0; BuildExt is the full OS build with its revision, e.g. 10.0.17763.2210),
# v_GS_OPERATING_SYSTEM (Win32_OperatingSystem: Caption0, Version0, BuildNumber0, ProductType0,
# OSArchitecture0), v_GS_QUICK_FIX_ENGINEERING (Win32_QuickFixEngineering: HotFixID0).
# https://learn.microsoft.com/mem/configmgr/develop/core/understand/sqlviews/hardware-inventory-views-configuration-manager
_CONFIGMGR_OS = Layout("configmgr_os", {
    "host": ("Name0", "Netbios_Name0", "ComputerName"),
    "os_name": ("Caption0",),
    "os_version": ("Version0",),
    "full_version": ("BuildExt",),
    "build": ("BuildNumber0",),
    "ubr": ("UBR0", "UBR"),
    "product_type": ("ProductType0",),
    "architecture": ("OSArchitecture0",),
}, lacks="the ConfigMgr export")
_CONFIGMGR_QFE = Layout("configmgr_qfe", {
    "host": ("Name0", "Netbios_Name0", "ComputerName"),
    "kb": ("HotFixID0",),
}, lacks="the ConfigMgr export")

# WSUS: IComputerTarget (FullDomainName, OSDescription) with, per update, IUpdate's KB article and
# IUpdateInstallationInfo.UpdateInstallationState; the console calls NotInstalled "Needed".
# https://learn.microsoft.com/previous-versions/windows/desktop/ms752934(v=vs.85)
_WSUS = Layout("wsus", {
    "host": ("FullDomainName", "ComputerName", "Computer", "host"),
    "os_name": ("OSDescription", "OperatingSystem", "OS"),
    "os_version": ("OSVersion", "ClientOSVersion"),
    "kb": ("KnowledgebaseArticles", "KnowledgebaseArticle", "KBArticle", "KB", "UpdateKB", "Title", "UpdateTitle"),
    "state": ("UpdateInstallationState", "InstallationState", "State", "Status"),
}, lacks="the WSUS export")

BUILTIN = {layout.name: layout for layout in (_EVIDENCE, _CONFIGMGR_OS, _CONFIGMGR_QFE, _WSUS)}


def _column_names(value: t.Any, where: str) -> tuple[str, ...]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise MappingError(f"{where} must be a column name or a list of column names, got {value!r}")
    return tuple(name.strip() for name in names)


def parse_mapping(mapping: t.Any) -> dict[str, t.Any] | None:
    """Validate a user mapping; return it normalized (columns, values, separator, delimiter) or None."""
    if mapping is None or mapping == {}:
        return None
    if not isinstance(mapping, t.Mapping):
        raise MappingError(f"mapping must be a mapping of evidence field to column name, got {type(mapping).__name__}")
    if "columns" in mapping:
        unknown = sorted(str(k) for k in mapping if k not in MAPPING_KEYS)
        if unknown:
            raise MappingError(f"mapping has unknown keys {', '.join(unknown)}; expected {', '.join(MAPPING_KEYS)}")
        raw_columns = mapping["columns"]
    else:
        # The short form: evidence field -> column name at the top level.
        raw_columns = {k: v for k, v in mapping.items() if k not in MAPPING_KEYS}
    if not isinstance(raw_columns, t.Mapping):
        raise MappingError("mapping.columns must be a mapping of evidence field to column name")
    columns = {}
    for name, value in raw_columns.items():
        if name not in FIELDS:
            raise MappingError(f"mapping names the field {name!r}, which is not one of {', '.join(FIELDS)}")
        columns[name] = _column_names(value, f"mapping.columns.{name}")
    values: dict[str, dict[str, t.Any]] = {}
    raw_values = mapping.get("values") or {}
    if not isinstance(raw_values, t.Mapping):
        raise MappingError("mapping.values must be a mapping of evidence field to {value in the export: value}")
    for name, table in raw_values.items():
        if name not in FIELDS:
            raise MappingError(f"mapping.values names the field {name!r}, which is not one of {', '.join(FIELDS)}")
        if not isinstance(table, t.Mapping):
            raise MappingError(f"mapping.values.{name} must be a mapping of value in the export to evidence value")
        values[name] = {str(key).strip().casefold(): value for key, value in table.items()}
    separator = mapping.get("separator", ";")
    if not isinstance(separator, str) or len(separator) != 1 or separator.isalnum():
        raise MappingError(f"mapping.separator must be one punctuation character such as ';', got {separator!r}")
    delimiter = mapping.get("delimiter")
    if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1):
        raise MappingError(f"mapping.delimiter must be one character such as ',' ';' or a tab, got {delimiter!r}")
    return {"columns": columns, "values": values, "separator": separator, "delimiter": delimiter}


def apply_mapping(layout: Layout, mapping: dict[str, t.Any] | None) -> Layout:
    """The layout with the user's columns put first (they win over the defaults) and its value maps added."""
    if not mapping:
        return layout
    columns = dict(layout.columns)
    for name, names in mapping["columns"].items():
        columns[name] = names + tuple(c for c in columns.get(name, ()) if c not in names)
    values = {**layout.values, **mapping["values"]}
    return replace(layout, columns=columns, values=values, separator=mapping["separator"],
                   delimiter=mapping["delimiter"] or layout.delimiter)


def cmdb_layout(mapping: dict[str, t.Any] | None) -> Layout:
    if not mapping or "host" not in mapping["columns"]:
        raise MappingError("the cmdb format needs a mapping that names at least the host column and an OS column "
                           "(os_name or os_version), e.g. {host: Hostname, os_name: 'Operating System'}")
    return apply_mapping(Layout("cmdb", {}, lacks="the CMDB export"), mapping)


def choose_layout(fmt: str, columns: t.Sequence[str], mapping: dict[str, t.Any] | None) -> tuple[Layout | None, str]:
    """The layout for a file of this format with these columns; (None, why) when it cannot be told."""
    if fmt not in FORMATS:
        raise MappingError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if fmt == "cmdb" or (fmt == "auto" and mapping):
        return cmdb_layout(mapping), ""
    if fmt == "evidence":
        return apply_mapping(_EVIDENCE, mapping), ""
    if fmt == "wsus":
        return apply_mapping(_WSUS, mapping), ""
    if fmt == "configmgr":
        qfe = apply_mapping(_CONFIGMGR_QFE, mapping)
        if "kb" in qfe.resolve(columns):
            return qfe, ""
        # One mapping serves both files: its kb column belongs to the updates file only.
        hosts = apply_mapping(_CONFIGMGR_OS, mapping)
        return replace(hosts, columns={k: v for k, v in hosts.columns.items() if k not in ("kb", "state")}), ""
    # auto: only exact, distinctive header names decide; anything else asks the user.
    present = {name.casefold() for name in columns if isinstance(name, str)}
    if "hotfixid0" in present:
        return _CONFIGMGR_QFE, ""
    if "caption0" in present or "version0" in present:
        return _CONFIGMGR_OS, ""
    if "updateinstallationstate" in present:
        return _WSUS, ""
    if "host" in present and ({"os_name", "os_version"} & present):
        return _EVIDENCE, ""
    shown = ", ".join(repr(c) for c in list(columns)[:12]) or "none"
    return None, (f"the format cannot be told from the columns ({shown}): give format (evidence, configmgr, wsus) "
                  "or a mapping for a CMDB export")
