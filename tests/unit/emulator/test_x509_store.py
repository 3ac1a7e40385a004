"""The emulated hosts' X509Store and X509Certificate2, as a script on the host sees them (dotnet.py)."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from emulator.pwsh.dotnet import run_script
from emulator.pwsh.runtime import ScriptError
from emulator.windows import load_fleet
from unit.plugins.plugin_utils.signing_helpers.roots import lookalike_root

ADD = """
$certificate = New-Object System.Security.Cryptography.X509Certificates.X509Certificate2
$certificate.Import([System.Convert]::FromBase64String('{b64}'))
$store = New-Object System.Security.Cryptography.X509Certificates.X509Store -ArgumentList '{store}', 'LocalMachine'
$store.Open('{flags}')
try {{ $store.Add($certificate) }} finally {{ $store.Close() }}
$certificate.Thumbprint
"""


@pytest.fixture(scope="module")
def certificate():
    identity = lookalike_root()
    return identity, base64.b64encode(identity.cert.public_bytes(Encoding.DER)).decode()


def host(name="w2012r2-airgap-noroot"):
    return load_fleet([name])[0]


def test_add_puts_the_certificate_under_its_thumbprint_in_the_stores_registry_key(certificate):
    identity, b64 = certificate
    model = host()
    out = run_script(model, ADD.format(b64=b64, store="Root", flags="ReadWrite"))
    assert out == [identity.sha1]
    key = model.registry.open(rf"SOFTWARE\Microsoft\SystemCertificates\ROOT\Certificates\{identity.sha1}")
    assert key is not None and base64.b64encode(key.get("Blob")).decode() == b64
    # Adding it again is no error (X509Store.Add replaces an existing certificate).
    assert run_script(model, ADD.format(b64=b64, store="Root", flags="ReadWrite")) == [identity.sha1]


def test_an_account_that_is_not_an_administrator_cannot_open_the_machine_root_for_writing(certificate):
    _identity, b64 = certificate
    model = host("w2012r2-airgap-noroot-user")
    with pytest.raises(ScriptError) as raised:
        run_script(model, ADD.format(b64=b64, store="Root", flags="ReadWrite"))
    exception = raised.value.record.exception
    assert 'Exception calling "Open" with "1" argument(s): "Access is denied.' in exception.message
    assert exception.inner.type_name == "System.Security.Cryptography.CryptographicException"
    assert exception.inner.hresult == -2147024891


def test_a_store_opened_read_only_refuses_add(certificate):
    _identity, b64 = certificate
    with pytest.raises(ScriptError, match="Access is denied"):
        run_script(host(), ADD.format(b64=b64, store="Root", flags="ReadOnly"))


def test_bytes_that_are_no_certificate_and_text_that_is_no_base64_throw_as_dotnet_does():
    with pytest.raises(ScriptError) as raised:
        run_script(host(), ADD.format(b64=base64.b64encode(b"\x30\x03\x02\x01\x01").decode(), store="Root",
                                      flags="ReadWrite"))
    assert raised.value.record.exception.inner.type_name == "System.Security.Cryptography.CryptographicException"
    with pytest.raises(ScriptError) as raised:
        run_script(host(), ADD.format(b64="not base64!", store="Root", flags="ReadWrite"))
    assert raised.value.record.exception.inner.type_name == "System.FormatException"
