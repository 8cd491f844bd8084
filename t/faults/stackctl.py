"""The fault suite's hands on the stack t/faults/run started: its processes
(by pid file), PostgreSQL (pg_ctl as the cluster's owner), the Stripe
emulator's control endpoints, and scripts/stack.sh's own functions."""
import os
import subprocess
import time
import urllib.parse
import urllib.request

DIR = os.environ.get("TOLLGATE_TEST_DIR", "")
BUILD = os.environ.get("TOLLGATE_BUILD", "")
SRC = os.environ.get("TOLLGATE_SRC", "")
STRIPE = os.environ.get("TOLLGATE_STRIPE_URL", "")
URL = os.environ.get("TOLLGATE_URL", "")


def stack(*call):
    """Run one scripts/stack.sh function (e.g. "stack_fcgi_start", DIR,
    BUILD) in bash; raises if it fails."""
    script = '. "$STACK_SRC/scripts/stack.sh"; "$@"'
    subprocess.run(["bash", "-c", script, "stack"] + list(call), check=True,
                   env=dict(os.environ, STACK_SRC=SRC), stdout=subprocess.DEVNULL)


def pid_of(name):
    try:
        with open(os.path.join(DIR, name)) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return 0


def alive(pid):
    try:
        os.kill(pid, 0)
        return pid > 0
    except OSError:
        return False


def children(pid):
    """Pids of pid's children (the FastCGI workers of the master)."""
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def wait_gone(pid, seconds):
    """Seconds until pid was gone, or None if it still ran after seconds."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        if not alive(pid):
            return time.monotonic() - t0
        time.sleep(0.02)
    return None


def pg_ctl(*args):
    """pg_ctl on the stack's cluster, as its owner (postgres when root)."""
    cmd = [os.environ["PG_BIN"] + "/pg_ctl", "-D", DIR + "/pg"] + list(args)
    if os.getuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--"] + cmd
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def pg_restart(mode):
    """Restart PostgreSQL with -m mode (pg_ctl keeps the running options)."""
    return pg_ctl("restart", "-w", "-t", "60", "-m", mode, "-l", DIR + "/pg/postgresql.log")


def emu(method, endpoint, params=None):
    data = urllib.parse.urlencode(params).encode() if params else None
    req = urllib.request.Request(STRIPE + endpoint, data=data, method=method)
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read()


def stripe_fault(**params):
    emu("POST", "/_emulator/faults", params)


def stripe_clear():
    emu("DELETE", "/_emulator/faults")


def health_ok():
    try:
        with urllib.request.urlopen(URL + "/health", timeout=3) as r:
            return r.status == 200
    except OSError:
        return False


def wait_health(seconds):
    """Seconds until GET /health answered 200, or None."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        if health_ok():
            return time.monotonic() - t0
        time.sleep(0.1)
    return None
