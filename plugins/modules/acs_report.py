# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is the documentation of the action plugin of the same name; the module itself has no code.

DOCUMENTATION = r"""
---
module: acs_report
short_description: Write the fleet's ACS readiness report (JSON, CSV, HTML, Markdown) on the controller
version_added: 0.1.0
description:
  - Collects, for every host of the play, the result of M(codesign.windows.acs_facts) and the
    C(acs_verdict) fact, decides the gate per host, and writes the report files on the controller,
    all formats together or none. The JSON schema is in the collection's C(docs/report-schema.md).
  - Unreachable and failed hosts appear in every report with their error.
  - Run it once per play with C(run_once). With C(serial) batches or AWX job slices, give every batch the
    same O(run_id), and each batch adds its hosts to the report already written for that run instead of
    replacing it. Writers take a lock file in O(directory) so that none loses another's hosts; such locks
    are not reliable on NFS.
  - The JSON report of each run is also kept as C(<basename>-<run_id>.json).
  - Never reports a change; it connects to no host. The P(codesign.windows.acs_readiness#role) role runs it for you.
options:
  directory:
    description:
      - Directory on the controller for the report files; created when missing. A relative path is taken from
        the directory C(ansible-playbook) runs in; the returned paths are absolute.
      - Runs writing into one directory at the same time take turns through a lock file there
        (C(.<basename>.lock)); on NFS such locks are not reliable.
    type: path
    required: true
  run_id:
    description: Identifies one run of the playbook, so that C(serial) batches add up.
    type: str
    required: true
  formats:
    description: Which files to write.
    type: list
    elements: str
    choices: [json, csv, html, md]
    default: [json, csv, html, md]
  basename:
    description: File name without extension.
    type: str
    default: acs-readiness
  gate:
    description: The gate mode the decisions are made for.
    type: str
    choices: [enforce, warn, 'off']
    default: warn
  policy_21h2:
    description: Used only for hosts whose C(acs_verdict) fact is missing.
    type: str
    choices: [strict, lenient]
    default: strict
  catalog:
    description: Catalog overrides (mapping or YAML file), used only for hosts whose verdict is missing.
    type: raw
  package:
    description: The C(package) result of M(codesign.windows.acs_agent_package), when an installer was inspected.
    type: dict
  hosts:
    description:
      - Hosts to report on. Defaults to every host of the play (C(ansible_play_hosts_all)), so that a host that
        failed before this task, or belongs to a later C(serial) batch, is reported too (until its batch
        runs, as not gathered).
      - A host without a gathered result never replaces the record of the same run that another batch wrote.
    type: list
    elements: str
  gathered_var:
    description: Name of the variable registered from M(codesign.windows.acs_facts).
    type: str
    default: acs_readiness_gathered
  verdict_var:
    description: Name of the host fact holding the verdict.
    type: str
    default: acs_verdict
  run_info:
    description: Extra data recorded in the report's C(run) section (for example the AWX job id).
    type: dict
    default: {}
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - codesign.windows.action_attributes
attributes:
  check_mode:
    support: full
    details: The report is written in check mode too; it changes no host.
  diff_mode:
    support: none
  platform:
    platforms: posix
    support: full
seealso:
  - module: codesign.windows.acs_facts
author:
  - codesign.windows maintainers (@codesign-windows)
"""

EXAMPLES = r"""
- name: Write the report
  codesign.windows.acs_report:
    directory: /var/lib/acs-reports
    run_id: "{{ acs_run_id }}"
  run_once: true
  delegate_to: localhost
  register: acs_report
"""

RETURN = r"""
paths:
  description: The files written, per format.
  returned: success
  type: dict
summary:
  description: Fleet counts (per status, per OS, per Trend product) and the hosts needing action.
  returned: success
  type: dict
products:
  description: Per Trend product, the hosts ready and not ready for ACS-signed agent builds.
  returned: success
  type: dict
hold_back:
  description: Hosts that can never be patched, with Trend's advice for keeping ACS-signed builds away.
  returned: success
  type: list
  elements: dict
decisions:
  description: The gate decision per host of this batch (C(decision) allow, block, warn or skip, and C(reason)).
  returned: success
  type: dict
markdown:
  description: The summary as Markdown, to print at the end of the play.
  returned: success
  type: str
"""
