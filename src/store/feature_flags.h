/*
 * feature_flags: the feature_flags table (sql/functions/flags.sql), read on
 * every use so that a change takes effect on the next request of every
 * worker without a restart.
 */
#ifndef TOLLGATE_STORE_FEATURE_FLAGS_H
#define TOLLGATE_STORE_FEATURE_FLAGS_H

#include <stdbool.h>

#include "core/ctx.h"

/* feature_flags_enabled: whether flag name is on for subject (its
 * percentage rollout; an unknown flag is on). TG_EDB. */
enum tg_err feature_flags_enabled(struct tg_ctx *ctx, const char *name, const char *subject,
                                  bool *on) __attribute__((warn_unused_result));

#endif
