"""Self-signed certificates for the emulated hosts' HTTPS listeners (WinRM over port 5986).

A real Windows host's HTTPS listener presents a certificate whose subject is the host name;
usually self-signed, which is why inventories set ``ansible_winrm_server_cert_validation:
ignore``. Each emulated host gets one such certificate (ECDSA P-256, SHA-256, valid for a day,
with the host name, ``localhost`` and the listening address as subject alternative names).
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import ssl
import tempfile
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["SelfSignedCertificate", "generate_self_signed"]


@dataclass(frozen=True)
class SelfSignedCertificate:
    cert_pem: bytes
    key_pem: bytes
    cert_der: bytes

    @property
    def sha256_fingerprint(self) -> str:
        """Upper-case hex, as Windows shows a certificate thumbprint (but SHA-256)."""
        return hashlib.sha256(self.cert_der).hexdigest().upper()

    def server_context(self) -> ssl.SSLContext:
        """A TLS server context presenting this certificate."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        # SSLContext only loads key material from files; keep them just long enough to load.
        with tempfile.TemporaryDirectory(prefix="emulator-tls-") as directory:
            cert_path = os.path.join(directory, "cert.pem")
            key_path = os.path.join(directory, "key.pem")
            with open(cert_path, "wb") as handle:
                handle.write(self.cert_pem)
            with open(os.open(key_path, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as handle:
                handle.write(self.key_pem)
            context.load_cert_chain(cert_path, key_path)
        return context


def generate_self_signed(common_name: str, addresses: list[str] | tuple[str, ...] = ()) -> SelfSignedCertificate:
    """Create a self-signed server certificate for ``common_name`` and the given IP addresses."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    alt_names: list[x509.GeneralName] = [x509.DNSName(common_name), x509.DNSName("localhost")]
    alt_names += [x509.IPAddress(ipaddress.ip_address(address)) for address in addresses]
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return SelfSignedCertificate(
        cert_pem=certificate.public_bytes(serialization.Encoding.PEM),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        cert_der=certificate.public_bytes(serialization.Encoding.DER),
    )
