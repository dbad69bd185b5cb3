"""Several server addresses: failover to a live instance, and rebalancing when connections reach
the server's maximum age (OVA_MAX_CONNECTION_AGE_SECONDS sends GOAWAY)."""
from __future__ import annotations

import asyncio
import time

import pytest

from ova_client import AsyncChannel, Channel, OvaError, StatusCode
from ova_client._common import EndpointRotation, parse_addresses
from ova_client.generated.ova.v1 import echo_ova, echo_pb2

from conftest import cleanup, free_port, start_server


def req(**kw) -> echo_pb2.EchoRequest:
    return echo_pb2.EchoRequest(**kw)


def peer_port(channel) -> int:
    return channel._conn.sock.getpeername()[1]


def wait_for(condition, seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def pair():
    """Two instances of one service: the second serves the first one's certificate."""
    servers = [start_server()]
    try:
        servers.append(start_server(certificate_from=servers[0]))
        yield servers
    finally:
        for s in servers:
            cleanup(s)


@pytest.fixture
def aged_pair():
    """Two servers that send GOAWAY to connections older than 1 s (±10 %): well above a TLS
    handshake on a loaded machine."""
    servers = [start_server(OVA_MAX_CONNECTION_AGE_SECONDS="1")]
    try:
        servers.append(start_server(certificate_from=servers[0], OVA_MAX_CONNECTION_AGE_SECONDS="1"))
        yield servers
    finally:
        for s in servers:
            cleanup(s)


def test_address_lists_parse():
    assert parse_addresses("a.example:7443, [::1]:7444 ,:7445") == [("a.example", 7443), ("::1", 7444), ("127.0.0.1", 7445)]
    assert parse_addresses([("h", 1), "k:2"]) == [("h", 1), ("k", 2)]
    for bad in ["", "a:1,", "a:1,b", "a:70000"]:
        with pytest.raises(ValueError):
            parse_addresses(bad)


def test_rotation_goes_in_turn_and_pauses_failed_addresses():
    rotation = EndpointRotation(3, start=1, base=0.1, maximum=0.35)
    assert [rotation.next(0.0)[0] for _ in range(4)] == [1, 2, 0, 1]
    rotation.failed(2, now=10.0)
    assert [rotation.next(10.0)[0] for _ in range(3)] == [0, 1, 0]
    assert rotation.next(10.1)[0] == 1 and rotation.next(10.1)[0] == 2
    # Every address pausing: the one whose pause ends first, with when; each tried once.
    for i in range(3):
        rotation.failed(i, now=20.0)
    rotation.failed(0, now=20.0)
    rotation.failed(0, now=20.0)
    rotation.failed(0, now=20.0)  # 0.8 s doubled, capped at 0.35
    assert rotation.next(20.0, excluding=[1, 2]) == (0, pytest.approx(20.35))
    assert rotation.next(20.0, excluding=[0, 1, 2]) is None
    rotation.connected(0)
    assert rotation.next(20.0, excluding=[1, 2]) == (0, None)


def test_a_stopped_server_fails_over_to_the_other(pair):
    with Channel(addresses=[(s.host, s.port) for s in pair], ca=pair[0].ca) as channel:
        echo = echo_ova.EchoClient(channel)
        assert echo.unary(req(text="one")).text == "one"
        first = peer_port(channel)
        stopped = next(s for s in pair if s.port == first)
        assert stopped.stop() == 0
        # A call placed before the client read the GOAWAY would be in flight on a lost
        # connection (UNAVAILABLE, by design): wait until the client knows.
        assert wait_for(lambda: not channel._conn.usable())
        assert echo.unary(req(text="two")).text == "two"
        assert peer_port(channel) != first
        assert echo.unary(req(text="three")).text == "three"


def test_an_address_that_refuses_is_skipped(pair):
    live = pair[0]
    with Channel(addresses=f"127.0.0.1:{free_port()},{live.host}:{live.port}", ca=live.ca) as channel:
        channel._rotation = EndpointRotation(2, start=0)  # the dead address first
        assert echo_ova.EchoClient(channel).unary(req(text="through")).text == "through"
        assert peer_port(channel) == live.port


def test_when_no_address_answers_the_call_fails_unavailable_naming_each():
    dead = [("127.0.0.1", free_port()), ("127.0.0.1", free_port())]
    with Channel(addresses=dead, insecure=True) as channel:
        with pytest.raises(OvaError) as info:
            echo_ova.EchoClient(channel).unary(req())
        assert info.value.code == StatusCode.UNAVAILABLE
        assert info.value.message.startswith("no server address answered")
        for host, port in dead:
            assert f"{host}:{port}" in info.value.message
        # Both pausing now: the next call waits for a pause to end, then fails the same way.
        with pytest.raises(OvaError) as again:
            echo_ova.EchoClient(channel).unary(req())
        assert again.value.code == StatusCode.UNAVAILABLE


def test_the_maximum_age_moves_the_client_without_a_failed_call(aged_pair):
    with Channel(addresses=[(s.host, s.port) for s in aged_pair], ca=aged_pair[0].ca) as channel:
        echo = echo_ova.EchoClient(channel)
        # Longer than the age: the GOAWAY comes while it runs, and it still ends OK.
        assert echo.unary(req(text="in flight", delay_ms=2_500)).text == "in flight"
        ports = []
        deadline = time.monotonic() + 60
        # Back-to-back calls until the connection moved between the servers a few times: every
        # one succeeds (one that crossed a GOAWAY goes again on the new connection).
        while len(ports) < 4:  # three moves
            assert time.monotonic() < deadline, f"connections did not move: {ports[-5:]}"
            assert echo.unary(req(text="x")).text == "x"
            port = peer_port(channel)
            if not ports or ports[-1] != port:
                ports.append(port)
        assert set(ports) == {s.port for s in aged_pair}


def test_async_channel_fails_over(pair):
    async def main():
        async with AsyncChannel(addresses=[(s.host, s.port) for s in pair], ca=pair[0].ca) as channel:
            echo = echo_ova.EchoAsyncClient(channel)
            assert (await echo.unary(req(text="one"))).text == "one"
            first = channel._conn.writer.get_extra_info("peername")[1]
            stopped = next(s for s in pair if s.port == first)
            assert stopped.stop() == 0
            deadline = time.monotonic() + 15
            while channel._conn.usable() and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            assert (await echo.unary(req(text="two"))).text == "two"
            assert channel._conn.writer.get_extra_info("peername")[1] != first
    asyncio.run(main())
