#!/usr/bin/env python3
"""tollgate_client.py -- a complete tollgate API client, Python standard library only.

The example client of docs/integration.md: copy it into your product, or
read it next to that page. It needs Python 3.8 or later and nothing else
(urllib, json, hmac). t/doc-stack runs it against a real tollgate stack in
the test suite (t/examples/test_client.py), so what it does is what the
service does.

    from tollgate_client import Tollgate, Problem

    signup = Tollgate("https://billing.example.com").signup("ada@example.com", "Ada")
    tg = Tollgate("https://billing.example.com", signup["api_key"])
    event = tg.record_fix("fix-42")          # one credit, or a charge, or Problem
    print(event["outcome"], event["credits_remaining"])

Run as a program it walks the trial journey against TOLLGATE_URL and prints
what it got:

    TOLLGATE_URL=http://127.0.0.1:8080 python3 docs/examples/tollgate_client.py
"""
import base64
import hashlib
import hmac
import json
import os
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

PROBLEM_BASE = "https://tollgate.dev/problems/"
# Statuses after which the same request, with the same Idempotency-Key and
# the same body bytes, may be sent again (docs/api.md, "Retrying after a 5xx
# or a lost answer"). 409 is retried only for the two "still running" types.
RETRY_STATUSES = (500, 502, 503, 504)
RETRY_409_TYPES = ("idempotency-key-in-progress", "conflict")
# 503s that a retry does not change: an operator's switch or configuration.
NO_RETRY_TYPES = ("signup-closed", "billing-disabled", "credentials-unavailable",
                  "configuration-error")


class Problem(Exception):
    """An RFC 9457 answer: status, the short type ("insufficient-credits"),
    detail, request_id, Retry-After in seconds (or None) and the whole body."""

    def __init__(self, status, body, retry_after=None):
        self.status = status
        self.body = body if isinstance(body, dict) else {}
        self.type = self.body.get("type", "").replace(PROBLEM_BASE, "") or "http-%d" % status
        self.detail = self.body.get("detail")
        self.request_id = self.body.get("request_id")
        self.retry_after = retry_after
        super().__init__("%d %s: %s (request %s)" % (status, self.type, self.detail, self.request_id))


class Tollgate:
    """A client for one API key (or none, to sign up).

    max_attempts: how often a request is sent in all when its answer is lost
    or a retryable status; max_wait: the longest Retry-After (seconds) it
    waits for by itself; beyond that it raises the Problem (a 429 for the
    hourly limit can ask for up to an hour)."""

    def __init__(self, base_url, api_key=None, timeout=45, max_attempts=5, max_wait=30):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout  # docs/api.md "Lost answers": at least 45 s
        self.max_attempts = max_attempts
        self.max_wait = max_wait
        self.last_headers = {}

    # -- transport ---------------------------------------------------------

    def request(self, method, path, body=None, idempotency_key=None, query=None):
        """Send one request, retrying it safely; the decoded JSON answer.

        The body is serialised once: a retry resends the very same bytes
        with the same Idempotency-Key, which is what makes the retry safe.
        Raises Problem for an error answer that is not retried (or not any
        more), and OSError when the service cannot be reached at all."""
        url = self.base_url + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["Authorization"] = "Bearer " + self.api_key
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        delay = 1.0
        for attempt in range(1, self.max_attempts + 1):
            last = attempt == self.max_attempts
            req = urllib.request.Request(url, data=data, method=method, headers=headers)
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    self.last_headers = dict(resp.headers.items())
                    return json.loads(resp.read() or b"null")
            except urllib.error.HTTPError as e:
                self.last_headers = dict(e.headers.items())
                problem = _problem(e)
                wait = problem.retry_after if problem.retry_after is not None else delay
                if last or not _retryable(problem, idempotency_key, method) or wait > self.max_wait:
                    raise problem
            except (urllib.error.URLError, socket.timeout, ConnectionError) as e:
                # The answer is lost: the request may or may not have taken
                # effect. Only a request with a key (or a read) is resent.
                if last or not (idempotency_key or method == "GET"):
                    raise OSError("tollgate unreachable: %s" % getattr(e, "reason", e)) from e
                wait = delay
            time.sleep(wait)
            delay = min(delay * 2, 8)
        raise AssertionError("not reached")

    # -- customers and keys ------------------------------------------------

    def signup(self, email, name, source="direct", idempotency_key=None):
        """POST /api/v1/customers: {"customer": {...}, "api_key": ..., ...}.
        The key is shown once: this client keeps it as its own key too."""
        answer = self.request("POST", "/api/v1/customers",
                              {"email": email, "name": name, "source": source},
                              idempotency_key or new_key())
        self.api_key = answer["api_key"]
        return answer

    def me(self):
        return self.request("GET", "/api/v1/customers/me")

    def add_payment_method(self, payment_method, idempotency_key=None):
        """POST /api/v1/customers/me/payment_method with billing consent."""
        return self.request("POST", "/api/v1/customers/me/payment_method",
                            {"payment_method": payment_method, "billing_consent": True},
                            idempotency_key or new_key())

    def api_keys(self):
        return self.request("GET", "/api/v1/api_keys")["data"]

    def create_api_key(self, name=None, idempotency_key=None):
        """A new key object with "key", the key itself, shown this once."""
        return self.request("POST", "/api/v1/api_keys", {"name": name} if name else {},
                            idempotency_key or new_key())

    def revoke_api_key(self, key_id, idempotency_key=None):
        return self.request("DELETE", "/api/v1/api_keys/" + urllib.parse.quote(key_id),
                            idempotency_key=idempotency_key or new_key())

    def rotate_key(self, name=None):
        """Create a new key, switch to it, revoke the old one: the new key."""
        current = [k["id"] for k in self.api_keys() if k["current"]]
        fresh = self.create_api_key(name)
        self.api_key = fresh["key"]
        for key_id in current:
            self.revoke_api_key(key_id)
        return fresh["key"]

    # -- usage and credits -------------------------------------------------

    def record_fix(self, fix_id, metadata=None, idempotency_key=None):
        """POST /api/v1/usage for one deployed fix: the usage event.

        Give the same idempotency_key for the same fix whenever you send it
        again (a retry after a crash of your own, say): tollgate then
        answers the first event instead of taking a second credit. The
        default derives it from fix_id, so one fix is metered once.
        Raises Problem: 402 insufficient-credits or payment-failed (nothing
        recorded; the same key may be sent again once billing is fixed),
        429 rate-limited (retry_after says when)."""
        body = {"kind": "fix_deployed", "fix_id": fix_id}
        if metadata:
            body["metadata"] = metadata
        return self.request("POST", "/api/v1/usage", body, idempotency_key or "fix-" + fix_id)

    def summary(self):
        return self.request("GET", "/api/v1/usage/summary")

    def transactions(self, limit=100):
        """Every ledger entry, newest first, page after page."""
        cursor = None
        while True:
            query = {"limit": limit}
            if cursor:
                query["cursor"] = cursor
            page = self.request("GET", "/api/v1/credits/transactions", query=query)
            yield from page["data"]
            if not page["has_more"]:
                return
            cursor = page["next_cursor"]

    # -- billing -----------------------------------------------------------

    def subscribe_pro(self, idempotency_key=None):
        return self.request("POST", "/api/v1/subscriptions", {"plan": "pro"},
                            idempotency_key or new_key())

    def subscription(self):
        """The live subscription, or None when there is none (404)."""
        try:
            return self.request("GET", "/api/v1/subscriptions/current")
        except Problem as p:
            if p.status == 404:
                return None
            raise

    def cancel_subscription(self, at_period_end=False, idempotency_key=None):
        return self.request("DELETE", "/api/v1/subscriptions/current",
                            idempotency_key=idempotency_key or new_key(),
                            query={"at_period_end": "true"} if at_period_end else None)

    def preview_pro(self):
        return self.request("GET", "/api/v1/subscriptions/preview", query={"plan": "pro"})

    # -- short-lived credentials -------------------------------------------

    def credentials(self, scopes=None, ttl_seconds=None):
        """POST /api/v1/credentials: {"token", "expires_at", "scopes", ...}."""
        body = {}
        if scopes:
            body["scopes"] = list(scopes)
        if ttl_seconds:
            body["ttl_seconds"] = ttl_seconds
        return self.request("POST", "/api/v1/credentials", body, new_key())


def new_key():
    """A fresh Idempotency-Key: one per operation, kept until it is answered."""
    return str(uuid.uuid4())


def _problem(e):
    raw = e.read()
    try:
        body = json.loads(raw)
    except ValueError:
        body = {"detail": raw[:200].decode("utf-8", "replace")}
    retry = e.headers.get("Retry-After")
    return Problem(e.code, body, int(retry) if retry and retry.isdigit() else None)


def _retryable(problem, idempotency_key, method):
    """Whether the same request may be sent again by itself."""
    if problem.status == 409:
        return problem.type in RETRY_409_TYPES and problem.retry_after is not None
    if problem.status == 429:
        return True  # refused before anything was done
    if problem.status in RETRY_STATUSES and problem.type not in NO_RETRY_TYPES:
        return bool(idempotency_key) or method == "GET"
    return False


# -- verifying a token in a downstream service (docs/credentials.md) --------

TOKEN_HEADER = {"alg": "HS256", "typ": "JWT"}
B64URL = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


class InvalidToken(Exception):
    pass


def load_signing_key(path):
    """The shared signing key: the file's first line, as bytes."""
    with open(path, "rb") as f:
        return f.readline().rstrip(b"\r\n")


def _b64url(part):
    if not part or not set(part) <= B64URL or len(part) % 4 == 1:
        raise InvalidToken("malformed token")
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def verify_token(token, key, scope=None, now=None):
    """The claims of a valid tollgate token (sub = the customer id);
    raises InvalidToken otherwise: answer 401, or 403 for a missing scope."""
    if not isinstance(token, str) or len(token) > 4096 or not token.isascii():
        raise InvalidToken("malformed token")
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidToken("malformed token")
    try:
        header = json.loads(_b64url(parts[0]))
        claims = json.loads(_b64url(parts[1]))
    except ValueError:
        raise InvalidToken("malformed token")
    if header != TOKEN_HEADER:
        raise InvalidToken("not an HS256 token")
    mac = hmac.new(key, (parts[0] + "." + parts[1]).encode("ascii"), hashlib.sha256).digest()
    if not hmac.compare_digest(base64.urlsafe_b64encode(mac).rstrip(b"=").decode(), parts[2]):
        raise InvalidToken("bad signature")
    if not isinstance(claims, dict) or claims.get("iss") != "tollgate":
        raise InvalidToken("not a tollgate token")
    exp = claims.get("exp")
    if not isinstance(exp, int) or isinstance(exp, bool):
        raise InvalidToken("malformed token")
    if not isinstance(claims.get("sub"), str) or not isinstance(claims.get("scope"), str):
        raise InvalidToken("malformed token")
    if exp <= (time.time() if now is None else now):
        raise InvalidToken("expired")
    if scope is not None and scope not in claims["scope"].split(" "):
        raise InvalidToken("scope %s not granted" % scope)
    return claims


def main():
    """The trial journey: sign up, meter fixes until the credits run out."""
    base = os.environ.get("TOLLGATE_URL")
    if not base:
        sys.exit("set TOLLGATE_URL, e.g. TOLLGATE_URL=http://127.0.0.1:8080")
    email = "client-%s@example.com" % uuid.uuid4().hex[:12]
    tg = Tollgate(base)
    customer = tg.signup(email, "Example Client")["customer"]
    print("signed up %s: tier %s, %d credits" % (customer["email"], customer["tier"],
                                                 customer["credit_balance"]))
    n = 0
    while True:
        n += 1
        try:
            event = tg.record_fix("fix-%s-%d" % (customer["id"], n))
        except Problem as p:
            if p.type == "insufficient-credits":
                print("fix %d refused: %s" % (n, p.detail))
                break
            raise
        print("fix %d: %s, %d credits left" % (n, event["outcome"], event["credits_remaining"]))
    for w in tg.summary()["warnings"]:
        print("warning %s: %s" % (w["code"], w["message"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
