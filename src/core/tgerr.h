/*
 * tgerr: tollgate's one error type. Every fallible function returns an
 * enum tg_err; tg_err_info() maps it, in one table, to the HTTP status, the
 * RFC 9457 problem "type" URI and title that clients see. The slugs are part
 * of the public API (docs/problems.md): never rename one.
 */
#ifndef TOLLGATE_TGERR_H
#define TOLLGATE_TGERR_H

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
    TG_ERR_COUNT
};

struct tg_err_info {
    int status;          /* HTTP status code */
    const char *slug;    /* last part of the problem type URI */
    const char *title;   /* RFC 9457 title: short, never changes per occurrence */
};

/* The prefix of every problem type URI; the slug follows. */
#define TG_PROBLEM_BASE "https://tollgate.dev/problems/"

/* tg_err_info: the static description of err (never NULL; unknown values map
 * to TG_EINTERNAL). Borrowed, lives forever. */
const struct tg_err_info *tg_err_info(enum tg_err err);

/* tg_strerror: a short English description for logs. Static string. */
const char *tg_strerror(enum tg_err err);

#endif
