"""Object store of the emulator: ids, the clock, fixtures, expansion, lists,
events and the test cards. The API behaviour itself is in emu_billing.py.
"""
import calendar
import copy
import datetime
import hashlib
import itertools
import json
import os
import random
import string
import threading
import time

import emu_errors as E

API_VERSION = "2023-08-16"
_rng = random.SystemRandom()
_ALNUM = string.ascii_letters + string.digits


def rand(n, alphabet=_ALNUM):
    return "".join(_rng.choice(alphabet) for _ in range(n))


def new_id(prefix):
    # Stripe-looking ids: pm_1Nnm..., cus_Oaxl... (24 characters after the prefix)
    if prefix in ("cus", "si", "prod"):
        return "%s_%s" % (prefix, rand(14))
    return "%s_1%s" % (prefix, rand(23))


# ---- clock ---------------------------------------------------------------
class Clock:
    """Real time plus an offset that POST /_emulator/clock/advance moves."""

    def __init__(self):
        self.offset = 0.0

    def now(self):
        return int(time.time() + self.offset)

    def set(self, t):
        self.offset = t - time.time()


def add_interval(anchor, interval, count):
    if interval in ("day", "week"):
        return anchor + count * (86400 if interval == "day" else 7 * 86400)
    months = count * (12 if interval == "year" else 1)
    d = datetime.datetime.fromtimestamp(anchor, datetime.timezone.utc)
    m = d.month - 1 + months
    y, m = d.year + m // 12, m % 12 + 1
    d = d.replace(year=y, month=m, day=min(d.day, calendar.monthrange(y, m)[1]))
    return int(d.timestamp())


# ---- test cards (https://stripe.com/docs/testing) ---------------------------
# name -> (brand, last4, country, funding, behaviour)
#   behaviour None: payments succeed
#   ("decline", k): attaching fails, and so does every charge (emu_errors.DECLINES[k])
#   ("charge_decline", k): attaching succeeds, every charge fails
#   "auth": 3D Secure is required for every payment: off-session confirmations fail
#           with authentication_required, on-session ones end in requires_action
CARDS = {
    "visa": ("visa", "4242", "US", "credit", None),
    "visa_debit": ("visa", "5556", "US", "debit", None),
    "mastercard": ("mastercard", "4444", "US", "credit", None),
    "amex": ("amex", "8431", "US", "credit", None),
    "discover": ("discover", "1117", "US", "credit", None),
    "chargeDeclined": ("visa", "0002", "US", "credit", ("decline", "generic_decline")),
    "chargeDeclinedInsufficientFunds": ("visa", "9995", "US", "credit",
                                        ("decline", "insufficient_funds")),
    "chargeDeclinedLostCard": ("visa", "9987", "US", "credit", ("decline", "lost_card")),
    "chargeDeclinedStolenCard": ("visa", "9979", "US", "credit", ("decline", "stolen_card")),
    "chargeDeclinedFraudulent": ("visa", "0019", "US", "credit", ("decline", "fraudulent")),
    "chargeDeclinedExpiredCard": ("visa", "0069", "US", "credit", ("decline", "expired_card")),
    "chargeDeclinedIncorrectCvc": ("visa", "0127", "US", "credit", ("decline", "incorrect_cvc")),
    "chargeDeclinedProcessingError": ("visa", "0119", "US", "credit",
                                      ("decline", "processing_error")),
    "chargeCustomerFail": ("visa", "0341", "US", "credit", ("charge_decline", "generic_decline")),
    "authenticationRequired": ("visa", "3184", "US", "credit", "auth"),
    "threeDSecure2Required": ("visa", "3220", "US", "credit", "auth"),
}


def test_card(ref):
    """The CARDS name for pm_card_X / pm_card_visa_X / tok_X / tok_visa_X, or None."""
    if not isinstance(ref, str):
        return None
    for prefix in ("pm_card_", "tok_"):
        if ref.startswith(prefix):
            name = ref[len(prefix):]
            if name in CARDS:
                return name
            if name.startswith("visa_") and name[5:] in CARDS:
                return name[5:]
    return None


def money(amount, currency):
    sym = {"usd": "$", "eur": "\u20ac", "gbp": "\u00a3", "cad": "CA$", "aud": "A$"}.get(currency)
    zero = currency in ("jpy", "krw", "vnd", "clp", "pyg", "ugx", "xaf", "xof")
    num = "%d" % amount if zero else "%.2f" % (amount / 100.0)
    return (sym + num) if sym else "%s %s" % (currency.upper(), num)


# ---- store ---------------------------------------------------------------
LABELS = {"customer": "customer", "payment_method": "PaymentMethod",
          "subscription": "subscription", "invoice": "invoice",
          "payment_intent": "payment_intent", "charge": "charge", "refund": "refund",
          "price": "price", "product": "product", "event": "event",
          "subscription_item": "subscription item"}


class Store:
    def __init__(self, shared_dir, prices_spec, log=None):
        self.lock = threading.RLock()
        self.clock = Clock()
        self.log = log or (lambda msg: None)
        self.shared_dir = shared_dir
        self.fixtures = {}
        fx = os.path.join(shared_dir, "openapi", "fixtures3.%s.json" % API_VERSION) \
            if shared_dir else None
        if fx and os.path.exists(fx):
            with open(fx, "rb") as f:
                self.fixtures = json.load(f).get("resources", {})
        else:
            self.log("fixtures %s not found: objects carry only the fields the emulator owns"
                     % fx)
        self.prices_spec = prices_spec
        self.ctx = threading.local()
        self.on_event = lambda ev: None
        self.webhook_count = lambda: 0
        self.reset()

    def reset(self):
        with self.lock:
            self.objs = {}
            self.kind = {}
            self.order = {}
            self.meta = {}
            self.events = []
            self._seq = itertools.count()
            self.clock.offset = 0.0
            self.seed_prices()

    # -- persistence (--state FILE) --
    def snapshot(self):
        """Everything a restart must keep, as plain data."""
        with self.lock:
            return {"objs": self.objs, "kind": self.kind, "order": self.order,
                    "meta": self.meta, "events": self.events, "offset": self.clock.offset,
                    "seq": max(self.order.values(), default=-1) + 1}

    def restore(self, data):
        with self.lock:
            self.objs, self.kind = data["objs"], data["kind"]
            self.order, self.meta = data["order"], data["meta"]
            self.events = data["events"]
            self.clock.offset = data["offset"]
            self._seq = itertools.count(data["seq"])

    # -- basics --
    def now(self):
        return self.clock.now()

    def fixture(self, name):
        return copy.deepcopy(self.fixtures.get(name, {}))

    def add(self, kind, obj):
        self.objs[obj["id"]] = obj
        self.kind[obj["id"]] = kind
        self.order[obj["id"]] = next(self._seq)
        return obj

    def get(self, kind, ident, param="id", status=404):
        obj = self.objs.get(ident) if isinstance(ident, str) else None
        if obj is None or self.kind.get(ident) != kind:
            raise E.resource_missing(LABELS.get(kind, kind), ident, param, status)
        return obj

    def find(self, kind, pred=lambda o: True):
        """Objects of KIND, newest first."""
        ids = [i for i, k in self.kind.items() if k == kind and pred(self.objs[i])]
        ids.sort(key=lambda i: self.order[i], reverse=True)
        return [self.objs[i] for i in ids]

    # -- prices --
    def seed_prices(self):
        for entry in [e.strip() for e in self.prices_spec.split(",") if e.strip()]:
            parts = entry.split(":")
            if len(parts) < 4:
                self.log("EMULATOR_PRICES: ignoring %r (want id:amount:currency:interval)" % entry)
                continue
            pid, amount, currency, interval = parts[:4]
            count = int(parts[4]) if len(parts) > 4 and parts[4] else 1
            name = parts[5] if len(parts) > 5 else " ".join(
                w.capitalize() for w in pid.replace("price_", "").split("_")
                if w not in ("monthly", "yearly", "weekly", "daily"))
            prod_id = "prod_" + hashlib.sha256(pid.encode()).hexdigest()[:14]
            now = self.now()
            if prod_id not in self.objs:
                prod = self.fixture("product")
                prod.update(id=prod_id, object="product", active=True, created=now,
                            updated=now, default_price=pid, description=None, name=name,
                            metadata={}, livemode=False, images=[], features=[], url=None,
                            unit_label=None, tax_code=None, statement_descriptor=None,
                            shippable=None, package_dimensions=None)
                self.add("product", prod)
            price = self.fixture("price")
            price.update(id=pid, object="price", active=True, billing_scheme="per_unit",
                         created=now, currency=currency.lower(), custom_unit_amount=None,
                         livemode=False, lookup_key=None, metadata={}, nickname=None,
                         product=prod_id, tax_behavior="unspecified", tiers_mode=None,
                         transform_quantity=None, unit_amount=int(amount),
                         unit_amount_decimal=str(int(amount)))
            if interval in ("day", "week", "month", "year"):
                price.update(type="recurring", recurring={
                    "aggregate_usage": None, "interval": interval, "interval_count": count,
                    "usage_type": "licensed"})
            else:
                price.update(type="one_time", recurring=None)
            self.add("price", price)

    # -- rendering and expansion --
    def render(self, obj, expand=()):
        out = copy.deepcopy(obj)
        for path in expand or ():
            self._expand(out, path.split("."), path)
        return out

    def _expand(self, node, parts, full):
        key, rest = parts[0], parts[1:]
        if isinstance(node, dict) and node.get("object") == "list" and key == "data":
            for item in node.get("data", []):
                if rest:
                    self._expand(item, rest, full)
            return
        if not isinstance(node, dict) or key not in node:
            raise E.cannot_expand(full)
        v = node[key]
        if isinstance(v, str):
            target = self.objs.get(v)
            if target is None:
                raise E.cannot_expand(full)
            node[key] = v = copy.deepcopy(target)
        if rest and v is not None:
            self._expand(v, rest, full)

    def page(self, items, params, url):
        """Stripe's list shape, honouring limit, starting_after and ending_before."""
        try:
            limit = max(1, min(100, int(params.get("limit", 10))))
        except (TypeError, ValueError):
            raise E.invalid_integer("limit", params.get("limit"))
        ids = [o.get("id") for o in items]
        after, before = params.get("starting_after"), params.get("ending_before")
        if after:
            if after not in ids:
                raise E.resource_missing("object", after, "starting_after", 400)
            items = items[ids.index(after) + 1:]
            data, more = items[:limit], len(items) > limit
        elif before:
            if before not in ids:
                raise E.resource_missing("object", before, "ending_before", 400)
            items = items[:ids.index(before)]
            data, more = items[-limit:], len(items) > limit
        else:
            data, more = items[:limit], len(items) > limit
        return {"object": "list", "data": [copy.deepcopy(o) for o in data],
                "has_more": more, "url": url}

    # -- events --
    def emit(self, etype, obj, previous=None):
        req = getattr(self.ctx, "request", None) or {"id": None, "idempotency_key": None}
        data = {"object": ordered(obj)}
        if previous is not None:
            data["previous_attributes"] = copy.deepcopy(previous)
        ev = {"id": new_id("evt"), "object": "event", "api_version": API_VERSION,
              "created": self.now(), "data": data, "livemode": False,
              "pending_webhooks": self.webhook_count(), "request": dict(req), "type": etype}
        self.add("event", ev)
        self.events.append(ev["id"])
        self.on_event(ev)
        return ev


def ordered(o):
    """Stripe's key order: id and object first, then the rest."""
    if isinstance(o, dict):
        keys = [k for k in ("id", "object") if k in o] + \
            [k for k in o if k not in ("id", "object")]
        return {k: ordered(o[k]) for k in keys}
    if isinstance(o, list):
        return [ordered(x) for x in o]
    return o


def diff(before, after):
    """Stripe's previous_attributes: the changed keys with their old values."""
    prev = {}
    for k in set(before) | set(after):
        b, a = before.get(k), after.get(k)
        if b == a:
            continue
        if isinstance(b, dict) and isinstance(a, dict) and b.get("object") != "list":
            prev[k] = diff(b, a)
        else:
            prev[k] = copy.deepcopy(b)
    return prev
