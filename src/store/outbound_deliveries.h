/*
 * outbound_deliveries: the queue of webhook deliveries to the product's
 * endpoints (sql/011; the rules -- order, leases, backoff, dead letters,
 * replays -- are sql/functions/outbound.sql's). Strings are borrowed from
 * the context's arena; times RFC 3339 UTC with microseconds.
 */
#ifndef TOLLGATE_STORE_OUTBOUND_DELIVERIES_H
#define TOLLGATE_STORE_OUTBOUND_DELIVERIES_H

#include <stdbool.h>
#include <stddef.h>

#include "core/ctx.h"

/* A delivery claimed for sending. The secrets are the endpoint's: never
 * log them. */
struct outbound_claim {
    long long id;
    long long attempts;      /* this attempt's number, from 1 */
    const char *event_id;    /* evt_... */
    const char *event_type;
    const char *body;        /* the event's JSON, sent as is */
    const char *endpoint_id;
    const char *url;
    const char *secret;
    const char *previous_secret; /* NULL unless a rotated secret still signs */
};

/* outbound_deliveries_claim: lease up to limit due deliveries for lease_ms
 * (outbound_claim in SQL: the oldest pending one per customer and
 * endpoint); *out (*n) arena-owned. TG_EDB. */
enum tg_err outbound_deliveries_claim(struct tg_ctx *ctx, int limit, long lease_ms,
                                      struct outbound_claim **out, size_t *n)
    __attribute__((warn_unused_result));

/* outbound_deliveries_done: record an attempt at delivery id: delivered,
 * else the HTTP status (0: none) and error, with a retry or, once
 * horizon_seconds have passed since it was queued, a dead letter. *status
 * is the new status ("unknown" when the delivery was no longer pending). */
enum tg_err outbound_deliveries_done(struct tg_ctx *ctx, long long id, bool delivered,
                                     long http_status, const char *error,
                                     long horizon_seconds, const char **status)
    __attribute__((warn_unused_result));

/* One delivery as operators see it. */
struct outbound_delivery {
    long long id;
    const char *event_id;
    const char *event_type;
    const char *customer_id; /* NULL for events of no customer */
    const char *endpoint_id;
    const char *status;      /* pending | delivered | dead | canceled */
    long long attempts;
    long long last_status;   /* 0: none */
    const char *last_error;
    const char *created_at;
    const char *next_attempt_at; /* NULL unless pending */
    const char *delivered_at;
};

/* outbound_deliveries_list: the newest limit deliveries, newest first;
 * failed_only: dead ones and pending ones that failed at least once. */
enum tg_err outbound_deliveries_list(struct tg_ctx *ctx, bool failed_only, int limit,
                                     struct outbound_delivery **out, size_t *n)
    __attribute__((warn_unused_result));

/* outbound_deliveries_replay: queue again the deliveries id names (a
 * delivery id or an event's evt_ id; outbound_replay in SQL: audited);
 * *ids (*n) the deliveries, arena-owned. */
enum tg_err outbound_deliveries_replay(struct tg_ctx *ctx, const char *id, long long **ids,
                                       size_t *n) __attribute__((warn_unused_result));

#endif
