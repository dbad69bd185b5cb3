"""The client state machine against scripted server frames (no server needed)."""
from __future__ import annotations

import pytest

from ova_client import wire
from ova_client.protocol import ClientProtocol, GoAwayReceived, MessageReceived, StreamEnded
from ova_client.status import OvaError, StatusCode


def server_frames(*frames) -> bytes:
    return b"".join(wire.encode_frame(f) for f in frames)


def read_client(data: bytes, preface: bool = False):
    return wire.FrameDecoder(from_client=True, expect_preface=preface, max_frame_size=1 << 24).feed(data)


def connected(**server_settings) -> ClientProtocol:
    p = ClientProtocol()
    p.initiate()
    sent = read_client(p.data_to_send(), preface=True)
    assert sent == [wire.SettingsFrame(wire.Settings().entries())]
    s = wire.Settings(**server_settings)
    p.receive_data(server_frames(wire.SettingsFrame(s.entries())))
    assert read_client(p.data_to_send()) == [wire.SettingsFrame([], ack=True)]
    return p


def test_first_frame_must_be_settings():
    p = ClientProtocol()
    p.initiate()
    events = p.receive_data(server_frames(wire.PingFrame(b"12345678")))
    assert p.closed is not None and p.closed.code == StatusCode.INTERNAL
    goaway = read_client(p.data_to_send(), preface=True)[-1]
    assert isinstance(goaway, wire.GoAwayFrame) and goaway.code == StatusCode.INTERNAL
    assert events[-1] == p.closed


def test_no_stream_before_settings():
    p = ClientProtocol()
    with pytest.raises(RuntimeError):
        p.open_stream("a/b", 0, [])


def test_ping_is_answered():
    p = connected()
    p.receive_data(server_frames(wire.PingFrame(b"abcdefgh")))
    assert read_client(p.data_to_send()) == [wire.PingFrame(b"abcdefgh", ack=True)]


def test_send_respects_windows_and_fragments():
    # The server's T = min(16,384, 20,000 / 2, 30,000 / 2) = 10,000: no non-final fragment below it.
    p = connected(initial_stream_window=20_000, max_frame_size=16_384, initial_connection_window=30_000)
    sid = p.open_stream("ova.v1.Echo/ClientStream", 0, [])
    p.send_message(sid, b"a" * 50_000, end_stream=True)
    frames = read_client(p.data_to_send())
    msgs = [f for f in frames if isinstance(f, wire.MessageFrame)]
    assert [len(m.data) for m in msgs] == [16_384]  # 3,616 left in the stream window: below T, wait
    assert all(m.continued for m in msgs) and p.pending_bytes(sid) > 0
    p.receive_data(server_frames(wire.WindowUpdateFrame(sid, 40_000)))  # stream: connection still limits
    msgs = [f for f in read_client(p.data_to_send()) if isinstance(f, wire.MessageFrame)]
    assert [len(m.data) for m in msgs] == [13_616]  # all the connection window left
    p.receive_data(server_frames(wire.WindowUpdateFrame(0, 100_000)))
    msgs = [f for f in read_client(p.data_to_send()) if isinstance(f, wire.MessageFrame)]
    assert sum(len(m.data) for m in msgs) == 20_000 and msgs[-1].end_stream and not msgs[-1].continued
    assert p.pending_bytes(sid) == 0


def test_receive_credit_on_consumption():
    p = connected()
    sid = p.open_stream("ova.v1.Echo/ServerStream", 0, [])
    p.data_to_send()
    half = wire.Settings().initial_stream_window // 2
    k = half // 65_536
    frames = [wire.MessageFrame(sid, b"x" * 65_536, continued=i < k - 1) for i in range(k)]
    events = p.receive_data(server_frames(*frames))
    assert [type(e) for e in events] == [MessageReceived] and len(events[0].data) == half
    # Nothing credited to the stream before the application consumes (the window never fell below
    # T); the connection gets the fragments' credit on arrival.
    assert all(f.stream_id == 0 for f in read_client(p.data_to_send()))
    p.consumed(sid, events[0].credit, events[0].connection_credit)
    assert [f for f in read_client(p.data_to_send()) if f.stream_id == sid] == [wire.WindowUpdateFrame(sid, half)]


def test_window_exceeded_is_a_connection_error():
    p = connected()
    sid = p.open_stream("a/b", 0, [])
    n = wire.Settings().initial_stream_window
    p.receive_data(server_frames(wire.MessageFrame(sid, b"x" * 60_000, continued=True)) * (n // 60_000))
    events = p.receive_data(server_frames(wire.MessageFrame(sid, b"x" * 60_000)))
    # With nothing waiting, the fragments are credited once the window falls below T (R2), so the
    # last frame is still within the window.
    assert p.closed is None and isinstance(events[0], MessageReceived)


def test_goaway_fails_streams_above_last_id():
    p = connected()
    a = p.open_stream("a/b", 0, [])
    b = p.open_stream("a/b", 0, [])
    events = p.receive_data(server_frames(wire.GoAwayFrame(a, 0, "shutting down")))
    assert isinstance(events[0], GoAwayReceived)
    ended = [e for e in events if isinstance(e, StreamEnded)]
    assert [(e.stream_id, e.code) for e in ended] == [(b, StatusCode.UNAVAILABLE)]
    with pytest.raises(OvaError) as info:
        p.open_stream("a/b", 0, [])
    assert info.value.code == StatusCode.UNAVAILABLE


def test_frame_for_never_opened_stream():
    p = connected()
    p.receive_data(server_frames(wire.ResetFrame(7, 1)))
    assert p.closed is not None and p.closed.code == StatusCode.INTERNAL


def test_cancel_sends_reset_and_ignores_late_frames():
    p = connected()
    sid = p.open_stream("a/b", 0, [])
    p.data_to_send()
    p.reset(sid)
    assert read_client(p.data_to_send()) == [wire.ResetFrame(sid, StatusCode.CANCELLED)]
    events = p.receive_data(server_frames(wire.MessageFrame(sid, b"late"), wire.TrailersFrame(sid, 0)))
    assert events == [] and p.closed is None


def test_timeout_is_rounded_up_microseconds():
    import time
    from ova_client._common import timeout_us
    assert timeout_us(None) == 0
    assert 1 <= timeout_us(time.monotonic() + 0.001) <= 1000
    assert 4_900_000 < timeout_us(time.monotonic() + 5) <= 5_000_000
