"""Time-stamp problems, each with the words the user reads: a time-stamping chain not valid at the stamped
instant, or broken in several ways at once."""

from __future__ import annotations

import datetime
import hashlib

from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from ansible_collections.codesign.windows.plugins.plugin_utils._authenticode import _timestamps
from ansible_collections.codesign.windows.plugins.plugin_utils._authenticode._certs import _Cert
from ansible_collections.codesign.windows.plugins.plugin_utils._authenticode._cms import _SignerInfo
from ansible_collections.codesign.windows.plugins.plugin_utils._authenticode._der import _parse_one

from unit.plugins.plugin_utils.signing_helpers import pki
from unit.plugins.plugin_utils.signing_helpers.signing import (_signer_info, der_set, generalized_time, integer, octets,
                                                               oid, seq, tlv, utc_time)

DAY = datetime.timedelta(days=1)
SECOND = datetime.timedelta(seconds=1)


def wrap(identity: pki.Identity) -> _Cert:
    return _Cert(identity.cert, identity.cert.public_bytes(Encoding.DER), "signature")


def test_a_time_stamping_chain_is_judged_at_the_stamped_instant():
    start = pki.now()
    root = pki.issue("Stamp Root", not_before=start - 100 * DAY, not_after=start + 100 * DAY, ca=True)
    unit = pki.issue("Stamp TSA", issuer=root, not_before=start - 10 * DAY, not_after=start + 10 * DAY,
                     eku=[ExtendedKeyUsageOID.TIME_STAMPING])
    tsa, pool = wrap(unit), [wrap(root)]
    first, last = unit.cert.not_valid_before_utc, unit.cert.not_valid_after_utc
    assert _timestamps._check_timestamp_chain(tsa, pool, first) is None
    assert _timestamps._check_timestamp_chain(tsa, pool, last) is None
    for outside in (first - SECOND, last + SECOND):
        assert _timestamps._check_timestamp_chain(tsa, pool, outside) == \
            f"'{tsa.subject}' was not valid at the time it stamped"
    # The root counts too: a moment before the root's first second.
    early = root.cert.not_valid_before_utc - SECOND
    late_unit = pki.issue("Stamp TSA early", issuer=root, not_before=early - DAY, not_after=start,
                          eku=[ExtendedKeyUsageOID.TIME_STAMPING])
    assert _timestamps._check_timestamp_chain(wrap(late_unit), pool, early) == \
        f"'{wrap(root).subject}' was not valid at the time it stamped"


def test_every_reason_a_time_stamping_chain_is_broken_is_given():
    """Two certificates carry the issuer's name and neither signed the TSA certificate: both are named, one
    sentence after the other."""
    start = pki.now()
    window = {"not_before": start - 100 * DAY, "not_after": start + 100 * DAY}
    real = pki.issue("Broken Stamp Root", ca=True, **window)
    unit = pki.issue("Broken Stamp TSA", issuer=real, eku=[ExtendedKeyUsageOID.TIME_STAMPING], **window)
    impostors = [wrap(pki.issue("Broken Stamp Root", ca=True, **window)) for _copy in range(2)]
    tsa = wrap(unit)
    problem = _timestamps._check_timestamp_chain(tsa, impostors, start)
    sentence = f"'{tsa.subject}' names '{impostors[0].subject}' as issuer but the signature does not verify."
    assert problem == f"{sentence} {sentence}"


def _signed_data(content_type: str, content: bytes | None) -> bytes:
    encapsulated = seq(oid(content_type), *([tlv(0xA0, octets(content))] if content is not None else []))
    signer = seq(integer(1), seq(seq(seq(oid("2.5.4.3"))), integer(7)), seq(oid("2.16.840.1.101.3.4.2.1")),
                 seq(oid("1.2.840.113549.1.1.1")), octets(b"signature value"))
    body = seq(integer(3), tlv(0x31, seq(oid("2.16.840.1.101.3.4.2.1"))), encapsulated, tlv(0x31, signer))
    return seq(oid("1.2.840.113549.1.7.2"), tlv(0xA0, body))


SIGNER = _SignerInfo(None, 7, None, "sha256", None, "1.2.840.113549.1.1.1", None, b"signature", [])
TST_INFO = "1.2.840.113549.1.9.16.1.4"


def test_an_rfc3161_token_without_a_tstinfo_is_not_a_time_stamp():
    """RFC 3161 2.4.2: the token's content is a TSTInfo (id-ct-TSTInfo); signed data of another type, or
    without its content, proves no time."""
    signer = SIGNER
    for token in (_signed_data("1.2.840.113549.1.7.1", b"data"), _signed_data(TST_INFO, None)):
        stamp = _timestamps._rfc3161_timestamp(_parse_one(token), signer, [], [])
        assert (stamp.moment, stamp.kind, stamp.problem) == (None, "rfc3161", "the RFC 3161 token does not hold a TSTInfo")


def _tst_info(imprint: bytes, moment: datetime.datetime) -> bytes:
    """RFC 3161 2.4.2: version, policy, messageImprint (the hash of the signature it stamps), serial, genTime."""
    return seq(integer(1), oid("1.2.3.4"), seq(seq(oid("2.16.840.1.101.3.4.2.1")), octets(imprint)), integer(5),
               generalized_time(moment))


def test_an_rfc3161_token_for_another_signature_proves_no_time():
    moment = pki.now() - 3 * DAY
    token = _signed_data(TST_INFO, _tst_info(hashlib.sha256(b"another signature").digest(), moment))
    stamp = _timestamps._rfc3161_timestamp(_parse_one(token), SIGNER, [], [])
    assert (stamp.moment, stamp.claimed, stamp.problem) == (None, moment, "the timestamp was issued for a different signature")


def test_an_rfc3161_token_whose_signer_is_not_carried_proves_no_time():
    moment = pki.now() - 3 * DAY
    token = _signed_data(TST_INFO, _tst_info(hashlib.sha256(SIGNER.signature).digest(), moment))
    stamp = _timestamps._rfc3161_timestamp(_parse_one(token), SIGNER, [], [])
    assert (stamp.moment, stamp.claimed, stamp.problem) == (None, moment, "the time-stamping certificate is not in the signature")


# ------------------------------------------------------------------ legacy Authenticode countersignatures
def _countersignature(tsa: pki.Identity, signature: bytes, moment: datetime.datetime | None) -> bytes:
    """A PKCS #9 countersignature (a SignerInfo over the signature value), as Authenticode time stamps were."""
    attributes = [seq(oid("1.2.840.113549.1.9.3"), der_set(oid("1.2.840.113549.1.7.1"))),
                  seq(oid("1.2.840.113549.1.9.4"), der_set(octets(hashlib.sha256(signature).digest())))]
    if moment is not None:
        attributes.append(seq(oid("1.2.840.113549.1.9.5"), der_set(utc_time(moment))))
    return _signer_info(tsa, attributes)


def _stamping(eku) -> tuple[pki.Identity, list[_Cert]]:
    start = pki.now()
    root = pki.issue("Counter Root", not_before=start - 100 * DAY, not_after=start + 100 * DAY, ca=True)
    unit = pki.issue("Counter TSA", issuer=root, not_before=start - 50 * DAY, not_after=start + 50 * DAY, eku=eku)
    return unit, [wrap(unit), wrap(root)]


def _with_countersignature(counter: bytes) -> _SignerInfo:
    attribute = _parse_one(seq(oid("1.2.840.113549.1.9.6"), tlv(0x31, counter)))
    parts = attribute.children()
    return _SignerInfo(None, 7, None, "sha256", None, "1.2.840.113549.1.1.1", None, SIGNER.signature,
                       [("1.2.840.113549.1.9.6", parts[1].children())])


def test_a_countersignature_from_a_time_stamping_certificate_sets_the_moment():
    unit, pool = _stamping([ExtendedKeyUsageOID.TIME_STAMPING])
    moment = pki.now() - 3 * DAY
    signer = _with_countersignature(_countersignature(unit, SIGNER.signature, moment))
    stamp, failed = _timestamps._find_timestamp(signer, pool, [])
    assert failed == [] and (stamp.kind, stamp.moment, stamp.problem) == ("authenticode", moment, None)
    assert stamp.signer.sha256 == pool[0].sha256 and stamp.root.sha256 == pool[1].sha256


def test_a_countersignature_from_a_certificate_that_may_not_stamp_sets_no_moment():
    unit, pool = _stamping([ExtendedKeyUsageOID.CODE_SIGNING])
    moment = pki.now() - 3 * DAY
    signer = _with_countersignature(_countersignature(unit, SIGNER.signature, moment))
    stamp, failed = _timestamps._find_timestamp(signer, pool, [])
    assert stamp is None and len(failed) == 1
    assert (failed[0].kind, failed[0].moment, failed[0].claimed) == ("authenticode", None, moment)
    assert failed[0].problem == f"'{pool[0].subject}' is not a time-stamping certificate"


def test_a_countersignature_without_a_signing_time_or_its_certificate_sets_no_moment():
    unit, pool = _stamping([ExtendedKeyUsageOID.TIME_STAMPING])
    undated = _timestamps._authenticode_timestamp(_parse_one(_countersignature(unit, SIGNER.signature, None)),
                                                  SIGNER, pool, [])
    assert (undated.moment, undated.problem) == (None, "the countersignature carries no signing time")
    orphan = _timestamps._authenticode_timestamp(
        _parse_one(_countersignature(unit, SIGNER.signature, pki.now() - DAY)), SIGNER, pool[1:], [])
    assert (orphan.moment, orphan.problem) == (None, "the countersigner's certificate is not in the signature")
