/*
 * render: see render.h. Field order is fixed (JSON_PRESERVE_ORDER), so the
 * same facts always serialize to the same bytes -- idempotent replays rely
 * on that.
 */
#include "api/render.h"

static json_t *nullable_string(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

json_t *render_customer(const struct customer *c)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s}", "id", c->id, "object",
                     "customer", "email", c->email, "name", c->name, "source", c->source, "tier",
                     c->tier, "billing_status", c->billing_status, "credit_balance",
                     (json_int_t)c->credit_balance, "created_at", c->created_at);
}

json_t *render_ledger_entry(const struct ledger_entry *e)
{
    return json_pack("{s:I, s:s, s:I, s:s, s:I, s:o, s:o, s:s}", "id", (json_int_t)e->id, "object",
                     "ledger_entry", "amount", (json_int_t)e->amount, "kind", e->kind,
                     "balance_after", (json_int_t)e->balance_after, "reference",
                     nullable_string(e->reference), "description", nullable_string(e->description),
                     "created_at", e->created_at);
}

json_t *render_usage_event(const struct usage_event *u)
{
    return json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:I, s:s}", "id", (json_int_t)u->id, "object",
                     "usage_event", "kind", u->kind, "fix_id", u->fix_id, "outcome", u->outcome,
                     "credits_remaining", (json_int_t)u->balance_after, "ledger_entry_id",
                     (json_int_t)u->ledger_entry_id, "created_at", u->created_at);
}
