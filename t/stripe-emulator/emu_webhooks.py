"""Signed webhook delivery, as Stripe does it.

Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 over "<t>.<raw body>", keyed with
the whole whsec_... secret string>. Events are delivered by one background
thread, in the order they were created, each retried with backoff.
"""
import collections
import hashlib
import hmac
import json
import os
import threading
import time
import urllib.error
import urllib.request


def sign(payload, secret, t):
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    msg = str(int(t)).encode() + b"." + payload
    return hmac.new(secret.encode("utf-8"), msg, hashlib.sha256).hexdigest()


def signature_header(payload, secret, t):
    return "t=%d,v1=%s" % (int(t), sign(payload, secret, t))


def verify_header(header, payload, secret, tolerance=300, now=None):
    """What Stripe's libraries accept: any matching v1 (v0 ignored), exact lowercase
    hex, and a timestamp no older than TOLERANCE seconds (future ones pass)."""
    t, v1 = None, []
    for item in header.split(","):
        k, _, v = item.strip().partition("=")
        if k == "t" and t is None:
            try:
                t = int(v)
            except ValueError:
                return False
        elif k == "v1":
            v1.append(v)
    if t is None or not v1:
        return False
    expected = sign(payload, secret, t)
    if not any(hmac.compare_digest(expected, s) for s in v1):
        return False
    now = time.time() if now is None else now
    return not (tolerance and t < now - tolerance)


class Dispatcher:
    def __init__(self, store, log):
        self.store = store
        self.log = log
        self.attempts = int(os.environ.get("EMULATOR_WEBHOOK_ATTEMPTS", "4"))
        self.timeout = float(os.environ.get("EMULATOR_WEBHOOK_TIMEOUT", "5"))
        self.backoff = float(os.environ.get("EMULATOR_WEBHOOK_BACKOFF", "0.25"))
        self.cv = threading.Condition()
        self.endpoints = []
        self.queue = collections.deque()
        self.status = {}
        self.paused = False
        self.busy = False
        self.stopping = False
        self.generation = 0
        threading.Thread(target=self._run, name="webhooks", daemon=True).start()

    # -- configuration --
    def add_endpoint(self, url, secret=None, enabled_events=None, timestamp="real"):
        from emu_objects import rand
        with self.cv:
            secret = secret or "whsec_" + rand(32)
            self.endpoints = [e for e in self.endpoints if e["url"] != url]
            ep = {"url": url, "secret": secret, "enabled_events": enabled_events or ["*"],
                  "timestamp": timestamp}
            self.endpoints.append(ep)
            return dict(ep)

    def clear_endpoints(self):
        with self.cv:
            self.endpoints = []

    def count(self):
        return len(self.endpoints)

    def reset(self):
        """Drop every queued delivery and wait for the one in flight to give up,
        so that no request of the old generation reaches an endpoint after this
        returns (a test's receiver would count it as its own)."""
        with self.cv:
            self.queue.clear()
            self.status = {}
            self.generation += 1
            self.cv.notify_all()
            self.cv.wait_for(lambda: not self.busy, self.timeout + 1)

    def pause(self, paused):
        with self.cv:
            self.paused = paused
            self.cv.notify_all()

    # -- queueing --
    @staticmethod
    def _wants(ep, etype):
        return any(x == "*" or x == etype or (x.endswith(".*") and etype.startswith(x[:-1]))
                   for x in ep["enabled_events"])

    def enqueue(self, event, only_url=None):
        payload = json.dumps(event, indent=2, ensure_ascii=False).encode("utf-8")
        with self.cv:
            for ep in self.endpoints:
                if (only_url and ep["url"] != only_url) or not self._wants(ep, event["type"]):
                    continue
                self.status.setdefault(event["id"], {})[ep["url"]] = {
                    "status": "pending", "attempts": 0, "last_status": None,
                    "last_error": None, "delivered_at": None}
                self.queue.append((event["id"], payload, dict(ep), self.generation))
            self.cv.notify_all()

    def delivery(self, event_id):
        with self.cv:
            return {u: dict(s) for u, s in self.status.get(event_id, {}).items()}

    def flush(self, timeout):
        """Wait until every queued delivery is done; returns how many are left."""
        end = time.time() + timeout
        with self.cv:
            while (self.queue or self.busy) and not self.paused:
                left = end - time.time()
                if left <= 0:
                    break
                self.cv.wait(left)
            return len(self.queue) + (1 if self.busy else 0)

    def stop(self):
        with self.cv:
            self.stopping = True
            self.cv.notify_all()

    # -- the delivery thread --
    def _run(self):
        while True:
            with self.cv:
                while not self.stopping and (self.paused or not self.queue):
                    self.cv.wait()
                if self.stopping:
                    return
                ev_id, payload, ep, gen = self.queue.popleft()
                self.busy = True
            try:
                self._deliver(ev_id, payload, ep, gen)
            finally:
                with self.cv:
                    self.busy = False
                    self.cv.notify_all()

    def _deliver(self, ev_id, payload, ep, gen):
        for attempt in range(1, self.attempts + 1):
            if self.stopping or gen != self.generation:
                return
            t = self.store.now() if ep["timestamp"] == "clock" else int(time.time())
            req = urllib.request.Request(ep["url"], data=payload, method="POST", headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                "Accept": "*/*; q=0.5, application/xml", "Cache-Control": "no-cache",
                "Stripe-Signature": signature_header(payload, ep["secret"], t)})
            code, error = None, None
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    code = resp.status
                    resp.read()
            except urllib.error.HTTPError as e:
                code, error = e.code, "HTTP %d" % e.code
            except Exception as e:  # connection refused, timeout, ...
                error = "%s: %s" % (type(e).__name__, e)
            ok = code is not None and 200 <= code < 300
            with self.cv:
                if gen != self.generation:
                    return
                st = self.status.setdefault(ev_id, {}).setdefault(ep["url"], {})
                st.update(attempts=attempt, last_status=code, last_error=None if ok else error)
                if ok:
                    st.update(status="delivered", delivered_at=int(time.time()))
                elif attempt == self.attempts:
                    st["status"] = "failed"
            self.log("webhook %s -> %s: %s (attempt %d)" % (ev_id, ep["url"],
                                                             code if ok else error, attempt))
            if ok:
                with self.store.lock:
                    ev = self.store.objs.get(ev_id)
                    if ev and ev["pending_webhooks"] > 0:
                        ev["pending_webhooks"] -= 1
                return
            if attempt < self.attempts:
                with self.cv:
                    self.cv.wait_for(lambda: self.stopping or gen != self.generation,
                                     min(self.backoff * 2 ** (attempt - 1), 5.0))
