# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options the filters share: the 21H2 policy and the user's catalog override."""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.codesign.windows.plugins.plugin_utils._catalog import Catalog, CatalogError, load_catalog
from ansible_collections.codesign.windows.plugins.plugin_utils._verdict import PolicyError, check_policy


def filter_catalog(name: str, catalog: t.Any) -> Catalog:
    try:
        return load_catalog(catalog)
    except CatalogError as exc:
        raise AnsibleFilterError(f"{name}: catalog: {exc}") from None


def filter_policy(name: str, policy_21h2: t.Any) -> str:
    try:
        return check_policy(policy_21h2)
    except PolicyError as exc:
        raise AnsibleFilterError(f"{name}: {exc}") from None
