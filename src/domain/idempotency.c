/*
 * idempotency: see idempotency.h.
 */
#include "domain/idempotency.h"

#include <ctype.h>
#include <string.h>

#include "store/idempotency_keys.h"

/* Leases: how long a claim is presumed alive. A database-only request is
 * bounded by the statement timeout; one that calls Stripe by Stripe's
 * timeouts and retries (a minute at most as configured, docs/configuration.md). */
#define LEASE_ATOMIC_SECONDS 30
#define LEASE_EXTERNAL_SECONDS 120

const char *idempotency_scope_customer(struct tg_ctx *ctx, const char *customer_id)
{
    return arena_printf(ctx->arena, "customer:%s", customer_id);
}

const char *idempotency_scope_signup(struct tg_ctx *ctx, const char *address, const char *email)
{
    char *s = arena_printf(ctx->arena, "signup:%s:%s", address, email != NULL ? email : "");
    for (char *p = s; p != NULL && *p != '\0'; p++)
        *p = (char)tolower((unsigned char)*p);
    return s;
}

/* stripe_ref: the seed of the Stripe keys of this request: the hex SHA-256
 * of scope, key and request hash, so that only the same request with the
 * same key resumes the same calls. */
static const char *stripe_ref(struct tg_ctx *ctx, const char *scope, const char *key,
                              const uint8_t hash[HASH_SHA256_LEN])
{
    char hex[2 * HASH_SHA256_LEN + 1];
    uint8_t digest[HASH_SHA256_LEN];
    hash_hex(hash, HASH_SHA256_LEN, hex);
    const char *all = arena_printf(ctx->arena, "%s\n%s\n%s", scope, key, hex);
    if (all == NULL || hash_sha256(all, strlen(all), digest) != 0)
        return NULL;
    hash_hex(digest, HASH_SHA256_LEN, hex);
    return arena_strdup(ctx->arena, hex);
}

/* refuse: the answer when the claim found another request's record. */
static enum tg_err refuse(struct tg_ctx *ctx, const struct idempotency_keys_claim *c)
{
    switch (c->outcome) {
    case IDEMPOTENCY_KEYS_MISMATCH:
        return ctx_fail(ctx, TG_EIDEMPOTENCYREUSE,
                        "this Idempotency-Key was first used with "
                        "another request (method, path or body)");
    case IDEMPOTENCY_KEYS_IN_PROGRESS:
        ctx_retry_after(ctx, c->retry_after > 0 ? c->retry_after : 1);
        return ctx_fail(ctx, TG_EIDEMPOTENCYBUSY,
                        "the first request with this Idempotency-Key "
                        "is still being processed; retry shortly");
    default: return ctx_fail(ctx, TG_EINTERNAL, NULL);
    }
}

enum tg_err idempotency_start(struct tg_ctx *ctx, const char *scope, const char *key,
                              const char *route, const uint8_t hash[HASH_SHA256_LEN],
                              enum idempotency_mode mode, struct idempotency *idem, bool *replayed,
                              struct idempotency_answer *answer)
{
    struct idempotency_keys_claim c;
    memset(idem, 0, sizeof(*idem));
    memset(answer, 0, sizeof(*answer));
    *replayed = false;
    if (scope == NULL)
        return ctx_fail(ctx, TG_ENOMEM, NULL);
    int lease = mode == IDEMPOTENCY_ATOMIC ? LEASE_ATOMIC_SECONDS : LEASE_EXTERNAL_SECONDS;
    enum tg_err e = idempotency_keys_claim(ctx, scope, key, route, hash, lease, &c);
    if (e != TG_OK)
        return e;
    if (c.outcome == IDEMPOTENCY_KEYS_REPLAY) {
        if (c.body == NULL)
            return ctx_fail(ctx, TG_EIDEMPOTENCYGONE,
                            "the first answer to this Idempotency-Key held a secret, which is "
                            "kept %d minutes only; the request did succeed",
                            IDEMPOTENCY_SECRET_SECONDS / 60);
        *replayed = true;
        *answer = (struct idempotency_answer){c.status, c.content_type, c.headers, c.body};
        return TG_OK;
    }
    if (c.outcome != IDEMPOTENCY_KEYS_NEW)
        return refuse(ctx, &c);
    idem->mode = mode;
    idem->id = c.id;
    idem->attempt = c.attempt;
    idem->active = true;
    if (mode == IDEMPOTENCY_EXTERNAL) {
        if ((ctx->idempotency_ref = stripe_ref(ctx, scope, key, hash)) == NULL) {
            idempotency_abandon(ctx, idem);
            return ctx_fail(ctx, TG_ENOMEM, NULL);
        }
        return TG_OK;
    }
    if ((e = idempotency_keys_begin(ctx)) != TG_OK) {
        idempotency_abandon(ctx, idem);
        return e;
    }
    idem->in_transaction = true;
    ctx_count_hold(ctx);
    return TG_OK;
}

enum tg_err idempotency_finish(struct tg_ctx *ctx, struct idempotency *idem,
                               const struct idempotency_answer *answer, bool secret)
{
    bool stored;
    enum tg_err e = idempotency_keys_finish(ctx, idem->id, idem->attempt, answer->status,
                                            answer->content_type, answer->headers, answer->body,
                                            secret ? IDEMPOTENCY_SECRET_SECONDS : 0, &stored);
    if (e == TG_OK && !stored) {
        /* Taken over after the lease by a retry that runs it again (its
         * claim now, not to be released). A database-only request must not
         * commit beside it; one that called Stripe is done (the retry
         * resumes the same calls) and may answer. */
        idem->active = false;
        ctx->idempotency_ref = NULL;
        if (!idem->in_transaction)
            return TG_OK;
        idem->in_transaction = false;
        ctx_count_drop(ctx);
        if (idempotency_keys_rollback(ctx) != TG_OK)
            ctx_clear_error(ctx); /* the failure below says it */
        return ctx_fail(ctx, TG_EIDEMPOTENCYBUSY,
                        "this request outlived its "
                        "Idempotency-Key's lease; retry for the answer");
    }
    if (e == TG_OK && idem->in_transaction && (e = idempotency_keys_commit(ctx)) == TG_OK) {
        idem->in_transaction = false;
        ctx_count_commit(ctx);
    }
    if (e != TG_OK) {
        idempotency_abandon(ctx, idem);
        return e;
    }
    idem->active = false;
    ctx->idempotency_ref = NULL;
    return TG_OK;
}

void idempotency_abandon(struct tg_ctx *ctx, struct idempotency *idem)
{
    if (!idem->active)
        return;
    struct tg_error why = ctx->error;
    idem->active = false;
    ctx->idempotency_ref = NULL;
    /* Best effort: a failed ROLLBACK means a lost connection (which rolls
     * back), a failed release a claim a retry takes over after its lease. */
    bool rolled_back = true;
    if (idem->in_transaction) {
        idem->in_transaction = false;
        ctx_count_drop(ctx);
        rolled_back = idempotency_keys_rollback(ctx) == TG_OK;
    }
    if (rolled_back && idempotency_keys_release(ctx, idem->id, idem->attempt) != TG_OK)
        ctx_log(ctx, LOG_WARN,
                json_pack("{s:s, s:I}", "msg",
                          "releasing an Idempotency-Key "
                          "claim failed",
                          "idempotency_id", (json_int_t)idem->id));
    ctx->error = why;
}

enum tg_err idempotency_purge(struct tg_ctx *ctx, int limit, long long *n)
{
    return idempotency_keys_purge(ctx, IDEMPOTENCY_RETENTION_SECONDS, limit, n);
}
