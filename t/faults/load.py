"""The fault suite's load driver: customers, metered fixes and signups sent
by a few threads through nginx, every request bounded by a timeout.

Each answer is recorded (status, content type, time, and for usage the
customer and Idempotency-Key), so the invariants can be checked afterwards
against the database: a usage that was not answered for certain (5xx, a
reset, a timeout) is retried later with the same key by settle(), and from
then on every key has one final answer.
"""
import http.client
import json
import random
import threading
import time
import urllib.parse
import uuid

HANG_SECONDS = 10.0  # a request not answered by then is a hang


def definite(status):
    """True for an answer that settles a usage: 2xx, or a refusal other than
    409 (the same key still in progress)."""
    return isinstance(status, int) and status < 500 and status != 409


class Answer:
    __slots__ = ("kind", "status", "ctype", "start", "end", "key", "customer", "outcome")

    def __init__(self, kind, start):
        self.kind, self.start = kind, start
        self.status, self.ctype, self.end = None, "", None
        self.key = self.customer = self.outcome = None

    @property
    def hang(self):
        return self.status == "hang"


def request(base, method, path, body=None, headers=None, timeout=HANG_SECONDS, body_raw=None):
    """One HTTP request: (status, content type, parsed JSON or None). The
    status is "hang" when no answer came within timeout, "reset" when the
    connection failed."""
    u = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    data = json.dumps(body).encode() if body is not None else body_raw
    try:
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        raw = r.read()
        ctype = r.getheader("Content-Type") or ""
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            doc = None
        return r.status, ctype, doc
    except TimeoutError:
        return "hang", "", None
    except OSError:
        return "reset", "", None
    finally:
        conn.close()


class Customer:
    def __init__(self, cid, key, billed):
        self.id, self.api_key, self.billed = cid, key, billed
        self.lock = threading.Lock()


class Load:
    """Customers and the answers they got. One Load lives for the whole
    suite; each fault case runs it for a while with run()."""

    def __init__(self, base):
        self.base = base
        self.customers = []
        self.answers = []          # every Answer, in order of completion
        self.final = {}            # (customer id, key) -> last definite status
        self.lock = threading.Lock()
        self.seq = 0

    # ---- customers --------------------------------------------------------
    def signup(self, billed=False):
        """A new customer (with a card when billed); None if refused."""
        with self.lock:
            self.seq += 1
            n = self.seq
        email = "faults-%d-%s@example.com" % (n, uuid.uuid4().hex[:8])
        a = Answer("signup", time.monotonic())
        st, ct, doc = request(self.base, "POST", "/api/v1/customers",
                              {"email": email, "name": "Fault Suite", "source": "direct"})
        a.status, a.ctype, a.end = st, ct, time.monotonic()
        self.record(a)
        if st != 201:
            return None
        c = Customer(doc["customer"]["id"], doc["api_key"], False)
        if billed:
            st, _, doc = request(self.base, "POST", "/api/v1/customers/me/payment_method",
                                 {"payment_method": "pm_card_visa", "billing_consent": True},
                                 {"Authorization": "Bearer " + c.api_key})
            c.billed = st == 200
        with self.lock:
            self.customers.append(c)
        return c

    def use_up(self, c):
        """Spend c's credits, so that its next fixes are charged (billed) or
        refused (not billed)."""
        for _ in range(12):
            a = self.usage(c)
            if a.status in (402,) or a.outcome == "charged":
                return

    # ---- requests ---------------------------------------------------------
    def record(self, a):
        with self.lock:
            self.answers.append(a)
            if a.kind == "usage" and definite(a.status):
                self.final[(a.customer.id, a.key)] = a.status

    def usage(self, c, key=None):
        key = key or "fk-" + uuid.uuid4().hex
        a = Answer("usage", time.monotonic())
        a.key, a.customer = key, c
        st, ct, doc = request(self.base, "POST", "/api/v1/usage",
                              {"kind": "fix_deployed", "fix_id": "fix-" + key[3:15]},
                              {"Authorization": "Bearer " + c.api_key, "Idempotency-Key": key})
        a.status, a.ctype, a.end = st, ct, time.monotonic()
        if isinstance(doc, dict):
            a.outcome = doc.get("outcome")
        with self.lock:
            self.final.setdefault((c.id, key), None)
        self.record(a)
        return a

    def pending_keys(self):
        """Usage keys without a definite answer yet (only 5xx, resets or
        hangs so far)."""
        with self.lock:
            return [(cid, k) for (cid, k), st in self.final.items() if st is None]

    def settle(self, deadline_s=30):
        """Retry every usage without a definite answer with its own key
        until each has one. Returns the keys still unsettled."""
        by_id = {c.id: c for c in self.customers}
        end = time.monotonic() + deadline_s
        left = self.pending_keys()
        while left and time.monotonic() < end:
            for cid, k in left:
                self.usage(by_id[cid], k)
            left = self.pending_keys()
            if left:
                time.sleep(0.5)
        return left

    def run(self, seconds, threads=8, pick=None, signups=True, stop=None):
        """Send usage (and now and then a signup) from threads for seconds
        (or until stop is set). pick chooses the customer for a request.
        Returns (first, last) index into self.answers for this run."""
        first = len(self.answers)
        pick = pick or (lambda: random.choice(self.customers))
        end = time.monotonic() + seconds
        stop = stop or threading.Event()

        def loop(i):
            rnd = random.Random(i)
            while time.monotonic() < end and not stop.is_set():
                if signups and rnd.random() < 0.03:
                    self.signup(billed=rnd.random() < 0.5)
                else:
                    self.usage(pick())
                time.sleep(rnd.uniform(0.02, 0.06))  # modest: a shared machine
        ts = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return first, len(self.answers)

    def background(self, seconds, **kw):
        """run() in a thread: returns (thread, holder) where holder[0] is
        the (first, last) range once the thread ended."""
        holder = [None]
        t = threading.Thread(target=lambda: holder.__setitem__(0, self.run(seconds, **kw)),
                             daemon=True)
        t.start()
        return t, holder
