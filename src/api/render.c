/*
 * render: see render.h. Field order is fixed (JSON_PRESERVE_ORDER), so the
 * same facts always serialize to the same bytes -- idempotent replays rely
 * on that.
 */
#include "api/render.h"

#include <string.h>
#include <time.h>


static json_t *nullable_string(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

json_t *render_spend_limit(const struct spend_limit *l)
{
    if (!l->set)
        return json_null();
    return json_pack("{s:I, s:s, s:I}", "monthly_cents", (json_int_t)l->monthly_cents,
                     "currency", l->currency, "spent_cents", (json_int_t)l->spent_cents);
}

json_t *render_customer(const struct customer *c)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:o, s:o, s:b,"
                     " s:o, s:s}",
                     "id", c->id, "object", "customer", "email", c->email, "name", c->name,
                     "source", c->source, "tier", c->tier, "billing_status", c->billing_status,
                     "credit_balance", (json_int_t)c->credit_balance, "held",
                     (json_int_t)c->credits_held, "available",
                     (json_int_t)(c->credit_balance - c->credits_held), "low_balance_threshold",
                     (json_int_t)c->low_balance_threshold, "credit_state",
                     c->credit_state != NULL ? c->credit_state : "ok", "default_payment_method",
                     nullable_string(c->default_payment_method), "grace_period_ends_at",
                     nullable_string(c->grace_period_ends_at), "billing_enabled",
                     c->billing_enabled, "spend_limit", render_spend_limit(&c->spend_limit),
                     "created_at", c->created_at);
}

json_t *render_api_key(const struct api_key *k, const char *current_key_id)
{
    return json_pack("{s:s, s:s, s:s, s:o, s:b, s:b, s:s, s:o, s:o}", "id", k->id, "object",
                     "api_key", "prefix", k->prefix, "name", nullable_string(k->name), "active",
                     k->revoked_at == NULL, "current", current_key_id != NULL && strcmp(k->id, current_key_id) == 0,
                     "created_at", k->created_at, "last_used_at",
                     nullable_string(k->last_used_at), "revoked_at",
                     nullable_string(k->revoked_at));
}

json_t *render_ledger_entry(const struct ledger_entry *e)
{
    return json_pack("{s:I, s:s, s:I, s:s, s:I, s:o, s:o, s:s}", "id", (json_int_t)e->id, "object",
                     "ledger_entry", "amount", (json_int_t)e->amount, "kind", e->kind,
                     "balance_after", (json_int_t)e->balance_after, "reference",
                     nullable_string(e->reference), "description", nullable_string(e->description),
                     "created_at", e->created_at);
}

/* The charge of a usage event: only facts that never change, so a replay
 * is byte for byte the first answer (the charge's status may move on). */
static json_t *usage_charge(const struct usage_event *u)
{
    if (u->charge_id == 0 || u->currency == NULL)
        return json_null();
    return json_pack("{s:I, s:I, s:s}", "id", (json_int_t)u->charge_id, "amount_cents",
                     (json_int_t)u->amount_cents, "currency", u->currency);
}

json_t *render_usage_event(const struct usage_event *u)
{
    /* An "unbilled" fix (billing switched off) has no ledger entry. */
    json_t *entry = u->ledger_entry_id != 0 ? json_integer((json_int_t)u->ledger_entry_id)
                                            : json_null();
    return json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:o, s:o, s:s}", "id", (json_int_t)u->id,
                     "object", "usage_event", "kind", u->kind, "fix_id", u->fix_id, "outcome",
                     u->outcome, "credits_remaining", (json_int_t)u->balance_after,
                     "ledger_entry_id", entry, "charge", usage_charge(u), "created_at",
                     u->created_at);
}

json_t *render_subscription(const struct subscription *s)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:b, s:o, s:s}", "id", s->id, "object",
                     "subscription", "plan", s->plan, "status", s->status,
                     "stripe_subscription_id", nullable_string(s->stripe_subscription_id),
                     "current_period_start", nullable_string(s->current_period_start),
                     "current_period_end", nullable_string(s->current_period_end),
                     "cancel_at_period_end", s->cancel_at_period_end, "canceled_at",
                     nullable_string(s->canceled_at), "created_at", s->created_at);
}

/* rfc3339: a Stripe epoch member of obj as RFC 3339 UTC text, or null. */
static json_t *rfc3339(json_t *obj, const char *name)
{
    json_t *v = json_object_get(obj, name);
    if (!json_is_integer(v))
        return json_null();
    time_t t = (time_t)json_integer_value(v);
    struct tm tm;
    char buf[32];
    if (gmtime_r(&t, &tm) == NULL || strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        return json_null();
    return json_string(buf);
}

static json_t *cents(json_t *obj, const char *name)
{
    json_t *v = json_object_get(obj, name);
    return json_is_integer(v) ? json_integer(json_integer_value(v)) : json_null();
}

json_t *render_invoice_preview(const char *plan, json_t *invoice)
{
    json_t *lines = json_array();
    size_t i;
    json_t *line;
    json_array_foreach(json_object_get(json_object_get(invoice, "lines"), "data"), i, line)
    {
        json_t *period = json_object_get(line, "period");
        const char *d = json_string_value(json_object_get(line, "description"));
        json_array_append_new(lines, json_pack("{s:o, s:o, s:b, s:o, s:o}", "description",
                                               nullable_string(d), "amount_cents",
                                               cents(line, "amount"), "proration",
                                               json_is_true(json_object_get(line, "proration")),
                                               "period_start", rfc3339(period, "start"),
                                               "period_end", rfc3339(period, "end")));
    }
    const char *currency = json_string_value(json_object_get(invoice, "currency"));
    return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "object",
                     "invoice_preview", "plan", plan, "currency", nullable_string(currency),
                     "subtotal_cents", cents(invoice, "subtotal"), "total_cents",
                     cents(invoice, "total"), "amount_due_cents", cents(invoice, "amount_due"),
                     "period_start", rfc3339(invoice, "period_start"), "period_end",
                     rfc3339(invoice, "period_end"), "next_payment_attempt",
                     rfc3339(invoice, "next_payment_attempt"), "lines", lines);
}

json_t *render_hold(const struct hold *h)
{
    json_t *amount = h->currency != NULL ? json_integer((json_int_t)h->amount_cents) : json_null();
    json_t *event = h->usage_event_id != 0 ? json_integer((json_int_t)h->usage_event_id)
                                           : json_null();
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:s, s:s, s:s, s:o}", "id", h->id,
                     "object", "hold", "kind", h->kind, "fix_id", h->fix_id, "reserves",
                     h->reserves, "amount_cents", amount, "currency",
                     nullable_string(h->currency), "status", h->status, "expires_at",
                     h->expires_at, "created_at", h->created_at, "updated_at", h->updated_at,
                     "usage_event_id", event);
}
