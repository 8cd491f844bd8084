#!/usr/bin/env python3
"""Tests of the Stripe emulator itself (unittest, standard library only).

    python3 t/stripe-emulator/test_emulator.py [-v]

Starts the emulator on a free port, and a small webhook receiver, both on
127.0.0.1. Needs ../shared/stripe (or $STRIPE_SHARED) for the spec checks and
the signature vectors; without it those tests are skipped.
"""
import hashlib
import hmac
import http.client
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # keep the source tree free of __pycache__

import emu_spec  # noqa: E402
import emu_webhooks  # noqa: E402

SHARED = os.environ.get("STRIPE_SHARED") or os.path.join(os.path.dirname(REPO), "shared",
                                                         "stripe")
HAVE_SPEC = os.path.exists(os.path.join(SHARED, "openapi", "spec3.json"))
KEY = "sk_test_emulator_suite"
SECRET = "whsec_receiver_secret_for_tests"
PRO = "price_tollgate_pro_monthly"
BASIC = "price_test_basic_monthly"
PRICES = "%s:59900:usd:month,%s:1000:usd:month:1:Basic" % (PRO, BASIC)


def encode(params, prefix=""):
    """Stripe's form encoding, written independently of the emulator's decoder."""
    out = []
    if isinstance(params, dict):
        for k, v in params.items():
            out += encode(v, "%s[%s]" % (prefix, k) if prefix else k)
    elif isinstance(params, list):
        for i, v in enumerate(params):
            out += encode(v, "%s[%d]" % (prefix, i))
    elif isinstance(params, bool):
        out.append((prefix, "true" if params else "false"))
    else:
        out.append((prefix, str(params)))
    return out


def start_emulator(*args, env=None):
    e = dict(os.environ, EMULATOR_PRICES=PRICES)
    e.update(env or {})
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "emulator.py"), "--port", "0"]
                            + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=e, text=True)
    ready, _, _ = select.select([proc.stdout], [], [], 15)
    line = proc.stdout.readline() if ready else ""
    if not line.startswith("listening on http://"):
        proc.kill()
        raise RuntimeError("emulator did not start: %r %s" % (line, proc.stderr.read()))
    return proc, int(line.strip().rsplit(":", 1)[1])


class Resp:
    def __init__(self, status, headers, raw):
        self.status, self.headers, self.raw = status, headers, raw
        self.body = json.loads(raw) if raw else None

    @property
    def error(self):
        return (self.body or {}).get("error", {})

    def __repr__(self):
        return "<%d %s>" % (self.status, self.raw[:300])


class Receiver:
    """Webhook endpoint for the tests: records (headers, raw body)."""

    def __init__(self):
        self.got = []
        self.fail_next = 0
        self.cv = threading.Condition()
        rec = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with rec.cv:
                    fail = rec.fail_next > 0
                    if fail:
                        rec.fail_next -= 1
                    else:
                        rec.got.append((dict(self.headers), body))
                    rec.cv.notify_all()
                self.send_response(500 if fail else 200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.url = "http://127.0.0.1:%d/hook" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def events(self):
        with self.cv:
            return [json.loads(b) for _, b in self.got]

    def clear(self):
        with self.cv:
            self.got = []
            self.fail_next = 0


class Base(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        fd, cls.logfile = tempfile.mkstemp(prefix="stripe-emulator-test-", suffix=".log")
        os.close(fd)
        cls.proc, cls.port = start_emulator("--log", cls.logfile)
        cls.receiver = Receiver()

    @classmethod
    def tearDownClass(cls):
        cls.proc.send_signal(signal.SIGTERM)
        try:
            cls.proc.wait(10)
        except subprocess.TimeoutExpired:
            cls.proc.kill()
        cls.proc.stdout.close()
        cls.proc.stderr.close()
        cls.receiver.httpd.shutdown()
        if os.environ.get("KEEP_EMULATOR_LOG"):
            sys.stderr.write("emulator log: %s\n" % cls.logfile)
        else:
            os.unlink(cls.logfile)

    def setUp(self):
        self.ctl("POST", "/_emulator/reset")
        self.ctl("POST", "/_emulator/webhooks", {"url": self.receiver.url, "secret": SECRET})
        self.receiver.clear()

    # -- HTTP helpers --
    def request(self, method, path, params=None, key=KEY, headers=None, timeout=10):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = {"Stripe-Version": "2023-08-16"}
        if key:
            h["Authorization"] = "Bearer " + key
        h.update(headers or {})
        form = urllib.parse.urlencode(encode(params or {}))
        body = None
        if method == "POST":
            body = form
            h["Content-Type"] = "application/x-www-form-urlencoded"
        elif form:
            path += ("&" if "?" in path else "?") + form
        try:
            conn.request(method, path, body, h)
            r = conn.getresponse()
            return Resp(r.status, r.headers, r.read().decode())
        finally:
            conn.close()

    def api(self, method, path, params=None, expect=None, **kw):
        r = self.request(method, path, params, **kw)
        if expect is not None:
            self.assertEqual(r.status, expect, r)
        return r

    def ok(self, method, path, params=None, **kw):
        return self.api(method, path, params, expect=200, **kw).body

    def ctl(self, method, path, params=None):
        r = self.request(method, path, params, key=None)
        self.assertEqual(r.status, 200, r)
        return r.body

    def customer(self, card="pm_card_visa", default=True, **params):
        cus = self.ok("POST", "/v1/customers", dict({"email": "t@example.com"}, **params))
        pm = None
        if card:
            pm = self.ok("POST", "/v1/payment_methods/%s/attach" % card, {"customer": cus["id"]})
            if default:
                cus = self.ok("POST", "/v1/customers/" + cus["id"],
                              {"invoice_settings": {"default_payment_method": pm["id"]}})
        return cus, pm

    def subscribe(self, cus, price=PRO, expect=None, **params):
        return self.api("POST", "/v1/subscriptions", dict(
            {"customer": cus["id"], "items": [{"price": price}]}, **params), expect=expect)

    def flush(self):
        self.assertEqual(self.ctl("POST", "/_emulator/webhooks/flush", {"timeout": 10})
                         ["pending"], 0)

    def event_types(self):
        return [e["type"] for e in self.ctl("GET", "/_emulator/events")["data"]]


class FormAndValidation(Base):
    def test_form_decoding(self):
        d = emu_spec.decode_form("items[0][price]=p1&items[0][quantity]=2&items[1][price]=p2"
                                 "&metadata[order]=42&metadata[k%20x]=v&expand[]=a&expand[]=b"
                                 "&invoice_settings[default_payment_method]=pm_1&email=")
        self.assertEqual(d, {"items": [{"price": "p1", "quantity": "2"}, {"price": "p2"}],
                             "metadata": {"order": "42", "k x": "v"}, "expand": ["a", "b"],
                             "invoice_settings": {"default_payment_method": "pm_1"},
                             "email": ""})
        # sparse or non-numeric keys stay a dict; [][k] builds a list of dicts
        self.assertEqual(emu_spec.decode_form("metadata[1]=a&metadata[3]=b"),
                         {"metadata": {"1": "a", "3": "b"}})
        self.assertEqual(emu_spec.decode_form("items[][price]=a&items[][price]=b"),
                         {"items": [{"price": "a"}, {"price": "b"}]})
        self.assertEqual(emu_spec.decode_form("a=1&a=2"), {"a": "2"})
        # through the server: nested metadata and expand[] on a GET
        cus = self.ok("POST", "/v1/customers", {"metadata": {"plan": "pro", "n": "1"}})
        self.assertEqual(cus["metadata"], {"plan": "pro", "n": "1"})
        cus = self.ok("POST", "/v1/customers/" + cus["id"], {"metadata": {"n": ""}})
        self.assertEqual(cus["metadata"], {"plan": "pro"})
        cus = self.ok("POST", "/v1/customers/" + cus["id"], {"metadata": ""})
        self.assertEqual(cus["metadata"], {})

    @unittest.skipUnless(HAVE_SPEC, "spec3.json not available")
    def test_unknown_parameters(self):
        r = self.api("POST", "/v1/customers", {"email": "x@example.com", "foo": "1"}, expect=400)
        self.assertEqual(r.error["type"], "invalid_request_error")
        self.assertEqual(r.error["code"], "parameter_unknown")
        self.assertEqual(r.error["param"], "foo")
        self.assertEqual(r.error["message"], "Received unknown parameter: foo")
        self.assertIn("req_", r.error["request_log_url"])
        self.assertEqual(r.error["doc_url"],
                         "https://stripe.com/docs/error-codes/parameter-unknown")
        cus, _ = self.customer()
        r = self.api("POST", "/v1/subscriptions", {"customer": cus["id"],
                                                   "items": [{"price": PRO, "foo": "x"}]},
                     expect=400)
        self.assertEqual(r.error["param"], "items[0][foo]")
        r = self.api("POST", "/v1/customers/" + cus["id"],
                     {"invoice_settings": {"default_pm": "x"}}, expect=400)
        self.assertEqual(r.error["param"], "invoice_settings[default_pm]")
        r = self.api("GET", "/v1/customers?bar=1", expect=400)
        self.assertEqual(r.error["param"], "bar")
        r = self.api("GET", "/v1/invoices/upcoming", {"customer": cus["id"],
                                                     "subscription_items": [{"prize": PRO}]},
                     expect=400)
        self.assertEqual(r.error["param"], "subscription_items[0][prize]")
        # nothing was created by the rejected subscription
        self.assertEqual(self.ok("GET", "/v1/subscriptions", {"status": "all"})["data"], [])

    @unittest.skipUnless(HAVE_SPEC, "spec3.json not available")
    def test_missing_and_invalid_parameters(self):
        r = self.api("POST", "/v1/payment_methods/pm_card_visa/attach", {}, expect=400)
        self.assertEqual((r.error["code"], r.error["param"]), ("parameter_missing", "customer"))
        self.assertEqual(r.error["message"], "Missing required param: customer.")
        r = self.api("POST", "/v1/payment_intents", {"currency": "usd"}, expect=400)
        self.assertEqual((r.error["code"], r.error["param"]), ("parameter_missing", "amount"))
        r = self.api("POST", "/v1/payment_intents", {"amount": "12.5", "currency": "usd"},
                     expect=400)
        self.assertEqual(r.error["code"], "parameter_invalid_integer")
        self.assertEqual(r.error["message"], "Invalid integer: 12.5")
        cus, _ = self.customer()
        r = self.api("POST", "/v1/subscriptions", {"customer": cus["id"], "items": [
            {"price": PRO}], "payment_behavior": "sometimes"}, expect=400)
        self.assertEqual(r.error["param"], "payment_behavior")
        self.assertTrue(r.error["message"].startswith("Invalid payment_behavior: must be one of "
                                                      "allow_incomplete"), r.error)
        r = self.api("GET", "/v1/subscriptions", {"status": "bogus"}, expect=400)
        self.assertIn("must be one of active", r.error["message"])
        r = self.api("POST", "/v1/subscriptions/sub_x", {"cancel_at_period_end": "yes"},
                     expect=400)
        self.assertEqual(r.error["message"], "Invalid boolean: yes")
        r = self.api("POST", "/v1/subscriptions", {"customer": "", "items": [{"price": PRO}]},
                     expect=400)
        self.assertEqual(r.error["code"], "parameter_invalid_empty")
        r = self.api("POST", "/v1/customers", {"metadata": "x"}, expect=400)
        self.assertEqual(r.error["param"], "metadata")
        r = self.api("GET", "/v1/customers", {"expand": "x"}, expect=400)
        self.assertEqual(r.error["param"], "expand")
        r = self.api("POST", "/v1/subscriptions", {"customer": cus["id"], "items": [
            {"price": PRO}], "coupon": "HALF"}, expect=400)
        self.assertEqual((r.error["code"], r.error["param"]), ("emulator_not_implemented",
                                                              "coupon"))
        self.api("POST", "/v1/payment_intents", {"amount": 100, "currency": "usd",
                                                 "capture_method": "automatic",
                                                 "automatic_payment_methods": {
                                                     "enabled": False}}, expect=200)
        r = self.api("GET", "/v1/nonsense", expect=404)
        self.assertIn("Unrecognized request URL (GET: /v1/nonsense)", r.error["message"])
        r = self.api("GET", "/v1/coupons", expect=404)
        self.assertEqual(r.error["code"], "emulator_not_implemented")
        r = self.api("GET", "/v1/customers/cus_nope", expect=404)
        self.assertEqual((r.error["code"], r.error["message"], r.error["param"]),
                         ("resource_missing", "No such customer: 'cus_nope'", "id"))
        r = self.subscribe({"id": "cus_nope"}, expect=400)
        self.assertEqual((r.error["code"], r.error["param"]), ("resource_missing", "customer"))

    def test_authentication(self):
        r = self.api("GET", "/v1/customers", key=None, expect=401)
        self.assertEqual(r.error["type"], "invalid_request_error")
        self.assertIn("You did not provide an API key", r.error["message"])
        r = self.api("GET", "/v1/customers", key="pk_test_abcdefghijklmnop", expect=401)
        self.assertTrue(r.error["message"].startswith("Invalid API Key provided: pk_test_"))
        self.assertNotIn("abcdefghijkl", r.error["message"])
        self.api("GET", "/v1/customers", key=None, expect=200, headers={
            "Authorization": "Basic " + __import__("base64").b64encode(
                (KEY + ":").encode()).decode()})
        r = self.api("GET", "/v1/customers", expect=200)
        self.assertTrue(r.headers["Request-Id"].startswith("req_"))
        self.assertEqual(r.body["object"], "list")
        self.assertEqual(r.body["url"], "/v1/customers")

    def test_lists_paginate(self):
        ids = [self.ok("POST", "/v1/customers", {"email": "c%d@example.com" % i})["id"]
               for i in range(5)]
        page = self.ok("GET", "/v1/customers", {"limit": 2})
        self.assertEqual([c["id"] for c in page["data"]], ids[::-1][:2])
        self.assertTrue(page["has_more"])
        page2 = self.ok("GET", "/v1/customers", {"limit": 2, "starting_after": ids[3]})
        self.assertEqual([c["id"] for c in page2["data"]], [ids[2], ids[1]])
        last = self.ok("GET", "/v1/customers", {"limit": 10, "starting_after": ids[1]})
        self.assertEqual(([c["id"] for c in last["data"]], last["has_more"]), ([ids[0]], False))
        one = self.ok("GET", "/v1/customers", {"email": "c2@example.com"})
        self.assertEqual([c["id"] for c in one["data"]], [ids[2]])

    @unittest.skipUnless(HAVE_SPEC, "spec3.json not available")
    def test_request_log(self):
        good = self.api("POST", "/v1/customers", {"email": "a@example.com"}, expect=200,
                        headers={"Idempotency-Key": "log-1"})
        bad = self.api("POST", "/v1/customers", {"emial": "a@example.com"}, expect=400)
        log = self.ctl("GET", "/_emulator/requests")
        byid = {r["id"]: r for r in log["data"]}
        g, b = byid[good.headers["Request-Id"]], byid[bad.headers["Request-Id"]]
        self.assertEqual((g["valid"], g["status"], g["idempotency_key"], g["stripe_version"],
                          g["operation"], g["params"]),
                         (True, 200, "log-1", "2023-08-16", "PostCustomers",
                          {"email": "a@example.com"}))
        self.assertEqual((b["valid"], b["status"], b["validation_error"]["code"]),
                         (False, 400, "parameter_unknown"))
        self.assertEqual(log["invalid"], 1)


class Idempotency(Base):
    def test_replay_and_mismatch(self):
        h = {"Idempotency-Key": "idem-key-1"}
        a = self.api("POST", "/v1/customers", {"email": "i@example.com"}, headers=h, expect=200)
        b = self.api("POST", "/v1/customers", {"email": "i@example.com"}, headers=h, expect=200)
        self.assertEqual(a.raw, b.raw)
        self.assertEqual(b.headers["Idempotent-Replayed"], "true")
        self.assertEqual(b.headers["Idempotency-Key"], "idem-key-1")
        self.assertEqual(a.headers["Idempotency-Key"], "idem-key-1")
        self.assertIsNone(a.headers.get("Idempotent-Replayed"))
        self.assertNotEqual(a.headers["Request-Id"], b.headers["Request-Id"])
        self.assertEqual(b.headers["Original-Request"], a.headers["Request-Id"])
        self.assertEqual(len(self.ok("GET", "/v1/customers")["data"]), 1)
        self.assertEqual(self.event_types().count("customer.created"), 1)
        c = self.api("POST", "/v1/customers", {"email": "other@example.com"}, headers=h,
                     expect=400)
        self.assertEqual(c.error["type"], "idempotency_error")
        self.assertEqual(c.error["message"],
                         "Keys for idempotent requests can only be used with the same parameters "
                         "they were first used with. Try using a key other than 'idem-key-1' if "
                         "you meant to execute a different request.")
        d = self.api("POST", "/v1/payment_intents", {"amount": 100, "currency": "usd"},
                     headers=h, expect=400)
        self.assertEqual(d.error["type"], "idempotency_error")
        # errors are replayed too (the endpoint ran)
        h2 = {"Idempotency-Key": "idem-key-2"}
        cus = self.ok("POST", "/v1/customers", {})
        e1 = self.api("POST", "/v1/payment_methods/pm_card_chargeDeclined/attach",
                      {"customer": cus["id"]}, headers=h2, expect=402)
        e2 = self.api("POST", "/v1/payment_methods/pm_card_chargeDeclined/attach",
                      {"customer": cus["id"]}, headers=h2, expect=402)
        self.assertEqual((e1.raw, e2.headers["Idempotent-Replayed"]), (e2.raw, "true"))

    def test_forgotten_keys_act_anew(self):
        h = {"Idempotency-Key": "idem-forget"}
        a = self.ok("POST", "/v1/customers", {"email": "f@example.com"}, headers=h)
        self.assertEqual(self.ctl("DELETE", "/_emulator/idempotency_keys")["forgotten"], 1)
        b = self.api("POST", "/v1/customers", {"email": "f@example.com"}, headers=h, expect=200)
        self.assertIsNone(b.headers.get("Idempotent-Replayed"))
        self.assertNotEqual(a["id"], b.body["id"])
        self.assertEqual(len(self.ok("GET", "/v1/customers")["data"]), 2)

    def test_concurrent_same_key(self):
        self.ctl("POST", "/_emulator/faults", {"mode": "latency", "delay_ms": 700,
                                               "path": "/v1/customers", "method": "POST",
                                               "count": 1})
        results = []

        def go():
            results.append(self.request("POST", "/v1/customers", {"email": "c@example.com"},
                                        headers={"Idempotency-Key": "same"}))
        t1 = threading.Thread(target=go)
        t1.start()
        time.sleep(0.25)
        t2 = threading.Thread(target=go)
        t2.start()
        t1.join()
        t2.join()
        self.assertEqual(sorted(r.status for r in results), [200, 409], results)
        conflict = [r for r in results if r.status == 409][0]
        self.assertEqual(conflict.error["type"], "idempotency_error")
        self.assertIn("another in-progress request", conflict.error["message"])
        self.assertEqual(len(self.ok("GET", "/v1/customers")["data"]), 1)
        again = self.api("POST", "/v1/customers", {"email": "c@example.com"},
                         headers={"Idempotency-Key": "same"}, expect=200)
        self.assertEqual(again.headers["Idempotent-Replayed"], "true")


class Cards(Base):
    CASES = {
        "pm_card_visa": ("ok", "visa", "4242"),
        "pm_card_mastercard": ("ok", "mastercard", "4444"),
        "pm_card_amex": ("ok", "amex", "8431"),
        "pm_card_chargeDeclined": ("attach", "card_declined", "generic_decline"),
        "pm_card_visa_chargeDeclined": ("attach", "card_declined", "generic_decline"),
        "pm_card_chargeDeclinedInsufficientFunds": ("attach", "card_declined",
                                                    "insufficient_funds"),
        "pm_card_chargeDeclinedExpiredCard": ("attach", "expired_card", "expired_card"),
        "pm_card_chargeDeclinedIncorrectCvc": ("attach", "incorrect_cvc", "incorrect_cvc"),
        "pm_card_chargeCustomerFail": ("charge", "card_declined", "generic_decline"),
        "pm_card_authenticationRequired": ("auth", None, None),
    }

    def pay(self, cus, pm, **kw):
        return self.api("POST", "/v1/payment_intents", dict(
            {"amount": 2900, "currency": "usd", "customer": cus["id"], "payment_method": pm["id"],
             "confirm": True, "off_session": True, "description": "fix overage",
             "metadata": {"fix_id": "f1"}}, **kw))

    def test_each_test_card(self):
        for card, (kind, a, b) in self.CASES.items():
            with self.subTest(card=card):
                self.ctl("POST", "/_emulator/reset")
                cus = self.ok("POST", "/v1/customers", {"email": "card@example.com"})
                r = self.api("POST", "/v1/payment_methods/%s/attach" % card,
                             {"customer": cus["id"]})
                if kind == "attach":
                    self.assertEqual(r.status, 402, r)
                    self.assertEqual((r.error["type"], r.error["code"], r.error["decline_code"]),
                                     ("card_error", a, b))
                    self.assertEqual(self.ok("GET", "/v1/customers/%s/payment_methods"
                                             % cus["id"])["data"], [])
                    continue
                self.assertEqual(r.status, 200, r)
                pm = r.body
                self.assertTrue(pm["id"].startswith("pm_") and pm["id"] != card)
                self.assertEqual((pm["customer"], pm["object"], pm["type"]),
                                 (cus["id"], "payment_method", "card"))
                listed = self.ok("GET", "/v1/payment_methods", {"customer": cus["id"],
                                                                "type": "card"})
                self.assertEqual([m["id"] for m in listed["data"]], [pm["id"]])
                r = self.pay(cus, pm)
                if kind == "ok":
                    self.assertEqual((pm["card"]["brand"], pm["card"]["last4"]), (a, b))
                    self.assertEqual(r.status, 200, r)
                    self.assertEqual(r.body["status"], "succeeded")
                    self.assertEqual(r.body["amount_received"], 2900)
                    ch = self.ok("GET", "/v1/charges/" + r.body["latest_charge"])
                    self.assertEqual((ch["status"], ch["paid"], ch["amount"]),
                                     ("succeeded", True, 2900))
                elif kind == "charge":
                    self.assertEqual(r.status, 402, r)
                    e = r.error
                    self.assertEqual((e["type"], e["code"], e["decline_code"]),
                                     ("card_error", a, b))
                    self.assertTrue(e["charge"].startswith("ch_"))
                    self.assertEqual(e["payment_intent"]["status"], "requires_payment_method")
                    self.assertEqual(e["payment_method"]["id"], pm["id"])
                    pi = self.ok("GET", "/v1/payment_intents/" + e["payment_intent"]["id"])
                    self.assertEqual(pi["last_payment_error"]["decline_code"], b)
                    ch = self.ok("GET", "/v1/charges/" + e["charge"])
                    self.assertEqual((ch["status"], ch["failure_code"]), ("failed", a))
                else:  # 3D Secure required
                    self.assertEqual(r.status, 402, r)
                    self.assertEqual((r.error["code"], r.error["decline_code"]),
                                     ("authentication_required", "authentication_required"))
                    self.assertEqual(r.error["payment_intent"]["status"],
                                     "requires_payment_method")
                    on = self.api("POST", "/v1/payment_intents", {
                        "amount": 2900, "currency": "usd", "customer": cus["id"],
                        "payment_method": pm["id"], "confirm": True}, expect=200).body
                    self.assertEqual(on["status"], "requires_action")
                    self.assertEqual(on["next_action"]["type"], "use_stripe_sdk")
                    done = self.ctl("POST", "/_emulator/payment_intents/%s/authenticate"
                                    % on["id"], {"outcome": "succeed"})
                    self.assertEqual(done["status"], "succeeded")

    def test_payment_intent_shapes_and_refunds(self):
        cus, pm = self.customer()
        pi = self.ok("POST", "/v1/payment_intents", {"amount": 2900, "currency": "usd",
                                                     "customer": cus["id"]})
        self.assertEqual(pi["status"], "requires_payment_method")
        r = self.api("POST", "/v1/payment_intents", {"amount": 10, "currency": "usd"}, expect=400)
        self.assertEqual(r.error["code"], "amount_too_small")
        pi = Cards.pay(self, cus, pm).body
        self.assertEqual(pi["metadata"], {"fix_id": "f1"})
        listed = self.ok("GET", "/v1/payment_intents", {"customer": cus["id"]})
        self.assertEqual(len(listed["data"]), 2)
        re1 = self.ok("POST", "/v1/refunds", {"payment_intent": pi["id"], "amount": 900})
        self.assertEqual((re1["amount"], re1["status"], re1["charge"]),
                         (900, "succeeded", pi["latest_charge"]))
        r = self.api("POST", "/v1/refunds", {"charge": pi["latest_charge"], "amount": 5000},
                     expect=400)
        self.assertEqual(r.error["param"], "amount")
        re2 = self.ok("POST", "/v1/refunds", {"charge": pi["latest_charge"]})
        self.assertEqual(re2["amount"], 2000)
        ch = self.ok("GET", "/v1/charges/" + pi["latest_charge"])
        self.assertEqual((ch["amount_refunded"], ch["refunded"]), (2900, True))
        r = self.api("POST", "/v1/refunds", {"charge": ch["id"]}, expect=400)
        self.assertEqual(r.error["code"], "charge_already_refunded")
        self.assertEqual(len(self.ok("GET", "/v1/refunds", {"payment_intent": pi["id"]})["data"]),
                         2)
        self.assertEqual(self.event_types().count("charge.refunded"), 2)

    def test_detach(self):
        cus, pm = self.customer()
        self.ok("POST", "/v1/payment_methods/%s/detach" % pm["id"])
        cus = self.ok("GET", "/v1/customers/" + cus["id"])
        self.assertIsNone(cus["invoice_settings"]["default_payment_method"])
        r = self.api("POST", "/v1/payment_methods/%s/attach" % pm["id"],
                     {"customer": cus["id"]}, expect=400)
        self.assertIn("may not be used again", r.error["message"])
        self.assertIn("payment_method.detached", self.event_types())


class Subscriptions(Base):
    def test_adhoc_invoices(self):
        cus, _ = self.customer()
        sub = self.subscribe(cus, expect=200).body
        pro = self.ctl("POST", "/_emulator/invoices", {
            "customer": cus["id"], "subscription": sub["id"],
            "billing_reason": "subscription_update", "proration": "true", "amount": 1234})
        self.assertEqual((pro["status"], pro["paid"], pro["billing_reason"], pro["amount_paid"],
                          pro["subscription"], pro["lines"]["data"][0]["proration"],
                          pro["lines"]["data"][0]["price"]["id"]),
                         ("paid", True, "subscription_update", 1234, sub["id"], True, PRO))
        one = self.ctl("POST", "/_emulator/invoices", {
            "customer": cus["id"], "price": "price_setup_fee", "amount": 5000})
        self.assertEqual((one["billing_reason"], one["subscription"], one["amount_paid"],
                          one["lines"]["data"][0]["price"]["id"]),
                         ("manual", None, 5000, "price_setup_fee"))
        zero = self.ctl("POST", "/_emulator/invoices", {
            "customer": cus["id"], "subscription": sub["id"],
            "billing_reason": "subscription_cycle", "amount": 0})
        self.assertEqual((zero["status"], zero["amount_paid"]), ("paid", 0))
        open_ = self.ctl("POST", "/_emulator/invoices", {
            "customer": cus["id"], "subscription": sub["id"],
            "billing_reason": "subscription_cycle", "paid": "false"})
        self.assertEqual((open_["status"], open_["amount_due"]), ("open", 59900))
        self.assertEqual(self.ok("GET", "/v1/invoices/%s" % pro["id"])["status"], "paid")
        self.assertEqual(self.event_types().count("invoice.paid"), 4)

    def test_create_paid(self):
        cus, pm = self.customer()
        sub = self.subscribe(cus, expand=["latest_invoice.payment_intent"],
                             metadata={"tollgate_customer": "42"}, expect=200).body
        self.assertTrue(sub["id"].startswith("sub_"))
        self.assertEqual((sub["status"], sub["customer"], sub["metadata"]),
                         ("active", cus["id"], {"tollgate_customer": "42"}))
        self.assertEqual(sub["items"]["data"][0]["price"]["id"], PRO)
        self.assertTrue(sub["items"]["data"][0]["id"].startswith("si_"))
        start, end = sub["current_period_start"], sub["current_period_end"]
        self.assertTrue(28 * 86400 <= end - start <= 31 * 86400)
        inv = sub["latest_invoice"]
        self.assertTrue(inv["id"].startswith("in_"))
        self.assertEqual((inv["status"], inv["paid"], inv["billing_reason"], inv["amount_paid"],
                          inv["currency"], inv["subscription"]),
                         ("paid", True, "subscription_create", 59900, "usd", sub["id"]))
        self.assertTrue(inv["lines"]["data"][0]["id"].startswith("il_"))
        self.assertEqual(inv["payment_intent"]["status"], "succeeded")
        self.assertEqual(inv["payment_intent"]["payment_method"], pm["id"])
        again = self.ok("GET", "/v1/invoices/%s?expand[]=payment_intent" % inv["id"])
        self.assertEqual(again["payment_intent"]["id"], inv["payment_intent"]["id"])
        self.assertEqual([s["id"] for s in self.ok("GET", "/v1/subscriptions", {
            "customer": cus["id"], "status": "active"})["data"]], [sub["id"]])
        self.assertEqual(len(self.ok("GET", "/v1/invoices", {"customer": cus["id"],
                                                            "subscription": sub["id"]})["data"]), 1)
        types = self.event_types()
        for t in ("customer.subscription.created", "invoice.created", "invoice.finalized",
                  "invoice.paid", "invoice.payment_succeeded", "payment_intent.succeeded",
                  "charge.succeeded"):
            self.assertIn(t, types)
        self.assertLess(types.index("customer.subscription.created"), types.index("invoice.paid"))

    def test_subscription_default_payment_method_wins(self):
        cus, _ = self.customer("pm_card_chargeCustomerFail")
        good = self.ok("POST", "/v1/payment_methods/pm_card_visa/attach", {"customer": cus["id"]})
        sub = self.subscribe(cus, default_payment_method=good["id"], expect=200).body
        self.assertEqual(sub["status"], "active")
        r = self.subscribe(cus, default_payment_method="pm_card_visa", expect=400)
        self.assertEqual(r.error["param"], "default_payment_method")

    def test_failing_card(self):
        cus, _ = self.customer("pm_card_chargeCustomerFail")
        sub = self.subscribe(cus, expand=["latest_invoice"], expect=200).body
        self.assertEqual(sub["status"], "incomplete")
        self.assertEqual((sub["latest_invoice"]["status"], sub["latest_invoice"]["paid"]),
                         ("open", False))
        self.assertIn("invoice.payment_failed", self.event_types())
        r = self.subscribe(cus, payment_behavior="error_if_incomplete", expect=402)
        self.assertEqual((r.error["type"], r.error["code"]), ("card_error", "card_declined"))
        self.assertEqual(len(self.ok("GET", "/v1/subscriptions", {"status": "all"})["data"]), 1)
        self.assertEqual(len(self.ok("GET", "/v1/invoices")["data"]), 1)
        # default_incomplete never charges
        sub = self.subscribe(cus, payment_behavior="default_incomplete",
                             expand=["latest_invoice.payment_intent"], expect=200).body
        self.assertEqual(sub["status"], "incomplete")
        self.assertEqual(sub["latest_invoice"]["payment_intent"]["status"],
                         "requires_confirmation")
        # no payment method at all
        bare, _ = self.customer(card=None)
        r = self.subscribe(bare, expect=400)
        self.assertIn("no attached payment source or default payment method",
                      r.error["message"])
        # an incomplete subscription expires after 23 hours
        self.ctl("POST", "/_emulator/clock/advance", {"seconds": 24 * 3600})
        self.assertEqual(self.ok("GET", "/v1/subscriptions/" + sub["id"])["status"],
                         "incomplete_expired")

    def test_paying_an_incomplete_subscription_later(self):
        cus, _ = self.customer("pm_card_chargeCustomerFail")
        sub = self.subscribe(cus, expect=200).body
        good = self.ok("POST", "/v1/payment_methods/pm_card_visa/attach", {"customer": cus["id"]})
        inv = self.ok("POST", "/v1/invoices/%s/pay" % sub["latest_invoice"],
                      {"payment_method": good["id"]})
        self.assertEqual(inv["status"], "paid")
        self.assertEqual(self.ok("GET", "/v1/subscriptions/" + sub["id"])["status"], "active")

    def test_cancel_now(self):
        cus, _ = self.customer()
        sub = self.subscribe(cus, expect=200).body
        gone = self.ok("DELETE", "/v1/subscriptions/" + sub["id"])
        self.assertEqual(gone["status"], "canceled")
        self.assertIsNotNone(gone["canceled_at"])
        self.assertEqual(gone["ended_at"], gone["canceled_at"])
        self.assertEqual(gone["cancellation_details"]["reason"], "cancellation_requested")
        self.assertEqual(self.ok("GET", "/v1/subscriptions", {"customer": cus["id"]})["data"], [])
        self.assertEqual(len(self.ok("GET", "/v1/subscriptions", {"status": "canceled"})["data"]),
                         1)
        self.assertIn("customer.subscription.deleted", self.event_types())
        self.api("DELETE", "/v1/subscriptions/" + sub["id"], expect=404)

    def test_cancel_at_period_end(self):
        cus, _ = self.customer()
        sub = self.subscribe(cus, expect=200).body
        upd = self.ok("POST", "/v1/subscriptions/" + sub["id"], {"cancel_at_period_end": True})
        self.assertEqual((upd["status"], upd["cancel_at_period_end"], upd["cancel_at"]),
                         ("active", True, sub["current_period_end"]))
        ev = [e for e in self.ctl("GET", "/_emulator/events", {"full": "true"})["data"]
              if e["type"] == "customer.subscription.updated"][-1]["event"]
        self.assertEqual(ev["data"]["previous_attributes"]["cancel_at_period_end"], False)
        self.ctl("POST", "/_emulator/clock/advance", {"days": 10})
        self.assertEqual(self.ok("GET", "/v1/subscriptions/" + sub["id"])["status"], "active")
        r = self.api("GET", "/v1/invoices/upcoming", {"customer": cus["id"]}, expect=404)
        self.assertEqual(r.error["code"], "invoice_upcoming_none")
        self.ctl("POST", "/_emulator/clock/advance", {"days": 25})
        done = self.ok("GET", "/v1/subscriptions/" + sub["id"])
        self.assertEqual((done["status"], done["ended_at"]),
                         ("canceled", sub["current_period_end"]))
        self.assertEqual(len(self.ok("GET", "/v1/invoices")["data"]), 1)  # no renewal invoice
        self.flush()
        self.assertIn("customer.subscription.deleted", [e["type"] for e in self.receiver.events()])


class ClockAndWebhooks(Base):
    def verify(self, headers, body):
        """Verify Stripe-Signature independently of the emulator's code."""
        parts = dict(p.split("=", 1) for p in headers["Stripe-Signature"].split(","))
        expected = hmac.new(SECRET.encode(), parts["t"].encode() + b"." + body,
                            hashlib.sha256).hexdigest()
        self.assertTrue(hmac.compare_digest(expected, parts["v1"]))
        self.assertLess(abs(int(parts["t"]) - time.time()), 300)

    def test_renewal_emits_signed_webhooks(self):
        cus, _ = self.customer()
        sub = self.subscribe(cus, expect=200).body
        self.flush()
        self.receiver.clear()
        out = self.ctl("POST", "/_emulator/clock/advance", {"seconds": 32 * 86400})
        self.assertGreaterEqual(out["now"], sub["current_period_end"])
        self.flush()
        with self.receiver.cv:
            got = list(self.receiver.got)
        self.assertTrue(got)
        for headers, body in got:
            self.verify(headers, body)
            self.assertTrue(headers["Content-Type"].startswith("application/json"))
        events = self.receiver.events()
        types = [e["type"] for e in events]
        for t in ("customer.subscription.updated", "invoice.created", "invoice.finalized",
                  "invoice.paid", "invoice.payment_succeeded"):
            self.assertIn(t, types)
        paid = events[types.index("invoice.paid")]
        self.assertEqual(paid["api_version"], "2023-08-16")
        self.assertEqual((paid["object"], paid["livemode"]), ("event", False))
        self.assertEqual(paid["request"], {"id": None, "idempotency_key": None})
        self.assertTrue(paid["id"].startswith("evt_"))
        inv = paid["data"]["object"]
        self.assertEqual((inv["billing_reason"], inv["status"], inv["amount_paid"]),
                         ("subscription_cycle", "paid", 59900))
        self.assertEqual(inv["lines"]["data"][0]["period"]["start"], sub["current_period_end"])
        self.assertGreaterEqual(paid["created"], sub["current_period_end"])
        upd = events[types.index("customer.subscription.updated")]
        self.assertEqual(upd["data"]["previous_attributes"]["current_period_end"],
                         sub["current_period_end"])
        now = self.ok("GET", "/v1/subscriptions/" + sub["id"])
        self.assertEqual((now["status"], now["current_period_start"]),
                         ("active", sub["current_period_end"]))
        # delivery status is visible, and pending_webhooks went to 0
        ev = self.ok("GET", "/v1/events/" + paid["id"])
        self.assertEqual(ev["pending_webhooks"], 0)
        listed = self.ctl("GET", "/_emulator/events", {"type": "invoice.paid"})["data"]
        self.assertEqual(listed[-1]["delivery"][self.receiver.url]["status"], "delivered")
        self.assertEqual(len(self.ok("GET", "/v1/events", {"type": "invoice.paid"})["data"]), 2)
        self.assertEqual(len(self.ok("GET", "/v1/events", {"type": "invoice.*",
                                                           "limit": 100})["data"]),
                         len([t for t in self.event_types() if t.startswith("invoice.")]))

    def test_events_carry_the_request(self):
        r = self.api("POST", "/v1/customers", {"email": "e@example.com"},
                     headers={"Idempotency-Key": "ev-key"}, expect=200)
        self.flush()
        ev = [e for e in self.receiver.events() if e["type"] == "customer.created"][0]
        self.assertEqual(ev["request"], {"id": r.headers["Request-Id"],
                                         "idempotency_key": "ev-key"})
        self.assertEqual(ev["data"]["object"]["id"], r.body["id"])
        self.assertEqual(list(ev["data"]["object"])[:2], ["id", "object"])

    def test_renewal_failure_and_recovery(self):
        cus, _ = self.customer()
        sub = self.subscribe(cus, expect=200).body
        bad = self.ok("POST", "/v1/payment_methods/pm_card_chargeCustomerFail/attach",
                      {"customer": cus["id"]})
        self.ok("POST", "/v1/customers/" + cus["id"],
                {"invoice_settings": {"default_payment_method": bad["id"]}})
        self.receiver.clear()
        self.ctl("POST", "/_emulator/clock/advance", {"seconds": sub["current_period_end"] -
                                                      sub["current_period_start"] + 60})
        self.flush()
        types = [e["type"] for e in self.receiver.events()]
        self.assertIn("invoice.payment_failed", types)
        self.assertIn("charge.failed", types)
        past = self.ok("GET", "/v1/subscriptions/" + sub["id"], {"expand": ["latest_invoice"]})
        self.assertEqual(past["status"], "past_due")
        inv = past["latest_invoice"]
        self.assertEqual((inv["status"], inv["billing_reason"], inv["attempt_count"]),
                         ("open", "subscription_cycle", 1))
        self.assertGreater(inv["next_payment_attempt"], past["current_period_start"])
        # the customer fixes the card; the retry (3 days later) pays
        good = self.ok("POST", "/v1/payment_methods/pm_card_visa/attach", {"customer": cus["id"]})
        self.ok("POST", "/v1/customers/" + cus["id"],
                {"invoice_settings": {"default_payment_method": good["id"]}})
        self.ctl("POST", "/_emulator/clock/advance", {"days": 3})
        again = self.ok("GET", "/v1/subscriptions/" + sub["id"], {"expand": ["latest_invoice"]})
        self.assertEqual((again["status"], again["latest_invoice"]["status"],
                          again["latest_invoice"]["attempt_count"]), ("active", "paid", 2))

    def test_dunning_ends_in_cancellation(self):
        cus, _ = self.customer()
        sub = self.subscribe(cus, expect=200).body
        bad = self.ok("POST", "/v1/payment_methods/pm_card_chargeCustomerFail/attach",
                      {"customer": cus["id"]})
        self.ok("POST", "/v1/subscriptions/" + sub["id"], {"default_payment_method": bad["id"]})
        self.ctl("POST", "/_emulator/clock/advance", {"days": 31 + 16})
        done = self.ok("GET", "/v1/subscriptions/" + sub["id"])
        self.assertEqual((done["status"], done["cancellation_details"]["reason"]),
                         ("canceled", "payment_failed"))

    def test_retries_failed_deliveries_in_order(self):
        self.receiver.fail_next = 2
        a = self.ok("POST", "/v1/customers", {"email": "1@example.com"})
        b = self.ok("POST", "/v1/customers", {"email": "2@example.com"})
        self.flush()
        got = [e["data"]["object"]["id"] for e in self.receiver.events()]
        self.assertEqual(got, [a["id"], b["id"]])
        first = self.ctl("GET", "/_emulator/events")["data"][0]["delivery"][self.receiver.url]
        self.assertEqual((first["status"], first["attempts"]), ("delivered", 3))
        # resend delivers a duplicate with the same id
        self.ctl("POST", "/_emulator/events/%s/resend" % self.receiver.events()[0]["id"])
        self.flush()
        self.assertEqual([e["id"] for e in self.receiver.events()].count(
            self.receiver.events()[0]["id"]), 2)

    @unittest.skipUnless(os.path.exists(os.path.join(SHARED, "signature_vectors.json")),
                         "signature_vectors.json not available")
    def test_signature_vectors(self):
        with open(os.path.join(SHARED, "signature_vectors.json")) as f:
            vectors = json.load(f)["vectors"]
        self.assertTrue(vectors)
        for v in vectors:
            with self.subTest(vector=v["name"]):
                if "payload_file" in v:
                    with open(os.path.join(SHARED, v["payload_file"]), "rb") as f:
                        payload = f.read()
                else:
                    payload = v["payload"].encode("utf-8")
                items = [x.split("=", 1) for x in v["header"].split(",")]
                t = int(dict(items)["t"])
                v1 = [s for k, s in items if k == "v1"]
                mine = emu_webhooks.sign(payload, v["secret"], t)
                self.assertEqual(emu_webhooks.signature_header(payload, v["secret"], t),
                                 "t=%d,v1=%s" % (t, mine))
                self.assertEqual(emu_webhooks.verify_header(v["header"], payload, v["secret"],
                                                            v["tolerance"], v["now"]),
                                 v["expect_valid"])
                if v["expect_valid"]:
                    self.assertIn(mine, v1)
                if v["name"] == "key_without_prefix":
                    self.assertNotIn(mine, v1)
                    self.assertIn(emu_webhooks.sign(payload, v["secret"][len("whsec_"):], t), v1)


class Faults(Base):
    def test_error_500_and_count(self):
        f = self.ctl("POST", "/_emulator/faults", {"mode": "error", "status": 500,
                                                   "path": "/v1/customers", "count": 1})
        self.assertEqual(f["count"], 1)
        r = self.api("GET", "/v1/customers", expect=500)
        self.assertEqual(r.error["type"], "api_error")
        self.assertTrue(r.headers["Request-Id"].startswith("req_"))
        self.api("GET", "/v1/customers", expect=200)

    def test_rate_limit_429(self):
        self.ctl("POST", "/_emulator/faults", {"mode": "error", "status": 429})
        r = self.api("POST", "/v1/customers", {}, expect=429)
        self.assertEqual(r.headers["Stripe-Should-Retry"], "true")
        self.assertEqual(r.error["code"], "rate_limit")
        self.api("GET", "/v1/prices/" + PRO, expect=429)
        self.assertEqual(self.ctl("DELETE", "/_emulator/faults")["cleared"], 1)
        self.api("GET", "/v1/prices/" + PRO, expect=200)

    def test_method_and_path_filters(self):
        self.ctl("POST", "/_emulator/faults", {"mode": "error", "status": 503, "method": "POST",
                                               "path": "/v1/payment_intents"})
        self.api("GET", "/v1/payment_intents", expect=200)
        self.api("POST", "/v1/customers", {}, expect=200)
        self.api("POST", "/v1/payment_intents", {"amount": 100, "currency": "usd"}, expect=503)

    def test_latency(self):
        self.ctl("POST", "/_emulator/faults", {"mode": "latency", "delay_ms": 400, "count": 1})
        t0 = time.time()
        self.api("GET", "/v1/customers", expect=200)
        self.assertGreaterEqual(time.time() - t0, 0.4)
        t0 = time.time()
        self.api("GET", "/v1/customers", expect=200)
        self.assertLess(time.time() - t0, 0.4)

    def test_reset(self):
        self.ctl("POST", "/_emulator/faults", {"mode": "reset", "count": 1})
        with self.assertRaises((ConnectionError, http.client.HTTPException)):
            self.request("GET", "/v1/customers")
        self.api("GET", "/v1/customers", expect=200)

    def test_response_lost_after_execution_then_replayed(self):
        self.ctl("POST", "/_emulator/faults", {"mode": "reset", "phase": "after", "count": 1,
                                               "method": "POST"})
        h = {"Idempotency-Key": "lost-1"}
        with self.assertRaises((ConnectionError, http.client.HTTPException)):
            self.request("POST", "/v1/customers", {"email": "l@example.com"}, headers=h)
        r = self.api("POST", "/v1/customers", {"email": "l@example.com"}, headers=h, expect=200)
        self.assertEqual(r.headers["Idempotent-Replayed"], "true")
        self.assertEqual(len(self.ok("GET", "/v1/customers")["data"]), 1)

    def test_hang_does_not_block_others(self):
        self.ctl("POST", "/_emulator/faults", {"mode": "hang", "path": "/v1/customers",
                                               "count": 1})
        caught = []

        def hanging():
            try:
                self.request("GET", "/v1/customers", timeout=1.5)
            except Exception as e:
                caught.append(e)
        t = threading.Thread(target=hanging)
        t0 = time.time()
        t.start()
        time.sleep(0.3)
        self.api("GET", "/v1/prices/" + PRO, expect=200)   # served while the other hangs
        self.assertLess(time.time() - t0, 1.4)
        t.join()
        self.assertEqual(len(caught), 1)
        self.assertIsInstance(caught[0], (TimeoutError, socket.timeout))
        self.assertGreaterEqual(time.time() - t0, 1.4)
        log = [r for r in self.ctl("GET", "/_emulator/requests")["data"]
               if r["path"] == "/v1/customers"]
        self.assertEqual(log[0]["fault"], "hang")


class UpcomingInvoice(Base):
    def test_without_subscription(self):
        cus, _ = self.customer()
        inv = self.ok("GET", "/v1/invoices/upcoming", {"customer": cus["id"],
                                                      "subscription_items": [{"price": PRO}]})
        self.assertNotIn("id", inv)
        self.assertEqual((inv["object"], inv["amount_due"], inv["currency"], inv["total"],
                          inv["customer"], inv["subscription"]),
                         ("invoice", 59900, "usd", 59900, cus["id"], None))
        ln = inv["lines"]["data"][0]
        self.assertEqual((ln["price"]["id"], ln["amount"], ln["proration"], ln["quantity"]),
                         (PRO, 59900, False, 1))
        self.assertTrue(28 * 86400 <= ln["period"]["end"] - ln["period"]["start"] <= 31 * 86400)
        r = self.api("GET", "/v1/invoices/upcoming", {"customer": cus["id"]}, expect=404)
        self.assertEqual(r.error["code"], "invoice_upcoming_none")
        self.assertEqual(r.error["message"], "No upcoming invoices for customer: " + cus["id"])

    def test_with_subscription_and_proration(self):
        cus, _ = self.customer()
        sub = self.subscribe(cus, price=BASIC, expect=200).body
        inv = self.ok("GET", "/v1/invoices/upcoming", {"customer": cus["id"]})
        self.assertEqual((inv["amount_due"], inv["subscription"], inv["billing_reason"]),
                         (1000, sub["id"], "upcoming"))
        self.assertGreaterEqual(inv["next_payment_attempt"], sub["current_period_end"])
        self.assertEqual(inv["lines"]["data"][0]["period"]["start"], sub["current_period_end"])
        item = sub["items"]["data"][0]["id"]
        half = sub["current_period_start"] + (sub["current_period_end"] -
                                              sub["current_period_start"]) // 2
        inv = self.ok("GET", "/v1/invoices/upcoming", {
            "customer": cus["id"], "subscription": sub["id"],
            "subscription_items": [{"id": item, "price": PRO}],
            "subscription_proration_date": half})
        pro = [ln for ln in inv["lines"]["data"] if ln["proration"]]
        self.assertEqual(len(pro), 2)
        self.assertEqual(sorted(ln["amount"] for ln in pro), [-500, 29950])
        self.assertEqual(inv["subscription_proration_date"], half)
        self.assertEqual(inv["amount_due"], 29950 - 500 + 59900)


@unittest.skipUnless(HAVE_SPEC, "spec3.json not available")
class ResponseShapes(Base):
    """Everything the emulator answers fits the response schemas of spec3.json."""

    def check(self, schema, obj):
        errs = self.spec.shape_errors(schema, obj)
        self.assertEqual(errs, [], "%s %s" % (schema, obj.get("id")))

    def test_shapes(self):
        self.spec = emu_spec.Spec(os.path.join(SHARED, "openapi", "spec3.json"))
        cus, pm = self.customer()
        self.check("customer", cus)
        self.check("payment_method", pm)
        sub = self.subscribe(cus, expect=200).body
        self.check("subscription", sub)
        inv = self.ok("GET", "/v1/invoices/" + sub["latest_invoice"])
        self.check("invoice", inv)
        pi = self.ok("GET", "/v1/payment_intents/" + inv["payment_intent"])
        self.check("payment_intent", pi)
        self.check("charge", self.ok("GET", "/v1/charges/" + pi["latest_charge"]))
        self.check("refund", self.ok("POST", "/v1/refunds", {"payment_intent": pi["id"],
                                                             "amount": 100}))
        self.check("price", self.ok("GET", "/v1/prices/" + PRO))
        self.check("product", self.ok("GET", "/v1/products/" +
                                      self.ok("GET", "/v1/prices/" + PRO)["product"]))
        self.check("invoice", self.ok("GET", "/v1/invoices/upcoming", {"customer": cus["id"]}))
        bad, _ = self.customer("pm_card_chargeCustomerFail")
        r = self.api("POST", "/v1/payment_intents", {"amount": 900, "currency": "usd",
                                                     "customer": bad["id"], "confirm": True,
                                                     "payment_method": bad["invoice_settings"]
                                                     ["default_payment_method"],
                                                     "off_session": True}, expect=402)
        self.check("error", r.body)
        self.check("payment_intent", self.ok("GET", "/v1/payment_intents/" +
                                             r.error["payment_intent"]["id"]))
        self.ok("POST", "/v1/subscriptions/" + sub["id"], {"cancel_at_period_end": True})
        self.ctl("POST", "/_emulator/clock/advance", {"days": 40})
        for ev in self.ok("GET", "/v1/events", {"limit": 100})["data"]:
            self.check("event", ev)
            kind = ev["data"]["object"]["object"]
            self.check(kind, ev["data"]["object"])
        for name in ("customers", "subscriptions", "invoices", "payment_intents", "refunds"):
            for obj in self.ok("GET", "/v1/" + name, {"limit": 100})["data"]:
                self.check(obj["object"], obj)


class Lifecycle(unittest.TestCase):
    def test_sigterm_and_quick_start(self):
        t0 = time.time()
        proc, port = start_emulator("--log", os.devnull)
        self.assertLess(time.time() - t0, 5)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/_emulator/health")
        self.assertEqual(conn.getresponse().status, 200)
        conn.close()
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(10), 0)
        proc.stdout.close()
        proc.stderr.close()

    def test_without_spec(self):
        proc, port = start_emulator("--shared", "/nonexistent/stripe", "--log", os.devnull)
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("POST", "/v1/customers", "email=a%40example.com&whatever=1",
                         {"Authorization": "Bearer " + KEY,
                          "Content-Type": "application/x-www-form-urlencoded"})
            r = conn.getresponse()
            body = json.loads(r.read())
            self.assertEqual(r.status, 200)
            self.assertEqual(body["email"], "a@example.com")
            conn.close()
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)
            err = proc.stderr.read()
            proc.stdout.close()
            proc.stderr.close()
        self.assertIn("WITHOUT request validation", err)

    @unittest.skipUnless(shutil.which("curl") and shutil.which("setsid"), "needs curl, setsid")
    def test_stack_functions(self):
        d = tempfile.mkdtemp(prefix="stripe-emu-stack-")
        try:
            script = ('set -e; . "$1/scripts/stack.sh"; stack_stripe_start "$2"; '
                      'curl -sf "http://127.0.0.1:$(cat "$2/stripe.port")/_emulator/health" '
                      '>/dev/null; stack_stripe_stop "$2"')
            r = subprocess.run(["bash", "-c", script, "bash", REPO, d], capture_output=True,
                               text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertFalse(os.path.exists(os.path.join(d, "stripe-emulator.pid")))
            with open(os.path.join(d, "stripe-emulator.log")) as f:
                self.assertIn("listening on", f.read())
        finally:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
