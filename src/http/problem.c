/*
 * problem: the table of statuses and problem types; see problem.h. RFC
 * 9457 (Problem Details for HTTP APIs) for the type/title/status triple.
 */
#include "http/problem.h"

static const struct problem_info table[TG_ERR_COUNT] = {
    [TG_OK] = {200, "ok"},
    [TG_ENOMEM] = {503, "out-of-memory"},
    [TG_EINTERNAL] = {500, "internal-error"},
    [TG_EDB] = {503, "database-unavailable"},
    [TG_EUNAVAILABLE] = {503, "service-unavailable"},
    [TG_EBADREQUEST] = {400, "bad-request"},
    [TG_EBADJSON] = {400, "invalid-json"},
    [TG_EINVALID] = {400, "validation-failed"},
    [TG_EBADCONTENTTYPE] = {415, "unsupported-media-type"},
    [TG_ETOOLARGE] = {413, "body-too-large"},
    [TG_EUNAUTHORIZED] = {401, "unauthorized"},
    [TG_ENOTFOUND] = {404, "not-found"},
    [TG_EMETHOD] = {405, "method-not-allowed"},
    [TG_ECONFLICT] = {409, "conflict"},
    [TG_EIDEMPOTENCYKEY] = {400, "idempotency-key-required"},
    [TG_EIDEMPOTENCYREUSE] = {422, "idempotency-key-reused"},
    [TG_EDISPOSABLE] = {422, "disposable-email"},
    [TG_EINSUFFICIENT] = {402, "insufficient-credits"},
    [TG_EPAYMENTMETHODREQUIRED] = {402, "payment-method-required"},
    [TG_ERATELIMITED] = {429, "rate-limited"},
    [TG_ECONFIG] = {500, "configuration-error"},
    [TG_EUPSTREAM] = {503, "payment-provider-unavailable"},
    [TG_EPAYMENTFAILED] = {402, "payment-failed"},
    [TG_EWEBHOOKSIGNATURE] = {400, "webhook-signature-invalid"},
    [TG_ENOEMAIL] = {422, "marketplace-email-missing"},
    [TG_ELASTAPIKEY] = {409, "last-api-key"},
    [TG_EAPIKEYLIMIT] = {409, "api-key-limit"},
    [TG_ESIGNUPCLOSED] = {503, "signup-closed"},
    [TG_EBILLINGDISABLED] = {503, "billing-disabled"},
    [TG_ENOTOKENS] = {503, "credentials-unavailable"},
    [TG_EIDEMPOTENCYBUSY] = {409, "idempotency-key-in-progress"},
    [TG_EIDEMPOTENCYGONE] = {410, "idempotency-answer-expired"},
    [TG_EHOLDEXPIRED] = {409, "hold-expired"},
    [TG_EHOLDRELEASED] = {409, "hold-released"},
    [TG_EHOLDSETTLED] = {409, "hold-settled"},
    [TG_ESPENDLIMIT] = {402, "spend-limit-reached"},
};

const struct problem_info *problem_info(enum tg_err err)
{
    if ((unsigned)err >= TG_ERR_COUNT)
        err = TG_EINTERNAL;
    return &table[err];
}

enum log_level problem_log_level(enum tg_err err)
{
    switch (err) {
    case TG_ESIGNUPCLOSED:    /* automated_customer_onboarding off */
    case TG_EBILLINGDISABLED: /* billing_enabled off: the kill switch */
        return LOG_INFO;
    case TG_EUPSTREAM:
    case TG_EUNAVAILABLE:
    case TG_ENOTOKENS:
        return LOG_WARN;
    default:
        return problem_info(err)->status >= 500 ? LOG_ERROR : LOG_INFO;
    }
}
