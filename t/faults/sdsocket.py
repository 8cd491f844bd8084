#!/usr/bin/env python3
"""sdsocket.py SOCKET PIDFILE PROGRAM [ARGS...] -- hold a listening unix
socket and run PROGRAM on it the way systemd's socket activation does
(tollgate-fcgi.socket + Restart=always): the socket is made once, passed to
each PROGRAM as fd 3 with LISTEN_FDS=1 and LISTEN_PID, and PROGRAM is
started again 100 ms after it exits. PIDFILE holds the running PROGRAM's
pid. SIGTERM stops PROGRAM (SIGTERM) and then this wrapper. Connections
queued on the socket while no PROGRAM runs wait for the next one.
"""
import os
import signal
import socket
import sys
import time


def spawn(sock, argv):
    pid = os.fork()
    if pid == 0:
        if sock.fileno() != 3:
            os.dup2(sock.fileno(), 3)
        os.set_inheritable(3, True)  # dup2(3, 3) would keep close-on-exec
        env = dict(os.environ, LISTEN_FDS="1", LISTEN_PID=str(os.getpid()))
        os.execve(argv[0], argv, env)
    return pid


def main():
    path, pidfile, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
    if os.path.exists(path):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    os.chmod(path, 0o666)
    sock.listen(1024)
    state = {"stop": False, "child": 0}

    def on_term(*_):
        state["stop"] = True
        if state["child"]:
            os.kill(state["child"], signal.SIGTERM)
    signal.signal(signal.SIGTERM, on_term)
    while not state["stop"]:
        state["child"] = spawn(sock, argv)
        with open(pidfile + ".tmp", "w") as f:
            f.write("%d\n" % state["child"])
        os.rename(pidfile + ".tmp", pidfile)
        os.waitpid(state["child"], 0)  # retried after the handler (PEP 475)
        state["child"] = 0
        time.sleep(0.1)  # systemd's RestartSec default
    if os.path.exists(path):
        os.unlink(path)


if __name__ == "__main__":
    main()
