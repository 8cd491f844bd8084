/*
 * harness_webhooks: what the Stripe webhook suites (test_webhooks,
 * test_webhook_billing, test_webhook_ops) add to harness_stripe.h. Events
 * are signed here with libtollgate's webhook_sig_stripe_header() and the
 * stack's own secret (scripts/stack.sh writes it to
 * $TOLLGATE_TEST_DIR/stripe-webhook-secret) and POSTed through nginx to
 * /webhooks/stripe; the inbox (stripe_events) is read with libpq; the
 * emulator's clock, event log and webhook queue (pause, resume, flush) are
 * driven through its control endpoints; tollgatectl runs with the stack's
 * configuration.
 *
 * The emulator's clock, webhook queue and faults are global, so every
 * program using this runs one test at a time (criterion_options.jobs = 1),
 * and wh_fini always resumes deliveries.
 */
#ifndef TOLLGATE_IT_HARNESS_WEBHOOKS_H
#define TOLLGATE_IT_HARNESS_WEBHOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "harness_stripe.h"

/* Suite fixtures: it_stripe_init; on the way out, the stack's webhook
 * endpoint put back if a test removed it, deliveries resumed and flushed,
 * then it_stripe_fini (faults cleared, requests valid, ledger). */
void wh_init(void);
void wh_fini(void);

/* ---- signing and delivering ---- */

/* wh_secret: the stack's whsec_ secret (borrowed, static). */
const char *wh_secret(void);
/* wh_sign: the Stripe-Signature header for body signed with secret at t. */
void wh_sign(const char *secret, const char *body, size_t len, long long t, char *out,
             size_t outlen);
/* wh_post: POST body to /webhooks/stripe as application/json with the
 * Stripe-Signature header signature (NULL: no header; "": an empty one). */
void wh_post(const char *body, size_t len, const char *signature, struct it_response *out);
/* wh_deliver: sign body now with the stack's secret and POST it; asserts
 * 200 {"received":true,"id":...}; returns the answer's "duplicate". */
bool wh_deliver(const char *body, size_t len);
/* wh_event_id: a fresh event id, evt_it<24 hex digits>. */
void wh_event_id(char *out, size_t len);
/* wh_event: the JSON text of a Stripe event envelope (API 2023-08-16)
 * id/type around object (borrowed), created now. The caller frees it. */
char *wh_event(const char *id, const char *type, json_t *object);

/* ---- the inbox (stripe_events) ---- */

/* wh_rows: how many rows stripe_events has with id. */
long long wh_rows(const char *id);
/* wh_status: status, attempts and last_error ("" for NULL) of event id;
 * false when there is no such row. Any output may be NULL. */
bool wh_status(const char *id, char *status, size_t len, long long *attempts, char *error,
               size_t errlen);
/* wh_wait_final: poll until event id is no longer pending, for at most
 * seconds; status is left in status ("pending" when time ran out). */
void wh_wait_final(const char *id, int seconds, char *status, size_t len);
/* wh_max_attempts: webhook_max_attempts of the stack
 * (TOLLGATE_WEBHOOK_MAX_ATTEMPTS as t/integration/run exports it, else 5). */
long wh_max_attempts(void);

/* ---- the emulator ---- */

/* wh_pause: hold (true) or release (false) the emulator's deliveries. */
void wh_pause(bool paused);
/* wh_endpoint: remove (false) every webhook endpoint of the emulator, so
 * that what happens meanwhile is never delivered (an outage of tollgate's
 * endpoint), or add the stack's back (true): $TOLLGATE_URL/webhooks/stripe
 * with the stack's secret. */
void wh_endpoint(bool on);
/* wh_flush: wait until the emulator has delivered everything queued. */
void wh_flush(void);
/* wh_advance: move the emulator's clock days forward; the events that
 * happened on the way, as [{id, type}] (the caller owns it). */
json_t *wh_advance(long days);
/* wh_customer_events: the full events about Stripe customer cus (its own,
 * and every object whose "customer" is cus), oldest first; caller owns. */
json_t *wh_customer_events(const char *cus);
/* wh_advance_until_paid: move the emulator's clock a day at a time (at
 * most max_days) until Stripe customer cus has no open invoice: Stripe's
 * dunning retries (3, 5, 7 days apart) pay with the card now on file. */
void wh_advance_until_paid(const char *cus, int max_days);
/* wh_requests: how many requests method path (exact) the emulator logged
 * from entry first on. */
size_t wh_requests(size_t first, const char *method, const char *path);
/* wh_set_card_at_stripe: attach payment_method to cus at the emulator
 * and make it the invoices' default, without tollgate (a customer
 * updating the card in Stripe's hosted pages). */
void wh_set_card_at_stripe(const char *cus, const char *payment_method);

/* ---- customers ---- */

/* wh_pro_customer: a customer with payment_method on file, subscribed to
 * Pro (POST /api/v1/subscriptions, 201); its Stripe customer and
 * subscription ids into cus and sub (64 bytes each). */
void wh_pro_customer(struct it_customer *c, const char *payment_method, char *cus, char *sub);
/* wh_settle: flush the emulator, then wait (at most seconds) until no
 * event about Stripe customer cus is pending in the inbox (asserted). */
void wh_settle(const char *cus, int seconds);
/* wh_me: GET /api/v1/customers/me (200); the caller owns the JSON. */
json_t *wh_me(const struct it_customer *c);
/* wh_entries: c's ledger entries of kind. */
long long wh_entries(const struct it_customer *c, const char *kind);

/* wh_elapsed: seconds since *start (CLOCK_MONOTONIC), for deadlines. */
double wh_elapsed(const struct timespec *start);

#endif
