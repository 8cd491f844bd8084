/*
 * marketplace: see marketplace.h. GitHub's payloads carry many members
 * tollgate does not read, so they are not checked by a valid_object()
 * table (which refuses unknown members); the members read are checked one
 * by one here: type, length, no control characters.
 */
#include "domain/marketplace.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "domain/apikey.h"
#include "domain/audit.h"
#include "domain/email.h"
#include "domain/service.h"
#include "http/validate.h"
#include "store/db.h"

#define NAME_MAX_BYTES 200 /* customers.name */
#define SHORT_MAX_BYTES 64

/* text_member: member name of obj (what names it in details) as a string
 * of 1..max bytes without control characters into *out; absent or null:
 * *out = NULL, an error when required. */
static enum tg_err text_member(struct http_request *req, json_t *obj, const char *what,
                               const char *name, size_t max, bool required, const char **out)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, name) : NULL;
    *out = NULL;
    if (v == NULL || json_is_null(v)) {
        if (required)
            return http_fail(req, TG_EINVALID, "%s%s: required", what, name);
        return TG_OK;
    }
    size_t n = json_string_length(v);
    if (!json_is_string(v) || n == 0 || n > max || !valid_text(json_string_value(v), n))
        return http_fail(req, TG_EINVALID, "%s%s: a string of 1 to %zu characters expected",
                         what, name, max);
    *out = json_string_value(v);
    return TG_OK;
}

enum tg_err marketplace_parse(struct http_request *req, json_t *payload,
                              struct marketplace_event *out)
{
    memset(out, 0, sizeof(*out));
    json_t *mp = json_object_get(payload, "marketplace_purchase");
    json_t *account = json_object_get(mp, "account");
    json_t *id = json_object_get(account, "id");
    enum tg_err e;
    if ((e = text_member(req, payload, "", "action", SHORT_MAX_BYTES, true, &out->action)) !=
        TG_OK)
        return e;
    if (!json_is_object(mp) || !json_is_object(account))
        return http_fail(req, TG_EINVALID, "marketplace_purchase.account: an object expected");
    if (!json_is_integer(id) || json_integer_value(id) <= 0)
        return http_fail(req, TG_EINVALID,
                         "marketplace_purchase.account.id: a positive integer expected");
    out->account_id = (long long)json_integer_value(id);
    const char *billing = NULL, *sender = NULL;
    if ((e = text_member(req, account, "marketplace_purchase.account.", "login", NAME_MAX_BYTES,
                         true, &out->login)) != TG_OK ||
        (e = text_member(req, account, "marketplace_purchase.account.", "type", SHORT_MAX_BYTES,
                         false, &out->account_type)) != TG_OK ||
        (e = text_member(req, json_object_get(mp, "plan"), "marketplace_purchase.plan.", "name",
                         NAME_MAX_BYTES, false, &out->plan)) != TG_OK ||
        (e = text_member(req, payload, "", "effective_date", SHORT_MAX_BYTES, false,
                         &out->effective_date)) != TG_OK ||
        (e = text_member(req, account, "marketplace_purchase.account.",
                         "organization_billing_email", EMAIL_MAX_LEN, false, &billing)) != TG_OK ||
        (e = text_member(req, json_object_get(payload, "sender"), "sender.", "email",
                         EMAIL_MAX_LEN, false, &sender)) != TG_OK)
        return e;
    out->email = billing != NULL ? billing : sender;
    return TG_OK;
}

enum tg_err marketplace_record(struct http_request *req, const char *delivery, const char *event,
                               const char *action, long long account_id, const char *note,
                               bool *duplicate)
{
    char account[24];
    snprintf(account, sizeof(account), "%lld", account_id);
    const char *p[6] = {delivery, event, action, account_id > 0 ? account : NULL, req->body,
                        note};
    PGresult *r;
    enum tg_err e = db_exec(req->svc->db, req->arena, DB_GITHUB_RECORD, p, NULL, NULL, &r);
    if (e != TG_OK)
        return e;
    if (PQntuples(r) != 1)
        return TG_EINTERNAL;
    *duplicate = strcmp(PQgetvalue(r, 0, 0), "t") != 0;
    return TG_OK;
}

/* purchased: provision the account (see marketplace.h). */
static enum tg_err purchased(struct http_request *req, const char *delivery,
                             const struct marketplace_event *ev, PGresult **r)
{
    const struct service *svc = req->svc;
    if (!email_valid(ev->email))
        return http_fail(req, TG_EINVALID, "the account's e-mail is not a valid e-mail address");
    if (svc->blocklist != NULL && email_is_disposable(svc->blocklist, ev->email))
        return http_fail(req, TG_EDISPOSABLE, "the account's e-mail is at a disposable domain");
    if (ev->plan == NULL)
        return http_fail(req, TG_EINVALID, "marketplace_purchase.plan.name: required");
    char account[24];
    snprintf(account, sizeof(account), "%lld", ev->account_id);
    struct apikey key;
    enum tg_err e = apikey_generate(svc->cfg->environment, &key);
    if (e != TG_OK)
        return e;
    const char *p[11] = {delivery,           req->body,       account,   ev->login,
                         ev->account_type,   ev->plan,        ev->effective_date,
                         ev->email,          (const char *)key.hash, key.prefix, key.key};
    const int lengths[11] = {[8] = HASH_SHA256_LEN};
    const int formats[11] = {[8] = 1};
    e = db_exec(svc->db, req->arena, DB_GITHUB_PURCHASED, p, lengths, formats, r);
    /* The key now lives only in the queued welcome mail. */
    apikey_cleanse(&key);
    if (e == TG_OK && PQntuples(*r) == 1 && strcmp(PQgetvalue(*r, 0, 0), "email_taken") == 0)
        return http_fail(req, TG_ECONFLICT,
                         "a customer with the account's e-mail exists already and is not linked "
                         "to this GitHub account");
    return e;
}

enum tg_err marketplace_apply(struct http_request *req, const char *delivery,
                              const struct marketplace_event *ev, struct marketplace_result *out)
{
    memset(out, 0, sizeof(*out));
    PGresult *r = NULL;
    enum tg_err e = audit_set_actor(req, arena_printf(req->arena, "github:%s", delivery));
    if (e != TG_OK)
        return e;
    if (strcmp(ev->action, "purchased") == 0) {
        e = purchased(req, delivery, ev, &r);
    } else if (strcmp(ev->action, "changed") == 0 || strcmp(ev->action, "cancelled") == 0) {
        if (strcmp(ev->action, "changed") == 0 && ev->plan == NULL)
            return http_fail(req, TG_EINVALID, "marketplace_purchase.plan.name: required");
        char account[24];
        snprintf(account, sizeof(account), "%lld", ev->account_id);
        const char *p[7] = {delivery, ev->action, req->body,         account,
                            ev->login, ev->plan,  ev->effective_date};
        e = db_exec(req->svc->db, req->arena, DB_GITHUB_UPDATE, p, NULL, NULL, &r);
    } else {
        bool dup = false;
        e = marketplace_record(req, delivery, "marketplace_purchase", ev->action, ev->account_id,
                               "not applied: GitHub sends changed or cancelled when it takes "
                               "effect",
                               &dup);
        out->outcome = dup ? "duplicate" : "recorded";
        out->duplicate = dup;
        return e;
    }
    if (e != TG_OK)
        return e;
    if (PQntuples(r) != 1)
        return TG_EINTERNAL;
    out->outcome = PQgetvalue(r, 0, 0);
    out->customer_id = PQgetisnull(r, 0, 1) ? NULL : PQgetvalue(r, 0, 1);
    out->duplicate = strcmp(out->outcome, "duplicate") == 0;
    return TG_OK;
}
