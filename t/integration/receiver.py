#!/usr/bin/env python3
"""receiver: a webhook endpoint for the tests of tollgate's outbound webhooks
(t/integration/test_outbound.c, bench/outbound). Python standard library only.

It records every POST it receives (path, headers, raw body) and answers as
told: each request takes the next queued action, else the default one:
  ok     200 "ok"
  500    500 "failed"
  hang   reads the request, then answers nothing for --hang seconds
  huge   200 with a body of 8 MiB
Control (JSON), under /_control:
  POST   /_control/actions   {"actions": [...], "default": "ok"}  queue actions
  GET    /_control/requests  [{"path", "headers": {...}, "body", "t"}, ...]
  DELETE /_control/requests  forget them
  POST   /_control/verify    {"index": i, "secret": s} -> {"ok": bool}: request
         i's Tollgate-Signature checked by the verification function of
         docs/outbound-webhooks.md (loaded from the page, so the documented
         code is what runs)
  GET    /_control/count     {"count": n}
The port it listens on (loopback, chosen by the system) is written to
--port-file. Nothing it receives is logged (secrets come through /verify).
"""
import argparse
import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATE = {"requests": [], "actions": [], "default": "ok"}
LOCK = threading.Lock()
HANG_SECONDS = 5.0
HUGE = b"x" * (8 << 20)


def load_verifier(markdown_path):
    """The Python block after <!-- verify-signature --> in the docs page."""
    with open(markdown_path, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"<!-- verify-signature -->\s*```python\n(.*?)```", text, re.S)
    if m is None:
        raise SystemExit("receiver: no verify-signature block in " + markdown_path)
    namespace = {}
    exec(compile(m.group(1), markdown_path, "exec"), namespace)  # noqa: S102 (our own docs)
    return namespace["verify_tollgate_signature"]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        # Headers and body are two writes: without this, Nagle's algorithm
        # and the sender's delayed ACK hold the body back 40 ms.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args):  # nothing received is logged
        pass

    def reply(self, status, body, ctype="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def reply_json(self, status, obj):
        self.reply(status, json.dumps(obj).encode())

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def do_GET(self):
        with LOCK:
            if self.path == "/_control/requests":
                return self.reply_json(200, STATE["requests"])
            if self.path == "/_control/count":
                return self.reply_json(200, {"count": len(STATE["requests"])})
        self.reply_json(404, {"error": "not found"})

    def do_DELETE(self):
        if self.path == "/_control/requests":
            with LOCK:
                STATE["requests"].clear()
                STATE["actions"].clear()
                STATE["default"] = "ok"
            return self.reply_json(200, {"ok": True})
        self.reply_json(404, {"error": "not found"})

    def control(self, raw):
        req = json.loads(raw or b"{}")
        if self.path == "/_control/actions":
            with LOCK:
                STATE["actions"].extend(req.get("actions", []))
                STATE["default"] = req.get("default", STATE["default"])
            return self.reply_json(200, {"ok": True})
        if self.path == "/_control/verify":
            with LOCK:
                r = STATE["requests"][int(req["index"])]
            ok = VERIFY(r["body"].encode(), r["headers"].get("tollgate-signature", ""),
                        req["secret"])
            return self.reply_json(200, {"ok": bool(ok)})
        return self.reply_json(404, {"error": "not found"})

    def do_POST(self):
        raw = self.body()
        if self.path.startswith("/_control/"):
            return self.control(raw)
        with LOCK:
            STATE["requests"].append({
                "path": self.path, "t": time.time(), "body": raw.decode("utf-8", "replace"),
                "headers": {k.lower(): v for k, v in self.headers.items()}})
            action = STATE["actions"].pop(0) if STATE["actions"] else STATE["default"]
        if action == "500":
            return self.reply(500, b"failed", "text/plain")
        if action == "hang":
            time.sleep(HANG_SECONDS)
            self.close_connection = True
            return None
        if action == "huge":
            try:
                return self.reply(200, HUGE, "text/plain")
            except OSError:  # the sender stopped reading, as it should
                self.close_connection = True
                return None
        return self.reply(200, b"ok", "text/plain")


def main():
    global VERIFY, HANG_SECONDS
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--docs", required=True, help="docs/outbound-webhooks.md")
    ap.add_argument("--hang", type=float, default=HANG_SECONDS)
    args = ap.parse_args()
    VERIFY = load_verifier(args.docs)
    HANG_SECONDS = args.hang
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    import os
    os.rename(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


VERIFY = None
if __name__ == "__main__":
    main()
