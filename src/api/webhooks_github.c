/*
 * webhooks_github: POST /webhooks/github, the GitHub App's webhook (GitHub
 * Docs: "Validating webhook deliveries", "Webhook events and payloads",
 * "Webhook events for the GitHub Marketplace API"). X-Hub-Signature-256 is
 * checked on the raw bytes before anything is parsed; the delivery is then
 * stored by its X-GitHub-Delivery GUID and, for marketplace_purchase,
 * applied in the same statement (domain/marketplace.h), so GitHub gets its
 * answer well within its 10 s. A redelivery is acknowledged and changes
 * nothing; ping and other events are stored and acknowledged. GitHub does
 * not redeliver failed deliveries by itself: a 4xx or 5xx shows in the
 * App's delivery log, where an operator can redeliver it.
 */
#include <string.h>

#include "api/api.h"
#include "core/metrics.h"
#include "domain/marketplace.h"

#define DELIVERY_MAX_DEPTH 64
#define GUID_MAX 64
#define EVENT_NAME_MAX 64

/* token_valid: 1..max bytes, all of them in set. */
static bool token_valid(const char *s, size_t max, const char *set)
{
    size_t n = s != NULL ? strlen(s) : 0;
    return n > 0 && n <= max && strspn(s, set) == n;
}

enum tg_err api_webhooks_github(struct http_request *req)
{
    enum tg_err e = marketplace_verify(req->ctx, req->hub_signature, req->body, req->body_len);
    if (e != TG_OK)
        return e;

    const char *delivery = req->github_delivery, *event = req->github_event;
    if (!token_valid(delivery, GUID_MAX,
                     "0123456789abcdefABCDEF-ghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ"))
        return http_fail(req, TG_EBADREQUEST, "X-GitHub-Delivery: missing or not a GUID");
    if (!token_valid(event, EVENT_NAME_MAX, "abcdefghijklmnopqrstuvwxyz_"))
        return http_fail(req, TG_EBADREQUEST, "X-GitHub-Event: missing or not an event name");

    if (http_json_depth(req->body, req->body_len, DELIVERY_MAX_DEPTH) > DELIVERY_MAX_DEPTH)
        return http_fail(req, TG_EBADJSON, "payload nested deeper than %d", DELIVERY_MAX_DEPTH);
    json_error_t jerr;
    json_t *payload = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (payload == NULL)
        return http_fail(req, TG_EBADJSON, "%s (line %d, column %d)", jerr.text, jerr.line,
                         jerr.column);
    if (arena_defer(req->arena, arena_json_decref, payload) != 0)
        return TG_ENOMEM;
    if (!json_is_object(payload))
        return http_fail(req, TG_EBADJSON, "the payload is not a JSON object");

    struct marketplace_result res = {0};
    const char *action = json_string_value(json_object_get(payload, "action"));
    if (strcmp(event, "marketplace_purchase") == 0) {
        struct marketplace_event ev;
        if ((e = marketplace_parse(req->ctx, payload, &ev)) != TG_OK)
            return e;
        if (strcmp(ev.action, "purchased") == 0 && ev.email == NULL)
            return http_fail(req, TG_ENOEMAIL,
                             "neither marketplace_purchase.account.organization_billing_email "
                             "nor sender.email is set: there is nowhere to send the API key");
        e = marketplace_apply(req->ctx, delivery, req->body, &ev, &res);
        action = ev.action;
    } else {
        bool dup = false;
        e = marketplace_record(req->ctx, delivery, event,
                               action != NULL && strlen(action) <= EVENT_NAME_MAX ? action : NULL,
                               0, req->body, strcmp(event, "ping") == 0 ? "ping" : "event not handled",
                               &dup);
        res.outcome = dup ? "duplicate" : "ignored";
        res.duplicate = dup;
        action = NULL;
    }
    if (e != TG_OK)
        return e;
    /* Applied as received: both counts at once. */
    metrics_add(MF_WEBHOOKS_RECEIVED, 1, "github", event, res.duplicate ? "duplicate" : "stored",
                "");
    if (!res.duplicate)
        metrics_add(MF_WEBHOOKS_APPLIED, 1, "github", event,
                    strcmp(res.outcome, "ignored") == 0 || strcmp(res.outcome, "recorded") == 0
                        ? "ignored"
                        : "applied",
                    NULL);
    return http_reply_json(req, 200,
                           json_pack("{s:b, s:s, s:s, s:s?, s:s, s:b}", "received", 1, "delivery",
                                     delivery, "event", event, "action", action, "outcome",
                                     res.outcome, "duplicate", res.duplicate));
}
