/*
 * flag: feature flags, stored in PostgreSQL (sql/functions/flags.sql) and
 * read on every use, so `tollgatectl flags set` takes effect on the next
 * request of every worker without a restart. Each flag has a rollout
 * percentage; whether it is on for a subject is stable per subject (a hash
 * of flag name and subject; DESIGN.md section 3).
 */
#ifndef TOLLGATE_FLAG_H
#define TOLLGATE_FLAG_H

#include <stdbool.h>
#include <stddef.h>

#include "core/ctx.h"
#include "store/feature_flags.h"

/* The flags tollgate knows (the table's CHECK lists the same names). */
#define FLAG_BILLING_ENABLED "billing_enabled"       /* kill switch: off = nothing charged */
#define FLAG_ONBOARDING "automated_customer_onboarding" /* off = signup answers 503 */

/* flag_enabled: whether flag name is on for subject (a customer id, or for
 * signup the lower-cased e-mail address) into *on. An unknown flag is on.
 * Errors: TG_EDB. */
enum tg_err flag_enabled(struct tg_ctx *ctx, const char *name, const char *subject, bool *on)
    __attribute__((warn_unused_result));

/* flag_list: every flag with its rollout, by name; *out (*n) arena-owned.
 * Errors: TG_EDB, TG_ENOMEM. */
enum tg_err flag_list(struct tg_ctx *ctx, struct feature_flag **out, size_t *n)
    __attribute__((warn_unused_result));

/* flag_set: turn flag name on for percent (0: off .. 100: on) of its
 * subjects, audited as flag.set with ctx's actor. *before (may be NULL)
 * is the flag as it was, *after as it is now. Errors: TG_EINVALID
 * (percent out of range), TG_ENOTFOUND (no such flag), TG_EDB. */
enum tg_err flag_set(struct tg_ctx *ctx, const char *name, int percent,
                     struct feature_flag *before, struct feature_flag *after)
    __attribute__((warn_unused_result));

#endif
