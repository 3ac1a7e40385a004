"""Sign test packages with osslsigncode, offline, with timestamps at chosen times.

RFC 3161 timestamps come from osslsigncode's built-in time-stamping authority (``-TSA-certs``,
``-TSA-key``, ``-TSA-time``) when the installed osslsigncode has one, so the tokens are made by
OpenSSL rather than by this test code. Older osslsigncode builds (Debian bookworm ships 2.5) lack
it; they, and legacy Authenticode timestamps in every version, are served by ``TimestampServer``,
a time-stamping authority on 127.0.0.1 that answers osslsigncode's ``-ts`` and ``-t`` requests.
"""
from __future__ import annotations

import base64
import datetime
import functools
import hashlib
import http.server
import os
import pathlib
import shutil
import subprocess
import threading

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding

from .pki import Identity

OSSLSIGNCODE = shutil.which("osslsigncode")


class SigningError(RuntimeError):
    pass


def _environment() -> dict:
    # A proxy from the caller's environment must not intercept the local timestamp server.
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env["no_proxy"] = env["NO_PROXY"] = "127.0.0.1,localhost"
    return env


def run(*args: str, check: bool = True) -> str:
    completed = subprocess.run(
        [OSSLSIGNCODE, *args], capture_output=True, text=True, env=_environment(), timeout=120, check=False
    )
    if check and completed.returncode != 0:
        raise SigningError(f"osslsigncode {' '.join(args)} failed:\n{completed.stdout}\n{completed.stderr}")
    return completed.stdout + completed.stderr


@functools.cache
def has_builtin_tsa() -> bool:
    return OSSLSIGNCODE is not None and "-TSA-time" in run("sign", "--help", check=False)


def sign(
    source: pathlib.Path,
    target: pathlib.Path,
    chain: pathlib.Path,
    key: pathlib.Path,
    *,
    digest: str = "sha256",
    timestamp: str | None = None,
    tsa: Identity | None = None,
    tsa_chain: tuple[Identity, ...] = (),
    tsa_time: datetime.datetime | None = None,
    transport: str = "auto",
    add_msi_dse: bool = False,
    nest: bool = False,
) -> pathlib.Path:
    """Sign ``source`` into ``target``.

    ``timestamp`` is None, "rfc3161" or "authenticode"; ``tsa`` and ``tsa_chain`` stamp it at
    ``tsa_time``. ``transport`` "builtin" or "http" forces how an RFC 3161 token is obtained.
    ``nest`` adds a nested signature to an already signed ``source``.
    """
    args = ["sign", "-certs", str(chain), "-key", str(key), "-h", digest, "-n", "codesign.windows test"]
    if add_msi_dse:
        args.append("-add-msi-dse")
    if nest:
        args.append("-nest")
    args += ["-in", str(source), "-out", str(target)]
    if target.exists():
        target.unlink()
    moment = tsa_time or datetime.datetime.now(datetime.timezone.utc)
    if timestamp is None:
        run(*args)
    elif timestamp == "rfc3161" and transport != "http" and (transport == "builtin" or has_builtin_tsa()):
        certs = target.with_name(target.name + ".tsa-chain.pem")
        tsa_key = target.with_name(target.name + ".tsa-key.pem")
        certs.write_bytes(b"".join(item.pem for item in (tsa, *tsa_chain)))
        tsa_key.write_bytes(tsa.key_pem())
        run(*args, "-TSA-certs", str(certs), "-TSA-key", str(tsa_key), "-TSA-time", str(int(moment.timestamp())))
    else:
        with TimestampServer(tsa, tsa_chain, timestamp, moment) as server:
            run(*args, "-ts" if timestamp == "rfc3161" else "-t", server.url)
    return target


# ------------------------------------------------------------------------------ minimal DER writer
def _length(size: int) -> bytes:
    if size < 0x80:
        return bytes([size])
    encoded = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(encoded)]) + encoded


def tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _length(len(content)) + content


def seq(*items: bytes) -> bytes:
    return tlv(0x30, b"".join(items))


def der_set(*items: bytes) -> bytes:
    return tlv(0x31, b"".join(sorted(items)))


def oid(dotted: str) -> bytes:
    arcs = [int(part) for part in dotted.split(".")]
    body = bytearray()
    for arc in [arcs[0] * 40 + arcs[1]] + arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body += bytes(reversed(chunk))
    return tlv(0x06, bytes(body))


def integer(value: int) -> bytes:
    return tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True))


def octets(value: bytes) -> bytes:
    return tlv(0x04, value)


def utc_time(moment: datetime.datetime) -> bytes:
    return tlv(0x17, moment.astimezone(datetime.timezone.utc).strftime("%y%m%d%H%M%SZ").encode())


def generalized_time(moment: datetime.datetime) -> bytes:
    return tlv(0x18, moment.astimezone(datetime.timezone.utc).strftime("%Y%m%d%H%M%SZ").encode())


def _read(data: bytes, pos: int = 0) -> tuple[int, bytes, int]:
    tag, size = data[pos], data[pos + 1]
    pos += 2
    if size & 0x80:
        count = size & 0x7F
        size = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    return tag, data[pos:pos + size], pos + size


def _children(data: bytes) -> list[tuple[int, bytes]]:
    items, pos = [], 0
    while pos < len(data):
        tag, value, pos = _read(data, pos)
        items.append((tag, value))
    return items


SHA256 = seq(oid("2.16.840.1.101.3.4.2.1"), tlv(0x05, b""))


def _signer_info(tsa: Identity, attributes: list[bytes]) -> bytes:
    """A SignerInfo by ``tsa`` over DER-sorted signed attributes."""
    signed_set = der_set(*attributes)
    if isinstance(tsa.key, ec.EllipticCurvePrivateKey):
        value = tsa.key.sign(signed_set, ec.ECDSA(hashes.SHA256()))
        key_algorithm = seq(oid("1.2.840.10045.2.1"))
    else:
        value = tsa.key.sign(signed_set, padding.PKCS1v15(), hashes.SHA256())
        key_algorithm = seq(oid("1.2.840.113549.1.1.1"), tlv(0x05, b""))
    return seq(
        integer(1),
        seq(tsa.cert.issuer.public_bytes(), integer(tsa.cert.serial_number)),
        SHA256,
        b"\xa0" + signed_set[1:],  # the same attributes, tagged [0] IMPLICIT
        key_algorithm,
        octets(value),
    )


def _certificates(identities) -> bytes:
    return tlv(0xA0, b"".join(item.cert.public_bytes(serialization.Encoding.DER) for item in identities))


def authenticode_response(request: bytes, tsa: Identity, chain, moment: datetime.datetime) -> bytes:
    """A PKCS #7 countersignature over the signature value in an Authenticode timestamp request."""
    _tag, outer, _end = _read(request)
    blob = _children(outer)[1][1]
    explicit = _children(blob)[1][1]
    signature_value = _children(explicit)[0][1]
    signer_info = _signer_info(tsa, [
        seq(oid("1.2.840.113549.1.9.3"), der_set(oid("1.2.840.113549.1.7.1"))),
        seq(oid("1.2.840.113549.1.9.5"), der_set(utc_time(moment))),
        seq(oid("1.2.840.113549.1.9.4"), der_set(octets(hashlib.sha256(signature_value).digest()))),
    ])
    signed_data = seq(
        integer(1),
        der_set(SHA256),
        seq(oid("1.2.840.113549.1.7.1"), tlv(0xA0, octets(signature_value))),
        _certificates([tsa, *chain]),
        der_set(signer_info),
    )
    return seq(oid("1.2.840.113549.1.7.2"), tlv(0xA0, signed_data))


def rfc3161_response(request: bytes, tsa: Identity, chain, moment: datetime.datetime) -> bytes:
    """A granted TimeStampResp for a TimeStampReq, stamped at ``moment``."""
    _tag, body, _end = _read(request)
    fields = _children(body)
    imprint = tlv(*fields[1])
    nonce = [tlv(tag, value) for tag, value in fields[2:] if tag == 0x02]
    tst_info = seq(integer(1), oid("1.3.6.1.4.1.4146.2.3"), imprint, integer(int(moment.timestamp())),
                   generalized_time(moment), *nonce)
    tsa_der = tsa.cert.public_bytes(serialization.Encoding.DER)
    signer_info = _signer_info(tsa, [
        seq(oid("1.2.840.113549.1.9.3"), der_set(oid("1.2.840.113549.1.9.16.1.4"))),
        seq(oid("1.2.840.113549.1.9.4"), der_set(octets(hashlib.sha256(tst_info).digest()))),
        # signingCertificateV2: OpenSSL's verifier insists on it.
        seq(oid("1.2.840.113549.1.9.16.2.47"), der_set(seq(seq(seq(octets(hashlib.sha256(tsa_der).digest())))))),
    ])
    signed_data = seq(
        integer(3),
        der_set(SHA256),
        seq(oid("1.2.840.113549.1.9.16.1.4"), tlv(0xA0, octets(tst_info))),
        _certificates([tsa, *chain]),
        der_set(signer_info),
    )
    token = seq(oid("1.2.840.113549.1.7.2"), tlv(0xA0, signed_data))
    return seq(seq(integer(0)), token)


class TimestampServer:
    """A time-stamping authority on 127.0.0.1 for osslsigncode ``-ts`` (RFC 3161) or ``-t`` (Authenticode)."""

    def __init__(self, tsa: Identity, chain, protocol: str, moment: datetime.datetime):
        self.moment = moment
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    if protocol == "rfc3161":
                        response = rfc3161_response(body, tsa, chain, server.moment)
                        content_type = "application/timestamp-reply"
                    else:
                        # Base64 is what every osslsigncode version accepts for Authenticode replies.
                        response = base64.encodebytes(authenticode_response(base64.b64decode(body), tsa, chain, server.moment))
                        content_type = "application/octet-stream"
                except Exception as exc:  # report to the test instead of hanging osslsigncode
                    self.send_error(500, str(exc))
                    return
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(response)))
                self.end_headers()
                self.wfile.write(response)

            def log_message(self, format, *args):  # pylint: disable=redefined-builtin
                return

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/"

    def __enter__(self) -> TimestampServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def with_unsigned_attribute(blob: bytes, attribute_oid: str, values: list) -> bytes:
    """``blob`` (a ContentInfo with SignedData) with an unsigned attribute added to its signer.

    Unsigned attributes are outside what the signer signs, so the result still verifies; this is
    how nested-signature and timestamp bombs are made.
    """
    _tag, content_info, _end = _read(blob)
    items = _children(content_info)
    _tag, explicit, _end = _read(tlv(*items[1]))
    _tag, signed_data, _end = _read(explicit)
    parts = _children(signed_data)
    signer_set_index = max(i for i, (tag, _value) in enumerate(parts) if tag == 0x31)
    signer_parts = _children(_children(parts[signer_set_index][1])[0][1])
    attribute = seq(oid(attribute_oid), tlv(0x31, b"".join(values)))
    if signer_parts[-1][0] == 0xA1:
        signer_parts[-1] = (0xA1, signer_parts[-1][1] + attribute)
    else:
        signer_parts.append((0xA1, attribute))
    signer = seq(*(tlv(tag, value) for tag, value in signer_parts))
    parts[signer_set_index] = (0x31, signer)
    rebuilt = seq(*(tlv(tag, value) for tag, value in parts))
    return seq(tlv(*items[0]), tlv(0xA0, rebuilt))


def with_nested_signatures(blob: bytes, nested: list) -> bytes:
    """``blob`` with ``nested`` added as nested signatures of its signer."""
    return with_unsigned_attribute(blob, "1.3.6.1.4.1.311.2.4.1", nested)
