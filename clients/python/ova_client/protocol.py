"""The client side of an OVA/1 connection as a sans-I/O state machine (PROTOCOL.md 3, 8-14).

Both the threaded :mod:`ova_client.sync` channel and the :mod:`ova_client.aio` channel drive one
:class:`ClientProtocol`: they feed it the bytes they read (``receive_data`` returns events), call
its methods to open streams, send, consume and cancel, and write out ``data_to_send()``.
It is not thread-safe; the sync channel holds a lock around every call.
"""
from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Deque, Dict, List, Optional, Tuple

from . import wire
from .status import OvaError, StatusCode
from .wire import Metadata, Settings, WireError


@dataclass
class StreamEnded:
    """The call is over: from TRAILERS, a RESET, GOAWAY, or a local stream error."""

    stream_id: int
    code: int
    message: str = ""
    details: bytes = b""
    metadata: Metadata = field(default_factory=list)
    from_trailers: bool = False
    # The server did not process the call (its id is above the GOAWAY's last stream id, §14).
    not_started: bool = False


@dataclass
class ResponseHeaders:
    stream_id: int
    metadata: Metadata


@dataclass
class MessageReceived:
    stream_id: int
    data: bytes
    # What to pass to ``consumed`` once the application has taken it: the stream credit still owed
    # for the message (its fragments are credited early only while nothing else waits, section 9)
    # and its connection credit (fragments are credited to the connection on arrival).
    credit: int = 0
    connection_credit: int = 0


@dataclass
class GoAwayReceived:
    last_stream_id: int
    code: int
    message: str


@dataclass
class PingAcked:
    data: bytes


@dataclass
class ConnectionClosed:
    """A connection error (ours or the peer's): the connection is unusable."""

    code: int
    message: str


class _Stream:
    __slots__ = (
        "id", "send_window", "recv_window", "uncredited", "unconsumed", "waiting", "pending", "pending_bytes",
        "local_closed", "ended", "headers_seen", "messages_seen", "fragments", "fragment_bytes", "fragments_owed",
    )

    def __init__(self, stream_id: int, send_window: int, recv_window: int) -> None:
        self.id = stream_id
        self.send_window = send_window
        self.recv_window = recv_window
        self.uncredited = 0  # consumed by the app, not yet returned with WINDOW_UPDATE
        self.unconsumed = 0  # connection credit of the complete messages the app has not consumed
        self.waiting = 0  # complete messages the app has not consumed yet
        self.pending: Deque[list] = collections.deque()  # [memoryview, end_stream] or [None, True] = HALF_CLOSE
        self.pending_bytes = 0
        self.local_closed = False  # half-close queued
        self.ended = False
        self.headers_seen = False
        self.messages_seen = False
        self.fragments: List[bytes] = []
        self.fragment_bytes = 0
        self.fragments_owed = 0  # stream credit of the fragments under reassembly, not yet returned


class ClientProtocol:
    def __init__(self, settings: Optional[Settings] = None, *, check_local_limits: bool = True) -> None:
        self.local = settings or Settings()
        self.peer: Optional[Settings] = None
        self.check_local_limits = check_local_limits
        self._decoder = wire.FrameDecoder(from_client=False, max_frame_size=self.local.max_frame_size,
                                          max_metadata_size=self.local.max_metadata_size)
        self._out = bytearray()
        self._streams: Dict[int, _Stream] = {}
        self._next_id = 1
        self._highest = 0
        self.conn_send_window = 0
        self.conn_recv_window = self.local.initial_connection_window
        self._conn_uncredited = 0
        self.goaway: Optional[GoAwayReceived] = None
        self.closed: Optional[ConnectionClosed] = None
        self._frames_received = 0

    # ---- output ---------------------------------------------------------------------------

    def initiate(self) -> None:
        """Preface + our SETTINGS (section 3)."""
        self._out += wire.PREFACE + wire.encode_frame(wire.SettingsFrame(self.local.entries()))

    def data_to_send(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    def _send(self, frame: wire.Frame) -> None:
        self._out += wire.encode_frame(frame)

    # ---- state queries --------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self.peer is not None

    def can_open(self) -> bool:
        return self.peer is not None and self.goaway is None and self.closed is None

    def is_ended(self, sid: int) -> bool:
        s = self._streams.get(sid)
        return s is None or s.ended

    def pending_bytes(self, sid: int) -> int:
        s = self._streams.get(sid)
        return 0 if s is None or s.ended else s.pending_bytes + (1 if s.pending else 0)

    def active_streams(self) -> List[int]:
        return [sid for sid, s in self._streams.items() if not s.ended]

    # ---- calls ----------------------------------------------------------------------------

    def open_stream(self, path: str, timeout_us: int, metadata: Metadata, end_stream: bool = False) -> int:
        if self.closed is not None or self.goaway is not None:
            # Nothing was sent: the call may go on another connection.
            message = f"connection closed: {self.closed.message}" if self.closed is not None else "connection is going away"
            error = OvaError(StatusCode.UNAVAILABLE, message)
            error.not_started = True
            raise error
        if self.peer is None:
            raise RuntimeError("open_stream before the server's SETTINGS")
        if self._next_id > wire.MAX_WINDOW:
            raise OvaError(StatusCode.UNAVAILABLE, "stream ids exhausted")
        try:
            block = wire.encode_metadata(metadata)
        except ValueError as e:
            raise OvaError(StatusCode.INTERNAL, f"invalid metadata: {e}") from None
        frame = wire.RequestHeadersFrame(self._next_id, path, timeout_us, metadata, end_stream)
        size = len(wire.encode_frame(frame)) - wire.HEADER_SIZE
        if self.check_local_limits and (len(block) > self.peer.max_metadata_size or size > self.peer.max_frame_size):
            raise OvaError(StatusCode.RESOURCE_EXHAUSTED, "request metadata exceeds the server's limits")
        sid = self._next_id
        self._next_id += 2
        self._highest = sid
        self._send(frame)
        s = _Stream(sid, self.peer.initial_stream_window, self.local.initial_stream_window)
        s.local_closed = end_stream
        self._streams[sid] = s
        return sid

    def send_message(self, sid: int, data: bytes, end_stream: bool = False) -> None:
        """Queues one message; it goes out as the windows allow (``pending_bytes`` tells)."""
        s = self._streams.get(sid)
        if s is None or s.ended:
            return  # the call is over: the server stopped listening (8.2)
        if s.local_closed:
            raise RuntimeError("send after half-close")
        assert self.peer is not None
        if self.check_local_limits and len(data) > self.peer.max_message_size:
            self.reset(sid)
            raise OvaError(StatusCode.RESOURCE_EXHAUSTED,
                           f"request message of {len(data)} bytes exceeds the server's MAX_MESSAGE_SIZE {self.peer.max_message_size}")
        s.pending.append([memoryview(bytes(data)), end_stream])
        s.pending_bytes += len(data)
        s.local_closed = end_stream
        self._flush(s)

    def half_close(self, sid: int) -> None:
        s = self._streams.get(sid)
        if s is None or s.ended or s.local_closed:
            return
        s.local_closed = True
        s.pending.append([None, True])
        self._flush(s)

    def reset(self, sid: int, code: int = StatusCode.CANCELLED) -> None:
        """Cancels a call: RESET (unless it already ended) and forget it (section 6.6)."""
        s = self._streams.get(sid)
        if s is None:
            return
        if not s.ended and self.closed is None:
            self._send(wire.ResetFrame(sid, int(code)))
        s.ended = True
        self.release(sid)

    def consumed(self, sid: int, credit: int, connection_credit: int) -> None:
        """The application took a message: return its credit (``MessageReceived.credit`` and
        ``connection_credit``), section 9."""
        s = self._streams.get(sid)
        if s is not None:
            s.unconsumed -= connection_credit
            s.waiting -= 1
            if not s.ended:
                s.uncredited += credit
                self._credit_stream(s)
        self._credit_connection(connection_credit)

    def release(self, sid: int) -> None:
        """The call object is done: credit what it never consumed and drop the stream."""
        s = self._streams.pop(sid, None)
        if s is not None:
            s.ended = True
            self._credit_connection(s.unconsumed)

    def ping(self, data: bytes) -> None:
        self._send(wire.PingFrame(data))

    def close(self, message: str = "client closing") -> None:
        if self.closed is None:
            self._send(wire.GoAwayFrame(0, StatusCode.OK, message))

    # ---- internals ------------------------------------------------------------------------

    def _credit_connection(self, n: int) -> None:
        if n <= 0 or self.closed is not None:
            return
        self._conn_uncredited += n
        # Batched, but never more than T held back: with nothing waiting anywhere the connection
        # window stays at least T, so the server can always send a fragment of T (section 9).
        threshold = min(self.local.initial_connection_window // 4, self.local.fragment_threshold)
        if self._conn_uncredited >= max(1, threshold):
            self._send(wire.WindowUpdateFrame(0, self._conn_uncredited))
            self.conn_recv_window += self._conn_uncredited
            self._conn_uncredited = 0

    def _flush(self, s: _Stream) -> None:
        assert self.peer is not None
        while s.pending and not s.ended:
            item = s.pending[0]
            data, end = item
            if data is None:
                self._send(wire.HalfCloseFrame(s.id))
                s.pending.popleft()
                continue
            if len(data) == 0:  # a zero-length MESSAGE is always allowed
                self._send(wire.MessageFrame(s.id, b"", end_stream=end))
                s.pending.popleft()
                continue
            room = min(self.peer.max_frame_size, s.send_window, self.conn_send_window)
            last = len(data) <= room
            # S1 (section 9): no non-final fragment below the server's T; wait for credit instead.
            if not last and (room <= 0 or room < self.peer.fragment_threshold):
                return
            n = len(data) if last else room
            self._send(wire.MessageFrame(s.id, bytes(data[:n]), end_stream=end and last, continued=not last))
            s.send_window -= n
            self.conn_send_window -= n
            s.pending_bytes -= n
            if last:
                s.pending.popleft()
            else:
                item[0] = data[n:]

    def _flush_all(self) -> None:
        for s in list(self._streams.values()):
            if s.pending and not s.ended:
                self._flush(s)
            if self.conn_send_window <= 0:
                return

    def _end(self, s: _Stream, events: list, code: int, message: str, details: bytes = b"",
             metadata: Optional[Metadata] = None, from_trailers: bool = False, not_started: bool = False) -> None:
        s.ended = True
        s.pending.clear()
        s.pending_bytes = 0
        s.fragment_bytes = 0
        s.fragments = []
        events.append(StreamEnded(s.id, code, message, details, metadata or [], from_trailers, not_started))

    def fail_connection(self, code: int, message: str, send_goaway: bool = True) -> List[object]:
        """Ends the connection; every open call ends with UNAVAILABLE."""
        events: List[object] = []
        if self.closed is not None:
            return events
        if send_goaway:
            self._send(wire.GoAwayFrame(0, int(code), message))
        self.closed = ConnectionClosed(code, message)
        for s in list(self._streams.values()):
            if not s.ended:
                self._end(s, events, StatusCode.UNAVAILABLE, f"connection closed: {message}")
        events.append(self.closed)
        return events

    def connection_lost(self, message: str = "connection lost") -> List[object]:
        return self.fail_connection(StatusCode.UNAVAILABLE, message, send_goaway=False)

    # ---- input ----------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> List[object]:
        if self.closed is not None:
            return []
        events: List[object] = []
        try:
            for frame in self._decoder.feed(data):
                self._handle(frame, events)
        except WireError as e:
            events += self.fail_connection(e.code, e.message)
        return events

    def _handle(self, f: wire.Frame, events: list) -> None:
        self._frames_received += 1
        if self.peer is None and not (isinstance(f, wire.SettingsFrame) and not f.ack):
            if isinstance(f, wire.UnknownFrame):
                return
            raise WireError("settingsNotFirst", StatusCode.INTERNAL, "first frame is not SETTINGS")
        if isinstance(f, wire.SettingsFrame):
            if f.ack:
                return
            if self.peer is not None:
                raise WireError("settingsRepeated", StatusCode.INTERNAL, "second SETTINGS")
            self.peer = Settings().apply(f.entries)
            self.conn_send_window = self.peer.initial_connection_window
            self._send(wire.SettingsFrame([], ack=True))
            events.append(self.peer)
            return
        if isinstance(f, wire.PingFrame):
            if f.ack:
                events.append(PingAcked(f.data))
            else:
                self._send(wire.PingFrame(f.data, ack=True))
            return
        if isinstance(f, wire.GoAwayFrame):
            self.goaway = GoAwayReceived(f.last_stream_id, f.code, f.debug_message)
            events.append(self.goaway)
            for s in list(self._streams.values()):
                if s.id > f.last_stream_id and not s.ended:
                    self._end(s, events, StatusCode.UNAVAILABLE, "not processed: the server is going away",
                              not_started=True)
            return
        if isinstance(f, wire.UnknownFrame):
            return
        if isinstance(f, wire.WindowUpdateFrame):
            if f.stream_id == 0:
                if self.conn_send_window + f.increment > wire.MAX_WINDOW:
                    raise WireError("windowOverflow", StatusCode.INTERNAL, "connection window overflow")
                self.conn_send_window += f.increment
                self._flush_all()
            else:
                self._check_known(f.stream_id)
                s = self._streams.get(f.stream_id)
                if s is None or s.ended:
                    return
                if s.send_window + f.increment > wire.MAX_WINDOW:
                    raise WireError("windowOverflow", StatusCode.INTERNAL, "stream window overflow")
                s.send_window += f.increment
                self._flush(s)
            return
        # Stream frames.
        sid = f.stream_id
        self._check_known(sid)
        s = self._streams.get(sid)
        if isinstance(f, wire.MessageFrame):
            n = len(f.data)
            self.conn_recv_window -= n
            if self.conn_recv_window < 0:
                raise WireError("flowControl", StatusCode.RESOURCE_EXHAUSTED, "connection window exceeded")
            if s is None or s.ended:
                self._credit_connection(n)  # bytes of an ended stream are credited at once
                return
            s.recv_window -= n
            if s.recv_window < 0:
                raise WireError("flowControl", StatusCode.RESOURCE_EXHAUSTED, "stream window exceeded")
            s.messages_seen = True
            s.fragments.append(f.data)
            s.fragment_bytes += n
            if s.fragment_bytes > self.local.max_message_size:
                # Stream error (12.2): fail locally, RESET(CANCELLED).
                self._credit_connection(n)
                self._send(wire.ResetFrame(sid, StatusCode.CANCELLED))
                self._end(s, events, StatusCode.RESOURCE_EXHAUSTED,
                          f"response message exceeds MAX_MESSAGE_SIZE {self.local.max_message_size}")
                return
            if f.continued:
                # Fragments are buffered (bounded by MAX_MESSAGE_SIZE). The connection gets their
                # credit at once (the stream window alone bounds an unread stream); the stream gets
                # it only under R2, so a stream whose application does not read stops at its window.
                s.fragments_owed += n
                self._credit_connection(n)
                self._credit_stream(s)
                return
            message = b"".join(s.fragments) if len(s.fragments) > 1 else f.data
            s.fragments = []
            s.fragment_bytes = 0
            s.unconsumed += n
            s.waiting += 1
            # The fragments not credited yet are owed with the message, once it is consumed.
            credit, s.fragments_owed = n + s.fragments_owed, 0
            events.append(MessageReceived(sid, message, credit=credit, connection_credit=n))
            return
        if s is None or s.ended:
            return  # frames for ended streams are ignored
        if isinstance(f, wire.ResponseHeadersFrame):
            if not s.headers_seen and not s.messages_seen:
                s.headers_seen = True
                events.append(ResponseHeaders(sid, f.metadata))
            return
        if isinstance(f, wire.TrailersFrame):
            self._end(s, events, StatusCode.decode(f.status), f.message, f.details, f.metadata, True)
            return
        if isinstance(f, wire.ResetFrame):
            self._end(s, events, StatusCode.decode(f.code), "stream reset by the server")
            return
        # RequestHeadersFrame / HalfCloseFrame cannot come from a server (decoder already refused
        # HALF_CLOSE); anything else is ignored.

    def _credit_stream(self, s: _Stream) -> None:
        """Returns stream credit by the rules of section 9.

        R1: the fragments under reassembly are credited only while no complete message waits for
        the application. R2: with nothing waiting and the window below T, everything owed goes
        back at once. Consumed credit is batched up to T (so at most T is held back while the
        application waits), which also keeps increments large (R3)."""
        threshold = self.local.fragment_threshold
        owed = s.uncredited + (s.fragments_owed if s.waiting == 0 else 0)
        if owed <= 0:
            return
        if (s.waiting == 0 and s.recv_window < threshold) or s.uncredited >= max(1, threshold):
            self._send(wire.WindowUpdateFrame(s.id, owed))
            s.recv_window += owed
            s.uncredited = 0
            if s.waiting == 0:
                s.fragments_owed = 0

    def _check_known(self, sid: int) -> None:
        if sid > self._highest:
            raise WireError("unknownStream", StatusCode.INTERNAL, f"frame for never-opened stream {sid}")
