"""CMS SignedData as signers other than osslsigncode write it, from hand-built DER: digest algorithms named
by their signature OIDs, a SignerInfo without signed attributes, SignedData without encapsulated content,
and RSASSA-PSS signatures with default and explicit parameters (RFC 4055, section 3.1)."""

from __future__ import annotations

import types

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from ansible_collections.codesign.windows.plugins.plugin_utils._authenticode import _cms
from ansible_collections.codesign.windows.plugins.plugin_utils._authenticode._der import _Asn1Error, _parse_one

from unit.plugins.plugin_utils.signing_helpers import pki
from unit.plugins.plugin_utils.signing_helpers.signing import integer, octets, oid, seq, tlv

NULL = tlv(0x05, b"")

# Written from the RFCs, not from the module: RFC 3279 (md5/sha1 with RSA, ecdsa-with-SHA1), RFC 4055
# (sha224/256/384/512 with RSA), RFC 5758 (ecdsa-with-SHA224..512), RFC 5754 / NIST (the hash OIDs).
DIGEST_OIDS = {
    "1.2.840.113549.2.5": "md5", "1.3.14.3.2.26": "sha1", "2.16.840.1.101.3.4.2.4": "sha224",
    "2.16.840.1.101.3.4.2.1": "sha256", "2.16.840.1.101.3.4.2.2": "sha384", "2.16.840.1.101.3.4.2.3": "sha512",
    "1.2.840.113549.1.1.4": "md5", "1.2.840.113549.1.1.5": "sha1", "1.2.840.113549.1.1.14": "sha224",
    "1.2.840.113549.1.1.11": "sha256", "1.2.840.113549.1.1.12": "sha384", "1.2.840.113549.1.1.13": "sha512",
    "1.2.840.10045.4.1": "sha1", "1.2.840.10045.4.3.1": "sha224", "1.2.840.10045.4.3.2": "sha256",
    "1.2.840.10045.4.3.3": "sha384", "1.2.840.10045.4.3.4": "sha512",
}
# How Windows names them in its signature details.
LABELS = {"md5": "MD5", "sha1": "SHA-1", "sha224": "SHA-224", "sha256": "SHA-256", "sha384": "SHA-384",
          "sha512": "SHA-512"}


@pytest.mark.parametrize("dotted, name", sorted(DIGEST_OIDS.items()))
def test_each_digest_oid_names_its_hash(dotted, name):
    assert _cms._digest_name(dotted) == name
    assert _cms._DIGEST_LABELS[name] == LABELS[name]


def test_an_unknown_digest_oid_is_refused():
    with pytest.raises(_Asn1Error, match="unsupported digest algorithm 1.2.3.4"):
        _cms._digest_name("1.2.3.4")


def _signer_info(*, signed_attrs: bytes = b"", unsigned_attrs: bytes = b"") -> bytes:
    sid = seq(seq(seq(oid("2.5.4.3"))), integer(7))                         # issuerAndSerialNumber
    return seq(integer(1), sid, seq(oid("2.16.840.1.101.3.4.2.1"), NULL), signed_attrs,
               seq(oid("1.2.840.113549.1.1.1"), NULL), octets(b"signature value"), unsigned_attrs)


def test_a_signer_info_of_five_parts_has_no_attributes():
    """RFC 5652 5.3: signedAttrs and unsignedAttrs are OPTIONAL; the five other fields are a whole SignerInfo."""
    signer = _cms._parse_signer_info(_parse_one(_signer_info()))
    assert (signer.serial, signer.digest, signer.signature) == (7, "sha256", b"signature value")
    assert signer.signed_attrs is None and signer.unsigned_attrs == []
    with pytest.raises(_Asn1Error, match="short SignerInfo"):
        _cms._parse_signer_info(_parse_one(seq(integer(1), seq(), seq(oid("1.3.14.3.2.26")), octets(b"x"))))


def _signed_data(encapsulated: bytes) -> bytes:
    body = seq(integer(1), tlv(0x31, seq(oid("2.16.840.1.101.3.4.2.1"), NULL)), encapsulated,
               tlv(0x31, _signer_info()))
    return seq(oid("1.2.840.113549.1.7.2"), tlv(0xA0, body))


def test_signed_data_without_encapsulated_content():
    """RFC 5652 5.2: eContent is OPTIONAL (a detached signature); only its type is there."""
    parsed = _cms._parse_signed_data(_signed_data(seq(oid("1.2.840.113549.1.7.1"))))
    assert parsed.content_type == "1.2.840.113549.1.7.1" and parsed.content is None
    assert len(parsed.signers) == 1 and parsed.certificates == []
    with_content = _cms._parse_signed_data(_signed_data(seq(oid("1.2.840.113549.1.7.1"), tlv(0xA0, octets(b"abc")))))
    assert with_content.content.value == b"abc"


# ------------------------------------------------------------------------------- RSASSA-PSS
@pytest.fixture(scope="module")
def signer_identity():
    return pki.hierarchy("PSS").leaf


def _pss_signer(signature: bytes, params: bytes | None, digest: str = "sha256") -> _cms._SignerInfo:
    return _cms._SignerInfo(None, None, b"id", digest, None, _cms._OID_RSASSA_PSS,
                            None if params is None else _parse_one(params), signature, [])


def _algorithm(dotted: str) -> bytes:
    return seq(oid(dotted), NULL)


SHA256 = "2.16.840.1.101.3.4.2.1"
MGF1 = "1.2.840.113549.1.1.8"
DATA = b"the signed attributes"


def test_rsassa_pss_with_the_default_parameters(signer_identity):
    """Absent parameters mean SHA-1, MGF1 with SHA-1 and a 20-byte salt (RFC 4055)."""
    signature = signer_identity.key.sign(DATA, padding.PSS(padding.MGF1(hashes.SHA1()), 20), hashes.SHA1())
    cert = types.SimpleNamespace(cert=signer_identity.cert)
    assert _cms._verify_raw_signature(cert, _pss_signer(signature, None), DATA) is None
    assert _cms._verify_raw_signature(cert, _pss_signer(signature, seq()), DATA) is None


def test_rsassa_pss_with_its_hash_mask_and_salt_named(signer_identity):
    params = seq(tlv(0xA0, _algorithm(SHA256)), tlv(0xA1, seq(oid(MGF1), _algorithm(SHA256))), tlv(0xA2, integer(32)))
    signature = signer_identity.key.sign(DATA, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
    cert = types.SimpleNamespace(cert=signer_identity.cert)
    # The hash comes from the parameters, whatever digest the SignerInfo names.
    assert _cms._verify_raw_signature(cert, _pss_signer(signature, params, digest="sha1"), DATA) is None
    assert _cms._verify_raw_signature(cert, _pss_signer(signature, params), b"other data") == \
        "the signature value does not verify with the signer's certificate"
    # Each parameter counts: the same signature read with the default salt, mask or hash does not verify.
    for partial in (seq(tlv(0xA0, _algorithm(SHA256)), tlv(0xA1, seq(oid(MGF1), _algorithm(SHA256)))),
                    seq(tlv(0xA0, _algorithm(SHA256)), tlv(0xA2, integer(32))),
                    seq(tlv(0xA1, seq(oid(MGF1), _algorithm(SHA256))), tlv(0xA2, integer(32)))):
        assert _cms._verify_raw_signature(cert, _pss_signer(signature, partial), DATA) is not None


def test_rsassa_pss_with_a_mask_function_other_than_mgf1_is_not_read_as_mgf1(signer_identity):
    """Only MGF1 is defined for PSS; an unknown mask generation function keeps the default, so the signature
    made with MGF1-SHA-256 does not verify (fail closed)."""
    params = seq(tlv(0xA0, _algorithm(SHA256)), tlv(0xA1, seq(oid("1.2.3.4"), _algorithm(SHA256))), tlv(0xA2, integer(32)))
    signature = signer_identity.key.sign(DATA, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
    cert = types.SimpleNamespace(cert=signer_identity.cert)
    assert _cms._verify_raw_signature(cert, _pss_signer(signature, params), DATA) == \
        "the signature value does not verify with the signer's certificate"
