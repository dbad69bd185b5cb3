/* ova_echo_example: calls ova.v1.Echo over OVA/1 with the C client.
 *
 *   ova_echo_example [--addr host:port] [--ca ca.pem] [--server-name name]
 *
 * 1. Unary Echo/Unary.
 * 2. Server-streaming Echo/ServerStream with response_count 5.
 * 3. Server-streaming with 8 responses of 256 KiB (2 MiB, more than the 1 MiB stream window: only
 *    completes if the client returns credit with WINDOW_UPDATE).
 * 4. Error reporting: Echo/Unary asked to fail with NOT_FOUND, and an unknown method (UNIMPLEMENTED).
 * Exits 0 when everything behaved as expected, 1 otherwise. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ova/v1/echo.pb-c.h"
#include "ova_client.h"

static const ova_md_entry request_md[] = {
    {"user-agent", (const uint8_t *)"ova-c-example/1.0", 17},
};

static int failures = 0;

static void fail(const char *what, const ova_status *st) {
    fprintf(stderr, "FAIL: %s: %s (%d) %s\n", what, ova_status_name(st->code), st->code, st->message);
    failures++;
}

static uint8_t *pack_request(const Ova__V1__EchoRequest *req, size_t *len) {
    *len = ova__v1__echo_request__get_packed_size(req);
    uint8_t *buf = malloc(*len ? *len : 1);
    if (buf) ova__v1__echo_request__pack(req, buf);
    return buf;
}

static void unary(ova_conn *c) {
    Ova__V1__EchoRequest req = OVA__V1__ECHO_REQUEST__INIT;
    req.text = "hello from C";
    size_t len;
    uint8_t *buf = pack_request(&req, &len), *resp = NULL;
    size_t resp_len = 0;
    ova_status st;
    if (!buf) {
        fprintf(stderr, "FAIL: out of memory\n");
        failures++;
        return;
    }
    ova_unary(c, "ova.v1.Echo/Unary", request_md, 1, 5000, buf, len, &resp, &resp_len, &st);
    free(buf);
    if (st.code != OVA_OK) {
        fail("Echo/Unary", &st);
        return;
    }
    Ova__V1__EchoResponse *r = ova__v1__echo_response__unpack(NULL, resp_len, resp);
    free(resp);
    if (!r) {
        fprintf(stderr, "FAIL: Echo/Unary: response does not decode as EchoResponse\n");
        failures++;
        return;
    }
    printf("unary: text=\"%s\" sequence=%llu status=OK\n", r->text, (unsigned long long)r->sequence);
    if (strcmp(r->text, "hello from C") != 0) {
        fprintf(stderr, "FAIL: Echo/Unary echoed \"%s\"\n", r->text);
        failures++;
    }
    ova__v1__echo_response__free_unpacked(r, NULL);
}

/* Server-streaming call; expects count responses of size bytes each (0: no payload). */
static void server_stream(ova_conn *c, const char *label, uint32_t count, uint32_t size, int verbose) {
    Ova__V1__EchoRequest req = OVA__V1__ECHO_REQUEST__INIT;
    req.text = "stream";
    req.response_count = count;
    req.response_size = size;
    size_t len;
    uint8_t *buf = pack_request(&req, &len);
    ova_status st;
    ova_call *call = buf ? ova_call_start(c, "ova.v1.Echo/ServerStream", request_md, 1, 10000, &st) : NULL;
    if (!call) {
        if (buf) fail(label, &st);
        free(buf);
        return;
    }
    if (ova_call_send(call, buf, len, 1) != 0) {
        free(buf);
        fail(label, ova_call_status(call));
        ova_call_free(call);
        return;
    }
    free(buf);
    uint8_t *msg;
    size_t msg_len, total = 0;
    uint32_t got = 0;
    int r;
    while ((r = ova_call_recv(call, &msg, &msg_len)) == 1) {
        Ova__V1__EchoResponse *resp = ova__v1__echo_response__unpack(NULL, msg_len, msg);
        free(msg);
        if (!resp) {
            fprintf(stderr, "FAIL: %s: a response does not decode\n", label);
            failures++;
            break;
        }
        if (verbose)
            printf("%s: response %llu text=\"%s\" payload=%zu bytes\n", label, (unsigned long long)resp->sequence,
                   resp->text, resp->payload.len);
        if (resp->sequence != got || resp->payload.len != size) {
            fprintf(stderr, "FAIL: %s: response %u has sequence %llu and %zu payload bytes\n", label, got,
                    (unsigned long long)resp->sequence, resp->payload.len);
            failures++;
        }
        total += resp->payload.len;
        got++;
        ova__v1__echo_response__free_unpacked(resp, NULL);
    }
    const ova_status *fin = ova_call_status(call);
    const ova_md_entry *rid = ova_metadata_get(ova_call_headers(call), "ova-request-id");
    if (r != 0 || fin->code != OVA_OK) {
        fail(label, fin);
    } else if (got != count) {
        fprintf(stderr, "FAIL: %s: %u responses, expected %u\n", label, got, count);
        failures++;
    } else {
        printf("%s: %u responses, %zu payload bytes, status=OK%s%s\n", label, got, total,
               rid ? " request-id=" : "", rid ? (const char *)rid->value : "");
    }
    ova_call_free(call);
}

/* A call that must fail with the given code. */
static void expect_error(ova_conn *c, const char *label, const char *path, uint32_t fail_code, int expected) {
    Ova__V1__EchoRequest req = OVA__V1__ECHO_REQUEST__INIT;
    Ova__V1__EchoFailure failure = OVA__V1__ECHO_FAILURE__INIT;
    req.text = "please fail";
    if (fail_code) {
        failure.code = fail_code;
        failure.message = "no such thing (asked for by the example)";
        req.fail_with = &failure;
    }
    size_t len;
    uint8_t *buf = pack_request(&req, &len), *resp = NULL;
    size_t resp_len;
    ova_status st;
    if (!buf) return;
    ova_unary(c, path, request_md, 1, 5000, buf, len, &resp, &resp_len, &st);
    free(buf);
    free(resp);
    if (st.code != expected) {
        fprintf(stderr, "FAIL: %s: got %s \"%s\", expected %s\n", label, ova_status_name(st.code), st.message,
                ova_status_name(expected));
        failures++;
        return;
    }
    printf("%s: failed as expected: %s \"%s\"\n", label, ova_status_name(st.code), st.message);
}

int main(int argc, char **argv) {
    const char *addr = "127.0.0.1:7443", *ca = NULL, *server_name = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--addr") == 0 && i + 1 < argc) addr = argv[++i];
        else if (strcmp(argv[i], "--ca") == 0 && i + 1 < argc) ca = argv[++i];
        else if (strcmp(argv[i], "--server-name") == 0 && i + 1 < argc) server_name = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--addr host:port] [--ca ca.pem] [--server-name name]\n", argv[0]);
            return 2;
        }
    }
    /* host:port or [v6]:port */
    char host[256];
    const char *colon = strrchr(addr, ':');
    if (!colon || colon == addr || (size_t)(colon - addr) >= sizeof host) {
        fprintf(stderr, "bad --addr %s (expected host:port)\n", addr);
        return 2;
    }
    const char *h = addr;
    size_t hl = (size_t)(colon - addr);
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') h++, hl -= 2;
    memcpy(host, h, hl);
    host[hl] = 0;
    int port = atoi(colon + 1);

    ova_conn_options opts = {.ca_file = ca, .server_name = server_name, .connect_timeout_ms = 10000};
    ova_status st;
    ova_conn *c = ova_connect(host, port, &opts, &st);
    if (!c) {
        fail("connect", &st);
        return 1;
    }
    const ova_settings *ps = ova_conn_peer_settings(c);
    printf("connected to %s (server MAX_FRAME_SIZE %u, INITIAL_STREAM_WINDOW %u, MAX_MESSAGE_SIZE %u)\n", addr,
           ps->max_frame_size, ps->initial_stream_window, ps->max_message_size);

    unary(c);
    server_stream(c, "server-stream", 5, 0, 1);
    server_stream(c, "server-stream-2MiB", 8, 262144, 0);
    expect_error(c, "unary-not-found", "ova.v1.Echo/Unary", OVA_NOT_FOUND, OVA_NOT_FOUND);
    expect_error(c, "unknown-method", "ova.v1.Nope/Missing", 0, OVA_UNIMPLEMENTED);

    ova_conn_close(c);
    if (failures) {
        fprintf(stderr, "ova_echo_example: %d failure(s)\n", failures);
        return 1;
    }
    printf("ova_echo_example: all calls behaved as expected\n");
    return 0;
}
