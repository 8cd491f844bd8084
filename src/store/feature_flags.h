/*
 * feature_flags: the feature_flags table (sql/functions/flags.sql), read on
 * every use so that a change takes effect on the next request of every
 * worker without a restart.
 */
#ifndef TOLLGATE_STORE_FEATURE_FLAGS_H
#define TOLLGATE_STORE_FEATURE_FLAGS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/ctx.h"

/* A flag; strings borrowed from the context's arena. */
struct feature_flag {
    const char *name;
    int rollout_percent;    /* 0 (off) .. 100 (on) */
    const char *description;
    const char *updated_at; /* RFC 3339 UTC with microseconds */
};

/* feature_flags_enabled: whether flag name is on for subject (its
 * percentage rollout; an unknown flag is on). TG_EDB. */
enum tg_err feature_flags_enabled(struct tg_ctx *ctx, const char *name, const char *subject,
                                  bool *on) __attribute__((warn_unused_result));

/* feature_flags_list: every flag, by name, into *out (*n of them,
 * arena-owned). TG_EDB, TG_ENOMEM. */
enum tg_err feature_flags_list(struct tg_ctx *ctx, struct feature_flag **out, size_t *n)
    __attribute__((warn_unused_result));

/* feature_flags_get: the flag called name. TG_ENOTFOUND, TG_EDB. */
enum tg_err feature_flags_get(struct tg_ctx *ctx, const char *name, struct feature_flag *out)
    __attribute__((warn_unused_result));

/* feature_flags_set: set flag name's rollout to percent (0..100), audited
 * as flag.set with the session's actor (feature_flag_set() in SQL); *out
 * is the flag now. TG_ENOTFOUND (no such flag), TG_EDB. */
enum tg_err feature_flags_set(struct tg_ctx *ctx, const char *name, int percent,
                              struct feature_flag *out) __attribute__((warn_unused_result));

#endif
