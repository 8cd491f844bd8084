/*
 * hold: see hold.h.
 */
#include "domain/hold.h"

#include <string.h>

#include "core/config.h"
#include "core/hash.h"
#include "domain/apikey.h"
#include "domain/charge.h"
#include "domain/usage.h"

#define IN_PROGRESS_RETRY_SECONDS 2

/* refuse: the 402 of a decision that cannot be paid (as usage's). */
static enum tg_err refuse(struct tg_ctx *ctx, enum hold_decision d)
{
    if (d == HOLD_DELINQUENT)
        return ctx_fail(ctx, TG_EINSUFFICIENT, "no credits available, and payment is overdue: "
                                               "settle the open invoice to be charged again");
    return ctx_fail(ctx, TG_EINSUFFICIENT, "no credits available and no payment method on "
                                           "file: add one to keep deploying fixes");
}

/* limit: the per-key hourly limit the statements count against. */
static long limit(const struct tg_ctx *ctx)
{
    return ctx->svc->cfg->rate_limit_per_hour;
}

/* authenticated: what every statement's answer says of its key: unknown
 * (e: TG_ENOTFOUND), over its hour, or who asked (ctx's customer and
 * actor, out->auth). */
static enum tg_err authenticated(struct tg_ctx *ctx, enum tg_err e, const struct hold_record *rec,
                                 struct hold_result *out)
{
    if (e == TG_ENOTFOUND)
        return ctx_fail(ctx, TG_EUNAUTHORIZED, "unknown or revoked API key");
    if (e != TG_OK)
        return e;
    out->auth = rec->key;
    ctx->customer_id = rec->key.customer_id;
    ctx->actor = arena_printf(ctx->arena, "api_key:%s", rec->key.key_prefix);
    if (rec->decision == HOLD_RATE_LIMITED)
        return apikey_refuse_limit(ctx, &rec->key);
    out->hold = rec->hold;
    return TG_OK;
}

enum tg_err hold_create(struct tg_ctx *ctx, const char *api_key, const char *idempotency_key,
                        const void *request, size_t request_len, const char *fix_id, long ttl,
                        struct hold_result *out)
{
    uint8_t key_hash[HASH_SHA256_LEN], request_hash[HASH_SHA256_LEN];
    struct hold_record rec;
    memset(out, 0, sizeof(*out));
    enum tg_err e = apikey_credential(ctx, api_key, key_hash);
    if (e != TG_OK)
        return e;
    if (ttl < 1 || ttl > HOLD_TTL_MAX)
        return ctx_fail(ctx, TG_EINVALID, "ttl_seconds: must be from 1 to %d", HOLD_TTL_MAX);
    if (hash_sha256(request, request_len, request_hash) != 0)
        return ctx_fail(ctx, TG_EINTERNAL, NULL);
    e = holds_create(ctx, key_hash, limit(ctx), idempotency_key, request_hash, fix_id, ttl, &rec);
    if ((e = authenticated(ctx, e, &rec, out)) != TG_OK)
        return e;
    switch (rec.decision) {
    case HOLD_CREDIT:
    case HOLD_CHARGE:
        return TG_OK;
    case HOLD_REPLAY:
        out->replayed = true;
        return TG_OK;
    case HOLD_KEY_REUSED:
        return ctx_fail(ctx, TG_EIDEMPOTENCYREUSE, "this Idempotency-Key was first used with "
                                                   "another request body");
    case HOLD_NO_CREDIT:
    case HOLD_DELINQUENT:
        return refuse(ctx, rec.decision);
    case HOLD_SPEND_LIMIT:
        return ctx_fail(ctx, TG_ESPENDLIMIT, SPEND_LIMIT_DETAIL);
    default:
        return ctx_fail(ctx, TG_EINTERNAL, "hold_create: outcome %d", (int)rec.decision);
    }
}

enum tg_err hold_settle(struct tg_ctx *ctx, const char *api_key, const char *hold_id,
                        struct hold_result *out)
{
    uint8_t key_hash[HASH_SHA256_LEN];
    struct hold_record rec;
    memset(out, 0, sizeof(*out));
    enum tg_err e = apikey_credential(ctx, api_key, key_hash);
    if (e != TG_OK)
        return e;
    e = holds_settle(ctx, key_hash, limit(ctx), hold_id, &rec);
    if ((e = authenticated(ctx, e, &rec, out)) != TG_OK)
        return e;
    out->event = rec.event;
    switch (rec.decision) {
    case HOLD_CREDIT:
    case HOLD_UNBILLED:
    case HOLD_REPLAY:
        return TG_OK;
    case HOLD_CHARGE:
        return charge_run(ctx, rec.event.charge_id, &rec.call, &out->event);
    case HOLD_IN_PROGRESS:
        ctx_retry_after(ctx, IN_PROGRESS_RETRY_SECONDS);
        return ctx_fail(ctx, TG_ECONFLICT, "this hold's charge is still being made; retry in a "
                                           "few seconds");
    case HOLD_EXPIRED:
        return ctx_fail(ctx, TG_EHOLDEXPIRED, "the hold expired at %s: take a new one",
                        rec.hold.expires_at);
    case HOLD_RELEASED:
        return ctx_fail(ctx, TG_EHOLDRELEASED, "the hold was released: take a new one");
    case HOLD_NOT_FOUND:
        return ctx_fail(ctx, TG_ENOTFOUND, "no such hold");
    case HOLD_NO_CREDIT:
    case HOLD_DELINQUENT:
        return refuse(ctx, rec.decision);
    default:
        return ctx_fail(ctx, TG_EINTERNAL, "hold_settle: outcome %d", (int)rec.decision);
    }
}

enum tg_err hold_release(struct tg_ctx *ctx, const char *api_key, const char *hold_id,
                         struct hold_result *out)
{
    uint8_t key_hash[HASH_SHA256_LEN];
    struct hold_record rec;
    memset(out, 0, sizeof(*out));
    enum tg_err e = apikey_credential(ctx, api_key, key_hash);
    if (e != TG_OK)
        return e;
    e = holds_release(ctx, key_hash, limit(ctx), hold_id, &rec);
    if ((e = authenticated(ctx, e, &rec, out)) != TG_OK)
        return e;
    switch (rec.decision) {
    case HOLD_RELEASED_NOW:
    case HOLD_REPLAY:
    case HOLD_EXPIRED:
        return TG_OK;
    case HOLD_SETTLED:
        return ctx_fail(ctx, TG_EHOLDSETTLED, "the hold was settled: it cannot be released");
    case HOLD_NOT_FOUND:
        return ctx_fail(ctx, TG_ENOTFOUND, "no such hold");
    default:
        return ctx_fail(ctx, TG_EINTERNAL, "hold_release: outcome %d", (int)rec.decision);
    }
}

enum tg_err hold_list(struct tg_ctx *ctx, const char *customer_id, const char *status,
                      const char *cursor, int limit, struct hold **rows, size_t *n,
                      bool *has_more)
{
    static const char *const statuses[] = {"active", "settled", "released", "expired"};
    bool known = status == NULL;
    for (size_t i = 0; !known && i < sizeof(statuses) / sizeof(statuses[0]); i++)
        known = strcmp(status, statuses[i]) == 0;
    if (!known)
        return ctx_fail(ctx, TG_EINVALID, "status: one of active, settled, released, expired");
    enum tg_err e = holds_list(ctx, customer_id, status, cursor, limit + 1, rows, n);
    if (e != TG_OK)
        return e;
    *has_more = *n > (size_t)limit;
    if (*has_more)
        *n = (size_t)limit;
    return TG_OK;
}

enum tg_err hold_expire_due(struct tg_ctx *ctx, int limit, long long *n)
{
    return holds_expire_due(ctx, limit, n);
}
