"""End-to-end conformance against a running ova-server: the blocking API."""
from __future__ import annotations

import signal
import threading
import time

import pytest

from ova_client import Channel, OvaError, Settings, StatusCode
from ova_client.generated.ova.v1 import (
    auth_ova, auth_pb2, echo_ova, echo_pb2, health_ova, health_pb2, users_ova, users_pb2,
)

from conftest import ADMIN_EMAIL, ADMIN_PASSWORD


def req(**kw) -> echo_pb2.EchoRequest:
    return echo_pb2.EchoRequest(**kw)


def test_tls_alpn_and_settings(channel):
    settings = channel.peer_settings
    assert settings is not None and settings.max_frame_size >= 16_384
    conn = channel._connection()
    assert conn.sock.selected_alpn_protocol() == "ova/1"
    assert channel.ping() < 5


def test_unary(channel):
    echo = echo_ova.EchoClient(channel)
    response = echo.unary(req(text="hi", payload=b"\x00\x01\xff"))
    assert response.text == "hi" and response.payload == b"\x00\x01\xff"
    health = health_ova.HealthClient(channel).check(health_pb2.HealthCheckRequest())
    assert health.status == health_pb2.HealthCheckResponse.SERVING


def test_unary_headers_and_trailers(channel):
    with channel.open("ova.v1.Echo/Unary", echo_pb2.EchoResponse) as call:
        call.send(req(text="x"), end=True)
        assert call.result().text == "x"
        assert call.code == StatusCode.OK
        assert isinstance(call.initial_metadata(), list)
    # The server names the call in the trailers of a failed call (PROTOCOL.md section 15).
    with pytest.raises(OvaError) as info:
        channel.unary("ova.v1.Echo/Unary", req(fail_with=echo_pb2.EchoFailure(code=5, message="gone")))
    assert info.value.code == StatusCode.NOT_FOUND
    assert dict(info.value.trailing_metadata).get("ova-request-id")


def test_server_streaming(channel):
    call = echo_ova.EchoClient(channel).server_stream(req(text="s", response_count=5))
    responses = list(call)
    assert [r.sequence for r in responses] == [0, 1, 2, 3, 4]
    assert all(r.text == "s" for r in responses)
    assert call.code == StatusCode.OK


def test_client_streaming_with_fragments_and_flow_control(channel):
    # 3 MiB in total, messages above MAX_FRAME_SIZE and above the stream window: fragments,
    # and the sender has to wait for the server's WINDOW_UPDATEs.
    sizes = [0, 10, 100_000, 1_500_000, 1_600_000]
    summary = echo_ova.EchoClient(channel).client_stream(
        req(text=f"m{i}", payload=b"\x2a" * n) for i, n in enumerate(sizes))
    assert summary.message_count == len(sizes)
    assert summary.byte_count == sum(sizes)
    assert summary.last_text == f"m{len(sizes) - 1}"


def test_client_streaming_zero_messages(channel):
    with channel.open("ova.v1.Echo/ClientStream", echo_pb2.EchoSummary, end_stream=True) as call:
        assert call.result().message_count == 0


def test_large_responses_are_reassembled_and_credited(channel):
    # 10 responses of 1.5 MiB: more than the stream and connection windows we advertise, so
    # the server depends on our WINDOW_UPDATEs as we consume.
    call = echo_ova.EchoClient(channel).server_stream(req(response_count=12, response_size=1_500_000))
    total = sum(len(r.payload) for r in call)
    assert total == 12 * 1_500_000


def test_bidi_interleaved(channel):
    call = echo_ova.EchoClient(channel).bidi()
    for word in ["a", "b", "c"]:
        call.send(req(text=word))
        assert call.recv().text == word
    call.done_sending()
    assert call.recv() is None
    assert call.code == StatusCode.OK


def test_bidi_with_request_iterator(channel):
    call = echo_ova.EchoClient(channel).bidi(req(text=str(i)) for i in range(20))
    assert [r.text for r in call] == [str(i) for i in range(20)]


def test_metadata_echo(channel):
    echo = echo_ova.EchoClient(channel)
    response = echo.unary(req(echo_metadata=True), metadata=[("x-test", "value"), ("X-Upper", "lowered")])
    assert response.metadata["x-test"] == "value"
    assert response.metadata["x-upper"] == "lowered"
    assert response.metadata["user-agent"].startswith("ova-python/")
    with pytest.raises(ValueError):
        echo.unary(req(), metadata=[("ova-request-id", "mine")])


def test_binary_metadata_is_accepted(channel):
    response = echo_ova.EchoClient(channel).unary(req(text="b", echo_metadata=True),
                                                  metadata=[("trace-bin", b"\x00\xff")])
    assert response.text == "b"
    assert "trace-bin" not in response.metadata  # the server echoes text values only


def test_deadline_exceeded(channel):
    echo = echo_ova.EchoClient(channel)
    start = time.monotonic()
    with pytest.raises(OvaError) as info:
        echo.unary(req(delay_ms=3_000), timeout=0.3)
    assert info.value.code == StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - start < 2.0
    # The connection is fine afterwards.
    assert echo.unary(req(text="after")).text == "after"


def test_deadline_on_a_stream(channel):
    call = echo_ova.EchoClient(channel).server_stream(req(response_count=100, delay_ms=100), timeout=0.5)
    got = []
    with pytest.raises(OvaError) as info:
        for r in call:
            got.append(r)
    assert info.value.code == StatusCode.DEADLINE_EXCEEDED
    assert 1 <= len(got) < 10


def test_deadline_already_passed_fails_locally(channel):
    with pytest.raises(OvaError) as info:
        echo_ova.EchoClient(channel).unary(req(), timeout=-1)
    assert info.value.code == StatusCode.DEADLINE_EXCEEDED


def test_client_cancel(channel):
    echo = echo_ova.EchoClient(channel)
    call = echo.server_stream(req(text="c", response_count=10_000, delay_ms=5))
    first = [call.recv() for _ in range(3)]
    assert [r.sequence for r in first] == [0, 1, 2]
    call.cancel()
    assert call.code == StatusCode.CANCELLED
    with pytest.raises(OvaError) as info:
        call.recv()
    assert info.value.code == StatusCode.CANCELLED
    # Cancelled from another thread while blocked.
    bidi = echo.bidi()
    threading.Timer(0.2, bidi.cancel).start()
    with pytest.raises(OvaError) as info:
        bidi.recv()
    assert info.value.code == StatusCode.CANCELLED
    assert echo.unary(req(text="still")).text == "still"


def test_oversized_request_fails_locally(channel):
    limit = channel.peer_settings.max_message_size
    with pytest.raises(OvaError) as info:
        echo_ova.EchoClient(channel).unary(req(payload=b"x" * (limit + 1)))
    assert info.value.code == StatusCode.RESOURCE_EXHAUSTED


def test_oversized_request_is_a_stream_error_on_the_server(server):
    # Bypass the local check so the server sees the message (section 13: a stream error).
    with server.channel(check_local_limits=False) as channel:
        echo = echo_ova.EchoClient(channel)
        limit = channel.peer_settings.max_message_size
        conn = channel._connection()
        with pytest.raises(OvaError) as info:
            echo.unary(req(payload=b"x" * (limit + 1)), timeout=20)
        assert info.value.code == StatusCode.RESOURCE_EXHAUSTED
        assert echo.unary(req(text="survived")).text == "survived"
        assert channel._connection() is conn  # same connection


def test_oversized_response_fails_locally_and_connection_survives(server):
    with server.channel(settings=Settings(max_message_size=64 * 1024)) as channel:
        echo = echo_ova.EchoClient(channel)
        conn = channel._connection()
        with pytest.raises(OvaError) as info:
            echo.unary(req(response_size=100_000))
        assert info.value.code == StatusCode.RESOURCE_EXHAUSTED
        assert echo.unary(req(response_size=1000)).payload == b"\x2a" * 1000
        assert channel._connection() is conn


def test_unknown_method(channel):
    for path in ["ova.v1.Nope/Missing", "ova.v1.Echo/Missing"]:
        with pytest.raises(OvaError) as info:
            channel.unary(path, b"")
        assert info.value.code == StatusCode.UNIMPLEMENTED
        assert path in info.value.message


def test_fifty_concurrent_streams_on_one_connection(channel):
    echo = echo_ova.EchoClient(channel)
    conn = channel._connection()
    results = {}
    errors = []

    def one(i):
        try:
            call = echo.bidi()
            call.send(req(text=f"t{i}", delay_ms=300))
            results[i] = (call.stream_id, call.recv().text)
            call.done_sending()
            assert call.recv() is None
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    start = time.monotonic()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    elapsed = time.monotonic() - start
    assert not errors, errors
    assert {text for _, text in results.values()} == {f"t{i}" for i in range(50)}
    assert len({sid for sid, _ in results.values()}) == 50
    assert channel._connection() is conn
    assert elapsed < 5, f"50 x 300 ms took {elapsed:.1f} s: not concurrent"


def test_status_and_error_details(channel):
    echo = echo_ova.EchoClient(channel)
    with pytest.raises(OvaError) as info:
        echo.unary(req(fail_with=echo_pb2.EchoFailure(code=9, message="not configured")))
    assert info.value.code == StatusCode.FAILED_PRECONDITION
    assert info.value.message == "not configured"
    # An invalid request: INVALID_ARGUMENT with field violations in ErrorDetails.
    with pytest.raises(OvaError) as info:
        echo.unary(req(fail_with=echo_pb2.EchoFailure(code=99), delay_ms=120_000))
    err = info.value
    assert err.code == StatusCode.INVALID_ARGUMENT
    fields = {v.field: v.description for v in err.field_violations}
    assert set(fields) == {"fail_with.code", "delay_ms"}, fields
    # Server streaming: the responses arrive, then the status.
    call = echo.server_stream(req(response_count=2, fail_with=echo_pb2.EchoFailure(code=10, message="abort")))
    assert call.recv().sequence == 0 and call.recv().sequence == 1
    with pytest.raises(OvaError) as info:
        call.recv()
    assert info.value.code == StatusCode.ABORTED


def test_error_details_parsing():
    from ova_client.generated.ova.v1 import common_pb2
    details = common_pb2.ErrorDetails(reason="CIRCUIT_OPEN", retry_info=common_pb2.RetryInfo(retry_delay_ms=1500))
    details.field_violations.add(field="email", description="not an address")
    err = OvaError(14, "try later", details)
    assert err.retry_delay_ms == 1500 and err.reason == "CIRCUIT_OPEN"
    assert err.field_violations[0].field == "email"
    assert OvaError(77).code == StatusCode.UNKNOWN


def test_login_and_authenticated_call(server, channel):
    auth = auth_ova.AuthClient(channel)
    users = users_ova.UsersClient(channel)
    with pytest.raises(OvaError) as info:
        users.list_users(users_pb2.ListUsersRequest())
    assert info.value.code == StatusCode.UNAUTHENTICATED
    with pytest.raises(OvaError) as info:
        auth.login(auth_pb2.LoginRequest(email=ADMIN_EMAIL, password="wrong-password-1"))
    assert info.value.code == StatusCode.UNAUTHENTICATED
    login = auth.login(auth_pb2.LoginRequest(email=ADMIN_EMAIL, password=ADMIN_PASSWORD))
    assert login.access_token
    bearer = [("authorization", f"Bearer {login.access_token}")]
    me = auth.who_am_i(auth_pb2.WhoAmIRequest(), metadata=bearer)
    assert me.admin.email == ADMIN_EMAIL
    listed = users.list_users(users_pb2.ListUsersRequest(), metadata=bearer)
    assert isinstance(listed, users_pb2.ListUsersResponse)
    # Channel-wide metadata.
    with server.channel(metadata=bearer) as authed:
        assert auth_ova.AuthClient(authed).who_am_i(auth_pb2.WhoAmIRequest()).admin.email == ADMIN_EMAIL


def test_goaway_on_server_shutdown(own_server):
    with own_server.channel() as channel:
        echo = echo_ova.EchoClient(channel)
        assert echo.unary(req(text="before")).text == "before"
        # A call in flight when the server starts draining runs to completion.
        call = echo.server_stream(req(text="drain", response_count=5, delay_ms=200))
        assert call.recv().sequence == 0
        own_server.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while channel.goaway is None and time.monotonic() < deadline:
            time.sleep(0.02)
        goaway = channel.goaway
        assert goaway is not None, "no GOAWAY after SIGTERM"
        assert goaway.code == StatusCode.OK
        assert goaway.last_stream_id >= call.stream_id
        assert [r.sequence for r in call] == [1, 2, 3, 4]
        assert own_server.process.wait(15) == 0
        # New calls go to a new connection, and there is no server any more.
        with pytest.raises(OvaError) as info:
            echo.unary(req(text="after"))
        assert info.value.code == StatusCode.UNAVAILABLE


def test_goaway_on_idle_then_a_new_connection(idle_server):
    with idle_server.channel() as channel:
        echo = echo_ova.EchoClient(channel)
        assert echo.unary(req(text="1")).text == "1"
        first = channel._connection()
        deadline = time.monotonic() + 10
        while channel.goaway is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert channel.goaway is not None and channel.goaway.code == StatusCode.OK, channel.goaway
        # New calls go to a new connection (section 14).
        assert echo.unary(req(text="2")).text == "2"
        assert channel._connection() is not first
