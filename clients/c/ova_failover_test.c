/* ova_failover_test: the C client with several addresses (ova_client), against real servers
 * started by scripts/test-c.sh.
 *
 *   ova_failover_test --ca bundle.pem --dead P1,P2 --aged PORT --pair PA,PB
 *
 * 1. ova_parse_address accepts host:port, [v6]:port and :port, and refuses the rest.
 * 2. Two dead addresses: a call fails with UNAVAILABLE naming both.
 * 3. --aged is a server with OVA_MAX_CONNECTION_AGE_SECONDS=1: back-to-back calls (and one
 *    slower than the age) all succeed while the client reconnects after each GOAWAY.
 * 4. "dead,PA,PB" with the dead address first: the call goes to a live one. Prints
 *    "serving <port>" and waits for a line on stdin: the script stops that server meanwhile.
 *    The next call must succeed, on the other server.
 * Exits 0 when everything behaved as expected, 1 otherwise. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ova/v1/echo.pb-c.h"
#include "ova_client.h"

static int failures = 0;

#define CHECK(cond, ...)                                  \
    do {                                                  \
        if (!(cond)) {                                    \
            fprintf(stderr, "FAIL: " __VA_ARGS__);        \
            fprintf(stderr, "\n");                        \
            failures++;                                   \
        }                                                 \
    } while (0)

/* Echo/Unary through the client; returns the status code (the echoed text checked). */
static int echo(ova_client *cl, const char *text, uint32_t delay_ms, ova_status *st) {
    Ova__V1__EchoRequest req = OVA__V1__ECHO_REQUEST__INIT;
    req.text = (char *)text;
    req.delay_ms = delay_ms;
    size_t len = ova__v1__echo_request__get_packed_size(&req);
    uint8_t *buf = malloc(len ? len : 1), *resp = NULL;
    size_t resp_len = 0;
    if (!buf) return OVA_RESOURCE_EXHAUSTED;
    ova__v1__echo_request__pack(&req, buf);
    int code = ova_client_unary(cl, "ova.v1.Echo/Unary", NULL, 0, 10000, buf, len, &resp, &resp_len, st);
    free(buf);
    if (code == OVA_OK) {
        Ova__V1__EchoResponse *r = ova__v1__echo_response__unpack(NULL, resp_len, resp);
        CHECK(r && strcmp(r->text, text) == 0, "echo of \"%s\" came back as \"%s\"", text, r ? r->text : "(undecodable)");
        if (r) ova__v1__echo_response__free_unpacked(r, NULL);
    }
    free(resp);
    return code;
}

static void parse_addresses(void) {
    char host[64];
    int port = 0;
    CHECK(ova_parse_address(" a.example:7443", 15, host, sizeof host, &port) == 0 && strcmp(host, "a.example") == 0 &&
              port == 7443, "a.example:7443");
    CHECK(ova_parse_address("[::1]:7444", 10, host, sizeof host, &port) == 0 && strcmp(host, "::1") == 0 && port == 7444,
          "[::1]:7444");
    CHECK(ova_parse_address(":7445", 5, host, sizeof host, &port) == 0 && strcmp(host, "127.0.0.1") == 0 && port == 7445,
          ":7445");
    const char *bad[] = {"", "a", "a:", "a:0", "a:70000", "a:12x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK(ova_parse_address(bad[i], strlen(bad[i]), host, sizeof host, &port) != 0, "\"%s\" parsed", bad[i]);
    ova_status st;
    CHECK(ova_client_new("127.0.0.1:1,", NULL, &st) == NULL && st.code == OVA_INVALID_ARGUMENT, "a trailing comma");
}

static void no_address_answers(const char *dead, const ova_conn_options *opts) {
    char list[64];
    snprintf(list, sizeof list, "127.0.0.1:%s", dead);
    char *comma = strchr(list, ',');
    if (!comma) {
        fprintf(stderr, "FAIL: --dead needs two ports\n");
        failures++;
        return;
    }
    /* "127.0.0.1:P1,P2" -> "127.0.0.1:P1,127.0.0.1:P2" */
    char second[16];
    snprintf(second, sizeof second, "%s", comma + 1);
    snprintf(comma, sizeof list - (size_t)(comma - list), ",127.0.0.1:%s", second);
    ova_status st;
    ova_client *cl = ova_client_new(list, opts, &st);
    if (!cl) {
        fprintf(stderr, "FAIL: ova_client_new(%s): %s\n", list, st.message);
        failures++;
        return;
    }
    ova_client_start_at(cl, 0);
    int code = echo(cl, "nobody", 0, &st);
    char first[32];
    snprintf(first, sizeof first, "%.*s", (int)(comma - list), list);
    CHECK(code == OVA_UNAVAILABLE && strstr(st.message, "no server address answered") && strstr(st.message, first) &&
              strstr(st.message, comma + 1),
          "a call with no live address ended %s: %s", ova_status_name(code), st.message);
    /* Both addresses pausing now: the call waits for the first pause to end (no spinning), tries
     * again, and fails again. */
    ova_status again;
    code = echo(cl, "nobody", 0, &again);
    CHECK(code == OVA_UNAVAILABLE, "the second call with no live address ended %s: %s", ova_status_name(code),
          again.message);
    ova_client_free(cl);
    printf("no address answers: UNAVAILABLE (%s)\n", st.message);
}

static void maximum_age(const char *port, const ova_conn_options *opts) {
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%s", port);
    ova_status st;
    ova_client *cl = ova_client_new(addr, opts, &st);
    if (!cl) {
        fprintf(stderr, "FAIL: ova_client_new(%s): %s\n", addr, st.message);
        failures++;
        return;
    }
    /* Longer than the age: the GOAWAY comes while it runs; it still ends OK. */
    int code = echo(cl, "in flight", 2500, &st);
    CHECK(code == OVA_OK, "a call across the GOAWAY ended %s: %s", ova_status_name(code), st.message);
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int calls = 0;
    while (ova_client_connections_opened(cl) < 4 && failures == 0) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > 60) {
            fprintf(stderr, "FAIL: only %zu connections in 60 s\n", ova_client_connections_opened(cl));
            failures++;
            break;
        }
        code = echo(cl, "again", 0, &st);
        calls++;
        CHECK(code == OVA_OK, "call %d ended %s: %s", calls, ova_status_name(code), st.message);
    }
    printf("maximum age: %d calls over %zu connections, none failed\n", calls, ova_client_connections_opened(cl));
    ova_client_free(cl);
}

static void failover(const char *dead, const char *pair, const ova_conn_options *opts) {
    char list[96], dead_port[16];
    snprintf(dead_port, sizeof dead_port, "%s", dead);
    char *comma = strchr(dead_port, ',');
    if (comma) *comma = 0;
    char a[16] = "", b[16] = "";
    const char *pc = strchr(pair, ',');
    if (!pc) {
        fprintf(stderr, "FAIL: --pair needs two ports\n");
        failures++;
        return;
    }
    snprintf(a, sizeof a, "%.*s", (int)(pc - pair), pair);
    snprintf(b, sizeof b, "%s", pc + 1);
    snprintf(list, sizeof list, "127.0.0.1:%s,127.0.0.1:%s,127.0.0.1:%s", dead_port, a, b);
    ova_status st;
    ova_client *cl = ova_client_new(list, opts, &st);
    if (!cl) {
        fprintf(stderr, "FAIL: ova_client_new(%s): %s\n", list, st.message);
        failures++;
        return;
    }
    ova_client_start_at(cl, 0);
    int code = echo(cl, "first", 0, &st);
    int first = ova_client_current_address(cl);
    CHECK(code == OVA_OK && (first == 1 || first == 2), "the first call ended %s on address %d: %s",
          ova_status_name(code), first, st.message);
    printf("serving %s\n", first == 1 ? a : b);
    fflush(stdout);
    char line[16];
    if (!fgets(line, sizeof line, stdin)) {
        fprintf(stderr, "FAIL: no go-ahead on stdin\n");
        failures++;
    }
    code = echo(cl, "second", 0, &st);
    int second = ova_client_current_address(cl);
    CHECK(code == OVA_OK, "the call after the server stopped ended %s: %s", ova_status_name(code), st.message);
    CHECK(second != first && second != 0, "the call after the server stopped went to address %d", second);
    printf("failover: address %d stopped, the next call went to address %d\n", first, second);
    ova_client_free(cl);
}

int main(int argc, char **argv) {
    const char *ca = NULL, *dead = NULL, *aged = NULL, *pair = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--ca") == 0 && i + 1 < argc) ca = argv[++i];
        else if (strcmp(argv[i], "--dead") == 0 && i + 1 < argc) dead = argv[++i];
        else if (strcmp(argv[i], "--aged") == 0 && i + 1 < argc) aged = argv[++i];
        else if (strcmp(argv[i], "--pair") == 0 && i + 1 < argc) pair = argv[++i];
        else {
            fprintf(stderr, "usage: %s --ca bundle.pem --dead P1,P2 --aged PORT --pair PA,PB\n", argv[0]);
            return 2;
        }
    }
    if (!ca || !dead || !aged || !pair) {
        fprintf(stderr, "usage: %s --ca bundle.pem --dead P1,P2 --aged PORT --pair PA,PB\n", argv[0]);
        return 2;
    }
    ova_conn_options opts = {0};
    opts.ca_file = ca;
    opts.server_name = "localhost";
    parse_addresses();
    no_address_answers(dead, &opts);
    maximum_age(aged, &opts);
    failover(dead, pair, &opts);
    if (failures) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    printf("failover test: passed\n");
    return 0;
}
