# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is the documentation of the action plugin of the same name; the module itself has no code.

DOCUMENTATION = r"""
---
module: acs_facts
short_description: Gather a Windows host's evidence for Azure Code Signing (ACS) readiness
version_added: 0.1.0
description:
  - Reads, in one command over the connection, everything that decides whether a Windows host can run
    ACS-signed Trend Micro agent builds, and returns it as C(ansible_facts.acs).
  - The OS version and update build revision (UBR), installed updates from both
    C(Win32_QuickFixEngineering) and the Component Based Servicing (CBS) package store with each
    package's state, the root certificate C(Microsoft Identity Verification Root Certificate Authority 2020)
    in the Root, AuthRoot, group policy and enterprise stores and in the Disallowed stores (by thumbprint),
    whether automatic root update is disabled, the pending-restart keys of CBS and Windows Update, the
    PowerShell version, and
    Trend Micro agents from the uninstall keys, the product registry and their services, in both
    registry views.
  - C(ansible_facts.acs.evidence) is the evidence record that P(codesign.windows.acs_verdict#filter) takes.
  - It sends one small PowerShell bootstrap on the command line and a readable probe script on stdin,
    through the connection's low-level exec (the path M(ansible.builtin.raw) uses). It needs no PowerShell
    module support, so it gathers hosts with PowerShell 2.0 (Windows 7, Server 2008 R2), 3.0 and 4.0 as well.
  - Each failed probe becomes a warning that names the host and the probe, and leaves its part of the
    evidence null. A probe that is denied (a least-privilege or JEA account) never turns into a "missing"
    update or certificate.
  - Whatever a host sends back ends as evidence or as a failure of that host with a message, never as an
    error that drops the host from the play. The controller applies its own limits (the answer's size,
    nesting, items per list, string length) rather than trusting the host; a probe whose answer does not
    have the expected form loses only its own evidence (category V(malformed)).
  - Text from the host (registry values, error messages, stderr) is stripped of terminal control sequences,
    other control characters and Unicode bidirectional overrides before it is shown or stored in facts.
  - Read-only. It never reports a change and runs the same in check mode.
options:
  gather_subset:
    description:
      - What to gather. V(all) is every subset except the opt-in V(esu).
      - Prefix a subset with C(!) to exclude it, for example C(["all", "!agents"]).
      - V(os) is always gathered.
      - V(esu) reads the Extended Security Updates licence state from C(SoftwareLicensingProduct) (a slow
        WMI class); without it, give C(esu) from inventory. Only a licensed ESU product (C(LicenseStatus) 1)
        counts as licensed; none found is unknown, because Azure and Azure Arc deliver ESU without one.
      - V(connectivity) (opt-in, not in V(all)) has the host ask its own WinHTTP stack, with its proxy
        settings, for the trusted root certificate list
        C(http://ctldl.windowsupdate.com/msdownload/update/v3/static/trustedr/en/authrootstl.cab) (an HTTP
        HEAD, at most 5 seconds per step). Its answer sets C(offline) when neither O(offline) nor C(acs_offline)
        does.
    type: list
    elements: str
    default: [all]
  gather_timeout:
    description:
      - Seconds each probe may take on the host before it is abandoned and reported as a timeout.
      - The CBS package and ESU licence probes always get at least 60 seconds.
    type: int
    default: 10
  command_timeout:
    description:
      - Seconds the controller waits for the host's answer before it reports the host as hung.
      - Defaults to the sum of every probe's timeout plus 60 seconds.
    type: int
  esu:
    description:
      - Whether the host is licensed for Extended Security Updates. Defaults to the host variable
        C(acs_esu); the V(esu) subset fills it when neither is set.
      - The host variable is read with Ansible's own boolean parser
        (C(ansible.module_utils.parsing.convert_bool.boolean)). V(true), V(yes), V(on), V(1), V(t), V(y) in
        any case are true, V(false), V(no), V(off), V(0), V(f), V(n) are false; any other value is ignored
        (unknown) with a warning, never guessed.
    type: bool
  offline:
    description:
      - Whether the host cannot reach Windows Update (air-gapped), so it cannot fetch the root certificate
        on demand. Defaults to the host variable C(acs_offline), read as for O(esu), then to what the
        V(connectivity) subset found.
    type: bool
  verdict:
    description:
      - Also judge the evidence, as P(codesign.windows.acs_verdict#filter) does with O(policy_21h2) and O(catalog),
        and return the verdict as the fact C(acs_verdict). The C(codesign.windows.acs_readiness) role sets it,
        so that judging costs no second task per host.
    type: bool
    default: false
  policy_21h2:
    description:
      - How to judge Windows 10 21H2 builds, as the filter's C(policy_21h2). Used with O(verdict) only.
    type: str
    choices: [strict, lenient]
    default: strict
  catalog:
    description:
      - Catalog overrides, as the filter's C(catalog). Used with O(verdict) only.
    type: raw
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - codesign.windows.action_attributes
  - ansible.builtin.action_common_attributes.facts
attributes:
  platform:
    platforms: windows
    support: full
  facts:
    support: full
notes:
  - Tested over the C(winrm) connection (Basic, NTLM with and without message encryption, HTTPS). It uses only
    the connection's exec, so C(psrp) and C(ssh) with the PowerShell shell take the same path.
  - The C(winrm) connection of ansible-core 2.16 to 2.18, and C(ssh) up to 2.17, wrap every command in
    C(PowerShell -EncodedCommand) themselves; they are handed the bootstrap script to encode once, the
    others the encoded command line. Tested on ansible-core 2.16, 2.19 and the newest release.
  - The PowerShell it sends is checked by a PowerShell grammar and by an emulated Windows fleet in the
    collection's tests. See the collection's C(tests/integration) for running it against real Windows hosts.
seealso:
  - plugin: codesign.windows.acs_verdict
    plugin_type: filter
  - module: ansible.windows.setup
author:
  - codesign.windows maintainers (@codesign-windows)
"""

EXAMPLES = r"""
- name: Gather ACS evidence
  codesign.windows.acs_facts:

- name: Gather everything, including the ESU licence state, with a longer per-probe timeout
  codesign.windows.acs_facts:
    gather_subset: [all, esu]
    gather_timeout: 30

- name: Judge the host
  ansible.builtin.debug:
    msg: "{{ ansible_facts.acs.evidence | codesign.windows.acs_verdict }}"
"""

RETURN = r"""
ansible_facts:
  description: Facts added under C(acs), and C(acs_verdict) with O(verdict).
  returned: success
  type: complex
  contains:
    acs_verdict:
      description: The verdict on the evidence, as P(codesign.windows.acs_verdict#filter) returns it.
      returned: with O(verdict)
      type: dict
      sample: {status: ready, ready: true}
    acs:
      description: The host's ACS evidence.
      returned: success
      type: complex
      contains:
        evidence:
          description:
            - The evidence record P(codesign.windows.acs_verdict#filter) takes (C(os_name), C(os_version), C(ubr),
              C(installation_type), C(display_version), C(hotfixes), C(rollup_builds), C(pending_rollup_builds),
              C(root_ca_present), C(root_ca_disallowed), C(root_auto_update_disabled), C(offline),
              C(offline_source), C(esu), C(reboot_pending), C(agents), C(architecture), C(kernel_version)).
              A value the host could not give is null.
          returned: always
          type: dict
          sample:
            os_name: Windows Server 2012 R2 Standard
            os_version: 6.3.9600
            ubr: null
            installation_type: Server
            hotfixes: [KB2919355, KB5034819]
            root_ca_present: false
            root_auto_update_disabled: true
            reboot_pending: false
            agents: [{product: apex_one, version: 14.0.0.12526, service_state: running}]
        os:
          description: OS registry values, architecture, kernel file version, last boot time and PowerShell version.
          returned: always
          type: dict
        hotfixes:
          description:
            - C(qfe) (HotFixID, description, installed on) and C(cbs) (package name, KB, rollup build, state), rollup
              packages first; C(cbs_truncated) when the store held more than 3000 matching packages.
          returned: when the hotfixes subset was gathered
          type: dict
        certificates:
          description:
            - The root certificate per store (C(root_ca_stores)) and per Disallowed store (C(disallowed)),
              C(root_ca_disallowed), C(root_ca_present) (false when it is disallowed), C(root_ca_reason),
              C(disable_root_auto_update), C(root_dir_url).
          returned: when the certificates subset was gathered
          type: dict
        reboot:
          description:
            - C(cbs_reboot_pending), C(cbs_reboot_in_progress), C(cbs_packages_pending), C(wu_reboot_required),
              C(wu_post_reboot_reporting), C(pending_file_rename), and C(reboot_pending) (any of the servicing keys;
              file renames do not count).
          returned: when the reboot subset was gathered
          type: dict
        agents:
          description: Trend Micro uninstall entries, product registry values, services, and the recognised C(products).
          returned: when the agents subset was gathered
          type: dict
        esu:
          description:
            - ESU licences found, whether the host is C(licensed) (true for LicenseStatus 1, false for an ESU key that
              is not licensed, null when there is no ESU product) and the C(reason).
          returned: when the esu subset was gathered
          type: dict
        connectivity:
          description:
            - The host's own request for the trusted root certificate list, C(url), C(result) (V(reachable),
              V(unreachable), V(proxy_required)), C(status) (HTTP), C(error_code) (WinHTTP HRESULT), C(error), C(detail),
              and C(note) when automatic root update is redirected to an internal C(RootDirURL), where this probe does
              not decide C(offline).
          returned: when the connectivity subset was gathered
          type: dict
        errors:
          description: Probes that failed, with C(probe), C(subset), C(category) (V(denied), V(timeout), V(malformed), V(error)) and C(message).
          returned: always
          type: list
          elements: dict
        gathered_at:
          description: When the evidence was gathered (UTC, ISO 8601), useful with fact caching.
          returned: always
          type: str
        runner:
          description: The probe runner's protocol, the host's PowerShell version, language mode and process bitness, and the time the probes took.
          returned: always
          type: dict
"""
