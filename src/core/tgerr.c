/*
 * tgerr: the descriptions of the errors; see tgerr.h. They double as the
 * RFC 9457 titles of the problems (http/problem.c): short, and never
 * changing from one occurrence to the next.
 */
#include "core/tgerr.h"

static const char *const descriptions[TG_ERR_COUNT] = {
    [TG_OK] = "OK",
    [TG_ENOMEM] = "Service temporarily out of memory",
    [TG_EINTERNAL] = "Internal error",
    [TG_EDB] = "Database unavailable",
    [TG_EUNAVAILABLE] = "Service unavailable",
    [TG_EBADREQUEST] = "Malformed request",
    [TG_EBADJSON] = "Request body is not valid JSON",
    [TG_EINVALID] = "Request field is invalid",
    [TG_EBADCONTENTTYPE] = "Body must be application/json",
    [TG_ETOOLARGE] = "Request body too large",
    [TG_EUNAUTHORIZED] = "Missing or invalid API key",
    [TG_ENOTFOUND] = "Not found",
    [TG_EMETHOD] = "Method not allowed",
    [TG_ECONFLICT] = "Conflict",
    [TG_EIDEMPOTENCYKEY] = "A valid Idempotency-Key header is required",
    [TG_EIDEMPOTENCYREUSE] = "Idempotency-Key was used with another request body",
    [TG_EDISPOSABLE] = "Disposable e-mail addresses are not accepted",
    [TG_EINSUFFICIENT] = "No credits left and nothing can be charged",
    [TG_EPAYMENTMETHODREQUIRED] = "A payment method is required",
    [TG_ERATELIMITED] = "Too many requests",
    [TG_ECONFIG] = "Configuration error",
    [TG_EUPSTREAM] = "Payment provider unavailable",
    [TG_EPAYMENTFAILED] = "Payment failed",
    [TG_EWEBHOOKSIGNATURE] = "Webhook signature missing or invalid",
    [TG_ENOEMAIL] = "The purchasing account has no e-mail address",
    [TG_ELASTAPIKEY] = "The last active API key cannot be revoked",
    [TG_EAPIKEYLIMIT] = "Too many active API keys",
    [TG_ESIGNUPCLOSED] = "Signup is closed",
    [TG_EBILLINGDISABLED] = "Billing is switched off",
    [TG_ENOTOKENS] = "Credentials tokens are not configured",
    [TG_EIDEMPOTENCYBUSY] = "A request with this Idempotency-Key is still being processed",
    [TG_EIDEMPOTENCYGONE] = "The answer to this Idempotency-Key is no longer kept",
    [TG_EHOLDEXPIRED] = "The hold has expired",
    [TG_EHOLDRELEASED] = "The hold was released",
    [TG_EHOLDSETTLED] = "The hold was settled",
    [TG_ESPENDLIMIT] = "The monthly spend limit is reached",
};

const char *tg_strerror(enum tg_err err)
{
    if ((unsigned)err >= TG_ERR_COUNT)
        err = TG_EINTERNAL;
    return descriptions[err];
}
