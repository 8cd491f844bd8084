/*
 * customer: onboarding and reading customers. Onboarding creates the
 * customer, its first API key and the trial credits in one transaction
 * (DESIGN.md section 2: signup +5 trial_signup, tier trial).
 */
#ifndef TOLLGATE_CUSTOMER_H
#define TOLLGATE_CUSTOMER_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "domain/apikey.h"
#include "http/http.h"

/* A customer as read from the database; strings are owned by the request. */
struct customer {
    const char *id;             /* uuid */
    const char *email;
    const char *name;
    const char *source;         /* direct | marketplace | early_access */
    const char *tier;           /* trial | payg | pro */
    const char *billing_status; /* none | active | past_due | delinquent */
    long long credit_balance;   /* credits, never negative */
    const char *created_at;     /* RFC 3339 UTC */
    const char *stripe_customer_id;     /* cus_..., NULL before billing */
    const char *default_payment_method; /* pm_..., NULL before billing */
    const char *grace_period_ends_at;   /* RFC 3339 UTC, NULL unless past_due */
    bool billing_enabled;       /* the billing_enabled flag (kill switch) for this customer */
};

/* The accepted signup sources. NULL-terminated. */
extern const char *const customer_sources[];

/* customer_onboard: validate email (syntax, disposable blocklist) and create
 * the customer with name and source, a new API key (returned in *key: the
 * caller shows it once and must apikey_cleanse() it) and the trial credits.
 * Errors: TG_EINVALID (syntax), TG_EDISPOSABLE, TG_ESIGNUPCLOSED (the
 * automated_customer_onboarding flag is off for this address), TG_ECONFLICT
 * (e-mail already registered, case-insensitively), TG_EDB. */
enum tg_err customer_onboard(struct http_request *req, const char *email, const char *name,
                             const char *source, struct customer *out, struct apikey *key)
    __attribute__((warn_unused_result));

/* customer_get: the customer with id. TG_ENOTFOUND, TG_EDB. */
enum tg_err customer_get(struct http_request *req, const char *id, struct customer *out)
    __attribute__((warn_unused_result));

/* customer_from_row: read CUSTOMER_COLS (statements.c, columns 0 to
 * CUSTOMER_NCOLS - 1) of row i of r; strings borrowed from r. */
void customer_from_row(PGresult *r, int i, struct customer *c);

#define CUSTOMER_NCOLS 12

#endif
