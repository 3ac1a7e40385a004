"""Self-signed roots with real-world names that are longer than RFC 5280's 64-character limit for a common name.

Microsoft's "Microsoft Enterprise Identity Verification Root Certificate Authority 2020" is such a name (74
characters); cryptography refuses to build it unless told not to validate the length.
"""
from __future__ import annotations

import datetime
import warnings

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from .pki import Identity, new_key, now

LOOKALIKE_ROOT_NAME = "Microsoft Enterprise Identity Verification Root Certificate Authority 2020"


def named_root(common_name: str, organization: str = "Microsoft Corporation") -> Identity:
    """A self-signed CA certificate with exactly this subject, valid for a year from yesterday."""
    key = new_key()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # the length warning _validate=False still gives
        name = x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name, _validate=False),
        ])
    moment = now()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(moment - datetime.timedelta(days=1))
            .not_valid_after(moment + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return Identity(cert=cert, key=key)


def lookalike_root() -> Identity:
    """The enterprise look-alike of the ACS root: same words, one more, another key and thumbprint."""
    return named_root(LOOKALIKE_ROOT_NAME)
