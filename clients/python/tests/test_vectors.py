"""docs/test-vectors/frames.hex (PROTOCOL.md section 17) through the Python codec."""
from __future__ import annotations

import pathlib
import random

import pytest

from ova_client import wire
from ova_client.status import StatusCode

VECTORS = pathlib.Path(__file__).resolve().parents[3] / "docs" / "test-vectors" / "frames.hex"


def load():
    vectors = []
    current = None
    for line in VECTORS.read_text().splitlines():
        if line.startswith("@") or line.startswith("!"):
            parts = line[1:].split()
            current = {"valid": line[0] == "@", "name": parts[0], "direction": parts[1], "bytes": bytearray(),
                       "decode_only": "decode-only" in parts[2:]}
            if not current["valid"]:
                current["error"], current["code"] = parts[2], parts[3]
            vectors.append(current)
            continue
        body = line.split("#", 1)[0].strip()
        if body and current is not None:
            current["bytes"] += bytes.fromhex(body)
    return vectors


ALL = load()


def decode(vector, data, splits):
    """Decodes as the receiving side; ``splits`` chunks the input."""
    direction = vector["direction"]
    from_client = direction in ("c2s", "raw-c2s")
    decoder = wire.FrameDecoder(from_client=from_client, expect_preface=from_client)
    stream = bytes(data)
    if direction == "c2s":
        stream = wire.PREFACE + stream
    frames = []
    pos = 0
    for size in splits(len(stream)):
        frames += decoder.feed(stream[pos:pos + size])
        pos += size
    if pos < len(stream):
        frames += decoder.feed(stream[pos:])
    return frames


def all_at_once(n):
    return [n]


def byte_by_byte(n):
    return [1] * n


def random_splits(n, seed=7):
    rng = random.Random(seed)
    out = []
    while n > 0:
        k = min(n, rng.randint(1, 13))
        out.append(k)
        n -= k
    return out


def test_vector_file_is_complete():
    names = [v["name"] for v in ALL]
    assert len(names) == len(set(names)) >= 30
    assert sum(v["valid"] for v in ALL) >= 20 and sum(not v["valid"] for v in ALL) >= 10


@pytest.mark.parametrize("vector", [v for v in ALL if v["valid"]], ids=lambda v: v["name"])
@pytest.mark.parametrize("splits", [all_at_once, byte_by_byte, random_splits])
def test_valid_vector_round_trips(vector, splits):
    frames = decode(vector, vector["bytes"], splits)
    assert frames, "no frame decoded"
    reference = decode(vector, vector["bytes"], all_at_once)
    assert frames == reference
    if vector["decode_only"]:
        return
    encoded = b"".join(wire.encode_frame(f) for f in frames)
    expected = bytes(vector["bytes"])
    if vector["direction"] == "raw-c2s":
        expected = expected[len(wire.PREFACE):]
    assert encoded.hex(" ") == expected.hex(" ")


@pytest.mark.parametrize("vector", [v for v in ALL if not v["valid"]], ids=lambda v: v["name"])
def test_invalid_vector_is_rejected(vector):
    for splits in (all_at_once, byte_by_byte):
        with pytest.raises(wire.WireError) as info:
            decode(vector, vector["bytes"], splits)
        assert info.value.kind == vector["error"]
        assert info.value.code == StatusCode[vector["code"]]


def test_decoded_values():
    by = {v["name"]: v for v in ALL}
    [h] = decode(by["headers-request"], by["headers-request"]["bytes"], all_at_once)
    assert h == wire.RequestHeadersFrame(1, "ova.v1.Echo/Unary", 5_000_000,
                                         [("authorization", "Bearer abc.def.ghi"), ("user-agent", "ova-python/1.0")])
    assert len(wire.encode_metadata(h.metadata)) == 63
    [t] = decode(by["trailers-error"], by["trailers-error"]["bytes"], all_at_once)
    assert t.status == 3 and t.message == "email: invalid" and t.metadata == [("trace-bin", b"\x01\x02\xff")]
    from ova_client.status import parse_error_details
    details = parse_error_details(t.details)
    assert details.field_violations[0].field == "email" and details.reason == "BAD_EMAIL"
    frames = decode(by["unknown-type-skipped"], by["unknown-type-skipped"]["bytes"], all_at_once)
    assert isinstance(frames[0], wire.UnknownFrame) and frames[1] == wire.PingFrame((42).to_bytes(8, "big"))
    [p] = decode(by["ignored-bits"], by["ignored-bits"]["bytes"], all_at_once)
    assert p == wire.PingFrame((7).to_bytes(8, "big"), ack=False)
    [s] = decode(by["settings-partial"], by["settings-partial"]["bytes"], all_at_once)
    assert wire.Settings().apply(s.entries).max_message_size == 1_048_576
    [r] = decode(by["reset-unknown-code"], by["reset-unknown-code"]["bytes"], all_at_once)
    assert StatusCode.decode(r.code) == StatusCode.UNKNOWN
    msgs = decode(by["message-fragments"], by["message-fragments"]["bytes"], all_at_once)
    assert [m.continued for m in msgs] == [True, False] and b"".join(m.data for m in msgs) == b"\x0a\x05hello"
