# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is the documentation of the action plugin of the same name; the module itself has no code.

DOCUMENTATION = r"""
---
module: acs_reboot
short_description: Restart a Windows host and wait until it is back and servicing has finished
version_added: 0.1.0
description:
  - Restarts a Windows host with C(shutdown.exe /r /t <pre_reboot_delay> /c "<msg>"), waits until the host
    answers again with a new boot time (C(Win32_OperatingSystem.LastBootUpTime), read with C(Get-WmiObject)),
    then waits until Windows has finished servicing the updates the restart completes.
  - Servicing has finished when the Windows Modules Installer service (C(TrustedInstaller)) is stopped and
    none of the Component Based Servicing keys C(RebootPending), C(RebootInProgress) and C(PackagesPending)
    is there, on two checks O(servicing_check_interval) seconds apart, within O(servicing_timeout) seconds
    after the host came back. Servicing can go on for minutes after WinRM answers again.
  - Every command goes through the connection's low-level exec with the collection's PowerShell 2.0-safe
    runner, so hosts with PowerShell 2.0 (Windows 7, Server 2008 R2), 3.0 and 4.0 are served too.
    C(ansible.windows.win_reboot) cannot serve them (its restart command needs C(ConvertTo-Json) and its
    default boot-time command the CIM cmdlets).
  - While the host restarts, the connection is closed and reset before each attempt, as C(win_reboot) does,
    so that no shell of the old boot is reused.
  - It always restarts the host it runs on; the role P(codesign.windows.acs_readiness#role) runs it only where
    the remediation needs a restart and C(acs_readiness_reboot=if_required).
  - It fails with a message saying which of these happened, never reports success for them - the host did
    not go down within O(reboot_timeout); it went down and did not come back within O(reboot_timeout); it
    came back with the same boot time; servicing was still busy when O(servicing_timeout) ran out; a restart
    is still pending after the restart.
  - A restart that another program already scheduled (C(shutdown.exe) exit code 1190) is aborted and replaced
    by this one, with a warning; one already under way (1115) is waited for.
  - In check mode only the boot time and the servicing state are read; nothing is restarted.
options:
  reboot_timeout:
    description:
      - Seconds, from when the restart is issued, within which the host must go down and answer again with a
        new boot time.
    type: int
    default: 600
  servicing_timeout:
    description:
      - Seconds, from when the host answers again, within which servicing must have finished.
    type: int
    default: 1800
  servicing_check_interval:
    description:
      - Seconds between two checks of the servicing state; two checks in a row must find it finished.
    type: int
    default: 30
  pre_reboot_delay:
    description:
      - Seconds C(shutdown.exe) waits before the restart (C(/t)); users logged on see the message meanwhile.
    type: int
    default: 2
  msg:
    description:
      - The comment C(shutdown.exe) shows to logged-on users and writes to the System event log (event 1074).
        Printable ASCII, at most 512 characters; other characters are replaced by spaces.
    type: str
    default: Restart by codesign.windows.acs_reboot to finish installing updates
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - codesign.windows.action_attributes
attributes:
  platform:
    platforms: windows
    support: full
notes:
  - The account must be allowed to shut the host down (a member of the local Administrators group).
  - Restart hosts in batches (C(serial)); restart domain controllers and the nodes of a cluster one at a time,
    so that a domain or a clustered service stays available. See the role's documentation.
  - The PowerShell it sends is checked by a PowerShell grammar and executed by the collection's emulated
    Windows fleet in its tests, which model the restart; see the collection's C(tests/integration) for running
    it against real Windows hosts.
seealso:
  - module: codesign.windows.acs_facts
  - module: ansible.windows.win_reboot
  - name: shutdown.exe
    description: The command that restarts the host, its options and exit codes.
    link: https://learn.microsoft.com/en-us/windows-server/administration/windows-commands/shutdown
author:
  - codesign.windows maintainers (@codesign-windows)
"""

EXAMPLES = r"""
- name: Restart and wait until servicing has finished
  codesign.windows.acs_reboot:

- name: Restart a host whose updates take long to finish
  codesign.windows.acs_reboot:
    reboot_timeout: 1200
    servicing_timeout: 3600
    msg: Restart to finish the ACS readiness update
"""

RETURN = r"""
rebooted:
  description: Whether the restart was issued.
  returned: always
  type: bool
  sample: true
boot_time_before:
  description: The host's boot time before the restart (UTC, ISO 8601).
  returned: when it could be read
  type: str
  sample: "2026-11-20T03:00:00Z"
boot_time_after:
  description: The host's boot time after the restart (UTC, ISO 8601).
  returned: when the host came back
  type: str
  sample: "2026-11-29T19:02:11Z"
elapsed:
  description: Seconds from the restart to the end of servicing (or to the failure).
  returned: when the host came back
  type: int
  sample: 95
went_down:
  description:
    - Whether an attempt to reach the host failed between the restart and its new boot time. A host that restarts
      faster than the checks (every 2 seconds) may show C(false); the new boot time is what proves the restart.
  returned: on success
  type: bool
  sample: true
servicing_seconds:
  description: Seconds servicing went on after the host answered again.
  returned: on success
  type: int
  sample: 60
servicing:
  description: In check mode, the servicing state found (TrustedInstaller's status and the keys present).
  returned: in check mode
  type: str
  sample: TrustedInstaller Stopped; RebootPending present
msg:
  description: What was done, or why it failed.
  returned: always
  type: str
  sample: restarted (boot time 2026-11-20T03:00:00Z -> 2026-11-29T19:02:11Z) and servicing has finished
"""
