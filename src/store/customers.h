/*
 * customers: the customers table (sql/functions/customers.sql): onboarding
 * (customer, first API key and trial credits in one statement), reading a
 * customer, and the billing-status changes Stripe's webhooks and the
 * worker drive (DESIGN.md section 2).
 */
#ifndef TOLLGATE_STORE_CUSTOMERS_H
#define TOLLGATE_STORE_CUSTOMERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ctx.h"
#include "core/hash.h"
#include "store/spend_limits.h"

/* A customer; strings borrowed from the context's arena. */
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
    long long credits_held;     /* credits reserved by active credit holds (domain/hold.h) */
    struct spend_limit spend_limit; /* the monthly cap on charges (domain/spend_limit.h) */
    long long low_balance_threshold; /* credits: its own, else the configuration's */
    const char *credit_state;   /* ok | low | depleted (sql/functions/credit_thresholds.sql) */
};

/* Everything about a customer an operator sees (tollgatectl customers
 * show); strings borrowed from the context's arena, times RFC 3339 UTC
 * with microseconds, NULL when not set. */
struct customer_account {
    struct customer c;
    long long ledger_entries;          /* entries in its ledger */
    const char *billing_consent_at;
    long long github_account_id;       /* 0: none */
    const char *github_login;
    const char *github_account_type;   /* User | Organization */
    const char *github_plan;
    const char *github_plan_status;    /* active | cancelled */
    const char *github_plan_effective_at;
    const char *github_cancelled_at;
    const char *updated_at;
};

/* Customers and unused credits of one tier (for /metrics). */
struct customers_tier_count {
    const char *tier;
    long long customers;
    long long credits;
};

enum customers_signup_outcome {
    CUSTOMERS_CREATED,
    CUSTOMERS_EMAIL_TAKEN,   /* case-insensitively; nothing is changed */
    CUSTOMERS_SIGNUP_CLOSED, /* automated_customer_onboarding is off for subject */
};

/* customers_signup: one statement: unless the automated_customer_onboarding
 * flag is off for subject (the lower-cased address), create the customer
 * (email, name, source), its first API key (hash, prefix) and its trial
 * credits, with actor as the session's audit actor. *outcome says which;
 * *out is the customer when CREATED. TG_EDB. */
enum tg_err customers_signup(struct tg_ctx *ctx, const char *email, const char *name,
                             const char *source, const uint8_t key_hash[HASH_SHA256_LEN],
                             const char *key_prefix, const char *subject, const char *actor,
                             enum customers_signup_outcome *outcome, struct customer *out)
    __attribute__((warn_unused_result));

/* customers_get: the customer with id (a uuid). TG_ENOTFOUND, TG_EDB. */
enum tg_err customers_get(struct tg_ctx *ctx, const char *id, struct customer *out)
    __attribute__((warn_unused_result));

/* customers_find: the id of the customer named by who -- its id (a uuid)
 * or its e-mail address, compared case-insensitively -- into *id.
 * TG_ENOTFOUND, TG_EDB. */
enum tg_err customers_find(struct tg_ctx *ctx, const char *who, const char **id)
    __attribute__((warn_unused_result));

/* customers_list: the newest customers first (then by id), at most limit
 * (1..1000) of them; with email_part not NULL only those whose e-mail
 * address contains it, compared case-insensitively ('%' and '_' are plain
 * characters). *out (*n of them) arena-owned. TG_EDB, TG_ENOMEM. */
enum tg_err customers_list(struct tg_ctx *ctx, const char *email_part, long limit,
                           struct customer **out, size_t *n) __attribute__((warn_unused_result));

/* customers_account: everything about the customer with id (a uuid).
 * TG_ENOTFOUND, TG_EDB. */
enum tg_err customers_account(struct tg_ctx *ctx, const char *id, struct customer_account *out)
    __attribute__((warn_unused_result));

/* customers_set_stripe: record cus as id's Stripe customer unless one is
 * recorded already; *kept is the one recorded now. TG_ENOTFOUND, TG_EDB. */
enum tg_err customers_set_stripe(struct tg_ctx *ctx, const char *id, const char *cus,
                                 const char **kept) __attribute__((warn_unused_result));

/* customers_payment_failed: an invoice of Stripe customer cus failed: the
 * customer is past_due and a grace period of grace_days starts (unless one
 * runs). *ours when cus is one of our customers. TG_EDB. */
enum tg_err customers_payment_failed(struct tg_ctx *ctx, const char *cus, long grace_days,
                                     bool *ours) __attribute__((warn_unused_result));

/* customers_payment_succeeded: an invoice of cus was paid: back to active
 * unless something is still owed. *settled when a customer of ours is
 * active now. TG_EDB. */
enum tg_err customers_payment_succeeded(struct tg_ctx *ctx, const char *cus, bool *settled)
    __attribute__((warn_unused_result));

/* customers_expire_grace: past_due customers whose grace period is over
 * become delinquent; their ids in *ids (*n, arena-owned). TG_EDB. */
enum tg_err customers_expire_grace(struct tg_ctx *ctx, const char ***ids, size_t *n)
    __attribute__((warn_unused_result));

/* customers_count_by_tier: every tier with its customers and credits, in
 * *out (*n, arena-owned). TG_EDB. */
enum tg_err customers_count_by_tier(struct tg_ctx *ctx, struct customers_tier_count **out,
                                    size_t *n) __attribute__((warn_unused_result));

/* customers_set_low_balance_threshold: customer id's threshold becomes
 * threshold credits (customer_set_low_balance_threshold in SQL: audited,
 * the rule applied at once); *out is the customer after it. TG_ENOTFOUND,
 * TG_EDB. */
enum tg_err customers_set_low_balance_threshold(struct tg_ctx *ctx, const char *id,
                                                long long threshold, struct customer *out)
    __attribute__((warn_unused_result));

#endif
