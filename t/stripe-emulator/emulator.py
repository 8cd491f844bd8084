#!/usr/bin/env python3
"""Stripe emulator for tollgate's tests and dev stack (Python 3.11 stdlib only).

  python3 t/stripe-emulator/emulator.py --port N [--host 127.0.0.1] [--shared DIR] [--log FILE]

Speaks Stripe's API (version 2023-08-16) for the calls tollgate makes, keeps
state, validates every request against ../shared/stripe/openapi/spec3.json,
honours idempotency keys, sends signed webhooks, and can be told to be slow,
fail or hang. See README.md in this directory for the control endpoints.
"""
import argparse
import base64
import json
import os
import select
import pickle
import signal
import socket
import struct
import sys
import threading
import time
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # keep the source tree free of __pycache__

import emu_errors as E  # noqa: E402
import emu_spec  # noqa: E402
from emu_faults import Faults  # noqa: E402
from emu_objects import API_VERSION, ordered, rand  # noqa: E402
from emu_subscriptions import Stripe  # noqa: E402
from emu_webhooks import Dispatcher  # noqa: E402

DEFAULT_PRICES = "price_tollgate_pro_monthly:59900:usd:month"
DEFAULT_WEBHOOK_SECRET = "whsec_tollgate_emulator_secret"
IDEMPOTENCY_TTL = 24 * 3600

# (method, spec path template, handler); templates are spec3.json's own
ROUTES = [
    ("GET", "/v1/customers", "customers_list"),
    ("POST", "/v1/customers", "customer_create"),
    ("GET", "/v1/customers/{customer}", "customer_get"),
    ("POST", "/v1/customers/{customer}", "customer_update"),
    ("DELETE", "/v1/customers/{customer}", "customer_delete"),
    ("GET", "/v1/customers/{customer}/payment_methods", "customer_pms"),
    ("GET", "/v1/payment_methods", "pm_list"),
    ("POST", "/v1/payment_methods", "pm_create"),
    ("GET", "/v1/payment_methods/{payment_method}", "pm_get"),
    ("POST", "/v1/payment_methods/{payment_method}/attach", "pm_attach"),
    ("POST", "/v1/payment_methods/{payment_method}/detach", "pm_detach"),
    ("GET", "/v1/prices", "price_list"),
    ("GET", "/v1/prices/{price}", "price_get"),
    ("GET", "/v1/products/{id}", "product_get"),
    ("GET", "/v1/subscriptions", "sub_list"),
    ("POST", "/v1/subscriptions", "sub_create"),
    ("GET", "/v1/subscriptions/{subscription_exposed_id}", "sub_get"),
    ("POST", "/v1/subscriptions/{subscription_exposed_id}", "sub_update"),
    ("DELETE", "/v1/subscriptions/{subscription_exposed_id}", "sub_cancel"),
    ("GET", "/v1/invoices", "invoice_list"),
    ("GET", "/v1/invoices/upcoming", "invoice_upcoming"),
    ("GET", "/v1/invoices/{invoice}", "invoice_get"),
    ("POST", "/v1/invoices/{invoice}/pay", "invoice_pay"),
    ("GET", "/v1/payment_intents", "pi_list"),
    ("POST", "/v1/payment_intents", "pi_create"),
    ("GET", "/v1/payment_intents/{intent}", "pi_get"),
    ("POST", "/v1/payment_intents/{intent}/confirm", "pi_confirm"),
    ("POST", "/v1/payment_intents/{intent}/cancel", "pi_cancel"),
    ("GET", "/v1/charges", "charge_list"),
    ("GET", "/v1/charges/{charge}", "charge_get"),
    ("GET", "/v1/refunds", "refund_list"),
    ("POST", "/v1/refunds", "refund_create"),
    ("GET", "/v1/refunds/{refund}", "refund_get"),
    ("GET", "/v1/events", "event_list"),
    ("GET", "/v1/events/{id}", "event_get"),
]

# Valid Stripe parameters whose effect the emulator does not model: rather than
# ignore them silently, it answers 400 emulator_not_implemented (empty or false
# values pass).
_SUB = {"add_invoice_items", "application_fee_percent", "backdate_start_date",
        "billing_cycle_anchor", "billing_thresholds", "coupon", "default_source",
        "default_tax_rates", "on_behalf_of", "pending_invoice_item_interval",
        "promotion_code", "transfer_data", "automatic_tax"}
UNSUPPORTED = {
    "customer_create": {"cash_balance", "coupon", "promotion_code", "source", "tax",
                        "tax_id_data", "test_clock"},
    "customer_update": {"bank_account", "card", "cash_balance", "coupon", "default_alipay_account",
                        "default_bank_account", "default_card", "default_source",
                        "promotion_code", "source", "tax"},
    "sub_create": _SUB,
    "sub_update": _SUB | {"pause_collection", "proration_date", "trial_end", "trial_from_plan"},
    "pi_create": {"application_fee_amount", "automatic_payment_methods", "capture_method",
                  "mandate", "mandate_data", "on_behalf_of", "payment_method_data",
                  "shipping", "transfer_data"},
    "pi_confirm": {"capture_method", "mandate", "mandate_data", "payment_method_data",
                   "shipping"},
    "refund_create": {"instructions_email", "origin", "refund_application_fee",
                      "reverse_transfer"},
    "invoice_upcoming": {"automatic_tax", "coupon", "customer_details", "discounts",
                         "invoice_items", "schedule", "subscription_billing_cycle_anchor",
                         "subscription_cancel_at", "subscription_default_tax_rates",
                         "subscription_resume_at", "subscription_start_date",
                         "subscription_trial_end"},
}


def _harmless(v):
    """Values that ask for nothing beyond the default (false, "", automatic)."""
    if isinstance(v, dict):
        return all(_harmless(x) for x in v.values())
    if isinstance(v, list):
        return all(_harmless(x) for x in v)
    return v in (None, "", False, "false", "automatic")


def unsupported(handler, params):
    for name in sorted(UNSUPPORTED.get(handler, ())):
        if _harmless(params.get(name)):
            continue
        return E.invalid_request(
            "The Stripe emulator does not emulate the parameter `%s` (Stripe accepts it)."
            % name, name, "emulator_not_implemented")
    return None


def default_shared():
    return os.environ.get("STRIPE_SHARED") or os.path.join(
        os.path.dirname(os.path.dirname(os.path.dirname(HERE))), "shared", "stripe")


class Emulator:
    def __init__(self, shared, log):
        self.log = log
        self.spec = None
        spec_path = os.path.join(shared, "openapi", "spec3.json")
        if os.path.exists(spec_path):
            t0 = time.time()
            self.spec = emu_spec.Spec(spec_path)
            log("loaded %s (API %s, %d operations) in %.2fs"
                % (spec_path, self.spec.version, len(self.spec.ops), time.time() - t0))
        else:
            sys.stderr.write("stripe-emulator: %s not found: running WITHOUT request validation "
                             "against Stripe's OpenAPI spec\n" % spec_path)
            sys.stderr.flush()
        self.stripe = Stripe(shared, os.environ.get("EMULATOR_PRICES", DEFAULT_PRICES), log)
        self.webhooks = Dispatcher(self.stripe, log)
        self.stripe.on_event = self.webhooks.enqueue
        self.stripe.webhook_count = self.webhooks.count
        self.faults = Faults()
        self.api_key = os.environ.get("EMULATOR_API_KEY")
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.routes = [(m, t, h, emu_spec.template_regex(t)) for m, t, h in
                       sorted(ROUTES, key=lambda r: (r[1].count("{"), -len(r[1])))]
        self.reset()

    def reset(self):
        with self.stripe.lock:
            self.stripe.reset()
        with self.lock:
            self.requests = []
            self.idem = {}
            self.inflight = set()
        self.faults.clear()
        self.webhooks.reset()
        self.webhooks.clear_endpoints()
        if os.environ.get("EMULATOR_WEBHOOK_URL"):
            self.webhooks.add_endpoint(os.environ["EMULATOR_WEBHOOK_URL"],
                                       os.environ.get("EMULATOR_WEBHOOK_SECRET",
                                                      DEFAULT_WEBHOOK_SECRET))

    def route(self, method, path):
        for m, t, h, rx in self.routes:
            mm = rx.match(path)
            if mm and m == method:
                return h, t, {k: urllib.parse.unquote(v) for k, v in mm.groupdict().items()}
        return None

    def check_auth(self, header):
        if not header or not header.strip():
            raise E.auth_missing()
        scheme, _, cred = header.strip().partition(" ")
        cred = cred.strip()
        if scheme.lower() == "basic":
            try:
                cred = base64.b64decode(cred).decode().partition(":")[0]
            except Exception:
                raise E.auth_invalid(cred)
        elif scheme.lower() != "bearer":
            raise E.auth_invalid(header.strip())
        if not cred:
            raise E.auth_missing()
        if (self.api_key and cred != self.api_key) or \
                not cred.startswith(("sk_test_", "rk_test_")):
            raise E.auth_invalid(cred)
        return cred

    def record(self, entry):
        with self.lock:
            self.requests.append(entry)
            if len(self.requests) > 100000:
                del self.requests[:10000]


def error_body(err, req_id, now):
    e = dict(err.error)
    e["request_log_url"] = "https://dashboard.stripe.com/test/logs/%s?t=%d" % (req_id, now)
    return {"error": dict(sorted(e.items()))}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def version_string(self):
        return "nginx"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def send(self, status, body, headers=None):
        data = body if isinstance(body, bytes) else \
            (json.dumps(body, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def dispatch(self, method):
        em = self.server.em
        url = urllib.parse.urlsplit(self.path)
        try:
            body = self.read_body()
        except Exception:
            self.close_connection = True
            return
        if url.path.startswith("/_emulator"):
            return self.control(em, method, url, body)
        return self.api(em, method, url, body)

    # ------------------------------------------------------------ Stripe API
    def api(self, em, method, url, body):
        st = em.stripe
        t0 = time.time()
        req_id = "req_" + rand(14)
        ikey = self.headers.get("Idempotency-Key")
        version = self.headers.get("Stripe-Version")
        headers = {"Request-Id": req_id, "Stripe-Version": version or API_VERSION}
        params = emu_spec.decode_form(url.query)
        if body and method in ("POST", "DELETE"):
            params.update(emu_spec.decode_form(body))
        entry = {"id": req_id, "time": st.now(), "method": method, "path": url.path,
                 "query": url.query, "params": params, "idempotency_key": ikey,
                 "stripe_version": version, "operation": None, "valid": None,
                 "validation_error": None, "status": None, "replayed": False, "fault": None}
        em.record(entry)
        # spec validation (always computed, so the log says whether it was valid)
        found = em.route(method, url.path)
        template = found[1] if found else None
        if em.spec and not template:
            m = em.spec.match(method, url.path)
            template = m and m[0]
        typed, invalid = params, None
        if em.spec:
            if template:
                entry["operation"] = em.spec.operation_id(method, template)
                try:
                    typed = em.spec.validate(method, template, params)
                except E.StripeError as e:
                    invalid = e
            else:
                invalid = E.unrecognized_url(method, url.path)
            entry["valid"] = invalid is None
            entry["validation_error"] = invalid and invalid.error
        if ikey and method == "POST":
            headers["Idempotency-Key"] = ikey

        def finish(status, payload, extra=None):
            entry["status"] = status
            h = dict(headers)
            h.update(extra or {})
            em.log("%s %s %s -> %s%s (%.0f ms)" % (req_id, method, url.path, status,
                                                   "" if entry["valid"] is not False
                                                   else " [invalid]", (time.time() - t0) * 1000))
            self.send(status, payload, h)

        def fail(err):
            finish(err.status, error_body(err, req_id, st.now()), err.headers)

        try:
            em.check_auth(self.headers.get("Authorization"))
        except E.StripeError as e:
            return fail(e)
        if not found:
            if em.spec and template:
                return fail(E.not_emulated(method, url.path))
            return fail(E.unrecognized_url(method, url.path))
        if invalid:
            return fail(invalid)
        handler, template, path_params = found
        refused = unsupported(handler, typed)
        if refused:
            return fail(refused)

        # idempotency
        replay, mine = None, False
        if ikey and method == "POST":
            fp = json.dumps(params, sort_keys=True)
            conflict = None
            with em.lock:
                rec = em.idem.get(ikey)
                if rec and rec["created"] < st.now() - IDEMPOTENCY_TTL:
                    rec = None
                if rec:
                    if rec["path"] != url.path:
                        conflict = E.idempotency_endpoint(ikey, rec["path"], url.path)
                    elif rec["fingerprint"] != fp:
                        conflict = E.idempotency_mismatch(ikey)
                    replay = rec
                elif ikey in em.inflight:
                    conflict = E.idempotency_in_progress(ikey)
                else:
                    em.inflight.add(ikey)
                    mine = True
            if conflict:
                return fail(conflict)

        fault = em.faults.take(method, url.path)
        if fault:
            entry["fault"] = fault["mode"]
        try:
            if fault and fault["phase"] == "before":
                if self.apply_fault(em, fault, fail):
                    return
            if replay:
                entry["replayed"] = True
                status, payload, extra = replay["status"], replay["body"], dict(replay["headers"])
                extra.update({"Idempotent-Replayed": "true",
                              "Original-Request": replay["request_id"]})
            else:
                status, payload, extra = self.execute(st, handler, typed, path_params,
                                                      req_id, ikey)
                if mine:
                    with em.lock:
                        em.idem[ikey] = {"path": url.path, "fingerprint": fp, "status": status,
                                         "body": payload, "headers": extra,
                                         "created": st.now(), "request_id": req_id}
                extra = dict(extra, **{"Original-Request": req_id}) if ikey else extra
        finally:
            if mine:
                with em.lock:
                    em.inflight.discard(ikey)
        if fault and fault["phase"] == "after":
            if fault["mode"] == "latency":
                time.sleep(fault["delay_ms"] / 1000.0)
            elif self.apply_fault(em, fault, fail):
                return
        finish(status, payload, extra)

    def execute(self, st, handler, params, path_params, req_id, ikey):
        expand = params.get("expand") if isinstance(params.get("expand"), list) else []
        with st.lock:
            st.ctx.request = {"id": req_id, "idempotency_key": ikey}
            try:
                obj = getattr(st, handler)(params, path_params)
                body = json.dumps(ordered(st.render(obj, expand)), indent=2,
                                  ensure_ascii=False) + "\n"
                body = body.encode("utf-8")
                return 200, body, {}
            except E.StripeError as e:
                return e.status, (json.dumps(error_body(e, req_id, st.now()), indent=2)
                                  + "\n").encode("utf-8"), dict(e.headers)
            except Exception as e:  # a bug in the emulator: say so, keep serving
                self.server.em.log("BUG in %s: %s" % (handler, traceback.format_exc()))
                err = E.StripeError(500, {"message": "Stripe emulator bug in %s: %s: %s"
                                          % (handler, type(e).__name__, e), "type": "api_error"})
                return 500, (json.dumps(error_body(err, req_id, st.now()), indent=2)
                             + "\n").encode("utf-8"), {}
            finally:
                st.ctx.request = None

    def apply_fault(self, em, fault, fail):
        """Carry out FAULT; True when the request is finished with it."""
        mode = fault["mode"]
        if mode == "latency":
            time.sleep(fault["delay_ms"] / 1000.0)
            return False
        if mode == "error":
            if fault["delay_ms"]:
                time.sleep(fault["delay_ms"] / 1000.0)
            fail(em.faults.error_for(fault))
            return True
        if mode == "hang":
            self.hang(em, fault["delay_ms"] / 1000.0)
        em.log("fault %s: %s %s" % (mode, self.command, self.path))
        self.abort()
        return True

    def hang(self, em, limit):
        end = time.time() + limit
        sock = self.connection
        while time.time() < end and not em.stopping.is_set():
            r, _, _ = select.select([sock], [], [], 0.2)
            if r:
                try:
                    if not sock.recv(1, socket.MSG_PEEK):
                        return
                except OSError:
                    return

    def abort(self):
        """Close the connection without an answer (RST: SO_LINGER 0)."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.rfile.close()
            self.wfile.close()
            self.connection.close()
        except OSError:
            pass

    # ------------------------------------------------------ control endpoints
    def control(self, em, method, url, body):
        headers = {"Request-Id": "req_" + rand(14)}
        p = emu_spec.decode_form(url.query)
        if body:
            if "json" in (self.headers.get("Content-Type") or ""):
                try:
                    p.update(json.loads(body))
                except ValueError:
                    return self.send(400, {"error": {"message": "invalid JSON body",
                                                     "type": "invalid_request_error"}}, headers)
            else:
                p.update(emu_spec.decode_form(body))
        path = url.path.rstrip("/")
        st = em.stripe
        try:
            out = self.control_route(em, st, method, path, p)
        except E.StripeError as e:
            return self.send(e.status, {"error": e.error}, headers)
        except Exception as e:
            em.log("BUG in %s %s: %s" % (method, path, traceback.format_exc()))
            return self.send(500, {"error": {"message": "%s: %s" % (type(e).__name__, e),
                                             "type": "api_error"}}, headers)
        if out is None:
            return self.send(404, {"error": {"message": "no such control endpoint: %s %s"
                                             % (method, path), "type": "invalid_request_error"}},
                             headers)
        self.send(200, out, headers)

    def control_route(self, em, st, method, path, p):
        parts = path.split("/")[2:]
        key = (method, "/".join(parts))
        if key == ("GET", "health"):
            return {"status": "ok", "api_version": API_VERSION, "spec": em.spec is not None,
                    "now": st.now()}
        if key == ("POST", "reset"):
            em.reset()
            return {"reset": True, "now": st.now()}
        if key == ("GET", "requests"):
            with em.lock:
                data = [dict(r) for r in em.requests]
            return {"object": "list", "count": len(data),
                    "invalid": sum(1 for r in data if r["valid"] is False), "data": data}
        if key == ("DELETE", "requests"):
            with em.lock:
                em.requests = []
            return {"cleared": True}
        if key == ("GET", "clock"):
            return {"now": st.now(), "offset": int(st.clock.offset)}
        if key == ("POST", "clock/advance"):
            try:
                seconds = int(p.get("seconds", 0)) + int(p.get("days", 0)) * 86400
            except ValueError:
                raise E.invalid_integer("seconds", p.get("seconds"))
            if seconds < 0:
                raise E.invalid_request("the clock only moves forward", "seconds")
            with st.lock:
                n = len(st.events)
                st.ctx.request = None
                now = st.advance(seconds)
                new = st.events[n:]
            return {"now": now, "advanced": seconds,
                    "events": [{"id": i, "type": st.objs[i]["type"]} for i in new]}
        if key == ("GET", "events"):
            with st.lock:
                evs = [st.objs[i] for i in st.events
                       if not p.get("type") or st.objs[i]["type"] == p["type"]]
                data = [{"id": e["id"], "type": e["type"], "created": e["created"],
                         "object_id": e["data"]["object"].get("id"),
                         "pending_webhooks": e["pending_webhooks"], "request": e["request"],
                         "delivery": em.webhooks.delivery(e["id"]),
                         **({"event": e} if p.get("full") == "true" else {})} for e in evs]
            return {"object": "list", "count": len(data), "data": data}
        if method == "POST" and len(parts) == 3 and parts[0] == "events" and parts[2] == "resend":
            with st.lock:
                ev = st.get("event", parts[1])
                em.webhooks.enqueue(ev, p.get("url"))
            return {"resent": ev["id"]}
        if key == ("GET", "webhooks"):
            return {"endpoints": list(em.webhooks.endpoints), "paused": em.webhooks.paused}
        if key == ("POST", "webhooks"):
            if not p.get("url"):
                raise E.missing_param("url")
            ts = p.get("timestamp") or "real"
            if ts not in ("real", "clock"):
                raise E.invalid_enum("timestamp", ("real", "clock"))
            return em.webhooks.add_endpoint(p["url"], p.get("secret"),
                                            p.get("enabled_events") or None, ts)
        if key == ("DELETE", "webhooks"):
            em.webhooks.clear_endpoints()
            return {"cleared": True}
        if key in (("POST", "webhooks/pause"), ("POST", "webhooks/resume")):
            em.webhooks.pause(parts[1] == "pause")
            return {"paused": em.webhooks.paused}
        if key == ("POST", "webhooks/flush"):
            left = em.webhooks.flush(float(p.get("timeout", 10)))
            return {"pending": left}
        if key == ("GET", "faults"):
            return {"faults": em.faults.list()}
        if key == ("POST", "faults"):
            return em.faults.add(p)
        if key == ("DELETE", "faults"):
            return {"cleared": em.faults.clear()}
        if key == ("DELETE", "idempotency_keys"):
            # What 24 hours do at Stripe: every key is forgotten, so a
            # repeated request with one acts anew.
            with em.lock:
                n = len(em.idem)
                em.idem.clear()
            return {"forgotten": n}
        if key == ("POST", "invoices"):
            with st.lock:
                st.ctx.request = None
                return ordered(st.render(st.invoice_adhoc(p)))
        if method == "POST" and len(parts) == 3 and parts[0] == "payment_intents" \
                and parts[2] == "authenticate":
            outcome = p.get("outcome", "succeed")
            if outcome not in ("succeed", "fail"):
                raise E.invalid_enum("outcome", ("succeed", "fail"))
            with st.lock:
                st.ctx.request = None
                return ordered(st.render(st.pi_authenticate(parts[1], outcome == "succeed")))
        return None


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128
    allow_reuse_address = True


def main(argv=None):
    ap = argparse.ArgumentParser(description="Stripe API emulator for tollgate")
    ap.add_argument("--port", type=int, default=12111)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--shared", default=None, help="the shared/stripe directory "
                    "(default: $STRIPE_SHARED, else <repo>/../shared/stripe)")
    ap.add_argument("--log", default=None, help="append a line per request to FILE "
                    "(default: stderr)")
    ap.add_argument("--state", default=None, help="keep Stripe's objects in FILE across "
                    "restarts: loaded at start, written at exit (SIGTERM)")
    args = ap.parse_args(argv)
    shared = args.shared or default_shared()
    out = open(args.log, "a", buffering=1) if args.log else sys.stderr
    log_lock = threading.Lock()

    def log(msg):
        with log_lock:
            out.write("%s stripe-emulator: %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), msg))
            out.flush()

    em = Emulator(shared, log)
    if args.state and os.path.exists(args.state):
        with open(args.state, "rb") as f:
            em.stripe.restore(pickle.load(f))
        log("restored state from %s" % args.state)
    httpd = Server((args.host, args.port), Handler)
    httpd.em = em

    def stop(signum, frame):
        em.stopping.set()
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    host, port = httpd.server_address[:2]
    log("listening on http://%s:%d (shared data: %s)" % (host, port, shared))
    print("listening on http://%s:%d" % (host, port), flush=True)
    try:
        httpd.serve_forever(poll_interval=0.2)
    finally:
        em.webhooks.stop()
        httpd.server_close()
        if args.state:
            tmp = args.state + ".tmp"
            with open(tmp, "wb") as f:
                pickle.dump(em.stripe.snapshot(), f)
            os.replace(tmp, args.state)
            log("state written to %s" % args.state)
        log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
