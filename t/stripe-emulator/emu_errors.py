"""Stripe error bodies, as the real API words them (as far as we could tell).

Every error is raised as StripeError(status, {"type": ..., "message": ...}) and
rendered as {"error": {...}} with request_log_url filled in by the server.
"""

DOC = "https://stripe.com/docs/error-codes/"


class StripeError(Exception):
    def __init__(self, status, error, headers=None):
        super().__init__(error.get("message"))
        self.status = status
        self.error = error
        self.headers = headers or {}


def _doc(code):
    return DOC + code.replace("_", "-")


def invalid_request(message, param=None, code=None, status=400, **extra):
    err = {}
    if code:
        err["code"] = code
        err["doc_url"] = _doc(code)
    err["message"] = message
    if param is not None:
        err["param"] = param
    err["type"] = "invalid_request_error"
    err.update(extra)
    return StripeError(status, err)


# ---- parameter validation ------------------------------------------------
def unknown_param(name):
    return invalid_request("Received unknown parameter: %s" % name, name, "parameter_unknown")


def missing_param(name):
    return invalid_request("Missing required param: %s." % name, name, "parameter_missing")


def invalid_integer(name, value):
    return invalid_request("Invalid integer: %s" % value, name, "parameter_invalid_integer")


def invalid_empty(name):
    return invalid_request(
        "You passed an empty string for '%s'. We assume empty values are an attempt to "
        "unset a parameter; however '%s' cannot be unset. You should remove '%s' from "
        "your request or supply a non-empty value." % (name, name, name),
        name, "parameter_invalid_empty")


def invalid_boolean(name, value):
    return invalid_request("Invalid boolean: %s" % value, name)


def invalid_decimal(name, value):
    return invalid_request("Invalid decimal: %s" % value, name)


def invalid_enum(name, values):
    vals = [str(v) for v in values]
    if len(vals) == 1:
        choices = vals[0]
    elif len(vals) == 2:
        choices = "%s or %s" % (vals[0], vals[1])
    else:
        choices = ", ".join(vals[:-1]) + ", or " + vals[-1]
    return invalid_request("Invalid %s: must be one of %s" % (name, choices), name)


def invalid_type(name, kind, value=None):
    if value is None or not isinstance(value, str):
        return invalid_request("Invalid %s" % kind, name)
    return invalid_request("Invalid %s: %s" % (kind, value), name)


def too_long(name, value, limit):
    return invalid_request("Invalid string: %s...; must be at most %d characters"
                           % (value[:20], limit), name)


# ---- objects -------------------------------------------------------------
def resource_missing(label, ident, param="id", status=404):
    return invalid_request("No such %s: '%s'" % (label, ident), param, "resource_missing",
                           status=status)


def unrecognized_url(method, path):
    return invalid_request(
        "Unrecognized request URL (%s: %s). Please see https://stripe.com/docs or we can "
        "help at https://support.stripe.com/." % (method, path), status=404)


def not_emulated(method, path):
    return invalid_request(
        "The Stripe emulator does not implement %s %s (it is a valid Stripe endpoint)."
        % (method, path), code="emulator_not_implemented", status=404)


def cannot_expand(path):
    return invalid_request("This property cannot be expanded (%s)." % path, "expand")


# ---- authentication ------------------------------------------------------
def auth_missing():
    return StripeError(401, {
        "message": "You did not provide an API key. You need to provide your API key in the "
                   "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                   "YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for "
                   "details, or we can help at https://support.stripe.com/.",
        "type": "invalid_request_error"}, {"WWW-Authenticate": 'Bearer realm="Stripe"'})


def auth_invalid(key):
    shown = key if len(key) <= 12 else key[:8] + "*" * (len(key) - 12) + key[-4:]
    return StripeError(401, {
        "code": "api_key_invalid", "doc_url": _doc("api_key_invalid"),
        "message": "Invalid API Key provided: %s" % shown,
        "type": "invalid_request_error"}, {"WWW-Authenticate": 'Bearer realm="Stripe"'})


# ---- idempotency ---------------------------------------------------------
def idempotency_mismatch(key):
    return StripeError(400, {
        "message": "Keys for idempotent requests can only be used with the same parameters "
                   "they were first used with. Try using a key other than '%s' if you meant "
                   "to execute a different request." % key,
        "type": "idempotency_error"})


def idempotency_endpoint(key, first, now):
    return StripeError(400, {
        "message": "Keys for idempotent requests can only be used for the same endpoint they "
                   "were first used for ('%s' vs '%s'). Try using a key other than '%s' if "
                   "you meant to execute a different request." % (first, now, key),
        "type": "idempotency_error"})


def idempotency_in_progress(key):
    return StripeError(409, {
        "message": "There is currently another in-progress request using this Idempotent Key "
                   "(that probably means you submitted twice, and the other request is still "
                   "going through): %s. Please try again later." % key,
        "type": "idempotency_error"}, {"Stripe-Should-Retry": "true"})


# ---- server trouble (faults) -----------------------------------------------
def fault_error(status):
    if status == 429:
        return StripeError(429, {
            "code": "rate_limit", "doc_url": _doc("rate_limit"),
            "message": "Request rate limit exceeded. Learn more about rate limits here "
                       "https://stripe.com/docs/rate-limits.",
            "type": "invalid_request_error"}, {"Stripe-Should-Retry": "true"})
    if status == 409:
        return StripeError(409, {
            "code": "lock_timeout", "doc_url": _doc("lock_timeout"),
            "message": "This object cannot be accessed right now because another API request "
                       "or Stripe process is currently accessing it. If you see this error "
                       "intermittently, retry the request. If you see this error frequently "
                       "and are making multiple concurrent requests to a single object, make "
                       "your requests serially or at a lower rate.",
            "type": "invalid_request_error"}, {"Stripe-Should-Retry": "true"})
    if status == 402:
        return card_error(DECLINES["generic_decline"])
    if status == 401:
        return auth_invalid("sk_test_emulator_fault")
    if status >= 500:
        return StripeError(status, {"message": "An unknown error occurred", "type": "api_error"})
    return invalid_request("The Stripe emulator was told to fail this request (fault).",
                           status=status)


# ---- card errors ---------------------------------------------------------
# name -> (code, decline_code, message, param)
DECLINES = {
    "generic_decline": ("card_declined", "generic_decline", "Your card was declined.", None),
    "insufficient_funds": ("card_declined", "insufficient_funds",
                           "Your card has insufficient funds.", None),
    "lost_card": ("card_declined", "lost_card", "Your card was declined.", None),
    "stolen_card": ("card_declined", "stolen_card", "Your card was declined.", None),
    "fraudulent": ("card_declined", "fraudulent", "Your card was declined.", None),
    "expired_card": ("expired_card", "expired_card", "Your card has expired.", "exp_month"),
    "incorrect_cvc": ("incorrect_cvc", "incorrect_cvc",
                      "Your card's security code is incorrect.", "cvc"),
    "processing_error": ("processing_error", "processing_error",
                         "An error occurred while processing your card. Try again in a little bit.",
                         None),
    "authentication_required": ("authentication_required", "authentication_required",
                                "Your card was declined. This transaction requires authentication.",
                                None),
    "authentication_not_handled": (
        "authentication_required", "authentication_not_handled",
        "This payment required an authentication action to complete, but "
        "`error_on_requires_action` was set. When you're ready, you can upgrade your "
        "integration to handle actions at "
        "https://stripe.com/docs/payments/payment-intents/upgrade-to-handle-actions.", None),
}

SELLER_MESSAGES = {
    "generic_decline": "The bank did not return any further details with this decline.",
}


def decline_error_fields(decline):
    code, decline_code, message, param = decline
    err = {"code": code, "decline_code": decline_code, "doc_url": _doc(code),
           "message": message}
    if param:
        err["param"] = param
    return err


def card_error(decline, charge=None, payment_intent=None, payment_method=None):
    """402 card_error body shaped like Stripe's (see shared/stripe/responses/)."""
    err = {}
    if charge:
        err["charge"] = charge
    err.update(decline_error_fields(decline))
    if payment_intent is not None:
        err["payment_intent"] = payment_intent
    if payment_method is not None:
        err["payment_method"] = payment_method
    err["type"] = "card_error"
    return StripeError(402, dict(sorted(err.items())))


def requires_action(kind):
    """402 when a payment needs 3D Secure but the call cannot leave it pending."""
    if kind == "subscription":
        return StripeError(402, {
            "code": "subscription_payment_intent_requires_action",
            "message": "Payment for this subscription requires additional user action before it "
                       "can be completed successfully. Payment can be completed using the "
                       "PaymentIntent associated with `subscription.latest_invoice`. Additional "
                       "information is available here: "
                       "https://stripe.com/docs/billing/subscriptions/overview#requires-action",
            "type": "card_error"})
    return StripeError(402, {
        "code": "invoice_payment_intent_requires_action",
        "message": "This payment requires additional user action before it can be completed "
                   "successfully. Payment can be completed using the PaymentIntent associated "
                   "with the invoice. For more details see: "
                   "https://stripe.com/docs/billing/subscriptions/payment#handling-action-required",
        "type": "card_error"})
