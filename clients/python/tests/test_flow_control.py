"""The flow-control rules of PROTOCOL.md section 9 (S1, R1, R2, R3), against a scripted server.

No server needed: a fake server feeds the client's state machine MESSAGE frames and reads the
WINDOW_UPDATEs it answers with; ``FakeSender`` is a server that follows S1 to the letter, so the
tests also show that S1 + R1 + R2 neither leak nor deadlock.
"""
from __future__ import annotations

from typing import List

from ova_client import wire
from ova_client.protocol import ClientProtocol, MessageReceived
from ova_client.status import StatusCode

# The client's receive settings of issue 11: window 65,536, MAX_FRAME_SIZE 65,536, so T = 32,768.
WINDOW = 65_536
LOCAL = wire.Settings(initial_stream_window=WINDOW, max_message_size=200_000)
T = 32_768


def server_frames(*frames) -> bytes:
    return b"".join(wire.encode_frame(f) for f in frames)


def read_client(data: bytes, preface: bool = False) -> list:
    return wire.FrameDecoder(from_client=True, expect_preface=preface, max_frame_size=1 << 24).feed(data)


def connected(local: wire.Settings = LOCAL, **server_settings) -> ClientProtocol:
    p = ClientProtocol(local)
    p.initiate()
    read_client(p.data_to_send(), preface=True)
    p.receive_data(server_frames(wire.SettingsFrame(wire.Settings(**server_settings).entries())))
    p.data_to_send()
    return p


def stream_credit(frames: list, sid: int) -> int:
    return sum(f.increment for f in frames if isinstance(f, wire.WindowUpdateFrame) and f.stream_id == sid)


class FakeSender:
    """A server sending messages on one stream by S1, within the credit the client returns."""

    def __init__(self, proto: ClientProtocol, sid: int) -> None:
        assert LOCAL.fragment_threshold == T
        self.proto, self.sid = proto, sid
        self.window = proto.local.initial_stream_window
        self.frames: List[wire.MessageFrame] = []
        self.events: list = []
        self.unsent: List[int] = []  # bytes left of each message not sent completely

    def take_credit(self) -> None:
        self.window += stream_credit(read_client(self.proto.data_to_send()), self.sid)

    def send(self, message_sizes: List[int]) -> bool:
        """Queues the messages and sends as far as the window allows; False if it has to wait
        for credit, True once everything queued is sent."""
        self.unsent += message_sizes
        while self.unsent:
            self.take_credit()
            left = self.unsent[0]
            room = min(self.proto.local.max_frame_size, self.window)
            last = left <= room
            if not last and room < T:
                return False
            n = left if last else room
            frame = wire.MessageFrame(self.sid, b"m" * n, continued=not last)
            self.frames.append(frame)
            self.window -= n
            self.unsent[0] -= n
            if last:
                self.unsent.pop(0)
            self.events += self.proto.receive_data(server_frames(frame))
            assert self.proto.closed is None, self.proto.closed
        self.take_credit()
        return True


def test_threshold_comes_from_the_advertised_settings():
    assert wire.Settings().fragment_threshold == 65_536
    assert wire.Settings(initial_stream_window=65_536).fragment_threshold == 32_768
    assert wire.Settings(max_frame_size=16_384).fragment_threshold == 16_384
    assert wire.Settings(initial_connection_window=20_000).fragment_threshold == 10_000


def test_unread_stream_receives_its_window_and_nothing_more():
    """Issue 11's case: 40 responses of 10,000 bytes that the application never reads."""
    p = connected()
    sid = p.open_stream("ova.v1.Echo/ServerStream", 0, [])
    p.data_to_send()
    server = FakeSender(p, sid)
    assert not server.send([10_000] * 40)  # stalls: the client owes nothing it may return
    assert sum(len(f.data) for f in server.frames) == 60_000  # 6 messages; 5,536 left is below T
    assert [len(e.data) for e in server.events] == [10_000] * 6
    assert all(not f.continued for f in server.frames)
    assert server.window == 5_536


def test_no_fragment_credit_while_a_message_waits():
    """R1: a complete unread message; the fragments of the next one fill the window and get no
    credit, so one byte more is a flow-control violation."""
    p = connected()
    sid = p.open_stream("ova.v1.Echo/ServerStream", 0, [])
    p.data_to_send()
    events = p.receive_data(server_frames(wire.MessageFrame(sid, b"a" * 10_000)))
    assert [type(e) for e in events] == [MessageReceived]
    for n in (20_000, 20_000, 15_536):  # 55,536: the window is now 0
        assert p.receive_data(server_frames(wire.MessageFrame(sid, b"b" * n, continued=True))) == []
    assert stream_credit(read_client(p.data_to_send()), sid) == 0
    p.receive_data(server_frames(wire.MessageFrame(sid, b"b", continued=True)))
    assert p.closed is not None and p.closed.code == StatusCode.RESOURCE_EXHAUSTED


def test_message_larger_than_the_window_completes():
    """R2: with nothing waiting, fragments are credited once the window falls below T."""
    p = connected()
    sid = p.open_stream("ova.v1.Echo/ServerStream", 0, [])
    p.data_to_send()
    server = FakeSender(p, sid)
    assert server.send([150_000])
    assert [len(e.data) for e in server.events] == [150_000]
    assert not server.send([150_000])  # R1: the second stalls behind the unread first
    first = server.events[0]
    p.consumed(sid, first.credit, first.connection_credit)  # the application reads the first
    assert server.send([])  # and the server, given credit, finishes the second
    assert [len(e.data) for e in server.events] == [150_000, 150_000]
    non_final = [len(f.data) for f in server.frames if f.continued]
    assert non_final and min(non_final) >= T


def test_taking_the_last_waiting_message_returns_the_fragments_credit():
    """R2: the application takes the only waiting message while a fragmented one is in progress
    and the window is below T: everything owed goes back at once, in one WINDOW_UPDATE."""
    p = connected()
    sid = p.open_stream("ova.v1.Echo/ServerStream", 0, [])
    p.data_to_send()
    [waiting] = p.receive_data(server_frames(wire.MessageFrame(sid, b"a" * 40_000)))
    p.receive_data(server_frames(wire.MessageFrame(sid, b"b" * 25_536, continued=True)))
    assert stream_credit(read_client(p.data_to_send()), sid) == 0  # R1: the window is 0
    p.consumed(sid, waiting.credit, waiting.connection_credit)
    updates = [f for f in read_client(p.data_to_send()) if f.stream_id == sid]
    assert updates == [wire.WindowUpdateFrame(sid, 65_536)]
    events = p.receive_data(server_frames(wire.MessageFrame(sid, b"b" * 34_464)))
    assert [len(e.data) for e in events] == [60_000] and p.closed is None


def test_consumed_credit_is_not_held_back_beyond_t():
    """Small messages read one by one: the stream window never drops below T for long, and no
    WINDOW_UPDATE is below 1,024 bytes (R3)."""
    p = connected()
    sid = p.open_stream("ova.v1.Echo/ServerStream", 0, [])
    p.data_to_send()
    sent: list = []
    window = WINDOW
    for _ in range(200):
        [m] = p.receive_data(server_frames(wire.MessageFrame(sid, b"x" * 700)))
        window -= 700
        p.consumed(sid, m.credit, m.connection_credit)
        frames = read_client(p.data_to_send())
        sent += frames
        window += stream_credit(frames, sid)
        assert window > WINDOW - T  # at most T held back while the application waits
    increments = [f.increment for f in sent if isinstance(f, wire.WindowUpdateFrame)]
    assert increments and min(increments) >= 1_024


def test_sender_never_sends_a_small_non_final_fragment():
    """S1: the server's T is 16,384 (MAX_FRAME_SIZE 16,384, window 65,536); a message that does not
    fit waits until the room is at least T, while a final fragment and a small whole message may
    be any size."""
    p = connected(initial_stream_window=65_536, max_frame_size=16_384)
    sid = p.open_stream("ova.v1.Echo/ClientStream", 0, [])
    p.data_to_send()
    p.send_message(sid, b"a" * 60_000)
    sizes = [(len(f.data), f.continued) for f in read_client(p.data_to_send())]
    assert sizes == [(16_384, True)] * 3 + [(10_848, False)]
    p.send_message(sid, b"b" * 20_000)  # 5,536 left: below T, nothing goes out
    assert read_client(p.data_to_send()) == [] and p.pending_bytes(sid) > 0
    p.receive_data(server_frames(wire.WindowUpdateFrame(sid, 10_000)))  # 15,536: still below T
    assert read_client(p.data_to_send()) == []
    p.receive_data(server_frames(wire.WindowUpdateFrame(sid, 1_000)))  # 16,536
    assert [(len(f.data), f.continued) for f in read_client(p.data_to_send())] == [(16_384, True)]
    p.receive_data(server_frames(wire.WindowUpdateFrame(sid, 3_464)))  # 3,616: the final fragment fits
    assert [(len(f.data), f.continued) for f in read_client(p.data_to_send())] == [(3_616, False)]
    p.receive_data(server_frames(wire.WindowUpdateFrame(sid, 100)))
    p.send_message(sid, b"c" * 100, end_stream=True)  # a whole message smaller than T that fits
    assert [(len(f.data), f.continued) for f in read_client(p.data_to_send())] == [(100, False)]
