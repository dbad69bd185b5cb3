/* ova_flow_probe: drives the C client through the flow-control rules of PROTOCOL.md section 9.3
 * for hostile_server_test.py, whose fake server checks the frames the client sends.
 *
 *   ova_flow_probe --addr host:port --ca ca.pem s1|r1|r2
 *
 * The client advertises INITIAL_STREAM_WINDOW 65,536 and MAX_FRAME_SIZE 65,536 (T = 32,768).
 * s1: a client-streaming call sends 60,000 then 20,000 bytes (the fake server advertises a window
 *     of 65,536 and MAX_FRAME_SIZE 16,384 and returns credit a little at a time).
 * r1, r2: two calls, A (Echo/ServerStream, stream 1) and B (Echo/Unary, stream 3); the client
 *     reads B first, so A's messages wait unread while the client processes A's frames; then
 *     (r2) it reads A to the end and prints the sizes of A's messages.
 * Exits 0 when the calls end OK, 1 (with "FAIL: ..." on stderr) otherwise. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ova_client.h"

static int fail(const char *what, const ova_status *st) {
    fprintf(stderr, "FAIL: %s: %s (%d) %s\n", what, ova_status_name(st->code), st->code, st->message);
    return 1;
}

/* Reads a call to its end, printing each message's size; the call's status code. */
static int read_all(ova_call *call, const char *label) {
    uint8_t *m;
    size_t n;
    int r;
    while ((r = ova_call_recv(call, &m, &n)) == 1) {
        printf("%s: message of %zu bytes\n", label, n);
        free(m);
    }
    return ova_call_status(call)->code;
}

static int s1(ova_conn *c) {
    ova_status st;
    ova_call *call = ova_call_start(c, "ova.v1.Echo/ClientStream", NULL, 0, 10000, &st);
    if (!call) return fail("start", &st);
    uint8_t *data = calloc(60000, 1);
    int bad = !data || ova_call_send(call, data, 60000, 0) || ova_call_send(call, data, 20000, 1);
    free(data);
    if (bad || read_all(call, "s1") != OVA_OK) {
        bad = fail("s1", ova_call_status(call));
    }
    ova_call_free(call);
    if (!bad) printf("s1: ok\n");
    return bad;
}

static int two_calls(ova_conn *c, int read_a) {
    ova_status st;
    static const uint8_t request[] = {0x0a, 0x01, 'x'}; /* EchoRequest{text: "x"} */
    ova_call *a = ova_call_start(c, "ova.v1.Echo/ServerStream", NULL, 0, 10000, &st);
    if (!a || ova_call_send(a, request, sizeof request, 1)) return fail("start A", a ? ova_call_status(a) : &st);
    ova_call *b = ova_call_start(c, "ova.v1.Echo/Unary", NULL, 0, 10000, &st);
    if (!b || ova_call_send(b, request, sizeof request, 1)) return fail("start B", b ? ova_call_status(b) : &st);
    int bad = 0;
    if (read_all(b, "B") != OVA_OK) bad = fail("B", ova_call_status(b));
    else if (read_a && read_all(a, "A") != OVA_OK) bad = fail("A", ova_call_status(a));
    ova_call_free(b);
    ova_call_free(a);
    if (!bad) printf("flow: ok\n");
    return bad;
}

int main(int argc, char **argv) {
    const char *addr = "127.0.0.1:7443", *ca = NULL, *mode = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--addr") == 0 && i + 1 < argc) addr = argv[++i];
        else if (strcmp(argv[i], "--ca") == 0 && i + 1 < argc) ca = argv[++i];
        else mode = argv[i];
    }
    if (!mode || (strcmp(mode, "s1") && strcmp(mode, "r1") && strcmp(mode, "r2"))) {
        fprintf(stderr, "usage: ova_flow_probe --addr host:port --ca ca.pem s1|r1|r2\n");
        return 2;
    }
    char host[256];
    const char *colon = strrchr(addr, ':');
    if (!colon || (size_t)(colon - addr) >= sizeof host) return 2;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = 0;

    ova_settings settings;
    ova_settings_default(&settings);
    settings.initial_stream_window = 65536;
    ova_conn_options opts = {.ca_file = ca, .settings = &settings};
    ova_status st;
    ova_conn *c = ova_connect(host, atoi(colon + 1), &opts, &st);
    if (!c) return fail("connect", &st);
    int bad = strcmp(mode, "s1") == 0 ? s1(c) : two_calls(c, strcmp(mode, "r2") == 0);
    ova_conn_close(c);
    return bad ? 1 : 0;
}
