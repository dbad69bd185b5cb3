"""A connection that cannot be set up fails with UNAVAILABLE and one line naming the cause and
the fix, not an ``ssl`` exception's repr: real loopback peers for each case."""
from __future__ import annotations

import asyncio
import socket
import threading

import pytest

from ova_client import AsyncChannel, Channel, OvaError
from ova_client._common import connect_failure
from ova_client.generated.ova.v1 import health_pb2
from ova_client.status import StatusCode


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HTTPListener:
    """A plain TCP server that answers whatever it reads with an HTTP error, as a web server
    on the wrong port does."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(4096)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    def close(self) -> None:
        self.sock.close()


def health(channel) -> None:
    channel.unary("/ova.v1.Health/Check", health_pb2.HealthCheckRequest(), health_pb2.HealthCheckResponse)


def failure(call) -> OvaError:
    with pytest.raises(OvaError) as info:
        call()
    assert info.value.code == StatusCode.UNAVAILABLE
    return info.value


def test_nothing_listening_names_make_run():
    port = closed_port()
    with Channel("127.0.0.1", port, insecure=True) as ch:
        error = failure(lambda: health(ch))
    assert error.message == f"nothing is listening on 127.0.0.1:{port}: is ova-server running? `make run`"


def test_http_listener_is_not_an_ova_server():
    listener = HTTPListener()
    try:
        with Channel("127.0.0.1", listener.port, insecure=True) as ch:
            error = failure(lambda: health(ch))
        assert error.message == f"127.0.0.1:{listener.port} is not an OVA server (TLS said WRONG_VERSION_NUMBER)"
    finally:
        listener.close()


def test_dev_certificate_without_ca_names_ca_and_insecure(server):
    with Channel(server.host, server.port) as ch:
        error = failure(lambda: health(ch))
    assert error.message.startswith(f"the certificate of {server.host}:{server.port} is not trusted (")
    assert 'pass ca="data/dev-cert.pem"' in error.message and "insecure=True" in error.message


def test_certificate_for_another_name(server):
    with Channel(server.host, server.port, ca=server.ca, server_hostname="other.example") as ch:
        error = failure(lambda: health(ch))
    assert error.message.startswith(f"the certificate of {server.host}:{server.port} is not issued for other.example")


def test_asyncio_channel_says_the_same():
    port = closed_port()

    async def call():
        async with AsyncChannel("127.0.0.1", port, insecure=True) as ch:
            await ch.unary("/ova.v1.Health/Check", health_pb2.HealthCheckRequest(), health_pb2.HealthCheckResponse)

    error = failure(lambda: asyncio.run(call()))
    assert error.message == f"nothing is listening on 127.0.0.1:{port}: is ova-server running? `make run`"


def test_timeout_wording():
    error = connect_failure("10.0.0.9", 7443, TimeoutError("timed out"), 2.5)
    assert error.code == StatusCode.UNAVAILABLE
    assert error.message == "10.0.0.9:7443 did not answer within 2.5 s (firewall? wrong address?)"
