# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is the documentation of the action plugin of the same name; the module itself has no code.

DOCUMENTATION = r"""
---
module: acs_export_evidence
short_description: Read ACS evidence from ConfigMgr, WSUS, CMDB or evidence exports, without contacting a host
version_added: 0.1.0
description:
  - Reads one or more export files on the controller and returns, per host, the evidence record that
    P(codesign.windows.acs_verdict#filter) takes, so that hosts that cannot be reached over WinRM (DMZ hosts,
    change windows, hosts another team owns) are judged from the system of record that already holds their facts.
  - "Formats: V(evidence) (CSV or JSON of evidence records, one row a host), V(configmgr) (a file with a row per
    host: C(Name0), C(Caption0), C(Version0), C(BuildNumber0), C(BuildExt), C(ProductType0); and a file with a row
    per installed update: C(Name0), C(HotFixID0); joined by host name), V(wsus) (a row per host and update:
    C(FullDomainName), C(OSDescription), C(KnowledgebaseArticles) or C(Title), C(UpdateInstallationState)) and
    V(cmdb) (any export, through O(mapping)). The collection's C(docs/exports.md) describes each, with sample
    files in C(docs/samples/exports/)."
  - Evidence an export lacks (the root certificate, the restart state, the agents...) is null, never guessed,
    and the host's C(notes) say it was not in the export and what that means for the verdict.
  - A WSUS update in the state C(InstalledPendingReboot) is listed as installed and sets C(reboot_pending).
    C(NotApplicable) does not list an update (it may be superseded); the host's C(Installed) rows decide.
  - Bad input never fails the task. A missing column, an unrecognised OS string, a duplicate host, an empty
    or malformed row, an undecodable file or one over O(max_file_size) is returned in RV(bad_rows) with its file,
    row and column; the good rows are still read, and a host whose row is bad still appears in RV(records),
    with the error. Only a wrong option fails the task.
  - A host on several rows or in several files is merged field by field. Where the values disagree the field is
    null (not known) and the disagreement is a bad row naming both places; no row silently wins.
  - Reads UTF-8 (with or without BOM), UTF-16 with a BOM (Excel "Unicode Text", PowerShell redirection) and,
    with a warning, Windows-1252 (Excel "CSV (Comma delimited)"). The delimiter (comma, semicolon or tab) is read
    from the header line.
  - Runs on the controller and changes nothing. It never reports a change and runs the same in check mode.
options:
  paths:
    description:
      - The export files. Each is a path, or a mapping with C(path) and optionally C(format) and C(mapping) for
        that file alone.
      - Relative paths are relative to the playbook's directory.
    type: list
    elements: raw
    required: true
  format:
    description:
      - The files' format. V(auto) tells it from distinctive column names (C(HotFixID0), C(Caption0),
        C(UpdateInstallationState), or C(host) with C(os_name) or C(os_version)), and otherwise lists the file
        in RV(bad_rows) asking for a format. With O(mapping) given, V(auto) means V(cmdb).
      - V(configmgr) tells the hosts file from the updates file by its C(HotFixID0) column.
    type: str
    choices: [auto, evidence, configmgr, wsus, cmdb]
    default: auto
  mapping:
    description:
      - For V(cmdb) (required) or to rename the columns of a built-in format. A mapping, or the path of a YAML file
        holding one.
      - C(columns) maps an evidence field (C(host), C(os_name), C(os_version), C(ubr), C(hotfixes), C(esu),
        C(offline), C(root_ca_present)...; C(kb) and C(state) for a row per update) to a column name or a list of
        candidate names. The fields may also be given at the top level without C(columns).
      - "C(values) maps, per field, a value as the export writes it to the evidence value, for example
        C({offline: {Air-gapped: true, Corporate: false}})."
      - C(separator) (default C(;)) separates the items of list cells such as C(hotfixes);
        C(delimiter) forces the CSV delimiter.
    type: raw
  max_file_size:
    description:
      - Files larger than this are not read, and are listed in RV(bad_rows). A number of bytes or a size such as
        V(256MiB) or V(1GB).
    type: raw
    default: 256MiB
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - codesign.windows.action_attributes
attributes:
  check_mode:
    support: full
    details: It only reads files on the controller.
  platform:
    platforms: posix
    support: full
notes:
  - WSUS does not record the update build revision (UBR). Windows 10, 11 and Server 2016 and later hosts are judged
    by it, so from a WSUS export alone they are C(unknown), with a note; add a file (ConfigMgr C(BuildExt), a CMDB)
    that gives the full version for the same host names.
  - Host names match without regard to case. Files are joined by host name as written, so a short name and a
    fully qualified name are two hosts.
seealso:
  - plugin: codesign.windows.acs_verdict
    plugin_type: filter
  - module: codesign.windows.acs_facts
author:
  - codesign.windows maintainers (@codesign-windows)
"""

EXAMPLES = r"""
- name: Read a ConfigMgr export (hosts file and installed updates file)
  codesign.windows.acs_export_evidence:
    paths:
      - exports/configmgr-os.csv
      - exports/configmgr-qfe.csv
  register: acs_export
  delegate_to: localhost
  run_once: true

- name: Judge every host of the export
  ansible.builtin.set_fact:
    acs_export_verdicts: >-
      {{ dict(acs_export.records.keys()
              | zip(acs_export.records.values() | map(attribute='evidence')
                    | map('codesign.windows.acs_verdict'))) }}

- name: A CMDB export, through a column mapping
  codesign.windows.acs_export_evidence:
    paths: [/srv/exports/cmdb.csv]
    format: cmdb
    mapping:
      columns:
        host: CI Name
        os_name: Operating System
        os_version: OS Version
        hotfixes: Patches
        offline: Network Zone
      values:
        offline: {Air-gapped: true, Corporate: false}

- name: A WSUS export next to a CMDB file that gives the full OS version, each with its own format
  codesign.windows.acs_export_evidence:
    paths:
      - {path: /srv/exports/wsus.csv, format: wsus}
      - {path: /srv/exports/versions.csv, format: cmdb, mapping: /srv/exports/versions-mapping.yml}
    max_file_size: 1GiB
"""

RETURN = r"""
records:
  description:
    - Per host (as the export names it), its evidence record and what the export said about it.
  returned: success
  type: dict
  contains:
    host:
      description: The host name as first written in the exports.
      type: str
    evidence:
      description:
        - The evidence record for P(codesign.windows.acs_verdict#filter), with every field; a field no export gave
          is null.
      type: dict
      sample:
        os_name: Microsoft Windows Server 2012 R2 Standard
        os_version: 6.3.9600
        installation_type: Server
        hotfixes: [KB2919355, KB5006714]
        root_ca_present: null
        reboot_pending: null
    missing:
      description:
        - The evidence fields that were not in the export (or on which the rows disagreed) and that matter to this
          host's verdict. C(ubr) only where the OS is judged by it, C(esu) only on Windows 7, 2008 and 2008 R2 (or
          when the OS is not recognised).
      type: list
      elements: str
      sample: [root_ca_present, root_auto_update_disabled, offline, reboot_pending, agents]
    notes:
      description: Sentences a person reads, one per missing field (what its absence means) and for updates the
        export listed in a way that was not counted.
      type: list
      elements: str
    errors:
      description: The bad rows that concern this host (C(file), C(row), C(column), C(message)).
      type: list
      elements: dict
    sources:
      description: The files that named the host (C(file), C(format), C(first_row), C(rows)).
      type: list
      elements: dict
bad_rows:
  description:
    - Every problem with the input, in file and row order. C(row) counts as a spreadsheet does (the header is
      row 1; in JSON the position of the record); it is null for a problem with the whole file. C(column) is
      null when the problem is not one column's. C(host) is null when the row names no host.
  returned: success
  type: list
  elements: dict
  sample:
    - file: exports/wsus.csv
      row: 13
      column: OSDescription
      message: "the OS is not recognised: Windows 10 without a release (such as 21H2 or 1809) or a build number
        cannot be judged: each release needs a different update"
      host: ws-0099.corp.example.com
files:
  description: Per file, the format it was read as, its encoding, delimiter, number of rows and of new hosts.
  returned: success
  type: list
  elements: dict
"""
