"""Certificates and chains osslsigncode never writes: X.509 v1 certificates, a signer named by its subject key
identifier, unreadable supplied roots, and a signature that offers several candidate chains."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding

from ansible_collections.codesign.windows.plugins.plugin_utils._authenticode import _certs
from ansible_collections.codesign.windows.plugins.plugin_utils._authenticode._cms import _SignerInfo

from unit.plugins.plugin_utils.signing_helpers import pki
from unit.plugins.plugin_utils.signing_helpers.signing import _children, _read, seq, tlv

DAY = datetime.timedelta(days=1)


def wrap(identity: pki.Identity, source: str = "signature") -> _certs._Cert:
    return _certs._Cert(identity.cert, identity.cert.public_bytes(Encoding.DER), source)


def v1_certificate(identity: pki.Identity, issuer: pki.Identity) -> bytes:
    """``identity``'s certificate re-issued as X.509 v1 (RFC 5280 4.1: no version field, no extensions)."""
    _tag, tbs, _end = _read(identity.cert.tbs_certificate_bytes)
    fields = [tlv(tag, value) for tag, value in _children(tbs) if tag not in (0xA0, 0xA3)]
    tbs_v1 = seq(*fields)
    signature = issuer.key.sign(tbs_v1, padding.PKCS1v15(), hashes.SHA256())
    _tag, outer, _end = _read(identity.cert.public_bytes(Encoding.DER))
    algorithm = tlv(*_children(outer)[1])
    return seq(tbs_v1, algorithm, tlv(0x03, b"\0" + signature))


def test_an_x509_v1_certificate_is_read_with_its_issuer_and_chains():
    """Old roots and some test CAs are v1: without the [0] version field every later field moves up one."""
    hierarchy = pki.hierarchy("Version one")
    raw = v1_certificate(hierarchy.intermediate, hierarchy.root)
    loaded = _certs._load_cert(raw, "signature")
    assert loaded is not None and loaded.cert.version == x509.Version.v1
    assert loaded.issuer_raw == hierarchy.root.cert.subject.public_bytes()
    assert loaded.serial == hierarchy.intermediate.cert.serial_number
    # The v3 certificate reads the same issuer with its version field in front.
    assert wrap(hierarchy.intermediate).issuer_raw == loaded.issuer_raw
    chain = _certs._build_chain(wrap(hierarchy.leaf), [loaded, wrap(hierarchy.root)], pki.now())
    assert chain.complete and not chain.broken
    assert [cert.sha256 for cert in chain.path] == [wrap(hierarchy.leaf).sha256, loaded.sha256,
                                                    wrap(hierarchy.root).sha256]


def test_a_supplied_root_that_cannot_be_read_is_reported():
    certs, problems = _certs._load_extra_certificates([b"not a certificate"], "supplied")
    assert certs == [] and len(problems) == 1
    assert problems[0].startswith("A supplied root certificate could not be read (")
    good, none = _certs._load_extra_certificates([pki.hierarchy("Supplied").root.pem.decode()], "supplied")
    assert len(good) == 1 and none == [] and good[0].source == "supplied"


def _signer(key_id: bytes | None = None, serial: int | None = None, issuer: bytes | None = None) -> _SignerInfo:
    return _SignerInfo(issuer, serial, key_id, "sha256", None, "1.2.840.113549.1.1.1", None, b"", [])


def test_a_signer_named_by_subject_key_identifier_finds_its_certificate():
    """RFC 5652 5.3: the SignerIdentifier may be [0] subjectKeyIdentifier instead of issuer and serial."""
    hierarchy = pki.hierarchy("Key identifier")
    other, signer = wrap(hierarchy.intermediate), wrap(hierarchy.leaf)
    key_id = hierarchy.leaf.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert _certs._find_signer_cert(_signer(key_id=key_id), [other, signer]) is signer
    assert _certs._find_signer_cert(_signer(key_id=b"\1" * 20), [other, signer]) is None
    # Named by key identifier, a serial that matches is not used.
    assert _certs._find_signer_cert(_signer(key_id=b"\1" * 20, serial=signer.serial), [other, signer]) is None


def test_a_signer_named_by_issuer_and_serial_finds_its_certificate():
    hierarchy = pki.hierarchy("Issuer and serial")
    other, signer = wrap(hierarchy.intermediate), wrap(hierarchy.leaf)
    assert _certs._find_signer_cert(_signer(serial=signer.serial, issuer=signer.issuer_raw), [other, signer]) is signer


def test_of_several_candidate_chains_the_unbroken_one_wins():
    """Two intermediates with one name and one key (a cross-certificate): one reaches a root in the pool, the
    other names an issuer whose certificate in the pool does not verify it. The complete, unbroken path wins."""
    start = pki.now()
    root = pki.issue("Candidates Root", not_before=start - 100 * DAY, not_after=start + 100 * DAY, ca=True)
    other = pki.issue("Candidates Other Root", not_before=start - 100 * DAY, not_after=start + 100 * DAY, ca=True)
    impostor = pki.issue("Candidates Other Root", not_before=start - 100 * DAY, not_after=start + 100 * DAY, ca=True)
    good = pki.issue("Candidates CA", issuer=root, not_before=start - 50 * DAY, not_after=start + 50 * DAY, ca=True)
    cross = pki.issue("", issuer=other, reuse=good, not_before=start - 50 * DAY, not_after=start + 50 * DAY, ca=True)
    hierarchy = pki.hierarchy("Candidates", root=root, intermediate=good)
    leaf = wrap(hierarchy.leaf)
    for pool in ([wrap(cross), wrap(good), wrap(impostor), wrap(root)],
                 [wrap(good), wrap(cross), wrap(root), wrap(impostor)]):
        chain = _certs._build_chain(leaf, pool, start)
        assert chain.complete and chain.broken == []
        assert [cert.subject for cert in chain.path] == [leaf.subject, wrap(good).subject, wrap(root).subject]
        assert chain.path[1].sha256 == wrap(good).sha256
    # Without the good path the broken one is what is left, with its reason.
    broken = _certs._build_chain(leaf, [wrap(cross), wrap(impostor)], start)
    assert not broken.complete and broken.broken == [
        f"'{wrap(cross).subject}' names '{wrap(impostor).subject}' as issuer but the signature does not verify."]


@pytest.mark.parametrize("trusted_first", (True, False))
def test_of_several_complete_chains_the_best_ranked_root_wins(trusted_first):
    start = pki.now()
    trusted = pki.issue("Ranked Root", not_before=start - 100 * DAY, not_after=start + 100 * DAY, ca=True)
    untrusted = pki.issue("Ranked Other Root", not_before=start - 100 * DAY, not_after=start + 100 * DAY, ca=True)
    good = pki.issue("Ranked CA", issuer=trusted, not_before=start - 50 * DAY, not_after=start + 50 * DAY, ca=True)
    cross = pki.issue("", issuer=untrusted, reuse=good, not_before=start - 50 * DAY, not_after=start + 50 * DAY, ca=True)
    leaf = wrap(pki.hierarchy("Ranked", root=trusted, intermediate=good).leaf)
    pool = [wrap(good), wrap(cross), wrap(trusted), wrap(untrusted)]
    if not trusted_first:
        pool.reverse()
    chain = _certs._build_chain(leaf, pool, start, rank_root=lambda root: (root.sha256 == wrap(trusted).sha256,))
    assert chain.complete and chain.path[-1].sha256 == wrap(trusted).sha256


@pytest.mark.parametrize("look_alikes, complete", [(254, True), (255, False)])
def test_the_chain_search_stops_after_256_steps(look_alikes, complete):
    """A signature may carry many certificates with the issuer's name and key (cross-certificates to roots it
    does not carry). Each is a step of the search; the root, listed last, is step 256 with 254 of them in
    front (still found) and step 257 with 255 (the search gives up: no complete chain)."""
    start = pki.now()
    window = {"not_before": start - 50 * DAY, "not_after": start + 50 * DAY}
    root = pki.issue("Search Root", ca=True, **window)
    elsewhere = pki.issue("Search Elsewhere Root", ca=True, **window)
    crosses = [wrap(pki.issue("", issuer=elsewhere, reuse=root, ca=True, **window)) for _copy in range(look_alikes)]
    leaf = wrap(pki.issue("Search Signer", issuer=root, **window))
    chain = _certs._build_chain(leaf, [*crosses, wrap(root)], start)
    assert chain.complete is complete
    assert (chain.path[-1].sha256 == wrap(root).sha256) is complete
