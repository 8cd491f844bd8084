/*
 * tgerr: tollgate's one error type. Every fallible function returns an
 * enum tg_err; struct tg_error carries the rest of a failure as a value.
 * The transport maps each code, in one table (http/problem.c), to the HTTP
 * status and the RFC 9457 problem "type" that clients see.
 */
#ifndef TOLLGATE_TGERR_H
#define TOLLGATE_TGERR_H

#include <jansson.h>

enum tg_err {
    TG_OK = 0,
    TG_ENOMEM,            /* out of memory */
    TG_EINTERNAL,         /* a bug or an unexpected state */
    TG_EDB,               /* PostgreSQL failed or is unreachable */
    TG_EUNAVAILABLE,      /* the service cannot serve now (e.g. shutting down) */
    TG_EBADREQUEST,       /* malformed HTTP: bad Content-Length, duplicate header */
    TG_EBADJSON,          /* body is not JSON, or too deep, or duplicate keys */
    TG_EINVALID,          /* JSON is well-formed but a field is wrong */
    TG_EBADCONTENTTYPE,   /* body is not application/json */
    TG_ETOOLARGE,         /* body over the route's limit */
    TG_EUNAUTHORIZED,     /* missing, malformed, unknown or revoked API key */
    TG_ENOTFOUND,         /* no such route or resource */
    TG_EMETHOD,           /* route exists, method does not */
    TG_ECONFLICT,         /* e.g. e-mail already registered */
    TG_EIDEMPOTENCYKEY,   /* Idempotency-Key missing or malformed */
    TG_EIDEMPOTENCYREUSE, /* Idempotency-Key reused with another body */
    TG_EDISPOSABLE,       /* disposable e-mail domain */
    TG_EINSUFFICIENT,     /* no credit and nothing to charge */
    TG_EPAYMENTMETHODREQUIRED, /* the action needs a payment method on file */
    TG_ERATELIMITED,      /* too many requests */
    TG_ECONFIG,           /* configuration file or value is wrong */
    TG_EUPSTREAM,         /* Stripe could not be reached in time */
    TG_EPAYMENTFAILED,    /* Stripe declined the card or the payment */
    TG_EWEBHOOKSIGNATURE, /* webhook signature missing, stale or wrong */
    TG_ENOEMAIL,          /* a Marketplace purchase without an e-mail address */
    TG_ELASTAPIKEY,       /* revoking the customer's only active API key */
    TG_EAPIKEYLIMIT,      /* the customer already has the most active keys allowed */
    TG_ESIGNUPCLOSED,     /* automated_customer_onboarding is off for this signup */
    TG_EBILLINGDISABLED,  /* billing_enabled is off: nothing that charges may start */
    TG_ENOTOKENS,         /* no token signing key configured */
    TG_EIDEMPOTENCYBUSY,  /* the first request with this Idempotency-Key still runs */
    TG_EIDEMPOTENCYGONE,  /* the first answer held a secret, no longer kept */
    TG_EHOLDEXPIRED,      /* settling a hold that expired */
    TG_EHOLDRELEASED,     /* settling a hold that was released */
    TG_EHOLDSETTLED,      /* releasing a hold that was settled */
    TG_ESPENDLIMIT,       /* the charge would exceed the customer's monthly spend limit */
    TG_ERR_COUNT
};

/* struct tg_error: a failure as a value -- what went wrong (code), what
 * the caller may be told (detail), when to come back (retry_after) and
 * facts a client can act on (extra, e.g. Stripe's decline_code). Domain
 * and store functions return an enum tg_err and leave the rest in their
 * context's error (core/ctx.h); only the transport (src/http, src/api)
 * turns it into an HTTP status and an RFC 9457 problem. */
struct tg_error {
    enum tg_err code;
    const char *detail;  /* one sentence for the client; arena-owned or static; NULL */
    int retry_after;     /* seconds the client should wait before retrying; 0: none */
    json_t *extra;       /* JSON object of extension members, arena-owned; NULL */
};

/* tg_strerror: a short English description of err for logs and titles
 * ("Missing or invalid API key"). Static string; unknown values describe
 * TG_EINTERNAL. */
const char *tg_strerror(enum tg_err err);

#endif
