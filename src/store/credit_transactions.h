/*
 * credit_transactions: the credit ledger (sql/functions/ledger.sql). Rows
 * are written only by SQL functions, whose trigger keeps
 * customers.credit_balance equal to the sum of the entries; here they are
 * read, and operators' adjustments made.
 */
#ifndef TOLLGATE_STORE_CREDIT_TRANSACTIONS_H
#define TOLLGATE_STORE_CREDIT_TRANSACTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/ctx.h"
#include "store/customers.h"

/* One ledger entry; strings borrowed from the context's arena. */
struct ledger_entry {
    long long id;
    long long amount;        /* credits: positive grants, negative consumption */
    const char *kind;        /* trial_signup, fix_deployed, ... */
    long long balance_after; /* credits right after this entry */
    const char *reference;   /* NULL when none */
    const char *description; /* NULL when none */
    const char *created_at;  /* RFC 3339 UTC */
    long long seq;           /* 1, 2, ... per customer, in balance order */
};

#define LEDGER_PAGE_MAX 100

struct ledger_page {
    struct ledger_entry *entries; /* newest first */
    size_t count;
    bool has_more;                /* older entries exist past the last one */
};

/* credit_transactions_page: up to limit (1..LEDGER_PAGE_MAX) entries of
 * customer_id before sequence number before_seq (0: from the newest).
 * TG_EDB, TG_ENOMEM. */
enum tg_err credit_transactions_page(struct tg_ctx *ctx, const char *customer_id,
                                     long long before_seq, int limit, struct ledger_page *out)
    __attribute__((warn_unused_result));

/* credit_transactions_recent: customer_id's customer and its n (1..100)
 * newest entries, read in one snapshot. TG_ENOTFOUND, TG_EDB. */
enum tg_err credit_transactions_recent(struct tg_ctx *ctx, const char *customer_id, int n,
                                       struct customer *c, struct ledger_page *recent)
    __attribute__((warn_unused_result));

enum credit_transactions_adjust_outcome {
    LEDGER_ADJUSTED,
    LEDGER_NO_CUSTOMER,
    LEDGER_INVALID,           /* amount 0 or no reason */
    LEDGER_WOULD_GO_NEGATIVE, /* nothing written */
};

/* credit_transactions_adjust: an 'adjustment' entry of amount credits with
 * reason, audited with the session's actor. *entry_id (ADJUSTED) and
 * *balance_after (ADJUSTED, WOULD_GO_NEGATIVE, INVALID). TG_EDB. */
enum tg_err credit_transactions_adjust(struct tg_ctx *ctx, const char *customer_id,
                                       long long amount, const char *reason,
                                       enum credit_transactions_adjust_outcome *outcome,
                                       long long *entry_id, long long *balance_after)
    __attribute__((warn_unused_result));

#endif
