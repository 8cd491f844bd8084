/*
 * staging: resetting a staging database (sql/functions/staging.sql): the
 * customers at @example.com and @test.example.com are deleted with
 * everything that belongs to them, and customers in given billing states
 * are seeded, all in one transaction. Only tollgatectl reset-staging does
 * this, and it refuses in production before it gets here.
 */
#ifndef TOLLGATE_STORE_STAGING_H
#define TOLLGATE_STORE_STAGING_H

#include <stddef.h>
#include <stdint.h>

#include "core/ctx.h"
#include "core/hash.h"

/* One customer to seed; everything borrowed. */
struct staging_seed {
    const char *state; /* trial, trial_with_billing, ... (staging_seed_customer() in SQL) */
    const char *email;
    const char *name;
    const uint8_t *key_hash; /* SHA-256 of its API key, HASH_SHA256_LEN bytes */
    const char *key_prefix;
};

/* A seeded customer as it is after seeding; strings arena-owned. */
struct staging_customer {
    const char *id;
    const char *tier;
    const char *billing_status;
    long long balance; /* credits */
};

/* Rows the reset deleted from one table; strings arena-owned. */
struct staging_count {
    const char *table;
    long long deleted;
};

/* staging_reseed: in one transaction, delete the staging customers
 * (staging_reset(), audited as staging.reset with the session's actor)
 * and seed seeds[0..n) in order, Pro ones on Stripe price (NULL or "": a
 * placeholder), a past-due one with a grace period of grace_days. *deleted
 * (*ndeleted, arena-owned, by table name) counts what was deleted; out[i]
 * is seeds[i]'s customer. Nothing is changed on failure. TG_EDB, TG_ENOMEM. */
enum tg_err staging_reseed(struct tg_ctx *ctx, const struct staging_seed *seeds, size_t n,
                           const char *price, long grace_days, struct staging_count **deleted,
                           size_t *ndeleted, struct staging_customer *out)
    __attribute__((warn_unused_result));

#endif
