# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Attribute support shared by the collection's action plugins: read-only, check mode, no async."""

from __future__ import annotations


class ModuleDocFragment:
    """Use with ansible.builtin.action_common_attributes and its flow fragment, which describe them."""

    DOCUMENTATION = r"""
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
"""
