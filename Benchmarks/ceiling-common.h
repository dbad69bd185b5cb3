// What sqlite-ceiling.c and mariadb-ceiling.c share: the workload ova-bench sends, the SQL the
// repositories run on both backends, and the timing helpers. Each program defines
// CEILING_PROGRAM (its name, for error messages) before including this file.
#ifndef OVA_CEILING_COMMON_H
#define OVA_CEILING_COMMON_H
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static const char *const message_name = "María José Pérez Núñez";
static const char *const message_email = "maria.perez.0@example.com";
static const char *const message_subject = "Consulta sobre el asistente de voz";
// Sources/ova-bench/MessagesWorkload.swift's message, byte for byte.
static const char *const message_body =
    "Hola, les escribo porque me gustaría saber si la plataforma permite usar el asistente de voz "
    "en español desde el navegador del móvil. Lo he probado en casa y la transcripción funciona muy "
    "bien, pero en la oficina la conexión se corta a menudo y no sé si es un problema de la red o de "
    "la configuración. ¿Podrían indicarme qué requisitos tiene y si hay alguna guía para "
    "administradores? Muchas gracias de antemano.";

// The repositories' SQL, verbatim (the same text on SQLite and MariaDB).
static const char *const insert_message_sql =
    "INSERT INTO contact_messages (name, email, subject, message, sent_at_ms, is_read, is_answered) "
    "VALUES (?, ?, ?, ?, ?, 0, 0)";
static const char *const insert_audit_sql =
    "INSERT INTO audit_events (time_ms, actor, actor_admin_id, action, target, peer_address, request_id, outcome, detail)\n"
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char *const count_messages_sql = "SELECT COUNT(*) FROM contact_messages";
static const char *const page_messages_sql =
    "SELECT id, name, email, subject, message, sent_at_ms, is_read, is_answered FROM contact_messages "
    "WHERE id < ? ORDER BY id DESC LIMIT ?";

static void die(const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    fputs(CEILING_PROGRAM ": ", stderr);
    vfprintf(stderr, format, arguments);
    fputc('\n', stderr);
    va_end(arguments);
    exit(1);
}

static uint64_t monotonic_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static int64_t unix_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static int compare_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static double percentile_us(uint32_t *sorted, size_t count, double fraction) {
    if (count == 0) return 0;
    size_t index = (size_t)(fraction * (double)(count - 1) + 0.5);
    return sorted[index] / 1000.0;
}

#endif
