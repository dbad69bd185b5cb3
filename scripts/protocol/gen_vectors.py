#!/usr/bin/env python3
"""Generates docs/test-vectors/frames.hex: OVA/1 frames built and annotated independently of the
Swift codec (the Swift tests check both directions against this file)."""
import struct, sys

COL = 50  # comment column

def hx(b):
    return " ".join(f"{x:02x}" for x in b)

class V:
    def __init__(self, head):
        self.head = head
        self.lines = []
    def add(self, b, comment):
        b = bytes(b)
        if len(b) == 0:
            self.lines.append(" " * COL + "# " + comment)
            return
        chunks = [b[i:i + 16] for i in range(0, len(b), 16)]
        for i, c in enumerate(chunks):
            text = hx(c)
            cm = comment if i == 0 else "  (continued)"
            self.lines.append(text.ljust(COL) + "# " + cm)
    def text(self):
        return "\n".join([self.head] + self.lines)

TYPES = {0: "SETTINGS", 1: "HEADERS", 2: "MESSAGE", 3: "HALF_CLOSE", 4: "TRAILERS", 5: "RESET",
         6: "WINDOW_UPDATE", 7: "PING", 8: "GOAWAY"}
SETTING_NAMES = {1: "MAX_FRAME_SIZE", 2: "MAX_CONCURRENT_STREAMS", 3: "INITIAL_STREAM_WINDOW",
                 4: "INITIAL_CONNECTION_WINDOW", 5: "MAX_MESSAGE_SIZE", 6: "MAX_METADATA_SIZE"}
CODES = ["OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
         "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
         "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
         "UNAUTHENTICATED"]

def code_name(c):
    return CODES[c] if c < len(CODES) else f"unknown value {c}, decoded as UNKNOWN"

def header(v, length, ftype, flags, stream, flag_names="", note=""):
    b = struct.pack(">I", length)[1:] + bytes([ftype, flags]) + struct.pack(">I", stream)
    tname = TYPES.get(ftype, "unknown type")
    fl = f"0x{flags:02x}" + (f" {flag_names}" if flag_names else "")
    sid = stream & 0x7FFFFFFF
    st = f"stream {sid}" + (" (R bit set, ignored)" if stream & 0x80000000 else "")
    v.add(b, f"header: length {length}, type 0x{ftype:x} {tname}, flags {fl}, {st}{note}")

def u(v, fmt, value, comment):
    v.add(struct.pack(">" + fmt, value), comment)

def string16(v, s, what):
    b = s.encode() if isinstance(s, str) else s
    v.add(struct.pack(">H", len(b)), f"{what} length {len(b)}")
    if b:
        v.add(b, f'{what} "{s}"' if isinstance(s, str) else f"{what} bytes (not UTF-8)")

def metadata_size(entries):
    return 2 + sum(1 + len(k) + 2 + len(val if isinstance(val, bytes) else val.encode()) for k, val in entries)

def metadata(v, entries):
    size = metadata_size(entries)
    v.add(struct.pack(">H", len(entries)), f"metadata block ({size} bytes): {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}")
    for k, val in entries:
        kb = k.encode() if isinstance(k, str) else k
        v.add([len(kb)], f"  key length {len(kb)}")
        v.add(kb, f'  key "{kb.decode("latin-1")}"')
        vb = val if isinstance(val, bytes) else val.encode()
        v.add(struct.pack(">H", len(vb)), f"  value length {len(vb)}")
        if vb:
            v.add(vb, "  value bytes (binary: key ends in -bin)" if isinstance(val, bytes) else f'  value "{val}"')

def payload_len_metadata(entries):
    return metadata_size(entries)

vectors = []
def vec(head):
    v = V(head)
    vectors.append(v)
    return v

# ---------------------------------------------------------------- settings
DEFAULTS = [(1, 65536), (2, 1024), (3, 1 << 20), (4, 16 << 20), (5, 4 << 20), (6, 16 << 10)]
def settings(v, entries, names=None):
    header(v, 6 * len(entries), 0, 0, 0)
    for i, val in entries:
        nm = SETTING_NAMES.get(i, "unknown id, ignored")
        v.add(struct.pack(">HI", i, val), f"id 0x{i:x} {nm} = {val}")

v = vec("@ connection-start raw-c2s")
v.add(bytes([0x4F, 0x56, 0x41, 0x31, 0x0D, 0x0A, 0x1A, 0x0A]), 'preface "OVA1\\r\\n\\x1a\\n"')
settings(v, DEFAULTS)

v = vec("@ settings-defaults c2s")
settings(v, DEFAULTS)

v = vec("@ settings-server s2c")
settings(v, [(1, 1 << 20), (2, 100), (3, 2 << 20), (4, 32 << 20), (5, 8 << 20), (6, 32 << 10)])

v = vec("@ settings-ack s2c")
header(v, 0, 0, 1, 0, "ACK")

# ---------------------------------------------------------------- headers
md = [("authorization", "Bearer abc.def.ghi"), ("user-agent", "ova-python/1.0")]
path = "ova.v1.Echo/Unary"
v = vec("@ headers-request c2s")
header(v, 2 + len(path) + 8 + metadata_size(md), 1, 0, 1)
string16(v, path, "path")
u(v, "Q", 5_000_000, "timeout 5000000 us (5 s)")
metadata(v, md)

path = "ova.v1.Echo/ClientStream"
v = vec("@ headers-request-end-stream c2s")
header(v, 2 + len(path) + 8 + 2, 1, 1, 3, "END_STREAM")
string16(v, path, "path")
u(v, "Q", 0, "timeout 0: no deadline")
metadata(v, [])

md = [("ova-request-id", "req-7f3a")]
v = vec("@ headers-response s2c")
header(v, metadata_size(md), 1, 0, 1)
metadata(v, md)

# ---------------------------------------------------------------- messages
v = vec("@ message-request-end-stream c2s")
header(v, 4, 2, 1, 1, "END_STREAM")
v.add(bytes([0x0a, 0x02]) + b"hi", 'EchoRequest{text: "hi"}: 0a = field 1 LEN, 02 = length, "hi"')

v = vec("@ message-fragments s2c")
header(v, 4, 2, 2, 1, "CONTINUED")
v.add(bytes([0x0a, 0x05]) + b"he", 'fragment 1: 0a 05 "he"')
header(v, 3, 2, 0, 1, note="; last fragment")
v.add(b"llo", 'fragment 2: "llo" (message = 0a 05 "hello", EchoResponse{text: "hello"})')

v = vec("@ message-empty s2c")
header(v, 0, 2, 0, 5, note="; an empty message")

v = vec("@ half-close c2s")
header(v, 0, 3, 0, 5)

# ---------------------------------------------------------------- trailers
md = [("ova-request-id", "req-7f3a")]
v = vec("@ trailers-ok s2c")
header(v, 1 + 2 + 0 + 4 + 0 + metadata_size(md), 4, 0, 1)
v.add([0], "status 0 OK")
string16(v, "", "message")
u(v, "I", 0, "details length 0")
metadata(v, md)

fv = bytes([0x0a, 0x05]) + b"email" + bytes([0x12, 0x0e]) + b"not an address"
details = bytes([0x0a, len(fv)]) + fv + bytes([0x1a, 0x09]) + b"BAD_EMAIL"
md = [("trace-bin", bytes([0x01, 0x02, 0xff]))]
msg = "email: invalid"
v = vec("@ trailers-error s2c")
header(v, 1 + 2 + len(msg) + 4 + len(details) + metadata_size(md), 4, 0, 3)
v.add([3], "status 3 INVALID_ARGUMENT")
string16(v, msg, "message")
u(v, "I", len(details), f"details length {len(details)}: an ova.v1.ErrorDetails")
v.add(details[:2], "  field 1 field_violations, LEN 23")
v.add(fv[:7], '    FieldViolation field 1 field = "email"')
v.add(fv[7:], '    FieldViolation field 2 description = "not an address"')
v.add(details[2 + len(fv):], '  field 3 reason = "BAD_EMAIL"')
metadata(v, md)

# ---------------------------------------------------------------- control
v = vec("@ reset-cancelled c2s")
header(v, 4, 5, 0, 7)
u(v, "I", 1, "code 1 CANCELLED")

v = vec("@ window-update-connection c2s")
header(v, 4, 6, 0, 0, note=" (the connection)")
u(v, "I", 8 << 20, "increment 8388608")

v = vec("@ window-update-stream s2c")
header(v, 4, 6, 0, 1)
u(v, "I", 65536, "increment 65536")

v = vec("@ ping c2s")
header(v, 8, 7, 0, 0)
u(v, "Q", 0x0102030405060708, "opaque data 0x0102030405060708")

v = vec("@ ping-ack s2c")
header(v, 8, 7, 1, 0, "ACK")
u(v, "Q", 0x0102030405060708, "opaque data echoed")

msg = "shutting down"
v = vec("@ goaway-graceful s2c")
header(v, 10 + len(msg), 8, 0, 0)
u(v, "I", 9, "last stream id 9")
u(v, "I", 0, "code 0 OK (graceful)")
string16(v, msg, "debug message")

msg = "bad preface"
v = vec("@ goaway-bad-preface s2c")
header(v, 10 + len(msg), 8, 0, 0)
u(v, "I", 0, "last stream id 0")
u(v, "I", 13, "code 13 INTERNAL")
string16(v, msg, "debug message")

# ---------------------------------------------------------------- decode-only (not canonical)
v = vec("@ unknown-type-skipped c2s decode-only")
header(v, 3, 0x0F, 0, 0, note="; unknown type: skipped")
v.add(b"\xaa\xbb\xcc", "payload of the unknown frame, ignored")
header(v, 8, 7, 0, 0)
u(v, "Q", 42, "opaque data 42")

v = vec("@ ignored-bits c2s decode-only")
header(v, 8, 7, 0xFE, 0x80000000, "(undefined bits set, ignored; ACK clear)")
u(v, "Q", 7, "opaque data 7 (decodes as PING data 7, not ACK)")

v = vec("@ settings-partial c2s decode-only")
settings(v, [(0xFF, 7), (5, 1 << 20)])

v = vec("@ reset-unknown-code s2c decode-only")
header(v, 4, 5, 0, 9)
u(v, "I", 0x1234, "code 4660: unknown, decoded as UNKNOWN (2)")

# ---------------------------------------------------------------- must be rejected
v = vec("! bad-preface raw-c2s badPreface INTERNAL")
v.add(b"PRI ", '"PRI " (an HTTP/2 client): wrong from the first byte')

v = vec("! frame-too-large c2s frameTooLarge RESOURCE_EXHAUSTED")
header(v, 65537, 2, 0, 1, note="; 65537 > MAX_FRAME_SIZE 65536: rejected before any payload")

v = vec("! window-update-zero c2s malformedFrame INTERNAL")
header(v, 4, 6, 0, 1)
u(v, "I", 0, "increment 0: invalid")

v = vec("! settings-ack-with-payload s2c malformedFrame INTERNAL")
header(v, 6, 0, 1, 0, "ACK")
v.add(struct.pack(">HI", 1, 65536), "an ACK must be empty")

v = vec("! settings-bad-frame-size c2s invalidSetting INTERNAL")
header(v, 6, 0, 0, 0)
v.add(struct.pack(">HI", 1, 1024), "MAX_FRAME_SIZE = 1024 < 16384")

path = "a/b"
v = vec("! headers-on-stream-0 c2s invalidStreamID INTERNAL")
header(v, 2 + len(path) + 8 + 2, 1, 0, 0)
string16(v, path, "path")
u(v, "Q", 0, "timeout 0")
metadata(v, [])

v = vec("! ping-on-stream-1 c2s invalidStreamID INTERNAL")
header(v, 8, 7, 0, 1)
u(v, "Q", 0, "opaque data")

v = vec("! ping-short c2s malformedFrame INTERNAL")
header(v, 4, 7, 0, 0)
u(v, "I", 0, "only 4 bytes")

v = vec("! metadata-bad-key c2s invalidMetadataKey INTERNAL")
md = [("User-Agent", "x")]
header(v, 2 + len(path) + 8 + metadata_size(md), 1, 0, 1)
string16(v, path, "path")
u(v, "Q", 0, "timeout 0")
metadata(v, md)

v = vec("! path-invalid-utf8 c2s invalidUTF8 INTERNAL")
header(v, 2 + 2 + 8 + 2, 1, 0, 1)
string16(v, b"\xff\xfe", "path")
u(v, "Q", 0, "timeout 0")
metadata(v, [])

v = vec("! trailers-from-client c2s malformedFrame INTERNAL")
header(v, 1 + 2 + 4 + 2, 4, 0, 1, note="; TRAILERS only flow server to client")
v.add([0], "status 0 OK")
string16(v, "", "message")
u(v, "I", 0, "details length 0")
metadata(v, [])

out = """# OVA/1 frame test vectors (docs/PROTOCOL.md, "Test vectors").
#
# Format: one vector per block.
#   @ <name> <direction> [decode-only]          a valid vector
#   ! <name> <direction> <error> <GOAWAY code>  bytes a receiver must reject (connection error)
# followed by lines of hex bytes; "#" starts a comment. <direction>:
#   c2s      bytes a client sends after its preface (decode as a server; prepend the preface)
#   s2c      bytes a server sends (decode as a client)
#   raw-c2s  bytes a client sends from the very start of the connection, preface included
# A valid vector is one or more whole frames; re-encoding the decoded frames gives the same
# bytes, except for "decode-only" vectors (non-canonical input a receiver must accept).
# <error> names the Swift WireError.Kind; <GOAWAY code> is the status a server sends.

"""
out += "\n\n".join(x.text() for x in vectors) + "\n"
open(sys.argv[1], "w").write(out)
