# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is the documentation of the action plugin of the same name; the module itself has no code.

DOCUMENTATION = r"""
---
module: acs_hotfix
short_description: Install the Windows update that makes a host ready for ACS-signed agent builds
version_added: 0.1.0
description:
  - Installs the update the host's verdict names (the cumulative update on Windows 10 / Server 2016 and later,
    the monthly rollup or the security-only update on Windows 6.x), after the verdict's missing prerequisites,
    from C(.msu) or C(.cab) files the user supplies.
  - Whether the host needs anything is decided from the verdict before the host is contacted. A host whose
    verdict finds the fix or a later update that supersedes it (V(ready), V(needs_root_ca)) is left alone with
    success and no change; a host whose update is installed but waits for a restart (V(reboot_pending)) too,
    with RV(reboot_required). A host without a patch path, without ESU where the update needs it, or without a
    usable verdict is refused.
  - Files come from a directory on the controller (O(src)) or a mapping of KB to file (O(files)), copied to the
    host through the collection's runner in chunks (each chunk's SHA-256 and then the whole copy's are checked
    on the host), or from a directory or UNC share the host reads (O(remote_src)). A file is picked by KB, OS and
    architecture from its Microsoft Update Catalog name (C(windows8.1-kb5022899-x64_<SHA-1>.msu)); the newest
    cumulative update or monthly rollup supplied wins, a security-only update must be the one named. The SHA-1
    a catalog name carries, and the SHA-256 given in O(checksums), are checked before anything is installed.
  - The verdict's missing prerequisites are installed first, in the catalog's order. A servicing stack
    prerequisite ("or any later servicing stack update") takes a later servicing stack update mapped to its
    KB in O(files). A file that is not supplied is named, with where to fetch it, and nothing is installed.
    When DISM answers "not applicable" (0x800f081e) for such a prerequisite, a later one is installed (Windows
    says so for a superseded update, Microsoft KB3057448); it is listed in RV(superseded) and the update that
    needs it is installed next (DISM refuses that one with 0x800f0823 if the servicing stack is in fact too old).
    Windows 10 1607 / Server 2016 needs a servicing stack update before its cumulative update.
  - Updates published only for Extended Security Updates (Windows 7, Server 2008 and 2008 R2) are refused
    unless the host is known to be licensed (the verdict's C(esu), from C(acs_esu) set to true in the inventory or
    the gathered licence, or O(esu)).
  - Pre-flight on the host, before anything is copied, checks the free space on the system drive (O(min_free_mb)), no
    restart already pending (servicing refuses new packages until it happens), and WinRM's per-shell memory
    quota C(MaxMemoryPerShellMB). Below 1024 MB (the WinRM 2.0 default is 150 MB; WinRM ends a shell whose processes
    allocate beyond it) DISM or pkgmgr runs outside the shell, as a scheduled task running as SYSTEM
    (C(schtasks.exe /Create /RU SYSTEM /SC ONCE), C(/Run), C(/Query) until its Last Result is the exit code, then
    C(/Delete)); RV(ran_as) says which.
  - C(wusa.exe) refuses to run in a WinRM session, so a C(.msu) is expanded with C(expand.exe -F:*), every
    C(SSU-*.cab) in it is added first and then the update's C(.cab) with
    C(dism.exe /online /add-package /quiet /norestart); C(WSUSSCAN.cab) never. Windows Server 2008 has no DISM, so
    there C(pkgmgr.exe /ip /m:<cab>) adds the package. Each installed package writes an Application event log entry
    (source C(codesign.windows), event 100; 101 for a removal). What was copied or expanded is removed
    afterwards.
  - DISM's and CBS's exit codes are judged by number, never by DISM's (localized) text, signed or not
    (C(-2146498530) is C(0x800f081e)); C(3010) means installed, a restart finishes it. The host is not
    restarted.
  - O(state=absent) removes the packages of O(kb) (C(Package_for_KB<n>), or a rollup C(Package_for_RollupFix)
    whose manifest in C(%SystemRoot%\servicing\Packages) names O(kb)) with C(dism /remove-package), for
    administrators who must roll back.
  - Every step is one command through the connection's low-level exec with the collection's PowerShell
    2.0-safe runner, so hosts with PowerShell 2.0 (Windows 7, Server 2008 R2) are served; no PowerShell module
    and no C(put_file).
  - With O(source=windows_update) the update comes from Windows Update or the host's WSUS server instead of files.
    The plan is the same (the verdict decides first; prerequisites first, in catalog order; O(rollup) chooses the
    monthly rollup, or a later one, or the security-only update), then the action runs C(ansible.windows.win_updates)
    with C(accept_list) set to exactly those KBs, C(reboot=false) and C(server_selection) from
    O(windows_update_server). It needs the C(ansible.windows) collection on the controller and PowerShell 5.1 on
    the host (read from the gathered facts); a host below that is refused before Windows Update is asked. In check
    mode Windows Update is not asked, and the result says what would be installed. An update the server does not offer
    fails, naming it. An installed update writes the same Application event log entry (event 100) as the files
    path.
options:
  state:
    description:
      - V(present) installs what the verdict needs; V(absent) removes the packages of O(kb).
    type: str
    choices: [present, absent]
    default: present
  source:
    description:
      - V(files) installs from C(.msu)/C(.cab) files (O(src), O(files) or O(remote_src)); any PowerShell, 2.0 included.
      - V(windows_update) has the host's Windows Update Agent install the planned KBs from Windows Update or its WSUS
        server through C(ansible.windows.win_updates); PowerShell 5.1 hosts only. O(src), O(files) and O(remote_src)
        are refused with it.
    type: str
    choices: [files, windows_update]
    default: files
  windows_update_server:
    description:
      - With O(source=windows_update), the service the host searches (C(ansible.windows.win_updates)'
        C(server_selection)) - V(default) is the one the host is configured for (its WSUS server if its policy
        names one, otherwise Windows Update), V(managed_server) its WSUS server, V(windows_update) Windows Update.
    type: str
    choices: [default, managed_server, windows_update]
    default: default
  verdict:
    description:
      - The host's verdict (the C(acs_verdict) filter's result). Defaults to the host's C(acs_verdict) variable,
        which the role P(codesign.windows.acs_readiness#role) sets.
    type: dict
  src:
    description:
      - A directory on the controller holding C(.msu)/C(.cab) files with Microsoft Update Catalog names. A
        relative path is looked up in the role's or playbook's C(files) directory first.
    type: path
  files:
    description:
      - A mapping of KB to file, for files whose names are not catalog names, or to map a later servicing stack
        update to a servicing stack prerequisite. Paths on the controller, or with O(remote_src) on the host
        (a name alone is taken inside O(remote_src)).
    type: dict
  remote_src:
    description:
      - A directory or UNC share the host reads the files from instead of copying them. The host hashes the
        picked files and the controller checks them before installing.
    type: str
  checksums:
    description:
      - SHA-256 of files, by file name or KB. A file whose SHA-256 differs is refused.
    type: dict
    default: {}
  rollup:
    description:
      - On Windows 6.x, V(monthly) installs the October 2021 monthly rollup or a later one supplied (rollups are
        cumulative); V(security_only) installs the October 2021 security-only update itself.
    type: str
    choices: [monthly, security_only]
    default: monthly
  esu:
    description:
      - The host is licensed for Extended Security Updates; needed for ESU-only updates when the verdict does
        not already say so.
    type: bool
  catalog:
    description:
      - The catalog override (as C(acs_readiness_catalog)), so that later rollups and updates count.
    type: raw
  kb:
    description:
      - With O(state=absent), the update to remove.
    type: str
  min_free_mb:
    description:
      - Free space the system drive must have before anything is copied.
    type: int
    default: 2048
  chunk_size:
    description:
      - Bytes per copy command (4096 to 8388608).
    type: int
    default: 524288
  task_timeout:
    description:
      - Seconds to wait for the scheduled task that installs a package where the shell memory quota is too small.
        A task still running then is left to finish, and the host fails with a message saying so.
    type: int
    default: 7200
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - codesign.windows.action_attributes
attributes:
  platform:
    platforms: windows
    support: full
notes:
  - Installing an update needs a member of the local Administrators group; another account fails with a message
    saying so and nothing is installed.
  - The action does not restart the host. The role P(codesign.windows.acs_readiness#role) runs it with
    C(acs_readiness_remediate=kb) or V(all), then gathers and judges the host again.
  - Where the shell memory quota is below 1024 MB the install runs as a scheduled task as SYSTEM; only a member of
    the local Administrators group may register one. Where DISM needs more than a larger quota allows, WinRM
    stops it and the message says to raise the quota (C(winrm set winrm/config/winrs @{MaxMemoryPerShellMB="2048"})).
  - O(source=windows_update) installs with C(reboot=false) in one round; a prerequisite the update server holds the
    update back for is installed first and the update follows on the next run, after the restart. An "or later"
    prerequisite (a servicing stack update) is asked for by its own KB only.
seealso:
  - module: codesign.windows.acs_facts
  - module: codesign.windows.acs_root_ca
  - plugin: codesign.windows.acs_verdict
    plugin_type: filter
  - name: DISM operating system package servicing options
    description: The /Add-Package and /Remove-Package options the action uses.
    link: https://learn.microsoft.com/windows-hardware/manufacture/desktop/dism-operating-system-package-servicing-command-line-options
  - name: Microsoft Update Catalog
    description: Where the update files come from.
    link: https://www.catalog.update.microsoft.com
author:
  - codesign.windows maintainers (@codesign-windows)
"""

EXAMPLES = r"""
- name: Install what the verdict needs from files kept on the controller
  codesign.windows.acs_hotfix:
    verdict: "{{ ansible_facts.acs.evidence | codesign.windows.acs_verdict }}"
    src: /srv/updates

- name: The security-only update, with its SHA-256 from the change record
  codesign.windows.acs_hotfix:
    src: /srv/updates
    rollup: security_only
    checksums:
      KB5006729: 0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0

- name: Read the files from a share, a later servicing stack update standing in for KB4490628
  codesign.windows.acs_hotfix:
    remote_src: \\fileserver\updates
    files:
      KB4490628: windows6.1-kb5010451-x64.msu

- name: Install from the host's WSUS server (PowerShell 5.1 hosts)
  codesign.windows.acs_hotfix:
    source: windows_update
    windows_update_server: managed_server

- name: Roll back
  codesign.windows.acs_hotfix:
    state: absent
    kb: KB5006729
"""

RETURN = r"""
kb:
  description: The update the verdict names (the catalog's KB, also when a later one is installed).
  returned: when the verdict names one
  type: str
  sample: KB5006714
planned:
  description: The KBs to install, prerequisites first.
  returned: when something is to be installed
  type: list
  elements: str
  sample: [KB4490628, KB5006743]
installed:
  description: The KBs installed by this run.
  returned: when an install ran
  type: list
  elements: str
  sample: [KB5022899]
superseded:
  description: The "or later" prerequisites (servicing stack updates) that DISM called not applicable because a
    later one is installed; they were not installed and need not be.
  returned: when DISM called such a prerequisite not applicable
  type: list
  elements: str
  sample: [KB5005698]
reboot_required:
  description: A restart finishes the installation (DISM exit code 3010, or the verdict's V(reboot_pending)).
  returned: when known
  type: bool
restart_first:
  description:
    - Nothing more can be installed until the host restarts (a restart was already pending, or DISM answered
      V(0x800f0806) CBS_E_PENDING); restarting it and running again installs the rest. The role
      P(codesign.windows.acs_readiness#role) does so when C(acs_readiness_reboot=if_required).
  returned: when the install was refused or stopped for that reason
  type: bool
packages:
  description: Each package DISM was given, its exit code (unsigned) and what it means, when one failed.
  returned: on failure of a package
  type: list
  elements: dict
free_mb:
  description: Free space on the host's system drive before the install.
  returned: after the pre-flight look
  type: int
shell_memory_mb:
  description: WinRM's MaxMemoryPerShellMB, when the host told it.
  returned: after the pre-flight look
  type: int
ran_as:
  description: Where DISM or pkgmgr runs, V(shell) (the WinRM shell) or V(scheduled_task) (a task running as SYSTEM,
    because the shell memory quota is below 1024 MB).
  returned: after the pre-flight look, when an update is to be installed
  type: str
  sample: scheduled_task
tool:
  description: The servicing program used, V(dism) or V(pkgmgr).
  returned: after the pre-flight look
  type: str
source:
  description: V(windows_update) when the update was asked of Windows Update or WSUS.
  returned: with O(source=windows_update)
  type: str
windows_update_server:
  description: The service searched (C(server_selection)).
  returned: with O(source=windows_update), when Windows Update is asked
  type: str
found_update_count:
  description: How many of the planned updates the update server offered (C(ansible.windows.win_updates)).
  returned: with O(source=windows_update), after win_updates ran
  type: int
removed:
  description: The packages removed (O(state=absent)).
  returned: when packages were removed
  type: list
  elements: str
msg:
  description: What was found and done, or why not.
  returned: always
  type: str
  sample: "installs KB5022899 (for KB5006714): done; a restart finishes the installation"
"""
