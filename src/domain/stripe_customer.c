/*
 * stripe_customer: see stripe_customer.h.
 */
#include "domain/stripe_customer.h"

#include "domain/outbox.h"
#include "integration/stripe.h"

enum tg_err stripe_customer_ensure(struct tg_ctx *ctx, const struct customer *c, const char **cus)
{
    if (c->stripe_customer_id != NULL) {
        *cus = c->stripe_customer_id;
        return TG_OK;
    }
    const struct stripe_param params[] = {
        {"email", c->email}, {"name", c->name}, {"metadata[tollgate_customer_id]", c->id}};
    const char *key = arena_printf(ctx->arena, "tgcus_%s", c->id);
    struct stripe_result r;
    enum tg_err e = stripe_call(ctx, "POST", "/v1/customers", params, 3, key, &r);
    if (e == TG_ENOMEM)
        return ctx_fail(ctx, e, NULL);
    if (r.outcome != STRIPE_OK)
        return outbox_fail(ctx, &r, "customer");
    const char *id = json_string_value(json_object_get(r.body, "id"));
    if (id == NULL)
        return ctx_fail(ctx, TG_EUPSTREAM, "Stripe answered a customer without an id");
    e = customers_set_stripe(ctx, c->id, id, cus);
    return e == TG_ENOTFOUND ? ctx_fail(ctx, TG_ENOTFOUND, "no such customer") : e;
}
