/*
 * stripe_webhook: Stripe's webhook events (DESIGN.md section 4). An event
 * is stored by its evt_ id when it arrives (a redelivery changes nothing)
 * and applied later by tollgate-worker. Events come out of order and more
 * than once, so handlers never trust the order: they re-fetch the object's
 * current state from Stripe and apply that, and every grant is keyed (a
 * Pro invoice's credits by the invoice id). Any permutation of the same
 * events therefore ends in the same state as in-order delivery. Both API
 * 2023-08-16 and 2025 ("basil") payload shapes are read.
 */
#ifndef TOLLGATE_STRIPE_WEBHOOK_H
#define TOLLGATE_STRIPE_WEBHOOK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/ctx.h"
#include "store/stripe_events.h"

/* stripe_webhook_verify: check signature (the Stripe-Signature header,
 * NULL when absent) of body (len bytes, the raw request body) with the
 * configured whsec_ secret at ctx->now, before anything is parsed.
 * TG_EUNAVAILABLE when no secret is configured; TG_EWEBHOOKSIGNATURE
 * (detail: why) when it does not verify. */
enum tg_err stripe_webhook_verify(struct tg_ctx *ctx, const char *signature, const char *body,
                                  size_t len) __attribute__((warn_unused_result));

/* stripe_webhook_receive: keep event (the parsed, verified body; borrowed)
 * whose raw text is body. *duplicate when its id was already stored.
 * TG_EINVALID when it is not a Stripe event; TG_EDB. */
enum tg_err stripe_webhook_receive(struct tg_ctx *ctx, json_t *event, const char *body,
                                   bool *duplicate) __attribute__((warn_unused_result));

/* stripe_webhook_apply: apply event now. *ignored when its type (or its
 * object) is none of tollgate's business. Errors mean "try again later". */
enum tg_err stripe_webhook_apply(struct tg_ctx *ctx, json_t *event, bool *ignored)
    __attribute__((warn_unused_result));

/* stripe_webhook_process_due: claim up to limit due events (FOR UPDATE
 * SKIP LOCKED lease), apply each as actor "stripe:<evt_...>" and record
 * the outcome (retry with backoff, or a dead letter after
 * webhook_max_attempts); each is logged. Returns how many it claimed. */
size_t stripe_webhook_process_due(struct tg_ctx *ctx, int limit);

/* stripe_webhook_dead_letters: the events whose handler failed
 * webhook_max_attempts times, oldest first; *out (*n) arena-owned, without
 * payloads. Errors: TG_EDB, TG_ENOMEM. */
enum tg_err stripe_webhook_dead_letters(struct tg_ctx *ctx, struct stripe_event_record **out,
                                        size_t *n) __attribute__((warn_unused_result));

/* stripe_webhook_event: stored event id with its state and payload.
 * Errors: TG_ENOTFOUND, TG_EDB. */
enum tg_err stripe_webhook_event(struct tg_ctx *ctx, const char *id,
                                 struct stripe_event_record *out)
    __attribute__((warn_unused_result));

/* stripe_webhook_replay: dead letter id (NULL: all of them) is applied
 * again by tollgate-worker, woken at once, with a fresh attempt count;
 * audited as dead_letter.replayed with ctx's actor. *ids (*n, arena-owned)
 * are the events replayed. Errors: TG_ENOTFOUND (id is no dead letter;
 * nothing changed), TG_EDB, TG_ENOMEM. */
enum tg_err stripe_webhook_replay(struct tg_ctx *ctx, const char *id, const char ***ids,
                                  size_t *n) __attribute__((warn_unused_result));

/* stripe_webhook_rejected: count an inbound Stripe webhook refused for
 * reason (signature, too_old, too_new, malformed, too_large,
 * unconfigured) in tollgate_webhooks_received_total. */
void stripe_webhook_rejected(const char *reason);

#endif
