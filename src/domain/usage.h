/*
 * usage: metering. Each fix deployed takes one credit (DESIGN.md section
 * 2); at balance 0 a payg or pro customer with a payment method is charged
 * for one (domain/charge.c), anyone else is refused with 402 and nothing is
 * recorded. Requests carry an Idempotency-Key (IETF draft "The
 * Idempotency-Key HTTP Header Field"): a retry with the same key and body
 * gets the first answer again, built from the stored event, byte for byte;
 * the same key with another body is refused; one still being charged gets
 * 409.
 */
#ifndef TOLLGATE_USAGE_H
#define TOLLGATE_USAGE_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "http/http.h"

struct usage_event {
    long long id;
    const char *kind;          /* "fix_deployed" */
    const char *fix_id;
    const char *outcome;       /* "credit" (from the balance) or "charged" */
    long long balance_after;   /* credits left after this event */
    long long ledger_entry_id;
    const char *created_at;    /* RFC 3339 UTC */
    long long charge_id;       /* 0 unless charged */
    long long amount_cents;    /* of the charge, in minor units of currency */
    const char *currency;      /* ISO 4217, lower case; NULL unless charged */
    bool replayed;             /* an earlier request with this key recorded it */
};

/* usage_record_fix: record one deployed fix (fix_id, optional metadata as
 * compact JSON text or NULL) for req->auth's customer under
 * req->idempotency_key, keyed to the SHA-256 of the raw request body.
 * Errors: TG_EINSUFFICIENT (402: no credit, nothing to charge),
 * TG_EPAYMENTFAILED (402: the charge was declined), TG_EIDEMPOTENCYREUSE
 * (422), TG_ECONFLICT (409: the first request is still being charged),
 * TG_EDB. */
enum tg_err usage_record_fix(struct http_request *req, const char *fix_id, const char *metadata,
                             struct usage_event *out) __attribute__((warn_unused_result));

/* usage_event_get: the stored event id. TG_ENOTFOUND, TG_EDB. */
enum tg_err usage_event_get(struct http_request *req, long long id, struct usage_event *out)
    __attribute__((warn_unused_result));

#include "domain/customer.h"
#include "domain/ledger.h"

/* usage_summary: customer_id's customer and its recent (at most n, 1..100)
 * ledger entries, newest first, read in one snapshot. TG_ENOTFOUND, TG_EDB. */
enum tg_err usage_summary(struct http_request *req, const char *customer_id, int n,
                          struct customer *c, struct ledger_page *recent)
    __attribute__((warn_unused_result));

#endif
