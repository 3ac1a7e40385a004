# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""acs_root_ca: put the ACS root certificate into LocalMachine\\Root over the connection's exec.

Thin: pick and check the certificate on the controller (plugin_utils._root_ca), look at the host's stores
with one command, decide there, and add with a second command only when the root is missing. No
PowerShell module and no put_file: both need a newer PowerShell than many hosts that need the root have.
"""

from __future__ import annotations

from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.codesign.windows.plugins.plugin_utils._authenticode._trust import BundleMissing
from ansible_collections.codesign.windows.plugins.plugin_utils._root_ca import (
    TARGET_STORE,
    TARGET_STORE_NAME,
    RootCertificateError,
    bundled_root,
    failure_message,
    parse_operation_output,
    plan,
    read_root_file,
    render_operation,
    store_state,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._operation import ConnectionLost, OperationOutputError, execute
from ansible_collections.codesign.windows.plugins.plugin_utils._untrusted import clean_text

ARGUMENT_SPEC = {
    "src": {"type": "path"},
}


class ActionModule(ActionBase):
    """Install the ACS root certificate on a Windows host that lacks it."""

    _supports_check_mode = True
    _supports_async = False
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        result["changed"] = False
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)

        # The certificate is checked before the host is contacted: a wrong file never reaches a host.
        try:
            if args["src"]:
                try:
                    path = self._find_needle("files", args["src"])
                except AnsibleError:
                    path = args["src"]
                root = read_root_file(path)
            else:
                root = bundled_root()
        except (RootCertificateError, BundleMissing) as exc:
            result.update(failed=True, msg=f"acs_root_ca: {exc}")
            return result
        result.update(source=root.source, sha1=root.sha1, sha256=root.sha256)

        try:
            before = self._operation(None)
        except OperationOutputError as exc:
            result.update(failed=True, msg=f"acs_root_ca: {exc}")
            return result
        state = store_state(before.get("stores"))
        if state is None:
            error = clean_text(before.get("stores_error"), 500) or "the answer names no stores"
            result.update(failed=True, msg=f"acs_root_ca: the host's certificate stores could not be read ({error}); "
                                           "nothing was changed")
            return result
        decision = plan(state)
        result.update(stores=list(state.stores), disallowed_stores=list(state.disallowed), msg=decision.message)
        if decision.action == "leave":
            host = clean_text(task_vars.get("inventory_hostname") or "", 200)
            result["warnings"] = [f"acs_root_ca: {host}: {decision.message}"]
            return result
        if decision.action == "none":
            return result
        if self._task.check_mode:
            result.update(changed=True, msg=f"{decision.message} (check mode: nothing was changed)")
            return result

        try:
            after = self._operation(root)
        except OperationOutputError as exc:
            # The host may have added it before its answer was lost: say so rather than guess.
            result.update(failed=True, msg=f"acs_root_ca: {exc}; whether the root was added is unknown, run again "
                                           "to see")
            return result
        if after.get("error") is not None or not after.get("added"):
            result.update(failed=True, msg=f"acs_root_ca: {failure_message(after)}")
            return result
        if clean_text(after.get("thumbprint"), 100) != root.sha1:
            result.update(failed=True, msg="acs_root_ca: the host read another thumbprint from the certificate it was "
                                           f"sent ({clean_text(after.get('thumbprint'), 100)}, not {root.sha1})")
            return result
        now = store_state(after.get("stores"))
        if now is None or TARGET_STORE_NAME not in now.stores:
            result.update(failed=True, changed=True,
                          msg=f"acs_root_ca: the host reported the root added, but it does not show in {TARGET_STORE}")
            return result
        result.update(changed=True, stores=list(now.stores), disallowed_stores=list(now.disallowed),
                      msg=f"{decision.message}: done")
        return result

    def _operation(self, root):
        """Run the operation script (only looking when ``root`` is None) and read its answer."""
        try:
            outcome = execute(self, render_operation(root))
        except ConnectionLost as exc:
            changing = " while adding the root (run again to see whether it was added)" if root else ""
            raise AnsibleConnectionFailure(f"acs_root_ca: the connection to the host was lost{changing}: {exc}") from None
        return parse_operation_output(outcome.get("rc"), to_text(outcome.get("stdout")), to_text(outcome.get("stderr")))
