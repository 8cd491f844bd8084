"""The development stack's own recovery (scripts/dev, scripts/stack.sh):
`scripts/dev up` over a stack whose FastCGI master died while nginx lives,
and tollgate-worker started again after kill -9. Runs a second stack in
its own directory on its own port.

The scenario runs in a child process (this file as a program) that is a
child subreaper and reaps the stack's daemons: they are orphans, and where
PID 1 does not reap (some containers), a killed master would stay a zombie
that `kill -0` still finds, which is not the situation being tested (on a
host, init reaps it at once)."""
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
from stackctl import BUILD, SRC, alive  # noqa: E402

SKIP_ENV = ("PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "TOLLGATE_URL", "TOLLGATE_TEST_DIR")


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def read_pid(path):
    try:
        return int(open(path).read().strip())
    except (OSError, ValueError):
        return 0


def become_reaper(mine):
    """Adopt orphans (PR_SET_CHILD_SUBREAPER) and reap every child that is
    not in mine (the programs this process waits for itself)."""
    ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)

    def loop():
        while True:
            try:
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                info = None
            if info is not None and info.si_pid not in mine:
                try:
                    os.waitpid(info.si_pid, os.WNOHANG)
                except ChildProcessError:
                    pass
                continue
            time.sleep(0.05)
    threading.Thread(target=loop, daemon=True).start()


def dev_restart(S):
    """The scenario, in a child process; its checks."""
    n = len(S.load.answers)
    out = subprocess.run([sys.executable, os.path.abspath(__file__)], capture_output=True,
                         text=True, timeout=600)
    try:
        return (n, n), [tuple(c) for c in json.loads(out.stdout.strip().splitlines()[-1])]
    except (ValueError, IndexError):
        return (n, n), [("dev scenario ran", False, (out.stdout + out.stderr)[-200:])]


def scenario():
    mine = set()
    become_reaper(mine)
    d = tempfile.mkdtemp(prefix="tollgate-faults-dev.", dir="/tmp")
    os.chmod(d, 0o755)  # PostgreSQL runs as postgres when we are root
    env = {k: v for k, v in os.environ.items() if k not in SKIP_ENV}
    env.update(TOLLGATE_DEV_DIR=d, TOLLGATE_HTTP_PORT=str(free_port()), TOLLGATE_BUILD_DIR=BUILD)

    def dev(cmd):
        p = subprocess.Popen([SRC + "/scripts/dev", cmd], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        mine.add(p.pid)
        o, e = p.communicate(timeout=180)
        return subprocess.CompletedProcess(p.args, p.returncode, o, e)
    try:
        first = dev("up")
        master = read_pid(d + "/tollgate-fcgi.pid")
        if first.returncode != 0 or not master:
            return [("scripts/dev up", False, first.stderr[-300:])]
        os.kill(master, signal.SIGKILL)
        end = time.monotonic() + 5
        while alive(master) and time.monotonic() < end:  # reaped by us
            time.sleep(0.05)
        nginx_alive = alive(read_pid(d + "/nginx/nginx.pid"))
        again = dev("up")
        child = read_pid(d + "/tollgate-worker.child.pid")
        if alive(child):
            os.kill(child, signal.SIGKILL)
        end = time.monotonic() + 5
        while time.monotonic() < end:
            now = read_pid(d + "/tollgate-worker.child.pid")
            if now != child and alive(now):
                break
            time.sleep(0.1)
        now = read_pid(d + "/tollgate-worker.child.pid")
        back = now != child and alive(now)
    finally:
        dev("down")
        shutil.rmtree(d, ignore_errors=True)
    last = (again.stderr.strip().splitlines() or [""])[-1]
    return [
        ("dev up restarts a stack with a dead master", again.returncode == 0 and nginx_alive,
         "nginx alive before: %s; dev up: %s" % (nginx_alive, last[:100])),
        ("dev stack restarts tollgate-worker", back,
         "killed %d, running now: %s" % (child, now if back else "none"))]


if __name__ == "__main__":
    print(json.dumps(scenario()))
