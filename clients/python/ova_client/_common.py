"""Pieces shared by the sync and asyncio channels: TLS, deadlines, metadata, results."""
from __future__ import annotations

import math
import ssl
import time
from typing import Any, Iterable, List, Optional, Tuple, Union

from . import wire
from .protocol import StreamEnded
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
    return OvaError(end.code, end.message, parse_error_details(end.details), end.metadata, end.details)


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
