"""Fault switches and counters behind the admin API (/_cmesh/).

Tests of clients (informers, retries) drive these; the names are a contract
shared with other test suites, see apiserver/README.md.
"""
import collections
import threading

FAIL_STATUSES = (429, 500, 503, 504)
MAX_DELAY_MS = 60000
WATCH_410_FORMS = ("event", "http")


class Faults:
    def __init__(self):
        self._lock = threading.Lock()
        self.reset()
        self.stats = collections.Counter()
        self.verbs = collections.Counter()

    def reset(self):
        with getattr(self, "_lock", threading.Lock()):
            self.fail_next = 0
            self.fail_status = 500
            self.retry_after = 0
            self.fail_verb = None
            self.delay_ms = 0
            self.watch_410 = "event"

    def configure(self, cfg, store):
        """Applies one POST /_cmesh/faults body. Raises ValueError on bad input
        (the caller answers 400) before changing anything."""
        if not isinstance(cfg, dict):
            raise ValueError("faults body must be a JSON object")
        known = {"drop_watches", "compact", "watch_410", "fail_next", "status", "retry_after",
                 "verb", "delay_ms", "reset"}
        unknown = set(cfg) - known
        if unknown:
            raise ValueError("unknown fault keys: %s" % ", ".join(sorted(unknown)))
        if "watch_410" in cfg and cfg["watch_410"] not in WATCH_410_FORMS:
            raise ValueError('watch_410 must be "event" or "http"')
        if "fail_next" in cfg:
            n = cfg["fail_next"]
            if not isinstance(n, int) or n < 0:
                raise ValueError("fail_next must be a non-negative integer")
            if cfg.get("status", 500) not in FAIL_STATUSES:
                raise ValueError("status must be one of %s" % (FAIL_STATUSES,))
        if "delay_ms" in cfg and not (isinstance(cfg["delay_ms"], int)
                                      and 0 <= cfg["delay_ms"] <= MAX_DELAY_MS):
            raise ValueError("delay_ms must be an integer in [0, %d]" % MAX_DELAY_MS)
        if "drop_watches" in cfg and cfg["drop_watches"] not in (True, False, "cut", "clean"):
            raise ValueError('drop_watches must be true, "cut" or "clean"')
        result = {}
        if cfg.get("reset"):
            self.reset()
        with self._lock:
            if "watch_410" in cfg:
                self.watch_410 = cfg["watch_410"]
            if "fail_next" in cfg:
                self.fail_next = cfg["fail_next"]
                self.fail_status = cfg.get("status", 500)
                self.retry_after = int(cfg.get("retry_after", 0))
                self.fail_verb = cfg.get("verb")
            if "delay_ms" in cfg:
                self.delay_ms = cfg["delay_ms"]
        if cfg.get("compact"):
            store.compact()
            result["compacted_at"] = str(store.current_rv())
        if cfg.get("drop_watches"):
            mode = "clean" if cfg["drop_watches"] == "clean" else "cut"
            n = store.drop_watches(mode)
            self.count("watches_dropped", n)
            result["watches_dropped"] = n
        return result

    def take_failure(self, verb):
        """(status, retry_after) if this request must fail, else None."""
        with self._lock:
            if self.fail_next <= 0 or (self.fail_verb and self.fail_verb != verb):
                return None
            self.fail_next -= 1
            self.stats["faults_injected"] += 1
            return self.fail_status, self.retry_after

    def count(self, key, n=1):
        with self._lock:
            self.stats[key] += n

    def count_verb(self, verb):
        with self._lock:
            self.stats["requests"] += 1
            self.verbs[verb] += 1

    def snapshot(self):
        with self._lock:
            out = {k: self.stats.get(k, 0) for k in
                   ("requests", "lists", "watches_opened", "watches_dropped", "gone_410",
                    "faults_injected", "webhook_calls")}
            out["verbs"] = dict(self.verbs)
            out["fail_next"] = self.fail_next
            out["delay_ms"] = self.delay_ms
            out["watch_410"] = self.watch_410
            return out
