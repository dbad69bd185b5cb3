/* ova_codec_test: checks the C frame codec against docs/test-vectors/frames.hex.
 *
 *   ova_codec_test path/to/frames.hex
 *
 * - every valid vector decodes (fed at once and one byte at a time), and re-encoding the decoded
 *   frames with the library's encoders gives the same bytes (except decode-only vectors);
 * - every invalid vector is rejected with the stated GOAWAY code;
 * - decoded values of a few vectors are checked field by field, and a few vectors are encoded
 *   from scratch;
 * - mutated vectors never crash the decoder (bounds checks). */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ova/v1/common.pb-c.h"
#include "ova/v1/echo.pb-c.h"
#include "ova_client.h"

typedef struct {
    char name[64];
    char direction[16];
    int valid, decode_only;
    int goaway_code; /* invalid vectors */
    uint8_t *bytes;
    size_t len;
} vector;

static vector vectors[128];
static size_t nvectors;
static int failures, checks;

#define CHECK(cond, ...)                                                                                               \
    do {                                                                                                               \
        checks++;                                                                                                      \
        if (!(cond)) {                                                                                                 \
            failures++;                                                                                                \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                                       \
            fprintf(stderr, __VA_ARGS__);                                                                              \
            fputc('\n', stderr);                                                                                       \
        }                                                                                                              \
    } while (0)

static int code_by_name(const char *name) {
    for (int i = 0; i <= 16; i++)
        if (strcmp(ova_status_name(i), name) == 0) return i;
    return -1;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = tolower(c);
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

static void load(const char *path) {
    FILE *fp = fopen(path, "r");
    if (!fp) {
        perror(path);
        exit(2);
    }
    char line[1024];
    vector *v = NULL;
    while (fgets(line, sizeof line, fp)) {
        char *hash = strchr(line, '#');
        if (hash) *hash = 0;
        if (line[0] == '@' || line[0] == '!') {
            if (nvectors == sizeof vectors / sizeof vectors[0]) {
                fprintf(stderr, "too many vectors\n");
                exit(2);
            }
            v = &vectors[nvectors++];
            memset(v, 0, sizeof *v);
            v->valid = line[0] == '@';
            char w1[64] = "", w2[16] = "", w3[64] = "", w4[64] = "";
            int n = sscanf(line + 1, "%63s %15s %63s %63s", w1, w2, w3, w4);
            if (n < 2) {
                fprintf(stderr, "bad vector line: %s\n", line);
                exit(2);
            }
            snprintf(v->name, sizeof v->name, "%s", w1);
            snprintf(v->direction, sizeof v->direction, "%s", w2);
            if (v->valid) {
                v->decode_only = n >= 3 && strcmp(w3, "decode-only") == 0;
            } else {
                v->goaway_code = n >= 4 ? code_by_name(w4) : -1;
                if (v->goaway_code < 0) {
                    fprintf(stderr, "bad GOAWAY code in: %s\n", line);
                    exit(2);
                }
            }
            continue;
        }
        for (char *p = line; *p;) {
            if (isspace((unsigned char)*p)) {
                p++;
                continue;
            }
            int hi = hexval(p[0]), lo = p[1] ? hexval(p[1]) : -1;
            if (!v || hi < 0 || lo < 0) {
                fprintf(stderr, "bad hex line: %s\n", line);
                exit(2);
            }
            uint8_t *nb = realloc(v->bytes, v->len + 1);
            if (!nb) exit(2);
            v->bytes = nb;
            v->bytes[v->len++] = (uint8_t)(hi << 4 | lo);
            p += 2;
        }
    }
    fclose(fp);
}

static vector *find(const char *name) {
    for (size_t i = 0; i < nvectors; i++)
        if (strcmp(vectors[i].name, name) == 0) return &vectors[i];
    fprintf(stderr, "FAIL: no vector %s\n", name);
    failures++;
    return NULL;
}

/* The decoder's role and the bytes it is fed for a vector. */
static ova_role role_of(const vector *v) { return strcmp(v->direction, "s2c") == 0 ? OVA_ROLE_CLIENT : OVA_ROLE_SERVER; }

static uint8_t *input_of(const vector *v, size_t *len) {
    int prepend = strcmp(v->direction, "c2s") == 0;
    *len = v->len + (prepend ? 8 : 0);
    uint8_t *in = malloc(*len);
    if (!in) exit(2);
    if (prepend) memcpy(in, OVA_PREFACE, 8);
    memcpy(in + (prepend ? 8 : 0), v->bytes, v->len);
    return in;
}

/* Re-encodes a decoded frame with the library's encoders. */
static int reencode(const ova_frame *f, ova_role role, ova_buf *out, ova_status *err) {
    switch (f->type) {
    case OVA_FRAME_SETTINGS: {
        if (f->flags & OVA_FLAG_ACK) return ova_encode_settings_ack(out, err);
        ova_settings s;
        ova_settings_default(&s);
        if (ova_parse_settings(f, &s, err)) return -1;
        return ova_encode_settings(out, &s, err);
    }
    case OVA_FRAME_HEADERS: {
        if (role == OVA_ROLE_SERVER) {
            ova_request_headers h;
            if (ova_parse_request_headers(f, 16384, &h, err)) return -1;
            int r = ova_encode_request_headers(out, f->stream_id, h.path, h.timeout_us, h.metadata.entries,
                                               h.metadata.count, f->flags & OVA_FLAG_END_STREAM, err);
            ova_request_headers_free(&h);
            return r;
        }
        ova_metadata md;
        if (ova_parse_metadata(f->payload, f->length, 16384, &md, err)) return -1;
        int r = ova_encode_response_headers(out, f->stream_id, md.entries, md.count, err);
        ova_metadata_free(&md);
        return r;
    }
    case OVA_FRAME_MESSAGE: return ova_encode_message(out, f->stream_id, f->flags & 3, f->payload, f->length, err);
    case OVA_FRAME_HALF_CLOSE: return ova_encode_half_close(out, f->stream_id, err);
    case OVA_FRAME_TRAILERS: {
        ova_trailers t;
        if (ova_parse_trailers(f, 16384, &t, err)) return -1;
        int r = ova_encode_trailers(out, f->stream_id, t.code, t.message, t.details, t.details_len, t.metadata.entries,
                                    t.metadata.count, err);
        ova_trailers_free(&t);
        return r;
    }
    case OVA_FRAME_RESET: {
        uint32_t code;
        return ova_parse_u32(f, &code, err) ? -1 : ova_encode_reset(out, f->stream_id, code, err);
    }
    case OVA_FRAME_WINDOW_UPDATE: {
        uint32_t inc;
        return ova_parse_u32(f, &inc, err) ? -1 : ova_encode_window_update(out, f->stream_id, inc, err);
    }
    case OVA_FRAME_PING: return ova_encode_ping(out, f->flags & OVA_FLAG_ACK, f->payload, err);
    case OVA_FRAME_GOAWAY: {
        ova_goaway g;
        return ova_parse_goaway(f, &g, err) ? -1 : ova_encode_goaway(out, g.last_stream_id, g.code, g.debug, err);
    }
    default: return -1;
    }
}

/* Decodes in chunks of `step` bytes (0: all at once). Returns the number of frames, or -1 with err. */
static int decode_all(const vector *v, size_t step, ova_buf *reencoded, ova_status *err) {
    size_t len;
    uint8_t *in = input_of(v, &len);
    ova_decoder d;
    ova_decoder_init(&d, role_of(v), 65536, 16384);
    if (reencoded && strcmp(v->direction, "raw-c2s") == 0) ova_encode_preface(reencoded);
    int frames = 0, failed = 0;
    size_t off = 0;
    if (step == 0) step = len;
    while (!failed && off < len) {
        size_t n = len - off < step ? len - off : step;
        if (ova_decoder_feed(&d, in + off, n, err)) {
            failed = 1;
            break;
        }
        off += n;
        ova_frame f;
        int r;
        while ((r = ova_decoder_next(&d, &f, err)) == 1) {
            frames++;
            if (reencoded && reencode(&f, role_of(v), reencoded, err)) {
                failed = 1;
                break;
            }
        }
        if (r < 0) failed = 1;
    }
    /* Everything must have been consumed: no partial frame left. */
    if (!failed && d.len != d.start) {
        snprintf(err->message, sizeof err->message, "%zu bytes left undecoded", d.len - d.start);
        err->code = -1;
        failed = 1;
    }
    ova_decoder_free(&d);
    free(in);
    return failed ? -1 : frames;
}

static void test_vectors(void) {
    for (size_t i = 0; i < nvectors; i++) {
        vector *v = &vectors[i];
        ova_status err = {0, ""};
        if (v->valid) {
            ova_buf re = {0};
            int frames = decode_all(v, 0, &re, &err);
            CHECK(frames > 0, "%s: decode failed: %s", v->name, err.message);
            int frames1 = decode_all(v, 1, NULL, &err);
            CHECK(frames1 == frames, "%s: byte-by-byte decode gave %d frames (%s)", v->name, frames1, err.message);
            int frames7 = decode_all(v, 7, NULL, &err);
            CHECK(frames7 == frames, "%s: 7-byte-chunk decode gave %d frames", v->name, frames7);
            if (frames > 0 && !v->decode_only)
                CHECK(re.len == v->len && memcmp(re.data, v->bytes, v->len) == 0, "%s: re-encoding differs (%zu vs %zu bytes)",
                      v->name, re.len, v->len);
            ova_buf_free(&re);
        } else {
            int frames = decode_all(v, 0, NULL, &err);
            CHECK(frames < 0 && err.code == v->goaway_code, "%s: expected rejection with %s, got %d frames, code %d (%s)",
                  v->name, ova_status_name(v->goaway_code), frames, err.code, err.message);
            frames = decode_all(v, 1, NULL, &err);
            CHECK(frames < 0 && err.code == v->goaway_code, "%s: byte-by-byte: expected %s, got code %d", v->name,
                  ova_status_name(v->goaway_code), err.code);
            if (frames < 0) printf("  rejected %-28s %s: %s\n", v->name, ova_status_name(err.code), err.message);
        }
    }
}

/* Decodes the single/first frames of a vector into fs (payloads stay valid while d lives). */
static int frames_of(const vector *v, ova_decoder *d, ova_frame *fs, int max) {
    size_t len;
    uint8_t *in = input_of(v, &len);
    ova_status err;
    ova_decoder_init(d, role_of(v), 65536, 16384);
    int n = 0;
    if (ova_decoder_feed(d, in, len, &err) == 0)
        while (n < max && ova_decoder_next(d, &fs[n], &err) == 1) n++;
    free(in);
    return n;
}

static void test_values(void) {
    vector *v;
    ova_decoder d;
    ova_frame f[4];
    ova_status err;

    /* Encoding from scratch: preface + default SETTINGS is connection-start. */
    if ((v = find("connection-start"))) {
        ova_buf b = {0};
        ova_settings s;
        ova_settings_default(&s);
        CHECK(ova_encode_preface(&b) == 0 && ova_encode_settings(&b, &s, &err) == 0, "encode settings");
        CHECK(b.len == v->len && memcmp(b.data, v->bytes, b.len) == 0, "connection-start: encoding differs");
        ova_buf_free(&b);
    }
    if ((v = find("headers-request"))) {
        ova_buf b = {0};
        ova_md_entry md[] = {{"authorization", (const uint8_t *)"Bearer abc.def.ghi", 18},
                             {"user-agent", (const uint8_t *)"ova-python/1.0", 14}};
        CHECK(ova_encode_request_headers(&b, 1, "ova.v1.Echo/Unary", 5000000, md, 2, 0, &err) == 0, "encode headers");
        CHECK(b.len == v->len && memcmp(b.data, v->bytes, b.len) == 0, "headers-request: encoding differs");
        ova_buf_free(&b);
    }
    if ((v = find("message-request-end-stream"))) {
        ova_buf b = {0};
        Ova__V1__EchoRequest req = OVA__V1__ECHO_REQUEST__INIT;
        req.text = "hi";
        uint8_t pb[16];
        size_t n = ova__v1__echo_request__pack(&req, pb);
        CHECK(ova_encode_message(&b, 1, OVA_FLAG_END_STREAM, pb, n, &err) == 0, "encode message");
        CHECK(b.len == v->len && memcmp(b.data, v->bytes, b.len) == 0, "message-request-end-stream: encoding differs");
        ova_buf_free(&b);
    }
    /* Decoded values. */
    if ((v = find("settings-server")) && frames_of(v, &d, f, 1) == 1) {
        ova_settings s;
        ova_settings_default(&s);
        CHECK(ova_parse_settings(&f[0], &s, &err) == 0, "settings-server: %s", err.message);
        CHECK(s.max_frame_size == 1048576 && s.max_concurrent_streams == 100 && s.initial_stream_window == 2097152 &&
                  s.initial_connection_window == 33554432 && s.max_message_size == 8388608 && s.max_metadata_size == 32768,
              "settings-server values");
        ova_decoder_free(&d);
    }
    if ((v = find("settings-partial")) && frames_of(v, &d, f, 1) == 1) {
        ova_settings s;
        ova_settings_default(&s);
        CHECK(ova_parse_settings(&f[0], &s, &err) == 0 && s.max_message_size == 1048576 && s.max_frame_size == 65536,
              "settings-partial values");
        ova_decoder_free(&d);
    }
    if ((v = find("message-fragments")) && frames_of(v, &d, f, 2) == 2) {
        CHECK((f[0].flags & OVA_FLAG_CONTINUED) && !(f[1].flags & OVA_FLAG_CONTINUED), "fragments flags");
        uint8_t whole[16];
        memcpy(whole, f[0].payload, f[0].length);
        memcpy(whole + f[0].length, f[1].payload, f[1].length);
        Ova__V1__EchoResponse *r = ova__v1__echo_response__unpack(NULL, f[0].length + f[1].length, whole);
        CHECK(r && strcmp(r->text, "hello") == 0, "message-fragments: reassembled EchoResponse");
        if (r) ova__v1__echo_response__free_unpacked(r, NULL);
        ova_decoder_free(&d);
    }
    if ((v = find("trailers-error")) && frames_of(v, &d, f, 1) == 1) {
        ova_trailers t;
        CHECK(ova_parse_trailers(&f[0], 16384, &t, &err) == 0, "trailers-error: %s", err.message);
        CHECK(t.code == OVA_INVALID_ARGUMENT && strcmp(t.message, "email: invalid") == 0, "trailers-error status");
        Ova__V1__ErrorDetails *ed = ova__v1__error_details__unpack(NULL, t.details_len, t.details);
        CHECK(ed && ed->n_field_violations == 1 && strcmp(ed->field_violations[0]->field, "email") == 0 &&
                  strcmp(ed->field_violations[0]->description, "not an address") == 0 && strcmp(ed->reason, "BAD_EMAIL") == 0,
              "trailers-error details");
        if (ed) ova__v1__error_details__free_unpacked(ed, NULL);
        const ova_md_entry *e = ova_metadata_get(&t.metadata, "trace-bin");
        CHECK(e && e->value_len == 3 && e->value[0] == 1 && e->value[1] == 2 && e->value[2] == 0xff, "trace-bin value");
        ova_trailers_free(&t);
        ova_decoder_free(&d);
    }
    if ((v = find("trailers-ok")) && frames_of(v, &d, f, 1) == 1) {
        ova_trailers t;
        CHECK(ova_parse_trailers(&f[0], 16384, &t, &err) == 0 && t.code == 0 && t.details_len == 0, "trailers-ok");
        const ova_md_entry *e = ova_metadata_get(&t.metadata, "ova-request-id");
        CHECK(e && strcmp((const char *)e->value, "req-7f3a") == 0, "trailers-ok request id");
        ova_trailers_free(&t);
        ova_decoder_free(&d);
    }
    if ((v = find("reset-unknown-code")) && frames_of(v, &d, f, 1) == 1) {
        uint32_t code;
        CHECK(ova_parse_u32(&f[0], &code, &err) == 0 && code == 4660 && strcmp(ova_status_name((int)code), "UNKNOWN") == 0,
              "reset-unknown-code decodes as UNKNOWN");
        ova_decoder_free(&d);
    }
    if ((v = find("unknown-type-skipped")) && frames_of(v, &d, f, 2) == 1) {
        CHECK(f[0].type == OVA_FRAME_PING && f[0].payload[7] == 42, "unknown type skipped, PING 42 decoded");
        ova_decoder_free(&d);
    }
    if ((v = find("ignored-bits")) && frames_of(v, &d, f, 1) == 1) {
        CHECK(f[0].type == OVA_FRAME_PING && !(f[0].flags & OVA_FLAG_ACK) && f[0].stream_id == 0 && f[0].payload[7] == 7,
              "ignored-bits: PING 7, not ACK, stream 0");
        ova_decoder_free(&d);
    }
    if ((v = find("goaway-graceful")) && frames_of(v, &d, f, 1) == 1) {
        ova_goaway g;
        CHECK(ova_parse_goaway(&f[0], &g, &err) == 0 && g.last_stream_id == 9 && g.code == 0 &&
                  strcmp(g.debug, "shutting down") == 0,
              "goaway-graceful values");
        ova_decoder_free(&d);
    }
}

/* Mutations: flip, truncate, extend; the decoder must return, never crash or over-read
 * (run under -fsanitize=address,undefined by `make check`). */
static void test_mutations(void) {
    unsigned seed = 12345;
    int rejected = 0, total = 0;
    for (size_t i = 0; i < nvectors; i++) {
        const vector *v = &vectors[i];
        for (int round = 0; round < 300; round++) {
            size_t len = v->len;
            uint8_t *m = malloc(len + 16);
            if (!m) exit(2);
            memcpy(m, v->bytes, len);
            seed = seed * 1103515245u + 12345u;
            int kind = (int)((seed >> 16) % 3);
            size_t pos = len ? (seed >> 8) % len : 0;
            if (kind == 0 && len) m[pos] ^= (uint8_t)(1u << ((seed >> 4) % 8));
            else if (kind == 1) len = pos;
            else {
                for (int k = 0; k < 16; k++) m[len + (size_t)k] = (uint8_t)(seed >> (k % 24));
                len += (seed >> 3) % 16;
            }
            vector mv = *v;
            mv.bytes = m;
            mv.len = len;
            ova_status err;
            ova_buf re = {0};
            if (decode_all(&mv, (seed >> 5) % 5, &re, &err) < 0) rejected++;
            ova_buf_free(&re);
            total++;
            free(m);
        }
    }
    CHECK(total > 0, "mutations ran");
    printf("  mutations: %d inputs decoded without a crash (%d rejected or incomplete)\n", total, rejected);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s frames.hex\n", argv[0]);
        return 2;
    }
    load(argv[1]);
    int nvalid = 0;
    for (size_t i = 0; i < nvectors; i++) nvalid += vectors[i].valid;
    printf("ova_codec_test: %zu vectors (%d valid, %zu invalid) from %s\n", nvectors, nvalid, nvectors - (size_t)nvalid,
           argv[1]);
    CHECK(nvectors >= 20, "expected at least 20 vectors, found %zu", nvectors);
    test_vectors();
    test_values();
    test_mutations();
    for (size_t i = 0; i < nvectors; i++) free(vectors[i].bytes);
    if (failures) {
        fprintf(stderr, "ova_codec_test: %d of %d checks FAILED\n", failures, checks);
        return 1;
    }
    printf("ova_codec_test: all %d checks passed\n", checks);
    return 0;
}
