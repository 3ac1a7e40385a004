# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gate: may this host receive the agent build about to be deployed?"""

from __future__ import annotations

import typing as t

GATE_MODES = ("enforce", "warn", "off")
# Package verdicts (from _authenticode.inspect_package) that no host may receive.
REFUSED_PACKAGES = ("tampered", "unsigned", "untrusted", "unreadable")


def package_summary(package: t.Mapping[str, t.Any] | None) -> str:
    if not package:
        return ""
    return f"{package.get('path')}: {package.get('verdict')}"


def decide(mode: str, status: str, ready: bool, error: str | None = None,
           package: t.Mapping[str, t.Any] | None = None, missing: str | None = None) -> dict[str, t.Any]:
    """{'decision': allow|block|warn|skip, 'reason': text}. 'block' becomes 'warn' in warn mode.

    ``missing`` is the verdict's first reason: what is missing, in words, so the gate can name it.
    """
    if mode not in GATE_MODES:
        raise ValueError(f"the gate mode must be one of {', '.join(GATE_MODES)}, got {mode!r}")
    if mode == "off":
        return {"mode": mode, "decision": "skip", "reason": "the gate is off"}
    blocked: str | None = None
    verdict = (package or {}).get("verdict")
    if error:
        blocked = f"the host could not be assessed ({status}): {error}"
    elif verdict in REFUSED_PACKAGES:
        blocked = (f"the agent package {package_summary(package)} must not be deployed anywhere: "
                   f"{((package or {}).get('reasons') or [''])[0]}")
    elif verdict == "cross_signed":
        return {"mode": mode, "decision": "allow",
                "reason": "the agent package is cross-signed (not ACS-signed): it does not need the ACS update"}
    elif not ready:
        blocked = f"not ready for ACS-signed agent builds ({status})" + (f": {missing}" if missing else "")
    if blocked is None:
        return {"mode": mode, "decision": "allow", "reason": "ready for ACS-signed agent builds"}
    return {"mode": mode, "decision": "block" if mode == "enforce" else "warn", "reason": blocked}
