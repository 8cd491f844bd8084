#!/usr/bin/env python3
"""t/examples/test_client.py -- docs/examples/tollgate_client.py against a real stack.

Every call of the example client of docs/integration.md, made the way that
page tells an integrator to make it, with what the service answers checked.
Run by t/doc-stack, which starts the stack and sets TOLLGATE_URL and
TOLLGATE_TOKEN_KEY_FILE (the stack's token signing key). The Stripe of the
stack is the emulator, which knows the test cards pm_card_visa and
pm_card_chargeDeclined.
"""
import os
import sys
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "docs", "examples"))

from tollgate_client import InvalidToken, Problem, Tollgate, load_signing_key, new_key, verify_token  # noqa: E402

URL = os.environ.get("TOLLGATE_URL")


def email(tag):
    return "%s-%s@example.com" % (tag, uuid.uuid4().hex[:12])


def signed_up(tag):
    tg = Tollgate(URL)
    answer = tg.signup(email(tag), "Client " + tag)
    return tg, answer["customer"]


@unittest.skipUnless(URL, "TOLLGATE_URL is not set (run through t/doc-stack)")
class TestClient(unittest.TestCase):
    def test_signup_gives_a_key_and_trial_credits(self):
        tg = Tollgate(URL)
        key = new_key()
        addr = email("signup")
        first = tg.signup(addr, "Ada", idempotency_key=key)
        self.assertTrue(first["api_key"].startswith("tg_test_"))
        self.assertEqual(len(first["api_key"]), 72)
        self.assertEqual(first["customer"]["tier"], "trial")
        self.assertEqual(first["customer"]["credit_balance"], 5)
        # A signup whose answer was lost: the same key answers the same key.
        retry = Tollgate(URL)
        again = retry.signup(addr, "Ada", idempotency_key=key)
        self.assertEqual(again["api_key"], first["api_key"])
        self.assertEqual(retry.last_headers.get("Idempotent-Replayed"), "true")
        self.assertEqual(tg.me()["email"], addr)
        # Without the key, the same e-mail is a conflict.
        with self.assertRaises(Problem) as cm:
            Tollgate(URL).signup(addr, "Ada")
        self.assertEqual((cm.exception.status, cm.exception.type), (409, "conflict"))

    def test_metering_retry_402_then_billing(self):
        tg, customer = signed_up("meter")
        summary = tg.summary()
        self.assertIn("no_billing", [w["code"] for w in summary["warnings"]])
        fixes = ["fix-%s-%d" % (customer["id"], n) for n in range(1, 6)]
        events = [tg.record_fix(f, metadata={"repo": "acme/api"}) for f in fixes]
        self.assertEqual([e["credits_remaining"] for e in events], [4, 3, 2, 1, 0])
        self.assertEqual({e["outcome"] for e in events}, {"credit"})
        # The same fix sent again (a retry): the first event, no credit taken.
        replay = tg.record_fix(fixes[0], metadata={"repo": "acme/api"})
        self.assertEqual(replay, events[0])
        self.assertEqual(tg.last_headers.get("Idempotent-Replayed"), "true")
        self.assertEqual(tg.me()["credit_balance"], 0)
        # Out of credits, no billing: 402, nothing recorded.
        sixth = "fix-%s-6" % customer["id"]
        with self.assertRaises(Problem) as cm:
            tg.record_fix(sixth)
        self.assertEqual((cm.exception.status, cm.exception.type), (402, "insufficient-credits"))
        self.assertIn("no_credits", [w["code"] for w in tg.summary()["warnings"]])
        # Add a card with consent: payg, +5 once; the refused fix goes
        # through with the same key.
        me = tg.add_payment_method("pm_card_visa")
        self.assertEqual((me["tier"], me["billing_status"], me["credit_balance"]),
                         ("payg", "active", 5))
        self.assertEqual(tg.record_fix(sixth)["outcome"], "credit")
        for n in range(7, 11):
            tg.record_fix("fix-%s-%d" % (customer["id"], n))
        charged = tg.record_fix("fix-%s-11" % customer["id"])
        self.assertEqual(charged["outcome"], "charged")
        self.assertEqual(charged["charge"]["amount_cents"], 2900)
        self.assertEqual(charged["charge"]["currency"], "usd")
        # The whole ledger, page by page, adds up to the balance.
        entries = list(tg.transactions(limit=2))
        self.assertEqual(sum(e["amount"] for e in entries), tg.me()["credit_balance"])
        self.assertEqual(entries[-1]["kind"], "trial_signup")

    def test_lost_answer_retried_with_the_same_key(self):
        tg, customer = signed_up("lost")
        fix = "fix-%s-lost" % customer["id"]
        impatient = Tollgate(URL, tg.api_key, timeout=0.0005, max_attempts=1)
        try:
            impatient.record_fix(fix)  # gives up before the answer, most likely
        except OSError:
            pass
        event = tg.record_fix(fix)  # the retry: same fix, same key, same body
        self.assertEqual((event["outcome"], event["credits_remaining"]), ("credit", 4))
        self.assertEqual(tg.me()["credit_balance"], 4)
        self.assertEqual(sum(e["kind"] == "fix_deployed" for e in tg.transactions()), 1)

    def test_declined_card(self):
        tg, _ = signed_up("declined")
        with self.assertRaises(Problem) as cm:
            tg.add_payment_method("pm_card_chargeDeclined")
        p = cm.exception
        self.assertEqual((p.status, p.type), (402, "payment-failed"))
        self.assertTrue(p.body.get("decline_code"))
        self.assertEqual(tg.me()["tier"], "trial")

    def test_pro_subscription(self):
        tg, _ = signed_up("pro")
        self.assertEqual(tg.preview_pro()["amount_due_cents"], 59900)
        with self.assertRaises(Problem) as cm:
            tg.subscribe_pro()
        self.assertEqual(cm.exception.type, "payment-method-required")
        tg.add_payment_method("pm_card_visa")
        sub = tg.subscribe_pro()
        self.assertEqual((sub["plan"], sub["status"]), ("pro", "active"))
        me = tg.me()
        self.assertEqual((me["tier"], me["credit_balance"]), ("pro", 70))
        ended = tg.cancel_subscription(at_period_end=True)
        self.assertTrue(ended["cancel_at_period_end"])
        self.assertEqual(tg.cancel_subscription()["status"], "canceled")
        self.assertIsNone(tg.subscription())
        me = tg.me()
        self.assertEqual((me["tier"], me["credit_balance"]), ("payg", 70))

    def test_credentials_verified_downstream(self):
        tg, customer = signed_up("token")
        answer = tg.credentials(["usage:read"], 300)
        self.assertEqual((answer["scopes"], answer["expires_in"]), (["usage:read"], 300))
        key = load_signing_key(os.environ["TOLLGATE_TOKEN_KEY_FILE"])
        claims = verify_token(answer["token"], key, scope="usage:read")
        self.assertEqual(claims["sub"], customer["id"])
        with self.assertRaises(InvalidToken):
            verify_token(answer["token"], key, scope="billing:read")
        with self.assertRaises(InvalidToken):
            verify_token(answer["token"], b"another key", scope="usage:read")
        with self.assertRaises(InvalidToken):
            verify_token(answer["token"], key, now=claims["exp"])
        head, body, sig = answer["token"].split(".")
        with self.assertRaises(InvalidToken):
            verify_token(head + "." + body + "." + sig[::-1], key)

    def test_key_rotation(self):
        tg, _ = signed_up("rotate")
        old = tg.api_key
        new = tg.rotate_key("ci 2026")
        self.assertNotEqual(new, old)
        self.assertEqual(tg.me()["tier"], "trial")
        keys = tg.api_keys()
        self.assertEqual(sorted(k["active"] for k in keys), [False, True])
        with self.assertRaises(Problem) as cm:
            Tollgate(URL, old).me()
        self.assertEqual((cm.exception.status, cm.exception.type), (401, "unauthorized"))

    def test_hourly_limit_429(self):
        tg, _ = signed_up("limit")
        tg.me()
        policy = tg.last_headers["RateLimit-Policy"]  # "hourly";q=500;w=3600
        quota = int(policy.split(";q=")[1].split(";")[0])
        tg.max_wait = 0  # raise at once instead of waiting for the window
        for _ in range(2 * quota + 2):
            try:
                tg.me()
            except Problem as p:
                self.assertEqual((p.status, p.type), (429, "rate-limited"))
                self.assertGreater(p.retry_after, 0)
                return
        self.fail("no 429 after %d requests (quota %d)" % (2 * quota + 2, quota))


if __name__ == "__main__":
    unittest.main(verbosity=2)
