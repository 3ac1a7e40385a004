# Copyright (c) codesign.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Limits that keep a hostile package cheap to judge, and the error that refuses a package.

Each limit is checked before the part it protects is parsed. They sit far above what real signed
installers carry: an Authenticode signature with its chain, a timestamp and a nested SHA-1/SHA-256
twin is a few tens of kilobytes and holds two signatures and a dozen certificates.
"""
from __future__ import annotations

# One signature blob (the PE certificate table entry or the MSI DigitalSignature stream).
MAX_SIGNATURE_BYTES = 1024 * 1024
# Signatures in one package: the primary one and every nested one, at any depth.
MAX_SIGNATURES = 8
# Nested signatures inside nested signatures.
MAX_NESTING = 2
# Timestamps (RFC 3161 tokens and legacy countersignatures) on one signature; each is verified.
MAX_TIMESTAMPS = 4
# Entries of a PE certificate table (Windows uses the first signature).
MAX_CERTIFICATE_TABLE_ENTRIES = 8
# Certificates carried by one SignedData (a signature or a timestamp token).
MAX_CERTIFICATES = 64
# Directory entries of a compound file (MSI); real packages have a few hundred.
MAX_CFB_ENTRIES = 65536


class Unreadable(Exception):
    """The file cannot be read as a package, or is refused before inspection; the message is shown to the user."""


def megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"
