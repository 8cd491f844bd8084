"""Fault cases on tollgate's own processes: FastCGI workers killed, the
master stopped (own socket, and a socket held as systemd holds it),
tollgate-worker killed and the master reloaded, and scripts/dev up over a
stack whose master died. Each returns (answer range, extra checks)."""
import os
import random
import signal
import subprocess
import sys
import time

from stackctl import (BUILD, DIR, SRC, alive, children, pid_of, stack, stripe_clear,
                      stripe_fault, wait_gone, wait_health)

WORKERS = int(os.environ.get("TOLLGATE_WORKERS", "4"))


def workers_back(master, seconds=5):
    end = time.monotonic() + seconds
    while len(children(master)) < WORKERS and time.monotonic() < end:
        time.sleep(0.1)
    return len(children(master))


def worker_kill(S):
    """SIGKILL a random FastCGI worker every 200-500 ms for 6 s."""
    master = pid_of("tollgate-fcgi.pid")
    t, held = S.load.background(6, threads=8)
    kills = 0
    time.sleep(0.5)
    while t.is_alive():
        ws = children(master)
        if ws:
            os.kill(random.choice(ws), signal.SIGKILL)
            kills += 1
        time.sleep(random.uniform(0.2, 0.5))
    t.join()
    n = workers_back(master)
    return held[0], [("workers refilled", n == WORKERS,
                      "%d workers killed, %d of %d alive after" % (kills, n, WORKERS))]


def sent_before(S, rng, t_signal):
    """The answers to requests sent at least 100 ms before t_signal (nginx
    had them on the socket when the signal came) that were not served."""
    before = [a for a in S.load.answers[rng[0]:rng[1]] if a.start < t_signal - 0.1]
    bad = [a for a in before if not isinstance(a.status, int) or a.status >= 500]
    return before, bad


def master_sigterm(S):
    """SIGTERM the master while 12 clients keep 4 workers busy with slow
    charges (Stripe answers after 600 ms), so that requests wait on the
    socket: every request sent before the signal must be served."""
    stripe_fault(mode="latency", delay_ms=600, path="/v1/payment_intents")
    master = pid_of("tollgate-fcgi.pid")
    t, held = S.load.background(6, threads=12, pick=S.pick_billed, signups=False)
    time.sleep(2)
    t_signal = time.monotonic()
    os.kill(master, signal.SIGTERM)
    gone = wait_gone(master, 40)
    stack("stack_fcgi_start", DIR, BUILD)
    t.join()
    stripe_clear()
    before, bad = sent_before(S, held[0], t_signal)
    return held[0], [
        ("sent before SIGTERM: all served", not bad and before,
         "%d in flight or queued at the signal, %d got 5xx or no answer" % (len(before), len(bad))),
        ("master exits after the drain", gone is not None,
         "gone %.1f s after SIGTERM" % gone if gone is not None else "still running after 40 s")]


def start_socket_holder():
    log = open(DIR + "/sdsocket.log", "ab")
    env = dict(os.environ, TOLLGATE_CONFIG=DIR + "/tollgate.conf")
    p = subprocess.Popen([sys.executable, SRC + "/t/faults/sdsocket.py", DIR + "/fcgi.sock",
                          DIR + "/sd-fcgi.pid", BUILD + "/tollgate-fcgi"],
                         env=env, stdout=log, stderr=log, start_new_session=True)
    return p


def socket_restart(S):
    """Hold the socket as systemd does (t/faults/sdsocket.py) and restart
    the master twice under load (slow charges): no request may be lost."""
    stack("stack_fcgi_stop", DIR)
    holder = start_socket_holder()
    try:
        up = wait_health(15)
        stripe_fault(mode="latency", delay_ms=400, path="/v1/payment_intents")
        t, held = S.load.background(8, threads=12, pick=S.pick_billed, signups=False)
        restarts, waits = 0, []
        for at in (2.0, 3.0):
            time.sleep(at)
            old = pid_of("sd-fcgi.pid")
            os.kill(old, signal.SIGTERM)
            gone = wait_gone(old, 40)
            waits.append(gone if gone is not None else -1)
            end = time.monotonic() + 10
            while pid_of("sd-fcgi.pid") in (0, old) and time.monotonic() < end:
                time.sleep(0.05)
            restarts += pid_of("sd-fcgi.pid") not in (0, old)
        t.join()
        stripe_clear()
    finally:
        holder.terminate()
        holder.wait(60)
        stack("stack_fcgi_start", DIR, BUILD)
    answers = S.load.answers[held[0][0]:held[0][1]]
    bad = [a for a in answers if not isinstance(a.status, int) or a.status >= 500]
    return held[0], [
        ("restarted with the socket held", up is not None and restarts == 2,
         "%d of 2 restarts; old masters gone after %s s"
         % (restarts, ", ".join("%.1f" % w for w in waits))),
        ("no request lost across restarts", not bad,
         "%d requests, %d got 5xx or no answer" % (len(answers), len(bad)))]


def worker_kill9_sighup(S):
    """While Stripe hangs (charges are left pending for tollgate-worker):
    kill -9 tollgate-worker twice and SIGHUP the master twice. Once Stripe
    is back, the restarted tollgate-worker settles every charge (checked
    with the Stripe invariant)."""
    stripe_fault(mode="hang", path="/v1/payment_intents")
    master = pid_of("tollgate-fcgi.pid")
    t, held = S.load.background(8, threads=8)
    killed = []
    for step in range(4):
        time.sleep(1.5)
        if step % 2 == 0:
            child = pid_of("tollgate-worker.child.pid") or pid_of("tollgate-worker.pid")
            if alive(child):
                os.kill(child, signal.SIGKILL)
                killed.append(child)
        else:
            os.kill(master, signal.SIGHUP)
    t.join()
    stripe_clear()
    end = time.monotonic() + 10
    while time.monotonic() < end:
        now = pid_of("tollgate-worker.child.pid")
        if alive(now) and now not in killed:
            break
        time.sleep(0.2)
    now = pid_of("tollgate-worker.child.pid")
    back = alive(now) and now not in killed
    n = workers_back(master)
    return held[0], [
        ("tollgate-worker restarted", back,
         "%d kills; running again: %s" % (len(killed), "yes" if back else "no")),
        ("master reloaded, workers back", alive(master) and n == WORKERS,
         "master alive: %s, %d workers" % (alive(master), n))]
