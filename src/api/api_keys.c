/*
 * api_keys: GET/POST /api/v1/api_keys and DELETE /api/v1/api_keys/{id}:
 * a customer's keys, creating one (the key is in this answer only) and
 * revoking one (DESIGN.md §3).
 */
#include "api/api.h"
#include "api/render.h"
#include "domain/apikey.h"
#include "core/text.h"
#include "http/validate.h"

static const struct valid_field create_fields[] = {
    {"name", VALID_STRING, false, 1, 100, NULL},
};

enum tg_err api_api_keys_list(struct http_request *req)
{
    struct api_key *keys;
    size_t n;
    enum tg_err e = apikey_list(req->ctx, req->auth.customer_id, &keys, &n);
    if (e != TG_OK)
        return e;
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, render_api_key(&keys[i], req->auth.api_key_id));
    return http_reply_json(req, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
}

enum tg_err api_api_keys_create(struct http_request *req)
{
    json_t *f[1];
    struct apikey key;
    struct api_key info;
    enum tg_err e = valid_object(req, req->json, create_fields, 1, f);
    if (e == TG_OK)
        e = apikey_create(req->ctx, req->auth.customer_id, json_string_value(f[0]), &key, &info);
    if (e != TG_OK)
        return e;
    json_t *body = render_api_key(&info, req->auth.api_key_id);
    if (body != NULL)
        json_object_set_new(body, "key", json_string(key.key));
    apikey_cleanse(&key);
    /* The key is in the body: make sure no cache keeps it. Location: the
     * key's own URL, the one that revokes it (RFC 9110 15.3.2). */
    const char *location = arena_printf(req->arena, "/api/v1/api_keys/%s", info.id);
    if (location == NULL)
        e = TG_ENOMEM;
    if (e != TG_OK || (e = http_add_header(req, "Cache-Control", "no-store")) != TG_OK ||
        (e = http_add_header(req, "Location", location)) != TG_OK) {
        json_decref(body);
        return e;
    }
    return http_reply_json(req, 201, body);
}

enum tg_err api_api_keys_revoke(struct http_request *req)
{
    struct api_key info;
    bool already;
    if (!text_is_uuid(req->path_param))
        return http_fail(req, TG_ENOTFOUND, "no API key %s", req->path_param);
    enum tg_err e =
        apikey_revoke(req->ctx, req->auth.customer_id, req->path_param, false, &info, &already);
    if (e != TG_OK)
        return e;
    return http_reply_json(req, 200, render_api_key(&info, req->auth.api_key_id));
}
