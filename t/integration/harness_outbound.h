/*
 * harness_outbound: what the tests of tollgate's webhooks to the product
 * (test_outbound) add to harness.h: the loopback receiver
 * t/integration/receiver.py (started per test, killed at its end), its
 * control endpoints, and endpoints registered with the real tollgatectl.
 * The stack's background tollgate-worker delivers (t/integration/run
 * allows http:// to loopback and shortens the delivery timeout).
 */
#ifndef TOLLGATE_IT_HARNESS_OUTBOUND_H
#define TOLLGATE_IT_HARNESS_OUTBOUND_H

#include <jansson.h>
#include <stdbool.h>

#include "harness.h"

/* A receiver and the endpoint registered for it. */
struct rx {
    int pid;
    char base[64];      /* http://127.0.0.1:port */
    char endpoint[40];  /* we_... ("" before rx_register) */
    char secret[80];    /* whsec_... as tollgatectl printed it once */
};

/* rx_start: start a receiver (asserted). rx_stop: remove its endpoint (if
 * any) and kill it. */
void rx_start(struct rx *r);
void rx_stop(struct rx *r);

/* rx_register: tollgatectl webhooks add <base>/hook [--events events]
 * (events may be NULL); asserts success and keeps the id and secret. */
void rx_register(struct rx *r, const char *events);

/* rx_word_after: the word after label in text (asserted), into out. */
void rx_word_after(const char *text, const char *label, char *out, size_t len);

/* rx_actions: queue actions ("ok", "500", "hang", "huge"), NULL-terminated,
 * and the default for requests after them (NULL: keep). */
void rx_actions(struct rx *r, const char *const *actions, const char *dflt);

/* rx_requests: every request received so far (a JSON array the caller
 * owns), each {path, headers, body, t}. */
json_t *rx_requests(struct rx *r);

/* rx_events_of: the events (parsed bodies, in arrival order; a JSON array
 * the caller owns) received for customer id (NULL: every request), with
 * each event's index among all requests as member "_index". */
json_t *rx_events_of(struct rx *r, const char *customer);

/* rx_verify: request index's signature verifies with secret by the
 * documented function (docs/outbound-webhooks.md). */
bool rx_verify(struct rx *r, size_t index, const char *secret);

/* rx_wait_events: wait (at most seconds) until at least n events for
 * customer have arrived; returns how many did. */
size_t rx_wait_events(struct rx *r, const char *customer, size_t n, int seconds);

/* rx_delivery_status: the status of the delivery of event_id to r's
 * endpoint ("" when none). */
void rx_delivery_status(struct rx *r, const char *event_id, char *out, size_t len);

/* rx_wait_status: wait (at most seconds) until that status is want. */
bool rx_wait_status(struct rx *r, const char *event_id, const char *want, int seconds);

#endif
