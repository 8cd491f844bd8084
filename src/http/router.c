/*
 * router: see router.h. The table is small, so a linear scan is the fastest
 * and most obvious matcher.
 */
#include "http/router.h"

#include <stdio.h>
#include <string.h>

#define PARAM "{id}"
#define PARAM_MAX 64

/* path_matches: pattern against path; the "{id}" segment must be 1 to
 * PARAM_MAX bytes of [A-Za-z0-9_-] and is returned in *param. */
static bool path_matches(const char *pattern, const char *path, const char **param,
                         size_t *param_len)
{
    const char *brace = strstr(pattern, PARAM);
    if (brace == NULL)
        return strcmp(pattern, path) == 0;
    size_t prefix = (size_t)(brace - pattern);
    if (strncmp(pattern, path, prefix) != 0)
        return false;
    const char *seg = path + prefix;
    size_t n = strspn(seg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_");
    if (n == 0 || n > PARAM_MAX || strcmp(seg + n, brace + strlen(PARAM)) != 0)
        return false;
    *param = seg;
    *param_len = n;
    return true;
}

/* allow_add: append method to the comma-separated list unless present. */
static void allow_add(char *allow, size_t size, const char *method)
{
    size_t mlen = strlen(method);
    for (const char *p = allow; (p = strstr(p, method)) != NULL; p += mlen)
        if ((p == allow || p[-1] == ' ') && (p[mlen] == ',' || p[mlen] == '\0'))
            return;
    size_t used = strlen(allow);
    if (used + mlen + 3 > size)
        return;
    snprintf(allow + used, size - used, "%s%s", used > 0 ? ", " : "", method);
}

enum tg_err router_match(const struct route *routes, struct http_request *req,
                         const struct route **out)
{
    char allow[64] = "";
    *out = NULL;
    for (const struct route *r = routes; r->method != NULL; r++) {
        const char *param = NULL;
        size_t param_len = 0;
        if (!path_matches(r->path, req->path, &param, &param_len))
            continue;
        /* HEAD is GET without the body; nginx drops the body. */
        bool head_as_get = strcmp(req->method, "HEAD") == 0 && strcmp(r->method, "GET") == 0;
        if (strcmp(r->method, req->method) != 0 && !head_as_get) {
            allow_add(allow, sizeof(allow), r->method);
            if (strcmp(r->method, "GET") == 0)
                allow_add(allow, sizeof(allow), "HEAD");
            continue;
        }
        req->route_name = r->name;
        req->route_index = (int)(r - routes);
        if (param != NULL && (req->path_param = arena_strndup(req->arena, param, param_len)) == NULL)
            return TG_ENOMEM;
        *out = r;
        return TG_OK;
    }
    if (allow[0] == '\0')
        return http_fail(req, TG_ENOTFOUND, "no route for %s", req->path[0] ? "this path" : "/");
    if ((req->allow = arena_strdup(req->arena, allow)) == NULL)
        return TG_ENOMEM;
    return http_fail(req, TG_EMETHOD, "%.16s is not allowed here; use %s", req->method, allow);
}
