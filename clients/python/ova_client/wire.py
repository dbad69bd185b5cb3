"""The OVA/1 frame codec, written from docs/PROTOCOL.md (sections 4-7).

Pure functions and a streaming decoder; no I/O. Frames are small dataclasses; ``encode_frame``
turns one into bytes and ``FrameDecoder`` turns bytes (in any split) back into frames, applying
the per-frame rules of section 4 in order. A violation raises :class:`WireError` with the
GOAWAY status code the spec assigns to it.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import List, Optional, Tuple, Union

from .status import StatusCode

PREFACE = b"OVA1\r\n\x1a\n"
ALPN = "ova/1"
DEFAULT_PORT = 7443
HEADER_SIZE = 9

# Frame types (section 6).
SETTINGS = 0x0
HEADERS = 0x1
MESSAGE = 0x2
HALF_CLOSE = 0x3
TRAILERS = 0x4
RESET = 0x5
WINDOW_UPDATE = 0x6
PING = 0x7
GOAWAY = 0x8

FLAG_ACK = 0x1
FLAG_END_STREAM = 0x1
FLAG_CONTINUED = 0x2

# Settings identifiers (section 7).
MAX_FRAME_SIZE = 0x1
MAX_CONCURRENT_STREAMS = 0x2
INITIAL_STREAM_WINDOW = 0x3
INITIAL_CONNECTION_WINDOW = 0x4
MAX_MESSAGE_SIZE = 0x5
MAX_METADATA_SIZE = 0x6

MAX_WINDOW = 2**31 - 1
MIN_FRAME_SIZE = 16_384


class WireError(Exception):
    """A connection error (section 12.1): ``kind`` names the rule, ``code`` is the GOAWAY code."""

    def __init__(self, kind: str, code: StatusCode, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.code = code
        self.message = message


def _internal(kind: str, message: str) -> WireError:
    return WireError(kind, StatusCode.INTERNAL, message)


@dataclass
class Settings:
    """All six values, with the protocol defaults of section 7."""

    max_frame_size: int = 65_536
    max_concurrent_streams: int = 1_024
    initial_stream_window: int = 1_048_576
    initial_connection_window: int = 16_777_216
    max_message_size: int = 4_194_304
    max_metadata_size: int = 16_384

    def entries(self) -> List[Tuple[int, int]]:
        return [
            (MAX_FRAME_SIZE, self.max_frame_size),
            (MAX_CONCURRENT_STREAMS, self.max_concurrent_streams),
            (INITIAL_STREAM_WINDOW, self.initial_stream_window),
            (INITIAL_CONNECTION_WINDOW, self.initial_connection_window),
            (MAX_MESSAGE_SIZE, self.max_message_size),
            (MAX_METADATA_SIZE, self.max_metadata_size),
        ]

    @property
    def fragment_threshold(self) -> int:
        """T of section 9: the smallest non-final fragment a peer may send to the side that
        advertised these settings, and the receive window below which that side returns credit."""
        return min(self.max_frame_size, self.initial_stream_window // 2, self.initial_connection_window // 2)

    def apply(self, entries: List[Tuple[int, int]]) -> "Settings":
        """A copy with ``entries`` applied in order; unknown identifiers are ignored."""
        s = Settings(**self.__dict__)
        for ident, value in entries:
            if ident == MAX_FRAME_SIZE:
                s.max_frame_size = value
            elif ident == MAX_CONCURRENT_STREAMS:
                s.max_concurrent_streams = value
            elif ident == INITIAL_STREAM_WINDOW:
                s.initial_stream_window = value
            elif ident == INITIAL_CONNECTION_WINDOW:
                s.initial_connection_window = value
            elif ident == MAX_MESSAGE_SIZE:
                s.max_message_size = value
            elif ident == MAX_METADATA_SIZE:
                s.max_metadata_size = value
        return s


# Metadata: a list of (key, value); value is str for text keys, bytes for keys ending in -bin.
Metadata = List[Tuple[str, Union[str, bytes]]]


# ---- frames -------------------------------------------------------------------------------


@dataclass
class SettingsFrame:
    entries: List[Tuple[int, int]] = field(default_factory=list)
    ack: bool = False
    stream_id: int = 0


@dataclass
class RequestHeadersFrame:
    stream_id: int
    path: str
    timeout_us: int = 0
    metadata: Metadata = field(default_factory=list)
    end_stream: bool = False


@dataclass
class ResponseHeadersFrame:
    stream_id: int
    metadata: Metadata = field(default_factory=list)


@dataclass
class MessageFrame:
    stream_id: int
    data: bytes
    end_stream: bool = False
    continued: bool = False


@dataclass
class HalfCloseFrame:
    stream_id: int


@dataclass
class TrailersFrame:
    stream_id: int
    status: int
    message: str = ""
    details: bytes = b""
    metadata: Metadata = field(default_factory=list)


@dataclass
class ResetFrame:
    stream_id: int
    code: int


@dataclass
class WindowUpdateFrame:
    stream_id: int
    increment: int


@dataclass
class PingFrame:
    data: bytes
    ack: bool = False
    stream_id: int = 0


@dataclass
class GoAwayFrame:
    last_stream_id: int
    code: int
    debug_message: str = ""
    stream_id: int = 0


@dataclass
class UnknownFrame:
    type: int
    flags: int
    stream_id: int
    payload: bytes


Frame = Union[
    SettingsFrame, RequestHeadersFrame, ResponseHeadersFrame, MessageFrame, HalfCloseFrame,
    TrailersFrame, ResetFrame, WindowUpdateFrame, PingFrame, GoAwayFrame, UnknownFrame,
]


# ---- encoding -----------------------------------------------------------------------------


def _header(length: int, ftype: int, flags: int, stream_id: int) -> bytes:
    return struct.pack(">I", length)[1:] + bytes((ftype, flags)) + struct.pack(">I", stream_id & MAX_WINDOW)


def _string16(text: str) -> bytes:
    raw = text.encode("utf-8")
    if len(raw) > 0xFFFF:  # cut at the last whole character that fits (5.1)
        raw = raw[:0xFFFF].decode("utf-8", "ignore").encode("utf-8")
    return struct.pack(">H", len(raw)) + raw


def valid_key(key: str) -> bool:
    return 1 <= len(key) <= 255 and all(c in "abcdefghijklmnopqrstuvwxyz0123456789-_." for c in key)


def encode_metadata(metadata: Metadata) -> bytes:
    if len(metadata) > 0xFFFF:
        raise ValueError("more than 65535 metadata entries")
    out = [struct.pack(">H", len(metadata))]
    for key, value in metadata:
        key = key.lower()
        if not valid_key(key):
            raise ValueError(f"invalid metadata key {key!r}")
        if key.endswith("-bin"):
            raw = bytes(value) if not isinstance(value, str) else value.encode("utf-8")
        else:
            raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
            raw.decode("utf-8")
        if len(raw) > 0xFFFF:
            raise ValueError(f"metadata value of {key!r} is longer than 65535 bytes")
        kb = key.encode("ascii")
        out.append(bytes((len(kb),)) + kb + struct.pack(">H", len(raw)) + raw)
    return b"".join(out)


def metadata_size(metadata: Metadata) -> int:
    return len(encode_metadata(metadata))


def encode_payload(frame: Frame) -> Tuple[int, int, int, bytes]:
    """(type, flags, stream id, payload) of a frame."""
    if isinstance(frame, SettingsFrame):
        payload = b"".join(struct.pack(">HI", i, v) for i, v in frame.entries)
        return SETTINGS, FLAG_ACK if frame.ack else 0, 0, payload
    if isinstance(frame, RequestHeadersFrame):
        payload = _string16(frame.path) + struct.pack(">Q", frame.timeout_us) + encode_metadata(frame.metadata)
        return HEADERS, FLAG_END_STREAM if frame.end_stream else 0, frame.stream_id, payload
    if isinstance(frame, ResponseHeadersFrame):
        return HEADERS, 0, frame.stream_id, encode_metadata(frame.metadata)
    if isinstance(frame, MessageFrame):
        flags = (FLAG_END_STREAM if frame.end_stream else 0) | (FLAG_CONTINUED if frame.continued else 0)
        return MESSAGE, flags, frame.stream_id, bytes(frame.data)
    if isinstance(frame, HalfCloseFrame):
        return HALF_CLOSE, 0, frame.stream_id, b""
    if isinstance(frame, TrailersFrame):
        payload = (
            bytes((frame.status,)) + _string16(frame.message) + struct.pack(">I", len(frame.details))
            + frame.details + encode_metadata(frame.metadata)
        )
        return TRAILERS, 0, frame.stream_id, payload
    if isinstance(frame, ResetFrame):
        return RESET, 0, frame.stream_id, struct.pack(">I", frame.code)
    if isinstance(frame, WindowUpdateFrame):
        return WINDOW_UPDATE, 0, frame.stream_id, struct.pack(">I", frame.increment)
    if isinstance(frame, PingFrame):
        return PING, FLAG_ACK if frame.ack else 0, 0, bytes(frame.data)
    if isinstance(frame, GoAwayFrame):
        payload = struct.pack(">II", frame.last_stream_id, frame.code) + _string16(frame.debug_message)
        return GOAWAY, 0, 0, payload
    if isinstance(frame, UnknownFrame):
        return frame.type, frame.flags, frame.stream_id, frame.payload
    raise TypeError(f"not a frame: {frame!r}")


def encode_frame(frame: Frame) -> bytes:
    ftype, flags, stream_id, payload = encode_payload(frame)
    return _header(len(payload), ftype, flags, stream_id) + payload


# ---- decoding -----------------------------------------------------------------------------


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise _internal("malformedFrame", "payload ends early")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return struct.unpack(">H", self.take(2))[0]

    def u32(self) -> int:
        return struct.unpack(">I", self.take(4))[0]

    def u64(self) -> int:
        return struct.unpack(">Q", self.take(8))[0]

    def utf8(self, n: int) -> str:
        raw = self.take(n)
        try:
            return raw.decode("utf-8")  # strict: rejects overlong forms, surrogates, cut sequences
        except UnicodeDecodeError:
            raise _internal("invalidUTF8", "string is not valid UTF-8") from None

    def string16(self) -> str:
        return self.utf8(self.u16())

    def end(self) -> None:
        if self.pos != len(self.data):
            raise _internal("malformedFrame", "bytes left over after the last field")


def decode_metadata(raw: bytes, max_size: Optional[int] = None) -> Metadata:
    if max_size is not None and len(raw) > max_size:
        raise WireError("metadataTooLarge", StatusCode.RESOURCE_EXHAUSTED, "metadata block over MAX_METADATA_SIZE")
    r = _Reader(raw)
    count = r.u16()
    out: Metadata = []
    for _ in range(count):
        klen = r.u8()
        kraw = r.take(klen)
        if klen == 0 or any(b not in b"abcdefghijklmnopqrstuvwxyz0123456789-_." for b in kraw):
            raise _internal("invalidMetadataKey", f"invalid metadata key {kraw!r}")
        key = kraw.decode("ascii")
        vlen = r.u16()
        if key.endswith("-bin"):
            out.append((key, r.take(vlen)))
        else:
            out.append((key, r.utf8(vlen)))
    r.end()
    return out


def decode_frame(
    ftype: int, flags: int, stream_id: int, payload: bytes, *, from_client: bool,
    max_metadata_size: Optional[int] = None,
) -> Frame:
    """Decodes one frame's payload (rules 2-6 of section 4). ``from_client``: the sender's side."""
    known = ftype <= GOAWAY
    if not known:
        return UnknownFrame(ftype, flags, stream_id, payload)
    # Rule 4: stream 0 and odd ids.
    if ftype in (SETTINGS, PING, GOAWAY):
        if stream_id != 0:
            raise _internal("invalidStreamID", f"frame type {ftype} must be on stream 0")
    elif ftype != WINDOW_UPDATE and stream_id == 0:
        raise _internal("invalidStreamID", f"frame type {ftype} must not be on stream 0")
    if stream_id != 0 and stream_id % 2 == 0:
        raise _internal("invalidStreamID", f"even stream id {stream_id}")
    # Rule 5: direction.
    if ftype == HALF_CLOSE and not from_client:
        raise _internal("malformedFrame", "HALF_CLOSE from a server")
    if ftype == TRAILERS and from_client:
        raise _internal("malformedFrame", "TRAILERS from a client")

    r = _Reader(payload)
    if ftype == SETTINGS:
        ack = bool(flags & FLAG_ACK)
        if ack:
            if payload:
                raise _internal("malformedFrame", "SETTINGS ACK with a payload")
            return SettingsFrame([], ack=True)
        if len(payload) % 6:
            raise _internal("malformedFrame", "SETTINGS length is not a multiple of 6")
        entries = [struct.unpack(">HI", payload[i:i + 6]) for i in range(0, len(payload), 6)]
        for ident, value in entries:
            if ident == MAX_FRAME_SIZE and not MIN_FRAME_SIZE <= value <= 16_777_215:
                raise _internal("invalidSetting", f"MAX_FRAME_SIZE {value} out of range")
            if ident in (INITIAL_STREAM_WINDOW, INITIAL_CONNECTION_WINDOW) and value > MAX_WINDOW:
                raise _internal("invalidSetting", f"window setting {value} out of range")
        return SettingsFrame([tuple(e) for e in entries])
    if ftype == HEADERS:
        if from_client:
            path = r.string16()
            if not path:
                raise _internal("malformedFrame", "empty path")
            timeout = r.u64()
            md = decode_metadata(payload[r.pos:], max_metadata_size)
            return RequestHeadersFrame(stream_id, path, timeout, md, end_stream=bool(flags & FLAG_END_STREAM))
        return ResponseHeadersFrame(stream_id, decode_metadata(payload, max_metadata_size))
    if ftype == MESSAGE:
        continued = bool(flags & FLAG_CONTINUED)
        end = bool(flags & FLAG_END_STREAM) and from_client
        if end and continued:
            raise _internal("malformedFrame", "END_STREAM together with CONTINUED")
        return MessageFrame(stream_id, payload, end_stream=end, continued=continued)
    if ftype == HALF_CLOSE:
        r.end()
        return HalfCloseFrame(stream_id)
    if ftype == TRAILERS:
        status = r.u8()
        message = r.string16()
        dlen = r.u32()
        details = r.take(dlen)
        md = decode_metadata(payload[r.pos:], max_metadata_size)
        return TrailersFrame(stream_id, status, message, details, md)
    if ftype == RESET:
        code = r.u32()
        r.end()
        return ResetFrame(stream_id, code)
    if ftype == WINDOW_UPDATE:
        inc = r.u32()
        r.end()
        if inc == 0 or inc > MAX_WINDOW:
            raise _internal("malformedFrame", f"WINDOW_UPDATE increment {inc}")
        return WindowUpdateFrame(stream_id, inc)
    if ftype == PING:
        data = r.take(8)
        r.end()
        return PingFrame(data, ack=bool(flags & FLAG_ACK))
    # GOAWAY
    last = r.u32() & MAX_WINDOW
    code = r.u32()
    msg = r.string16()
    r.end()
    return GoAwayFrame(last, code, msg)


class FrameDecoder:
    """Streaming decoder: ``feed(bytes)`` returns the complete frames decoded so far.

    ``from_client`` is True when decoding what a client sends (a server's view; set
    ``expect_preface`` to check the preface first), False for a client reading a server.
    """

    def __init__(self, *, from_client: bool = False, max_frame_size: int = 65_536,
                 max_metadata_size: Optional[int] = None, expect_preface: bool = False) -> None:
        self.from_client = from_client
        self.max_frame_size = max_frame_size
        self.max_metadata_size = max_metadata_size
        self._preface_left = len(PREFACE) if expect_preface else 0
        self._buf = bytearray()

    def feed(self, data: bytes) -> List[Frame]:
        self._buf += data
        frames: List[Frame] = []
        if self._preface_left:
            start = len(PREFACE) - self._preface_left
            n = min(self._preface_left, len(self._buf))
            for i in range(n):  # byte by byte: fail at the first byte that differs
                if self._buf[i] != PREFACE[start + i]:
                    raise _internal("badPreface", "bad preface")
            del self._buf[:n]
            self._preface_left -= n
            if self._preface_left:
                return frames
        while len(self._buf) >= HEADER_SIZE:
            length = int.from_bytes(self._buf[0:3], "big")
            if length > self.max_frame_size:
                raise WireError("frameTooLarge", StatusCode.RESOURCE_EXHAUSTED,
                                f"frame of {length} bytes over MAX_FRAME_SIZE {self.max_frame_size}")
            if len(self._buf) < HEADER_SIZE + length:
                break
            ftype, flags = self._buf[3], self._buf[4]
            stream_id = int.from_bytes(self._buf[5:9], "big") & MAX_WINDOW
            payload = bytes(self._buf[HEADER_SIZE:HEADER_SIZE + length])
            del self._buf[:HEADER_SIZE + length]
            frames.append(decode_frame(ftype, flags, stream_id, payload, from_client=self.from_client,
                                       max_metadata_size=self.max_metadata_size))
        return frames
