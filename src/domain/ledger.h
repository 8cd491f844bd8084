/*
 * ledger: reading a customer's credit ledger, and operators' adjustments.
 * Entries are written only by SQL functions (sql/functions/), whose
 * trigger keeps customers.credit_balance equal to the sum of the entries;
 * the ledger is append-only (DESIGN.md section 2).
 */
#ifndef TOLLGATE_LEDGER_H
#define TOLLGATE_LEDGER_H

#include "core/ctx.h"
#include "store/credit_transactions.h"
#include "store/customers.h"

/* ledger_page: up to limit (1..LEDGER_PAGE_MAX) entries of customer_id
 * before the entry of sequence number before_seq (0 = from the newest).
 * Errors: TG_EDB, TG_ENOMEM. */
enum tg_err ledger_page(struct tg_ctx *ctx, const char *customer_id, long long before_seq,
                        int limit, struct ledger_page *out) __attribute__((warn_unused_result));

/* ledger_summary: customer_id's customer and its recent (at most n,
 * 1..100) entries, newest first, read in one snapshot. TG_ENOTFOUND,
 * TG_EDB. */
enum tg_err ledger_summary(struct tg_ctx *ctx, const char *customer_id, int n,
                           struct customer *c, struct ledger_page *recent)
    __attribute__((warn_unused_result));

/* ledger_adjust: an 'adjustment' entry of amount credits (either sign, not
 * 0) for customer_id with the operator's reason (not empty), audited as
 * ctx's actor. *entry_id and *balance_after describe the new entry.
 * Errors: TG_ENOTFOUND (no customer), TG_EINVALID (amount 0, no reason),
 * TG_ECONFLICT (the balance would go negative, or below the credits held
 * by active holds: nothing is written;
 * *balance_after is the balance as it is), TG_EDB. */
enum tg_err ledger_adjust(struct tg_ctx *ctx, const char *customer_id, long long amount,
                          const char *reason, long long *entry_id, long long *balance_after)
    __attribute__((warn_unused_result));

#endif
