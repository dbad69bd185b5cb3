"""The server rules settled by the protocol-hardening review (issue 11), probed with raw frames.

PROTOCOL.md section 9.3 (S1/R1: an unread stream receives its window and nothing more, in
fragments of at least T), section 13 (the control-frame budget and the rapid-reset bucket, which
never counts a client's own deadlines) and section 2 (ALPN ``ova/1`` is required). Each test
names the rule it checks; run this module alone with ``PYTEST_ARGS=test_hardening.py``.
"""
from __future__ import annotations

import asyncio
import socket
import ssl
import time

import pytest

from ova_client import AsyncChannel, OvaError, wire
from ova_client._common import make_ssl_context
from ova_client.generated.ova.v1 import echo_pb2
from ova_client.status import StatusCode

from test_server_conformance import Raw, echo, unary_headers


def frames_for(raw: Raw, seconds: float) -> list:
    """Every frame (WINDOW_UPDATEs and ACKs included) the server sends within ``seconds``."""
    out: list = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            f = raw.next_frame(timeout=deadline - time.monotonic(), skip_acks=False)
        except AssertionError:  # nothing more in time
            break
        if f is None:
            break
        out.append(f)
    return out


def send_until_closed(raw: Raw, data: bytes) -> bool:
    """Sends ``data``; False if the server has closed the connection (it may, midway through a flood)."""
    try:
        raw.send_raw(data)
        return True
    except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
        return False


def flood(raw: Raw, frame_bytes: bytes, count: int, batch: int = 500) -> None:
    """Sends ``count`` copies of a frame in batches of ``batch``."""
    for _ in range(count // batch):
        if not send_until_closed(raw, frame_bytes * batch):
            return


def expect_goaway(raw: Raw, message: str) -> None:
    try:
        g = raw.goaway()
    except AssertionError:
        pytest.fail(f"the server neither sent GOAWAY nor closed (expected {message!r})")
    assert g is not None, f"closed without GOAWAY (expected {message!r})"
    assert (g.code, g.debug_message) == (StatusCode.RESOURCE_EXHAUSTED, message), g


# ---- section 9.3: S1 and R1 on the server's side ---------------------------------------------

def test_unread_stream_gets_its_window_and_no_small_fragments(server):
    """Window 65,536, MAX_FRAME_SIZE 65,536 (T = 32,768), MAX_MESSAGE_SIZE 12,000: 40 responses of
    10,000 bytes the client never reads. The server sends 6 whole messages (about 60,000 bytes)
    and then nothing: the 7th does not fit, and the room left is below T."""
    local = wire.Settings(initial_stream_window=65_536, max_message_size=12_000)
    t = local.fragment_threshold
    assert t == 32_768
    raw = Raw(server, settings=False)
    try:
        raw.send(wire.SettingsFrame(local.entries()))
        first = raw.next_frame()
        assert isinstance(first, wire.SettingsFrame) and not first.ack
        raw.send(unary_headers(1, path="ova.v1.Echo/ServerStream"),
                 wire.MessageFrame(1, echo("unread", response_count=40, response_size=10_000), end_stream=True))
        messages = []
        while sum(not m.continued for m in messages) < 6:  # what S1 lets through, whatever the speed
            f = raw.next_frame()
            assert f is not None, "connection closed"
            if isinstance(f, wire.MessageFrame):
                messages.append(f)
        messages += [f for f in frames_for(raw, 1.5) if isinstance(f, wire.MessageFrame)]
        total = sum(len(m.data) for m in messages)
        assert total <= 65_536, f"{total} bytes in {len(messages)} MESSAGE frames past a window of 65,536"
        small = [len(m.data) for m in messages if m.continued and len(m.data) < t]
        assert small == [], f"non-final fragments below T: {small[:20]}"
    finally:
        raw.close()


# ---- section 13: the rapid-reset bucket never counts a client's deadlines ----------------------

@pytest.mark.parametrize("calls", [150, 500])
def test_deadline_resets_never_disconnect(server, calls):
    """``calls`` concurrent Echo/Unary calls (delay 2 s) with a 300 ms timeout: the client fails each
    at its deadline and RESETs it (section 10). 500 is more than the bucket's burst of 200, so only
    the 90 %-of-timeout exemption keeps the connection. No GOAWAY; the connection serves the next
    call."""

    async def scenario():
        async with AsyncChannel(server.host, server.port, ca=server.ca) as ch:
            await ch.connect()
            conn = ch._conn
            resets: list = []  # the RESETs the client sends: the test means nothing without them
            send = conn.proto._send

            def counting_send(frame):
                if isinstance(frame, wire.ResetFrame):
                    resets.append(frame.stream_id)
                send(frame)

            conn.proto._send = counting_send
            request = echo_pb2.EchoRequest(text="slow", delay_ms=2_000)
            results = await asyncio.gather(
                *[ch.unary("ova.v1.Echo/Unary", request, echo_pb2.EchoResponse, timeout=0.3) for _ in range(calls)],
                return_exceptions=True)
            codes = {r.code if isinstance(r, OvaError) else "ok" for r in results}
            assert codes == {StatusCode.DEADLINE_EXCEEDED}, codes
            # The client's deadline starts before the server's (which runs from the receipt of
            # HEADERS), so it normally fires first; a server TRAILERS winning a few races is fine.
            assert len(resets) >= calls // 2, f"only {len(resets)} RESETs sent"
            reply = await ch.unary("ova.v1.Echo/Unary", echo_pb2.EchoRequest(text="after"), echo_pb2.EchoResponse,
                                   timeout=10)
            assert reply.text == "after"
            assert ch.goaway is None, ch.goaway
            assert ch._conn is conn, "the call after the deadlines needed a new connection"

    asyncio.run(scenario())


def test_rapid_reset_attack_is_cut_off(server):
    """Open and RESET 5,000 streams whose handlers run (no timeout, so none is a deadline)."""
    raw = Raw(server)
    try:
        payload = echo("reset me", delay_ms=2_000)
        batch = b""
        for i in range(5_000):
            sid = 2 * i + 1
            batch += b"".join(wire.encode_frame(f) for f in (
                unary_headers(sid), wire.MessageFrame(sid, payload, end_stream=True), wire.ResetFrame(sid, 1)))
            if i % 250 == 249:
                if not send_until_closed(raw, batch):
                    break
                batch = b""
        expect_goaway(raw, "too many RESET frames")
    finally:
        raw.close()


# ---- section 13: the control-frame budget -----------------------------------------------------

CONTROL_FLOODS = {
    "settings-ack": wire.SettingsFrame([], ack=True),
    "ping-ack": wire.PingFrame(b"pingpong", ack=True),
    "unknown-type-stream-0": wire.UnknownFrame(0x0F, 0, 0, b"x"),
    "unknown-type-even-stream": wire.UnknownFrame(0x0F, 0, 2, b"x"),
    "window-update-1": wire.WindowUpdateFrame(0, 1),
}


@pytest.mark.parametrize("kind", sorted(CONTROL_FLOODS))
def test_control_frame_flood_is_cut_off(server, kind):
    """20,000 frames that cost the server work but carry no call."""
    raw = Raw(server)
    try:
        flood(raw, wire.encode_frame(CONTROL_FLOODS[kind]), 20_000)
        expect_goaway(raw, "too many control frames")
    finally:
        raw.close()


# ---- section 2: ALPN ova/1 is required ----------------------------------------------------------

@pytest.mark.parametrize("alpn", [["h2"], None])
def test_tls_without_alpn_ova1_gets_no_ova_frame(server, alpn):
    """A client offering only ``h2``, or no ALPN at all: the handshake fails or the connection is
    closed before any OVA frame (no SETTINGS)."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=server.ca)
    if alpn is not None:
        ctx.set_alpn_protocols(alpn)
    raw = socket.create_connection((server.host, server.port), timeout=5)
    try:
        try:
            tls = ctx.wrap_socket(raw, server_hostname=server.host)
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
            return  # refused in the handshake
        assert tls.selected_alpn_protocol() != "h2"
        received = b""
        try:
            tls.sendall(wire.PREFACE + wire.encode_frame(wire.SettingsFrame(wire.Settings().entries())))
            while True:
                chunk = tls.recv(65_536)
                if not chunk:
                    break
                received += chunk
        except socket.timeout:
            pytest.fail(f"the connection stayed open; received {len(received)} bytes")
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
            pass
        assert received == b"", f"the server sent {len(received)} bytes of OVA frames without ALPN ova/1"
    finally:
        raw.close()


def test_compliant_client_is_not_limited(server):
    """The other side of the budget: a client within the rules (a PING a second is far below; here a
    few hundred control frames in a burst, below the burst of 1,000) keeps its connection."""
    raw = Raw(server)
    try:
        flood(raw, wire.encode_frame(wire.WindowUpdateFrame(0, 1)), 500, batch=500)
        raw.send(unary_headers(1), wire.MessageFrame(1, echo("still here"), end_stream=True))
        t = raw.trailers(1)
        assert t.status == StatusCode.OK
    finally:
        raw.close()
