/*
 * outbound: see outbound.h.
 */
#include "domain/outbound.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <string.h>
#include <time.h>

#include "core/config.h"
#include "core/hash.h"
#include "core/metrics.h"
#include "integration/webhook_sig.h"

#define CLAIM_BATCH 16
/* A claimed delivery is leased for its attempt's timeout and this margin. */
#define LEASE_MARGIN_MS 30000
#define EVENTS_MAX 32

const char *const outbound_event_types[] = {
    "customer.created",     "customer.past_due",     "customer.delinquent",
    "customer.reactivated", "credits.low",           "credits.depleted",
    "credits.recovered",    "credits.granted",       "payment.succeeded",
    "payment.failed",       "subscription.created",  "subscription.renewed",
    "subscription.canceled", "hold.expired",         "spend_limit.warning",
    "spend_limit.reached",  NULL,
};

/* known_type: name (len bytes) is one of outbound_event_types. */
static bool known_type(const char *name, size_t len)
{
    for (const char *const *t = outbound_event_types; *t != NULL; t++)
        if (strlen(*t) == len && memcmp(*t, name, len) == 0)
            return true;
    return false;
}

/* check_events: events is a comma-separated list of known types, at most
 * EVENTS_MAX; TG_EINVALID naming the first that is not. */
static enum tg_err check_events(struct tg_ctx *ctx, const char *events)
{
    size_t count = 0;
    for (const char *p = events;; count++) {
        size_t len = strcspn(p, ",");
        if (!known_type(p, len))
            return ctx_fail(ctx, TG_EINVALID, "events: unknown event type \"%.*s\"",
                            (int)(len > 64 ? 64 : len), p);
        if (count + 1 > EVENTS_MAX)
            return ctx_fail(ctx, TG_EINVALID, "events: at most %d types", EVENTS_MAX);
        if (p[len] == '\0')
            return TG_OK;
        p += len + 1;
    }
}

/* new_secret: "whsec_" and the hex of 32 random bytes. */
static enum tg_err new_secret(struct tg_ctx *ctx, char secret[OUTBOUND_SECRET_LEN])
{
    unsigned char raw[32];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return ctx_fail(ctx, TG_EINTERNAL, "no randomness for a secret");
    memcpy(secret, "whsec_", 6);
    hash_hex(raw, sizeof(raw), secret + 6);
    OPENSSL_cleanse(raw, sizeof(raw));
    return TG_OK;
}

enum tg_err outbound_endpoint_add(struct tg_ctx *ctx, const char *url, const char *events,
                                  struct webhook_endpoint *out, char secret[OUTBOUND_SECRET_LEN])
{
    char why[160];
    if (!webhook_send_check_url(url, ctx->svc->cfg->outbound_allow_http != 0, why, sizeof(why)))
        return ctx_fail(ctx, TG_EINVALID, "url: %s", why);
    if (events != NULL && events[0] == '\0')
        events = NULL;
    enum tg_err e;
    if (events != NULL && (e = check_events(ctx, events)) != TG_OK)
        return e;
    if ((e = new_secret(ctx, secret)) != TG_OK)
        return e;
    e = webhook_endpoints_add(ctx, url, events, secret, out);
    if (e != TG_OK)
        OPENSSL_cleanse(secret, OUTBOUND_SECRET_LEN);
    return e;
}

enum tg_err outbound_endpoint_rotate(struct tg_ctx *ctx, const char *id,
                                     struct webhook_endpoint *out,
                                     char secret[OUTBOUND_SECRET_LEN])
{
    enum tg_err e = new_secret(ctx, secret);
    if (e != TG_OK)
        return e;
    e = webhook_endpoints_rotate(ctx, id, secret, OUTBOUND_ROTATION_OVERLAP_SECONDS, out);
    if (e != TG_OK)
        OPENSSL_cleanse(secret, OUTBOUND_SECRET_LEN);
    return e == TG_ENOTFOUND ? ctx_fail(ctx, e, "no webhook endpoint %s", id) : e;
}

enum tg_err outbound_endpoint_remove(struct tg_ctx *ctx, const char *id)
{
    enum tg_err e = webhook_endpoints_remove(ctx, id);
    return e == TG_ENOTFOUND ? ctx_fail(ctx, e, "no webhook endpoint %s", id) : e;
}

enum tg_err outbound_endpoint_test(struct tg_ctx *ctx, const char *id, const char **event_id)
{
    enum tg_err e = webhook_endpoints_test(ctx, id, event_id);
    return e == TG_ENOTFOUND ? ctx_fail(ctx, e, "no webhook endpoint %s", id) : e;
}

enum tg_err outbound_replay(struct tg_ctx *ctx, const char *id, long long **ids, size_t *n)
{
    enum tg_err e = outbound_deliveries_replay(ctx, id, ids, n);
    if (e == TG_OK && *n == 0)
        return ctx_fail(ctx, TG_ENOTFOUND, "%s names no delivery that can be replayed", id);
    return e;
}

/* deliver: one attempt at claimed delivery d, recorded and logged. */
static void deliver(struct tg_ctx *ctx, struct webhook_send *sender,
                    const struct outbound_claim *d)
{
    const struct config *cfg = ctx->svc->cfg;
    const char *secrets[2] = {d->secret, d->previous_secret};
    char signature[256];
    struct webhook_send_result res;
    size_t len = strlen(d->body);
    if (webhook_sig_sign(secrets, d->previous_secret != NULL ? 2 : 1, d->body, len,
                         (long long)time(NULL), signature, sizeof(signature)) != 0) {
        memset(&res, 0, sizeof(res));
        snprintf(res.error, sizeof(res.error), "signing failed");
    } else {
        webhook_send_post(sender, d->url, signature, d->event_id, d->body, len,
                          cfg->outbound_connect_timeout_ms, cfg->outbound_timeout_ms, &res);
    }
    OPENSSL_cleanse(signature, sizeof(signature));
    ctx_progress(ctx);
    const char *status = "unknown";
    ctx_clear_error(ctx);
    enum tg_err e = outbound_deliveries_done(ctx, d->id, res.delivered, res.status, res.error,
                                             cfg->outbound_retry_seconds, &status);
    if (e == TG_OK)
        metrics_add(MF_OUTBOUND_DELIVERIES, 1,
                    strcmp(status, "pending") == 0 ? "retry"
                    : strcmp(status, "dead") == 0  ? "dead_letter"
                                                   : status,
                    NULL, NULL, NULL);
    ctx_log(ctx, res.delivered ? LOG_INFO : LOG_WARN,
            json_pack("{s:s, s:I, s:s, s:s, s:s, s:I, s:I, s:s, s:s?}", "msg",
                      "webhook delivery", "delivery", (json_int_t)d->id, "event", d->event_id,
                      "type", d->event_type, "endpoint", d->endpoint_id, "attempt",
                      (json_int_t)d->attempts, "status", (json_int_t)res.status, "outcome",
                      e == TG_OK ? status : "not recorded", "error",
                      res.delivered ? NULL : res.error));
}

size_t outbound_deliver_due(struct tg_ctx *ctx, struct webhook_send *sender, size_t limit,
                            volatile const sig_atomic_t *stop)
{
    size_t done = 0;
    long lease = ctx->svc->cfg->outbound_timeout_ms + LEASE_MARGIN_MS;
    while (done < limit && !*stop) {
        size_t want = limit - done < CLAIM_BATCH ? limit - done : CLAIM_BATCH, n = 0;
        struct outbound_claim *due;
        if (outbound_deliveries_claim(ctx, (int)want, lease, &due, &n) != TG_OK || n == 0)
            break;
        for (size_t i = 0; i < n; i++) {
            /* Claimed ones are sent even when asked to stop: their lease
             * would only delay them. */
            ctx->customer_id = NULL;
            deliver(ctx, sender, &due[i]);
        }
        done += n;
    }
    return done;
}
