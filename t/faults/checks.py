"""The invariants the fault suite checks after every fault, against the
stack's real PostgreSQL (psql), tollgatectl and the Stripe emulator's own
records. Each check returns (name, ok, detail)."""
import json
import os
import subprocess
import time
import urllib.request

from load import definite


def psql(sql, timeout=20):
    """Rows of one query (tab-separated fields), through psql with the
    stack's PG* environment."""
    out = subprocess.run(["psql", "-qAtX", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError("psql: " + out.stderr.strip())
    return [line.split("\t") for line in out.stdout.splitlines() if line]


def scalar(sql):
    return int(psql(sql)[0][0])


def ctl(*args):
    env = dict(os.environ, TOLLGATE_CONFIG=os.environ["TOLLGATE_TEST_DIR"] + "/tollgate.conf")
    out = subprocess.run([os.environ["TOLLGATE_BUILD"] + "/tollgatectl"] + list(args), env=env,
                         capture_output=True, text=True, timeout=60)
    return out.returncode, (out.stdout + out.stderr).strip()


def stripe_get(path):
    req = urllib.request.Request(os.environ["TOLLGATE_STRIPE_URL"] + path, headers={
        "Authorization": "Bearer sk_test_tollgate_dev_stack"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


def usage_keys(load):
    """Answered usage against usage_events: each key with a 2xx is stored
    once, no key refused or unknown to the driver is."""
    rows = psql("SELECT customer_id, idempotency_key FROM usage_events")
    stored = {(r[0], r[1]) for r in rows}
    ok_keys = {k for k, st in load.final.items() if st is not None and 200 <= st < 300}
    refused = {k for k, st in load.final.items() if definite(st) and not 200 <= st < 300}
    unsettled = [k for k, st in load.final.items() if st is None]
    missing = ok_keys - stored
    consumed = refused & stored
    unknown = stored - ok_keys - refused - set(unsettled)
    ok = not missing and not consumed and not unknown and not unsettled
    return [("2xx usage stored", not missing and not unsettled,
             "%d answered 2xx, %d missing, %d never answered for certain"
             % (len(ok_keys), len(missing), len(unsettled))),
            ("refusals consume nothing", not consumed and not unknown,
             "%d refused, %d of them stored; %d stored keys nobody was answered 2xx for"
             % (len(refused), len(consumed), len(unknown)))], ok


def ledger():
    once = scalar("SELECT count(*) FROM usage_events u WHERE (SELECT count(*) FROM "
                  "credit_transactions t WHERE t.id = u.ledger_entry_id AND "
                  "t.kind = 'fix_deployed') <> 1")
    extra = scalar("SELECT count(*) FROM customers c WHERE (SELECT count(*) FROM "
                   "credit_transactions t WHERE t.customer_id = c.id AND t.kind = "
                   "'fix_deployed') <> (SELECT count(*) FROM usage_events u WHERE "
                   "u.customer_id = c.id)")
    bad = scalar("SELECT count(*) FROM customers c WHERE credit_balance < 0 OR credit_balance"
                 " <> (SELECT coalesce(sum(amount), 0) FROM credit_transactions t"
                 " WHERE t.customer_id = c.id)")
    return [("usage in ledger exactly once", once == 0 and extra == 0,
             "%d usages without exactly one entry, %d customers with other fix entries"
             % (once, extra)),
            ("balance = sum of ledger, >= 0", bad == 0, "%d customers off" % bad)]


def verify():
    out = []
    for cmd in ("verify-ledger", "verify-audit"):
        rc, text = ctl(cmd)
        out.append(("tollgatectl " + cmd, rc == 0, text.splitlines()[-1] if text else ""))
    return out


def wait_charges(seconds=40):
    """Wait for tollgate-worker to finish every pending charge; the count
    still pending."""
    end = time.monotonic() + seconds
    while True:
        n = scalar("SELECT count(*) FROM charges WHERE status = 'pending'")
        if n == 0 or time.monotonic() > end:
            return n
        time.sleep(0.5)


def stripe():
    """PaymentIntents at the emulator = succeeded charges = distinct
    idempotency keys charged: each PaymentIntent names its charge
    (metadata tollgate_charge_id), no charge has two, every succeeded charge
    has one, and each charge's Stripe call has a key of its own."""
    pending = wait_charges()
    ids, after = [], None
    while True:
        page = stripe_get("/v1/payment_intents?limit=100" +
                          ("&starting_after=" + after if after else ""))
        ids += [(pi.get("metadata") or {}).get("tollgate_charge_id") for pi in page["data"]]
        if not page.get("has_more"):
            break
        after = page["data"][-1]["id"]
    rows = psql("SELECT c.id, r.idempotency_key FROM charges c JOIN stripe_requests r "
                "ON r.id = c.stripe_request_id WHERE c.status = 'succeeded'")
    charged = {r[0] for r in rows}
    keys = {r[1] for r in rows}
    ok = pending == 0 and len(ids) == len(set(ids)) == len(charged) == len(keys) \
        and set(ids) == charged
    return [("Stripe: intents = charges = keys", ok,
             "%d PaymentIntents (%d charges), %d succeeded charges, %d keys, %d pending"
             % (len(ids), len(set(ids)), len(charged), len(keys), pending))]


def all_checks(load):
    """Every invariant; the list of (name, ok, detail)."""
    left = load.settle()
    out, _ = usage_keys(load)
    if left:
        out.append(("settle", False, "%d usage keys never answered" % len(left)))
    for f in (ledger, verify, stripe):
        try:
            out += f()
        except Exception as e:  # a check that cannot run has failed
            out.append((f.__name__, False, "error: %s" % e))
    return out
