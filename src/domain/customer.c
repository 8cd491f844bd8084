/*
 * customer: see customer.h.
 */
#include "domain/customer.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "domain/audit.h"
#include "domain/flag.h"

#include "domain/service.h"
#include "store/db.h"

const char *const customer_sources[] = {"direct", "marketplace", "early_access", NULL};

void customer_from_row(PGresult *r, int i, struct customer *c)
{
    c->id = PQgetvalue(r, i, 0);
    c->email = PQgetvalue(r, i, 1);
    c->name = PQgetvalue(r, i, 2);
    c->source = PQgetvalue(r, i, 3);
    c->tier = PQgetvalue(r, i, 4);
    c->billing_status = PQgetvalue(r, i, 5);
    c->credit_balance = strtoll(PQgetvalue(r, i, 6), NULL, 10);
    c->created_at = PQgetvalue(r, i, 7);
    c->stripe_customer_id = PQgetisnull(r, i, 8) ? NULL : PQgetvalue(r, i, 8);
    c->default_payment_method = PQgetisnull(r, i, 9) ? NULL : PQgetvalue(r, i, 9);
    c->grace_period_ends_at = PQgetisnull(r, i, 10) ? NULL : PQgetvalue(r, i, 10);
    c->billing_enabled = strcmp(PQgetvalue(r, i, 11), "f") != 0;
}

/* signup_open: the automated_customer_onboarding flag for this address
 * (lower-cased, so the answer does not depend on its spelling). */
static enum tg_err signup_open(struct http_request *req, const char *email)
{
    char *lower = arena_strdup(req->arena, email);
    if (lower == NULL)
        return TG_ENOMEM;
    for (char *p = lower; *p != '\0'; p++)
        *p = (char)tolower((unsigned char)*p);
    bool on;
    enum tg_err e = flag_enabled(req, FLAG_ONBOARDING, lower, &on);
    if (e != TG_OK)
        return e;
    if (!on) {
        req->retry_after = "3600";
        return http_fail(req, TG_ESIGNUPCLOSED, "automated signup is closed for now; try again "
                                                "later or contact support");
    }
    return TG_OK;
}

enum tg_err customer_onboard(struct http_request *req, const char *email, const char *name,
                             const char *source, struct customer *out, struct apikey *key)
{
    const struct service *svc = req->svc;
    if (!email_valid(email))
        return http_fail(req, TG_EINVALID, "email: not a valid e-mail address");
    if (email_is_disposable(svc->blocklist, email))
        return http_fail(req, TG_EDISPOSABLE, "email: use a permanent address, not a "
                                              "disposable one");
    enum tg_err e = signup_open(req, email);
    if (e == TG_OK)
        e = audit_set_actor(req, "signup");
    if (e != TG_OK)
        return e;
    if ((e = apikey_generate(svc->cfg->environment, key)) != TG_OK)
        return e;

    const char *params[5] = {email, name, source, (const char *)key->hash, key->prefix};
    const int lengths[5] = {0, 0, 0, HASH_SHA256_LEN, 0};
    const int formats[5] = {0, 0, 0, 1, 0};
    PGresult *r;
    e = db_exec(svc->db, req->arena, DB_CUSTOMER_ONBOARD, params, lengths, formats, &r);
    if (e == TG_OK && PQntuples(r) != 1)
        e = http_fail(req, TG_ECONFLICT, "email: a customer with this e-mail already exists");
    if (e != TG_OK) {
        apikey_cleanse(key);
        return e;
    }
    customer_from_row(r, 0, out);
    return TG_OK;
}

enum tg_err customer_get(struct http_request *req, const char *id, struct customer *out)
{
    const char *params[1] = {id};
    PGresult *r;
    enum tg_err e = db_exec(req->svc->db, req->arena, DB_CUSTOMER_GET, params, NULL, NULL, &r);
    if (e != TG_OK)
        return e;
    if (PQntuples(r) != 1)
        return http_fail(req, TG_ENOTFOUND, "no such customer");
    customer_from_row(r, 0, out);
    return TG_OK;
}
