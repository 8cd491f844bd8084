"""Fault cases on PostgreSQL: restarts (fast and immediate), every
connection slot taken, and the disk of its WAL full. Each returns (answer
range, extra checks); tollgate must answer 503 fast meanwhile (the generic
answer checks) and serve again soon after PostgreSQL is back."""
import os
import shutil
import socket
import struct
import subprocess
import time

from stackctl import DIR, pg_ctl, pg_restart, stack, wait_health

RECOVERY_BOUND_S = 10.0


def recovery(S, rng, t_up):
    """Seconds from t_up until a usage sent after it was answered 2xx."""
    ok = [a.end for a in S.load.answers[rng[0]:rng[1]]
          if a.kind == "usage" and a.start >= t_up and isinstance(a.status, int)
          and 200 <= a.status < 300]
    return min(ok) - t_up if ok else None


def recovery_check(S, rng, t_up, what):
    r = recovery(S, rng, t_up)
    return ("serving within %.0f s of %s" % (RECOVERY_BOUND_S, what),
            r is not None and r <= RECOVERY_BOUND_S,
            "first 2xx %.1f s after" % r if r is not None else "no 2xx afterwards")


def restart(S, mode):
    """pg_ctl restart -m mode under load."""
    t, held = S.load.background(8, threads=8)
    time.sleep(2)
    r = pg_restart(mode)
    t_up = time.monotonic()
    t.join()
    return held[0], [("pg_ctl restart -m " + mode, r.returncode == 0, r.stderr.strip()[-200:]),
                     recovery_check(S, held[0], t_up, "PostgreSQL")]


HOG = "faults-hog"


def pg_session(path):
    """A PostgreSQL session on the unix socket path (trust authentication,
    application_name HOG), or the server's refusal as a string."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    body = struct.pack("!i", 196608) + b"user\0tollgate\0database\0tollgate\0" + \
        b"application_name\0" + HOG.encode() + b"\0\0"
    s.sendall(struct.pack("!i", len(body) + 4) + body)
    err = until_ready(s)
    if err is not None:
        s.close()
        return err
    return s


def until_ready(s):
    """Read messages until ReadyForQuery (None) or an error (its text)."""
    buf = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            return "closed"
        buf += chunk
        while len(buf) >= 5:
            kind, n = buf[:1], struct.unpack("!i", buf[1:5])[0]
            if len(buf) < 1 + n:
                break
            msg, buf = buf[5:1 + n], buf[1 + n:]
            if kind == b"E":  # fields: a type byte, text, NUL; M is the message
                texts = [f[1:] for f in msg.split(b"\0") if f[:1] == b"M"]
                return (texts or [msg])[0].decode(errors="replace")
            if kind == b"Z":
                return None


def hog(path, held):
    """Open sessions into held until the server refuses one; its refusal."""
    while len(held) < 1000:
        r = pg_session(path)
        if isinstance(r, str):
            return r
        held.append(r)
    return None


def evict_others(path, held):
    """Give one held slot back, use it to end every other client's session
    (tollgate's), then take the freed slots: tollgate must reconnect and
    finds no room. The number of sessions ended, or -1 when a worker took
    the slot given back first."""
    held.pop().close()
    time.sleep(0.05)
    s = pg_session(path)
    if isinstance(s, str):
        return -1
    sql = ("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
           "backend_type = 'client backend' AND application_name <> '%s' AND "
           "pid <> pg_backend_pid()" % HOG).encode()
    s.sendall(b"Q" + struct.pack("!i", len(sql) + 5) + sql + b"\0")
    buf = s.recv(4096)
    held.append(s)
    ended = 0
    if buf[:1] == b"T":  # RowDescription, then DataRow with the count
        i = buf.find(b"D")
        if i > 0:
            ended = int(buf[i + 11:i + 11 + struct.unpack("!i", buf[i + 7:i + 11])[0]])
    return ended


def exhaust(S):
    """Take every connection slot, end tollgate's own sessions and take
    theirs too, for 5 s of load; then give the slots back."""
    port = open(DIR + "/pg.port").read().strip()
    path = "%s/pg/.s.PGSQL.%s" % (DIR, port)
    held = []
    t, rng = S.load.background(5, threads=8)
    time.sleep(0.5)
    refusal = hog(path, held)
    # A worker may reconnect between the eviction and the hog taking the
    # freed slots: evict again until a pass finds none of tollgate's left.
    ended = 0
    for _ in range(10):
        n = evict_others(path, held)
        refusal = hog(path, held)
        if n == 0:
            break
        ended += max(n, 0)
    t.join()
    t_up = time.monotonic()
    for s in held:
        s.close()
    t, rng2 = S.load.background(4, threads=8)
    t.join()
    full = refusal is not None and "too many clients" in refusal
    refused = sum(1 for a in S.load.answers[rng[0][0]:rng[0][1]] if a.status == 503)
    return (rng[0][0], rng2[0][1]), [
        ("every slot taken", full, "%d sessions held, %d of tollgate's ended; then: %s"
         % (len(held), ended, (refusal or "")[:60])),
        ("tollgate refused while full", refused > 0, "%d answers 503" % refused),
        recovery_check(S, rng2[0], t_up, "the slots' release")]


def mount_wal_tmpfs(spare_mb):
    """Stop PostgreSQL, put its pg_wal on a tmpfs with spare_mb more than
    it holds now, start it again. A reason string if that cannot be done
    here, else None."""
    if os.getuid() != 0:
        return "not root: cannot mount a tmpfs for pg_wal"
    wal = DIR + "/pg/pg_wal"
    pg_ctl("stop", "-w", "-m", "fast")
    used = sum(os.path.getsize(os.path.join(wal, f)) for f in os.listdir(wal)
               if os.path.isfile(os.path.join(wal, f)))
    size_mb = used // (1 << 20) + spare_mb
    mnt = DIR + "/walfs"
    os.makedirs(mnt, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm,mode=0700" % size_mb, "tmpfs",
                        mnt], capture_output=True, text=True)
    if r.returncode != 0:
        stack("stack_pg_start", DIR)
        return "mount -t tmpfs failed: " + r.stderr.strip()
    for name in os.listdir(wal):
        shutil.move(os.path.join(wal, name), mnt)
    os.rmdir(wal)
    os.symlink(mnt, wal)
    subprocess.run(["chown", "-R", "postgres:", mnt], check=True)
    stack("stack_pg_start", DIR)
    return None


def fill(path):
    """Fill the filesystem of path with one file; its size in MB."""
    n = 0
    with open(path, "wb") as f:
        try:
            while True:
                f.write(b"\0" * (1 << 20))
                f.flush()
                n += 1
        except OSError:
            pass
    return n


def wal_full(S):
    """pg_wal on a tmpfs (48 MB to spare), filled up under load (and WAL switches
    forced): PostgreSQL stops; tollgate answers 503; once the space is
    back and PostgreSQL started, nothing answered 2xx is missing."""
    why = mount_wal_tmpfs(48)
    if why is not None:
        return None, why
    if wait_health(15) is None:
        return None, "the stack did not come back after moving pg_wal"
    t, held = S.load.background(10, threads=8)
    time.sleep(1.5)
    filler = DIR + "/walfs/filler"
    mb = fill(filler)
    for _ in range(4):  # a new segment needs room: PANIC
        subprocess.run(["psql", "-qAtX", "-c", "SELECT pg_switch_wal()"], capture_output=True,
                       timeout=20)
        time.sleep(0.5)
    time.sleep(2)
    down = subprocess.run(["pg_isready", "-q"]).returncode != 0 or \
        subprocess.run(["psql", "-qAtX", "-c", "SELECT pg_switch_wal()"],
                       capture_output=True, timeout=20).returncode != 0
    os.unlink(filler)
    if pg_ctl("status").returncode != 0:
        stack("stack_pg_start", DIR)
    t_up = time.monotonic()
    t.join()
    return held[0], [("WAL disk full stopped writes", down,
                      "filled %d MB; PostgreSQL %s" % (mb, "refused writes" if down
                                                       else "kept writing")),
                     recovery_check(S, held[0], t_up, "space returning")]
