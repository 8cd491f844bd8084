/*
 * flag: see flag.h.
 */
#include "domain/flag.h"

#include "store/feature_flags.h"

enum tg_err flag_enabled(struct tg_ctx *ctx, const char *name, const char *subject, bool *on)
{
    return feature_flags_enabled(ctx, name, subject, on);
}
