/*
 * github_deliveries: GitHub Marketplace deliveries (sql/functions/
 * github.sql), stored by their X-GitHub-Delivery GUID and applied in the
 * same statement: one function per action.
 */
#ifndef TOLLGATE_STORE_GITHUB_DELIVERIES_H
#define TOLLGATE_STORE_GITHUB_DELIVERIES_H

#include <stdbool.h>
#include <stdint.h>

#include "core/ctx.h"
#include "core/hash.h"

/* A marketplace_purchase delivery's facts; strings borrowed. */
struct github_purchase {
    const char *delivery;       /* X-GitHub-Delivery */
    const char *payload;        /* the raw body */
    long long account_id;       /* > 0 */
    const char *login;
    const char *account_type;   /* may be NULL */
    const char *plan;           /* may be NULL (not for purchased/changed) */
    const char *effective_date; /* may be NULL */
};

/* What applying a delivery did (github.sql's outcomes): created, existing,
 * processed, unknown_account, stale, duplicate, email_taken. */
struct github_outcome {
    const char *outcome;
    const char *customer_id; /* NULL when none */
};

/* github_deliveries_record: store a delivery that is not applied, with a
 * note for operators (account_id 0: none). *duplicate for a redelivery.
 * TG_EDB. */
enum tg_err github_deliveries_record(struct tg_ctx *ctx, const char *delivery, const char *event,
                                     const char *action, long long account_id,
                                     const char *payload, const char *note, bool *duplicate)
    __attribute__((warn_unused_result));

/* github_deliveries_purchased: apply a purchase: a new account becomes a
 * customer (email; key hash, prefix and the key itself, which only the
 * queued welcome mail keeps). TG_EDB. */
enum tg_err github_deliveries_purchased(struct tg_ctx *ctx, const struct github_purchase *p,
                                        const char *email,
                                        const uint8_t key_hash[HASH_SHA256_LEN],
                                        const char *key_prefix, const char *key,
                                        struct github_outcome *out)
    __attribute__((warn_unused_result));

/* github_deliveries_update: apply a 'changed' or 'cancelled' delivery
 * (action). TG_EDB. */
enum tg_err github_deliveries_update(struct tg_ctx *ctx, const struct github_purchase *p,
                                     const char *action, struct github_outcome *out)
    __attribute__((warn_unused_result));

#endif
