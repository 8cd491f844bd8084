/*
 * webhooks: POST /webhooks/stripe. The signature is checked on the raw
 * bytes before anything is parsed; a verified event is stored and
 * acknowledged at once (tollgate-worker applies it), a redelivery is
 * acknowledged and changes nothing, and a failure to store answers 5xx so
 * that Stripe delivers again (Stripe: "Receive events in your webhook
 * endpoint").
 */
#include "api/api.h"
#include "domain/stripe_webhook.h"

#define EVENT_MAX_DEPTH 64

enum tg_err api_webhooks_stripe(struct http_request *req)
{
    enum tg_err e = stripe_webhook_verify(req->ctx, req->stripe_signature, req->body,
                                          req->body_len);
    if (e != TG_OK)
        return e;

    if (http_json_depth(req->body, req->body_len, EVENT_MAX_DEPTH) > EVENT_MAX_DEPTH) {
        stripe_webhook_rejected("malformed");
        return http_fail(req, TG_EBADJSON, "event nested deeper than %d", EVENT_MAX_DEPTH);
    }
    json_error_t jerr;
    json_t *event = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (event == NULL) {
        stripe_webhook_rejected("malformed");
        return http_fail(req, TG_EBADJSON, "%s", jerr.text);
    }
    if (arena_defer(req->arena, arena_json_decref, event) != 0)
        return TG_ENOMEM;
    bool duplicate = false;
    e = stripe_webhook_receive(req->ctx, event, req->body, &duplicate);
    if (e != TG_OK)
        return e;
    return http_reply_json(req, 200,
                           json_pack("{s:b, s:s, s:b}", "received", 1, "id",
                                     json_string_value(json_object_get(event, "id")), "duplicate",
                                     duplicate));
}
