"""Edges of Authenticode inspection that mutation testing found untested (docs/testing.md, "Mutation testing"):
each digest algorithm named as Windows names it, and no content-type complaint about a correctly signed file."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.codesign.windows.plugins.plugin_utils import _authenticode as _signature

from unit.plugins.plugin_utils.test_signature import (  # noqa: F401  pylint: disable=unused-import
    KINDS,
    acs_signed,
    inspect,
    lab,
    needs_osslsigncode,
    text,
)


@needs_osslsigncode
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("digest, label", [("sha256", "SHA-256"), ("sha384", "SHA-384"), ("sha512", "SHA-512")])
def test_each_digest_is_read_and_named(lab, kind, digest, label):
    result = inspect(lab.sign(kind, f"digest-{digest}", lab.acs, digest=digest), lab.acs_roots,
                     trusted_root_thumbprints=lab.trusted)
    assert result["verdict"] == "acs_signed"
    assert f"The file's {label} digest matches the signed digest." in text(result)
    assert "describes content of type" not in text(result)


@needs_osslsigncode
@pytest.mark.parametrize("kind", ("pe", "pe64", "msi"))
def test_a_correct_signature_describes_its_own_kind_of_file(lab, acs_signed, kind):
    path, _stamped_at = acs_signed[kind]
    result = inspect(path, lab.acs_roots, trusted_root_thumbprints=lab.trusted)
    assert result["verdict"] == "acs_signed"
    assert "describes content of type" not in text(result)


@needs_osslsigncode
def test_a_windows_installer_package_is_not_questioned(lab, acs_signed):
    result = inspect(acs_signed["msi"][0], lab.acs_roots, trusted_root_thumbprints=lab.trusted)
    assert "is not a Windows Installer one" not in text(result)


def test_files_that_are_not_packages(tmp_path):
    directory = _signature.inspect_package(str(tmp_path))         # exists, cannot be read as a file
    assert directory["verdict"] == "unreadable"
    assert directory["reasons"] == ["Verdict: unreadable. The file could not be inspected: The path is a directory, "
                                    "not a package file."]
    with pytest.raises(FileNotFoundError):
        _signature.inspect_package(str(tmp_path / "absent.msi"))
    stub = tmp_path / "stub.exe"
    stub.write_bytes(b"MZ" + bytes(126))
    result = inspect(stub)
    assert (result["verdict"], result["format"]) == ("unreadable", "unknown")
    assert "The file starts like a DOS executable but has no PE header." in text(result)


def test_a_certificate_is_valid_from_its_first_to_its_last_second():
    from cryptography.hazmat.primitives.serialization import Encoding

    from ansible_collections.codesign.windows.plugins.plugin_utils._authenticode._certs import _Cert
    from unit.plugins.plugin_utils.signing_helpers import pki

    leaf = pki.hierarchy("Validity").leaf.cert
    cert = _Cert(leaf, leaf.public_bytes(Encoding.DER), "supplied")
    first, last = leaf.not_valid_before_utc, leaf.not_valid_after_utc
    second = datetime.timedelta(seconds=1)
    assert [cert.valid_at(moment) for moment in (first - second, first, last, last + second)] == \
        [False, True, True, False]
    assert cert.issuer_raw == leaf.issuer.public_bytes()      # X.509 v3: the version field shifts the fields


@needs_osslsigncode
def test_an_intermediate_that_is_not_a_ca_is_untrusted(lab):
    from unit.plugins.plugin_utils.signing_helpers import pki

    start = pki.now()
    not_a_ca = pki.issue("Test ACS Not A CA", issuer=lab.acs.root, not_before=start - datetime.timedelta(days=10),
                         not_after=start + datetime.timedelta(days=10), ca=False)
    chain = pki.hierarchy("Test ACS", root=lab.acs.root, intermediate=not_a_ca)
    result = inspect(lab.sign("pe", "not-a-ca", chain), lab.acs_roots, trusted_root_thumbprints=lab.trusted)
    assert result["verdict"] == "untrusted"
    assert "'CN=Test ACS Not A CA,O=codesign.windows tests,C=US' issued another certificate but is not a CA." in text(result)


@needs_osslsigncode
def test_a_time_stamp_from_a_certificate_without_the_time_stamping_usage_is_not_used(lab, tmp_path):
    from cryptography.x509.oid import ExtendedKeyUsageOID

    from unit.plugins.plugin_utils.signing_helpers import pki, signing

    start = pki.now()
    not_a_tsa = pki.issue("Test Not A TSA", issuer=lab.tsa_root, not_before=start - datetime.timedelta(days=10),
                          not_after=start + datetime.timedelta(days=10), eku=[ExtendedKeyUsageOID.CODE_SIGNING])
    # The leaf expired a week ago: only a usable time stamp could make it valid at the signing time.
    expired = pki.hierarchy("Test ACS", root=lab.acs.root, intermediate=lab.acs.intermediate,
                            leaf_not_before=start - datetime.timedelta(days=10),
                            leaf_not_after=start - datetime.timedelta(days=7))
    chain, key = expired.write(tmp_path, "bad-tsa")
    stamped_at = start - datetime.timedelta(days=8)
    good = signing.sign(lab.unsigned["pe"], tmp_path / "good-tsa.exe", chain, key, timestamp="rfc3161", tsa=lab.tsa,
                        tsa_chain=(lab.tsa_root,), tsa_time=stamped_at, transport="http")
    bad = signing.sign(lab.unsigned["pe"], tmp_path / "bad-tsa.exe", chain, key, timestamp="rfc3161", tsa=not_a_tsa,
                       tsa_chain=(lab.tsa_root,), tsa_time=stamped_at, transport="http")
    assert inspect(good, lab.acs_roots, trusted_root_thumbprints=lab.trusted)["verdict"] == "acs_signed"
    result = inspect(bad, lab.acs_roots, trusted_root_thumbprints=lab.trusted)
    assert result["verdict"] == "untrusted"
    assert "is not a time-stamping certificate" in text(result)
