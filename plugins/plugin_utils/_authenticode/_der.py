# Copyright (c) codesign.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small DER reader: just what Authenticode signatures need, bounded against hostile input."""
from __future__ import annotations

import dataclasses
import datetime
import re


class _Asn1Error(ValueError):
    """The signature is not valid DER."""


# ------------------------------------------------------------------------------------ DER reader
@dataclasses.dataclass(frozen=True)
class _Tlv:
    cls: int
    constructed: bool
    number: int
    raw: bytes
    value: bytes

    def is_universal(self, number: int) -> bool:
        return self.cls == 0 and self.number == number

    def is_context(self, number: int) -> bool:
        return self.cls == 2 and self.number == number

    def children(self) -> list[_Tlv]:
        if not self.constructed:
            raise _Asn1Error("expected a constructed value")
        return _parse_all(self.value)


def _parse_tlv(data: bytes, pos: int, depth: int = 0) -> tuple[_Tlv, int]:
    if depth > 64:
        raise _Asn1Error("nesting too deep")
    start = pos
    if pos >= len(data):
        raise _Asn1Error("unexpected end of data")
    first = data[pos]
    pos += 1
    cls, constructed, number = first >> 6, bool(first & 0x20), first & 0x1F
    if number == 0x1F:
        number = 0
        while True:
            if pos >= len(data):
                raise _Asn1Error("unexpected end of data in a tag")
            octet = data[pos]
            pos += 1
            number = (number << 7) | (octet & 0x7F)
            if not octet & 0x80:
                break
    if pos >= len(data):
        raise _Asn1Error("unexpected end of data in a length")
    length = data[pos]
    pos += 1
    if length == 0x80:
        # BER indefinite length: only for constructed values, ends with two zero octets.
        if not constructed:
            raise _Asn1Error("indefinite length on a primitive value")
        content_start = pos
        while True:
            if data[pos:pos + 2] == b"\0\0":
                value = data[content_start:pos]
                pos += 2
                break
            _child, pos = _parse_tlv(data, pos, depth + 1)
        return _Tlv(cls, constructed, number, data[start:pos], value), pos
    if length & 0x80:
        count = length & 0x7F
        if count > 4 or pos + count > len(data):
            raise _Asn1Error("bad length")
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    end = pos + length
    if end > len(data):
        raise _Asn1Error("value runs past the end of the data")
    return _Tlv(cls, constructed, number, data[start:end], data[pos:end]), end


def _parse_one(data: bytes) -> _Tlv:
    """Parse the first element; trailing bytes (padding after a signature) are ignored."""
    tlv, _end = _parse_tlv(data, 0)
    return tlv


def _parse_all(data: bytes) -> list[_Tlv]:
    items, pos = [], 0
    while pos < len(data):
        tlv, pos = _parse_tlv(data, pos)
        items.append(tlv)
    return items


def _oid(tlv: _Tlv) -> str:
    if not tlv.is_universal(6) or not tlv.value:
        raise _Asn1Error("expected an object identifier")
    arcs, value = [], 0
    for octet in tlv.value:
        value = (value << 7) | (octet & 0x7F)
        if not octet & 0x80:
            arcs.append(value)
            value = 0
    if tlv.value[-1] & 0x80:
        raise _Asn1Error("truncated object identifier")
    first = min(arcs[0] // 40, 2)
    return ".".join(str(arc) for arc in [first, arcs[0] - 40 * first] + arcs[1:])


def _integer(tlv: _Tlv) -> int:
    if not tlv.is_universal(2):
        raise _Asn1Error("expected an integer")
    return int.from_bytes(tlv.value, "big", signed=True)


def _octets(tlv: _Tlv) -> bytes:
    if not tlv.is_universal(4):
        raise _Asn1Error("expected an octet string")
    if tlv.constructed:
        return b"".join(_octets(chunk) for chunk in tlv.children())
    return tlv.value


_TIME_RE = re.compile(r"^(\d{12,14})(?:[.,](\d+))?(Z|[+-]\d{4})?$")


def _time(tlv: _Tlv) -> datetime.datetime:
    text = tlv.value.decode("ascii", "replace")
    match = _TIME_RE.match(text)
    if not match or tlv.cls != 0 or tlv.number not in (23, 24):
        raise _Asn1Error(f"bad time value {text!r}")
    digits, fraction, zone = match.groups()
    if tlv.number == 23:  # UTCTime: two-digit year, 1950-2049
        year = int(digits[:2])
        digits = str(year + (1900 if year >= 50 else 2000)) + digits[2:]
    if len(digits) == 12:
        digits += "00"
    moment = datetime.datetime.strptime(digits[:14], "%Y%m%d%H%M%S")
    if fraction:
        moment = moment.replace(microsecond=int((fraction + "000000")[:6]))
    offset = datetime.timedelta(0)
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        offset = sign * datetime.timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5]))
    return (moment - offset).replace(tzinfo=datetime.timezone.utc)


def _algorithm(tlv: _Tlv) -> tuple[str, _Tlv | None]:
    parts = tlv.children()
    return _oid(parts[0]), (parts[1] if len(parts) > 1 else None)
