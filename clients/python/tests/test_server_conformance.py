"""The server's side of PROTOCOL.md, probed with raw frames over TLS (no client logic in the way)."""
from __future__ import annotations

import socket
import ssl
import time

import pytest

from ova_client import wire
from ova_client._common import make_ssl_context
from ova_client.generated.ova.v1 import echo_pb2
from ova_client.status import StatusCode


class Raw:
    """A TLS connection that sends exactly the bytes it is told and decodes what comes back."""

    def __init__(self, server, preface: bool = True, settings: bool = True) -> None:
        ctx = make_ssl_context(server.ca)
        self.sock = ctx.wrap_socket(socket.create_connection((server.host, server.port), timeout=5),
                                    server_hostname=server.host)
        self.decoder = wire.FrameDecoder(from_client=False, max_frame_size=1 << 24)
        self.frames: list = []
        self.closed = False
        if preface:
            self.send_raw(wire.PREFACE)
        if settings:
            self.send(wire.SettingsFrame(wire.Settings().entries()))
            first = self.next_frame()
            assert isinstance(first, wire.SettingsFrame) and not first.ack, first

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, *frames) -> None:
        self.send_raw(b"".join(wire.encode_frame(f) for f in frames))

    def next_frame(self, timeout: float = 5.0, skip_acks: bool = True):
        deadline = time.monotonic() + timeout
        while True:
            while self.frames:
                f = self.frames.pop(0)
                if skip_acks and isinstance(f, wire.SettingsFrame) and f.ack:
                    continue
                if skip_acks and isinstance(f, wire.WindowUpdateFrame):
                    continue
                return f
            if self.closed:
                return None
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(65536)
            except (ConnectionResetError, ssl.SSLError, OSError) as e:
                if isinstance(e, socket.timeout):
                    raise AssertionError("no frame in time") from None
                self.closed = True
                continue
            if not data:
                self.closed = True
                continue
            self.frames += self.decoder.feed(data)

    def goaway(self):
        while True:
            f = self.next_frame()
            if f is None or isinstance(f, wire.GoAwayFrame):
                return f

    def is_closed(self, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.next_frame(timeout=deadline - time.monotonic()) is None:
                return True
        return False

    def trailers(self, sid: int):
        while True:
            f = self.next_frame()
            assert f is not None, "connection closed before TRAILERS"
            if isinstance(f, (wire.TrailersFrame, wire.ResetFrame)) and f.stream_id == sid:
                return f

    def close(self) -> None:
        self.sock.close()


def unary_headers(sid: int, path: str = "ova.v1.Echo/Unary", **kw) -> wire.RequestHeadersFrame:
    return wire.RequestHeadersFrame(sid, path, 0, [], **kw)


def echo(text: str = "hi", **kw) -> bytes:
    return echo_pb2.EchoRequest(text=text, **kw).SerializeToString()


@pytest.fixture
def raw(server):
    r = Raw(server)
    yield r
    r.close()


def test_server_settings_come_first_without_waiting_for_the_preface(server):
    r = Raw(server, preface=False, settings=False)
    first = r.next_frame()
    assert isinstance(first, wire.SettingsFrame) and not first.ack
    r.close()


def test_bad_preface(server):
    r = Raw(server, preface=False, settings=False)
    r.send_raw(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    g = r.goaway()
    assert g is None or (g.last_stream_id == 0 and g.code == StatusCode.INTERNAL)
    assert r.is_closed()
    r.close()


def test_settings_ack_ping_and_unknown_frames(raw):
    raw.send(wire.UnknownFrame(0x0F, 0xFF, 0, b"ignored"), wire.PingFrame(b"pingpong"))
    f = raw.next_frame()
    assert f == wire.PingFrame(b"pingpong", ack=True)


def test_unary_frame_by_frame(raw):
    raw.send(unary_headers(1), wire.MessageFrame(1, echo("frames"), end_stream=True))
    frames = []
    while True:
        f = raw.next_frame()
        frames.append(f)
        if isinstance(f, wire.TrailersFrame):
            break
    messages = [f for f in frames if isinstance(f, wire.MessageFrame)]
    assert len(messages) == 1 and echo_pb2.EchoResponse.FromString(messages[0].data).text == "frames"
    assert frames[-1].status == StatusCode.OK


def test_fragmented_request_with_half_close_frame(raw):
    data = echo("fragmented", payload=b"z" * 100)
    raw.send(unary_headers(1), wire.MessageFrame(1, data[:7], continued=True), wire.MessageFrame(1, data[7:]),
             wire.HalfCloseFrame(1))
    t = raw.trailers(1)
    assert t.status == StatusCode.OK


def test_unary_with_zero_or_two_requests_is_invalid_argument(raw):
    raw.send(unary_headers(1, end_stream=True))
    assert raw.trailers(1).status == StatusCode.INVALID_ARGUMENT
    raw.send(unary_headers(3), wire.MessageFrame(3, echo()), wire.MessageFrame(3, echo(), end_stream=True))
    assert raw.trailers(3).status == StatusCode.INVALID_ARGUMENT


def test_half_close_inside_a_fragmented_message_is_a_stream_error(raw):
    raw.send(unary_headers(1), wire.MessageFrame(1, b"\x0a\x05he", continued=True), wire.HalfCloseFrame(1))
    assert raw.trailers(1).status == StatusCode.INVALID_ARGUMENT
    raw.send(unary_headers(3), wire.MessageFrame(3, echo("alive"), end_stream=True))
    assert raw.trailers(3).status == StatusCode.OK


def test_undecodable_request_is_invalid_argument(raw):
    raw.send(unary_headers(1), wire.MessageFrame(1, b"\xff\xff\xff", end_stream=True))
    assert raw.trailers(1).status == StatusCode.INVALID_ARGUMENT


def test_deadline_from_the_headers_timeout(raw):
    raw.send(wire.RequestHeadersFrame(1, "ova.v1.Echo/Unary", 200_000, []),
             wire.MessageFrame(1, echo(delay_ms=5_000), end_stream=True))
    start = time.monotonic()
    t = raw.trailers(1)
    assert t.status == StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - start < 3


def test_reset_cancels_the_handler_and_late_frames_are_ignored(raw):
    raw.send(unary_headers(1, path="ova.v1.Echo/Bidi"), wire.MessageFrame(1, echo()), wire.ResetFrame(1, 1),
             wire.MessageFrame(1, echo()))
    raw.send(unary_headers(3), wire.MessageFrame(3, echo("next"), end_stream=True))
    t = raw.trailers(3)
    assert t.status == StatusCode.OK


@pytest.mark.parametrize("frames, code", [
    ([unary_headers(2)], StatusCode.INTERNAL),  # even stream id
    ([unary_headers(3), unary_headers(1)], StatusCode.INTERNAL),  # ids must increase
    ([wire.MessageFrame(5, b"")], StatusCode.INTERNAL),  # never-opened stream
    ([unary_headers(1), wire.MessageFrame(1, echo(delay_ms=3_000), end_stream=True), wire.MessageFrame(1, echo())],
     StatusCode.INTERNAL),  # MESSAGE after half-close, the call still running
    ([wire.WindowUpdateFrame(0, wire.MAX_WINDOW)], StatusCode.INTERNAL),  # window overflow
    ([wire.SettingsFrame(wire.Settings().entries())], StatusCode.INTERNAL),  # second SETTINGS
    ([wire.RequestHeadersFrame(1, "a/b", 0, [("k", "v" * 20_000)])], StatusCode.RESOURCE_EXHAUSTED),  # metadata
])
def test_connection_errors(server, frames, code):
    r = Raw(server)
    r.send(*frames)
    g = r.goaway()
    assert g is not None, "closed without GOAWAY"
    assert g.code == code, g
    assert r.is_closed()
    r.close()


def test_frame_over_max_frame_size(server):
    r = Raw(server)
    r.send_raw(bytes.fromhex("010001 02 00 00000001"))  # 65537 > 65536, header only
    g = r.goaway()
    assert g is not None and g.code == StatusCode.RESOURCE_EXHAUSTED
    r.close()
