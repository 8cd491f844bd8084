/*
 * validate: table-driven validation of JSON request bodies; see validate.h.
 */
#include "http/validate.h"

#include <ctype.h>
#include <string.h>

#include "core/text.h"

static enum tg_err check_string(struct http_request *req, const struct valid_field *f, json_t *v)
{
    if (!json_is_string(v))
        return http_fail(req, TG_EINVALID, "%s: must be a string", f->name);
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (strlen(s) != len)
        return http_fail(req, TG_EINVALID, "%s: must not contain NUL", f->name);
    if ((long long)len < f->min || (long long)len > f->max)
        return http_fail(req, TG_EINVALID, "%s: must be %lld to %lld bytes long", f->name, f->min,
                         f->max);
    if (!text_printable(s, len))
        return http_fail(req, TG_EINVALID, "%s: must not contain control characters", f->name);
    if (f->one_of != NULL) {
        for (const char *const *o = f->one_of; *o != NULL; o++)
            if (strcmp(*o, s) == 0)
                return TG_OK;
        return http_fail(req, TG_EINVALID, "%s: \"%s\" is not an accepted value", f->name, s);
    }
    return TG_OK;
}

static enum tg_err check_metadata(struct http_request *req, const struct valid_field *f, json_t *v)
{
    if (!json_is_object(v))
        return http_fail(req, TG_EINVALID, "%s: must be an object of strings", f->name);
    if (json_object_size(v) > VALID_METADATA_KEYS)
        return http_fail(req, TG_EINVALID, "%s: at most %d keys", f->name, VALID_METADATA_KEYS);
    const char *key;
    json_t *val;
    json_object_foreach(v, key, val)
    {
        size_t klen = strlen(key);
        if (klen == 0 || klen > VALID_METADATA_KEY_MAX || !text_printable(key, klen))
            return http_fail(req, TG_EINVALID, "%s: keys must be 1 to %d printable bytes",
                             f->name, VALID_METADATA_KEY_MAX);
        if (!json_is_string(val))
            return http_fail(req, TG_EINVALID, "%s.%s: must be a string", f->name, key);
        size_t vlen = json_string_length(val);
        if (vlen > VALID_METADATA_VALUE_MAX || strlen(json_string_value(val)) != vlen ||
            !text_printable(json_string_value(val), vlen))
            return http_fail(req, TG_EINVALID, "%s.%s: at most %d printable bytes", f->name, key,
                             VALID_METADATA_VALUE_MAX);
    }
    return TG_OK;
}

static enum tg_err check_field(struct http_request *req, const struct valid_field *f, json_t *v)
{
    switch (f->type) {
    case VALID_STRING:
        return check_string(req, f, v);
    case VALID_BOOLEAN:
        return json_is_boolean(v) ? TG_OK
                                  : http_fail(req, TG_EINVALID, "%s: must be true or false",
                                              f->name);
    case VALID_INTEGER:
        if (!json_is_integer(v))
            return http_fail(req, TG_EINVALID, "%s: must be an integer", f->name);
        if (json_integer_value(v) < f->min || json_integer_value(v) > f->max)
            return http_fail(req, TG_EINVALID, "%s: must be from %lld to %lld", f->name, f->min,
                             f->max);
        return TG_OK;
    case VALID_METADATA:
        return check_metadata(req, f, v);
    }
    return TG_EINTERNAL;
}

enum tg_err valid_object(struct http_request *req, json_t *obj, const struct valid_field *fields,
                         size_t nfields, json_t **out)
{
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val)
    {
        size_t i = 0;
        while (i < nfields && strcmp(fields[i].name, key) != 0)
            i++;
        if (i == nfields) {
            size_t klen = strlen(key);
            return http_fail(req, TG_EINVALID, "unknown field \"%.*s\"", (int)(klen > 64 ? 64 : klen),
                             text_printable(key, klen) ? key : "?");
        }
    }
    for (size_t i = 0; i < nfields; i++) {
        json_t *v = json_object_get(obj, fields[i].name);
        out[i] = NULL;
        if (v == NULL || json_is_null(v)) {
            if (fields[i].required)
                return http_fail(req, TG_EINVALID, "%s: required", fields[i].name);
            continue;
        }
        enum tg_err e = check_field(req, &fields[i], v);
        if (e != TG_OK)
            return e;
        out[i] = v;
    }
    return TG_OK;
}

