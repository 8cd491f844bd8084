/*
 * tgerr: the error table; see tgerr.h. RFC 9457 (Problem Details for HTTP
 * APIs) for the type/title/status triple.
 */
#include "core/tgerr.h"

static const struct tg_err_info table[TG_ERR_COUNT] = {
    [TG_OK] = {200, "ok", "OK"},
    [TG_ENOMEM] = {503, "out-of-memory", "Service temporarily out of memory"},
    [TG_EINTERNAL] = {500, "internal-error", "Internal error"},
    [TG_EDB] = {503, "database-unavailable", "Database unavailable"},
    [TG_EUNAVAILABLE] = {503, "service-unavailable", "Service unavailable"},
    [TG_EBADREQUEST] = {400, "bad-request", "Malformed request"},
    [TG_EBADJSON] = {400, "invalid-json", "Request body is not valid JSON"},
    [TG_EINVALID] = {400, "validation-failed", "Request field is invalid"},
    [TG_EBADCONTENTTYPE] = {415, "unsupported-media-type", "Body must be application/json"},
    [TG_ETOOLARGE] = {413, "body-too-large", "Request body too large"},
    [TG_EUNAUTHORIZED] = {401, "unauthorized", "Missing or invalid API key"},
    [TG_ENOTFOUND] = {404, "not-found", "Not found"},
    [TG_EMETHOD] = {405, "method-not-allowed", "Method not allowed"},
    [TG_ECONFLICT] = {409, "conflict", "Conflict"},
    [TG_EIDEMPOTENCYKEY] = {400, "idempotency-key-required",
                            "A valid Idempotency-Key header is required"},
    [TG_EIDEMPOTENCYREUSE] = {422, "idempotency-key-reused",
                              "Idempotency-Key was used with another request body"},
    [TG_EDISPOSABLE] = {422, "disposable-email", "Disposable e-mail addresses are not accepted"},
    [TG_EINSUFFICIENT] = {402, "insufficient-credits", "No credits left and nothing can be charged"},
    [TG_EPAYMENTMETHODREQUIRED] = {402, "payment-method-required",
                                   "A payment method is required"},
    [TG_ERATELIMITED] = {429, "rate-limited", "Too many requests"},
    [TG_ECONFIG] = {500, "configuration-error", "Configuration error"},
    [TG_EUPSTREAM] = {503, "payment-provider-unavailable", "Payment provider unavailable"},
    [TG_EPAYMENTFAILED] = {402, "payment-failed", "Payment failed"},
    [TG_EWEBHOOKSIGNATURE] = {400, "webhook-signature-invalid",
                              "Webhook signature missing or invalid"},
    [TG_ENOEMAIL] = {422, "marketplace-email-missing",
                     "The purchasing account has no e-mail address"},
    [TG_ELASTAPIKEY] = {409, "last-api-key", "The last active API key cannot be revoked"},
    [TG_EAPIKEYLIMIT] = {409, "api-key-limit", "Too many active API keys"},
    [TG_ESIGNUPCLOSED] = {503, "signup-closed", "Signup is closed"},
    [TG_EBILLINGDISABLED] = {503, "billing-disabled", "Billing is switched off"},
    [TG_ENOTOKENS] = {503, "credentials-unavailable", "Credentials tokens are not configured"},
};

const struct tg_err_info *tg_err_info(enum tg_err err)
{
    if ((unsigned)err >= TG_ERR_COUNT)
        err = TG_EINTERNAL;
    return &table[err];
}

const char *tg_strerror(enum tg_err err)
{
    return tg_err_info(err)->title;
}
