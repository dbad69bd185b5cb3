#!/usr/bin/env python3
"""Regenerates the fuzz targets' seed corpora under Fuzz/Corpus/<target>/ (docs/SECURITY.md).

Sources: the frame test vectors (docs/test-vectors/frames.hex, one file per vector), the
schema (proto/ova/v1/*.proto, one message with every field set per message type), WAV files
built here, JWTs signed with the fuzz targets' test key (not a real secret).

Only the standard library; the output is deterministic. Files that crashed a target once
(regressions, named crash-*) are kept: only the generated seeds are rewritten.

Usage: python3 scripts/fuzz-seeds.py
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import struct
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "Fuzz" / "Corpus"
PREFACE = bytes.fromhex("4f5641310d0a1a0a")

# Must match the key in Fuzz/Sources/JWT/JWTFuzzer.swift.
JWT_TEST_SECRET = b"ova-fuzz-test-secret-not-a-real-key"


def write(target: str, name: str, data: bytes) -> None:
    directory = CORPUS / target
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(data)


def clear_generated(target: str) -> None:
    directory = CORPUS / target
    if directory.exists():
        for path in directory.iterdir():
            if not path.name.startswith("crash-"):
                path.unlink()


# MARK: - Frames (fuzz-frame-decoder, fuzz-connection)


def read_vectors() -> list[tuple[str, str, bool, bytes]]:
    """(name, direction, valid, bytes) for every vector in frames.hex."""
    vectors = []
    current = None
    for line in (ROOT / "docs" / "test-vectors" / "frames.hex").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line[0] in "@!":
            parts = line[1:].split()
            current = [parts[0], parts[1], line[0] == "@", bytearray()]
            vectors.append(current)
        elif current is not None:
            current[3] += bytes.fromhex(line)
    return [(n, d, v, bytes(b)) for n, d, v, b in vectors]


def frame(frame_type: int, flags: int, stream: int, payload: bytes) -> bytes:
    return struct.pack(">HBBBI", len(payload) >> 8, len(payload) & 0xFF, frame_type, flags, stream) + payload


def request_headers(stream: int, path: str, end_stream: bool = False) -> bytes:
    encoded = path.encode()
    payload = struct.pack(">H", len(encoded)) + encoded + struct.pack(">Q", 5_000_000) + struct.pack(">H", 0)
    return frame(0x1, 0x1 if end_stream else 0x0, stream, payload)


def frame_seeds(vectors) -> None:
    clear_generated("frame-decoder")
    # Control byte (see FrameDecoderFuzzer.swift): bit 0 client role, bit 5 raw (own preface).
    control = {"c2s": 0x00, "s2c": 0x01, "raw-c2s": 0x20}
    for name, direction, valid, data in vectors:
        prefix = "" if valid else "invalid-"
        write("frame-decoder", f"{prefix}{name}", bytes([control[direction]]) + data)
        # The same bytes in 3-byte reads: partial headers and payloads.
        write("frame-decoder", f"{prefix}{name}-split3", bytes([control[direction] | (3 << 1)]) + data)


def connection_seeds(vectors) -> None:
    clear_generated("connection")
    by_name = {name: data for name, _, _, data in vectors}
    settings = by_name["settings-defaults"]
    unary = request_headers(1, "ova.v1.Echo/Unary") + by_name["message-request-end-stream"]
    fail = request_headers(1, "ova.v1.Echo/Fail") + frame(0x2, 0x1, 1, b"\x0a\x02hi")
    # Control byte (see ConnectionFuzzer.swift): the read size / 7, 0 = one read.
    seeds = {
        "unary-call": settings + unary,
        "failing-call": settings + fail,
        "two-calls": settings + unary + request_headers(3, "ova.v1.Echo/Unary")
        + frame(0x2, 0x0, 3, b"\x0a\x01a") + frame(0x3, 0x0, 3, b""),
        "unknown-method": settings + request_headers(1, "ova.v1.Nope/Nope", end_stream=True),
        "reset-call": settings + request_headers(1, "ova.v1.Echo/Unary") + frame(0x5, 0x0, 1, struct.pack(">I", 1)),
        "fragmented-message": settings + request_headers(1, "ova.v1.Echo/Unary")
        + frame(0x2, 0x2, 1, b"\x0a\x05he") + frame(0x2, 0x1, 1, b"llo"),
        "ping-window": settings + by_name["ping"] + by_name["window-update-connection"],
        "no-settings": unary,
    }
    for name, data in seeds.items():
        write("connection", name, b"\x00" + data)
    write("connection", "unary-call-7-byte-reads", b"\x01" + seeds["unary-call"])
    for name, direction, valid, data in vectors:
        if direction == "c2s" and name != "settings-defaults":
            write("connection", f"after-settings-{name}", b"\x00" + settings + data)


# MARK: - Messages (fuzz-protobuf, fuzz-json)

SCALAR_WIRE = {
    "int32": 0, "int64": 0, "uint32": 0, "uint64": 0, "sint32": 0, "sint64": 0, "bool": 0,
    "fixed32": 5, "sfixed32": 5, "float": 5, "fixed64": 1, "sfixed64": 1, "double": 1,
    "string": 2, "bytes": 2,
}


def parse_schema():
    """{message: [(name, number, type, repeated, map_key_type)]}, and the enum names."""
    messages: dict[str, list] = {}
    enums: set[str] = set()
    field = re.compile(r"^(repeated\s+)?(map<\s*(\w+)\s*,\s*([\w.]+)\s*>|[\w.]+)\s+(\w+)\s*=\s*(\d+)\s*;")
    for path in sorted((ROOT / "proto" / "ova" / "v1").glob("*.proto")):
        stack: list[tuple[str, str]] = []
        for raw in path.read_text().splitlines():
            line = raw.split("//", 1)[0].strip()
            opening = re.match(r"^(message|enum|oneof|service)\s+(\w+)\s*\{", line)
            if opening:
                kind, name = opening.groups()
                stack.append((kind, name))
                if kind == "message":
                    messages[name] = []
                elif kind == "enum":
                    enums.add(name)
                continue
            if line.startswith("}"):
                if stack:
                    stack.pop()
                continue
            owner = next((name for kind, name in reversed(stack) if kind == "message"), None)
            if owner is None or (stack and stack[-1][0] == "enum"):
                continue
            match = field.match(line)
            if match:
                repeated, full_type, key_type, value_type, name, number = match.groups()
                field_type = value_type if key_type else full_type
                messages[owner].append((name, int(number), field_type.split(".")[-1], bool(repeated), key_type))
    return messages, enums


def schema_order() -> list[str]:
    """The message names in the order of OvaSchema.messageTypes (the fuzz targets' byte 0)."""
    text = (ROOT / "Sources" / "OvaProto" / "Generated" / "OvaSchema.ova.swift").read_text()
    block = text.split("static let messageTypes", 1)[1].split("= [", 1)[1].split("]", 1)[0]
    return re.findall(r"(\w+)\.self", block)


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode_value(field_type: str, messages, enums, depth: int) -> tuple[int, bytes]:
    """(wire type, encoded value) of a sample value of `field_type`."""
    if field_type in messages:
        return 2, varint(len(body := encode_message(field_type, messages, enums, depth + 1))) + body
    if field_type in enums:
        return 0, varint(1)
    samples = {
        "int32": varint(-2), "int64": varint(1 << 40), "uint32": varint(300), "uint64": varint(1 << 33),
        "sint32": varint(3), "sint64": varint(5), "bool": varint(1),
        "fixed32": struct.pack("<I", 7), "sfixed32": struct.pack("<i", -7), "float": struct.pack("<f", 1.5),
        "fixed64": struct.pack("<Q", 9), "sfixed64": struct.pack("<q", -9), "double": struct.pack("<d", 0.25),
        "string": varint(4) + "hola".encode(), "bytes": varint(3) + b"\x00\xff\x10",
    }
    return SCALAR_WIRE[field_type], samples[field_type]


def encode_message(name: str, messages, enums, depth: int = 0) -> bytes:
    if depth > 3:
        return b""
    out = bytearray()
    for field_name, number, field_type, repeated, key_type in messages[name]:
        if key_type:
            key_wire, key = encode_value(key_type, messages, enums, depth)
            value_wire, value = encode_value(field_type, messages, enums, depth)
            entry = varint(1 << 3 | key_wire) + key + varint(2 << 3 | value_wire) + value
            out += varint(number << 3 | 2) + varint(len(entry)) + entry
            continue
        wire, value = encode_value(field_type, messages, enums, depth)
        for _ in range(2 if repeated else 1):
            out += varint(number << 3 | wire) + value
    return bytes(out)


def lower_camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def json_value(field_type: str, messages, enums, depth: int):
    if field_type in messages:
        return json_message(field_type, messages, enums, depth + 1)
    if field_type in enums:
        return 1
    return {
        "int32": -2, "int64": str(1 << 40), "uint32": 300, "uint64": str(1 << 33), "sint32": 3,
        "sint64": "5", "bool": True, "fixed32": 7, "sfixed32": -7, "float": 1.5, "fixed64": "9",
        "sfixed64": "-9", "double": 0.25, "string": "hola", "bytes": base64.b64encode(b"\x00\xff\x10").decode(),
    }[field_type]


def json_message(name: str, messages, enums, depth: int = 0) -> dict:
    if depth > 3:
        return {}
    out = {}
    seen_oneof = False
    for field_name, _, field_type, repeated, key_type in messages[name]:
        value = json_value(field_type, messages, enums, depth)
        if key_type:
            value = {"k": value}
        elif repeated:
            value = [value, value]
        out[lower_camel(field_name)] = value
    return out


def message_seeds() -> None:
    clear_generated("protobuf")
    clear_generated("json")
    messages, enums = parse_schema()
    for index, name in enumerate(schema_order()):
        if name not in messages:
            raise SystemExit(f"fuzz-seeds: {name} is in OvaSchema but not in proto/")
        write("protobuf", f"{name}-empty", bytes([index]))
        write("protobuf", f"{name}-full", bytes([index]) + encode_message(name, messages, enums))
        write("json", f"{name}-empty", bytes([index]) + b"{}")
        text = json.dumps(json_message(name, messages, enums), ensure_ascii=False)
        write("json", f"{name}-full", bytes([index]) + text.encode())
    # JSON spellings the mapping accepts besides the canonical one (EchoRequest).
    echo = schema_order().index("EchoRequest")
    for label, text in {
        "schema-names": '{"response_count": "3", "echo_metadata": true}',
        "nulls": '{"text": null, "failWith": null}',
        "escapes": '{"text": "a\\u00e9\\ud83d\\ude00\\n\\"", "payload": "AAE="}',
        "numbers": '{"responseCount": 1e2, "responseSize": "7", "delayMs": 0.0}',
        "nested": '{"failWith": {"code": 3, "message": "x"}}',
        "whitespace": ' \n{ "text" : "x" ,\t"payload":"" }\n',
    }.items():
        write("json", f"EchoRequest-{label}", bytes([echo]) + text.encode())


# MARK: - WAV (fuzz-wav)


def wav(sample_rate: int, channels: int, samples: int, *, fmt_tag: int = 1, bits: int = 16,
        extra_chunks: bytes = b"", data_size: int | None = None, extensible: bool = False) -> bytes:
    block_align = channels * bits // 8
    fmt = struct.pack("<HHIIHH", 0xFFFE if extensible else fmt_tag, channels, sample_rate,
                      sample_rate * block_align, block_align, bits)
    if extensible:
        # cbSize, valid bits, channel mask, then the sub-format GUID (its first 2 bytes: the tag).
        fmt += struct.pack("<HHI", 22, bits, 0x3) + struct.pack("<H", fmt_tag) + bytes.fromhex("000000001000800000aa00389b71")
    pcm = b"".join(struct.pack("<h", (i * 1000) % 32000 - 16000) for i in range(samples * channels))
    size = len(pcm) if data_size is None else data_size
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + extra_chunks + b"data" + struct.pack("<I", size) + pcm
    return b"RIFF" + struct.pack("<I", len(body) & 0xFFFFFFFF) + body


def wav_seeds() -> None:
    clear_generated("wav")
    list_chunk = b"LIST" + struct.pack("<I", 5) + b"INFOx" + b"\x00"  # odd size: one pad byte
    seeds = {
        "mono-16k": wav(16_000, 1, 16),
        "stereo-44k": wav(44_100, 2, 8),
        "mono-8k-list-chunk": wav(8_000, 1, 4, extra_chunks=list_chunk),
        "streaming-unknown-size": wav(16_000, 1, 4, data_size=0xFFFFFFFF),
        "extensible-pcm": wav(48_000, 2, 4, extensible=True),
        "float-unsupported": wav(16_000, 1, 4, fmt_tag=3, bits=32),
        "8-bit-unsupported": wav(16_000, 1, 4, bits=8),
        "odd-data-size": wav(16_000, 2, 4, data_size=7),
        "header-only": wav(16_000, 1, 0),
    }
    for name, data in seeds.items():
        write("wav", name, data)


# MARK: - JWT (fuzz-jwt)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_seeds() -> None:
    clear_generated("jwt")
    header = b64url(b'{"alg":"HS256","typ":"JWT"}')
    claims = {"sub": "admin@example.com", "admin_id": 7, "iat": 1_700_000_000, "exp": 1_800_000_000, "jti": "abcdefghijklmnopqrstuv"}

    def signing_input(payload: dict, head: str = header) -> str:
        return head + "." + b64url(json.dumps(payload, separators=(",", ":")).encode())

    def sign(text: str) -> str:
        return text + "." + b64url(hmac.new(JWT_TEST_SECRET, text.encode(), hashlib.sha256).digest())

    # Byte 0 even: a token verified as is; odd: a signing input the harness signs.
    write("jwt", "valid-token", b"\x00" + sign(signing_input(claims)).encode())
    write("jwt", "valid-signing-input", b"\x01" + signing_input(claims).encode())
    write("jwt", "expired-signing-input", b"\x01" + signing_input(dict(claims, exp=1)).encode())
    write("jwt", "missing-jti-signing-input", b"\x01" + signing_input({k: v for k, v in claims.items() if k != "jti"}).encode())
    write("jwt", "string-admin-id-signing-input", b"\x01" + signing_input(dict(claims, admin_id="7")).encode())
    write("jwt", "wrong-key-token", b"\x00" + (signing_input(claims) + "." + b64url(b"\x00" * 32)).encode())
    write("jwt", "alg-none-token", b"\x00" + (b64url(b'{"alg":"none","typ":"JWT"}') + "." + b64url(b"{}") + ".").encode())
    write("jwt", "rs256-token", b"\x00" + sign(signing_input(claims, b64url(b'{"alg":"RS256","typ":"JWT"}'))).encode())
    write("jwt", "padded-token", b"\x00" + (sign(signing_input(claims)) + "==").encode())


def main() -> None:
    vectors = read_vectors()
    frame_seeds(vectors)
    connection_seeds(vectors)
    message_seeds()
    wav_seeds()
    jwt_seeds()
    for target in sorted(p.name for p in CORPUS.iterdir()):
        print(f"{target}: {len(list((CORPUS / target).iterdir()))} files")


if __name__ == "__main__":
    main()
