# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""acs_export_evidence: evidence records from ConfigMgr, WSUS, CMDB or evidence exports, on the controller.

Thin: resolve the paths and the mapping, let plugin_utils read the files. It contacts no host, so
a playbook or an AWX job can judge hosts it may not reach. Bad rows never fail the task: they are
returned, named by file, row and column, and the hosts they concern still appear with the error.
Only a wrong option (an unknown format, a malformed mapping, a bad size) fails it.
"""

from __future__ import annotations

import os
import re
import typing as t
from collections.abc import Mapping

import yaml
from ansible.module_utils.common.text.formatters import human_to_bytes
from ansible.plugins.action import ActionBase

from ansible_collections.codesign.windows.plugins.plugin_utils._exports import (
    FORMATS,
    ExportSource,
    MappingError,
    parse_mapping,
    read_exports,
)

ARGUMENT_SPEC = {
    "paths": {"type": "list", "elements": "raw", "required": True},
    "format": {"type": "str", "default": "auto", "choices": list(FORMATS)},
    "mapping": {"type": "raw"},
    "max_file_size": {"type": "raw", "default": "256MiB"},
}
PATH_KEYS = ("path", "format", "mapping")
# A mapping file is a few lines; anything far larger is not one.
MAX_MAPPING_FILE = 1024 * 1024


class ActionModule(ActionBase):
    """Turn export files into evidence records, one per host."""

    _supports_check_mode = True
    _supports_async = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        result["changed"] = False
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            max_file_size = self._size(args["max_file_size"])
            default_mapping = self._mapping(args["mapping"], "mapping")
            sources = [self._source(item, index, args["format"], default_mapping)
                       for index, item in enumerate(args["paths"])]
            if not sources:
                raise MappingError("paths is empty: name at least one export file")
            exported = read_exports(sources, max_file_size=max_file_size)
        except MappingError as exc:
            result.update(failed=True, msg=f"acs_export_evidence: {exc}")
            return result
        records, bad_rows = exported["records"], exported["bad_rows"]
        result.update(records=records, bad_rows=bad_rows, files=exported["files"])
        if exported["warnings"]:
            result["warnings"] = exported["warnings"]
        result["msg"] = (f"{len(records)} hosts from {len(sources)} file(s); {len(bad_rows)} bad row(s)"
                         + (" (see bad_rows)" if bad_rows else ""))
        return result

    @staticmethod
    def _size(value: t.Any) -> int:
        try:
            # human_to_bytes counts KB, MB, GB in powers of 1024 already; KiB, MiB, GiB say so plainly.
            size = human_to_bytes(re.sub(r"(?i)([kmgt])ib$", r"\1B", value.strip())) if isinstance(value, str) \
                else int(value)
        except (ValueError, TypeError):
            raise MappingError(f"max_file_size must be a size such as 256MiB or a number of bytes, got {value!r}") from None
        if isinstance(value, bool) or size < 1:
            raise MappingError(f"max_file_size must be at least 1 byte, got {value!r}")
        return size

    def _path(self, path: t.Any, where: str) -> str:
        if not isinstance(path, str) or not path.strip():
            raise MappingError(f"{where} must be a file path, got {path!r}")
        path = os.path.expanduser(path.strip())
        if not os.path.isabs(path):
            # Relative to the playbook, as Ansible's own file lookups are.
            path = os.path.join(self._loader.get_basedir(), path)
        return path

    def _mapping(self, value: t.Any, where: str) -> dict[str, t.Any] | None:
        if isinstance(value, str):
            path = self._path(value, where)
            try:
                if os.path.getsize(path) > MAX_MAPPING_FILE:
                    raise MappingError(f"{where}: {value} is over {MAX_MAPPING_FILE} bytes: it is not a mapping file")
                with open(path, encoding="utf-8-sig") as handle:
                    value = yaml.safe_load(handle)
            except OSError as exc:
                raise MappingError(f"{where}: cannot read the mapping file {value}: {exc.strerror or exc}") from None
            except yaml.YAMLError as exc:
                raise MappingError(f"{where}: the mapping file {path} is not valid YAML: {exc}") from None
        try:
            return parse_mapping(_plain(value))
        except MappingError as exc:
            raise MappingError(f"{where}: {exc}") from None

    def _source(self, item: t.Any, index: int, fmt: str, mapping: dict[str, t.Any] | None) -> ExportSource:
        where = f"paths[{index}]"
        if isinstance(item, Mapping):
            unknown = sorted(str(k) for k in item if k not in PATH_KEYS)
            if unknown:
                raise MappingError(f"{where} has unknown keys {', '.join(unknown)}; expected {', '.join(PATH_KEYS)}")
            fmt = item.get("format") or fmt
            if fmt not in FORMATS:
                raise MappingError(f"{where}.format must be one of {', '.join(FORMATS)}, got {fmt!r}")
            if item.get("mapping") is not None:
                mapping = self._mapping(item["mapping"], f"{where}.mapping")
            given = item.get("path")
        else:
            given = item
        return ExportSource(path=self._path(given, where), display=str(given).strip(), format=fmt, mapping=mapping)


def _plain(value: t.Any) -> t.Any:
    """Builtin containers only: task arguments reach an action as Ansible's own tagged types."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, str):
        return str(value)
    return value
