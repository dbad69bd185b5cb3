// mariadb-ceiling: what MariaDB itself does for the statements behind Messages/SendMessage and
// Messages/ListMessages, with nothing else (no RPC, no TLS, no Swift): the MariaDB ceiling
// `ova-bench --mode send-message|list-messages` is compared with, as sqlite-ceiling is SQLite's.
//
// It connects over TCP (as ova-server does) with MariaDB Connector/C, creates the tables it needs
// in the given database with the MariaDB DDL of Sources/OvaStore/Migrations.swift (dialect
// .mariadb, verbatim: InnoDB, utf8mb4, utf8mb4_nopad_bin) unless they exist, and runs one mode in a
// loop for --duration seconds after --warmup, on --threads connections (one thread each; default
// 1, a single client in a loop):
//
//   insert        the SendMessage INSERT (ContactMessageRepository.create), one row per
//                 transaction: autocommit, so every execute is its own COMMIT
//   send-message  that INSERT, then the audit record's INSERT (AuditRepository.append), each its
//                 own transaction: the database work of one SendMessage
//   list          ContactMessageRepository.list for the first page of 50: the COUNT(*) and the
//                 page SELECT (LIMIT 51), every column of every row fetched
//
// Every statement is a server-side prepared statement, prepared once per connection. Durability
// is the server's, whatever it is started with; store-bench.sh starts mariadbd with InnoDB's
// default innodb_flush_log_at_trx_commit=1 (the redo log is written and fsynced at every
// COMMIT), and the JSON output reports the value the server has.
//
// Build and run: Benchmarks/store-bench.sh with BACKEND=mariadb
// (or `cc -O2 mariadb-ceiling.c $(pkg-config --cflags --libs libmariadb) -lpthread`).
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <mysql.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#define CEILING_PROGRAM "mariadb-ceiling"
#include "../ceiling-common.h"

// Sources/OvaStore/Migrations.swift, dialect .mariadb, verbatim but for IF NOT EXISTS.
static const char *const create_messages_sql =
    "CREATE TABLE IF NOT EXISTS contact_messages (\n"
    "    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,\n"
    "    name VARCHAR(200) NOT NULL,\n"
    "    email VARCHAR(254) NOT NULL,\n"
    "    subject VARCHAR(200) NOT NULL,\n"
    "    message MEDIUMTEXT NOT NULL,\n"
    "    sent_at_ms BIGINT NOT NULL,\n"
    "    is_read TINYINT(1) NOT NULL DEFAULT 0,\n"
    "    is_answered TINYINT(1) NOT NULL DEFAULT 0,\n"
    "    KEY contact_messages_email (email),\n"
    "    KEY contact_messages_sent (sent_at_ms)\n"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin";
static const char *const create_audit_sql =
    "CREATE TABLE IF NOT EXISTS audit_events (\n"
    "    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,\n"
    "    time_ms BIGINT NOT NULL,\n"
    "    actor VARCHAR(254) NOT NULL,\n"
    "    actor_admin_id BIGINT NULL,\n"
    "    action VARCHAR(128) NOT NULL,\n"
    "    target VARCHAR(255) NOT NULL,\n"
    "    peer_address VARCHAR(64) NOT NULL,\n"
    "    request_id VARCHAR(64) NOT NULL,\n"
    "    outcome VARCHAR(32) NOT NULL,\n"
    "    detail VARCHAR(1000) NOT NULL,\n"
    "    KEY audit_events_time (time_ms),\n"
    "    KEY audit_events_actor (actor, id)\n"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin";

// The repositories' SQL, verbatim.

enum mode { MODE_INSERT, MODE_SEND_MESSAGE, MODE_LIST };
static const char *const mode_names[] = {"insert", "send-message", "list"};

struct options {
    const char *host, *user, *password, *database;
    unsigned port;
    enum mode mode;
    double duration, warmup;
    int rows, threads, json;
};

static struct options options;

// One connection and its statements, used by one thread only.
struct worker {
    MYSQL *mysql;
    MYSQL_STMT *insert_message, *insert_audit, *count_messages, *page_messages;
    uint64_t call, checksum;
    uint32_t *latencies;
    size_t count, capacity;
    pthread_t thread;
};

static MYSQL *connect_to_server(void) {
    MYSQL *mysql = mysql_init(NULL);
    if (!mysql) die("mysql_init: out of memory");
    unsigned timeout = 10;
    mysql_optionsv(mysql, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_optionsv(mysql, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (!mysql_real_connect(mysql, options.host, options.user, options.password, options.database, options.port, NULL, 0)) {
        die("cannot connect to %s:%u as %s: %s", options.host, options.port, options.user, mysql_error(mysql));
    }
    return mysql;
}

static void query(MYSQL *mysql, const char *sql) {
    if (mysql_query(mysql, sql) != 0) die("%.60s…: %s", sql, mysql_error(mysql));
    MYSQL_RES *result = mysql_store_result(mysql);
    if (result) mysql_free_result(result);
}

static int64_t query_int(MYSQL *mysql, const char *sql) {
    if (mysql_query(mysql, sql) != 0) die("%s: %s", sql, mysql_error(mysql));
    MYSQL_RES *result = mysql_store_result(mysql);
    if (!result) die("%s: no result", sql);
    MYSQL_ROW row = mysql_fetch_row(result);
    int64_t value = row && row[0] ? strtoll(row[0], NULL, 10) : -1;
    mysql_free_result(result);
    return value;
}

static void query_text(MYSQL *mysql, const char *sql, char *out, size_t size) {
    out[0] = 0;
    if (mysql_query(mysql, sql) != 0) die("%s: %s", sql, mysql_error(mysql));
    MYSQL_RES *result = mysql_store_result(mysql);
    MYSQL_ROW row = result ? mysql_fetch_row(result) : NULL;
    if (row && row[0]) snprintf(out, size, "%s", row[0]);
    if (result) mysql_free_result(result);
}

static MYSQL_STMT *prepare(MYSQL *mysql, const char *sql) {
    MYSQL_STMT *statement = mysql_stmt_init(mysql);
    if (!statement) die("mysql_stmt_init: out of memory");
    if (mysql_stmt_prepare(statement, sql, strlen(sql)) != 0) die("%s: %s", sql, mysql_stmt_error(statement));
    return statement;
}

static void check_statement(MYSQL_STMT *statement, int code, const char *what) {
    if (code != 0) die("%s: %s", what, mysql_stmt_error(statement));
}

static MYSQL_BIND text_parameter(const char *text, unsigned long *length) {
    *length = (unsigned long)strlen(text);
    MYSQL_BIND bind = {0};
    bind.buffer_type = MYSQL_TYPE_STRING;
    bind.buffer = (void *)text;
    bind.buffer_length = *length;
    bind.length = length;
    return bind;
}

static MYSQL_BIND integer_parameter(int64_t *value) {
    MYSQL_BIND bind = {0};
    bind.buffer_type = MYSQL_TYPE_LONGLONG;
    bind.buffer = value;
    return bind;
}

// One contact message, autocommitted: one row per transaction. Returns its id.
static int64_t insert_message(struct worker *worker) {
    unsigned long lengths[4];
    int64_t sent_at = unix_ms();
    MYSQL_BIND parameters[5] = {
        text_parameter(message_name, &lengths[0]), text_parameter(message_email, &lengths[1]),
        text_parameter(message_subject, &lengths[2]), text_parameter(message_body, &lengths[3]),
        integer_parameter(&sent_at),
    };
    MYSQL_STMT *insert = worker->insert_message;
    check_statement(insert, mysql_stmt_bind_param(insert, parameters), "bind INSERT INTO contact_messages");
    check_statement(insert, mysql_stmt_execute(insert), "INSERT INTO contact_messages");
    return (int64_t)mysql_stmt_insert_id(insert);
}

// The audit record of one SendMessage, autocommitted, as AuditRepository.append.
static void insert_audit(struct worker *worker, int64_t message_id) {
    char target[48], request_id[48];
    snprintf(target, sizeof target, "message:%" PRId64, message_id);
    snprintf(request_id, sizeof request_id, "c1a2b3c4-%" PRIu64, worker->call * 2 + 1);
    unsigned long lengths[7];
    int64_t time = unix_ms();
    MYSQL_BIND parameters[9] = {
        integer_parameter(&time), text_parameter("anonymous", &lengths[0]), {0}, text_parameter("messages.send", &lengths[1]),
        text_parameter(target, &lengths[2]), text_parameter("127.0.0.1:54321", &lengths[3]),
        text_parameter(request_id, &lengths[4]), text_parameter("OK", &lengths[5]), text_parameter("", &lengths[6]),
    };
    parameters[2].buffer_type = MYSQL_TYPE_NULL;
    MYSQL_STMT *insert = worker->insert_audit;
    check_statement(insert, mysql_stmt_bind_param(insert, parameters), "bind INSERT INTO audit_events");
    check_statement(insert, mysql_stmt_execute(insert), "INSERT INTO audit_events");
}

// Fetches every row of an executed statement into fixed buffers (every column read, as the
// server's row decoder reads them); returns the row count.
static int fetch_rows(struct worker *worker, MYSQL_STMT *statement, const char *what) {
    enum { columns_max = 8, text_bytes = 4096 };
    static __thread char texts[columns_max][text_bytes];
    int64_t integers[columns_max];
    unsigned long lengths[columns_max];
    my_bool nulls[columns_max], errors[columns_max];
    unsigned columns = mysql_stmt_field_count(statement);
    if (columns > columns_max) die("%s: too many columns", what);
    MYSQL_RES *metadata = mysql_stmt_result_metadata(statement);
    if (!metadata) die("%s: no result metadata", what);
    MYSQL_FIELD *fields = mysql_fetch_fields(metadata);
    MYSQL_BIND results[columns_max];
    memset(results, 0, sizeof results);
    for (unsigned column = 0; column < columns; column++) {
        int integer = fields[column].type == MYSQL_TYPE_LONGLONG || fields[column].type == MYSQL_TYPE_LONG ||
                      fields[column].type == MYSQL_TYPE_TINY;
        results[column].buffer_type = integer ? MYSQL_TYPE_LONGLONG : MYSQL_TYPE_STRING;
        results[column].buffer = integer ? (void *)&integers[column] : (void *)texts[column];
        results[column].buffer_length = integer ? sizeof integers[column] : text_bytes;
        results[column].length = &lengths[column];
        results[column].is_null = &nulls[column];
        results[column].error = &errors[column];
    }
    mysql_free_result(metadata);
    check_statement(statement, mysql_stmt_bind_result(statement, results), what);
    check_statement(statement, mysql_stmt_store_result(statement), what);
    int rows = 0, code;
    while ((code = mysql_stmt_fetch(statement)) == 0 || code == MYSQL_DATA_TRUNCATED) {
        for (unsigned column = 0; column < columns; column++) {
            if (nulls[column]) continue;
            if (results[column].buffer_type == MYSQL_TYPE_LONGLONG) {
                worker->checksum += (uint64_t)integers[column];
            } else if (lengths[column] > 0) {
                unsigned long last = lengths[column] < text_bytes ? lengths[column] - 1 : text_bytes - 1;
                worker->checksum += (unsigned char)texts[column][last] + (uint64_t)lengths[column];
            }
        }
        rows++;
    }
    if (code != MYSQL_NO_DATA) die("%s: fetch: %s", what, mysql_stmt_error(statement));
    mysql_stmt_free_result(statement);
    return rows;
}

static void list_first_page(struct worker *worker) {
    check_statement(worker->count_messages, mysql_stmt_execute(worker->count_messages), "COUNT(*)");
    fetch_rows(worker, worker->count_messages, "COUNT(*)");
    int64_t before = INT64_MAX, limit = 51;
    MYSQL_BIND parameters[2] = {integer_parameter(&before), integer_parameter(&limit)};
    MYSQL_STMT *page = worker->page_messages;
    check_statement(page, mysql_stmt_bind_param(page, parameters), "bind page SELECT");
    check_statement(page, mysql_stmt_execute(page), "page SELECT");
    if (fetch_rows(worker, page, "page SELECT") != 51) die("the page SELECT did not return 51 rows (is --rows at least 51?)");
}

static void *run(void *argument) {
    struct worker *worker = argument;
    uint64_t start = monotonic_ns();
    uint64_t measure_start = start + (uint64_t)(options.warmup * 1e9);
    uint64_t end = measure_start + (uint64_t)(options.duration * 1e9);
    for (;;) {
        uint64_t began = monotonic_ns();
        if (began >= end) break;
        switch (options.mode) {
        case MODE_INSERT:
            insert_message(worker);
            break;
        case MODE_SEND_MESSAGE:
            insert_audit(worker, insert_message(worker));
            break;
        case MODE_LIST:
            list_first_page(worker);
            break;
        }
        worker->call++;
        uint64_t finished = monotonic_ns();
        if (began >= measure_start && finished <= end) {
            if (worker->count == worker->capacity) {
                worker->capacity = worker->capacity ? worker->capacity * 2 : 1 << 16;
                uint32_t *grown = realloc(worker->latencies, worker->capacity * sizeof *grown);
                if (!grown) die("out of memory");
                worker->latencies = grown;
            }
            uint64_t took = finished - began;
            worker->latencies[worker->count++] = took > UINT32_MAX ? UINT32_MAX : (uint32_t)took;
        }
    }
    return NULL;
}

static void usage(void) {
    fprintf(stderr,
            "usage: mariadb-ceiling --database DB [--host H (127.0.0.1)] [--port P (3306)] [--user U (root)]\n"
            "                       [--password PW (empty; or MARIADB_CEILING_PASSWORD)] [--mode insert|send-message|list]\n"
            "                       [--threads N (1)] [--duration S (10)] [--warmup S (1)] [--rows N (1000)] [--json]\n");
    exit(2);
}

static void parse(int argc, char **argv) {
    const char *password = getenv("MARIADB_CEILING_PASSWORD");
    options = (struct options){.host = "127.0.0.1", .user = "root", .password = password ? password : "", .database = NULL,
                               .port = 3306, .mode = MODE_INSERT, .duration = 10, .warmup = 1, .rows = 1000, .threads = 1};
    for (int index = 1; index < argc; index++) {
        const char *flag = argv[index];
        const char *value = index + 1 < argc ? argv[index + 1] : NULL;
        if (strcmp(flag, "--json") == 0) {
            options.json = 1;
            continue;
        }
        if (!value) usage();
        index++;
        if (strcmp(flag, "--database") == 0) {
            options.database = value;
        } else if (strcmp(flag, "--host") == 0) {
            options.host = value;
        } else if (strcmp(flag, "--port") == 0) {
            options.port = (unsigned)atoi(value);
        } else if (strcmp(flag, "--user") == 0) {
            options.user = value;
        } else if (strcmp(flag, "--password") == 0) {
            options.password = value;
        } else if (strcmp(flag, "--mode") == 0) {
            int found = 0;
            for (int mode = 0; mode < 3; mode++) {
                if (strcmp(value, mode_names[mode]) == 0) {
                    options.mode = (enum mode)mode;
                    found = 1;
                }
            }
            if (!found) usage();
        } else if (strcmp(flag, "--threads") == 0) {
            options.threads = atoi(value);
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
    if (!options.database || options.port == 0 || options.port > 65535 || options.threads < 1 || options.threads > 1024 ||
        options.duration <= 0 || options.warmup < 0 || options.rows < 51 || options.rows > 10000000) {
        usage();
    }
}

static void prepare_worker(struct worker *worker) {
    worker->mysql = connect_to_server();
    worker->insert_message = prepare(worker->mysql, insert_message_sql);
    worker->insert_audit = prepare(worker->mysql, insert_audit_sql);
    worker->count_messages = prepare(worker->mysql, count_messages_sql);
    worker->page_messages = prepare(worker->mysql, page_messages_sql);
}

static void close_worker(struct worker *worker) {
    MYSQL_STMT *statements[] = {worker->insert_message, worker->insert_audit, worker->count_messages, worker->page_messages};
    for (size_t index = 0; index < sizeof statements / sizeof statements[0]; index++) mysql_stmt_close(statements[index]);
    mysql_close(worker->mysql);
    free(worker->latencies);
}

int main(int argc, char **argv) {
    parse(argc, argv);
    if (mysql_library_init(0, NULL, NULL) != 0) die("mysql_library_init failed");
    MYSQL *setup = connect_to_server();
    query(setup, create_messages_sql);
    query(setup, create_audit_sql);
    char version[64], flush[16], server_version[64];
    snprintf(server_version, sizeof server_version, "%s", mysql_get_server_info(setup));
    query_text(setup, "SELECT @@innodb_flush_log_at_trx_commit", flush, sizeof flush);
    query_text(setup, "SELECT @@version", version, sizeof version);

    struct worker *workers = calloc((size_t)options.threads, sizeof *workers);
    if (!workers) die("out of memory");
    for (int index = 0; index < options.threads; index++) prepare_worker(&workers[index]);
    if (options.mode == MODE_LIST) {
        int64_t existing = query_int(setup, "SELECT COUNT(*) FROM contact_messages");
        for (int64_t index = existing; index < options.rows; index++) insert_message(&workers[0]);
    }
    for (int index = 0; index < options.threads; index++) {
        if (pthread_create(&workers[index].thread, NULL, run, &workers[index]) != 0) die("pthread_create: %s", strerror(errno));
    }
    size_t count = 0;
    uint64_t checksum = 0;
    for (int index = 0; index < options.threads; index++) {
        pthread_join(workers[index].thread, NULL);
        count += workers[index].count;
        checksum += workers[index].checksum;
    }
    uint32_t *latencies = malloc((count ? count : 1) * sizeof *latencies);
    if (!latencies) die("out of memory");
    size_t offset = 0;
    for (int index = 0; index < options.threads; index++) {
        memcpy(latencies + offset, workers[index].latencies, workers[index].count * sizeof *latencies);
        offset += workers[index].count;
    }
    qsort(latencies, count, sizeof *latencies, compare_u32);
    double rate = (double)count / options.duration;
    double p50 = percentile_us(latencies, count, 0.50), p99 = percentile_us(latencies, count, 0.99);
    int64_t rows = query_int(setup, "SELECT COUNT(*) FROM contact_messages");
    if (options.json) {
        printf("{\"tool\":\"mariadb-ceiling\",\"mode\":\"%s\",\"threads\":%d,\"calls\":%zu,\"duration_s\":%.3f,"
               "\"calls_per_s\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"server\":\"%s\",\"client\":\"%s\","
               "\"innodb_flush_log_at_trx_commit\":\"%s\",\"messages_in_table\":%" PRId64 ",\"checksum\":%" PRIu64 "}\n",
               mode_names[options.mode], options.threads, count, options.duration, rate, p50, p99, version,
               mysql_get_client_info(), flush, rows, checksum);
    } else {
        printf("mariadb-ceiling %s, %d thread(s): %zu in %.2f s = %.0f/s, p50 %.1f µs, p99 %.1f µs\n", mode_names[options.mode],
               options.threads, count, options.duration, rate, p50, p99);
        printf("MariaDB %s (client %s), innodb_flush_log_at_trx_commit %s, %" PRId64 " messages in the table\n", server_version,
               mysql_get_client_info(), flush, rows);
    }
    free(latencies);
    for (int index = 0; index < options.threads; index++) close_worker(&workers[index]);
    free(workers);
    mysql_close(setup);
    mysql_library_end();
    return 0;
}
