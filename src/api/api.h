/*
 * api: the public HTTP API (docs/api.md). api_serve() runs one request
 * through the pipeline -- parameters, route, body limit, authentication,
 * Idempotency-Key, JSON -- and then the route's handler; every failure
 * becomes an RFC 9457 problem answer. Handlers live one file per resource:
 * each validates its input by a field table, calls the domain with the
 * request's context, and renders the result (api/render.h). This is the
 * only layer that knows both HTTP and the domain.
 */
#ifndef TOLLGATE_API_H
#define TOLLGATE_API_H

#include "domain/apikey.h"
#include "http/http.h"
#include "http/router.h"

/* api_routes: the route table, terminated by a NULL method. */
extern const struct route api_routes[];

/* api_serve: serve the request described by FastCGI params envp, reading
 * the body through io, as work of req's context. Always leaves an answer
 * in req->resp. */
void api_serve(struct http_request *req, char **envp, struct http_io io);

/* api_bearer_key: the API key of "Authorization: Bearer <key>" (the
 * scheme in any case), "" when the header holds another scheme (the
 * domain then refuses its shape), or NULL when there is no Authorization
 * header. */
const char *api_bearer_key(const struct http_request *req);

/* api_set_auth: record who called (auth, borrowed from the context's
 * arena) in req->auth, for the log line and the RateLimit headers. */
void api_set_auth(struct http_request *req, const struct api_key_auth *auth);

/* api_idempotency_key_parse: the key an Idempotency-Key header value
 * means: the value of an RFC 8941 sf-string ("abc") or the bare value
 * (abc) alike, copied into a when unquoted. NULL when value is NULL or the
 * key is not 1..255 visible ASCII characters (api/idempotency.c). */
const char *api_idempotency_key_parse(struct arena *a, const char *value);

/* api_idempotency_route: route keeps the answers of requests sent with an
 * Idempotency-Key (api/idempotency.c; usage keeps its own). */
bool api_idempotency_route(const struct route *route);

/* api_idempotency_run: run route's handler for req, which carries a valid
 * Idempotency-Key: the first answer again for a retry, the claim, the
 * handler, the answer kept (domain/idempotency.h). A route that keeps no
 * answers just runs. Errors as the handler's, and TG_EIDEMPOTENCYREUSE,
 * TG_EIDEMPOTENCYBUSY, TG_EIDEMPOTENCYGONE, TG_EDB. */
enum tg_err api_idempotency_run(struct http_request *req, const struct route *route);

enum tg_err api_health(struct http_request *req);
enum tg_err api_customers_create(struct http_request *req);
enum tg_err api_customers_me(struct http_request *req);
/* PATCH /api/v1/customers/me {"low_balance_threshold": n} (issue 14). */
enum tg_err api_customers_update(struct http_request *req);
enum tg_err api_api_keys_list(struct http_request *req);
enum tg_err api_api_keys_create(struct http_request *req);
enum tg_err api_api_keys_revoke(struct http_request *req);
enum tg_err api_usage_create(struct http_request *req);
enum tg_err api_usage_summary(struct http_request *req);
enum tg_err api_credits_transactions(struct http_request *req);
enum tg_err api_metrics(struct http_request *req);
enum tg_err api_payment_method_add(struct http_request *req);
enum tg_err api_subscriptions_create(struct http_request *req);
enum tg_err api_subscriptions_current(struct http_request *req);
enum tg_err api_subscriptions_cancel(struct http_request *req);
enum tg_err api_subscriptions_preview(struct http_request *req);
enum tg_err api_webhooks_stripe(struct http_request *req);
enum tg_err api_webhooks_github(struct http_request *req);
enum tg_err api_credentials_create(struct http_request *req);
enum tg_err api_holds_create(struct http_request *req);
enum tg_err api_spend_limit_put(struct http_request *req);
enum tg_err api_spend_limit_delete(struct http_request *req);
enum tg_err api_holds_list(struct http_request *req);
enum tg_err api_holds_settle(struct http_request *req);
enum tg_err api_holds_release(struct http_request *req);

#endif
