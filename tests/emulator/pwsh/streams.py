"""Byte streams, compression and text encodings as .NET Framework gives them to a script.

- MemoryStream: Write appends; ToArray returns the bytes written, and still works once the stream is closed,
  while Write then throws ObjectDisposedException
  (https://learn.microsoft.com/dotnet/api/system.io.memorystream.toarray).
- GZipStream(stream, CompressionMode.Compress[, leaveOpen]): RFC 1952 gzip around a DEFLATE stream (RFC 1951).
  Write compresses into the underlying stream; Close writes the last block and the trailer (CRC-32 and length
  modulo 2^32) and closes the underlying stream unless leaveOpen
  (https://learn.microsoft.com/dotnet/api/system.io.compression.gzipstream).
  Two encoders exist, by CLR: "Starting with the .NET Framework 4.5, the DeflateStream class uses the zlib
  library" (https://learn.microsoft.com/dotnet/api/system.io.compression.deflatestream, Remarks), so a
  PowerShell 3.0+ host on CLR 4.0.30319.42000 writes what zlib writes at its default level. PowerShell 2.0 runs
  on CLR 2.0, whose managed encoder (FastEncoder) matches greedily and writes only blocks with DEFLATE's fixed
  Huffman code, behind the header 1F 8B 08 00 00000000 04 00 (no name, no time, XFL "fastest", OS 0); zlib's
  fastest level with the Z_FIXED strategy writes the same kind of stream, so the output is about as large as
  the old encoder's, not zlib's best.
- Encoding.ASCII.GetBytes replaces every character above U+007F with '?'
  (https://learn.microsoft.com/dotnet/api/system.text.asciiencoding, Remarks).
- Convert.ToBase64String (https://learn.microsoft.com/dotnet/api/system.convert.tobase64string).
"""

from __future__ import annotations

import base64
import typing as t
import zlib

from emulator.pwsh.runtime import NetException, NetObject, UnsupportedConstruct, to_int, to_string

_CLR2_GZIP_HEADER = bytes([0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00])


def _disposed(name: str) -> NetException:
    return NetException(f"Cannot access a closed Stream.\r\nObject name: '{name}'.",
                        type_name="System.ObjectDisposedException")


def _as_bytes(buffer: t.Any, offset: t.Any, count: t.Any) -> bytes:
    if not isinstance(buffer, (bytes, bytearray)):
        raise NetException("Value cannot be null.\r\nParameter name: buffer", type_name="System.ArgumentNullException")
    start, length = to_int(offset), to_int(count)
    if start < 0 or length < 0 or start + length > len(buffer):
        raise NetException("Offset and length were out of bounds for the array or count is greater than the number "
                           "of elements from index to the end of the source collection.",
                           type_name="System.ArgumentException")
    return bytes(buffer[start:start + length])


class MemoryStreamObject(NetObject):
    ps_type_name = "System.IO.MemoryStream"

    def __init__(self) -> None:
        self.data = bytearray()
        self.closed = False

    @property
    def Length(self):  # noqa: N802
        if self.closed:
            raise _disposed("")
        return len(self.data)

    def Write(self, buffer, offset, count):  # noqa: N802
        if self.closed:
            raise _disposed("")
        self.data += _as_bytes(buffer, offset, count)

    def ToArray(self):  # noqa: N802
        return bytes(self.data)

    def Close(self):  # noqa: N802
        self.closed = True

    def Dispose(self):  # noqa: N802
        self.Close()


class GZipStreamObject(NetObject):
    ps_type_name = "System.IO.Compression.GZipStream"

    def __init__(self, stream: t.Any, mode: t.Any, leave_open: t.Any = False, clr2: bool = False) -> None:
        if not isinstance(stream, MemoryStreamObject):
            raise UnsupportedConstruct("GZipStream over anything but a MemoryStream")
        if to_string(mode).lower() != "compress":
            raise UnsupportedConstruct(f"GZipStream in mode {to_string(mode)}")
        self.stream = stream
        self.leave_open = bool(leave_open)
        self.clr2 = clr2
        if clr2:
            self.compressor = zlib.compressobj(1, zlib.DEFLATED, -zlib.MAX_WBITS, 8, zlib.Z_FIXED)
        else:
            self.compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        self.crc = 0
        self.length = 0
        self.started = False
        self.closed = False

    def _emit(self, data: bytes) -> None:
        if data:
            self.stream.data += data

    def Write(self, array, offset, count):  # noqa: N802
        if self.closed:
            raise _disposed("")
        data = _as_bytes(array, offset, count)
        if self.clr2 and not self.started:
            self._emit(_CLR2_GZIP_HEADER)
        self.started = True
        self.crc = zlib.crc32(data, self.crc)
        self.length += len(data)
        self._emit(self.compressor.compress(data))

    def Close(self):  # noqa: N802
        if self.closed:
            return
        self.closed = True
        if self.clr2 and not self.started:
            self._emit(_CLR2_GZIP_HEADER)
        self._emit(self.compressor.flush())
        if self.clr2:
            self._emit(self.crc.to_bytes(4, "little") + (self.length % 2 ** 32).to_bytes(4, "little"))
        if not self.leave_open:
            self.stream.Close()

    def Dispose(self):  # noqa: N802
        self.Close()


class _Encoding(NetObject):
    ps_type_name = "System.Text.Encoding"

    def __init__(self, codec: str, replacement: str | None) -> None:
        self.codec = codec
        self.replacement = replacement

    def GetBytes(self, text):  # noqa: N802
        value = to_string(text)
        if self.replacement is not None:
            value = "".join(char if ord(char) < 128 else self.replacement for char in value)
        return value.encode(self.codec, errors="surrogatepass")

    def GetString(self, data):  # noqa: N802
        return bytes(data).decode(self.codec, errors="replace").replace("\ufffd", self.replacement or "\ufffd")


class EncodingStatics:
    ASCII = _Encoding("ascii", "?")
    UTF8 = _Encoding("utf-8", None)


class CompressionModeStatics:
    Compress = "Compress"
    Decompress = "Decompress"


def to_base64_string(data: t.Any) -> str:
    if not isinstance(data, (bytes, bytearray)):
        raise NetException("Value cannot be null.\r\nParameter name: inArray", type_name="System.ArgumentNullException")
    return base64.b64encode(bytes(data)).decode("ascii")


def new_stream(type_name: str, arguments: list[t.Any], clr2: bool) -> NetObject | None:
    """New-Object of a stream type (``type_name`` lower-case, without "system."), or None for another type."""
    if type_name == "io.memorystream" and not arguments:
        return MemoryStreamObject()
    if type_name == "io.compression.gzipstream" and len(arguments) in (2, 3):
        return GZipStreamObject(*arguments, clr2=clr2)
    return None
