#!/usr/bin/env python3
"""Runs ova_echo_example against a fake OVA/1 server that misbehaves in scripted ways.

For each scenario the client must not crash (no signal, no sanitizer report), must exit 1 with a
clear error on stderr, and, for connection errors, must send GOAWAY with the right code.

    hostile_server_test.py path/to/ova_echo_example cert.pem key.pem

cert.pem/key.pem: a certificate for 127.0.0.1 and its key (scripts/test-c.sh passes the development
certificate that ova-server generated in its data dir).
"""
import socket
import ssl
import struct
import subprocess
import sys
import threading

SETTINGS, HEADERS, MESSAGE, HALF_CLOSE, TRAILERS, RESET, WINDOW_UPDATE, PING, GOAWAY = range(9)
INTERNAL, RESOURCE_EXHAUSTED = 13, 8


def frame(ftype, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", sid) + payload


SERVER_SETTINGS = frame(SETTINGS, 0, 0, b"".join(struct.pack(">HI", i, v) for i, v in
                                              [(1, 65536), (2, 100), (3, 1 << 20), (4, 1 << 24), (5, 4 << 20), (6, 16384)]))


def s16(b):
    return struct.pack(">H", len(b)) + b


def trailers(code, msg=b"", details=b"", md=b"\x00\x00"):
    return bytes([code]) + s16(msg) + struct.pack(">I", len(details)) + details + md


class Conn:
    def __init__(self, tls):
        self.tls, self.buf = tls, b""

    def read(self, n):
        while len(self.buf) < n:
            chunk = self.tls.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def frame(self):
        h = self.read(9)
        length = int.from_bytes(h[:3], "big")
        return h[3], h[4], int.from_bytes(h[5:9], "big") & 0x7FFFFFFF, self.read(length)

    def until(self, ftype, sid=None):
        while True:
            f = self.frame()
            if f[0] == ftype and (sid is None or f[2] == sid):
                return f

    def send(self, data):
        self.tls.sendall(data)


# Each scenario gets the connection after the client's preface + SETTINGS and the server's SETTINGS
# (except "first-frame-not-settings") and returns nothing; the harness then looks for a GOAWAY.
def first_frame_not_settings(c):
    c.send(frame(PING, 0, 0, bytes(8)))


def frame_too_large(c):
    c.send(b"\xff\xff\xff\x02\x00\x00\x00\x00\x01")


def truncated_trailers(c):
    c.until(MESSAGE, 1)
    c.send(frame(TRAILERS, 0, 1, b"\x00\x00\x05ab"))


def bad_utf8_trailers(c):
    c.until(MESSAGE, 1)
    c.send(frame(TRAILERS, 0, 1, trailers(0, b"\xff\xfe")))


def bad_metadata_key(c):
    c.until(MESSAGE, 1)
    c.send(frame(HEADERS, 0, 1, b"\x00\x01\x03Bad\x00\x01x"))


def details_length_lies(c):
    c.until(MESSAGE, 1)
    c.send(frame(TRAILERS, 0, 1, b"\x03\x00\x00\xff\xff\xff\xf0\x00\x00"))


def window_exceeded(c):
    c.until(MESSAGE, 1)
    for _ in range(17):  # 17 x 64 KiB > the client's 1 MiB stream window
        c.send(frame(MESSAGE, 2, 1, bytes(65536)))


def never_opened_stream(c):
    c.send(frame(MESSAGE, 0, 99, b"x"))


def even_stream(c):
    c.send(frame(WINDOW_UPDATE, 0, 2, struct.pack(">I", 1)))


def window_overflow(c):
    c.send(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0x7FFFFFFF)))


def second_settings(c):
    c.send(SERVER_SETTINGS)


def reset_stream(c):
    c.until(MESSAGE, 1)
    c.send(frame(RESET, 0, 1, struct.pack(">I", 7)))


def goaway_then_close(c):
    c.until(MESSAGE, 1)
    c.send(frame(GOAWAY, 0, 0, struct.pack(">II", 0, 14) + s16(b"going away")))


def eof_mid_frame(c):
    c.until(MESSAGE, 1)
    c.send(b"\x00\x00\x10\x02\x00")


def ping_then_ok(c):
    """A PING must be answered with PING ACK and the same data; then the unary call succeeds and the
    connection closes (the following calls fail with UNAVAILABLE)."""
    c.send(frame(PING, 0, 0, b"12345678"))
    c.until(MESSAGE, 1)
    f = c.until(PING)
    assert f[1] & 1 and f[3] == b"12345678", f"bad PING reply {f}"
    c.send(frame(MESSAGE, 0, 1, b"\x0a\x0chello from C"))
    c.send(frame(TRAILERS, 0, 1, trailers(0)))


def huge_metadata_count(c):
    c.until(MESSAGE, 1)
    c.send(frame(HEADERS, 0, 1, b"\xff\xff\x01a\x00\x00"))


# name, function, expected stderr substring, expected GOAWAY code from the client (None: none)
SCENARIOS = [
    ("first-frame-not-settings", first_frame_not_settings, "not SETTINGS", INTERNAL),
    ("frame-too-large", frame_too_large, "over MAX_FRAME_SIZE", RESOURCE_EXHAUSTED),
    ("truncated-trailers", truncated_trailers, "cut short", INTERNAL),
    ("bad-utf8-trailers", bad_utf8_trailers, "invalid UTF-8", INTERNAL),
    ("bad-metadata-key", bad_metadata_key, "invalid metadata key", INTERNAL),
    ("details-length-lies", details_length_lies, "details cut short", INTERNAL),
    ("huge-metadata-count", huge_metadata_count, "cut short", INTERNAL),
    ("window-exceeded", window_exceeded, "flow-control window exceeded", RESOURCE_EXHAUSTED),
    ("never-opened-stream", never_opened_stream, "never opened", INTERNAL),
    ("even-stream", even_stream, "even stream", INTERNAL),
    ("window-overflow", window_overflow, "window overflow", INTERNAL),
    ("second-settings", second_settings, "second SETTINGS", INTERNAL),
    ("reset", reset_stream, "stream reset by the server (PERMISSION_DENIED)", None),
    ("goaway-then-close", goaway_then_close, "not processed: server sent GOAWAY", None),
    ("eof-mid-frame", eof_mid_frame, "connection closed by the server", None),
    ("ping-then-ok", ping_then_ok, "unary: text=\"hello from C\"", None),
]


def run(example, cert, key, name, scenario, expect, goaway_code):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["ova/1"])
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    result = {"goaway": None, "error": None}

    def serve():
        try:
            raw, _ = listener.accept()
            raw.settimeout(5)
            tls = ctx.wrap_socket(raw, server_side=True)
            c = Conn(tls)
            assert c.read(8) == b"OVA1\r\n\x1a\n", "bad preface"
            f = c.frame()
            assert f[0] == SETTINGS and not f[1] & 1, "first frame not SETTINGS"
            if scenario is not first_frame_not_settings:
                c.send(SERVER_SETTINGS)
            scenario(c)
            if goaway_code is not None:  # a connection error: the client must send GOAWAY, then close
                try:
                    f = c.until(GOAWAY)
                    result["goaway"] = struct.unpack(">I", f[3][4:8])[0]
                except (EOFError, OSError, ssl.SSLError):
                    pass
            tls.close()
        except Exception as e:  # noqa: BLE001 - reported by the harness
            result["error"] = f"{type(e).__name__}: {e}"

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    p = subprocess.run([example, "--addr", f"127.0.0.1:{port}", "--ca", cert], capture_output=True, text=True, timeout=20)
    t.join(10)
    listener.close()
    problems = []
    if p.returncode != 1:
        problems.append(f"exit status {p.returncode} (expected 1)")
    if "Sanitizer" in p.stderr or "runtime error" in p.stderr:
        problems.append("sanitizer report")
    if expect not in p.stdout + p.stderr:
        problems.append(f"output lacks {expect!r}")
    if result["error"]:
        problems.append(f"fake server: {result['error']}")
    if goaway_code is not None and result["goaway"] != goaway_code:
        problems.append(f"client GOAWAY code {result['goaway']}, expected {goaway_code}")
    first_error = next((line for line in p.stderr.splitlines() if line.startswith("FAIL")), "")
    print(f"  {'ok  ' if not problems else 'FAIL'} {name}: {first_error[:150]}")
    for problem in problems:
        print(f"       {problem}\n{p.stderr}")
    return not problems


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    example, cert, key = sys.argv[1:4]
    ok = all([run(example, cert, key, *s) for s in SCENARIOS])
    print(f"hostile_server_test: {'passed' if ok else 'FAILED'} ({len(SCENARIOS)} scenarios)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
