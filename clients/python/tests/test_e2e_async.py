"""End-to-end conformance against a running ova-server: the asyncio API."""
from __future__ import annotations

import asyncio
import time

import pytest

from ova_client import AsyncChannel, OvaError, StatusCode
from ova_client.generated.ova.v1 import auth_ova, auth_pb2, echo_ova, echo_pb2

from conftest import ADMIN_EMAIL, ADMIN_PASSWORD


def req(**kw) -> echo_pb2.EchoRequest:
    return echo_pb2.EchoRequest(**kw)


def run(server, body):
    async def main():
        async with AsyncChannel(server.host, server.port, ca=server.ca) as channel:
            return await body(channel)
    return asyncio.run(main())


def test_async_four_call_kinds(server):
    async def body(channel):
        echo = echo_ova.EchoAsyncClient(channel)
        assert (await echo.unary(req(text="hi"))).text == "hi"
        call = await echo.server_stream(req(response_count=4))
        assert [r.sequence async for r in call] == [0, 1, 2, 3]

        async def gen():
            for i in range(3):
                yield req(text=str(i), payload=b"p" * 200_000)
        summary = await echo.client_stream(gen())
        assert summary.message_count == 3 and summary.byte_count == 600_000 and summary.last_text == "2"
        bidi = await echo.bidi()
        for w in "xyz":
            await bidi.send(req(text=w))
            assert (await bidi.recv()).text == w
        await bidi.done_sending()
        assert await bidi.recv() is None
        it = await echo.bidi([req(text="1"), req(text="2")])
        assert [r.text async for r in it] == ["1", "2"]
        assert await channel.ping() < 5
    run(server, body)


def test_async_headers_and_trailers(server):
    async def body(channel):
        async with await channel.open("ova.v1.Echo/Unary", echo_pb2.EchoResponse) as call:
            await call.send(req(text="x"), end=True)
            # Asked before any response is read: it waits for what comes first.
            assert isinstance(await call.initial_metadata(), list)
            assert call.code is None
            assert (await call.result()).text == "x"
            assert call.code == StatusCode.OK
        failing = await channel.open("ova.v1.Echo/Unary", echo_pb2.EchoResponse)
        await failing.send(req(fail_with=echo_pb2.EchoFailure(code=5, message="gone")), end=True)
        with pytest.raises(OvaError) as info:
            await failing.result()
        assert info.value.code == StatusCode.NOT_FOUND
        assert failing.code == StatusCode.NOT_FOUND
        assert dict(failing.trailing_metadata).get("ova-request-id")
    run(server, body)


def test_async_metadata_and_errors(server):
    async def body(channel):
        echo = echo_ova.EchoAsyncClient(channel)
        r = await echo.unary(req(echo_metadata=True), metadata={"x-async": "yes"})
        assert r.metadata["x-async"] == "yes"
        with pytest.raises(OvaError) as info:
            await echo.unary(req(fail_with=echo_pb2.EchoFailure(code=42)))
        assert info.value.code == StatusCode.INVALID_ARGUMENT
        assert [v.field for v in info.value.field_violations] == ["fail_with.code"]
        with pytest.raises(OvaError) as info:
            await channel.unary("ova.v1.Nope/Missing", b"")
        assert info.value.code == StatusCode.UNIMPLEMENTED
    run(server, body)


def test_async_deadline_and_cancel(server):
    async def body(channel):
        echo = echo_ova.EchoAsyncClient(channel)
        start = time.monotonic()
        with pytest.raises(OvaError) as info:
            await echo.unary(req(delay_ms=3_000), timeout=0.3)
        assert info.value.code == StatusCode.DEADLINE_EXCEEDED
        assert time.monotonic() - start < 2
        call = await echo.server_stream(req(response_count=10_000, delay_ms=5))
        assert (await call.recv()).sequence == 0
        call.cancel()
        assert call.code == StatusCode.CANCELLED
        # asyncio cancellation of a task blocked in recv, then a RESET via the context manager.
        async def blocked():
            async with await echo.bidi() as b:
                await b.recv()
        task = asyncio.ensure_future(blocked())
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (await echo.unary(req(text="ok"))).text == "ok"
    run(server, body)


def test_async_fifty_concurrent_streams(server):
    async def body(channel):
        echo = echo_ova.EchoAsyncClient(channel)
        await channel.connect()
        conn = channel._conn
        start = time.monotonic()
        results = await asyncio.gather(*(echo.unary(req(text=f"a{i}", delay_ms=300)) for i in range(50)))
        assert [r.text for r in results] == [f"a{i}" for i in range(50)]
        assert channel._conn is conn
        assert time.monotonic() - start < 5
    run(server, body)


def test_async_login(server):
    async def body(channel):
        auth = auth_ova.AuthAsyncClient(channel)
        login = await auth.login(auth_pb2.LoginRequest(email=ADMIN_EMAIL, password=ADMIN_PASSWORD))
        me = await auth.who_am_i(auth_pb2.WhoAmIRequest(), metadata=[("authorization", f"Bearer {login.access_token}")])
        assert me.admin.email == ADMIN_EMAIL
    run(server, body)


def test_async_goaway_on_idle_then_a_new_connection(idle_server):
    async def body(channel):
        echo = echo_ova.EchoAsyncClient(channel)
        assert (await echo.unary(req(text="1"))).text == "1"
        first = channel._conn
        deadline = time.monotonic() + 10
        while channel.goaway is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert channel.goaway is not None and channel.goaway.code == StatusCode.OK
        assert (await echo.unary(req(text="2"))).text == "2"
        assert channel._conn is not first
    run(idle_server, body)
