"""Blocking API: one TLS connection per :class:`Channel`, served by one I/O thread.

The I/O thread owns the (non-blocking) TLS socket: it reads frames, answers PING and SETTINGS,
dispatches events to calls, and writes whatever the protocol queued. Application threads call
into the shared :class:`ClientProtocol` under a lock and wake the I/O thread to write.
"""
from __future__ import annotations

import os
import select
import socket
import ssl
import threading
import time
from typing import Any, Dict, Iterable, Iterator, List, Optional

from . import wire
from ._common import (
    NOT_STARTED_ATTEMPTS, USER_AGENT, AddressesLike, CallCore, EndpointRotation, MetadataLike, check_alpn,
    connect_failure, deadline_from, deliver, make_ssl_context, no_address_answered, normalize_metadata, parse,
    parse_addresses, serialize, timeout_us,
)
from .protocol import ClientProtocol, ConnectionClosed, GoAwayReceived, PingAcked
from .status import OvaError, StatusCode


class _Connection:
    def __init__(self, host: str, port: int, ctx: ssl.SSLContext, server_hostname: Optional[str],
                 settings: Optional[wire.Settings], check_local_limits: bool, connect_timeout: float) -> None:
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.proto = ClientProtocol(settings, check_local_limits=check_local_limits)
        self.calls: Dict[int, "Call"] = {}
        self.pings: Dict[bytes, Optional[float]] = {}
        try:
            raw = socket.create_connection((host, port), timeout=connect_timeout)
        except OSError as e:
            raise connect_failure(host, port, e, connect_timeout) from None
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self.sock = ctx.wrap_socket(raw, server_hostname=server_hostname or host)
            check_alpn(self.sock)
        except (ssl.SSLError, OSError) as e:
            raw.close()
            raise connect_failure(host, port, e, connect_timeout, server_hostname) from None
        self.sock.setblocking(False)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._outbuf = bytearray()
        self.dead = False
        with self.lock:
            self.proto.initiate()
        self.thread = threading.Thread(target=self._run, name=f"ova-io-{host}:{port}", daemon=True)
        self.thread.start()
        self.kick()
        deadline = time.monotonic() + connect_timeout
        with self.cond:
            while not self.proto.ready and not self.dead:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)
            if not self.proto.ready:
                reason = self.proto.closed.message if self.proto.closed else "no SETTINGS from the server"
                self.shutdown()
                raise OvaError(StatusCode.UNAVAILABLE, f"connection to {host}:{port} failed: {reason}")

    # -- called by application threads (with or without the lock) --

    def kick(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except (BlockingIOError, OSError):
            pass

    def usable(self) -> bool:
        with self.lock:
            return not self.dead and self.proto.can_open()

    def shutdown(self) -> None:
        with self.lock:
            if not self.dead:
                self.proto.close()
                self._dispatch(self.proto.connection_lost("closed by the client"))
            self.dead = True
        self.kick()

    # -- the I/O thread --

    def _run(self) -> None:
        try:
            while True:
                with self.lock:
                    self._outbuf += self.proto.data_to_send()
                    want_write = bool(self._outbuf)
                    if self.dead and not want_write:
                        break
                rlist = [self.sock, self._wake_r]
                r, w, _ = select.select(rlist, [self.sock] if want_write else [], [], 1.0)
                if self._wake_r in r:
                    try:
                        while self._wake_r.recv(4096):
                            pass
                    except (BlockingIOError, OSError):
                        pass
                if self.sock in r or self.sock.pending():
                    if not self._read():
                        break
                if w or want_write:
                    self._write()
        except Exception as e:  # noqa: BLE001 - the connection is over whatever happened
            with self.lock:
                self._dispatch(self.proto.connection_lost(f"I/O error: {e}"))
        finally:
            with self.lock:
                self.dead = True
                self.cond.notify_all()
            try:
                self.sock.close()
            except OSError:
                pass
            self._wake_r.close()
            self._wake_w.close()

    def _read(self) -> bool:
        while True:
            try:
                data = self.sock.recv(262_144)
            except (ssl.SSLWantReadError, BlockingIOError):
                return True
            except ssl.SSLWantWriteError:
                return True
            except (OSError, ssl.SSLError) as e:
                with self.lock:
                    self._dispatch(self.proto.connection_lost(f"read failed: {e}"))
                return False
            if not data:
                with self.lock:
                    self._dispatch(self.proto.connection_lost("the server closed the connection"))
                return False
            with self.lock:
                self._dispatch(self.proto.receive_data(data))
                self._outbuf += self.proto.data_to_send()
                if self.proto.closed is not None:
                    self._write()
                    return False

    def _write(self) -> None:
        while self._outbuf:
            try:
                n = self.sock.send(self._outbuf[:262_144])
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
                return
            except (OSError, ssl.SSLError) as e:
                self._outbuf.clear()
                with self.lock:
                    self._dispatch(self.proto.connection_lost(f"write failed: {e}"))
                return
            del self._outbuf[:n]

    def _dispatch(self, events: List[object]) -> None:
        for ev in events:
            if deliver(self.calls, ev):
                continue
            if isinstance(ev, PingAcked):
                if ev.data in self.pings:
                    self.pings[ev.data] = time.monotonic()
            elif isinstance(ev, ConnectionClosed):
                self.dead = True
            elif isinstance(ev, GoAwayReceived):
                pass
        self.cond.notify_all()


class Call(CallCore):
    """One call (stream). Iterate it for responses; ``send``/``done_sending`` for requests."""

    def __init__(self, conn: _Connection, sid: int, response_type: Any, deadline: Optional[float]) -> None:
        super().__init__(conn, sid, response_type, deadline)
        self._sender: Optional[threading.Thread] = None

    # -- helpers (lock held) --

    def _flush(self) -> None:
        self._conn.kick()

    def _finish_locally(self, code: StatusCode, message: str) -> None:
        super()._finish_locally(code, message)
        self._conn.cond.notify_all()

    def _expire_if_due(self) -> bool:
        if self._end is None and self._deadline is not None and time.monotonic() >= self._deadline:
            self._finish_locally(StatusCode.DEADLINE_EXCEEDED, "deadline exceeded")
            return True
        return False

    def _wait(self) -> None:
        timeout = None if self._deadline is None else max(0.0, self._deadline - time.monotonic())
        self._conn.cond.wait(timeout if timeout is not None else 5.0)

    # -- public --

    def recv(self) -> Any:
        """The next response, or None once the call ended OK; raises OvaError otherwise."""
        with self._conn.cond:
            while True:
                ready, event = self._take_event()
                if ready or self._expire_if_due():
                    break
                self._wait()
            if not self._consume(event):
                return None
        assert event is not None
        return parse(self._response_type, event.data)

    def __iter__(self) -> Iterator[Any]:
        while True:
            msg = self.recv()
            if msg is None:
                return
            yield msg

    def send(self, message: Any, end: bool = False) -> None:
        """Sends one request; blocks while the flow-control windows are full."""
        data = serialize(message)
        with self._conn.cond:
            if self._end is not None:
                return
            self._conn.proto.send_message(self.stream_id, data, end_stream=end)
            self._conn.kick()
            while self._conn.proto.pending_bytes(self.stream_id) and self._end is None and not self._conn.dead:
                if self._expire_if_due():
                    return
                self._wait()

    def done_sending(self) -> None:
        with self._conn.lock:
            self._conn.proto.half_close(self.stream_id)
        self._conn.kick()

    def cancel(self) -> None:
        """RESET(CANCELLED); the call ends with CANCELLED."""
        with self._conn.cond:
            if self._end is None:
                self._finish_locally(StatusCode.CANCELLED, "cancelled by the client")

    def initial_metadata(self) -> wire.Metadata:
        """The response HEADERS' metadata; empty if the server sent none (it is optional)."""
        with self._conn.cond:
            while not self._settle_initial_metadata():
                if self._expire_if_due():
                    self._initial_metadata = []
                    break
                self._wait()
            assert self._initial_metadata is not None
            return self._initial_metadata

    def result(self) -> Any:
        """For unary and client-streaming calls: the single response."""
        response = self.recv()
        return self._single(response, self.recv() if response is not None else None)

    def _send_all(self, requests: Iterable[Any]) -> None:
        try:
            for r in requests:
                if self._end is not None:
                    return
                self.send(r)
            self.done_sending()
        except OvaError:
            pass

    def __enter__(self) -> "Call":
        return self

    def __exit__(self, *exc: object) -> None:
        if self._end is None:
            self.cancel()


class Channel:
    """A connection to an OVA server with the blocking API.

    ``Channel("127.0.0.1", 7443, ca="data/dev-cert.pem")``; ``metadata`` is sent with every call
    (e.g. ``[("authorization", "Bearer ...")]``).

    ``addresses="a:7443,b:7443"`` (or a list of ``host:port`` / ``(host, port)``) names several
    instances of one service instead of ``host``/``port``: each new connection goes to the next
    address in turn from a random start, skipping addresses that failed to connect moments ago.
    A new connection is made when the current one got GOAWAY or was lost; calls in flight on a
    lost connection fail with UNAVAILABLE, and a unary call the server did not start (it
    crossed a GOAWAY) is sent again on the new connection.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = wire.DEFAULT_PORT, *, addresses: Optional[AddressesLike] = None,
                 ca: Optional[str] = None,
                 ssl_context: Optional[ssl.SSLContext] = None, server_hostname: Optional[str] = None,
                 insecure: bool = False, metadata: MetadataLike = None, settings: Optional[wire.Settings] = None,
                 connect_timeout: float = 10.0, check_local_limits: bool = True) -> None:
        self.addresses = parse_addresses(addresses) if addresses is not None else [(host, port)]
        self.host, self.port = self.addresses[0]
        self._rotation = EndpointRotation(len(self.addresses))
        self._ctx = ssl_context or make_ssl_context(ca, insecure=insecure)
        self._server_hostname = server_hostname
        self.metadata = normalize_metadata([("user-agent", USER_AGENT)], metadata)
        self._settings = settings
        self._connect_timeout = connect_timeout
        self._check = check_local_limits
        self._lock = threading.Lock()
        self._conn: Optional[_Connection] = None
        self._closed = False

    def _connection(self) -> _Connection:
        with self._lock:
            if self._closed:
                raise OvaError(StatusCode.UNAVAILABLE, "channel closed")
            if self._conn is None or not self._conn.usable():
                self._conn = self._connect_any()
            return self._conn

    def _connect_any(self) -> _Connection:
        """The next address in turn, then the following ones: each at most once, so a call never
        spins over dead servers; when all failed moments ago, first waits out the shortest pause."""
        tried: set = set()
        failures: List[OvaError] = []
        while True:
            attempt = self._rotation.next(time.monotonic(), tried)
            if attempt is None:
                break
            index, not_before = attempt
            if not_before is not None:
                if tried:
                    break
                time.sleep(max(0.0, not_before - time.monotonic()))
            tried.add(index)
            host, port = self.addresses[index]
            try:
                conn = _Connection(host, port, self._ctx, self._server_hostname, self._settings, self._check,
                                   self._connect_timeout)
            except OvaError as e:
                self._rotation.failed(index, time.monotonic())
                failures.append(e)
                continue
            self._rotation.connected(index)
            return conn
        raise no_address_answered(failures)

    @property
    def peer_settings(self) -> Optional[wire.Settings]:
        return self._connection().proto.peer

    @property
    def goaway(self) -> Optional[GoAwayReceived]:
        return None if self._conn is None else self._conn.proto.goaway

    def connect(self) -> "Channel":
        self._connection()
        return self

    def open(self, path: str, response_type: Any = None, *, timeout: Optional[float] = None,
             metadata: MetadataLike = None, end_stream: bool = False) -> Call:
        """Opens a stream (sends HEADERS) and returns the :class:`Call`."""
        path = path.lstrip("/")
        md = normalize_metadata(self.metadata, metadata)
        deadline = deadline_from(timeout)
        conn = self._connection()
        with conn.lock:
            sid = conn.proto.open_stream(path, timeout_us(deadline), md, end_stream)
            call = Call(conn, sid, response_type, deadline)
            conn.calls[sid] = call
        conn.kick()
        return call

    def unary(self, path: str, request: Any, response_type: Any = None, **kw: Any) -> Any:
        attempt = 1
        while True:
            try:
                with self.open(path, response_type, **kw) as call:
                    call.send(request, end=True)
                    return call.result()
            except OvaError as e:
                # The server never saw it (a GOAWAY won the race): the next connection may.
                if not e.not_started or attempt == NOT_STARTED_ATTEMPTS:
                    raise
                attempt += 1

    def server_stream(self, path: str, request: Any, response_type: Any = None, **kw: Any) -> Call:
        call = self.open(path, response_type, **kw)
        call.send(request, end=True)
        return call

    def client_stream(self, path: str, requests: Iterable[Any], response_type: Any = None, **kw: Any) -> Any:
        with self.open(path, response_type, **kw) as call:
            call._send_all(requests)
            return call.result()

    def bidi(self, path: str, requests: Optional[Iterable[Any]] = None, response_type: Any = None, **kw: Any) -> Call:
        """With ``requests``, a thread sends them (then half-closes); else use ``call.send``."""
        call = self.open(path, response_type, **kw)
        if requests is not None:
            call._sender = threading.Thread(target=call._send_all, args=(requests,), daemon=True)
            call._sender.start()
        return call

    def ping(self, timeout: float = 5.0) -> float:
        """Round-trip time of a PING, in seconds."""
        conn = self._connection()
        data = os.urandom(8)
        start = time.monotonic()
        with conn.cond:
            conn.pings[data] = None
            conn.proto.ping(data)
            conn.kick()
            while conn.pings[data] is None and not conn.dead:
                left = start + timeout - time.monotonic()
                if left <= 0:
                    break
                conn.cond.wait(left)
            acked = conn.pings.pop(data)
        if acked is None:
            raise OvaError(StatusCode.UNAVAILABLE, "no PING ACK")
        return acked - start

    def close(self) -> None:
        with self._lock:
            self._closed = True
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.shutdown()
            conn.thread.join(2.0)

    def __enter__(self) -> "Channel":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
