// sqlite-ceiling: what SQLite itself does for the statements behind Messages/SendMessage and
// Messages/ListMessages, with the server's settings and nothing else (no RPC, no TLS, no Swift):
// the ceiling `ova-bench --mode send-message|list-messages` is compared with.
//
// It opens a database made by ova-server (`ova-server admin create --data-dir D`, so the schema
// is the server's migrated one) and applies the connection settings of
// Sources/OvaStore/SQLite/SQLiteConnection.swift: WAL, synchronous=NORMAL, foreign keys on,
// a 5 s busy timeout. Then, on one connection and one thread, like the server's single storage
// thread, it runs one mode in a loop for --duration seconds after --warmup:
//
//   insert              the SendMessage INSERT (ContactMessageRepository.create), one row per
//                       transaction (BEGIN IMMEDIATE ... COMMIT), as the server writes it
//   send-message        that transaction, then the audit record's INSERT in a transaction of its
//                       own (AuditRepository.append): the database work of one SendMessage
//   list                ContactMessageRepository.list for the first page of 50: the COUNT(*) and
//                       the page SELECT (LIMIT 51), every column of every row read
//   list-authenticated  the session lookup every authenticated call makes
//                       (SessionRepository.findValid), then `list`: the database work of one
//                       ListMessages
//
// Statements are prepared once and reused (the server caches them too), BEGIN and COMMIT
// included: this is the best the database can do for the work, not a copy of the server's code.
// The SQL text must stay the repositories'; the values are those ova-bench sends.
//
// Build and run: Benchmarks/store-bench.sh (or `cc -O2 sqlite-ceiling.c -lsqlite3`).
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#define CEILING_PROGRAM "sqlite-ceiling"
#include "../ceiling-common.h"

// The rest of the repositories' SQL, verbatim.
static const char *const find_session_sql =
    "SELECT s.id, s.admin_id, s.token_id, s.ip_address, s.user_agent, s.started_at_ms, s.expires_at_ms, s.active,\n"
    "       a.id, a.name, a.email, a.superadmin, a.active, a.created_at_ms, a.updated_at_ms\n"
    "FROM admin_sessions s JOIN administrators a ON a.id = s.admin_id WHERE s.token_id = ? AND s.admin_id = ? "
    "AND s.active = 1 AND s.expires_at_ms > ? AND a.active = 1";

enum mode { MODE_INSERT, MODE_SEND_MESSAGE, MODE_LIST, MODE_LIST_AUTHENTICATED };
static const char *const mode_names[] = {"insert", "send-message", "list", "list-authenticated"};

struct options {
    const char *db;
    enum mode mode;
    double duration;
    double warmup;
    int rows;
    int json;
};

struct bench {
    sqlite3 *db;
    sqlite3_stmt *begin, *commit, *insert_message, *insert_audit, *count_messages, *page_messages, *find_session;
    int64_t admin_id;
    char token_id[64];
    uint64_t checksum;  // read column bytes, so nothing read can be skipped
};

static void check(struct bench *bench, int code, const char *what) {
    if (code != SQLITE_OK && code != SQLITE_DONE && code != SQLITE_ROW) {
        die("%s: %s (%d)", what, sqlite3_errmsg(bench->db), code);
    }
}

static sqlite3_stmt *prepare(struct bench *bench, const char *sql) {
    sqlite3_stmt *statement = NULL;
    check(bench, sqlite3_prepare_v3(bench->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &statement, NULL), sql);
    return statement;
}

static void exec(struct bench *bench, const char *sql) {
    char *error = NULL;
    if (sqlite3_exec(bench->db, sql, NULL, NULL, &error) != SQLITE_OK) die("%s: %s", sql, error ? error : "?");
}

static int64_t query_int(struct bench *bench, const char *sql) {
    sqlite3_stmt *statement = prepare(bench, sql);
    int64_t value = sqlite3_step(statement) == SQLITE_ROW ? sqlite3_column_int64(statement, 0) : -1;
    sqlite3_finalize(statement);
    return value;
}

static void text_pragma(struct bench *bench, const char *sql, char *out, size_t size) {
    sqlite3_stmt *statement = prepare(bench, sql);
    out[0] = 0;
    if (sqlite3_step(statement) == SQLITE_ROW && sqlite3_column_text(statement, 0)) {
        snprintf(out, size, "%s", (const char *)sqlite3_column_text(statement, 0));
    }
    sqlite3_finalize(statement);
}

static void step_done(struct bench *bench, sqlite3_stmt *statement, const char *what) {
    int code = sqlite3_step(statement);
    if (code != SQLITE_DONE) check(bench, code == SQLITE_ROW ? SQLITE_MISUSE : code, what);
    sqlite3_reset(statement);
}

static void bind_text(struct bench *bench, sqlite3_stmt *statement, int index, const char *text) {
    check(bench, sqlite3_bind_text(statement, index, text, (int)strlen(text), SQLITE_TRANSIENT), "bind");
}

// One contact message in its own transaction, as ContactMessageRepository.create; returns its id.
static int64_t insert_message(struct bench *bench) {
    step_done(bench, bench->begin, "BEGIN IMMEDIATE");
    sqlite3_stmt *insert = bench->insert_message;
    bind_text(bench, insert, 1, message_name);
    bind_text(bench, insert, 2, message_email);
    bind_text(bench, insert, 3, message_subject);
    bind_text(bench, insert, 4, message_body);
    sqlite3_bind_int64(insert, 5, unix_ms());
    step_done(bench, insert, "INSERT INTO contact_messages");
    sqlite3_clear_bindings(insert);
    int64_t id = sqlite3_last_insert_rowid(bench->db);
    step_done(bench, bench->commit, "COMMIT");
    return id;
}

// The audit record of one SendMessage in its own transaction, as AuditRepository.append.
static void insert_audit(struct bench *bench, int64_t message_id, uint64_t call) {
    char target[48], request_id[48];
    snprintf(target, sizeof target, "message:%" PRId64, message_id);
    snprintf(request_id, sizeof request_id, "c1a2b3c4-%" PRIu64, call * 2 + 1);
    step_done(bench, bench->begin, "BEGIN IMMEDIATE");
    sqlite3_stmt *insert = bench->insert_audit;
    sqlite3_bind_int64(insert, 1, unix_ms());
    bind_text(bench, insert, 2, "anonymous");
    sqlite3_bind_null(insert, 3);
    bind_text(bench, insert, 4, "messages.send");
    bind_text(bench, insert, 5, target);
    bind_text(bench, insert, 6, "127.0.0.1:54321");
    bind_text(bench, insert, 7, request_id);
    bind_text(bench, insert, 8, "OK");
    bind_text(bench, insert, 9, "");
    step_done(bench, insert, "INSERT INTO audit_events");
    sqlite3_clear_bindings(insert);
    step_done(bench, bench->commit, "COMMIT");
}

// Steps through every row, reading every column as the server's row decoder does.
static int read_rows(struct bench *bench, sqlite3_stmt *statement, const char *what) {
    int rows = 0, code;
    while ((code = sqlite3_step(statement)) == SQLITE_ROW) {
        int columns = sqlite3_column_count(statement);
        for (int column = 0; column < columns; column++) {
            if (sqlite3_column_type(statement, column) == SQLITE_INTEGER) {
                bench->checksum += (uint64_t)sqlite3_column_int64(statement, column);
            } else {
                const unsigned char *text = sqlite3_column_text(statement, column);
                int length = sqlite3_column_bytes(statement, column);
                if (text && length > 0) bench->checksum += text[length - 1] + (uint64_t)length;
            }
        }
        rows++;
    }
    if (code != SQLITE_DONE) check(bench, code, what);
    sqlite3_reset(statement);
    return rows;
}

static void find_session(struct bench *bench) {
    sqlite3_stmt *find = bench->find_session;
    bind_text(bench, find, 1, bench->token_id);
    sqlite3_bind_int64(find, 2, bench->admin_id);
    sqlite3_bind_int64(find, 3, unix_ms());
    if (read_rows(bench, find, "session lookup") != 1) die("the session lookup found no session");
    sqlite3_clear_bindings(find);
}

static void list_first_page(struct bench *bench) {
    read_rows(bench, bench->count_messages, "COUNT(*)");
    sqlite3_stmt *page = bench->page_messages;
    sqlite3_bind_int64(page, 1, INT64_MAX);
    sqlite3_bind_int64(page, 2, 51);
    if (read_rows(bench, page, "page SELECT") != 51) die("the page SELECT did not return 51 rows (is --rows at least 51?)");
    sqlite3_clear_bindings(page);
}

// For the list modes: at least `rows` messages, and an active session of an active administrator.
static void prepare_reads(struct bench *bench, int rows) {
    int64_t existing = query_int(bench, "SELECT COUNT(*) FROM contact_messages");
    for (int64_t index = existing; index < rows; index++) insert_message(bench);
    bench->admin_id = query_int(bench, "SELECT MIN(id) FROM administrators WHERE active = 1");
    if (bench->admin_id <= 0) die("the database has no active administrator: create it with `ova-server admin create --data-dir D`");
    snprintf(bench->token_id, sizeof bench->token_id, "sqlite-ceiling-%ld-%" PRIu64, (long)getpid(), monotonic_ns());
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO admin_sessions (admin_id, token_id, ip_address, user_agent, started_at_ms, expires_at_ms, active) "
             "VALUES (%" PRId64 ", '%s', '127.0.0.1', 'sqlite-ceiling', %" PRId64 ", %" PRId64 ", 1)",
             bench->admin_id, bench->token_id, unix_ms(), unix_ms() + 3600 * 1000);
    exec(bench, sql);
}

static void usage(void) {
    fprintf(stderr,
            "usage: sqlite-ceiling --db FILE [--mode insert|send-message|list|list-authenticated]\n"
            "                      [--duration S (10)] [--warmup S (1)] [--rows N (1000)] [--json]\n"
            "FILE: a database made by ova-server, e.g. D/ova.sqlite3 after `ova-server admin create --data-dir D`.\n");
    exit(2);
}

static struct options parse(int argc, char **argv) {
    struct options options = {.db = NULL, .mode = MODE_INSERT, .duration = 10, .warmup = 1, .rows = 1000, .json = 0};
    for (int index = 1; index < argc; index++) {
        const char *flag = argv[index];
        const char *value = index + 1 < argc ? argv[index + 1] : NULL;
        if (strcmp(flag, "--json") == 0) {
            options.json = 1;
            continue;
        }
        if (!value) usage();
        index++;
        if (strcmp(flag, "--db") == 0) {
            options.db = value;
        } else if (strcmp(flag, "--mode") == 0) {
            int found = 0;
            for (int mode = 0; mode < 4; mode++) {
                if (strcmp(value, mode_names[mode]) == 0) {
                    options.mode = (enum mode)mode;
                    found = 1;
                }
            }
            if (!found) usage();
        } else if (strcmp(flag, "--duration") == 0) {
            options.duration = atof(value);
        } else if (strcmp(flag, "--warmup") == 0) {
            options.warmup = atof(value);
        } else if (strcmp(flag, "--rows") == 0) {
            options.rows = atoi(value);
        } else {
            usage();
        }
    }
    if (!options.db || options.duration <= 0 || options.warmup < 0 || options.rows < 51 || options.rows > 10000000) usage();
    return options;
}

int main(int argc, char **argv) {
    struct options options = parse(argc, argv);
    struct bench bench = {0};
    if (access(options.db, R_OK | W_OK) != 0) die("%s: %s", options.db, strerror(errno));
    // The settings of SQLiteConnection.init.
    if (sqlite3_open_v2(options.db, &bench.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        die("%s: %s", options.db, sqlite3_errmsg(bench.db));
    }
    sqlite3_extended_result_codes(bench.db, 1);
    sqlite3_busy_timeout(bench.db, 5000);
    exec(&bench, "PRAGMA foreign_keys = ON");
    exec(&bench, "PRAGMA journal_mode = WAL");
    exec(&bench, "PRAGMA synchronous = NORMAL");
    char journal[16], synchronous[16];
    text_pragma(&bench, "PRAGMA journal_mode", journal, sizeof journal);
    text_pragma(&bench, "PRAGMA synchronous", synchronous, sizeof synchronous);
    if (query_int(&bench, "SELECT COUNT(*) FROM sqlite_master WHERE name IN ('contact_messages', 'audit_events', 'admin_sessions')") != 3) {
        die("%s is not an OVA database: make one with `ova-server admin create --data-dir D`", options.db);
    }

    bench.begin = prepare(&bench, "BEGIN IMMEDIATE");
    bench.commit = prepare(&bench, "COMMIT");
    bench.insert_message = prepare(&bench, insert_message_sql);
    bench.insert_audit = prepare(&bench, insert_audit_sql);
    bench.count_messages = prepare(&bench, count_messages_sql);
    bench.page_messages = prepare(&bench, page_messages_sql);
    bench.find_session = prepare(&bench, find_session_sql);
    if (options.mode == MODE_LIST || options.mode == MODE_LIST_AUTHENTICATED) prepare_reads(&bench, options.rows);

    size_t capacity = 1 << 20, count = 0;
    uint32_t *latencies = malloc(capacity * sizeof *latencies);
    if (!latencies) die("out of memory");
    uint64_t start = monotonic_ns();
    uint64_t measure_start = start + (uint64_t)(options.warmup * 1e9);
    uint64_t end = measure_start + (uint64_t)(options.duration * 1e9);
    uint64_t call = 0;
    for (;;) {
        uint64_t began = monotonic_ns();
        if (began >= end) break;
        switch (options.mode) {
        case MODE_INSERT:
            insert_message(&bench);
            break;
        case MODE_SEND_MESSAGE:
            insert_audit(&bench, insert_message(&bench), call);
            break;
        case MODE_LIST_AUTHENTICATED:
            find_session(&bench);
            // fall through
        case MODE_LIST:
            list_first_page(&bench);
            break;
        }
        call++;
        uint64_t finished = monotonic_ns();
        if (began >= measure_start && finished <= end) {
            if (count == capacity) {
                capacity *= 2;
                uint32_t *grown = realloc(latencies, capacity * sizeof *latencies);
                if (!grown) die("out of memory");
                latencies = grown;
            }
            uint64_t took = finished - began;
            latencies[count++] = took > UINT32_MAX ? UINT32_MAX : (uint32_t)took;
        }
    }
    qsort(latencies, count, sizeof *latencies, compare_u32);
    double rate = (double)count / options.duration;
    double p50 = percentile_us(latencies, count, 0.50), p99 = percentile_us(latencies, count, 0.99);
    int64_t rows = query_int(&bench, "SELECT COUNT(*) FROM contact_messages");
    if (options.json) {
        printf("{\"tool\":\"sqlite-ceiling\",\"mode\":\"%s\",\"calls\":%zu,\"duration_s\":%.3f,\"calls_per_s\":%.1f,"
               "\"p50_us\":%.1f,\"p99_us\":%.1f,\"sqlite\":\"%s\",\"journal_mode\":\"%s\",\"synchronous\":\"%s\","
               "\"messages_in_table\":%" PRId64 ",\"checksum\":%" PRIu64 "}\n",
               mode_names[options.mode], count, options.duration, rate, p50, p99, sqlite3_libversion(), journal, synchronous,
               rows, bench.checksum);
    } else {
        printf("sqlite-ceiling %s: %zu in %.2f s = %.0f/s, p50 %.1f µs, p99 %.1f µs\n", mode_names[options.mode], count,
               options.duration, rate, p50, p99);
        printf("SQLite %s, journal_mode %s, synchronous %s (1 = NORMAL), %" PRId64 " messages in the table\n",
               sqlite3_libversion(), journal, synchronous, rows);
    }
    free(latencies);
    sqlite3_stmt *statements[] = {bench.begin, bench.commit, bench.insert_message, bench.insert_audit,
                                  bench.count_messages, bench.page_messages, bench.find_session};
    for (size_t index = 0; index < sizeof statements / sizeof statements[0]; index++) sqlite3_finalize(statements[index]);
    sqlite3_close(bench.db);
    return 0;
}
