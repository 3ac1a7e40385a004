# Copyright (c) codesign.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PKCS #7 / CMS SignedData as Authenticode uses it: the signer, its attributes, its signature."""
from __future__ import annotations

import dataclasses
import hashlib

try:
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
except ImportError:  # the package reports the missing library; nothing here runs without it
    pass

from ._limits import MAX_CERTIFICATES
from ._der import _Asn1Error, _Tlv, _algorithm, _integer, _octets, _oid, _parse_one

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


# ------------------------------------------------------------------------------------ CMS model
class TooManyCertificates(_Asn1Error):
    """A SignedData carries more certificates than the limit allows."""


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
    if len(certificates) > MAX_CERTIFICATES:
        raise TooManyCertificates(f"it carries {len(certificates)} certificates, more than the {MAX_CERTIFICATES} allowed")
    return _SignedData(content_type, content, certificates, signers)


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


def _verify_raw_signature(cert, signer: _SignerInfo, data: bytes) -> str | None:
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


def _verify_signer(signer: _SignerInfo, cert, content: bytes, content_type: str | None) -> str | None:
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
