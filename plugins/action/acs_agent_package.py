# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""acs_agent_package: is this Trend agent installer ACS-signed or cross-signed? Runs on the controller."""

from __future__ import annotations

import os

from ansible.plugins.action import ActionBase

from ansible_collections.codesign.windows.plugins.plugin_utils._authenticode import DEFAULT_ACS_ROOTS, inspect_package

ARGUMENT_SPEC = {
    "path": {"type": "path", "required": True},
    "acs_root_thumbprints": {"type": "list", "elements": "str"},
    "trusted_root_thumbprints": {"type": "list", "elements": "str", "default": []},
    "root_certificates": {"type": "list", "elements": "path", "default": []},
}


class ActionModule(ActionBase):
    """Inspect an installer's Authenticode signature on the controller."""

    _supports_check_mode = True
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars or {})
        result["changed"] = False
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        path = self._loader.path_dwim(args["path"])
        if not os.path.isfile(path):
            result.update(failed=True, msg=f"acs_agent_package: {path} does not exist or is not a file on the controller")
            return result
        roots = []
        for root_path in args["root_certificates"]:
            try:
                with open(self._loader.path_dwim(root_path), "rb") as handle:
                    roots.append(handle.read())
            except OSError as exc:
                result.update(failed=True, msg=f"acs_agent_package: cannot read root certificate {root_path}: {exc}")
                return result
        thumbprints = args["acs_root_thumbprints"] or list(DEFAULT_ACS_ROOTS)
        result["package"] = inspect_package(path, thumbprints, trusted_root_thumbprints=args["trusted_root_thumbprints"],
                                            root_certificates=roots)
        result["msg"] = result["package"]["reasons"][0] if result["package"].get("reasons") else ""
        return result
