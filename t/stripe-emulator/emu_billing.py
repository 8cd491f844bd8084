"""The Stripe API behaviour for customers, payment methods, prices, payment
intents, charges, refunds and events (subscriptions and invoices are in
emu_subscriptions.py).

Handlers take (params, path_params) with params already decoded and checked
against the spec, and return the stored object (the server renders and
expands it) or raise emu_errors.StripeError. All run under Store.lock.
"""
import copy
import datetime
import os
import re

import emu_errors as E
from emu_objects import CARDS, Store, diff, money, new_id, rand, test_card

LIVE_SUB = ("active", "past_due", "trialing", "unpaid")
DAY = 86400


def as_int(v, name):
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    if isinstance(v, str) and re.fullmatch(r"-?\d+", v):
        return int(v)
    raise E.invalid_integer(name, v)


def as_bool(v, name="", default=False):
    if v is None:
        return default
    if isinstance(v, bool):
        return v
    if v in ("true", "false"):
        return v == "true"
    if v in ("one_off", "recurring"):   # off_session accepts these too
        return True
    raise E.invalid_boolean(name, v)


def meta_update(current, new):
    if new == "" or new is None:
        return {} if new == "" else dict(current)
    out = dict(current)
    for k, v in new.items():
        if v == "":
            out.pop(k, None)
        else:
            out[k] = str(v)
    return out


def created_ok(ts, f):
    if f is None:
        return True
    if not isinstance(f, dict):
        return ts == as_int(f, "created")
    ops = {"gt": ts.__gt__, "gte": ts.__ge__, "lt": ts.__lt__, "lte": ts.__le__}
    return all(ops[k](as_int(v, "created[%s]" % k)) for k, v in f.items() if k in ops)


def day_str(ts):
    d = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)
    return "%d %s" % (d.day, d.strftime("%b %Y"))


class Payments(Store):
    def __init__(self, shared_dir, prices_spec, log=None):
        self.retry_days = [int(x) for x in
                           os.environ.get("EMULATOR_RETRY_DAYS", "3,5,7").split(",") if x.strip()]
        super().__init__(shared_dir, prices_spec, log)

    # ================================================================ customers
    def customer(self, ident, param="id", status=404):
        c = self.get("customer", ident, param, status)
        if self.meta.get(c["id"], {}).get("deleted"):
            raise E.resource_missing("customer", ident, param, status)
        return c

    def customer_create(self, p, path):
        pm = None
        if p.get("payment_method"):
            pm = self.resolve_pm(p["payment_method"], "payment_method")
            self.check_attachable(pm, None)
        c = self.fixture("customer")
        c.update(id=new_id("cus"), object="customer", address=None, balance=0,
                 created=self.now(), currency=None, default_source=None, delinquent=False,
                 description=None, discount=None, email=None, livemode=False, metadata={},
                 name=None, next_invoice_sequence=1, phone=None, preferred_locales=[],
                 shipping=None, tax_exempt="none", test_clock=None,
                 invoice_prefix=rand(8, "0123456789ABCDEF"),
                 invoice_settings={"custom_fields": None, "default_payment_method": None,
                                   "footer": None, "rendering_options": None})
        self._customer_fields(c, p, pm_alias=(p.get("payment_method"), pm))
        self.add("customer", c)
        self.emit("customer.created", c)
        if pm:
            self.attach(pm, c)
        return c

    def _customer_fields(self, c, p, pm_alias=(None, None)):
        for k in ("email", "name", "description", "phone"):
            if k in p:
                c[k] = p[k] or None
        for k in ("preferred_locales", "tax_exempt"):
            if k in p:
                c[k] = p[k] or ([] if k == "preferred_locales" else "none")
        if "balance" in p:
            c["balance"] = as_int(p["balance"], "balance")
        if "metadata" in p:
            c["metadata"] = meta_update(c["metadata"], p["metadata"])
        for k in ("address", "shipping"):
            if k in p:
                v = p[k]
                if not v:
                    c[k] = None
                elif k == "address":
                    base = c[k] or dict.fromkeys(
                        ("city", "country", "line1", "line2", "postal_code", "state"))
                    base.update({x: (y or None) for x, y in v.items()})
                    c[k] = base
                else:
                    c[k] = copy.deepcopy(v)
        s = p.get("invoice_settings")
        if isinstance(s, dict):
            ist = c["invoice_settings"]
            if "default_payment_method" in s:
                ref = s["default_payment_method"]
                if not ref:
                    ist["default_payment_method"] = None
                else:
                    if ref == pm_alias[0] and pm_alias[1] is not None:
                        ref = pm_alias[1]["id"]
                    pm = self.objs.get(ref)
                    owner = pm and (pm["customer"] or
                                    (pm is pm_alias[1] and c["id"]))
                    if self.kind.get(ref) != "payment_method" or owner != c["id"]:
                        raise self.not_attached(ref, "invoice_settings[default_payment_method]")
                    ist["default_payment_method"] = ref
            for k in ("footer", "custom_fields", "rendering_options"):
                if k in s:
                    ist[k] = s[k] or None

    def not_attached(self, ref, param):
        return E.invalid_request(
            "The customer does not have a payment method with the ID %s. The payment method "
            "must be attached to the customer." % ref, param, "resource_missing")

    def customer_get(self, p, path):
        c = self.get("customer", path["customer"])
        if self.meta.get(c["id"], {}).get("deleted"):
            return {"id": c["id"], "object": "customer", "deleted": True}
        return c

    def customer_update(self, p, path):
        c = self.customer(path["customer"])
        before = copy.deepcopy(c)
        self._customer_fields(c, p)
        prev = diff(before, c)
        if prev:
            self.emit("customer.updated", c, prev)
        return c

    def customer_delete(self, p, path):
        c = self.customer(path["customer"])
        for s in self.find("subscription", lambda s: s["customer"] == c["id"]):
            if s["status"] not in ("canceled", "incomplete_expired"):
                self.end_subscription(s, "cancellation_requested")
        self.meta.setdefault(c["id"], {})["deleted"] = True
        self.emit("customer.deleted", c)
        return {"id": c["id"], "object": "customer", "deleted": True}

    def customers_list(self, p, path):
        items = self.find("customer", lambda c: not self.meta.get(c["id"], {}).get("deleted")
                          and ("email" not in p or c["email"] == p["email"])
                          and created_ok(c["created"], p.get("created")))
        return self.page(items, p, "/v1/customers")

    # ========================================================== payment methods
    def new_pm(self, card_name):
        brand, last4, country, funding, _ = CARDS[card_name]
        pm = self.fixture("payment_method")
        year = datetime.datetime.fromtimestamp(self.now(), datetime.timezone.utc).year
        pm.update(id=new_id("pm"), object="payment_method", created=self.now(), customer=None,
                  livemode=False, metadata={}, type="card",
                  billing_details={"address": dict.fromkeys(("city", "country", "line1", "line2",
                                                              "postal_code", "state")),
                                   "email": None, "name": None, "phone": None},
                  card={"brand": brand,
                        "checks": {"address_line1_check": None,
                                   "address_postal_code_check": None, "cvc_check": "pass"},
                        "country": country, "exp_month": 12, "exp_year": year + 3,
                        "fingerprint": ("emu" + card_name + "0" * 16)[:16],
                        "funding": funding, "generated_from": None, "last4": last4,
                        "networks": {"available": [brand], "preferred": None},
                        "three_d_secure_usage": {"supported": True}, "wallet": None})
        self.add("payment_method", pm)
        self.meta[pm["id"]] = {"card": card_name}
        return pm

    def resolve_pm(self, ref, param, status=400):
        name = test_card(ref)
        if name:
            return self.new_pm(name)
        return self.get("payment_method", ref, param, status)

    def behaviour(self, pm):
        name = self.meta.get(pm["id"], {}).get("card", "visa")
        return CARDS[name][4]

    def check_attachable(self, pm, customer):
        if pm["customer"] and pm["customer"] != (customer and customer["id"]):
            raise E.invalid_request("The payment method you provided has already been "
                                    "attached to a customer.")
        if self.meta.get(pm["id"], {}).get("detached"):
            raise E.invalid_request(
                "The provided PaymentMethod was previously used with a PaymentIntent without "
                "Customer attachment, shared with a connected account without Customer "
                "attachment, or was detached from a Customer. It may not be used again. To use "
                "a PaymentMethod multiple times, you must attach it to a Customer first.")
        b = self.behaviour(pm)
        if isinstance(b, tuple) and b[0] == "decline":
            raise E.card_error(E.DECLINES[b[1]])

    def attach(self, pm, customer):
        if pm["customer"] == customer["id"]:
            return pm
        self.check_attachable(pm, customer)
        pm["customer"] = customer["id"]
        self.emit("payment_method.attached", pm)
        return pm

    def pm_get(self, p, path):
        ref = path["payment_method"]
        return self.new_pm(test_card(ref)) if test_card(ref) else \
            self.get("payment_method", ref)

    def pm_create(self, p, path):
        if p.get("payment_method"):
            return self.resolve_pm(p["payment_method"], "payment_method")
        card = p.get("card") if isinstance(p.get("card"), dict) else {}
        name = test_card(card.get("token"))
        if p.get("type") != "card" or not name:
            raise E.invalid_request(
                "The Stripe emulator creates card PaymentMethods from test tokens only "
                "(type=card&card[token]=tok_visa, tok_chargeDeclined, ...).", "card")
        pm = self.new_pm(name)
        if "metadata" in p:
            pm["metadata"] = meta_update({}, p["metadata"])
        return pm

    def pm_attach(self, p, path):
        pm = self.resolve_pm(path["payment_method"], "payment_method", 404)
        if "customer" not in p:
            raise E.missing_param("customer")
        cus = self.customer(p["customer"], "customer", 400)
        return self.attach(pm, cus)

    def pm_detach(self, p, path):
        pm = self.get("payment_method", path["payment_method"])
        if not pm["customer"]:
            raise E.invalid_request("The payment method you provided is not attached to a "
                                    "customer so detachment is impossible.")
        cus_id = pm["customer"]
        pm["customer"] = None
        self.meta.setdefault(pm["id"], {})["detached"] = True
        self.emit("payment_method.detached", pm, {"customer": cus_id})
        c = self.objs.get(cus_id)
        if c and c["invoice_settings"]["default_payment_method"] == pm["id"]:
            before = copy.deepcopy(c)
            c["invoice_settings"]["default_payment_method"] = None
            self.emit("customer.updated", c, diff(before, c))
        return pm

    def pm_list(self, p, path, customer=None):
        cus = customer or p.get("customer")
        if cus:
            self.customer(cus, "customer", 400)
        kind = p.get("type", "card")
        items = self.find("payment_method", lambda m: m["type"] == kind and
                          (not cus or m["customer"] == cus))
        url = "/v1/customers/%s/payment_methods" % customer if customer else "/v1/payment_methods"
        return self.page(items, p, url)

    def customer_pms(self, p, path):
        self.customer(path["customer"])
        return self.pm_list(p, path, customer=path["customer"])

    # ==================================================== prices and products
    def price_get(self, p, path):
        return self.get("price", path["price"])

    def price_list(self, p, path):
        items = self.find("price", lambda x: ("active" not in p or x["active"] == as_bool(
            p["active"])) and ("product" not in p or x["product"] == p["product"])
            and ("type" not in p or x["type"] == p["type"])
            and ("currency" not in p or x["currency"] == p["currency"]))
        return self.page(items, p, "/v1/prices")

    def product_get(self, p, path):
        return self.get("product", path["id"])

    # ================================================ payment intents, charges
    def predict(self, pm, off_session):
        """What charging PM would do: 'succeeded', 'requires_action' or ('declined', k)."""
        b = self.behaviour(pm)
        if b is None:
            return "succeeded"
        if b == "auth":
            return ("declined", "authentication_required") if off_session else "requires_action"
        return ("declined", b[1])

    def pi_new(self, amount, currency, customer, pm, description=None, metadata=None,
               invoice=None, extra=None):
        pi = self.fixture("payment_intent")
        pid = new_id("pi")
        pi.update(id=pid, object="payment_intent", amount=amount, amount_capturable=0,
                  amount_details={"tip": {}}, amount_received=0, application=None,
                  application_fee_amount=None, automatic_payment_methods=None, canceled_at=None,
                  cancellation_reason=None, capture_method="automatic",
                  client_secret="%s_secret_%s" % (pid, rand(25)),
                  confirmation_method="automatic", created=self.now(), currency=currency,
                  customer=customer, description=description, invoice=invoice,
                  last_payment_error=None, latest_charge=None, livemode=False,
                  metadata=dict(metadata or {}), next_action=None, on_behalf_of=None,
                  payment_method=pm and pm["id"],
                  payment_method_options={"card": {"installments": None, "mandate_options": None,
                                                   "network": None,
                                                   "request_three_d_secure": "automatic"}},
                  payment_method_types=["card"], processing=None, receipt_email=None,
                  review=None, setup_future_usage=None, shipping=None,
                  statement_descriptor=None, statement_descriptor_suffix=None,
                  status="requires_confirmation" if pm else "requires_payment_method",
                  transfer_data=None, transfer_group=None)
        pi.update(extra or {})
        self.add("payment_intent", pi)
        self.emit("payment_intent.created", pi)
        return pi

    def new_charge(self, pi, pm, decline=None):
        ch = self.fixture("charge")
        ok = decline is None
        card = pm["card"]
        cid = new_id("ch")
        if ok:
            outcome = {"network_status": "approved_by_network", "reason": None,
                       "risk_level": "normal", "risk_score": 32,
                       "seller_message": "Payment complete.", "type": "authorized"}
        else:
            key = decline[1]
            outcome = {"network_status": "declined_by_network", "reason": key,
                       "risk_level": "normal", "risk_score": 33,
                       "seller_message": E.SELLER_MESSAGES.get(
                           key, "The bank returned the decline code `%s`." % key),
                       "type": "issuer_declined"}
        ch.update(id=cid, object="charge", amount=pi["amount"],
                  amount_captured=pi["amount"] if ok else 0, amount_refunded=0,
                  application=None, application_fee=None, application_fee_amount=None,
                  balance_transaction=new_id("txn") if ok else None,
                  billing_details=copy.deepcopy(pm["billing_details"]),
                  calculated_statement_descriptor="STRIPE EMULATOR", captured=ok,
                  created=self.now(), currency=pi["currency"], customer=pi["customer"],
                  description=pi["description"], disputed=False,
                  failure_balance_transaction=None,
                  failure_code=None if ok else decline[0],
                  failure_message=None if ok else decline[2], fraud_details={},
                  invoice=pi["invoice"], livemode=False, metadata=dict(pi["metadata"]),
                  on_behalf_of=None, outcome=outcome, paid=ok, payment_intent=pi["id"],
                  payment_method=pm["id"],
                  payment_method_details={"card": {
                      "brand": card["brand"], "checks": copy.deepcopy(card["checks"]),
                      "country": card["country"], "exp_month": card["exp_month"],
                      "exp_year": card["exp_year"], "fingerprint": card["fingerprint"],
                      "funding": card["funding"], "installments": None, "last4": card["last4"],
                      "mandate": None, "network": card["brand"],
                      "network_token": {"used": False}, "three_d_secure": None,
                      "wallet": None}, "type": "card"},
                  receipt_email=None, receipt_number=None,
                  receipt_url=("https://pay.stripe.com/receipts/emulator/%s" % cid) if ok else None,
                  refunded=False,
                  refunds={"object": "list", "data": [], "has_more": False,
                           "url": "/v1/charges/%s/refunds" % cid},
                  review=None, shipping=None, source_transfer=None, statement_descriptor=None,
                  statement_descriptor_suffix=None, status="succeeded" if ok else "failed",
                  transfer_data=None, transfer_group=None)
        self.add("charge", ch)
        self.emit("charge.succeeded" if ok else "charge.failed", ch)
        return ch

    def confirm(self, pi, off_session=False, error_on_action=False):
        """Try to pay PI; returns None (succeeded or requires_action) or the 402 to answer."""
        pm = self.objs.get(pi["payment_method"]) if pi["payment_method"] else None
        if pm is None:
            raise E.invalid_request(
                "You cannot confirm this PaymentIntent because it's missing a payment method. "
                "To confirm the PaymentIntent with %s, specify a payment method attached to "
                "this customer along with the customer ID." % (pi["customer"] or "a customer"),
                "payment_method")
        outcome = self.predict(pm, off_session)
        if outcome == "requires_action" and error_on_action:
            outcome = ("declined", "authentication_not_handled")
        if outcome == "requires_action":
            pi.update(status="requires_action", next_action={
                "type": "use_stripe_sdk",
                "use_stripe_sdk": {"type": "three_d_secure_redirect",
                                   "stripe_js": "https://hooks.stripe.com/3d_secure_2/hosted"
                                                "?payment_intent=%s" % pi["id"],
                                   "source": new_id("src")}})
            self.emit("payment_intent.requires_action", pi)
            return None
        if outcome == "succeeded":
            self.pi_succeed(pi, pm)
            return None
        decline = E.DECLINES[outcome[1]]
        ch = self.new_charge(pi, pm, decline)
        lpe = dict(E.decline_error_fields(decline))
        lpe.update(charge=ch["id"], payment_method=copy.deepcopy(pm), type="card_error")
        pi.update(status="requires_payment_method", last_payment_error=dict(sorted(lpe.items())),
                  latest_charge=ch["id"], payment_method=None, next_action=None)
        self.emit("payment_intent.payment_failed", pi)
        return E.card_error(decline, ch["id"], copy.deepcopy(pi), copy.deepcopy(pm))

    def pi_succeed(self, pi, pm):
        ch = self.new_charge(pi, pm)
        pi.update(status="succeeded", amount_received=pi["amount"], latest_charge=ch["id"],
                  last_payment_error=None, next_action=None)
        self.emit("payment_intent.succeeded", pi)
        if pi.get("setup_future_usage") and pi["customer"] and not pm["customer"]:
            self.attach(pm, self.objs[pi["customer"]])
        if pi["invoice"]:
            inv = self.objs[pi["invoice"]]
            if inv["status"] == "open":
                self.invoice_paid(inv, pi)

    def pi_create(self, p, path):
        amount = as_int(p.get("amount"), "amount")
        currency = str(p.get("currency", "")).lower()
        mins = {"usd": "$0.50 usd", "eur": "\u20ac0.50 eur", "gbp": "\u00a30.30 gbp"}
        if currency in mins and amount < (30 if currency == "gbp" else 50):
            raise E.invalid_request("Amount must be at least %s" % mins[currency], "amount",
                                    "amount_too_small")
        if amount > 99999999:
            raise E.invalid_request("Amount must be no more than %s"
                                    % money(99999999, currency), "amount", "amount_too_large")
        cus = self.customer(p["customer"], "customer", 400) if p.get("customer") else None
        pm = self.resolve_pm(p["payment_method"], "payment_method") \
            if p.get("payment_method") else None
        extra = {k: p[k] for k in ("receipt_email", "statement_descriptor",
                                   "statement_descriptor_suffix", "setup_future_usage",
                                   "transfer_group") if p.get(k)}
        if p.get("payment_method_types"):
            extra["payment_method_types"] = list(p["payment_method_types"])
        pi = self.pi_new(amount, currency, cus and cus["id"], pm, p.get("description") or None,
                         meta_update({}, p.get("metadata") or {}), extra=extra)
        if as_bool(p.get("confirm"), "confirm"):
            err = self.confirm(pi, as_bool(p.get("off_session"), "off_session"),
                               as_bool(p.get("error_on_requires_action"),
                                       "error_on_requires_action"))
            if err:
                raise err
        return pi

    def pi_get(self, p, path):
        return self.get("payment_intent", path["intent"])

    def pi_list(self, p, path):
        items = self.find("payment_intent", lambda x: ("customer" not in p or
                                                       x["customer"] == p["customer"])
                          and created_ok(x["created"], p.get("created")))
        return self.page(items, p, "/v1/payment_intents")

    def pi_confirm(self, p, path):
        pi = self.get("payment_intent", path["intent"])
        ok = ("requires_confirmation", "requires_payment_method", "requires_action")
        if pi["status"] not in ok:
            raise E.invalid_request(
                "You cannot confirm this PaymentIntent because it has a status of %s. Only a "
                "PaymentIntent with one of the following statuses may be confirmed: "
                "requires_confirmation, requires_payment_method, requires_action."
                % pi["status"], code="payment_intent_unexpected_state")
        if p.get("payment_method"):
            pm = self.resolve_pm(p["payment_method"], "payment_method")
            pi["payment_method"] = pm["id"]
        err = self.confirm(pi, as_bool(p.get("off_session"), "off_session"),
                           as_bool(p.get("error_on_requires_action"), "error_on_requires_action"))
        if err:
            if pi["invoice"]:
                self.invoice_failed(self.objs[pi["invoice"]], pi)
            raise err
        return pi

    def pi_cancel(self, p, path):
        pi = self.get("payment_intent", path["intent"])
        ok = ("requires_payment_method", "requires_capture", "requires_confirmation",
              "requires_action", "processing")
        if pi["status"] not in ok:
            raise E.invalid_request(
                "You cannot cancel this PaymentIntent because it has a status of %s. Only a "
                "PaymentIntent with one of the following statuses may be canceled: %s."
                % (pi["status"], ", ".join(ok)), code="payment_intent_unexpected_state")
        pi.update(status="canceled", canceled_at=self.now(), next_action=None,
                  cancellation_reason=p.get("cancellation_reason") or "requested_by_customer")
        self.emit("payment_intent.canceled", pi)
        return pi

    def pi_authenticate(self, pi_id, succeed):
        """Control endpoint: finish (or fail) the 3D Secure step of a requires_action PI."""
        pi = self.get("payment_intent", pi_id)
        if pi["status"] != "requires_action":
            raise E.invalid_request("PaymentIntent %s is %s, not requires_action"
                                    % (pi_id, pi["status"]))
        pm = self.objs[pi["payment_method"]]
        if succeed:
            self.pi_succeed(pi, pm)
        else:
            pi.update(status="requires_payment_method", payment_method=None, next_action=None,
                      last_payment_error={
                          "code": "payment_intent_authentication_failure",
                          "doc_url": E.DOC + "payment-intent-authentication-failure",
                          "message": "The provided PaymentMethod has failed authentication. You "
                                     "can provide payment_method_data or a new PaymentMethod to "
                                     "attempt to fulfill this PaymentIntent again.",
                          "payment_method": copy.deepcopy(pm), "type": "invalid_request_error"})
            self.emit("payment_intent.payment_failed", pi)
            if pi["invoice"]:
                self.invoice_failed(self.objs[pi["invoice"]], pi)
        return pi

    def charge_get(self, p, path):
        return self.get("charge", path["charge"])

    def charge_list(self, p, path):
        items = self.find("charge", lambda x: all(
            k not in p or x[k] == p[k] for k in ("customer", "payment_intent"))
            and created_ok(x["created"], p.get("created")))
        return self.page(items, p, "/v1/charges")

    # ================================================================= refunds
    def refund_create(self, p, path):
        if p.get("charge"):
            ch = self.get("charge", p["charge"], "charge", 400)
        elif p.get("payment_intent"):
            pi = self.get("payment_intent", p["payment_intent"], "payment_intent", 400)
            if pi["status"] != "succeeded":
                raise E.invalid_request("This PaymentIntent does not have a successful charge "
                                        "to refund.", "payment_intent")
            ch = self.objs[pi["latest_charge"]]
        else:
            raise E.invalid_request("One of the following params should be provided for this "
                                    "request: payment_intent or charge.")
        if ch["status"] != "succeeded":
            raise E.invalid_request("Charge %s has not succeeded, so it cannot be refunded."
                                    % ch["id"], "charge")
        left = ch["amount_captured"] - ch["amount_refunded"]
        if left <= 0:
            raise E.invalid_request("Charge %s has already been refunded." % ch["id"],
                                    code="charge_already_refunded")
        amount = as_int(p["amount"], "amount") if "amount" in p else left
        if amount <= 0:
            raise E.invalid_request("Invalid positive integer", "amount")
        if amount > left:
            raise E.invalid_request(
                "Refund amount (%s) is greater than unrefunded amount on charge (%s)"
                % (money(amount, ch["currency"]), money(left, ch["currency"])), "amount")
        re_ = self.fixture("refund")
        re_.update(id=new_id("re"), object="refund", amount=amount,
                   balance_transaction=new_id("txn"), charge=ch["id"], created=self.now(),
                   currency=ch["currency"], metadata=meta_update({}, p.get("metadata") or {}),
                   payment_intent=ch["payment_intent"], reason=p.get("reason") or None,
                   receipt_number=None, source_transfer_reversal=None, status="succeeded",
                   transfer_reversal=None)
        self.add("refund", re_)
        before = copy.deepcopy(ch)
        ch["amount_refunded"] += amount
        ch["refunded"] = ch["amount_refunded"] >= ch["amount_captured"]
        ch["refunds"]["data"].insert(0, copy.deepcopy(re_))
        self.emit("charge.refunded", ch, diff(before, ch))
        return re_

    def refund_get(self, p, path):
        return self.get("refund", path["refund"])

    def refund_list(self, p, path):
        items = self.find("refund", lambda x: all(
            k not in p or x[k] == p[k] for k in ("charge", "payment_intent"))
            and created_ok(x["created"], p.get("created")))
        return self.page(items, p, "/v1/refunds")

    # ================================================================== events
    def event_get(self, p, path):
        return self.get("event", path["id"])

    def event_list(self, p, path):
        types = p.get("types") or ([p["type"]] if p.get("type") else None)

        def type_ok(t):
            return types is None or any(
                t == x or (x.endswith("*") and t.startswith(x[:-1])) for x in types)
        items = self.find("event", lambda e: type_ok(e["type"])
                          and created_ok(e["created"], p.get("created"))
                          and ("delivery_success" not in p or
                               (e["pending_webhooks"] == 0) == as_bool(p["delivery_success"])))
        return self.page(items, p, "/v1/events")
