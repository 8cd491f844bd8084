/*
 * flag: see flag.h.
 */
#include "domain/flag.h"

#include "store/feature_flags.h"

enum tg_err flag_enabled(struct tg_ctx *ctx, const char *name, const char *subject, bool *on)
{
    return feature_flags_enabled(ctx, name, subject, on);
}

enum tg_err flag_list(struct tg_ctx *ctx, struct feature_flag **out, size_t *n)
{
    return feature_flags_list(ctx, out, n);
}

enum tg_err flag_set(struct tg_ctx *ctx, const char *name, int percent,
                     struct feature_flag *before, struct feature_flag *after)
{
    if (percent < 0 || percent > 100)
        return ctx_fail(ctx, TG_EINVALID, "rollout_percent: 0 to 100");
    struct feature_flag was;
    enum tg_err e = feature_flags_get(ctx, name, &was);
    if (e == TG_OK)
        e = feature_flags_set(ctx, name, percent, after);
    if (e == TG_ENOTFOUND)
        return ctx_fail(ctx, e, "no such flag");
    if (e == TG_OK && before != NULL)
        *before = was;
    return e;
}
