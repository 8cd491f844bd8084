/*
 * harness_stripe: what the Stripe billing suites (test_billing,
 * test_stripe_faults, test_crash) add to harness.h. t/integration/run starts
 * the Stripe emulator (t/stripe-emulator) with the stack and exports its
 * address as TOLLGATE_STRIPE_URL, and TOLLGATE_FAILPOINTS=1 when the build
 * has failpoints. Here: a client of the emulator (its Stripe API with the
 * stack's test key, its /_emulator control endpoints and injected faults),
 * customers with a card on file, restarts of the FastCGI workers with a
 * failpoint set, passes of tollgate-worker, and it_stripe_init /
 * it_stripe_fini, the suite fixtures that add to harness.c's ledger check:
 * every request the emulator received during the test validated against
 * Stripe's OpenAPI spec, and no fault is left behind.
 */
#ifndef TOLLGATE_IT_HARNESS_STRIPE_H
#define TOLLGATE_IT_HARNESS_STRIPE_H

#include "harness.h"

/* The secret key scripts/stack.sh gives tollgate (and the emulator takes). */
#define IT_STRIPE_KEY "sk_test_tollgate_dev_stack"

/* Suite fixtures: TestSuite(x, .init = it_stripe_init, .fini = it_stripe_fini).
 * it_stripe_init remembers how many requests the emulator has logged;
 * it_stripe_fini clears the faults, checks every request logged since then
 * (none invalid, none refused as parameter_unknown or the like) and then runs
 * it_fini. Violations abort the test process, as harness.c's fini does. */
void it_stripe_init(void);
void it_stripe_fini(void);

/* it_stripe_get / it_stripe_post: GET path?query or POST path with a form
 * body (either may be NULL or "") on TOLLGATE_STRIPE_URL, with
 * Authorization: Bearer IT_STRIPE_KEY; assert HTTP 200 and return the JSON
 * body (the caller owns it). */
json_t *it_stripe_get(const char *path, const char *query);
json_t *it_stripe_post(const char *path, const char *form);
/* it_stripe_fault: POST /_emulator/faults with form, e.g.
 * "mode=error&status=500&path=/v1/payment_intents&count=1".
 * it_stripe_clear_faults: DELETE /_emulator/faults. */
void it_stripe_fault(const char *form);
void it_stripe_clear_faults(void);
/* it_webhooks_hold: the emulator holds its webhook deliveries (queued), so
 * that only tollgate's own calls and tollgate-worker's retries move state.
 * it_webhooks_release: deliver everything held (flush, asserted) and run
 * tollgate-worker passes until no received event is pending (10 s, asserted).
 * it_webhooks_resume_quietly: resume deliveries, asserting nothing (for a
 * fini after a test that failed while holding them). */
void it_webhooks_hold(void);
void it_webhooks_release(void);
void it_webhooks_resume_quietly(void);
/* it_stripe_requests: the emulator's request log from entry first on (a
 * JSON array; the caller owns it); it_stripe_request_count: its length now. */
json_t *it_stripe_requests(size_t first);
size_t it_stripe_request_count(void);
/* it_stripe_count: how many objects GET path?customer=<cus>&limit=100
 * (&status=all for subscriptions) lists at the emulator. */
size_t it_stripe_count(const char *path, const char *stripe_customer);

/* it_customer_with_card: onboard c and add payment_method with billing
 * consent (POST /api/v1/customers/me/payment_method); asserts 200. */
void it_customer_with_card(struct it_customer *c, const char *payment_method);
/* it_add_card: POST the payment method; the response is left in out. */
void it_add_card(const struct it_customer *c, const char *payment_method, bool consent,
                 struct it_response *out);
/* it_stripe_customer: customers.stripe_customer_id of c (asserted set). */
void it_stripe_customer(const struct it_customer *c, char *out, size_t len);
/* it_charge_intents: the PaymentIntents of c's charges at the emulator
 * (those with metadata[tollgate_charge_id]; not those of subscription
 * invoices), newest first; the caller owns the array. */
json_t *it_charge_intents(const struct it_customer *c);
/* it_charge_key: the Idempotency-Key recorded for the charge of c's usage
 * event with Idempotency-Key usage_key (asserted to exist). */
void it_charge_key(const struct it_customer *c, const char *usage_key, char *out, size_t len);
/* it_db_count: it_db_ll on a fresh connection with c's id as $1;
 * it_db_str: the single text value sql returns ("" for NULL) into out. */
long long it_db_count(const struct it_customer *c, const char *sql);
void it_db_str(const struct it_customer *c, const char *sql, char *out, size_t len);
/* it_zero_balance: an adjustment entry that brings c's balance to 0. */
void it_zero_balance(const struct it_customer *c);

/* it_failpoints: the build was configured with --enable-failpoints. */
bool it_failpoints(void);
/* it_fcgi_restart: stop the FastCGI master and start it again with
 * TOLLGATE_FAILPOINT=failpoint (NULL: none); waits for /health (assert). */
void it_fcgi_restart(const char *failpoint);
/* it_worker_stop / it_worker_start: stop and start (unless it runs) the
 * stack's background tollgate-worker (assert). The _try_ forms return 0 or
 * the failed script's status and assert nothing, for Criterion's report
 * hooks. */
void it_worker_stop(void);
void it_worker_start(void);
int it_worker_try_stop(void);
int it_worker_try_start(void);
/* A program whose tests must be the only ones to finish Stripe calls stops
 * the background tollgate-worker before its first test and starts it after
 * its last, in the runner process (so also after a crashed test):
 *   ReportHook(PRE_ALL)(struct criterion_test_set *s) { (void)s; it_worker_pause(); }
 *   ReportHook(POST_ALL)(struct criterion_global_stats *s) { (void)s; it_worker_resume(); }
 * They print a warning when the worker did not stop or start. */
void it_worker_pause(void);
void it_worker_resume(void);
/* it_worker_pass: one pass of tollgate-worker -1 (asserts it exits 0 with
 * no sanitizer report). */
void it_worker_pass(void);
/* it_pending_calls: stripe_requests of c (NULL: everyone) still pending. */
long long it_pending_calls(const struct it_customer *c);
/* it_worker_drain: run worker passes until no call of c (NULL: none at all)
 * is pending, for at most seconds; true when none is left. */
bool it_worker_drain(const struct it_customer *c, int seconds);
/* it_pause_ms: sleep. */
void it_pause_ms(long ms);

#endif
