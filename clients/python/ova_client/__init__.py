"""OVA/1 client for Python, written from docs/PROTOCOL.md.

Blocking API: :class:`Channel`; asyncio API: :class:`AsyncChannel`. Typed stubs for every OVA
service are in ``ova_client.generated.ova.v1.<file>_ova`` (e.g. ``echo_ova.EchoClient`` and
``echo_ova.EchoAsyncClient``) with the protobuf messages beside them (``echo_pb2``).
"""
from .aio import AsyncCall, AsyncChannel
from .status import OvaError, StatusCode
from .sync import Call, Channel
from .wire import Settings, WireError

__all__ = ["AsyncCall", "AsyncChannel", "Call", "Channel", "OvaError", "Settings", "StatusCode", "WireError"]
__version__ = "0.1.0"
