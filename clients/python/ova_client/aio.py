"""asyncio API: the same protocol state machine over asyncio streams with TLS."""
from __future__ import annotations

import asyncio
import os
import ssl
import time
from typing import Any, AsyncIterable, AsyncIterator, Dict, Iterable, List, Optional, Union

from . import wire
from ._common import (
    NOT_STARTED_ATTEMPTS, USER_AGENT, AddressesLike, CallCore, EndpointRotation, MetadataLike, connect_failure,
    deadline_from, deliver, make_ssl_context, no_address_answered, normalize_metadata, parse, parse_addresses, serialize,
    timeout_us,
)
from .protocol import ClientProtocol, ConnectionClosed, PingAcked
from .status import OvaError, StatusCode


class _AsyncConnection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 settings: Optional[wire.Settings], check_local_limits: bool) -> None:
        self.reader, self.writer = reader, writer
        self.proto = ClientProtocol(settings, check_local_limits=check_local_limits)
        self.calls: Dict[int, "AsyncCall"] = {}
        self.pings: Dict[bytes, asyncio.Future] = {}
        self._changed = asyncio.Event()
        self.dead = False
        self.task: Optional[asyncio.Task] = None

    @classmethod
    async def open(cls, host: str, port: int, ctx: ssl.SSLContext, server_hostname: Optional[str],
                   settings: Optional[wire.Settings], check: bool, connect_timeout: float) -> "_AsyncConnection":
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, ssl=ctx, server_hostname=server_hostname or host,
                                        limit=1 << 20), connect_timeout)
        except asyncio.TimeoutError as e:
            raise connect_failure(host, port, TimeoutError(str(e)), connect_timeout) from None
        except (OSError, ssl.SSLError) as e:
            raise connect_failure(host, port, e, connect_timeout, server_hostname) from None
        sslobj = writer.get_extra_info("ssl_object")
        if sslobj is not None and sslobj.selected_alpn_protocol() not in (None, wire.ALPN):
            writer.close()
            raise OvaError(StatusCode.UNAVAILABLE, "server did not select ALPN ova/1")
        conn = cls(reader, writer, settings, check)
        conn.proto.initiate()
        conn.flush()
        conn.task = asyncio.get_running_loop().create_task(conn._run())
        deadline = time.monotonic() + connect_timeout
        while not conn.proto.ready and not conn.dead:
            if not await conn.wait_change(deadline):
                break
        if not conn.proto.ready:
            await conn.shutdown()
            raise OvaError(StatusCode.UNAVAILABLE, f"connection to {host}:{port}: no SETTINGS from the server")
        return conn

    def flush(self) -> None:
        data = self.proto.data_to_send()
        if data and not self.writer.is_closing():
            self.writer.write(data)

    def notify(self) -> None:
        ev, self._changed = self._changed, asyncio.Event()
        ev.set()

    async def wait_change(self, deadline: Optional[float]) -> bool:
        """Waits for any event; False if ``deadline`` passed first."""
        ev = self._changed
        if deadline is None:
            await ev.wait()
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        try:
            await asyncio.wait_for(ev.wait(), left)
            return True
        except asyncio.TimeoutError:
            return False

    def usable(self) -> bool:
        return not self.dead and self.proto.can_open()

    async def _run(self) -> None:
        try:
            while True:
                data = await self.reader.read(262_144)
                if not data:
                    self._dispatch(self.proto.connection_lost("the server closed the connection"))
                    break
                self._dispatch(self.proto.receive_data(data))
                self.flush()
                if self.proto.closed is not None:
                    break
        except asyncio.CancelledError:
            self._dispatch(self.proto.connection_lost("closed by the client"))
        except Exception as e:  # noqa: BLE001
            self._dispatch(self.proto.connection_lost(f"read failed: {e!r}"))
        finally:
            self.dead = True
            self.notify()
            try:
                await self.writer.drain()
            except Exception:  # noqa: BLE001
                pass
            self.writer.close()

    def _dispatch(self, events: List[object]) -> None:
        for ev in events:
            if deliver(self.calls, ev):
                continue
            if isinstance(ev, PingAcked):
                fut = self.pings.pop(ev.data, None)
                if fut is not None and not fut.done():
                    fut.set_result(time.monotonic())
            elif isinstance(ev, ConnectionClosed):
                self.dead = True
        self.notify()

    async def shutdown(self) -> None:
        if not self.dead:
            self.proto.close()
            self.flush()
            self._dispatch(self.proto.connection_lost("closed by the client"))
        self.dead = True
        if self.task is not None and not self.task.done():
            self.task.cancel()
            try:
                await self.task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        else:
            self.writer.close()


class AsyncCall(CallCore):
    """One call on an :class:`AsyncChannel`: ``async for`` responses, ``await send(...)``."""

    def __init__(self, conn: _AsyncConnection, sid: int, response_type: Any, deadline: Optional[float]) -> None:
        super().__init__(conn, sid, response_type, deadline)
        self._sender: Optional[asyncio.Task] = None

    def _flush(self) -> None:
        self._conn.flush()

    def _finish_locally(self, code: StatusCode, message: str) -> None:
        super()._finish_locally(code, message)
        if self._sender is not None and not self._sender.done():
            self._sender.cancel()

    async def _wait(self) -> bool:
        ok = await self._conn.wait_change(self._deadline)
        if not ok and self._end is None and not self._events:
            self._finish_locally(StatusCode.DEADLINE_EXCEEDED, "deadline exceeded")
        return ok

    async def recv(self) -> Any:
        """The next response, or None once the call ended OK; raises OvaError otherwise."""
        while True:
            ready, event = self._take_event()
            if ready:
                break
            await self._wait()
        if not self._consume(event):
            return None
        assert event is not None
        return parse(self._response_type, event.data)

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Any]:
        while True:
            msg = await self.recv()
            if msg is None:
                return
            yield msg

    async def send(self, message: Any, end: bool = False) -> None:
        data = serialize(message)
        if self._end is not None:
            return
        self._conn.proto.send_message(self.stream_id, data, end_stream=end)
        self._conn.flush()
        while self._conn.proto.pending_bytes(self.stream_id) and self._end is None and not self._conn.dead:
            if not await self._conn.wait_change(self._deadline):
                self._finish_locally(StatusCode.DEADLINE_EXCEEDED, "deadline exceeded")
                return
        try:
            await self._conn.writer.drain()
        except (ConnectionError, OSError):
            pass

    async def done_sending(self) -> None:
        self._conn.proto.half_close(self.stream_id)
        self._conn.flush()

    def cancel(self) -> None:
        if self._end is None:
            self._finish_locally(StatusCode.CANCELLED, "cancelled by the client")

    async def initial_metadata(self) -> wire.Metadata:
        """The response HEADERS' metadata; empty if the server sent none (it is optional)."""
        while not self._settle_initial_metadata():
            await self._wait()
        assert self._initial_metadata is not None
        return self._initial_metadata

    async def result(self) -> Any:
        """For unary and client-streaming calls: the single response."""
        response = await self.recv()
        return self._single(response, await self.recv() if response is not None else None)

    async def _send_all(self, requests: Union[Iterable[Any], AsyncIterable[Any]]) -> None:
        try:
            if hasattr(requests, "__aiter__"):
                async for r in requests:  # type: ignore[union-attr]
                    if self._end is not None:
                        return
                    await self.send(r)
            else:
                for r in requests:  # type: ignore[union-attr]
                    if self._end is not None:
                        return
                    await self.send(r)
            await self.done_sending()
        except OvaError:
            pass

    async def __aenter__(self) -> "AsyncCall":
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._end is None:
            self.cancel()


class AsyncChannel:
    """A connection to an OVA server with the asyncio API (connects on first use).

    ``addresses`` (several instances of one service) and reconnection work as for :class:`Channel`.
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
        self._conn: Optional[_AsyncConnection] = None
        self._lock: Optional[asyncio.Lock] = None
        self._closed = False

    async def _connection(self) -> _AsyncConnection:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._closed:
                raise OvaError(StatusCode.UNAVAILABLE, "channel closed")
            if self._conn is None or not self._conn.usable():
                self._conn = await self._connect_any()
            return self._conn

    async def _connect_any(self) -> _AsyncConnection:
        """As :meth:`Channel._connect_any`: each address at most once, in turn, after waiting out
        the shortest pause when every address failed moments ago."""
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
                await asyncio.sleep(max(0.0, not_before - time.monotonic()))
            tried.add(index)
            host, port = self.addresses[index]
            try:
                conn = await _AsyncConnection.open(host, port, self._ctx, self._server_hostname, self._settings,
                                                   self._check, self._connect_timeout)
            except OvaError as e:
                self._rotation.failed(index, time.monotonic())
                failures.append(e)
                continue
            self._rotation.connected(index)
            return conn
        raise no_address_answered(failures)

    async def connect(self) -> "AsyncChannel":
        await self._connection()
        return self

    @property
    def goaway(self):  # type: ignore[no-untyped-def]
        return None if self._conn is None else self._conn.proto.goaway

    async def open(self, path: str, response_type: Any = None, *, timeout: Optional[float] = None,
                   metadata: MetadataLike = None, end_stream: bool = False) -> AsyncCall:
        path = path.lstrip("/")
        md = normalize_metadata(self.metadata, metadata)
        deadline = deadline_from(timeout)
        conn = await self._connection()
        sid = conn.proto.open_stream(path, timeout_us(deadline), md, end_stream)
        call = AsyncCall(conn, sid, response_type, deadline)
        conn.calls[sid] = call
        conn.flush()
        return call

    async def unary(self, path: str, request: Any, response_type: Any = None, **kw: Any) -> Any:
        attempt = 1
        while True:
            try:
                async with await self.open(path, response_type, **kw) as call:
                    await call.send(request, end=True)
                    return await call.result()
            except OvaError as e:
                # The server never saw it (a GOAWAY won the race): the next connection may.
                if not e.not_started or attempt == NOT_STARTED_ATTEMPTS:
                    raise
                attempt += 1

    async def server_stream(self, path: str, request: Any, response_type: Any = None, **kw: Any) -> AsyncCall:
        call = await self.open(path, response_type, **kw)
        await call.send(request, end=True)
        return call

    async def client_stream(self, path: str, requests: Union[Iterable[Any], AsyncIterable[Any]],
                            response_type: Any = None, **kw: Any) -> Any:
        async with await self.open(path, response_type, **kw) as call:
            await call._send_all(requests)
            return await call.result()

    async def bidi(self, path: str, requests: Union[None, Iterable[Any], AsyncIterable[Any]] = None,
                   response_type: Any = None, **kw: Any) -> AsyncCall:
        call = await self.open(path, response_type, **kw)
        if requests is not None:
            call._sender = asyncio.get_running_loop().create_task(call._send_all(requests))
        return call

    async def ping(self, timeout: float = 5.0) -> float:
        conn = await self._connection()
        data = os.urandom(8)
        fut = asyncio.get_running_loop().create_future()
        conn.pings[data] = fut
        start = time.monotonic()
        conn.proto.ping(data)
        conn.flush()
        try:
            acked = await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise OvaError(StatusCode.UNAVAILABLE, "no PING ACK") from None
        return acked - start

    async def close(self) -> None:
        self._closed = True
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.shutdown()

    async def __aenter__(self) -> "AsyncChannel":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
