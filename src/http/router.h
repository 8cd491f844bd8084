/*
 * router: the route table. Each route declares its method, path, whether it
 * needs an API key, its body limit and whether it requires an
 * Idempotency-Key, so those checks run once, before any handler.
 */
#ifndef TOLLGATE_ROUTER_H
#define TOLLGATE_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "http/http.h"

/* ROUTE_API_KEY: the pipeline authenticates the key (one statement) before
 * the handler runs; ROUTE_API_KEY_IN_HANDLER: the handler's own statement
 * authenticates it (POST /api/v1/usage: one round trip for all of it); the
 * handler sets req->auth.checked before that statement, and a request
 * refused before it is authenticated by the pipeline then (api/dispatch.c),
 * so it answers as on any other route. */
enum route_auth { ROUTE_PUBLIC, ROUTE_API_KEY, ROUTE_API_KEY_IN_HANDLER };

struct route {
    const char *method;      /* "GET", "POST", "DELETE" */
    const char *path;        /* "/api/v1/x"; a final "{id}" segment matches one segment */
    const char *name;        /* stable name for logs and metrics */
    enum route_auth auth;
    size_t body_max;         /* 0: no body accepted */
    bool idempotency_key;    /* the Idempotency-Key header is required */
    bool raw_body;           /* the handler reads the raw body (webhooks: the
                              * signature covers the bytes), no JSON parsing */
    enum tg_err (*handler)(struct http_request *req);
};

/* router_match: the route of routes (terminated by a NULL method) for
 * req->method and req->path. Sets req->route_name and, for a "{id}" route,
 * req->path_param. No path matches: TG_ENOTFOUND; the path matches with
 * other methods: TG_EMETHOD, with an Allow header added. */
enum tg_err router_match(const struct route *routes, struct http_request *req,
                         const struct route **out) __attribute__((warn_unused_result));

#endif
