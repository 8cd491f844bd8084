/*
 * audit: see audit.h.
 */
#include "domain/audit.h"

#include "store/audit_log.h"

enum tg_err audit_set_actor(struct tg_ctx *ctx, const char *actor)
{
    ctx->actor = actor;
    return audit_log_set_actor(ctx, actor);
}
