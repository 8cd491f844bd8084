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

#endif
