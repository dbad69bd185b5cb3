/*
 * ova_client: a small C11 client for the OVA/1 wire protocol (docs/PROTOCOL.md), written from the
 * specification alone. TLS via OpenSSL (libssl); messages are opaque bytes (use the protoc-c code
 * in Sources/COvaProto to pack/unpack them).
 *
 * Two layers:
 *   1. The frame codec (ova_encode_*, ova_decoder, ova_parse_*): pure, no I/O, bounds-checked.
 *   2. A blocking client (ova_conn, ova_call): one connection, calls made one after the other
 *      or interleaved from a single thread. Not thread-safe.
 *
 * Errors are reported as an ova_status (a status code from section 11 plus a message); nothing
 * the peer sends can make the library read or write out of bounds.
 *
 * The library sets SIGPIPE to SIG_IGN on first connect if it is still SIG_DFL, so that writing to
 * a connection the server closed fails with an error instead of killing the process.
 */
#ifndef OVA_CLIENT_H
#define OVA_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Status codes (section 11.1) ---- */
enum {
    OVA_OK = 0, OVA_CANCELLED = 1, OVA_UNKNOWN = 2, OVA_INVALID_ARGUMENT = 3,
    OVA_DEADLINE_EXCEEDED = 4, OVA_NOT_FOUND = 5, OVA_ALREADY_EXISTS = 6,
    OVA_PERMISSION_DENIED = 7, OVA_RESOURCE_EXHAUSTED = 8, OVA_FAILED_PRECONDITION = 9,
    OVA_ABORTED = 10, OVA_OUT_OF_RANGE = 11, OVA_UNIMPLEMENTED = 12, OVA_INTERNAL = 13,
    OVA_UNAVAILABLE = 14, OVA_DATA_LOSS = 15, OVA_UNAUTHENTICATED = 16
};

/* "OK", "CANCELLED", ...; "UNKNOWN" for any value outside 0..16. */
const char *ova_status_name(int code);

typedef struct {
    int code;           /* a status code; OVA_OK on success */
    char message[512];  /* human-readable; empty for OK */
} ova_status;

/* ---- Frame types, flags, settings (sections 6 and 7) ---- */
enum {
    OVA_FRAME_SETTINGS = 0x0, OVA_FRAME_HEADERS = 0x1, OVA_FRAME_MESSAGE = 0x2,
    OVA_FRAME_HALF_CLOSE = 0x3, OVA_FRAME_TRAILERS = 0x4, OVA_FRAME_RESET = 0x5,
    OVA_FRAME_WINDOW_UPDATE = 0x6, OVA_FRAME_PING = 0x7, OVA_FRAME_GOAWAY = 0x8
};
enum { OVA_FLAG_ACK = 0x1, OVA_FLAG_END_STREAM = 0x1, OVA_FLAG_CONTINUED = 0x2 };
#define OVA_FRAME_HEADER_SIZE 9
#define OVA_MAX_WINDOW 0x7fffffffu
extern const uint8_t OVA_PREFACE[8]; /* "OVA1\r\n\x1a\n" */

typedef struct {
    uint32_t max_frame_size;            /* 0x1 */
    uint32_t max_concurrent_streams;    /* 0x2 */
    uint32_t initial_stream_window;     /* 0x3 */
    uint32_t initial_connection_window; /* 0x4 */
    uint32_t max_message_size;          /* 0x5 */
    uint32_t max_metadata_size;         /* 0x6 */
} ova_settings;

/* The protocol defaults (section 7). */
void ova_settings_default(ova_settings *s);
/* The fragment threshold T of section 9.2 of the side that advertised s:
 * min(MAX_FRAME_SIZE, INITIAL_STREAM_WINDOW / 2, INITIAL_CONNECTION_WINDOW / 2). */
uint32_t ova_fragment_threshold(const ova_settings *s);

/* ---- Metadata (section 5.2) ---- */
typedef struct {
    const char *key;      /* lower-case ASCII, NUL-terminated */
    const uint8_t *value; /* text (UTF-8) or, for keys ending in "-bin", raw bytes */
    size_t value_len;     /* decoded values are also NUL-terminated (not counted) */
} ova_md_entry;

typedef struct {
    ova_md_entry *entries;
    size_t count;
    uint8_t *storage_; /* owned storage of decoded keys and values */
} ova_metadata;

void ova_metadata_free(ova_metadata *md);
/* The first value of key, or NULL. */
const ova_md_entry *ova_metadata_get(const ova_metadata *md, const char *key);

/* ---- Encoding: frames are appended to a growable buffer ---- */
typedef struct {
    uint8_t *data;
    size_t len, cap;
} ova_buf;

void ova_buf_free(ova_buf *b);

/* Each returns 0, or -1 with err filled (out of memory, or a value the protocol cannot carry:
 * invalid metadata key, string over 65,535 bytes, payload over 2^24-1 bytes, ...). */
int ova_encode_preface(ova_buf *b);
int ova_encode_settings(ova_buf *b, const ova_settings *s, ova_status *err);
int ova_encode_settings_ack(ova_buf *b, ova_status *err);
int ova_encode_request_headers(ova_buf *b, uint32_t stream_id, const char *path, uint64_t timeout_us,
                               const ova_md_entry *md, size_t md_count, int end_stream, ova_status *err);
int ova_encode_response_headers(ova_buf *b, uint32_t stream_id, const ova_md_entry *md, size_t md_count,
                                ova_status *err);
int ova_encode_message(ova_buf *b, uint32_t stream_id, uint8_t flags, const uint8_t *data, size_t len,
                       ova_status *err);
int ova_encode_half_close(ova_buf *b, uint32_t stream_id, ova_status *err);
int ova_encode_trailers(ova_buf *b, uint32_t stream_id, int code, const char *message, const uint8_t *details,
                        size_t details_len, const ova_md_entry *md, size_t md_count, ova_status *err);
int ova_encode_reset(ova_buf *b, uint32_t stream_id, uint32_t code, ova_status *err);
int ova_encode_window_update(ova_buf *b, uint32_t stream_id, uint32_t increment, ova_status *err);
int ova_encode_ping(ova_buf *b, int ack, const uint8_t data[8], ova_status *err);
int ova_encode_goaway(ova_buf *b, uint32_t last_stream_id, uint32_t code, const char *debug, ova_status *err);

/* ---- Decoding ---- */
typedef enum {
    OVA_ROLE_CLIENT, /* decodes what a server sends (s2c) */
    OVA_ROLE_SERVER  /* decodes what a client sends (c2s), starting with the preface */
} ova_role;

typedef struct {
    uint8_t type, flags;
    uint32_t stream_id;      /* the R bit already cleared */
    uint32_t length;
    const uint8_t *payload;  /* valid until the next ova_decoder_feed/next call */
} ova_frame;

/* A streaming decoder: feed bytes as they arrive, take whole frames out. It applies the
 * per-frame rules of section 4 (frame size from the header alone, unknown types skipped, stream 0
 * rules, even stream ids, direction) and validates every payload (fixed sizes, strings, UTF-8,
 * metadata keys and sizes, settings ranges). Connection-state rules (SETTINGS first, stream ids
 * never opened, windows) are the caller's. */
typedef struct {
    ova_role role;
    uint32_t max_frame_size;    /* ours: frames above it are RESOURCE_EXHAUSTED */
    uint32_t max_metadata_size; /* ours: blocks above it are RESOURCE_EXHAUSTED */
    size_t preface_seen;        /* server role: preface bytes checked so far */
    uint8_t *buf;
    size_t start, len, cap;
    int failed;
} ova_decoder;

void ova_decoder_init(ova_decoder *d, ova_role role, uint32_t max_frame_size, uint32_t max_metadata_size);
void ova_decoder_free(ova_decoder *d);
int ova_decoder_feed(ova_decoder *d, const uint8_t *data, size_t len, ova_status *err);
/* 1: a frame in *f; 0: need more bytes; -1: connection error (err->code is the GOAWAY code). */
int ova_decoder_next(ova_decoder *d, ova_frame *f, ova_status *err);

/* Payload parsers for a frame that ova_decoder_next returned (they re-check everything, so they
 * are safe on any bytes). Each returns 0, or -1 with err->code the connection error's code. */
int ova_parse_settings(const ova_frame *f, ova_settings *s, ova_status *err); /* applies onto *s */
int ova_parse_metadata(const uint8_t *p, size_t n, uint32_t max_size, ova_metadata *out, ova_status *err);
typedef struct {
    int code;             /* 0..16; other values decoded as UNKNOWN */
    char *message;        /* NUL-terminated, owned */
    uint8_t *details;     /* owned, may be NULL when details_len == 0 */
    size_t details_len;
    ova_metadata metadata;
} ova_trailers;
int ova_parse_trailers(const ova_frame *f, uint32_t max_metadata, ova_trailers *t, ova_status *err);
void ova_trailers_free(ova_trailers *t);
typedef struct {
    char *path; /* owned */
    uint64_t timeout_us;
    ova_metadata metadata;
} ova_request_headers;
int ova_parse_request_headers(const ova_frame *f, uint32_t max_metadata, ova_request_headers *h, ova_status *err);
void ova_request_headers_free(ova_request_headers *h);
int ova_parse_u32(const ova_frame *f, uint32_t *v, ova_status *err); /* RESET code, WINDOW_UPDATE increment */
typedef struct {
    uint32_t last_stream_id;
    uint32_t code;
    char debug[256]; /* truncated copy */
} ova_goaway;
int ova_parse_goaway(const ova_frame *f, ova_goaway *g, ova_status *err);

/* ---- Client ---- */
typedef struct ova_conn ova_conn;
typedef struct ova_call ova_call;

typedef struct {
    const char *ca_file;     /* PEM file of trusted CAs; NULL: the system's default trust store */
    const char *server_name; /* name to verify (and SNI); NULL: the host passed to ova_connect */
    int connect_timeout_ms;  /* TCP + TLS + server SETTINGS; 0: 10,000 */
    const ova_settings *settings; /* the SETTINGS the client advertises; NULL: the protocol defaults */
} ova_conn_options;

/* Connects, verifies the certificate (chain + host name or IP), offers ALPN "ova/1", sends the
 * preface and SETTINGS, and waits for the server's SETTINGS. NULL on failure, with *err set. */
ova_conn *ova_connect(const char *host, int port, const ova_conn_options *opts, ova_status *err);
/* Sends GOAWAY(0, OK) if the connection is healthy, closes it, frees it. Calls must be freed first. */
void ova_conn_close(ova_conn *c);
/* The server's SETTINGS. */
const ova_settings *ova_conn_peer_settings(const ova_conn *c);
/* 1 once the server sent GOAWAY (no new calls on this connection). */
int ova_conn_goaway_received(const ova_conn *c, ova_goaway *g);

/* Opens a call: sends HEADERS for path ("package.Service/Method") with the metadata and a deadline
 * of timeout_ms from now (0: none). NULL with *err on failure (UNAVAILABLE after GOAWAY or a
 * broken connection, RESOURCE_EXHAUSTED if the headers exceed the server's limits). */
ova_call *ova_call_start(ova_conn *c, const char *path, const ova_md_entry *md, size_t md_count,
                         int64_t timeout_ms, ova_status *err);
/* Sends one request message, fragmented to the server's frame size and the send windows;
 * end_stream half-closes after it. 0, or -1 (the call has failed: see ova_call_status). */
int ova_call_send(ova_call *call, const uint8_t *msg, size_t len, int end_stream);
/* Half-closes with a HALF_CLOSE frame. */
int ova_call_half_close(ova_call *call);
/* Waits for the next response message. 1: *msg (malloc'd, caller frees) of *len bytes;
 * 0: the call is over, see ova_call_status; -1: the call failed, see ova_call_status. */
int ova_call_recv(ova_call *call, uint8_t **msg, size_t *len);
/* The call's final status (OK or the error); meaningful once ova_call_recv returned 0 or -1. */
const ova_status *ova_call_status(const ova_call *call);
/* Serialized ova.v1.ErrorDetails from TRAILERS (may be empty). */
const uint8_t *ova_call_error_details(const ova_call *call, size_t *len);
const ova_metadata *ova_call_headers(const ova_call *call);  /* response HEADERS (may be empty) */
const ova_metadata *ova_call_trailers(const ova_call *call); /* trailing metadata */
/* Cancels (RESET(CANCELLED)) if still running, and frees. */
void ova_call_free(ova_call *call);

/* 1 when the server did not process the call: its stream id was above the last stream id of the
 * server's GOAWAY (section 14). It failed with UNAVAILABLE and is safe to send again. */
int ova_call_not_processed(const ova_call *call);

/* Unary convenience: one request, one response. Returns the final status code (OVA_OK on
 * success, with *resp malloc'd); st receives the status. */
int ova_unary(ova_conn *c, const char *path, const ova_md_entry *md, size_t md_count, int64_t timeout_ms,
              const uint8_t *req, size_t req_len, uint8_t **resp, size_t *resp_len, ova_status *st);

/* ---- Several addresses (instances of one service) ----
 * An ova_client holds the connection its calls go to and replaces it when the server sent GOAWAY
 * or it broke: the next connection goes to the next address in turn (the first one is picked at
 * random, so clients spread over the servers), skipping addresses that failed to connect moments
 * ago (100 ms, doubling up to 2 s); each address is tried at most once per call, and when all of
 * them failed moments ago the call first sleeps until the earliest pause ends (never a busy
 * loop). A replaced connection stays open, for reading, until its calls end. Single-threaded,
 * like ova_conn. */
typedef struct ova_client ova_client;

/* addresses: "host:port", or several separated by commas ("a:7443,b:7443"; [v6]:port and :port
 * as `ova --addr` takes them). opts applies to every connection (copied). Connects on first use.
 * NULL with *err (INVALID_ARGUMENT) when an address does not parse. */
ova_client *ova_client_new(const char *addresses, const ova_conn_options *opts, ova_status *err);
/* Closes every connection (calls must be freed first) and frees the client. */
void ova_client_free(ova_client *cl);
/* The connection for the next call (see above). NULL with *err (UNAVAILABLE, naming each address
 * that failed) when no address answered. Valid until the next ova_client_* call. */
ova_conn *ova_client_conn(ova_client *cl, ova_status *err);
/* ova_unary on ova_client_conn; a call the server did not process (it crossed a GOAWAY) is sent
 * again on the next connection (up to 3 connections). Calls in flight on a connection that breaks
 * fail with UNAVAILABLE. */
int ova_client_unary(ova_client *cl, const char *path, const ova_md_entry *md, size_t md_count, int64_t timeout_ms,
                     const uint8_t *req, size_t req_len, uint8_t **resp, size_t *resp_len, ova_status *st);
/* Index (in the list given to ova_client_new) of the current connection's address; -1 without one. */
int ova_client_current_address(const ova_client *cl);
/* How many connections the client has opened so far (each GOAWAY or lost connection adds one). */
size_t ova_client_connections_opened(const ova_client *cl);
/* The next connection goes to address index (tests; by default a random one). */
void ova_client_start_at(ova_client *cl, size_t index);
/* Parses one "host:port" ("[v6]:port", ":port" for 127.0.0.1) of len bytes into host and *port.
 * 0, or -1 when it is not an address with a port 1-65535 (or the host does not fit). */
int ova_parse_address(const char *text, size_t len, char *host, size_t host_size, int *port);

#ifdef __cplusplus
}
#endif
#endif
