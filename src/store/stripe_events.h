/*
 * stripe_events: the inbox of Stripe webhook events
 * (sql/functions/stripe_events.sql): stored by evt_ id when they arrive,
 * claimed by tollgate-worker, and each attempt's outcome recorded
 * (retried with backoff, or a dead letter).
 */
#ifndef TOLLGATE_STORE_STRIPE_EVENTS_H
#define TOLLGATE_STORE_STRIPE_EVENTS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/ctx.h"

/* An event as the inbox holds it; strings borrowed from the arena. */
struct stripe_event {
    const char *id;      /* evt_... */
    const char *type;    /* invoice.paid, ... */
    const char *payload; /* the event as received (JSON text) */
    long long received_us; /* when it was received, unix microseconds */
};

/* An event with its processing state, as operators see it; strings
 * borrowed from the context's arena. */
struct stripe_event_record {
    const char *id;          /* evt_... */
    const char *type;
    const char *status;      /* pending | processed | ignored | dead */
    long long attempts;
    const char *last_error;  /* NULL when none */
    const char *received_at; /* RFC 3339 UTC with microseconds */
    const char *payload;     /* the event as received (JSON text) */
};

/* stripe_events_store: keep event id of type (api_version may be NULL;
 * created in unix seconds) with its raw payload. *duplicate when the id was
 * stored before (nothing changes then). TG_EDB. */
enum tg_err stripe_events_store(struct tg_ctx *ctx, const char *id, const char *type,
                                const char *api_version, long long created, bool livemode,
                                const char *payload, bool *duplicate)
    __attribute__((warn_unused_result));

/* stripe_events_claim: up to limit due events, oldest first, leased for
 * two minutes (FOR UPDATE SKIP LOCKED), into *out (*n, arena-owned). */
enum tg_err stripe_events_claim(struct tg_ctx *ctx, int limit, struct stripe_event **out,
                                size_t *n) __attribute__((warn_unused_result));

/* stripe_events_done: record one attempt at id: "processed" or "ignored"
 * (final) or "error" with error text, which schedules the next attempt or,
 * at max_attempts, makes the event a dead letter. *status is the event's
 * status now. TG_EDB. */
enum tg_err stripe_events_done(struct tg_ctx *ctx, const char *id, const char *outcome,
                               const char *error, long max_attempts, const char **status)
    __attribute__((warn_unused_result));

/* stripe_events_dead: the dead letters (events whose handler failed
 * max_attempts times), oldest first, into *out (*n, arena-owned; payload
 * NULL). TG_EDB, TG_ENOMEM. */
enum tg_err stripe_events_dead(struct tg_ctx *ctx, struct stripe_event_record **out, size_t *n)
    __attribute__((warn_unused_result));

/* stripe_events_get: event id, whatever its status. TG_ENOTFOUND, TG_EDB. */
enum tg_err stripe_events_get(struct tg_ctx *ctx, const char *id,
                              struct stripe_event_record *out) __attribute__((warn_unused_result));

/* stripe_events_replay: make dead letter id (NULL: every dead letter)
 * pending again with a fresh attempt count, each audited as
 * dead_letter.replayed, and wake tollgate-worker (stripe_event_replay()
 * in SQL). *ids (*n, arena-owned, by id) are the events replayed: none
 * when id is not a dead letter. TG_EDB, TG_ENOMEM. */
enum tg_err stripe_events_replay(struct tg_ctx *ctx, const char *id, const char ***ids, size_t *n)
    __attribute__((warn_unused_result));

#endif
