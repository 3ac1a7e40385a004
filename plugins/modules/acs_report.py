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
  records:
    description:
      - Hosts known from export files rather than gathered from the hosts, the C(records) result of
        M(codesign.windows.acs_export_evidence) (host name to record). Every record is judged here, in one
        pass; the hosts of the play and O(hosts) are then not used.
      - Such a host's report entry has no C(gathered_at) and a C(source) naming the export files and rows.
        Evidence an export lacks stays C(null); the export's notes say what that means for the verdict.
    type: raw
  bad_rows:
    description:
      - The rows of the exports that could not be read (the C(bad_rows) result of
        M(codesign.windows.acs_export_evidence)); each is listed in the report (C(bad_rows) in the JSON, a
        section of the HTML page and of the Markdown summary), also those that name no host.
    type: list
    elements: raw
    default: []
  compare:
    description:
      - Compare this run with an earlier one. The report's C(changes) section says per host whether it is new,
        fixed, regressed, changed, unassessed, gone or unchanged, with its status before and after.
      - Without O(previous_report), the earlier run is the newest C(<basename>-<run_id>.json) of another run in
        O(directory). When there is none, C(changes) is C(null).
    type: bool
    default: true
  previous_report:
    description:
      - The JSON report of the run to compare with (O(compare)), instead of the newest one in O(directory).
        The task fails when it cannot be read or is no report.
    type: path
  slices:
    description:
      - Merge the JSON reports of the slices of one job (AWX job slicing, or runs each limited to part of the
        inventory) into one fleet report, instead of reporting on the hosts of the play. The report is written
        in every format of O(formats) under O(basename), with the same summary as a single run.
      - A host in two slices is reported once, from its newest record (its C(gathered_at), else its slice's
        C(generated_at)); a record saying that C(acs_facts did not run on this host) never replaces a gathered
        one. The host gets a warning naming the slices.
      - A slice file that is missing, unreadable, truncated, of another schema version or no report is named
        in a warning and in the report (C(bad_rows), C(run.merge)); the other slices are merged. The task fails
        only when no slice can be merged.
      - The report's C(run.merge) says how complete the merge is; the HTML and Markdown reports say it first.
        The policy, gate mode and catalog version in C(run) are the slices' own.
    type: dict
    suboptions:
      files:
        description:
          - The slice reports to merge; a name with C(*), C(?) or C([) is a pattern for the files it matches (one
            that matches nothing is reported as a missing file). Without them, every C(<basename>-<run_id>.json)
            of O(slices.basename) in O(slices.directory) of the newest slice's AWX workflow job
            (C(run.awx_workflow_job_id)), or of O(slices.group).
        type: list
        elements: path
      directory:
        description: Where the slices wrote their reports. Defaults to O(directory).
        type: path
      basename:
        description:
          - The base name the slices' reports were written under (the role's C(acs_readiness_report_basename)).
            It must differ from O(basename) unless O(slices.files) are named.
        type: str
        default: acs-readiness-slice
      group:
        description:
          - Merge the slices of this AWX workflow job id (C(run.awx_workflow_job_id), the C(awx_workflow_job_id)
            variable of the slice jobs). Named files of another job are then left out, with a warning.
        type: str
      expected:
        description:
          - How many slices the job had (the job template's C(job_slice_count)). Fewer readable slices make the
            report incomplete, and it says so. Without it a missing slice cannot be detected.
        type: int
      expected_hosts:
        description:
          - The hosts the slices should have reported (the inventory). A host no slice reported is reported as
            C(failed), with an error saying so, so that it is in every format.
        type: list
        elements: str
  host_list_cap:
    description:
      - The most host names each list of RV(stats) and RV(changes) holds. Counts are always whole; the report
        files list every host. V(0) keeps the counts only.
    type: int
    default: 100
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

- name: Report on hosts known only from exports, compared with last night's report
  codesign.windows.acs_report:
    directory: /var/lib/acs-reports
    run_id: "{{ acs_run_id }}"
    records: "{{ acs_export.records }}"
    bad_rows: "{{ acs_export.bad_rows }}"
    previous_report: /var/lib/acs-reports/acs-readiness-20260101T020000Z.json
  delegate_to: localhost
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
statuses:
  description:
    - The status of every host this task reported on (the hosts of the play, or of O(records)), by host name,
      as the report has it. Hosts that only another batch or AWX slice of the run reported are not in it. The
      role's C(acs_readiness_status_groups) makes groups of it.
  returned: success
  type: dict
markdown:
  description: The summary as Markdown, to print at the end of the play.
  returned: success
  type: str
hosts_in_report:
  description: How many hosts the report holds (all batches of the run so far).
  returned: success
  type: int
bad_rows:
  description: How many export rows that could not be read the report lists.
  returned: success
  type: int
merge:
  description:
    - With O(slices), how the merge went (the report's C(run.merge)) - C(group), C(expected_slices),
      C(merged_slices), C(missing_slices), C(complete) (C(null) when the number of slices expected was not given
      and nothing else was wrong), C(slices) (C(file), C(run_id), C(awx_job_id), C(generated_at), C(hosts)),
      C(bad_files) and C(bad_file_count), C(duplicates) and C(duplicate_hosts), C(unreadable_host_records), C(not_reported) and
      C(hosts_not_reported), C(notice) (one line). Lists are cut at 200 entries; the counts are whole.
  returned: when O(slices) is given
  type: dict
changes:
  description:
    - The comparison with the earlier run, or C(null) without one. C(previous_run) (C(run_id), C(generated_at),
      C(path)), C(counts) per kind of change, and C(hosts), per kind but C(unchanged), the host names, each list
      cut at O(host_list_cap) names; C(hosts.truncated) gives the full count of each list that was cut. The report
      has every host.
  returned: success
  type: dict
remediation:
  description:
    - Each remediated host's status before and after this run's remediation, compared as C(changes) are, or C(null)
      when no host was remediated. C(counts) per kind of change, and C(hosts), per kind but C(unchanged), the host
      names, each list cut at O(host_list_cap) names. The report's C(remediation) section has every host with what was
      done.
  returned: success
  type: dict
stats:
  description:
    - The fleet summary the role publishes with C(set_stats) as C(acs_readiness), small however many hosts.
    - C(run_id), C(total), C(ready), C(by_status) (counts); C(hosts_needing_action), C(ready_hosts), C(hold_back)
      and, per Trend product in C(products), C(ready_hosts), C(not_ready_hosts), C(hold_back_hosts) and
      C(service_down_hosts) (host names, each list cut at O(host_list_cap)); C(reports) (the paths);
      C(changes) (as RV(changes)); C(remediation) (as RV(remediation)); C(host_list_cap).
    - C(truncated) maps each cut list (C(ready_hosts), C(products.apex_one.ready_hosts)...) to its full length;
      C(note) says how many lists were cut and how many names left out, and names the report that has every
      host (empty when nothing was cut).
  returned: success
  type: dict
  sample:
    run_id: awx-4242
    total: 50000
    ready: 41234
    by_status: {ready: 41234, needs_kb: 8000, unreachable: 766}
    ready_hosts: [web0001, web0002]
    hosts_needing_action: [app0001]
    products: {apex_one: {name: Trend Micro Apex One, total: 50000, ready: 41234, not_ready: 8766,
                          ready_hosts: [web0001], not_ready_hosts: [app0001], hold_back_hosts: [],
                          service_down_hosts: [], versions: {14.0.0.12526: 50000}}}
    hold_back: []
    reports: {json: /var/lib/acs-reports/acs-readiness.json}
    changes: null
    host_list_cap: 100
    truncated: {ready_hosts: 41234, hosts_needing_action: 8766, products.apex_one.ready_hosts: 41234,
                products.apex_one.not_ready_hosts: 8766}
    note: "4 host lists cut at 100 names, 99600 names left out (truncated and changes.hosts.truncated give each
      full length); every host is in the report: /var/lib/acs-reports/acs-readiness.json"
"""
