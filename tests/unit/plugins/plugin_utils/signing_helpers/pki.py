"""Throw-away certificate authorities for signing test packages.

Every certificate is generated per test session, so nothing secret or expiring is checked in.
"""
from __future__ import annotations

import dataclasses
import datetime
import pathlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

UTC = datetime.timezone.utc


@dataclasses.dataclass
class Identity:
    """A certificate with its private key."""

    cert: x509.Certificate
    key: object

    @property
    def sha1(self) -> str:
        return self.cert.fingerprint(hashes.SHA1()).hex().upper()  # nosec - a thumbprint, not a security hash

    @property
    def sha256(self) -> str:
        return self.cert.fingerprint(hashes.SHA256()).hex().upper()

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


def new_key(kind: str = "rsa"):
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(common_name: str, organization: str = "codesign.windows tests") -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def issue(
    common_name: str,
    *,
    issuer: Identity | None = None,
    not_before: datetime.datetime,
    not_after: datetime.datetime,
    ca: bool = False,
    eku: list | None = None,
    key_kind: str = "rsa",
    reuse: Identity | None = None,
    organization: str = "codesign.windows tests",
) -> Identity:
    """Issue a certificate; without an issuer it is a self-signed root.

    ``reuse`` keeps another certificate's name and key: that is how a cross-certificate is made.
    """
    key = reuse.key if reuse else new_key(key_kind)
    subject = reuse.cert.subject if reuse else _name(common_name, organization)
    signer_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
        )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
        )
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=eku == [ExtendedKeyUsageOID.TIME_STAMPING])
    cert = builder.sign(signer_key, hashes.SHA256())
    return Identity(cert=cert, key=key)


@dataclasses.dataclass
class Hierarchy:
    """A root, an intermediate and a code-signing leaf."""

    root: Identity
    intermediate: Identity
    leaf: Identity

    def write(self, directory: pathlib.Path, stem: str, include_root: bool = True) -> tuple[pathlib.Path, pathlib.Path]:
        """Write the chain (leaf first) and the leaf's key as PEM files for osslsigncode."""
        chain = directory / f"{stem}-chain.pem"
        key = directory / f"{stem}-key.pem"
        parts = [self.leaf.pem, self.intermediate.pem] + ([self.root.pem] if include_root else [])
        chain.write_bytes(b"".join(parts))
        key.write_bytes(self.leaf.key_pem())
        return chain, key


def now() -> datetime.datetime:
    return datetime.datetime.now(UTC).replace(microsecond=0)


def hierarchy(
    label: str,
    *,
    leaf_not_before: datetime.datetime | None = None,
    leaf_not_after: datetime.datetime | None = None,
    root: Identity | None = None,
    intermediate: Identity | None = None,
    key_kind: str = "rsa",
    root_name: str | None = None,
    organization: str = "codesign.windows tests",
) -> Hierarchy:
    """A root valid for years, an intermediate, and a leaf that by default lives three days like an ACS leaf."""
    start = now()
    if root is None:
        root = issue(root_name or f"{label} Root CA", not_before=start - datetime.timedelta(days=3650),
                     not_after=start + datetime.timedelta(days=3650), ca=True, key_kind=key_kind,
                     organization=organization)
    if intermediate is None:
        intermediate = issue(f"{label} Code Signing CA", issuer=root, not_before=start - datetime.timedelta(days=1000),
                             not_after=start + datetime.timedelta(days=1000), ca=True, key_kind=key_kind)
    leaf = issue(
        f"{label} Signer",
        issuer=intermediate,
        not_before=leaf_not_before or start - datetime.timedelta(days=1),
        not_after=leaf_not_after or start + datetime.timedelta(days=2),
        eku=[ExtendedKeyUsageOID.CODE_SIGNING],
        key_kind=key_kind,
    )
    return Hierarchy(root=root, intermediate=intermediate, leaf=leaf)


def tsa(label: str, key_kind: str = "rsa") -> tuple[Identity, Identity]:
    """A time-stamping root and its TSA certificate."""
    start = now()
    root = issue(f"{label} TSA Root", not_before=start - datetime.timedelta(days=3650),
                 not_after=start + datetime.timedelta(days=3650), ca=True, key_kind=key_kind)
    unit = issue(f"{label} TSA", issuer=root, not_before=start - datetime.timedelta(days=1000),
                 not_after=start + datetime.timedelta(days=1000), eku=[ExtendedKeyUsageOID.TIME_STAMPING], key_kind=key_kind)
    return root, unit
