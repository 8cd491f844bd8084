"""Injected faults: make matching /v1 requests slow, fail, reset or hang."""
import threading

import emu_errors as E

MODES = ("latency", "error", "reset", "hang")


def _int(p, name, default):
    v = p.get(name)
    if v in (None, ""):
        return default
    try:
        return int(v)
    except (TypeError, ValueError):
        raise E.invalid_integer(name, v)


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []
        self.seq = 0

    def add(self, p):
        mode = p.get("mode")
        if mode not in MODES:
            raise E.invalid_enum("mode", MODES)
        phase = p.get("phase") or "before"
        if phase not in ("before", "after"):
            raise E.invalid_enum("phase", ("before", "after"))
        rule = {
            "mode": mode,
            "status": _int(p, "status", 500) if mode == "error" else None,
            "delay_ms": _int(p, "delay_ms", 1000 if mode == "latency" else
                             (600000 if mode == "hang" else 0)),
            "path": p.get("path") or "/v1/",
            "method": (p.get("method") or "").upper() or None,
            "count": _int(p, "count", None),
            "phase": phase,
            "should_retry": p.get("should_retry") if p.get("should_retry") in ("true", "false")
            else None,
            "hits": 0,
        }
        if rule["count"] is not None and rule["count"] <= 0:
            raise E.invalid_request("count must be a positive integer", "count")
        with self.lock:
            self.seq += 1
            rule["id"] = "fault_%d" % self.seq
            self.rules.append(rule)
            return dict(rule)

    def clear(self):
        with self.lock:
            n = len(self.rules)
            self.rules = []
            return n

    def list(self):
        with self.lock:
            return [dict(r) for r in self.rules]

    def take(self, method, path):
        """The first rule for METHOD PATH (its use counted), or None."""
        with self.lock:
            for r in self.rules:
                if not path.startswith(r["path"]) or (r["method"] and r["method"] != method):
                    continue
                r["hits"] += 1
                if r["count"] is not None:
                    r["count"] -= 1
                    if r["count"] <= 0:
                        self.rules.remove(r)
                return dict(r)
        return None

    @staticmethod
    def error_for(rule):
        err = E.fault_error(rule["status"])
        if rule["should_retry"]:
            err.headers["Stripe-Should-Retry"] = rule["should_retry"]
        return err
