"""The DER reader on hand-assembled bytes (ITU-T X.690: identifier, length and content octets; X.680 time
types). The expected values are worked out from the standard, not from the reader."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.codesign.windows.plugins.plugin_utils._authenticode import _der

UTC = datetime.timezone.utc


def test_low_and_high_tag_numbers():
    sequence = _der._parse_one(bytes.fromhex("3003020105"))          # SEQUENCE { INTEGER 5 }
    assert (sequence.cls, sequence.constructed, sequence.number) == (0, True, 16)
    assert [_der._integer(child) for child in sequence.children()] == [5]
    # [PRIVATE 31... ] X.690 8.1.2.4: tag 128 in two subsequent octets 0x81 0x00, then length 1.
    high = _der._parse_one(bytes.fromhex("df810001aa"))
    assert (high.cls, high.constructed, high.number, high.value) == (3, False, 128, b"\xaa")
    context = _der._parse_one(bytes.fromhex("bf1f00"))                 # [CONTEXT 31] constructed, empty
    assert (context.cls, context.constructed, context.number) == (2, True, 31)


def test_short_long_and_indefinite_lengths():
    assert _der._parse_one(bytes.fromhex("047f") + bytes(127)).value == bytes(127)       # short form, 127
    assert _der._parse_one(bytes.fromhex("048180") + bytes(128)).value == bytes(128)     # long form, 128
    assert _der._parse_one(bytes.fromhex("04820100") + bytes(256)).value == bytes(256)
    indefinite = _der._parse_one(bytes.fromhex("3080020101020102") + b"\0\0")        # BER, ends with 00 00
    assert [_der._integer(c) for c in indefinite.children()] == [1, 2]
    for bad in ("0480", "0485" + "00" * 5 + "00", "0405aa"):
        with pytest.raises(_der._Asn1Error):
            _der._parse_one(bytes.fromhex(bad))


def test_integers_octets_and_oids():
    assert _der._integer(_der._parse_one(bytes.fromhex("0201ff"))) == -1
    assert _der._integer(_der._parse_one(bytes.fromhex("02020080"))) == 128
    assert _der._octets(_der._parse_one(bytes.fromhex("2480040161040162" + "0000"))) == b"ab"   # constructed
    # 1.2.840.113549.1.7.2 (signedData), X.690 8.19
    assert _der._oid(_der._parse_one(bytes.fromhex("06092a864886f70d010702"))) == "1.2.840.113549.1.7.2"
    assert _der._oid(_der._parse_one(bytes.fromhex("0603550403"))) == "2.5.4.3"
    with pytest.raises(_der._Asn1Error, match="truncated object identifier"):
        _der._oid(_der._parse_one(bytes.fromhex("06022a86")))


@pytest.mark.parametrize("tag, text, moment", [
    (23, "211012103000Z", datetime.datetime(2021, 10, 12, 10, 30, tzinfo=UTC)),            # UTCTime
    (23, "491231235959Z", datetime.datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC)),         # 1950-2049
    (23, "500101000000Z", datetime.datetime(1950, 1, 1, tzinfo=UTC)),
    (24, "202110121030Z", datetime.datetime(2021, 10, 12, 10, 30, tzinfo=UTC)),            # no seconds (BER)
    (24, "20211012103000Z", datetime.datetime(2021, 10, 12, 10, 30, tzinfo=UTC)),         # GeneralizedTime
    (24, "20211012103000.5Z", datetime.datetime(2021, 10, 12, 10, 30, 0, 500000, tzinfo=UTC)),
    (24, "20211012103000.123456789Z", datetime.datetime(2021, 10, 12, 10, 30, 0, 123456, tzinfo=UTC)),
    (24, "20211012103000+0130", datetime.datetime(2021, 10, 12, 9, 0, tzinfo=UTC)),
    (24, "20211012103000-0200", datetime.datetime(2021, 10, 12, 12, 30, tzinfo=UTC)),
])
def test_times(tag, text, moment):
    data = bytes([tag, len(text)]) + text.encode("ascii")
    assert _der._time(_der._parse_one(data)) == moment


@pytest.mark.parametrize("data", [bytes([24, 3]) + b"now", bytes([4, 13]) + b"211012103000Z"])
def test_bad_times(data):
    with pytest.raises(_der._Asn1Error, match="bad time value"):
        _der._time(_der._parse_one(data))


@pytest.mark.parametrize("data, message", [
    ("", "unexpected end of data"),
    ("1f", "unexpected end of data in a tag"),          # a high tag number that never ends
    ("1f81", "unexpected end of data in a tag"),
    ("30", "unexpected end of data in a length"),
    ("1f8100", "unexpected end of data in a length"),
    ("0480", "indefinite length on a primitive value"),
    ("0485" + "00" * 6, "bad length"),                  # five length octets: more than this reader allows
    ("048201", "bad length"),
    ("0403aabb", "value runs past the end of the data"),
])
def test_truncated_or_bad_encodings(data, message):
    with pytest.raises(_der._Asn1Error, match=f"^{message}$"):
        _der._parse_one(bytes.fromhex(data))


def test_nesting_is_bounded():
    deep = bytes.fromhex("3080") * 70 + b"\0\0" * 70
    with pytest.raises(_der._Asn1Error, match="nesting too deep"):
        _der._parse_one(deep)


@pytest.mark.parametrize("reader, data, message", [
    (_der._integer, "0401aa", "expected an integer"),
    (_der._octets, "020101", "expected an octet string"),
    (_der._oid, "020101", "expected an object identifier"),
    (_der._oid, "0600", "expected an object identifier"),
])
def test_a_value_of_the_wrong_type_is_refused(reader, data, message):
    with pytest.raises(_der._Asn1Error, match=f"^{message}$"):
        reader(_der._parse_one(bytes.fromhex(data)))
