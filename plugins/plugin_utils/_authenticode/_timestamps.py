# Copyright (c) codesign.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Timestamps: the moment a signature's certificates are judged at, when a timestamp proves it."""
from __future__ import annotations

import dataclasses
import datetime

from ._certs import _Cert, _build_chain, _find_signer_cert, _load_cert
from ._cms import (_OID_COUNTERSIGNATURE, _OID_EKU_TIME_STAMPING, _OID_MS_RFC3161_TIMESTAMP, _OID_SIGNING_TIME,
                   _OID_TST_INFO, _SignerInfo, _digest_name, _hash, _parse_signed_data, _parse_signer_info, _verify_signer)
from ._der import _Asn1Error, _Tlv, _algorithm, _octets, _parse_one, _time


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
    chain = _build_chain(tsa, pool, moment)
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
    stamp.root = _build_chain(tsa, pool, stamp.claimed).path[-1]
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
