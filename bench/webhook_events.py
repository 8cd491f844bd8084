#!/usr/bin/env python3
"""bench/webhook_events.py -- pre-sign Stripe events for bench/webhooks.

    webhook_events.py SECRET COUNT TAG OUT [EVENTS_DIR]

Writes COUNT lines to OUT, each "<Stripe-Signature>\\t<body>": distinct events
(ids evt_bench<TAG>x<n>) made from the real Stripe payloads in EVENTS_DIR
whose types tollgate ignores without asking Stripe (customer.created,
payment_method.attached, charge.succeeded, checkout.session.completed,
payment_intent.* about PaymentIntents it never made), so the benchmark
measures receiving events, not the emulator. Bodies are compact JSON on one
line. Every event is signed as Stripe signs (HMAC-SHA256 of "<t>.<body>"
keyed with the whole whsec_ secret) at the time of writing: the file is
good for the 300 s of tollgate's tolerance. Without EVENTS_DIR (or without
payloads in it) a small synthetic customer.created event is used.
"""
import glob
import hashlib
import hmac
import json
import os
import sys
import time

TYPES = ("customer.created", "payment_method.attached", "charge.succeeded",
         "checkout.session.completed", "payment_intent.succeeded",
         "payment_intent.payment_failed")


def templates(events_dir):
    out = []
    for path in sorted(glob.glob(os.path.join(events_dir or "", "*.json"))):
        with open(path, encoding="utf-8") as f:
            ev = json.load(f)
        if ev.get("type") in TYPES:
            out.append(ev)
    if not out:
        out.append({"id": "evt_x", "object": "event", "api_version": "2023-08-16",
                    "created": int(time.time()), "livemode": False, "pending_webhooks": 1,
                    "request": {"id": None, "idempotency_key": None},
                    "type": "customer.created",
                    "data": {"object": {"id": "cus_bench", "object": "customer",
                                        "email": "bench@example.com"}}})
    return out


def main(argv):
    if len(argv) not in (5, 6):
        sys.stderr.write(__doc__)
        return 2
    secret, count, tag, out = argv[1], int(argv[2]), argv[3], argv[4]
    tpl = templates(argv[5] if len(argv) == 6 else None)
    key = secret.encode("utf-8")
    t = int(time.time())
    prefix = ("%d." % t).encode()
    with open(out, "w", encoding="utf-8") as f:
        for n in range(count):
            ev = dict(tpl[n % len(tpl)])
            ev["id"] = "evt_bench%sx%d" % (tag, n)
            body = json.dumps(ev, separators=(",", ":"), ensure_ascii=False)
            sig = hmac.new(key, prefix + body.encode("utf-8"), hashlib.sha256).hexdigest()
            f.write("t=%d,v1=%s\t%s\n" % (t, sig, body))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
