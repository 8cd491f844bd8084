/*
 * webhook_endpoints: the product's webhook endpoints (sql/011, the rules in
 * sql/functions/outbound.sql). Strings are borrowed from the context's
 * arena; times RFC 3339 UTC with microseconds, NULL when not set.
 */
#ifndef TOLLGATE_STORE_WEBHOOK_ENDPOINTS_H
#define TOLLGATE_STORE_WEBHOOK_ENDPOINTS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/ctx.h"

/* One endpoint; never its secrets. */
struct webhook_endpoint {
    const char *id;          /* we_... */
    const char *url;
    const char *events;      /* comma-separated types; NULL: every type */
    const char *created_at;
    const char *removed_at;
    const char *previous_secret_expires_at; /* NULL unless a rotated secret still signs */
};

/* webhook_endpoints_add: insert an endpoint (webhook_endpoint_add: audited)
 * for url, taking events (comma-separated types; NULL: all), signing with
 * secret. *out is it. TG_EDB. */
enum tg_err webhook_endpoints_add(struct tg_ctx *ctx, const char *url, const char *events,
                                  const char *secret, struct webhook_endpoint *out)
    __attribute__((warn_unused_result));

/* webhook_endpoints_remove: remove endpoint id (audited; its pending
 * deliveries canceled). TG_ENOTFOUND when there is no such live endpoint. */
enum tg_err webhook_endpoints_remove(struct tg_ctx *ctx, const char *id)
    __attribute__((warn_unused_result));

/* webhook_endpoints_rotate: endpoint id signs with secret from now on, and
 * with its old secret too for overlap_seconds (audited). *out is it.
 * TG_ENOTFOUND when there is no such live endpoint. */
enum tg_err webhook_endpoints_rotate(struct tg_ctx *ctx, const char *id, const char *secret,
                                     long overlap_seconds, struct webhook_endpoint *out)
    __attribute__((warn_unused_result));

/* webhook_endpoints_list: every endpoint (removed ones only when
 * with_removed), oldest first; *out (*n) arena-owned. */
enum tg_err webhook_endpoints_list(struct tg_ctx *ctx, bool with_removed,
                                   struct webhook_endpoint **out, size_t *n)
    __attribute__((warn_unused_result));

/* webhook_endpoints_test: queue a webhook.test event to endpoint id alone;
 * *event_id is its id. TG_ENOTFOUND when there is no such live endpoint. */
enum tg_err webhook_endpoints_test(struct tg_ctx *ctx, const char *id, const char **event_id)
    __attribute__((warn_unused_result));

#endif
