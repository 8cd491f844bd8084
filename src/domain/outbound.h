/*
 * outbound: signed webhooks to the product (issue 14;
 * docs/outbound-webhooks.md). Events are written by the database in the
 * transaction of each change (sql/functions/outbound.sql); this module
 * manages the endpoints that receive them (tollgatectl webhooks) and sends
 * the queued deliveries for tollgate-worker: each signed as Stripe signs
 * ("Tollgate-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, t.body)>",
 * one v1 per secret that signs), in order per customer and endpoint, at
 * least once, retried with backoff and jitter for outbound_retry_seconds
 * (3 days) and then a dead letter an operator can replay (same event id).
 */
#ifndef TOLLGATE_OUTBOUND_H
#define TOLLGATE_OUTBOUND_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/ctx.h"
#include "integration/webhook_send.h"
#include "store/outbound_deliveries.h"
#include "store/webhook_endpoints.h"

/* A rotated secret keeps signing this long beside the new one. */
#define OUTBOUND_ROTATION_OVERLAP_SECONDS (24 * 3600)
/* "whsec_" and 64 hex digits (32 bytes from RAND_bytes), and the NUL. */
#define OUTBOUND_SECRET_LEN (6 + 64 + 1)

/* outbound_event_types: every event type an endpoint may ask for,
 * NULL-terminated (the list of docs/outbound-webhooks.md). */
extern const char *const outbound_event_types[];

/* outbound_endpoint_add: register url (webhook_send_check_url, http only
 * to loopback with outbound_allow_http) for events (comma-separated types
 * of outbound_event_types; NULL or "": all), with a new secret from
 * OpenSSL's RAND_bytes written to secret, which the caller shows once and
 * wipes (OPENSSL_cleanse). Audited. TG_EINVALID (detail: why), TG_EDB,
 * TG_EINTERNAL (no randomness). */
enum tg_err outbound_endpoint_add(struct tg_ctx *ctx, const char *url, const char *events,
                                  struct webhook_endpoint *out, char secret[OUTBOUND_SECRET_LEN])
    __attribute__((warn_unused_result));

/* outbound_endpoint_rotate: a new secret for endpoint id, into secret (as
 * above); the old one still signs for OUTBOUND_ROTATION_OVERLAP_SECONDS.
 * Audited. TG_ENOTFOUND, TG_EDB, TG_EINTERNAL. */
enum tg_err outbound_endpoint_rotate(struct tg_ctx *ctx, const char *id,
                                     struct webhook_endpoint *out,
                                     char secret[OUTBOUND_SECRET_LEN])
    __attribute__((warn_unused_result));

/* outbound_endpoint_remove: endpoint id receives nothing more; its pending
 * deliveries are canceled. Audited. TG_ENOTFOUND, TG_EDB. */
enum tg_err outbound_endpoint_remove(struct tg_ctx *ctx, const char *id)
    __attribute__((warn_unused_result));

/* outbound_endpoint_test: queue a webhook.test event for endpoint id
 * alone; *event_id (arena) is its id. TG_ENOTFOUND, TG_EDB. */
enum tg_err outbound_endpoint_test(struct tg_ctx *ctx, const char *id, const char **event_id)
    __attribute__((warn_unused_result));

/* outbound_replay: queue again the delivery (numeric id) or every delivery
 * of the event (evt_ id) id names that is not pending, keeping the event's
 * id and body. Audited. TG_ENOTFOUND when there is none; TG_EDB. */
enum tg_err outbound_replay(struct tg_ctx *ctx, const char *id, long long **ids, size_t *n)
    __attribute__((warn_unused_result));

/* outbound_deliver_due: for tollgate-worker: claim due deliveries a batch
 * at a time and send each with sender, signed at the current time, until
 * limit were sent, none is due, or *stop is set; every attempt is
 * recorded (delivered, retry, dead letter) and logged without secrets.
 * Returns how many were attempted. */
size_t outbound_deliver_due(struct tg_ctx *ctx, struct webhook_send *sender, size_t limit,
                            volatile const sig_atomic_t *stop);

#endif
