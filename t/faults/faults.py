#!/usr/bin/env python3
"""t/faults/faults.py [CASE...] -- the fault suite's driver (t/faults/run
starts the stack and calls it). For each fault case in turn: parallel
traffic runs while the fault is injected, then every answer is checked
(no hang, no 5xx but 503 problem+json, and 503s fast) and every invariant
(checks.py). Prints one line per check and a table at the end; exits 0 only
if every check of every case passed. CASE arguments (substrings of the
case names) pick cases; a case that cannot run here prints why and is
skipped.
"""
import random
import sys
import time
import traceback

sys.dont_write_bytecode = True

import cases_db  # noqa: E402
import cases_dev  # noqa: E402
import cases_process  # noqa: E402
import cases_stripe  # noqa: E402
import checks  # noqa: E402
from load import Load  # noqa: E402
from stackctl import URL  # noqa: E402

FAST_503_S = 5.0  # a refusal while something is down comes at least this fast

CASES = [
    ("worker-sigkill", cases_process.worker_kill),
    ("pg-restart-fast", lambda S: cases_db.restart(S, "fast")),
    ("pg-restart-immediate", lambda S: cases_db.restart(S, "immediate")),
    ("pg-connections-full", cases_db.exhaust),
    ("stripe-hang-500-429-reset", cases_stripe.stripe_faults),
    ("master-sigterm", cases_process.master_sigterm),
    ("master-restart-socket-held", cases_process.socket_restart),
    ("worker-kill9-master-sighup", cases_process.worker_kill9_sighup),
    ("webhook-clock-skew", cases_stripe.webhook_skew),
    ("dev-up-dead-master", cases_dev.dev_restart),
    ("pg-wal-disk-full", cases_db.wal_full),  # last: leaves pg_wal on a full-sized tmpfs
]


class Suite:
    def __init__(self):
        self.load = Load(URL)
        self.billed = []

    def setup(self, trial=16, billed=16):
        """Customers: some on trial (refused at 0), some with a card whose
        credits are used up, so each of their fixes is a Stripe charge."""
        for i in range(trial + billed):
            c = self.load.signup(billed=i >= trial)
            if c is not None and c.billed:
                self.billed.append(c)
        for c in self.billed:
            self.load.use_up(c)

    def pick_billed(self):
        return random.choice(self.billed)


def answer_checks(answers):
    hangs = [a for a in answers if a.hang]
    resets = [a for a in answers if a.status == "reset"]
    bad5 = [a for a in answers if isinstance(a.status, int) and a.status >= 500
            and a.status != 503]
    not_problem = [a for a in answers if a.status == 503
                   and not a.ctype.startswith("application/problem+json")]
    slow = [a for a in answers if a.status == 503 and a.end - a.start > FAST_503_S]
    return [("no hang, no reset", not hangs and not resets,
             "%d hangs (> %.0f s), %d connections failed" % (len(hangs), 10, len(resets))),
            ("5xx only 503 problem+json", not bad5 and not not_problem,
             "%d other 5xx, %d 503 not problem+json" % (len(bad5), len(not_problem))),
            ("503 fast", not slow, "%d of them slower than %.0f s" % (len(slow), FAST_503_S))]


def tally(answers):
    row = {"sent": len(answers), "2xx": 0, "402": 0, "409": 0, "503": 0, "other": 0,
           "hang": 0}
    for a in answers:
        st = a.status
        if a.hang:
            row["hang"] += 1
        elif isinstance(st, int) and 200 <= st < 300:
            row["2xx"] += 1
        elif str(st) in row:
            row[str(st)] += 1
        else:
            row["other"] += 1
    return row


def run_case(S, name, fn):
    print("faults: ---- %s ----" % name, flush=True)
    t0 = time.monotonic()
    try:
        rng, extra = fn(S)
    except Exception as e:  # a case that breaks has failed, the rest still run
        traceback.print_exc()
        rng, extra = (len(S.load.answers),) * 2, [("case ran", False, repr(e)[:120])]
    if rng is None:
        print("faults: SKIP %s: %s" % (name, extra), flush=True)
        return {"name": name, "skip": extra}
    answers = S.load.answers[rng[0]:rng[1]]
    try:
        invariants = checks.all_checks(S.load)
    except Exception as e:
        traceback.print_exc()
        invariants = [("invariants checked", False, repr(e)[:120])]
    results = extra + answer_checks(answers) + invariants
    for check, ok, detail in results:
        print("faults:   %s %-36s %s" % ("ok  " if ok else "FAIL", check, detail), flush=True)
    row = tally(answers)
    row.update(name=name, passed=sum(1 for r in results if r[1]), total=len(results),
               seconds=time.monotonic() - t0)
    return row


def table(rows):
    head = "%-28s %5s %5s %5s %5s %5s %5s %5s %7s %5s" % (
        "fault", "sent", "2xx", "402", "409", "503", "other", "hangs", "checks", "secs")
    print("\n" + head + "\n" + "-" * len(head))
    for r in rows:
        if "skip" in r:
            print("%-28s skipped: %s" % (r["name"], r["skip"]))
            continue
        print("%-28s %5d %5d %5d %5d %5d %5d %5d %3d/%-3d %5.0f" % (
            r["name"], r["sent"], r["2xx"], r["402"], r["409"], r["503"], r["other"],
            r["hang"], r["passed"], r["total"], r["seconds"]))


def main(argv):
    picked = [(n, f) for n, f in CASES if not argv or any(a in n for a in argv)]
    S = Suite()
    t0 = time.monotonic()
    S.setup()
    print("faults: %d customers (%d with a card, credits used up), %d answers in setup"
          % (len(S.load.customers), len(S.billed), len(S.load.answers)), flush=True)
    rows = [run_case(S, n, f) for n, f in picked]
    table(rows)
    failed = [r["name"] for r in rows if "skip" not in r and r["passed"] != r["total"]]
    print("\nfaults: %d cases, %d failed%s; %.0f s" % (
        len(rows), len(failed), (": " + ", ".join(failed)) if failed else "",
        time.monotonic() - t0))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
