"""Fault cases on Stripe: the emulator hangs, answers 500 or 429, or resets
the connection (before or after executing) while customers at balance 0
are charged; and webhooks signed by a sender whose clock is off by more
than the 300 s tolerance. Each returns (answer range, extra checks)."""
import hashlib
import hmac
import json
import time
import uuid

from checks import scalar
from load import Answer, request
from stackctl import DIR, URL, stripe_clear, stripe_fault

STRIPE_BOUND_S = 8.0  # 3 attempts of 1.5 s plus backoff (t/faults/run)

FAULTS = [dict(mode="hang"), dict(mode="error", status=500),
          dict(mode="error", status=429, should_retry="true"), dict(mode="reset"),
          dict(mode="reset", phase="after")]


def stripe_faults(S):
    """Each fault of FAULTS on POST /v1/payment_intents for 2.5 s in turn,
    then Stripe is fine again: charged requests stay bounded, and (checked
    with the invariants) tollgate-worker settles every pending charge with
    its key, none twice."""
    t, held = S.load.background(len(FAULTS) * 2.5 + 1, threads=8, pick=S.pick_billed,
                                signups=False)
    for f in FAULTS:
        stripe_clear()
        stripe_fault(path="/v1/payment_intents", method="POST", **f)
        time.sleep(2.5)
    stripe_clear()
    t.join()
    answers = S.load.answers[held[0][0]:held[0][1]]
    slow = [a for a in answers if a.end - a.start > STRIPE_BOUND_S]
    return held[0], [("charges bounded while Stripe fails", not slow,
                      "%d of %d requests took more than %.0f s"
                      % (len(slow), len(answers), STRIPE_BOUND_S))]


def signed(body, t):
    secret = open(DIR + "/stripe-webhook-secret").read().strip()
    mac = hmac.new(secret.encode(), ("%d." % t).encode() + body, hashlib.sha256).hexdigest()
    return "t=%d,v1=%s" % (t, mac)


def webhook_skew(S):
    """Webhooks signed correctly but at now - 600 s and now + 600 s (a
    sender's clock off by more than the tolerance): refused, not stored. A
    control event signed now is accepted, so the refusals are the clock's."""
    results, stored = [], 0
    first = len(S.load.answers)
    for skew in (-600, 600, 0):
        evt = "evt_faults_%s" % uuid.uuid4().hex[:16]
        body = json.dumps({"id": evt, "object": "event", "type": "customer.created",
                           "api_version": "2024-06-20", "created": int(time.time()),
                           "livemode": False, "pending_webhooks": 1,
                           "data": {"object": {"id": "cus_faults", "object": "customer"}}})
        raw = body.encode()
        a = Answer("webhook", time.monotonic())
        st, ct, _ = request(URL, "POST", "/webhooks/stripe", None,
                            {"Stripe-Signature": signed(raw, int(time.time()) + skew)},
                            body_raw=raw)
        a.status, a.ctype, a.end = st, ct, time.monotonic()
        S.load.record(a)
        n = scalar("SELECT count(*) FROM stripe_events WHERE id = '%s'" % evt)
        results.append((skew, st, n))
        stored += n if skew else 0
    refused = all(isinstance(st, int) and 400 <= st < 500 for skew, st, _ in results if skew)
    control = [r for r in results if r[0] == 0][0]
    return (first, len(S.load.answers)), [
        ("skewed signatures refused", refused and stored == 0,
         "; ".join("t%+d: %s, stored %d" % r for r in results if r[0])),
        ("control signed now accepted", control[1] in (200, 201, 202, 204) and control[2] == 1,
         "HTTP %s, stored %d" % (control[1], control[2]))]
