/* ova_client: an OVA/1 client from docs/PROTOCOL.md. See ova_client.h. */
#define _POSIX_C_SOURCE 200809L
#include "ova_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

const uint8_t OVA_PREFACE[8] = {0x4f, 0x56, 0x41, 0x31, 0x0d, 0x0a, 0x1a, 0x0a};

static const char *const status_names[17] = {
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
    "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
    "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};

const char *ova_status_name(int code) {
    return (code >= 0 && code <= 16) ? status_names[code] : "UNKNOWN";
}

static int set_status(ova_status *st, int code, const char *fmt, ...) {
    if (st) {
        st->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(st->message, sizeof st->message, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int clamp_code(uint32_t code) { return code <= 16 ? (int)code : OVA_UNKNOWN; }

void ova_settings_default(ova_settings *s) {
    s->max_frame_size = 65536;
    s->max_concurrent_streams = 1024;
    s->initial_stream_window = 1048576;
    s->initial_connection_window = 16777216;
    s->max_message_size = 4194304;
    s->max_metadata_size = 16384;
}

uint32_t ova_fragment_threshold(const ova_settings *s) {
    uint32_t t = s->max_frame_size;
    if (s->initial_stream_window / 2 < t) t = s->initial_stream_window / 2;
    if (s->initial_connection_window / 2 < t) t = s->initial_connection_window / 2;
    return t;
}

/* ------------------------------------------------------------------------------------------ */
/* Buffers and big-endian helpers                                                             */

void ova_buf_free(ova_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static int buf_reserve(ova_buf *b, size_t extra) {
    if (extra > SIZE_MAX - b->len) return -1;
    size_t need = b->len + extra;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p) return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

/* Callers reserve first; these never fail. */
static void put_bytes(ova_buf *b, const void *p, size_t n) {
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
}
static void put_u8(ova_buf *b, uint8_t v) { b->data[b->len++] = v; }
static void put_u16(ova_buf *b, uint16_t v) {
    put_u8(b, (uint8_t)(v >> 8));
    put_u8(b, (uint8_t)v);
}
static void put_u32(ova_buf *b, uint32_t v) {
    put_u16(b, (uint16_t)(v >> 16));
    put_u16(b, (uint16_t)v);
}
static void put_u64(ova_buf *b, uint64_t v) {
    put_u32(b, (uint32_t)(v >> 32));
    put_u32(b, (uint32_t)v);
}

static uint16_t get_u16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static uint32_t get_u24(const uint8_t *p) { return ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2]; }
static uint32_t get_u32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* A bounds-checked reader over a payload. */
typedef struct {
    const uint8_t *p;
    size_t n, off;
} reader;

static size_t rd_left(const reader *r) { return r->n - r->off; }
static int rd_take(reader *r, size_t len, const uint8_t **out) {
    if (len > rd_left(r)) return -1;
    *out = r->p + r->off;
    r->off += len;
    return 0;
}
static int rd_u8(reader *r, uint8_t *v) {
    const uint8_t *p;
    if (rd_take(r, 1, &p)) return -1;
    *v = p[0];
    return 0;
}
static int rd_u16(reader *r, uint16_t *v) {
    const uint8_t *p;
    if (rd_take(r, 2, &p)) return -1;
    *v = get_u16(p);
    return 0;
}
static int rd_u32(reader *r, uint32_t *v) {
    const uint8_t *p;
    if (rd_take(r, 4, &p)) return -1;
    *v = get_u32(p);
    return 0;
}
static int rd_u64(reader *r, uint64_t *v) {
    uint32_t hi, lo;
    if (rd_u32(r, &hi) || rd_u32(r, &lo)) return -1;
    *v = ((uint64_t)hi << 32) | lo;
    return 0;
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF, no truncated sequence. */
static int utf8_valid(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp, min;
        if ((c & 0xE0) == 0xC0) {
            len = 2, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (n - i < len) return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += len;
    }
    return 1;
}

static int key_valid(const uint8_t *k, size_t n) {
    if (n == 0 || n > 255) return 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = k[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) return 0;
    }
    return 1;
}

static int key_is_bin(const uint8_t *k, size_t n) { return n >= 4 && memcmp(k + n - 4, "-bin", 4) == 0; }

/* ------------------------------------------------------------------------------------------ */
/* Encoding                                                                                   */

static int oom(ova_status *err) { return set_status(err, OVA_RESOURCE_EXHAUSTED, "out of memory"); }

/* Starts a frame of payload_len bytes (reserving room for all of it). */
static int frame_begin(ova_buf *b, size_t payload_len, uint8_t type, uint8_t flags, uint32_t stream_id,
                       ova_status *err) {
    if (payload_len > 0xFFFFFF) return set_status(err, OVA_RESOURCE_EXHAUSTED, "frame payload of %zu bytes", payload_len);
    if (stream_id > 0x7FFFFFFF) return set_status(err, OVA_INTERNAL, "stream id %u out of range", stream_id);
    if (buf_reserve(b, OVA_FRAME_HEADER_SIZE + payload_len)) return oom(err);
    put_u8(b, (uint8_t)(payload_len >> 16));
    put_u16(b, (uint16_t)payload_len);
    put_u8(b, type);
    put_u8(b, flags);
    put_u32(b, stream_id);
    return 0;
}

int ova_encode_preface(ova_buf *b) {
    if (buf_reserve(b, sizeof OVA_PREFACE)) return -1;
    put_bytes(b, OVA_PREFACE, sizeof OVA_PREFACE);
    return 0;
}

int ova_encode_settings(ova_buf *b, const ova_settings *s, ova_status *err) {
    const uint32_t v[6] = {s->max_frame_size, s->max_concurrent_streams, s->initial_stream_window,
                           s->initial_connection_window, s->max_message_size, s->max_metadata_size};
    if (frame_begin(b, 36, OVA_FRAME_SETTINGS, 0, 0, err)) return -1;
    for (int i = 0; i < 6; i++) {
        put_u16(b, (uint16_t)(i + 1));
        put_u32(b, v[i]);
    }
    return 0;
}

int ova_encode_settings_ack(ova_buf *b, ova_status *err) {
    return frame_begin(b, 0, OVA_FRAME_SETTINGS, OVA_FLAG_ACK, 0, err);
}

/* Size of a metadata block, or -1 with err for an entry the protocol cannot carry. */
static long metadata_size(const ova_md_entry *md, size_t count, ova_status *err) {
    if (count > 0xFFFF) return set_status(err, OVA_INVALID_ARGUMENT, "%zu metadata entries (at most 65535)", count);
    size_t size = 2;
    for (size_t i = 0; i < count; i++) {
        size_t kl = md[i].key ? strlen(md[i].key) : 0;
        if (!key_valid((const uint8_t *)md[i].key, kl))
            return set_status(err, OVA_INVALID_ARGUMENT, "invalid metadata key \"%s\"", md[i].key ? md[i].key : "");
        if (md[i].value_len > 0xFFFF)
            return set_status(err, OVA_INVALID_ARGUMENT, "metadata value of %s over 65535 bytes", md[i].key);
        if (!key_is_bin((const uint8_t *)md[i].key, kl) && !utf8_valid(md[i].value, md[i].value_len))
            return set_status(err, OVA_INVALID_ARGUMENT, "metadata value of %s is not UTF-8", md[i].key);
        size += 1 + kl + 2 + md[i].value_len;
        if (size > 0xFFFFFF) return set_status(err, OVA_RESOURCE_EXHAUSTED, "metadata too large");
    }
    return (long)size;
}

static void put_metadata(ova_buf *b, const ova_md_entry *md, size_t count) {
    put_u16(b, (uint16_t)count);
    for (size_t i = 0; i < count; i++) {
        size_t kl = strlen(md[i].key);
        put_u8(b, (uint8_t)kl);
        put_bytes(b, md[i].key, kl);
        put_u16(b, (uint16_t)md[i].value_len);
        put_bytes(b, md[i].value, md[i].value_len);
    }
}

int ova_encode_request_headers(ova_buf *b, uint32_t stream_id, const char *path, uint64_t timeout_us,
                               const ova_md_entry *md, size_t md_count, int end_stream, ova_status *err) {
    size_t pl = path ? strlen(path) : 0;
    if (pl == 0 || pl > 0xFFFF || !utf8_valid((const uint8_t *)path, pl))
        return set_status(err, OVA_INVALID_ARGUMENT, "invalid method path");
    if (stream_id == 0 || stream_id % 2 == 0) return set_status(err, OVA_INTERNAL, "invalid stream id %u", stream_id);
    long ms = metadata_size(md, md_count, err);
    if (ms < 0) return -1;
    if (frame_begin(b, 2 + pl + 8 + (size_t)ms, OVA_FRAME_HEADERS, end_stream ? OVA_FLAG_END_STREAM : 0, stream_id, err))
        return -1;
    put_u16(b, (uint16_t)pl);
    put_bytes(b, path, pl);
    put_u64(b, timeout_us);
    put_metadata(b, md, md_count);
    return 0;
}

int ova_encode_response_headers(ova_buf *b, uint32_t stream_id, const ova_md_entry *md, size_t md_count,
                                ova_status *err) {
    long ms = metadata_size(md, md_count, err);
    if (ms < 0) return -1;
    if (frame_begin(b, (size_t)ms, OVA_FRAME_HEADERS, 0, stream_id, err)) return -1;
    put_metadata(b, md, md_count);
    return 0;
}

int ova_encode_message(ova_buf *b, uint32_t stream_id, uint8_t flags, const uint8_t *data, size_t len,
                       ova_status *err) {
    if ((flags & OVA_FLAG_END_STREAM) && (flags & OVA_FLAG_CONTINUED))
        return set_status(err, OVA_INTERNAL, "END_STREAM with CONTINUED");
    if (frame_begin(b, len, OVA_FRAME_MESSAGE, flags, stream_id, err)) return -1;
    put_bytes(b, data, len);
    return 0;
}

int ova_encode_half_close(ova_buf *b, uint32_t stream_id, ova_status *err) {
    return frame_begin(b, 0, OVA_FRAME_HALF_CLOSE, 0, stream_id, err);
}

int ova_encode_trailers(ova_buf *b, uint32_t stream_id, int code, const char *message, const uint8_t *details,
                        size_t details_len, const ova_md_entry *md, size_t md_count, ova_status *err) {
    size_t ml = message ? strlen(message) : 0;
    if (ml > 0xFFFF) return set_status(err, OVA_INVALID_ARGUMENT, "status message over 65535 bytes");
    if (code < 0 || code > 16) return set_status(err, OVA_INVALID_ARGUMENT, "status code %d", code);
    long ms = metadata_size(md, md_count, err);
    if (ms < 0) return -1;
    if (details_len > 0xFFFFFF) return set_status(err, OVA_RESOURCE_EXHAUSTED, "details too large");
    if (frame_begin(b, 1 + 2 + ml + 4 + details_len + (size_t)ms, OVA_FRAME_TRAILERS, 0, stream_id, err)) return -1;
    put_u8(b, (uint8_t)code);
    put_u16(b, (uint16_t)ml);
    put_bytes(b, message, ml);
    put_u32(b, (uint32_t)details_len);
    put_bytes(b, details, details_len);
    put_metadata(b, md, md_count);
    return 0;
}

int ova_encode_reset(ova_buf *b, uint32_t stream_id, uint32_t code, ova_status *err) {
    if (frame_begin(b, 4, OVA_FRAME_RESET, 0, stream_id, err)) return -1;
    put_u32(b, code);
    return 0;
}

int ova_encode_window_update(ova_buf *b, uint32_t stream_id, uint32_t increment, ova_status *err) {
    if (increment == 0 || increment > OVA_MAX_WINDOW)
        return set_status(err, OVA_INTERNAL, "window increment %u out of range", increment);
    if (frame_begin(b, 4, OVA_FRAME_WINDOW_UPDATE, 0, stream_id, err)) return -1;
    put_u32(b, increment);
    return 0;
}

int ova_encode_ping(ova_buf *b, int ack, const uint8_t data[8], ova_status *err) {
    if (frame_begin(b, 8, OVA_FRAME_PING, ack ? OVA_FLAG_ACK : 0, 0, err)) return -1;
    put_bytes(b, data, 8);
    return 0;
}

int ova_encode_goaway(ova_buf *b, uint32_t last_stream_id, uint32_t code, const char *debug, ova_status *err) {
    size_t dl = debug ? strlen(debug) : 0;
    if (dl > 0xFFFF) dl = 0xFFFF;
    /* Cut at a character boundary so that the string stays valid UTF-8 (section 5.1). */
    while (dl > 0 && !utf8_valid((const uint8_t *)debug, dl)) dl--;
    if (frame_begin(b, 10 + dl, OVA_FRAME_GOAWAY, 0, 0, err)) return -1;
    put_u32(b, last_stream_id & 0x7FFFFFFF);
    put_u32(b, code);
    put_u16(b, (uint16_t)dl);
    put_bytes(b, debug, dl);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Payload parsing                                                                            */

static int malformed(ova_status *err, const char *what) {
    return set_status(err, OVA_INTERNAL, "malformed frame: %s", what);
}

/* Reads a string16; checks UTF-8. */
static int rd_string(reader *r, const uint8_t **s, size_t *n, ova_status *err, const char *what) {
    uint16_t len;
    if (rd_u16(r, &len) || rd_take(r, len, s)) return set_status(err, OVA_INTERNAL, "malformed frame: %s cut short", what);
    if (!utf8_valid(*s, len)) return set_status(err, OVA_INTERNAL, "invalid UTF-8 in %s", what);
    *n = len;
    return 0;
}

static char *dup_bytes(const uint8_t *p, size_t n) {
    char *s = malloc(n + 1);
    if (!s) return NULL;
    if (n) memcpy(s, p, n);
    s[n] = 0;
    return s;
}

void ova_metadata_free(ova_metadata *md) {
    if (!md) return;
    free(md->entries);
    free(md->storage_);
    memset(md, 0, sizeof *md);
}

const ova_md_entry *ova_metadata_get(const ova_metadata *md, const char *key) {
    for (size_t i = 0; md && i < md->count; i++)
        if (strcmp(md->entries[i].key, key) == 0) return &md->entries[i];
    return NULL;
}

int ova_parse_metadata(const uint8_t *p, size_t n, uint32_t max_size, ova_metadata *out, ova_status *err) {
    if (out) memset(out, 0, sizeof *out);
    if (n > max_size)
        return set_status(err, OVA_RESOURCE_EXHAUSTED, "metadata block of %zu bytes over MAX_METADATA_SIZE %u", n, max_size);
    reader r = {p, n, 0};
    uint16_t count;
    if (rd_u16(&r, &count)) return malformed(err, "metadata block cut short");
    /* Pass 1: validate. */
    for (uint32_t i = 0; i < count; i++) {
        uint8_t kl;
        uint16_t vl;
        const uint8_t *k, *v;
        if (rd_u8(&r, &kl) || rd_take(&r, kl, &k) || rd_u16(&r, &vl) || rd_take(&r, vl, &v))
            return malformed(err, "metadata entry cut short");
        if (!key_valid(k, kl)) return set_status(err, OVA_INTERNAL, "invalid metadata key");
        if (!key_is_bin(k, kl) && !utf8_valid(v, vl)) return set_status(err, OVA_INTERNAL, "invalid UTF-8 in metadata value");
    }
    if (rd_left(&r) != 0) return malformed(err, "bytes left over after the metadata block");
    if (!out || count == 0) return 0;
    /* Pass 2: copy (keys and values NUL-terminated). n bytes + 2 NULs per entry is enough. */
    out->entries = calloc(count, sizeof *out->entries);
    out->storage_ = malloc(n + 2u * count);
    if (!out->entries || !out->storage_) {
        ova_metadata_free(out);
        return oom(err);
    }
    uint8_t *w = out->storage_;
    r.off = 2;
    for (uint32_t i = 0; i < count; i++) {
        uint8_t kl = 0;
        uint16_t vl = 0;
        const uint8_t *k = NULL, *v = NULL;
        if (rd_u8(&r, &kl) || rd_take(&r, kl, &k) || rd_u16(&r, &vl) || rd_take(&r, vl, &v)) { /* checked in pass 1 */
            ova_metadata_free(out);
            return malformed(err, "metadata entry cut short");
        }
        memcpy(w, k, kl);
        w[kl] = 0;
        out->entries[i].key = (const char *)w;
        w += kl + 1;
        if (vl) memcpy(w, v, vl);
        w[vl] = 0;
        out->entries[i].value = w;
        out->entries[i].value_len = vl;
        w += vl + 1;
    }
    out->count = count;
    return 0;
}

static int settings_range_ok(uint16_t id, uint32_t v) {
    switch (id) {
    case 1: return v >= 16384 && v <= 16777215;
    case 3:
    case 4: return v <= OVA_MAX_WINDOW;
    default: return 1;
    }
}

int ova_parse_settings(const ova_frame *f, ova_settings *s, ova_status *err) {
    if (f->flags & OVA_FLAG_ACK) return f->length == 0 ? 0 : malformed(err, "SETTINGS ACK with a payload");
    if (f->length % 6) return malformed(err, "SETTINGS length not a multiple of 6");
    for (uint32_t off = 0; off < f->length; off += 6) {
        uint16_t id = get_u16(f->payload + off);
        uint32_t v = get_u32(f->payload + off + 2);
        if (!settings_range_ok(id, v)) return set_status(err, OVA_INTERNAL, "invalid setting 0x%x = %u", id, v);
        if (!s) continue;
        switch (id) {
        case 1: s->max_frame_size = v; break;
        case 2: s->max_concurrent_streams = v; break;
        case 3: s->initial_stream_window = v; break;
        case 4: s->initial_connection_window = v; break;
        case 5: s->max_message_size = v; break;
        case 6: s->max_metadata_size = v; break;
        default: break; /* unknown identifiers are ignored */
        }
    }
    return 0;
}

void ova_trailers_free(ova_trailers *t) {
    if (!t) return;
    free(t->message);
    free(t->details);
    ova_metadata_free(&t->metadata);
    memset(t, 0, sizeof *t);
}

int ova_parse_trailers(const ova_frame *f, uint32_t max_metadata, ova_trailers *t, ova_status *err) {
    if (t) memset(t, 0, sizeof *t);
    reader r = {f->payload, f->length, 0};
    uint8_t code;
    const uint8_t *msg, *details;
    size_t ml;
    uint32_t dl;
    if (rd_u8(&r, &code)) return malformed(err, "TRAILERS cut short");
    if (rd_string(&r, &msg, &ml, err, "TRAILERS status message")) return -1;
    if (rd_u32(&r, &dl) || rd_take(&r, dl, &details)) return malformed(err, "TRAILERS details cut short");
    if (!t) return ova_parse_metadata(r.p + r.off, rd_left(&r), max_metadata, NULL, err);
    t->code = clamp_code(code);
    t->message = dup_bytes(msg, ml);
    t->details = dl ? (uint8_t *)dup_bytes(details, dl) : NULL;
    t->details_len = dl;
    if (!t->message || (dl && !t->details)) {
        ova_trailers_free(t);
        return oom(err);
    }
    if (ova_parse_metadata(r.p + r.off, rd_left(&r), max_metadata, &t->metadata, err)) {
        ova_trailers_free(t);
        return -1;
    }
    return 0;
}

void ova_request_headers_free(ova_request_headers *h) {
    if (!h) return;
    free(h->path);
    ova_metadata_free(&h->metadata);
    memset(h, 0, sizeof *h);
}

int ova_parse_request_headers(const ova_frame *f, uint32_t max_metadata, ova_request_headers *h, ova_status *err) {
    if (h) memset(h, 0, sizeof *h);
    reader r = {f->payload, f->length, 0};
    const uint8_t *path;
    size_t pl;
    uint64_t timeout;
    if (rd_string(&r, &path, &pl, err, "path")) return -1;
    if (pl == 0) return malformed(err, "empty path");
    if (rd_u64(&r, &timeout)) return malformed(err, "HEADERS cut short");
    if (!h) return ova_parse_metadata(r.p + r.off, rd_left(&r), max_metadata, NULL, err);
    h->timeout_us = timeout;
    if (!(h->path = dup_bytes(path, pl))) return oom(err);
    if (ova_parse_metadata(r.p + r.off, rd_left(&r), max_metadata, &h->metadata, err)) {
        ova_request_headers_free(h);
        return -1;
    }
    return 0;
}

int ova_parse_u32(const ova_frame *f, uint32_t *v, ova_status *err) {
    if (f->length != 4) return malformed(err, "payload is not 4 bytes");
    *v = get_u32(f->payload);
    return 0;
}

int ova_parse_goaway(const ova_frame *f, ova_goaway *g, ova_status *err) {
    reader r = {f->payload, f->length, 0};
    uint32_t last, code;
    const uint8_t *dbg;
    size_t dl;
    if (rd_u32(&r, &last) || rd_u32(&r, &code)) return malformed(err, "GOAWAY cut short");
    if (rd_string(&r, &dbg, &dl, err, "GOAWAY debug message")) return -1;
    if (rd_left(&r)) return malformed(err, "bytes left over after GOAWAY");
    if (g) {
        g->last_stream_id = last & 0x7FFFFFFF;
        g->code = code;
        size_t n = dl < sizeof g->debug - 1 ? dl : sizeof g->debug - 1;
        while (n > 0 && !utf8_valid(dbg, n)) n--; /* keep the truncated copy valid UTF-8 */
        memcpy(g->debug, dbg, n);
        g->debug[n] = 0;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Decoder                                                                                    */

void ova_decoder_init(ova_decoder *d, ova_role role, uint32_t max_frame_size, uint32_t max_metadata_size) {
    memset(d, 0, sizeof *d);
    d->role = role;
    d->max_frame_size = max_frame_size;
    d->max_metadata_size = max_metadata_size;
}

void ova_decoder_free(ova_decoder *d) {
    free(d->buf);
    d->buf = NULL;
    d->start = d->len = d->cap = 0;
}

int ova_decoder_feed(ova_decoder *d, const uint8_t *data, size_t len, ova_status *err) {
    if (d->failed) return set_status(err, OVA_INTERNAL, "decoder already failed");
    /* Server role: the preface is checked byte by byte as it arrives. */
    while (d->role == OVA_ROLE_SERVER && d->preface_seen < sizeof OVA_PREFACE && len > 0) {
        if (*data != OVA_PREFACE[d->preface_seen]) {
            d->failed = 1;
            return set_status(err, OVA_INTERNAL, "bad preface");
        }
        d->preface_seen++, data++, len--;
    }
    if (len == 0) return 0;
    if (d->start > 0 && d->start == d->len) d->start = d->len = 0;
    if (d->cap - d->len < len) {
        /* Compact, then grow. */
        if (d->start > 0) {
            memmove(d->buf, d->buf + d->start, d->len - d->start);
            d->len -= d->start;
            d->start = 0;
        }
        if (d->cap - d->len < len) {
            if (len > SIZE_MAX / 2 - d->len) return oom(err);
            size_t cap = d->cap ? d->cap : 16384;
            while (cap - d->len < len) cap *= 2;
            uint8_t *p = realloc(d->buf, cap);
            if (!p) return oom(err);
            d->buf = p;
            d->cap = cap;
        }
    }
    memcpy(d->buf + d->len, data, len);
    d->len += len;
    return 0;
}

static int decoder_fail(ova_decoder *d) {
    d->failed = 1;
    return -1;
}

int ova_decoder_next(ova_decoder *d, ova_frame *f, ova_status *err) {
    if (d->failed) return set_status(err, OVA_INTERNAL, "decoder already failed");
    for (;;) {
        size_t avail = d->len - d->start;
        if (avail < OVA_FRAME_HEADER_SIZE) return 0;
        const uint8_t *h = d->buf + d->start;
        uint32_t length = get_u24(h);
        uint8_t type = h[3], flags = h[4];
        uint32_t sid = get_u32(h + 5) & 0x7FFFFFFF;
        /* Rule 1: frame size, from the header alone (unknown types too). */
        if (length > d->max_frame_size) {
            set_status(err, OVA_RESOURCE_EXHAUSTED, "frame of %u bytes over MAX_FRAME_SIZE %u", length, d->max_frame_size);
            return decoder_fail(d);
        }
        if (avail - OVA_FRAME_HEADER_SIZE < length) return 0;
        d->start += OVA_FRAME_HEADER_SIZE + length;
        /* Rule 2: unknown types are skipped. */
        if (type > OVA_FRAME_GOAWAY) continue;
        f->type = type;
        f->flags = flags;
        f->stream_id = sid;
        f->length = length;
        f->payload = h + OVA_FRAME_HEADER_SIZE;
        /* Rule 4: stream 0 and odd ids. */
        int conn_only = type == OVA_FRAME_SETTINGS || type == OVA_FRAME_PING || type == OVA_FRAME_GOAWAY;
        if (conn_only && sid != 0) {
            set_status(err, OVA_INTERNAL, "invalid stream id: frame type 0x%x on stream %u", type, sid);
            return decoder_fail(d);
        }
        if (!conn_only && type != OVA_FRAME_WINDOW_UPDATE && sid == 0) {
            set_status(err, OVA_INTERNAL, "invalid stream id: frame type 0x%x on stream 0", type);
            return decoder_fail(d);
        }
        if (sid != 0 && sid % 2 == 0) {
            set_status(err, OVA_INTERNAL, "invalid stream id: even stream %u", sid);
            return decoder_fail(d);
        }
        /* Rule 5: direction. */
        if (d->role == OVA_ROLE_CLIENT && type == OVA_FRAME_HALF_CLOSE) {
            malformed(err, "HALF_CLOSE from a server");
            return decoder_fail(d);
        }
        if (d->role == OVA_ROLE_SERVER && type == OVA_FRAME_TRAILERS) {
            malformed(err, "TRAILERS from a client");
            return decoder_fail(d);
        }
        /* Rule 6: payloads. */
        int bad = 0;
        uint32_t v;
        switch (type) {
        case OVA_FRAME_SETTINGS: bad = ova_parse_settings(f, NULL, err); break;
        case OVA_FRAME_HEADERS:
            bad = d->role == OVA_ROLE_CLIENT ? ova_parse_metadata(f->payload, length, d->max_metadata_size, NULL, err)
                                             : ova_parse_request_headers(f, d->max_metadata_size, NULL, err);
            break;
        case OVA_FRAME_MESSAGE:
            if (d->role == OVA_ROLE_SERVER && (flags & OVA_FLAG_END_STREAM) && (flags & OVA_FLAG_CONTINUED))
                bad = malformed(err, "MESSAGE with END_STREAM and CONTINUED");
            break;
        case OVA_FRAME_HALF_CLOSE:
            if (length) bad = malformed(err, "HALF_CLOSE with a payload");
            break;
        case OVA_FRAME_TRAILERS: bad = ova_parse_trailers(f, d->max_metadata_size, NULL, err); break;
        case OVA_FRAME_RESET: bad = ova_parse_u32(f, &v, err); break;
        case OVA_FRAME_WINDOW_UPDATE:
            bad = ova_parse_u32(f, &v, err);
            if (!bad && (v == 0 || v > OVA_MAX_WINDOW))
                bad = set_status(err, OVA_INTERNAL, "malformed frame: WINDOW_UPDATE increment %u", v);
            break;
        case OVA_FRAME_PING:
            if (length != 8) bad = malformed(err, "PING payload is not 8 bytes");
            break;
        case OVA_FRAME_GOAWAY: bad = ova_parse_goaway(f, NULL, err); break;
        default: break;
        }
        if (bad) return decoder_fail(d);
        return 1;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Client                                                                                     */

typedef struct msg_node {
    struct msg_node *next;
    size_t len;
    uint32_t stream_credit;     /* stream credit owed once consumed: the bytes not credited early */
    uint32_t connection_credit; /* its final fragment (earlier ones were credited on arrival) */
    uint8_t data[];
} msg_node;

struct ova_call {
    ova_conn *conn;
    struct ova_call *next; /* in conn->calls while open */
    uint32_t id;
    int64_t deadline_ms; /* 0: none */
    int64_t send_window;
    int64_t recv_window;
    uint32_t recv_unacked;   /* bytes consumed by the application, not yet credited to the stream */
    uint32_t fragments_owed; /* stream credit of the fragments under reassembly, not yet returned */
    size_t queued_bytes;     /* connection credit of the queued messages (not yet returned) */
    int half_closed;
    int ended; /* the call is over (TRAILERS, RESET, error) */
    int not_processed; /* its id was above the GOAWAY's last stream id: the server never ran it */
    int got_headers, got_message;
    ova_status status;
    ova_metadata headers, trailers;
    uint8_t *details;
    size_t details_len;
    ova_buf partial; /* fragments of the message being reassembled (credited to the connection) */
    msg_node *head, *tail;
};

struct ova_conn {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    ova_decoder dec;
    ova_settings local, peer;
    int got_settings;
    int64_t send_window; /* connection */
    int64_t recv_window;
    uint32_t recv_unacked;
    uint32_t next_id, highest_id;
    int goaway;
    ova_goaway goaway_frame;
    int broken;
    ova_status broken_status;
    ova_call *calls;
    ova_buf out;
};

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void ssl_error_text(char *buf, size_t n) {
    unsigned long e = ERR_get_error();
    if (e) ERR_error_string_n(e, buf, n);
    else snprintf(buf, n, "%s", errno ? strerror(errno) : "connection closed");
    ERR_clear_error();
}

/* Waits until the socket is ready for what OpenSSL wants; -2 on timeout, -1 on error. */
static int wait_io(int fd, int want_write, int64_t deadline_ms) {
    for (;;) {
        int timeout = -1;
        if (deadline_ms) {
            int64_t left = deadline_ms - now_ms();
            if (left <= 0) return -2;
            timeout = left > 60000 ? 60000 : (int)left;
        }
        struct pollfd p = {fd, (short)(want_write ? POLLOUT : POLLIN), 0};
        int r = poll(&p, 1, timeout);
        if (r > 0) return 0;
        if (r < 0 && errno != EINTR) return -1;
    }
}

/* Marks the connection broken: every open call fails with UNAVAILABLE. */
static void conn_break(ova_conn *c, int code, const char *fmt, ...) {
    if (c->broken) return;
    c->broken = 1;
    c->broken_status.code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->broken_status.message, sizeof c->broken_status.message, fmt, ap);
    va_end(ap);
    for (ova_call *call = c->calls; call; call = call->next) {
        if (!call->ended) {
            call->ended = 1;
            set_status(&call->status, OVA_UNAVAILABLE, "connection lost: %s", c->broken_status.message);
        }
    }
    c->calls = NULL;
}

/* OVA_TRACE=1 in the environment prints every frame sent and received to stderr. */
static int trace_enabled(void) {
    static int enabled = -1;
    if (enabled < 0) {
        const char *v = getenv("OVA_TRACE");
        enabled = v && *v && strcmp(v, "0") != 0;
    }
    return enabled;
}

static const char *frame_name(uint8_t type) {
    static const char *const names[] = {"SETTINGS", "HEADERS", "MESSAGE", "HALF_CLOSE", "TRAILERS",
                                        "RESET", "WINDOW_UPDATE", "PING", "GOAWAY"};
    return type <= OVA_FRAME_GOAWAY ? names[type] : "UNKNOWN";
}

static void trace_frame(const char *dir, uint8_t type, uint8_t flags, uint32_t sid, uint32_t len, const uint8_t *p) {
    fprintf(stderr, "ova %s %-13s stream %u flags 0x%02x length %u", dir, frame_name(type), sid, flags, len);
    if ((type == OVA_FRAME_WINDOW_UPDATE || type == OVA_FRAME_RESET) && len == 4) fprintf(stderr, " value %u", get_u32(p));
    if (type == OVA_FRAME_TRAILERS && len >= 1) fprintf(stderr, " status %s", ova_status_name(p[0]));
    fputc('\n', stderr);
}

/* Traces the frames of an outgoing buffer (which may start with the preface). */
static void trace_out(const uint8_t *p, size_t n) {
    if (n >= 8 && memcmp(p, OVA_PREFACE, 8) == 0) {
        fprintf(stderr, "ova -> preface\n");
        p += 8, n -= 8;
    }
    while (n >= OVA_FRAME_HEADER_SIZE) {
        uint32_t len = get_u24(p);
        if (n - OVA_FRAME_HEADER_SIZE < len) break;
        trace_frame("->", p[3], p[4], get_u32(p + 5) & 0x7FFFFFFF, len, p + OVA_FRAME_HEADER_SIZE);
        p += OVA_FRAME_HEADER_SIZE + len, n -= OVA_FRAME_HEADER_SIZE + len;
    }
}

/* Writes all of data; on failure the connection is broken. */
static int conn_write(ova_conn *c, const uint8_t *data, size_t len) {
    if (c->broken) return -1;
    int64_t deadline = now_ms() + 10000;
    while (len > 0) {
        int chunk = len > (1 << 30) ? (1 << 30) : (int)len;
        ERR_clear_error();
        errno = 0;
        int n = SSL_write(c->ssl, data, chunk);
        if (n > 0) {
            data += n;
            len -= (size_t)n;
            continue;
        }
        int e = SSL_get_error(c->ssl, n);
        if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
            int w = wait_io(c->fd, e == SSL_ERROR_WANT_WRITE, deadline);
            if (w == 0) continue;
            conn_break(c, OVA_UNAVAILABLE, w == -2 ? "write timed out" : "poll failed");
            return -1;
        }
        char text[256];
        ssl_error_text(text, sizeof text);
        conn_break(c, OVA_UNAVAILABLE, "write failed: %s", text);
        return -1;
    }
    return 0;
}

/* Sends what is in c->out. */
static int conn_flush(ova_conn *c) {
    if (c->out.len && trace_enabled()) trace_out(c->out.data, c->out.len);
    int r = c->out.len ? conn_write(c, c->out.data, c->out.len) : 0;
    c->out.len = 0;
    return r;
}

/* A connection error detected by us: GOAWAY(0, code, why), close (section 12.1). */
static void conn_error(ova_conn *c, const ova_status *why) {
    if (c->broken) return;
    c->out.len = 0;
    if (ova_encode_goaway(&c->out, 0, (uint32_t)why->code, why->message, NULL) == 0) conn_flush(c);
    conn_break(c, why->code, "connection error (%s): %s", ova_status_name(why->code), why->message);
}

static void call_remove(ova_conn *c, ova_call *call) {
    for (ova_call **p = &c->calls; *p; p = &(*p)->next) {
        if (*p == call) {
            *p = call->next;
            break;
        }
    }
    call->next = NULL;
}

static ova_call *call_find(ova_conn *c, uint32_t id) {
    for (ova_call *call = c->calls; call; call = call->next)
        if (call->id == id) return call;
    return NULL;
}

/* Gives connection credit back for n consumed bytes, batched, but never holding back T or more:
 * with nothing waiting the window stays at least T, so the server can always send a fragment of
 * T (section 9.3). */
static void credit_connection(ova_conn *c, size_t n) {
    c->recv_unacked += (uint32_t)n;
    uint32_t threshold = c->local.initial_connection_window / 4;
    uint32_t t = ova_fragment_threshold(&c->local);
    if (t < threshold) threshold = t;
    if (c->recv_unacked >= threshold && c->recv_unacked > 0) {
        if (ova_encode_window_update(&c->out, 0, c->recv_unacked, NULL) == 0) {
            c->recv_window += c->recv_unacked;
            c->recv_unacked = 0;
        }
    }
}

/* Returns stream credit by the rules of section 9.3. R1: the fragments under reassembly are
 * credited only while no complete message waits for the application (call->head). R2: with
 * nothing waiting and the window below T, everything owed goes back at once. Consumed credit is
 * batched up to T (at most T held back while the application waits; increments stay large, R3). */
static void credit_stream(ova_conn *c, ova_call *call) {
    if (call->ended || c->broken) return;
    uint32_t t = ova_fragment_threshold(&c->local);
    int waiting = call->head != NULL;
    uint32_t owed = call->recv_unacked + (waiting ? 0 : call->fragments_owed);
    if (owed == 0) return;
    if ((!waiting && call->recv_window < (int64_t)t) || call->recv_unacked >= (t ? t : 1)) {
        if (ova_encode_window_update(&c->out, call->id, owed, NULL) == 0) {
            call->recv_window += owed;
            call->recv_unacked = 0;
            if (!waiting) call->fragments_owed = 0;
        }
    }
}

static void call_drop_queue(ova_call *call) {
    for (msg_node *m = call->head, *next; m; m = next) {
        next = m->next;
        free(m);
    }
    call->head = call->tail = NULL;
}

/* Ends a call locally (stream error, deadline, cancel): RESET(CANCELLED) if still open. */
static void call_fail(ova_call *call, int code, const char *fmt, ...) {
    ova_conn *c = call->conn;
    if (!call->ended) {
        call->ended = 1;
        if (c) {
            call_remove(c, call);
            if (!c->broken && ova_encode_reset(&c->out, call->id, OVA_CANCELLED, NULL) == 0) conn_flush(c);
        }
    }
    call->status.code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(call->status.message, sizeof call->status.message, fmt, ap);
    va_end(ap);
    /* Bytes of an ended stream go back to the connection at once (section 9). */
    if (c && !c->broken) {
        credit_connection(c, call->queued_bytes); /* fragments were credited on arrival */
        conn_flush(c);
    }
    call->queued_bytes = 0;
    call_drop_queue(call);
    call->partial.len = 0;
}

/* Handles one decoded frame. */
static void conn_handle(ova_conn *c, const ova_frame *f) {
    ova_status err;
    if (!c->got_settings && !(f->type == OVA_FRAME_SETTINGS && !(f->flags & OVA_FLAG_ACK))) {
        set_status(&err, OVA_INTERNAL, "first frame from the server is type 0x%x, not SETTINGS", f->type);
        conn_error(c, &err);
        return;
    }
    if (f->stream_id > c->highest_id) {
        set_status(&err, OVA_INTERNAL, "frame type 0x%x for stream %u, never opened", f->type, f->stream_id);
        conn_error(c, &err);
        return;
    }
    ova_call *call = f->stream_id ? call_find(c, f->stream_id) : NULL;
    switch (f->type) {
    case OVA_FRAME_SETTINGS:
        if (f->flags & OVA_FLAG_ACK) return; /* nothing to track */
        if (c->got_settings) {
            set_status(&err, OVA_INTERNAL, "second SETTINGS frame");
            conn_error(c, &err);
            return;
        }
        if (ova_parse_settings(f, &c->peer, &err)) {
            conn_error(c, &err);
            return;
        }
        c->got_settings = 1;
        c->send_window = c->peer.initial_connection_window;
        if (ova_encode_settings_ack(&c->out, NULL) == 0) conn_flush(c);
        return;
    case OVA_FRAME_PING:
        if (!(f->flags & OVA_FLAG_ACK) && ova_encode_ping(&c->out, 1, f->payload, NULL) == 0) conn_flush(c);
        return;
    case OVA_FRAME_GOAWAY: {
        ova_goaway g;
        if (ova_parse_goaway(f, &g, &err)) {
            conn_error(c, &err);
            return;
        }
        c->goaway = 1;
        c->goaway_frame = g;
        /* Calls above last stream id were not processed: UNAVAILABLE, safe to retry. */
        for (ova_call *x = c->calls, *next; x; x = next) {
            next = x->next;
            if (x->id > g.last_stream_id) {
                x->ended = 1;
                x->not_processed = 1;
                call_remove(c, x);
                set_status(&x->status, OVA_UNAVAILABLE, "not processed: server sent GOAWAY (last stream %u, %s, \"%s\")",
                           g.last_stream_id, ova_status_name(clamp_code(g.code)), g.debug);
                credit_connection(c, x->queued_bytes);
                x->queued_bytes = 0;
                call_drop_queue(x);
            }
        }
        conn_flush(c);
        return;
    }
    case OVA_FRAME_WINDOW_UPDATE: {
        uint32_t inc = get_u32(f->payload);
        int64_t *w = f->stream_id == 0 ? &c->send_window : (call ? &call->send_window : NULL);
        if (!w) return; /* ended stream: ignored */
        if (*w + inc > OVA_MAX_WINDOW) {
            set_status(&err, OVA_INTERNAL, "window overflow on stream %u", f->stream_id);
            conn_error(c, &err);
            return;
        }
        *w += inc;
        return;
    }
    case OVA_FRAME_MESSAGE:
        /* Flow control first: the bytes count against the connection window even for ended streams. */
        c->recv_window -= f->length;
        if (call) call->recv_window -= f->length;
        if (c->recv_window < 0 || (call && call->recv_window < 0)) {
            set_status(&err, OVA_RESOURCE_EXHAUSTED, "flow-control window exceeded on stream %u", f->stream_id);
            conn_error(c, &err);
            return;
        }
        if (!call) {
            credit_connection(c, f->length);
            conn_flush(c);
            return;
        }
        if (call->partial.len + f->length > c->local.max_message_size) {
            uint32_t n = f->length;
            call_fail(call, OVA_RESOURCE_EXHAUSTED, "response message over MAX_MESSAGE_SIZE %u", c->local.max_message_size);
            credit_connection(c, n);
            conn_flush(c);
            return;
        }
        if (buf_reserve(&call->partial, f->length)) {
            uint32_t n = f->length;
            call_fail(call, OVA_RESOURCE_EXHAUSTED, "out of memory");
            credit_connection(c, n);
            conn_flush(c);
            return;
        }
        put_bytes(&call->partial, f->payload, f->length);
        if (f->flags & OVA_FLAG_CONTINUED) {
            /* The connection gets a fragment's credit at once (the stream window alone bounds an
             * unread stream); the stream only by R1/R2, so an unread stream stops at its window. */
            call->fragments_owed += f->length;
            credit_connection(c, f->length);
            credit_stream(c, call);
            conn_flush(c);
            return;
        }
        {
            msg_node *m = malloc(sizeof *m + call->partial.len);
            if (!m) {
                uint32_t n = f->length;
                call->partial.len = 0;
                call_fail(call, OVA_RESOURCE_EXHAUSTED, "out of memory");
                credit_connection(c, n);
                conn_flush(c);
                return;
            }
            m->next = NULL;
            m->len = call->partial.len;
            m->stream_credit = f->length + call->fragments_owed;
            m->connection_credit = f->length;
            call->fragments_owed = 0;
            if (m->len) memcpy(m->data, call->partial.data, m->len);
            call->partial.len = 0;
            if (call->tail) call->tail->next = m;
            else call->head = m;
            call->tail = m;
            call->queued_bytes += m->connection_credit;
            call->got_message = 1;
        }
        return;
    case OVA_FRAME_HEADERS:
        /* At most once, before any MESSAGE; others are ignored (section 6.2). */
        if (!call || call->got_headers || call->got_message || call->partial.len) return;
        if (ova_parse_metadata(f->payload, f->length, c->local.max_metadata_size, &call->headers, &err)) {
            conn_error(c, &err);
            return;
        }
        call->got_headers = 1;
        return;
    case OVA_FRAME_TRAILERS: {
        if (!call) return;
        ova_trailers t;
        if (ova_parse_trailers(f, c->local.max_metadata_size, &t, &err)) {
            conn_error(c, &err);
            return;
        }
        call->ended = 1;
        call_remove(c, call);
        call->status.code = t.code;
        snprintf(call->status.message, sizeof call->status.message, "%s", t.message);
        call->trailers = t.metadata;
        call->details = t.details;
        call->details_len = t.details_len;
        free(t.message);
        call->partial.len = 0; /* a message cut by TRAILERS is dropped (its fragments were credited) */
        return;
    }
    case OVA_FRAME_RESET: {
        if (!call) return;
        uint32_t code = get_u32(f->payload);
        call->ended = 1; /* RESET ends the stream in both directions: send nothing back */
        call_remove(c, call);
        call_fail(call, clamp_code(code), "stream reset by the server (%s)", ova_status_name(clamp_code(code)));
        return;
    }
    default: return;
    }
}

/* Processes buffered frames, else reads from the socket (until deadline_ms, 0: none).
 * 0: progress; -1: connection broken; -2: deadline passed. */
static int conn_pump(ova_conn *c, int64_t deadline_ms) {
    if (c->broken) return -1;
    ova_frame f;
    ova_status err;
    int r = ova_decoder_next(&c->dec, &f, &err);
    if (r == 1) {
        if (trace_enabled()) trace_frame("<-", f.type, f.flags, f.stream_id, f.length, f.payload);
        conn_handle(c, &f);
        return c->broken ? -1 : 0;
    }
    if (r < 0) {
        conn_error(c, &err);
        return -1;
    }
    uint8_t buf[16384];
    for (;;) {
        ERR_clear_error();
        errno = 0;
        int n = SSL_read(c->ssl, buf, sizeof buf);
        if (n > 0) {
            if (ova_decoder_feed(&c->dec, buf, (size_t)n, &err)) {
                conn_error(c, &err);
                return -1;
            }
            return 0;
        }
        int e = SSL_get_error(c->ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            int w = wait_io(c->fd, e == SSL_ERROR_WANT_WRITE, deadline_ms);
            if (w == 0) continue;
            if (w == -2) return -2;
            conn_break(c, OVA_UNAVAILABLE, "poll failed: %s", strerror(errno));
            return -1;
        }
        if (c->goaway)
            conn_break(c, OVA_UNAVAILABLE, "connection closed after GOAWAY (%s, \"%s\")",
                       ova_status_name(clamp_code(c->goaway_frame.code)), c->goaway_frame.debug);
        else if (e == SSL_ERROR_ZERO_RETURN)
            conn_break(c, OVA_UNAVAILABLE, "connection closed by the server");
        else if ((e == SSL_ERROR_SYSCALL && errno == 0 && ERR_peek_error() == 0) ||
                 (e == SSL_ERROR_SSL && ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
            ERR_clear_error();
            conn_break(c, OVA_UNAVAILABLE, "connection closed by the server (without TLS close_notify)");
        }
        else {
            char text[256];
            ssl_error_text(text, sizeof text);
            conn_break(c, OVA_UNAVAILABLE, "read failed: %s", text);
        }
        return -1;
    }
}

static int is_ip_literal(const char *host) {
    unsigned char tmp[16];
    return inet_pton(AF_INET, host, tmp) == 1 || inet_pton(AF_INET6, host, tmp) == 1;
}

static int tcp_connect(const char *host, int port, int64_t deadline, ova_status *err) {
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int gai = getaddrinfo(host, portstr, &hints, &res);
    if (gai) return set_status(err, OVA_UNAVAILABLE, "resolving %s: %s", host, gai_strerror(gai));
    int fd = -1;
    char why[128] = "no address";
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd < 0) continue;
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
        if (errno == EINPROGRESS) {
            int w = wait_io(fd, 1, deadline);
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            if (w == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0) break;
            snprintf(why, sizeof why, "%s", w == -2 ? "timed out" : strerror(soerr ? soerr : errno));
        } else {
            snprintf(why, sizeof why, "%s", strerror(errno));
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) return set_status(err, OVA_UNAVAILABLE, "connecting to %s:%d: %s", host, port, why);
    return fd;
}

ova_conn *ova_connect(const char *host, int port, const ova_conn_options *opts, ova_status *err) {
    ova_conn_options o = {0};
    if (opts) o = *opts;
    if (!host || port <= 0 || port > 65535) {
        set_status(err, OVA_INVALID_ARGUMENT, "invalid address");
        return NULL;
    }
    const char *name = o.server_name ? o.server_name : host;
    int64_t deadline = now_ms() + (o.connect_timeout_ms > 0 ? o.connect_timeout_ms : 10000);

    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) signal(SIGPIPE, SIG_IGN);

    ova_conn *c = calloc(1, sizeof *c);
    if (!c) {
        oom(err);
        return NULL;
    }
    c->fd = -1;
    if (o.settings) c->local = *o.settings;
    else ova_settings_default(&c->local);
    ova_settings_default(&c->peer);
    c->recv_window = c->local.initial_connection_window;
    c->next_id = 1;
    ova_decoder_init(&c->dec, OVA_ROLE_CLIENT, c->local.max_frame_size, c->local.max_metadata_size);

    c->ctx = SSL_CTX_new(TLS_client_method());
    if (!c->ctx) goto tls_fail;
    SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    if (o.ca_file) {
        if (SSL_CTX_load_verify_locations(c->ctx, o.ca_file, NULL) != 1) {
            char text[256];
            ssl_error_text(text, sizeof text);
            set_status(err, OVA_INVALID_ARGUMENT, "loading CA file %s: %s", o.ca_file, text);
            goto fail;
        }
    } else if (SSL_CTX_set_default_verify_paths(c->ctx) != 1) {
        goto tls_fail;
    }
    static const unsigned char alpn[] = {5, 'o', 'v', 'a', '/', '1'};
    if (SSL_CTX_set_alpn_protos(c->ctx, alpn, sizeof alpn) != 0) goto tls_fail;
    SSL_CTX_set_mode(c->ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

    if ((c->fd = tcp_connect(host, port, deadline, err)) < 0) goto fail;

    c->ssl = SSL_new(c->ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) goto tls_fail;
    X509_VERIFY_PARAM *param = SSL_get0_param(c->ssl);
    if (is_ip_literal(name)) {
        if (X509_VERIFY_PARAM_set1_ip_asc(param, name) != 1) goto tls_fail;
    } else {
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (SSL_set1_host(c->ssl, name) != 1 || SSL_set_tlsext_host_name(c->ssl, name) != 1) goto tls_fail;
    }
    for (;;) {
        ERR_clear_error();
        errno = 0;
        int r = SSL_connect(c->ssl);
        if (r == 1) break;
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            int w = wait_io(c->fd, e == SSL_ERROR_WANT_WRITE, deadline);
            if (w == 0) continue;
            set_status(err, w == -2 ? OVA_DEADLINE_EXCEEDED : OVA_UNAVAILABLE, "TLS handshake with %s:%d %s", host, port,
                       w == -2 ? "timed out" : "failed");
            goto fail;
        }
        long vr = SSL_get_verify_result(c->ssl);
        char text[256];
        ssl_error_text(text, sizeof text);
        if (vr != X509_V_OK)
            set_status(err, OVA_UNAVAILABLE, "TLS handshake with %s:%d: certificate verification failed: %s", host, port,
                       X509_verify_cert_error_string(vr));
        else
            set_status(err, OVA_UNAVAILABLE, "TLS handshake with %s:%d failed: %s", host, port, text);
        goto fail;
    }
    {
        const unsigned char *sel = NULL;
        unsigned int sel_len = 0;
        SSL_get0_alpn_selected(c->ssl, &sel, &sel_len);
        /* A server that negotiates ALPN must select ova/1 (section 2). */
        if (sel_len != 0 && !(sel_len == 5 && memcmp(sel, "ova/1", 5) == 0)) {
            set_status(err, OVA_UNAVAILABLE, "server selected ALPN \"%.*s\", not \"ova/1\"", (int)sel_len, sel);
            goto fail;
        }
    }
    /* Preface + SETTINGS, then wait for the server's SETTINGS (section 3). */
    if (ova_encode_preface(&c->out)) {
        oom(err);
        goto fail;
    }
    if (ova_encode_settings(&c->out, &c->local, err)) goto fail;
    if (conn_flush(c)) {
        *err = c->broken_status;
        goto fail;
    }
    while (!c->got_settings) {
        int r = conn_pump(c, deadline);
        if (r == -2) {
            set_status(err, OVA_DEADLINE_EXCEEDED, "no SETTINGS from %s:%d in time", host, port);
            goto fail;
        }
        if (r == -1) {
            *err = c->broken_status;
            goto fail;
        }
    }
    return c;

tls_fail: {
    char text[256];
    ssl_error_text(text, sizeof text);
    set_status(err, OVA_INTERNAL, "TLS setup failed: %s", text);
}
fail:
    c->broken = 1;
    ova_conn_close(c);
    return NULL;
}

void ova_conn_close(ova_conn *c) {
    if (!c) return;
    if (!c->broken && c->ssl) {
        c->out.len = 0;
        if (ova_encode_goaway(&c->out, 0, OVA_OK, "client closing", NULL) == 0) conn_flush(c);
        SSL_shutdown(c->ssl);
    }
    for (ova_call *call = c->calls; call; call = call->next) call->conn = NULL;
    if (c->ssl) SSL_free(c->ssl);
    if (c->ctx) SSL_CTX_free(c->ctx);
    if (c->fd >= 0) close(c->fd);
    ova_decoder_free(&c->dec);
    ova_buf_free(&c->out);
    free(c);
}

const ova_settings *ova_conn_peer_settings(const ova_conn *c) { return &c->peer; }

int ova_conn_goaway_received(const ova_conn *c, ova_goaway *g) {
    if (c->goaway && g) *g = c->goaway_frame;
    return c->goaway;
}

ova_call *ova_call_start(ova_conn *c, const char *path, const ova_md_entry *md, size_t md_count,
                         int64_t timeout_ms, ova_status *err) {
    if (c->broken) {
        set_status(err, OVA_UNAVAILABLE, "connection lost: %s", c->broken_status.message);
        return NULL;
    }
    if (c->goaway) {
        set_status(err, OVA_UNAVAILABLE, "server sent GOAWAY: no new calls on this connection");
        return NULL;
    }
    if (c->next_id > 0x7FFFFFFF) {
        set_status(err, OVA_UNAVAILABLE, "stream ids exhausted: open a new connection");
        return NULL;
    }
    for (size_t i = 0; i < md_count; i++) {
        if (md[i].key && strncmp(md[i].key, "ova-", 4) == 0) {
            set_status(err, OVA_INVALID_ARGUMENT, "metadata key %s is reserved", md[i].key);
            return NULL;
        }
    }
    uint64_t timeout_us = 0;
    int64_t deadline = 0;
    if (timeout_ms > 0) {
        deadline = now_ms() + timeout_ms;
        timeout_us = (uint64_t)timeout_ms * 1000;
    }
    long ms = metadata_size(md, md_count, err);
    if (ms < 0) return NULL;
    if ((uint64_t)ms > c->peer.max_metadata_size) {
        set_status(err, OVA_RESOURCE_EXHAUSTED, "request metadata of %ld bytes over the server's MAX_METADATA_SIZE %u", ms,
                   c->peer.max_metadata_size);
        return NULL;
    }
    size_t pl = path ? strlen(path) : 0;
    if (2 + pl + 8 + (size_t)ms > c->peer.max_frame_size) {
        set_status(err, OVA_RESOURCE_EXHAUSTED, "request HEADERS over the server's MAX_FRAME_SIZE %u", c->peer.max_frame_size);
        return NULL;
    }
    ova_call *call = calloc(1, sizeof *call);
    if (!call) {
        oom(err);
        return NULL;
    }
    call->conn = c;
    call->id = c->next_id;
    call->deadline_ms = deadline;
    call->send_window = c->peer.initial_stream_window;
    call->recv_window = c->local.initial_stream_window;
    c->out.len = 0;
    if (ova_encode_request_headers(&c->out, call->id, path, timeout_us, md, md_count, 0, err)) {
        free(call);
        return NULL;
    }
    c->next_id += 2;
    c->highest_id = call->id;
    call->next = c->calls;
    c->calls = call;
    if (conn_flush(c)) {
        set_status(err, OVA_UNAVAILABLE, "connection lost: %s", c->broken_status.message);
        call->conn = NULL;
        ova_call_free(call);
        return NULL;
    }
    return call;
}

/* Checks the call's deadline; fails it with DEADLINE_EXCEEDED when passed. */
static int call_check_deadline(ova_call *call) {
    if (!call->ended && call->deadline_ms && now_ms() >= call->deadline_ms) {
        call_fail(call, OVA_DEADLINE_EXCEEDED, "deadline exceeded");
        return -1;
    }
    return 0;
}

int ova_call_send(ova_call *call, const uint8_t *msg, size_t len, int end_stream) {
    ova_conn *c = call->conn;
    if (call->ended) return -1;
    if (!c) return call_fail(call, OVA_UNAVAILABLE, "connection closed"), -1;
    if (call->half_closed) return call_fail(call, OVA_INTERNAL, "send after half-close"), -1;
    if (len > c->peer.max_message_size) {
        call_fail(call, OVA_RESOURCE_EXHAUSTED, "request message of %zu bytes over the server's MAX_MESSAGE_SIZE %u", len,
                  c->peer.max_message_size);
        return -1;
    }
    size_t off = 0;
    int64_t threshold = ova_fragment_threshold(&c->peer);
    do {
        if (call_check_deadline(call)) return -1;
        int64_t room = c->peer.max_frame_size;
        if (call->send_window < room) room = call->send_window;
        if (c->send_window < room) room = c->send_window;
        size_t rest = len - off;
        int last = (int64_t)rest <= room;
        /* S1 (section 9.3): no non-final fragment below the server's T; wait for WINDOW_UPDATE. */
        if (!last && (room <= 0 || room < threshold)) {
            int r = conn_pump(c, call->deadline_ms);
            if (r == -2) continue; /* the deadline check fails the call */
            if (r == -1 || call->ended) return -1;
            continue;
        }
        size_t n = last ? rest : (size_t)room;
        uint8_t flags = last ? (end_stream ? OVA_FLAG_END_STREAM : 0) : OVA_FLAG_CONTINUED;
        c->out.len = 0;
        ova_status err;
        if (ova_encode_message(&c->out, call->id, flags, msg + off, n, &err)) {
            call_fail(call, err.code, "%s", err.message);
            return -1;
        }
        if (conn_flush(c)) return -1;
        call->send_window -= (int64_t)n;
        c->send_window -= (int64_t)n;
        off += n;
    } while (off < len);
    if (end_stream) call->half_closed = 1;
    return 0;
}

int ova_call_half_close(ova_call *call) {
    ova_conn *c = call->conn;
    if (call->ended) return -1;
    if (!c) return call_fail(call, OVA_UNAVAILABLE, "connection closed"), -1;
    if (call->half_closed) return 0;
    c->out.len = 0;
    if (ova_encode_half_close(&c->out, call->id, NULL) || conn_flush(c)) return -1;
    call->half_closed = 1;
    return 0;
}

int ova_call_recv(ova_call *call, uint8_t **msg, size_t *len) {
    *msg = NULL;
    *len = 0;
    for (;;) {
        ova_conn *c = call->conn;
        if (call->head) {
            msg_node *m = call->head;
            call->head = m->next;
            if (!call->head) call->tail = NULL;
            call->queued_bytes -= m->connection_credit;
            /* The application consumed the message: return its credit (section 9.3); taking the
             * last waiting one may let R2 return the fragments of the next too. */
            if (c && !c->broken) {
                call->recv_unacked += m->stream_credit;
                credit_stream(c, call);
                credit_connection(c, m->connection_credit);
                conn_flush(c);
            }
            uint8_t *data = malloc(m->len ? m->len : 1);
            if (!data) {
                free(m);
                call_fail(call, OVA_RESOURCE_EXHAUSTED, "out of memory");
                return -1;
            }
            if (m->len) memcpy(data, m->data, m->len);
            *msg = data;
            *len = m->len;
            free(m);
            return 1;
        }
        if (call->ended) return call->status.code == OVA_OK ? 0 : -1;
        if (!c) {
            call_fail(call, OVA_UNAVAILABLE, "connection closed");
            return -1;
        }
        if (call_check_deadline(call)) return -1;
        int r = conn_pump(c, call->deadline_ms);
        if (r == -1 && !call->ended) {
            call->ended = 1;
            set_status(&call->status, OVA_UNAVAILABLE, "connection lost: %s", c->broken_status.message);
        }
    }
}

const ova_status *ova_call_status(const ova_call *call) { return &call->status; }

const uint8_t *ova_call_error_details(const ova_call *call, size_t *len) {
    *len = call->details_len;
    return call->details;
}

const ova_metadata *ova_call_headers(const ova_call *call) { return &call->headers; }
const ova_metadata *ova_call_trailers(const ova_call *call) { return &call->trailers; }

void ova_call_free(ova_call *call) {
    if (!call) return;
    if (!call->ended) call_fail(call, OVA_CANCELLED, "cancelled");
    if (call->conn && !call->conn->broken && call->queued_bytes) {
        credit_connection(call->conn, call->queued_bytes);
        conn_flush(call->conn);
    }
    if (call->conn) call_remove(call->conn, call);
    call_drop_queue(call);
    ova_buf_free(&call->partial);
    ova_metadata_free(&call->headers);
    ova_metadata_free(&call->trailers);
    free(call->details);
    free(call);
}

int ova_call_not_processed(const ova_call *call) { return call->not_processed; }

/* The rest of a unary call once started; frees the call. *not_processed: the server never ran it. */
static int unary_finish(ova_call *call, const uint8_t *req, size_t req_len, uint8_t **resp, size_t *resp_len,
                        ova_status *st, int *not_processed) {
    uint8_t *m = NULL;
    size_t n = 0;
    int count = 0;
    if (ova_call_send(call, req, req_len, 1) == 0) {
        int r;
        while ((r = ova_call_recv(call, &m, &n)) == 1) {
            if (count++ == 0) {
                *resp = m;
                *resp_len = n;
            } else {
                free(m);
            }
        }
    }
    *st = *ova_call_status(call);
    if (st->code == OVA_OK && count != 1) set_status(st, OVA_INTERNAL, "unary call got %d responses", count);
    if (st->code != OVA_OK) {
        free(*resp);
        *resp = NULL;
        *resp_len = 0;
    }
    if (not_processed) *not_processed = call->not_processed;
    ova_call_free(call);
    return st->code;
}

int ova_unary(ova_conn *c, const char *path, const ova_md_entry *md, size_t md_count, int64_t timeout_ms,
              const uint8_t *req, size_t req_len, uint8_t **resp, size_t *resp_len, ova_status *st) {
    *resp = NULL;
    *resp_len = 0;
    ova_call *call = ova_call_start(c, path, md, md_count, timeout_ms, st);
    if (!call) return st->code;
    return unary_finish(call, req, req_len, resp, resp_len, st, NULL);
}

/* ---- Several addresses ---- */

#define CLIENT_BACKOFF_MS 100
#define CLIENT_MAX_BACKOFF_MS 2000
/* Connections a unary call the server did not start may try (more GOAWAYs in a row: give up). */
#define CLIENT_NOT_STARTED_ATTEMPTS 3

typedef struct {
    char host[256];
    int port;
    int64_t pause_until_ms; /* skipped until then after a failed connect; 0: not pausing */
    int failures;
} client_address;

struct ova_client {
    client_address *addresses;
    size_t count, next;
    ova_conn_options opts;
    char *ca_file, *server_name; /* copies: opts points at them */
    ova_settings settings;
    ova_conn *conn;
    int current; /* index of conn's address, -1 without one */
    ova_conn **retired; /* connections that got GOAWAY or broke, kept while their calls run */
    size_t retired_count;
    size_t opened;
};

int ova_parse_address(const char *text, size_t len, char *host, size_t host_size, int *port) {
    while (len && *text == ' ') text++, len--;
    while (len && text[len - 1] == ' ') len--;
    size_t colon = len;
    for (size_t i = len; i > 0; i--)
        if (text[i - 1] == ':') {
            colon = i - 1;
            break;
        }
    if (colon == len || colon + 1 == len || len - colon - 1 > 5) return -1;
    int p = 0;
    for (size_t i = colon + 1; i < len; i++) {
        if (text[i] < '0' || text[i] > '9') return -1;
        p = p * 10 + (text[i] - '0');
    }
    if (p < 1 || p > 65535) return -1;
    const char *h = text;
    size_t hn = colon;
    if (hn >= 2 && h[0] == '[' && h[hn - 1] == ']') h++, hn -= 2;
    if (hn == 0) h = "127.0.0.1", hn = 9;
    if (hn >= host_size) return -1;
    memcpy(host, h, hn);
    host[hn] = 0;
    *port = p;
    return 0;
}

ova_client *ova_client_new(const char *addresses, const ova_conn_options *opts, ova_status *err) {
    ova_client *cl = calloc(1, sizeof *cl);
    if (!cl) {
        oom(err);
        return NULL;
    }
    cl->current = -1;
    size_t n = 1;
    for (const char *p = addresses ? addresses : ""; *p; p++) n += *p == ',';
    cl->addresses = calloc(n, sizeof *cl->addresses);
    if (!cl->addresses) {
        free(cl);
        oom(err);
        return NULL;
    }
    const char *p = addresses ? addresses : "";
    for (size_t i = 0; i < n; i++) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        client_address *a = &cl->addresses[i];
        if (ova_parse_address(p, len, a->host, sizeof a->host, &a->port)) {
            set_status(err, OVA_INVALID_ARGUMENT, "address %zu of \"%s\": expected host:port", i + 1,
                       addresses ? addresses : "");
            ova_client_free(cl);
            return NULL;
        }
        p = end ? end + 1 : p + len;
    }
    cl->count = n;
    if (opts) cl->opts = *opts;
    if ((opts && opts->ca_file && !(cl->ca_file = strdup(opts->ca_file))) ||
        (opts && opts->server_name && !(cl->server_name = strdup(opts->server_name)))) {
        ova_client_free(cl);
        oom(err);
        return NULL;
    }
    cl->opts.ca_file = cl->ca_file;
    cl->opts.server_name = cl->server_name;
    if (opts && opts->settings) {
        cl->settings = *opts->settings;
        cl->opts.settings = &cl->settings;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    cl->next = (size_t)(ts.tv_nsec ^ getpid()) % n; /* a random start spreads clients over servers */
    return cl;
}

void ova_client_start_at(ova_client *cl, size_t index) {
    if (cl->count) cl->next = index % cl->count;
}

void ova_client_free(ova_client *cl) {
    if (!cl) return;
    ova_conn_close(cl->conn);
    for (size_t i = 0; i < cl->retired_count; i++) ova_conn_close(cl->retired[i]);
    free(cl->retired);
    free(cl->addresses);
    free(cl->ca_file);
    free(cl->server_name);
    free(cl);
}

int ova_client_current_address(const ova_client *cl) { return cl->conn ? cl->current : -1; }

size_t ova_client_connections_opened(const ova_client *cl) { return cl->opened; }

/* Handles whatever the server sent while nobody was reading (a GOAWAY, its close), without
 * waiting: so the next call does not go to a connection that is already going away. */
static void conn_take_pending(ova_conn *c) {
    int64_t now = now_ms();
    while (conn_pump(c, now ? now : 1) == 0) {
    }
}

/* Closes the retired connections whose calls are all over. */
static void client_sweep(ova_client *cl) {
    size_t kept = 0;
    for (size_t i = 0; i < cl->retired_count; i++) {
        if (cl->retired[i]->calls) cl->retired[kept++] = cl->retired[i];
        else ova_conn_close(cl->retired[i]);
    }
    cl->retired_count = kept;
}

/* The next address in turn not pausing and not tried yet; when all of those pause, the one
 * whose pause ends first (*due set to when). -1 when every address was tried. */
static int client_pick(ova_client *cl, const unsigned char *tried, int64_t now, int64_t *due) {
    int earliest = -1;
    *due = 0;
    for (size_t k = 0; k < cl->count; k++) {
        size_t i = (cl->next + k) % cl->count;
        if (tried[i]) continue;
        if (cl->addresses[i].pause_until_ms <= now) {
            cl->next = (i + 1) % cl->count;
            return (int)i;
        }
        if (earliest < 0 || cl->addresses[i].pause_until_ms < cl->addresses[earliest].pause_until_ms) earliest = (int)i;
    }
    if (earliest >= 0) {
        cl->next = ((size_t)earliest + 1) % cl->count;
        *due = cl->addresses[earliest].pause_until_ms;
    }
    return earliest;
}

ova_conn *ova_client_conn(ova_client *cl, ova_status *err) {
    client_sweep(cl);
    if (cl->conn) {
        conn_take_pending(cl->conn);
        if (!cl->conn->broken && !cl->conn->goaway) return cl->conn;
        /* Not used for new calls; its calls in progress (at most last stream id) run to their end. */
        ova_conn **grown = realloc(cl->retired, (cl->retired_count + 1) * sizeof *grown);
        if (!grown) {
            oom(err);
            return NULL;
        }
        cl->retired = grown;
        cl->retired[cl->retired_count++] = cl->conn;
        cl->conn = NULL;
        client_sweep(cl);
    }
    unsigned char *tried = calloc(cl->count ? cl->count : 1, 1);
    if (!tried) {
        oom(err);
        return NULL;
    }
    char summary[sizeof err->message] = "";
    size_t failures = 0;
    ova_status last = {0};
    for (;;) {
        int64_t due;
        int i = client_pick(cl, tried, now_ms(), &due);
        if (i < 0) break;
        if (due) {
            /* Every address failed moments ago: wait for the first pause to end, never spin. */
            if (failures) break;
            int64_t left = due - now_ms();
            if (left > 0) {
                struct timespec ts = {(time_t)(left / 1000), (long)(left % 1000) * 1000000L};
                while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
                }
            }
        }
        tried[i] = 1;
        client_address *a = &cl->addresses[i];
        ova_conn *c = ova_connect(a->host, a->port, &cl->opts, &last);
        if (c) {
            a->failures = 0;
            a->pause_until_ms = 0;
            cl->conn = c;
            cl->current = i;
            cl->opened++;
            free(tried);
            return c;
        }
        a->failures++;
        int64_t pause = CLIENT_BACKOFF_MS << (a->failures > 5 ? 5 : a->failures - 1);
        a->pause_until_ms = now_ms() + (pause > CLIENT_MAX_BACKOFF_MS ? CLIENT_MAX_BACKOFF_MS : pause);
        size_t used = strlen(summary);
        /* A long list is cut at the status message's size. */
        if (snprintf(summary + used, sizeof summary - used, "%s%s:%d: %s", failures ? "; " : "", a->host, a->port,
                     last.message) < 0)
            summary[used] = 0;
        failures++;
    }
    free(tried);
    if (failures == 1) *err = last;
    else set_status(err, OVA_UNAVAILABLE, "no server address answered: %s", summary);
    return NULL;
}

int ova_client_unary(ova_client *cl, const char *path, const ova_md_entry *md, size_t md_count, int64_t timeout_ms,
                     const uint8_t *req, size_t req_len, uint8_t **resp, size_t *resp_len, ova_status *st) {
    *resp = NULL;
    *resp_len = 0;
    for (int attempt = 1;; attempt++) {
        ova_conn *c = ova_client_conn(cl, st);
        if (!c) return st->code;
        ova_call *call = ova_call_start(c, path, md, md_count, timeout_ms, st);
        if (!call) return st->code;
        int not_processed = 0;
        int code = unary_finish(call, req, req_len, resp, resp_len, st, &not_processed);
        /* The server never saw it (it crossed a GOAWAY): the request goes again on the next connection. */
        if (code == OVA_UNAVAILABLE && not_processed && attempt < CLIENT_NOT_STARTED_ATTEMPTS) continue;
        return code;
    }
}
