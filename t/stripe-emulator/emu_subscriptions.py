"""Subscriptions, invoices, the upcoming-invoice preview (API 2023-08-16), and
what the emulator clock does to them: renewals, payment retries, cancellation
at period end, expiry of incomplete subscriptions.
"""
import copy

import emu_errors as E
from emu_billing import DAY, LIVE_SUB, Payments, as_bool, as_int, created_ok, day_str, meta_update
from emu_objects import add_interval, diff, money, new_id, rand


class Stripe(Payments):
    # ============================================================ helpers
    def default_pm(self, sub=None, customer=None):
        """The subscription's default payment method, else the customer's."""
        ref = sub and sub.get("default_payment_method")
        if not ref:
            c = self.objs.get(customer or (sub and sub["customer"]))
            ref = c and c["invoice_settings"]["default_payment_method"]
        pm = self.objs.get(ref) if ref else None
        return pm if pm and pm["customer"] else None

    def product_name(self, price):
        prod = self.objs.get(price["product"])
        return prod["name"] if prod else price["id"]

    def line(self, price, qty, period, sub=None, si=None, amount=None, description=None,
             proration=False, tmp=False):
        ln = self.fixture("line_item")
        amount = price["unit_amount"] * qty if amount is None else amount
        if description is None:
            recurring = price.get("recurring") or {}
            description = "%d \u00d7 %s (at %s / %s)" % (
                qty, self.product_name(price), money(price["unit_amount"], price["currency"]),
                recurring.get("interval", "one-time"))
        ln.update(id=("il_tmp_" + rand(24)) if tmp else new_id("il"), object="line_item",
                  amount=amount, amount_excluding_tax=amount, currency=price["currency"],
                  description=description, discount_amounts=[], discountable=not proration,
                  discounts=[], invoice_item=None, livemode=False,
                  metadata=dict(sub["metadata"]) if sub else {},
                  period={"end": period[1], "start": period[0]}, price=copy.deepcopy(price),
                  proration=proration, proration_details={"credited_items": None},
                  quantity=qty, subscription=sub and sub["id"], subscription_item=si,
                  tax_amounts=[], tax_rates=[], type="invoiceitem" if proration else "subscription",
                  unit_amount_excluding_tax=str(price["unit_amount"]))
        return ln

    def invoice_new(self, cus, sub, reason, lines, period_start, period_end, preview=False,
                    iid=None):
        inv = self.fixture("invoice")
        total = sum(ln["amount"] for ln in lines)
        iid = None if preview else (iid or new_id("in"))
        collection = sub["collection_method"] if sub else "charge_automatically"
        inv.update(id=iid, object="invoice", account_country="US",
                   account_name="Stripe emulator", account_tax_ids=None,
                   amount_due=max(total, 0), amount_paid=0, amount_remaining=max(total, 0),
                   amount_shipping=0, application=None, application_fee_amount=None,
                   attempt_count=0, attempted=False, auto_advance=not preview,
                   automatic_tax={"enabled": False, "status": None}, billing_reason=reason,
                   charge=None, collection_method=collection, created=self.now(),
                   currency=lines[0]["currency"] if lines else (sub or {}).get("currency", "usd"),
                   custom_fields=None, customer=cus["id"], customer_address=cus["address"],
                   customer_email=cus["email"], customer_name=cus["name"],
                   customer_phone=cus["phone"], customer_shipping=cus["shipping"],
                   customer_tax_exempt=cus["tax_exempt"], customer_tax_ids=[],
                   default_payment_method=None, default_source=None, default_tax_rates=[],
                   description=None, discount=None, discounts=[],
                   due_date=(self.now() + (sub.get("days_until_due") or 30) * DAY)
                   if collection == "send_invoice" else None,
                   effective_at=None, ending_balance=None, footer=None, from_invoice=None,
                   hosted_invoice_url=None, invoice_pdf=None, last_finalization_error=None,
                   latest_revision=None,
                   lines={"object": "list", "data": lines, "has_more": False,
                          "url": "/v1/invoices/%s/lines" % iid if iid else
                          "/v1/invoices/upcoming/lines?customer=%s" % cus["id"]},
                   livemode=False, metadata={}, next_payment_attempt=None, number=None,
                   on_behalf_of=None, paid=False, paid_out_of_band=False, payment_intent=None,
                   payment_settings={"default_mandate": None, "payment_method_options": None,
                                     "payment_method_types": None},
                   period_end=period_end, period_start=period_start,
                   post_payment_credit_notes_amount=0, pre_payment_credit_notes_amount=0,
                   quote=None, receipt_number=None, rendering_options=None, shipping_cost=None,
                   shipping_details=None, starting_balance=cus["balance"],
                   statement_descriptor=None, status="draft",
                   status_transitions={"finalized_at": None, "marked_uncollectible_at": None,
                                       "paid_at": None, "voided_at": None},
                   subscription=sub and sub["id"],
                   subscription_details={"metadata": dict(sub["metadata"]) if sub else None},
                   subtotal=total, subtotal_excluding_tax=total, tax=None, test_clock=None,
                   total=total, total_discount_amounts=[], total_excluding_tax=total,
                   total_tax_amounts=[], transfer_data=None, webhooks_delivered_at=None)
        if preview:
            del inv["id"]
            return inv
        if cus["currency"] is None:
            cus["currency"] = inv["currency"]
        self.add("invoice", inv)
        self.emit("invoice.created", inv)
        return inv

    def invoice_adhoc(self, p):
        """POST /_emulator/invoices: an invoice of CUSTOMER (and SUBSCRIPTION) with
        one line of PRICE (default: the subscription's; an unknown id makes a
        one-time price of another product) for AMOUNT (default: the price's),
        with BILLING_REASON (default manual), finalized and, unless paid=false,
        paid out of band: what a proration, a one-off item or a $0 invoice
        looks like, with its invoice.* events, for tests of what grants what."""
        cus = self.get("customer", p.get("customer"), "customer")
        sub = self.get("subscription", p["subscription"], "subscription") \
            if p.get("subscription") else None
        pid = p.get("price") or (sub["items"]["data"][0]["price"]["id"] if sub else None)
        if not pid:
            raise E.missing_param("price")
        price = self.objs.get(pid) if self.kind.get(pid) == "price" else None
        if price is None:
            price = self.fixture("price")
            price.update(id=pid, object="price", active=True, currency="usd", type="one_time",
                         recurring=None, product="prod_emulator_other", unit_amount=1000,
                         unit_amount_decimal="1000", metadata={}, livemode=False)
        amount = int(p["amount"]) if p.get("amount") not in (None, "") else None
        now = self.now()
        line = self.line(price, 1, (now, now), sub, amount=amount,
                         proration=as_bool(p.get("proration"), "proration"))
        inv = self.invoice_new(cus, sub, p.get("billing_reason") or "manual", [line], now, now)
        self.finalize(inv)
        if inv["status"] == "open" and as_bool(p.get("paid"), "paid", True):
            inv["paid_out_of_band"] = True
            self.invoice_paid(inv, None)
        return inv

    def finalize(self, inv):
        cus = self.objs[inv["customer"]]
        now = self.now()
        inv.update(status="open", number="%s-%04d" % (cus["invoice_prefix"],
                                                      cus["next_invoice_sequence"]),
                   effective_at=now, ending_balance=0, webhooks_delivered_at=now,
                   hosted_invoice_url="https://invoice.stripe.com/i/emulator/%s" % inv["id"],
                   invoice_pdf="https://pay.stripe.com/invoice/emulator/%s/pdf" % inv["id"])
        inv["status_transitions"]["finalized_at"] = now
        cus["next_invoice_sequence"] += 1
        self.emit("invoice.finalized", inv)
        if inv["amount_due"] == 0:
            self.invoice_paid(inv, None)

    def invoice_pi(self, inv, pm):
        if inv["payment_intent"]:
            pi = self.objs[inv["payment_intent"]]
            if pm and pi["status"] in ("requires_payment_method", "requires_confirmation",
                                       "requires_action"):
                pi["payment_method"] = pm["id"]
            return pi
        desc = {"subscription_create": "Subscription creation",
                "subscription_cycle": "Subscription update"}.get(inv["billing_reason"])
        pi = self.pi_new(inv["amount_due"], inv["currency"], inv["customer"], pm, desc,
                         invoice=inv["id"])
        inv["payment_intent"] = pi["id"]
        return pi

    def pay_invoice(self, inv, pm, off_session):
        """One payment attempt; returns None or the 402 error of the failure."""
        inv["attempt_count"] += 1
        inv["attempted"] = True
        pi = self.invoice_pi(inv, pm)
        if pm is None:
            self.emit("invoice.payment_failed", inv)
            return E.invalid_request(
                "This customer has no attached payment source or default payment method. "
                "Please consider adding a default payment method. For more information, visit "
                "https://stripe.com/docs/billing/subscriptions/payment-methods-setting"
                "#payment-method-priority.")
        err = self.confirm(pi, off_session)
        if pi["status"] == "succeeded":
            return None
        self.invoice_failed(inv, pi)
        return err or E.requires_action("invoice")

    def invoice_failed(self, inv, pi):
        inv["charge"] = pi["latest_charge"]
        if pi["status"] == "requires_action":
            self.emit("invoice.payment_action_required", inv)
        else:
            self.emit("invoice.payment_failed", inv)

    def invoice_paid(self, inv, pi):
        inv.update(status="paid", paid=True, amount_paid=inv["amount_due"], amount_remaining=0,
                   charge=pi and pi["latest_charge"], next_payment_attempt=None,
                   auto_advance=False)
        inv["status_transitions"]["paid_at"] = self.now()
        self.emit("invoice.paid", inv)
        if pi is not None:
            self.emit("invoice.payment_succeeded", inv)
        sub = self.objs.get(inv["subscription"]) if inv["subscription"] else None
        if sub and sub["latest_invoice"] == inv["id"] and \
                sub["status"] in ("incomplete", "past_due", "unpaid"):
            self.set_status(sub, "active")

    def set_status(self, sub, status):
        before = copy.deepcopy(sub)
        sub["status"] = status
        self.emit("customer.subscription.updated", sub, diff(before, sub))

    def end_subscription(self, sub, reason, ended_at=None):
        now = self.now()
        sub.update(status="canceled", ended_at=ended_at or now,
                   canceled_at=sub["canceled_at"] or now)
        sub["cancellation_details"]["reason"] = reason
        for inv in self.find("invoice", lambda i: i["subscription"] == sub["id"]):
            inv["next_payment_attempt"] = None
        self.emit("customer.subscription.deleted", sub)

    def attached_pm(self, ref, cus, param):
        pm = self.objs.get(ref)
        if self.kind.get(ref) != "payment_method" or pm["customer"] != cus["id"]:
            raise self.not_attached(ref, param)
        return pm

    # ====================================================== subscriptions API
    def item_prices(self, items, param="items"):
        out = []
        for i, it in enumerate(items or []):
            name = "%s[%d]" % (param, i)
            if not isinstance(it, dict):
                raise E.invalid_type(name, "object")
            if "price" not in it:
                if "price_data" in it:
                    raise E.invalid_request("The Stripe emulator supports %s[price] only."
                                            % name, name + "[price_data]")
                if "id" in it:
                    out.append((it, None, None))
                    continue
                raise E.missing_param(name + "[price]")
            price = self.get("price", it["price"], name + "[price]", 400)
            if price["type"] != "recurring":
                raise E.invalid_request(
                    "The price specified is set to `type=one_time` but this field only accepts "
                    "prices with `type=recurring`.", name + "[price]")
            qty = as_int(it.get("quantity", 1), name + "[quantity]")
            out.append((it, price, qty))
        return out

    def new_items(self, sub_id, prices):
        data = []
        for it, price, qty in prices:
            si = self.fixture("subscription_item")
            si.update(id=new_id("si"), object="subscription_item", billing_thresholds=None,
                      created=self.now(), metadata=meta_update({}, it.get("metadata") or {}),
                      price=copy.deepcopy(price), quantity=qty, subscription=sub_id,
                      tax_rates=[])
            data.append(si)
        return data

    def sub_create(self, p, path):
        cus = self.customer(p.get("customer"), "customer", 400)
        if not p.get("items"):
            raise E.missing_param("items")
        prices = self.item_prices(p["items"])
        behaviour = p.get("payment_behavior", "allow_incomplete")
        collection = p.get("collection_method", "charge_automatically")
        pm = self.attached_pm(p["default_payment_method"], cus, "default_payment_method") \
            if p.get("default_payment_method") else self.default_pm(customer=cus["id"])
        now = self.now()
        trial_end = None
        if p.get("trial_period_days"):
            trial_end = now + as_int(p["trial_period_days"], "trial_period_days") * DAY
        elif p.get("trial_end") not in (None, "", "now"):
            trial_end = as_int(p["trial_end"], "trial_end")
        amount = sum(price["unit_amount"] * qty for _, price, qty in prices)
        charge_now = amount > 0 and trial_end is None and collection == "charge_automatically"
        outcome = None
        if charge_now and behaviour != "default_incomplete":
            if pm is None:
                raise E.invalid_request(
                    "This customer has no attached payment source or default payment method. "
                    "Please consider adding a default payment method. For more information, "
                    "visit https://stripe.com/docs/billing/subscriptions/payment-methods-setting"
                    "#payment-method-priority.")
            outcome = self.predict(pm, off_session=False)
            if behaviour == "error_if_incomplete" and outcome != "succeeded":
                if outcome == "requires_action":
                    raise E.requires_action("subscription")
                raise E.card_error(E.DECLINES[outcome[1]])
        price0 = prices[0][1]
        rec = price0["recurring"]
        anchor = trial_end or now
        end = trial_end or add_interval(now, rec["interval"], rec["interval_count"])
        if trial_end:
            status = "trialing"
        elif not charge_now:
            status = "active"
        else:
            status = "active" if outcome == "succeeded" else "incomplete"
        sub = self.fixture("subscription")
        sid = new_id("sub")
        sub.update(id=sid, object="subscription", application=None,
                   application_fee_percent=None, automatic_tax={"enabled": False},
                   billing_cycle_anchor=anchor, billing_thresholds=None, cancel_at=None,
                   cancel_at_period_end=False, canceled_at=None,
                   cancellation_details={"comment": None, "feedback": None, "reason": None},
                   collection_method=collection, created=now, currency=price0["currency"],
                   current_period_end=end, current_period_start=now, customer=cus["id"],
                   days_until_due=p.get("days_until_due"),
                   default_payment_method=p.get("default_payment_method") or None,
                   default_source=None, default_tax_rates=[],
                   description=p.get("description") or None, discount=None, ended_at=None,
                   items={"object": "list", "data": self.new_items(sid, prices),
                          "has_more": False,
                          "url": "/v1/subscription_items?subscription=%s" % sid},
                   latest_invoice=None, livemode=False,
                   metadata=meta_update({}, p.get("metadata") or {}),
                   next_pending_invoice_item_invoice=None, on_behalf_of=None,
                   pause_collection=None,
                   payment_settings={"payment_method_options": None,
                                     "payment_method_types": None,
                                     "save_default_payment_method": "off"},
                   pending_invoice_item_interval=None, pending_setup_intent=None,
                   pending_update=None, schedule=None, start_date=now, status=status,
                   test_clock=None, transfer_data=None, trial_end=trial_end,
                   trial_settings={"end_behavior": {"missing_payment_method": "create_invoice"}},
                   trial_start=now if trial_end else None)
        if as_bool(p.get("cancel_at_period_end"), "cancel_at_period_end"):
            sub.update(cancel_at_period_end=True, cancel_at=end)
        self.meta[sid] = {"anchor": anchor, "n": 0 if trial_end else 1}
        lines = [self.line(price, qty, (now, end), sub, si["id"],
                           amount=0 if trial_end else None,
                           description=("Trial period for %s" % self.product_name(price))
                           if trial_end else None)
                 for (_, price, qty), si in zip(prices, sub["items"]["data"])]
        self.add("subscription", sub)
        # customer.subscription.created goes first, with latest_invoice already set
        sub["latest_invoice"] = new_id("in")
        self.emit("customer.subscription.created", sub)
        inv = self.invoice_new(cus, sub, "subscription_create", lines, now, now,
                               iid=sub["latest_invoice"])
        self.finalize(inv)
        if inv["amount_due"] > 0 and collection == "charge_automatically":
            if behaviour == "default_incomplete":
                self.invoice_pi(inv, pm)
            else:
                self.pay_invoice(inv, pm, off_session=False)
        return sub

    def sub_get(self, p, path):
        return self.get("subscription", path["subscription_exposed_id"])

    def sub_list(self, p, path):
        status = p.get("status")

        def ok(s):
            if status in (None, ""):
                st = s["status"] not in ("canceled", "incomplete_expired")
            elif status == "all":
                st = True
            elif status == "ended":
                st = s["status"] in ("canceled", "incomplete_expired")
            else:
                st = s["status"] == status
            return st and ("customer" not in p or s["customer"] == p["customer"]) and \
                ("price" not in p or any(i["price"]["id"] == p["price"]
                                         for i in s["items"]["data"])) and \
                created_ok(s["created"], p.get("created"))
        return self.page(self.find("subscription", ok), p, "/v1/subscriptions")

    def sub_update(self, p, path):
        sub = self.get("subscription", path["subscription_exposed_id"])
        if sub["status"] in ("canceled", "incomplete_expired") and \
                set(p) - {"metadata", "cancellation_details", "expand"}:
            raise E.invalid_request("A canceled subscription can only update its "
                                    "cancellation_details and metadata.")
        before = copy.deepcopy(sub)
        now = self.now()
        if "cancel_at_period_end" in p:
            if as_bool(p["cancel_at_period_end"], "cancel_at_period_end"):
                sub.update(cancel_at_period_end=True, cancel_at=sub["current_period_end"],
                           canceled_at=now)
                sub["cancellation_details"]["reason"] = "cancellation_requested"
            else:
                sub.update(cancel_at_period_end=False, cancel_at=None, canceled_at=None)
                sub["cancellation_details"]["reason"] = None
        if "cancel_at" in p:
            at = as_int(p["cancel_at"], "cancel_at") if p["cancel_at"] != "" else None
            sub.update(cancel_at=at, canceled_at=now if at else None,
                       cancel_at_period_end=bool(at) and at == sub["current_period_end"])
            sub["cancellation_details"]["reason"] = "cancellation_requested" if at else None
        if isinstance(p.get("cancellation_details"), dict):
            for k in ("comment", "feedback"):
                if k in p["cancellation_details"]:
                    sub["cancellation_details"][k] = p["cancellation_details"][k] or None
        if "metadata" in p:
            sub["metadata"] = meta_update(sub["metadata"], p["metadata"])
        if "description" in p:
            sub["description"] = p["description"] or None
        if "default_payment_method" in p:
            ref = p["default_payment_method"]
            if ref:
                self.attached_pm(ref, self.objs[sub["customer"]], "default_payment_method")
            sub["default_payment_method"] = ref or None
        if p.get("items"):
            self._update_items(sub, p["items"])
        prev = diff(before, sub)
        if prev:
            self.emit("customer.subscription.updated", sub, prev)
        return sub

    def _update_items(self, sub, items):
        # price changes take effect at once and are billed from the next renewal on
        # (the emulator never creates proration invoice items)
        data = sub["items"]["data"]
        for i, (it, price, qty) in enumerate(self.item_prices(items)):
            if it.get("id"):
                si = next((x for x in data if x["id"] == it["id"]), None)
                if si is None:
                    raise E.resource_missing("subscription item", it["id"],
                                             "items[%d][id]" % i, 400)
                if as_bool(it.get("deleted"), "deleted"):
                    data.remove(si)
                    continue
                if price:
                    si["price"] = copy.deepcopy(price)
                if "quantity" in it:
                    si["quantity"] = as_int(it["quantity"], "items[%d][quantity]" % i)
            elif price:
                data.extend(self.new_items(sub["id"], [(it, price, qty)]))

    def sub_cancel(self, p, path):
        sub = self.get("subscription", path["subscription_exposed_id"])
        if sub["status"] in ("canceled", "incomplete_expired"):
            raise E.resource_missing("subscription", sub["id"])
        if isinstance(p.get("cancellation_details"), dict):
            for k in ("comment", "feedback"):
                if k in p["cancellation_details"]:
                    sub["cancellation_details"][k] = p["cancellation_details"][k] or None
        sub["canceled_at"] = None
        self.end_subscription(sub, "cancellation_requested")
        return sub

    # =========================================================== invoices API
    def invoice_get(self, p, path):
        return self.get("invoice", path["invoice"])

    def invoice_list(self, p, path):
        items = self.find("invoice", lambda i: all(
            k not in p or i[k] == p[k] for k in ("customer", "subscription", "status",
                                                 "collection_method"))
            and created_ok(i["created"], p.get("created")))
        return self.page(items, p, "/v1/invoices")

    def invoice_pay(self, p, path):
        inv = self.get("invoice", path["invoice"])
        if inv["status"] == "paid":
            raise E.invalid_request("Invoice is already paid")
        if inv["status"] in ("void", "uncollectible"):
            raise E.invalid_request("You cannot pay an invoice with status %s." % inv["status"])
        if inv["status"] == "draft":
            self.finalize(inv)
            if inv["status"] == "paid":
                return inv
        if as_bool(p.get("paid_out_of_band"), "paid_out_of_band"):
            inv["paid_out_of_band"] = True
            self.invoice_paid(inv, None)
            return inv
        sub = self.objs.get(inv["subscription"]) if inv["subscription"] else None
        cus = self.objs[inv["customer"]]
        if p.get("payment_method"):
            pm = self.resolve_pm(p["payment_method"], "payment_method")
            if not pm["customer"]:
                self.attach(pm, cus)
        else:
            pm = self.default_pm(sub, cus["id"])
        err = self.pay_invoice(inv, pm, as_bool(p.get("off_session"), "off_session", True))
        if err:
            raise err
        return inv

    def invoice_upcoming(self, p, path):
        sub = None
        if p.get("subscription"):
            sub = self.get("subscription", p["subscription"], "subscription", 400)
        if not p.get("customer") and sub is None:
            raise E.missing_param("customer")
        cus = self.customer(p.get("customer") or sub["customer"], "customer", 400)
        none = E.invalid_request("No upcoming invoices for customer: %s" % cus["id"],
                                 code="invoice_upcoming_none", status=404)
        items = p.get("subscription_items")
        now = self.now()
        if sub is None and not items:
            subs = self.find("subscription", lambda s: s["customer"] == cus["id"]
                             and s["status"] in LIVE_SUB and not s["cancel_at_period_end"])
            if not subs:
                raise none
            sub = min(subs, key=lambda s: s["current_period_end"])
        if sub is None:
            # preview of a new subscription on the given items
            prices = self.item_prices(items, "subscription_items")
            rec = prices[0][1]["recurring"]
            end = add_interval(now, rec["interval"], rec["interval_count"])
            lines = [self.line(price, qty, (now, end), tmp=True) for _, price, qty in prices]
            inv = self.invoice_new(cus, None, "upcoming", lines, now, now, preview=True)
            inv["next_payment_attempt"] = now
            return inv
        if sub["customer"] != cus["id"]:
            raise E.invalid_request("The subscription %s does not belong to customer %s."
                                    % (sub["id"], cus["id"]), "subscription")
        cancel = as_bool(p.get("subscription_cancel_at_period_end"),
                         "subscription_cancel_at_period_end", sub["cancel_at_period_end"])
        if sub["status"] not in LIVE_SUB or cancel or as_bool(
                p.get("subscription_cancel_now"), "subscription_cancel_now"):
            raise none
        start, end = sub["current_period_start"], sub["current_period_end"]
        m = self.meta.get(sub["id"], {"anchor": start, "n": 1})
        rec = sub["items"]["data"][0]["price"]["recurring"]
        next_end = add_interval(m["anchor"], rec["interval"], rec["interval_count"] * (m["n"] + 1))
        current = [(si["id"], si["price"], si["quantity"]) for si in sub["items"]["data"]]
        new = list(current)
        if items:
            for it, price, qty in self.item_prices(items, "subscription_items"):
                idx = next((k for k, x in enumerate(new) if x[0] == it.get("id")), None)
                if it.get("id") and idx is None:
                    raise E.resource_missing("subscription item", it["id"],
                                             "subscription_items[][id]", 400)
                if idx is not None:
                    if as_bool(it.get("deleted"), "deleted"):
                        new[idx] = (it["id"], None, 0)
                    else:
                        sid, oprice, oqty = new[idx]
                        new[idx] = (sid, price or oprice,
                                    as_int(it["quantity"], "quantity") if "quantity" in it
                                    else oqty)
                elif price:
                    new.append((None, price, qty))
        lines = []
        pdate = as_int(p.get("subscription_proration_date", now), "subscription_proration_date")
        prorate = p.get("subscription_proration_behavior", "create_prorations") != "none"
        if prorate and new != current and start <= pdate < end:
            frac = (end - pdate) / float(end - start)
            old = {c[0]: c for c in current}
            for sid, price, qty in new:
                o = old.get(sid)
                if o and o[1]["id"] == (price and price["id"]) and o[2] == qty:
                    continue
                if o:
                    lines.append(self.line(o[1], o[2], (pdate, end), sub, sid, tmp=True,
                                           amount=-int(round(o[1]["unit_amount"] * o[2] * frac)),
                                           description="Unused time on %s after %s" % (
                                               self.product_name(o[1]), day_str(pdate)),
                                           proration=True))
                if price:
                    lines.append(self.line(price, qty, (pdate, end), sub, sid, tmp=True,
                                           amount=int(round(price["unit_amount"] * qty * frac)),
                                           description="Remaining time on %d \u00d7 %s after %s"
                                           % (qty, self.product_name(price), day_str(pdate)),
                                           proration=True))
        for sid, price, qty in new:
            if price:
                lines.append(self.line(price, qty, (end, next_end), sub, sid, tmp=True))
        inv = self.invoice_new(cus, sub, "upcoming", lines, start, end, preview=True)
        inv.update(created=end, next_payment_attempt=end + 3600)
        inv["lines"]["url"] += "&subscription=%s" % sub["id"]
        if any(ln["proration"] for ln in lines):
            inv["subscription_proration_date"] = pdate
        return inv

    # ================================================================== clock
    def advance(self, seconds):
        """Move the clock; process every renewal, retry and expiry that falls due."""
        target = self.now() + seconds
        for _ in range(100000):
            due = self.next_due(target)
            if due is None:
                break
            t, action, obj = due
            if t > self.now():
                self.clock.set(t)
            action(obj)
        if target > self.now():
            self.clock.set(target)
        return self.now()

    def next_due(self, target):
        best = None
        for s in self.find("subscription"):
            st = s["status"]
            if st in LIVE_SUB:
                t, act = s["current_period_end"], self.renew
                if s["cancel_at"] and s["cancel_at"] < t:
                    t, act = s["cancel_at"], self.cancel_due
            elif st == "incomplete":
                t, act = s["created"] + 23 * 3600, self.expire
            else:
                continue
            if t <= target and (best is None or t < best[0]):
                best = (t, act, s)
        for inv in self.find("invoice", lambda i: i["status"] == "open"
                             and i["next_payment_attempt"]):
            t = inv["next_payment_attempt"]
            if t <= target and (best is None or t < best[0]):
                best = (t, self.retry, inv)
        return best

    def cancel_due(self, sub):
        self.end_subscription(sub, "cancellation_requested", sub["cancel_at"])

    def expire(self, sub):
        inv = self.objs.get(sub["latest_invoice"])
        if inv and inv["status"] == "open":
            inv["status"] = "void"
            inv["status_transitions"]["voided_at"] = self.now()
            self.emit("invoice.voided", inv)
        before = copy.deepcopy(sub)
        sub.update(status="incomplete_expired", ended_at=self.now())
        self.emit("customer.subscription.updated", sub, diff(before, sub))

    def renew(self, sub):
        old_start, old_end = sub["current_period_start"], sub["current_period_end"]
        if sub["cancel_at_period_end"] or (sub["cancel_at"] and sub["cancel_at"] <= old_end):
            self.end_subscription(sub, "cancellation_requested", old_end)
            return
        m = self.meta.setdefault(sub["id"], {"anchor": old_start, "n": 1})
        m["n"] += 1
        rec = sub["items"]["data"][0]["price"]["recurring"]
        new_end = add_interval(m["anchor"], rec["interval"], rec["interval_count"] * m["n"])
        if new_end <= old_end:
            new_end = add_interval(old_end, rec["interval"], rec["interval_count"])
        cus = self.objs[sub["customer"]]
        before = copy.deepcopy(sub)
        iid = new_id("in")
        sub.update(current_period_start=old_end, current_period_end=new_end, latest_invoice=iid)
        if sub["status"] == "trialing":
            sub["status"] = "active"
        self.emit("customer.subscription.updated", sub, diff(before, sub))
        lines = [self.line(si["price"], si["quantity"], (old_end, new_end), sub, si["id"])
                 for si in sub["items"]["data"]]
        inv = self.invoice_new(cus, sub, "subscription_cycle", lines, old_start, old_end,
                               iid=iid)
        self.finalize(inv)
        if inv["status"] != "open" or sub["collection_method"] != "charge_automatically":
            return
        err = self.pay_invoice(inv, self.default_pm(sub), off_session=True)
        if err is not None:
            self.schedule_retry(inv, sub)

    def schedule_retry(self, inv, sub):
        n = inv["attempt_count"]
        if n - 1 < len(self.retry_days):
            inv["next_payment_attempt"] = self.now() + self.retry_days[n - 1] * DAY
            if sub["status"] != "past_due" and sub["latest_invoice"] == inv["id"]:
                self.set_status(sub, "past_due")
        else:
            inv["next_payment_attempt"] = None
            if sub["latest_invoice"] == inv["id"]:
                self.end_subscription(sub, "payment_failed")

    def retry(self, inv):
        sub = self.objs.get(inv["subscription"]) if inv["subscription"] else None
        if sub is None or sub["status"] in ("canceled", "incomplete_expired"):
            inv["next_payment_attempt"] = None
            return
        inv["next_payment_attempt"] = None
        err = self.pay_invoice(inv, self.default_pm(sub), off_session=True)
        if err is not None:
            self.schedule_retry(inv, sub)
