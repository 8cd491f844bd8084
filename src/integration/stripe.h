/*
 * stripe: the Stripe API client (libcurl). One client per process reuses
 * its connection. Every call pins Stripe-Version, sends the secret key as a
 * bearer token (never logged), form-encodes parameters the way Stripe
 * expects (`items[0][price]=...`), sends an Idempotency-Key on every POST,
 * and retries network errors, 409, 429 and 5xx with exponential backoff and
 * jitter, honouring Stripe-Should-Retry (Stripe docs: "Error handling",
 * "Idempotent requests", "Versioning").
 */
#ifndef TOLLGATE_STRIPE_H
#define TOLLGATE_STRIPE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"
#include "core/ctx.h"
#include "core/tgerr.h"

#define STRIPE_API_VERSION "2023-08-16"
#define STRIPE_MAX_RESPONSE (1 << 20)
#define STRIPE_MIN_ATTEMPT_MS 500 /* an attempt with less time than this is not made */

struct stripe_config {
    const char *api_base;    /* "https://api.stripe.com" or the emulator */
    const char *secret_key;  /* sk_test_..., sk_live_... or rk_...; borrowed */
    long connect_timeout_ms; /* per attempt */
    long timeout_ms;         /* per attempt, whole exchange */
    int max_retries;         /* attempts after the first */
};

/* One form parameter; key in Stripe's bracket notation, value as text. */
struct stripe_param {
    const char *key;
    const char *value;
};

enum stripe_outcome {
    STRIPE_OK,            /* 2xx */
    STRIPE_CARD_ERROR,    /* 402 card_error: declined, authentication required */
    STRIPE_INVALID,       /* other 4xx: our request was wrong (a bug or stale id) */
    STRIPE_UNREACHABLE,   /* no definite answer: network, timeout, 5xx, 429 */
};

struct stripe_result {
    enum stripe_outcome outcome;
    int status;               /* HTTP status of the last attempt; 0 if none */
    int attempts;
    json_t *body;             /* parsed response; arena-owned; NULL if none */
    const char *error_type;   /* error.type, or NULL (borrowed from body) */
    const char *error_code;   /* error.code, e.g. "card_declined" */
    const char *decline_code; /* error.decline_code, e.g. "insufficient_funds" */
    const char *message;      /* error.message, safe to show the customer */
    const char *request_id;   /* Stripe's Request-Id header (arena copy) */
};

struct stripe;

/* stripe_new: a client for cfg (strings copied). NULL when out of memory or
 * curl cannot start. Free with stripe_free(), which wipes the key. */
struct stripe *stripe_new(const struct stripe_config *cfg) __attribute__((warn_unused_result));
void stripe_free(struct stripe *s);

/* stripe_open: the client that cfg configures, in *out: NULL when Stripe is
 * not configured (no stripe_secret_key_file). Returns -1 when the client
 * cannot start (out of memory), 0 otherwise. */
struct config;
int stripe_open(const struct config *cfg, struct stripe **out) __attribute__((warn_unused_result));

/* stripe_id_valid: id is prefix (e.g. "sub_") followed by 1 or more of
 * [A-Za-z0-9_], 255 bytes at most in all: what Stripe's ids are made of,
 * and safe to put in a request path. False for NULL. */
bool stripe_id_valid(const char *id, const char *prefix);

/* stripe_call: method ("GET", "POST", "DELETE") on path ("/v1/customers")
 * with ctx's Stripe client, with nparams params (query string for
 * GET/DELETE, form body for POST) and idempotency_key (required for POST;
 * ignored otherwise). Fills *out, whose strings and body belong to ctx's
 * arena; the call is logged with ctx's request and customer ids. Returns
 * TG_OK whenever Stripe gave a definite answer (check out->outcome),
 * TG_EUPSTREAM when it could not be reached after the retries, or is not
 * configured, or ctx's budget (ctx_set_budget) left no time for an attempt
 * (out->outcome STRIPE_UNREACHABLE: a POST may or may not have
 * happened; repeat it with the same key), TG_ENOMEM. ctx->error is not
 * touched: the caller judges the answer. ctx_progress() is called after
 * each attempt. Each attempt lasts at most stripe_timeout_ms and what is
 * left of ctx's budget; no retry starts that the budget cannot hold. */
enum tg_err stripe_call(struct tg_ctx *ctx, const char *method, const char *path,
                        const struct stripe_param *params, size_t nparams,
                        const char *idempotency_key, struct stripe_result *out)
    __attribute__((warn_unused_result));

/* stripe_form_encode: the application/x-www-form-urlencoded text of params
 * (keys and values percent-encoded, brackets included), in the arena. */
char *stripe_form_encode(struct arena *a, const struct stripe_param *params, size_t nparams);

/* stripe_backoff_ms: the pause before retry number attempt (1, 2, ...):
 * exponential from 250 ms, capped at 2 s, with jitter in [half, full]. */
long stripe_backoff_ms(int attempt);

/* stripe_operation: the name of the call method path makes, for metrics
 * (create_customer, get_invoice, ...; "other" for an unknown one). A
 * static string. */
const char *stripe_operation(const char *method, const char *path);

#endif
