"""Pieces shared by the sync and asyncio channels: TLS, deadlines, metadata, results."""
from __future__ import annotations

import collections
import errno
import math
import random
import socket
import ssl
import time
from typing import Any, Deque, Dict, Iterable, List, Optional, Tuple, Union

from . import wire
from .protocol import MessageReceived, ResponseHeaders, StreamEnded
from .status import OvaError, StatusCode, parse_error_details

USER_AGENT = "ova-python/0.1"

MetadataLike = Union[None, Iterable[Tuple[str, Union[str, bytes]]], dict]


def make_ssl_context(ca: Optional[str] = None, *, insecure: bool = False) -> ssl.SSLContext:
    """TLS >= 1.2 with ALPN ``ova/1`` (section 2). ``ca``: a PEM file to trust (e.g. the dev cert)."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols([wire.ALPN])
    if insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def connect_failure(host: str, port: int, error: BaseException, timeout: float,
                    server_hostname: Optional[str] = None) -> OvaError:
    """The UNAVAILABLE error for a connection that could not be set up: one line naming the
    cause and, where the exception tells it, the fix (instead of an ``ssl`` error repr)."""
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if isinstance(error, ssl.SSLCertVerificationError):
        reason = error.verify_message or "certificate verify failed"
        if "mismatch" in reason:  # X509_V_ERR_HOSTNAME_MISMATCH / IP_ADDRESS_MISMATCH
            name = server_hostname or host
            message = (f"the certificate of {address} is not issued for {name}: connect by a name the "
                       f"certificate lists, or pass server_hostname=<a name it lists>")
        else:
            message = (f"the certificate of {address} is not trusted ({reason}): pass ca=\"data/dev-cert.pem\" "
                       f"(the development server's certificate) or insecure=True for a development server")
    elif isinstance(error, ConnectionRefusedError) or getattr(error, "errno", None) == errno.ECONNREFUSED:
        message = f"nothing is listening on {address}: is ova-server running? `make run`"
    elif isinstance(error, (TimeoutError, socket.timeout)):
        message = f"{address} did not answer within {timeout:g} s (firewall? wrong address?)"
    elif isinstance(error, ssl.SSLError) and error.reason in _NOT_TLS_REASONS:
        message = f"{address} is not an OVA server (TLS said {error.reason})"
    elif isinstance(error, (ssl.SSLEOFError, ConnectionResetError)):
        message = f"{address} is not an OVA server (it closed the connection during the TLS handshake)"
    else:
        message = f"could not connect to {address}: {error}"
    return OvaError(StatusCode.UNAVAILABLE, message)


# What OpenSSL says when the peer answers a ClientHello with something that is not TLS.
_NOT_TLS_REASONS = {"WRONG_VERSION_NUMBER", "HTTP_REQUEST", "PACKET_LENGTH_TOO_LONG", "RECORD_LAYER_FAILURE",
                    "UNKNOWN_PROTOCOL", "NO_APPLICATION_PROTOCOL"}


def check_alpn(sock: Any) -> None:
    proto = sock.selected_alpn_protocol() if hasattr(sock, "selected_alpn_protocol") else None
    if proto not in (None, wire.ALPN):
        raise OvaError(StatusCode.UNAVAILABLE, f"server selected ALPN {proto!r}, not {wire.ALPN}")


def normalize_metadata(default: wire.Metadata, metadata: MetadataLike) -> wire.Metadata:
    items: List[Tuple[str, Union[str, bytes]]] = list(default)
    if metadata:
        pairs = metadata.items() if isinstance(metadata, dict) else metadata
        for key, value in pairs:
            key = key.lower()
            if key.startswith("ova-"):
                raise ValueError(f"metadata key {key!r}: the ova- prefix is reserved")
            items.append((key, value))
    return items


def deadline_from(timeout: Optional[float]) -> Optional[float]:
    return None if timeout is None else time.monotonic() + timeout


def timeout_us(deadline: Optional[float]) -> int:
    """Remaining time in microseconds, rounded up, at least 1; 0 = none (section 10)."""
    if deadline is None:
        return 0
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise OvaError(StatusCode.DEADLINE_EXCEEDED, "deadline exceeded before the call started")
    return max(1, math.ceil(remaining * 1_000_000))


def error_from(end: StreamEnded) -> OvaError:
    error = OvaError(end.code, end.message, parse_error_details(end.details), end.metadata, end.details)
    error.not_started = end.not_started
    return error


# How many connections a unary call the server did not start may try: more than one GOAWAY in
# a row means the servers are going away faster than calls can be placed.
NOT_STARTED_ATTEMPTS = 3

Address = Tuple[str, int]
AddressesLike = Union[str, Iterable[Union[str, Address]]]


def parse_address(text: str) -> Address:
    """``host:port``, ``[ipv6]:port`` or ``:port`` (127.0.0.1), as ``ova --addr`` takes them."""
    host, sep, port_text = text.strip().rpartition(":")
    if not sep or not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"{text!r}: expected host:port")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return (host or "127.0.0.1", int(port_text))


def parse_addresses(addresses: AddressesLike) -> List[Address]:
    """A comma-separated string (``"a:7443,b:7443"``, like ``OVA_ADDR``) or a list of
    ``host:port`` strings and ``(host, port)`` pairs."""
    items = addresses.split(",") if isinstance(addresses, str) else list(addresses)
    parsed = [parse_address(item) if isinstance(item, str) else (str(item[0]), int(item[1])) for item in items]
    if not parsed:
        raise ValueError("no server address")
    return parsed


class EndpointRotation:
    """Which address the next connection goes to: round robin from a random start (so clients
    reconnecting after a GOAWAY spread over the servers), skipping addresses that failed to
    connect moments ago. Each failure doubles an address's pause (``base`` up to ``maximum``
    seconds); a connection that comes up clears it. Times are arguments (``time.monotonic()``)."""

    def __init__(self, count: int, start: Optional[int] = None, base: float = 0.1, maximum: float = 2.0) -> None:
        self.count = count
        self.base, self.maximum = base, max(base, maximum)
        self._next = (random.randrange(count) if start is None else start % count) if count else 0
        self._pauses: Dict[int, Tuple[float, int]] = {}  # index -> (until, failures)

    def next(self, now: float, excluding: Iterable[int] = ()) -> Optional[Tuple[int, Optional[float]]]:
        """(index, None) for the next address in turn that is not pausing and not excluded (the
        ones this connection attempt tried); when all of those pause, (index, when its pause
        ends) for the one that ends first; None when every address was tried."""
        excluded = set(excluding)
        earliest: Optional[Tuple[int, float]] = None
        for offset in range(self.count):
            index = (self._next + offset) % self.count
            if index in excluded:
                continue
            pause = self._pauses.get(index)
            if pause is None or pause[0] <= now:
                self._next = (index + 1) % self.count
                return index, None
            if earliest is None or pause[0] < earliest[1]:
                earliest = (index, pause[0])
        if earliest is None:
            return None
        self._next = (earliest[0] + 1) % self.count
        return earliest

    def failed(self, index: int, now: float) -> None:
        failures = self._pauses.get(index, (0.0, 0))[1] + 1
        self._pauses[index] = (now + min(self.maximum, self.base * 2 ** min(failures - 1, 20)), failures)

    def connected(self, index: int) -> None:
        self._pauses.pop(index, None)


def address_text(address: Address) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def no_address_answered(failures: List[OvaError]) -> OvaError:
    """The error of a connection attempt over several addresses that all failed."""
    if len(failures) == 1:
        return failures[0]
    return OvaError(StatusCode.UNAVAILABLE, "no server address answered: " + "; ".join(f.message for f in failures))


def parse(response_type: Any, data: bytes) -> Any:
    if response_type is None:
        return data
    msg = response_type()
    try:
        msg.ParseFromString(data)
    except Exception as e:
        raise OvaError(StatusCode.INTERNAL, f"cannot decode the response as {response_type.__name__}: {e}") from None
    return msg


def serialize(message: Any) -> bytes:
    if isinstance(message, (bytes, bytearray, memoryview)):
        return bytes(message)
    return message.SerializeToString()


def deliver(calls: Dict[int, "CallCore"], event: object) -> bool:
    """Queues a stream event on its call (forgetting the call at its end); False for the
    connection's own events."""
    if not isinstance(event, (MessageReceived, ResponseHeaders, StreamEnded)):
        return False
    call = calls.get(event.stream_id)
    if call is not None:
        call._events.append(event)
        if isinstance(event, StreamEnded):
            del calls[event.stream_id]
    return True


class CallCore:
    """What the blocking and the asyncio call share: the queue of the stream's events, its end,
    and reading them without waiting. The blocking call runs these with its connection's lock
    held; each face supplies ``_flush`` (hand what the protocol queued to its I/O)."""

    def __init__(self, conn: Any, sid: int, response_type: Any, deadline: Optional[float]) -> None:
        self._conn = conn
        self.stream_id = sid
        self._response_type = response_type
        self._deadline = deadline
        self._events: Deque[object] = collections.deque()
        self._initial_metadata: Optional[wire.Metadata] = None
        self._end: Optional[StreamEnded] = None

    def _flush(self) -> None:
        raise NotImplementedError

    def _finish_locally(self, code: StatusCode, message: str) -> None:
        """Ends the call on this side (RESET sent), with ``code`` as its status."""
        self._conn.proto.reset(self.stream_id)
        self._conn.calls.pop(self.stream_id, None)
        self._events.clear()
        self._end = StreamEnded(self.stream_id, code, message)
        self._flush()

    def _take_event(self) -> Tuple[bool, Optional[MessageReceived]]:
        """(True, message) for the next response; (True, None) once the call is over and nothing
        is left; (False, None) when the caller must wait for more."""
        while self._events:
            event = self._events.popleft()
            if isinstance(event, ResponseHeaders):
                self._initial_metadata = event.metadata
                continue
            if isinstance(event, StreamEnded):
                self._end = event
                self._conn.proto.release(self.stream_id)
                self._flush()
                if self._initial_metadata is None:
                    self._initial_metadata = []
                return True, None
            assert isinstance(event, MessageReceived)
            return True, event
        return self._end is not None, None

    def _consume(self, event: Optional[MessageReceived]) -> bool:
        """Returns the credit of a received response (True); False at an OK end; raises the
        call's error at any other end."""
        if event is None:
            assert self._end is not None
            if self._end.code != StatusCode.OK:
                raise error_from(self._end)
            return False
        if self._initial_metadata is None:
            self._initial_metadata = []
        self._conn.proto.consumed(self.stream_id, event.credit, event.connection_credit)
        self._flush()
        return True

    def _settle_initial_metadata(self) -> bool:
        """Decides the response HEADERS' metadata if what has arrived allows; True once decided."""
        if self._initial_metadata is not None:
            return True
        if self._events:
            first = self._events[0]
            # HEADERS come first or not at all (a late one is ignored, section 6.2).
            if isinstance(first, ResponseHeaders):
                self._initial_metadata = first.metadata
                self._events.popleft()
            else:
                self._initial_metadata = []
            return True
        if self._end is not None:
            self._initial_metadata = []
            return True
        return False

    @staticmethod
    def _single(response: Any, extra: Any) -> Any:
        """The one response of a unary or client-streaming call, given the first two reads."""
        if response is None:
            raise OvaError(StatusCode.INTERNAL, "the server ended the call without a response")
        if extra is not None:
            raise OvaError(StatusCode.INTERNAL, "the server sent more than one response")
        return response

    @property
    def code(self) -> Optional[StatusCode]:
        return None if self._end is None else StatusCode.decode(self._end.code)

    @property
    def trailing_metadata(self) -> wire.Metadata:
        return [] if self._end is None else self._end.metadata
