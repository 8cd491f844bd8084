/*
 * api: the public HTTP API (docs/api.md). api_serve() runs one request
 * through the pipeline -- parameters, route, body limit, Idempotency-Key,
 * authentication, JSON -- and then the route's handler; every failure
 * becomes an RFC 9457 problem answer. Handlers are declared here and live
 * one file per resource.
 */
#ifndef TOLLGATE_API_H
#define TOLLGATE_API_H

#include "http/http.h"
#include "http/router.h"

/* api_routes: the route table, terminated by a NULL method. */
extern const struct route api_routes[];

/* api_serve: serve the request described by FastCGI params envp, reading
 * the body through io. Always leaves an answer in req->resp. */
void api_serve(struct http_request *req, char **envp, struct http_io io);

enum tg_err api_health(struct http_request *req);
enum tg_err api_customers_create(struct http_request *req);
enum tg_err api_customers_me(struct http_request *req);
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

#endif
