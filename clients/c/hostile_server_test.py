#!/usr/bin/env python3
"""Runs ova_echo_example against a fake OVA/1 server that misbehaves in scripted ways.

For each scenario the client must not crash (no signal, no sanitizer report), must exit 1 with a
clear error on stderr, and, for connection errors, must send GOAWAY with the right code.

Then ova_flow_probe (beside the example) against a fake server that checks the flow-control rules
of PROTOCOL.md section 9.3 in what the client sends: S1 (no non-final fragment below the server's
T), R1 (no credit for fragments while a message waits unread; one byte past the window is then a
connection error) and R2 (taking the last waiting message returns all owed credit; a message
larger than the window completes).

    hostile_server_test.py path/to/ova_echo_example cert.pem key.pem

cert.pem/key.pem: a certificate for 127.0.0.1 and its key (scripts/test-c.sh passes the development
certificate that ova-server generated in its data dir).
"""
import os
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
        self.updates = {}  # stream id -> the WINDOW_UPDATE increments the client sent, in order

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
        f = h[3], h[4], int.from_bytes(h[5:9], "big") & 0x7FFFFFFF, self.read(length)
        if f[0] == WINDOW_UPDATE:
            self.updates.setdefault(f[2], []).append(struct.unpack(">I", f[3])[0])
        return f

    def until_ping_ack(self, data):
        """Sends PING(data) and returns the frames the client sent before its PING ACK: the client
        handles frames in order, so whatever our earlier frames made it send comes first."""
        self.send(frame(PING, 0, 0, data))
        before = []
        while True:
            f = self.frame()
            if f[0] == PING and f[1] & 1 and f[3] == data:
                return before
            before.append(f)

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
    ("never-opened-stream", never_opened_stream, "never opened", INTERNAL),
    ("even-stream", even_stream, "even stream", INTERNAL),
    ("window-overflow", window_overflow, "window overflow", INTERNAL),
    ("second-settings", second_settings, "second SETTINGS", INTERNAL),
    ("reset", reset_stream, "stream reset by the server (PERMISSION_DENIED)", None),
    ("goaway-then-close", goaway_then_close, "not processed: server sent GOAWAY", None),
    ("eof-mid-frame", eof_mid_frame, "connection closed by the server", None),
    ("ping-then-ok", ping_then_ok, "unary: text=\"hello from C\"", None),
]


# ---- flow control (ova_flow_probe; the client's window is 65,536 and its T 32,768) -------------

FLOW_T = 32768
S1_SETTINGS = frame(SETTINGS, 0, 0, b"".join(struct.pack(">HI", i, v) for i, v in
                                            [(1, 16384), (2, 100), (3, 65536), (4, 1 << 24), (5, 4 << 20), (6, 16384)]))
S1_T = 16384  # min(16,384, 65,536 / 2): the T the client must respect towards this server


def message_sizes(frames, sid):
    return [(len(f[3]), bool(f[1] & 2)) for f in frames if f[0] == MESSAGE and f[2] == sid]


def flow_s1(c):
    """The client sends 60,000 then 20,000 bytes; we return credit a little at a time."""
    frames = []
    while sum(n for n, _ in message_sizes(frames, 1)) < 60000:
        frames.append(c.frame())
    assert message_sizes(frames, 1) == [(16384, True)] * 3 + [(10848, False)], message_sizes(frames, 1)
    # 5,536 left: the 20,000-byte message must wait (S1), also after 10,000 more (15,536 < T).
    assert message_sizes(c.until_ping_ack(b"s1-wait1"), 1) == [], "fragment below T"
    c.send(frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", 10000)))
    assert message_sizes(c.until_ping_ack(b"s1-wait2"), 1) == [], "fragment below T"
    c.send(frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", 1000)))  # 16,536: a fragment of T (frame size)
    assert message_sizes(c.until_ping_ack(b"s1-frag1"), 1) == [(16384, True)]
    c.send(frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", 3464)))  # 3,616: the final fragment fits
    last = c.until(MESSAGE, 1)
    assert len(last[3]) == 3616 and last[1] == 1, (len(last[3]), last[1])  # END_STREAM, not CONTINUED
    c.send(frame(MESSAGE, 0, 1, b"\x0a\x02ok") + frame(TRAILERS, 0, 1, trailers(0)))


def unread_stream_a(c, whole, fragments):
    """Streams 1 (A) and 3 (B) are open; A gets a complete message the client does not read, then
    fragments of the next: the client must return no credit on A (R1)."""
    c.until(MESSAGE, 3)
    c.send(frame(MESSAGE, 0, 1, bytes(whole)))
    for n in fragments:
        c.send(frame(MESSAGE, 2, 1, bytes(n)))
    c.until_ping_ack(b"r1-check")
    assert 1 not in c.updates, f"credit on the unread stream: {c.updates.get(1)}"


def flow_r1(c):
    unread_stream_a(c, 10000, [20000, 20000, 15536])  # the window is now 0
    c.send(frame(MESSAGE, 2, 1, b"x"))  # one byte past it: a flow-control connection error


def send_by_s1(c, sid, size, window):
    """Sends a message of size bytes by S1 within the client's credit; the send window left."""
    left = size
    while left:
        window += sum(c.updates.pop(sid, []))
        room = min(65536, window)
        if left <= room or room >= FLOW_T:
            n = min(left, room)
            c.send(frame(MESSAGE, 0 if n == left else 2, sid, bytes(n)))
            window -= n
            left -= n
        else:
            f = c.frame()  # wait for credit
            assert f[0] in (WINDOW_UPDATE, PING, SETTINGS), f"unexpected frame type {f[0]}"
    return window


def flow_r2(c):
    unread_stream_a(c, 40000, [25536])  # the window is now 0
    c.send(frame(MESSAGE, 0, 3, b"\x0a\x01x") + frame(TRAILERS, 0, 3, trailers(0)))
    # The client reads B to its end, then takes A's waiting message: with nothing waiting and the
    # window 0 < T it must return everything it owes on A at once (R2): 40,000 + 25,536.
    while 1 not in c.updates:
        c.frame()
    assert c.updates.pop(1) == [65536], "R2: not all owed credit in one WINDOW_UPDATE"
    c.send(frame(MESSAGE, 0, 1, bytes(34464)))  # A's second message is complete: 60,000 bytes
    window = send_by_s1(c, 1, 150000, 65536 - 34464)  # larger than the window
    assert window >= 0
    c.send(frame(TRAILERS, 0, 1, trailers(0)))


# name, function, probe mode, server SETTINGS, expected output, client GOAWAY code, exit status
FLOW_SCENARIOS = [
    ("flow-s1-no-small-fragments", flow_s1, "s1", S1_SETTINGS, "s1: ok", None, 0),
    ("flow-r1-unread-stream", flow_r1, "r1", SERVER_SETTINGS, "flow-control window exceeded", RESOURCE_EXHAUSTED, 1),
    ("flow-r2-credit-when-read", flow_r2, "r2", SERVER_SETTINGS,
     "A: message of 40000 bytes\nA: message of 60000 bytes\nA: message of 150000 bytes\nflow: ok", None, 0),
]


def run(example, cert, key, name, scenario, expect, goaway_code, mode=None, settings=SERVER_SETTINGS, status=1):
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
                c.send(settings)
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
    argv = [example, "--addr", f"127.0.0.1:{port}", "--ca", cert] + ([mode] if mode else [])
    p = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    t.join(10)
    listener.close()
    problems = []
    if p.returncode != status:
        problems.append(f"exit status {p.returncode} (expected {status})")
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
    probe = os.path.join(os.path.dirname(example), os.path.basename(example).replace("ova_echo_example", "ova_flow_probe"))
    results = [run(example, cert, key, *s) for s in SCENARIOS]
    for name, scenario, mode, settings, expect, goaway_code, status in FLOW_SCENARIOS:
        results.append(run(probe, cert, key, name, scenario, expect, goaway_code, mode, settings, status))
    ok = all(results)
    print(f"hostile_server_test: {'passed' if ok else 'FAILED'} ({len(results)} scenarios)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
