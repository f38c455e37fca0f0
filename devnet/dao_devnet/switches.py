"""Real-node behaviour the devnet can be switched to (all off by default).

Each switch is a command-line flag of devnet/run and a key of `POST /devnet/switches` (tests
change them on a running devnet; the answer is the switches now in force):

- `prune`: keep only the last N rounds, as a non-archival algod does (~1,000 rounds); older
  blocks and their logs answer 404 with algod's body.
- `confirm_every_ms`: asynchronous confirmation. A sent group is checked and then waits in a
  pool; every K ms (0: only on `POST /devnet/block`) one block takes every waiting group.
- `fail`: refuse API requests with 429 (or 403) and `Retry-After`: `count` requests from now,
  one in `every`, or a `fraction` (seeded, reproducible).
- `fee_per_byte`: congestion: the suggested fee is F µAlgo per byte and a transaction paying
  less than F times its encoded length is refused with algod's message.
- `max_boxes`: algod's MaxAPIBoxPerApplication (100,000 on algod): a listing without
  pagination of an app with more boxes is refused ("Result limit exceeded"), pages are capped.
- `algod_errors`: algod's answers where the devnet's differ: a missing app's box listing is
  200 with no boxes; a refused group's pending lookup is 404.
"""
import random
import threading
import time
from email.utils import formatdate

KEYS = ("prune", "confirm_every_ms", "fail", "fee_per_byte", "max_boxes", "algod_errors")
FAIL_KEYS = ("status", "count", "every", "fraction", "retry_after", "retry_after_date", "seed")


class SwitchError(ValueError):
    pass


def _nonneg_int(value, what, allow_none=True):
    if value is None and allow_none:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0 or value >= 2**63:
        raise SwitchError(f"{what} must be a non-negative integer{' or null' if allow_none else ''}")
    return value


def parse_fail(spec):
    """A `fail` switch from JSON (dict) or the command line (`429:count=5:retry_after=2`)."""
    if spec is None:
        return None
    if isinstance(spec, str):
        parts = spec.split(":")
        d = {"status": int(parts[0]) if parts[0].isdigit() else parts[0]}
        for p in parts[1:]:
            k, sep, v = p.partition("=")
            if not sep:
                raise SwitchError(f"--fail: {p!r} is not KEY=VALUE")
            d[k] = float(v) if k == "fraction" else (v == "true" if k == "retry_after_date" else int(v))
        spec = d
    if not isinstance(spec, dict):
        raise SwitchError("fail must be an object")
    unknown = set(spec) - set(FAIL_KEYS)
    if unknown:
        raise SwitchError(f"fail: unknown keys {sorted(unknown)} (known: {', '.join(FAIL_KEYS)})")
    status = spec.get("status", 429)
    if status not in (429, 403, 503):
        raise SwitchError("fail.status must be 429, 403 or 503")
    out = {"status": status, "retry_after": _nonneg_int(spec.get("retry_after"), "fail.retry_after"),
           "retry_after_date": bool(spec.get("retry_after_date", False)),
           "count": _nonneg_int(spec.get("count"), "fail.count"),
           "every": _nonneg_int(spec.get("every"), "fail.every"),
           "fraction": spec.get("fraction"), "seed": _nonneg_int(spec.get("seed", 0), "fail.seed")}
    if out["fraction"] is not None and not (isinstance(out["fraction"], (int, float)) and 0 <= out["fraction"] <= 1):
        raise SwitchError("fail.fraction must be between 0 and 1")
    if sum(x is not None for x in (out["count"], out["every"], out["fraction"])) != 1:
        raise SwitchError("fail needs exactly one of count, every, fraction")
    if out["every"] == 0:
        raise SwitchError("fail.every must be at least 1")
    return out


class Switches:
    """The switches in force, and the request-refusal state (thread-safe)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.prune = None
        self.confirm_every_ms = None
        self.fail = None
        self.fee_per_byte = 0
        self.max_boxes = 0
        self.algod_errors = False
        self._seen = 0
        self._rng = random.Random(0)
        self.refused = 0

    def update(self, changes):
        """Apply a dict of switch changes; refuses unknown keys and bad values, all or nothing."""
        if not isinstance(changes, dict):
            raise SwitchError("switches must be a JSON object")
        unknown = set(changes) - set(KEYS)
        if unknown:
            raise SwitchError(f"unknown switches {sorted(unknown)} (known: {', '.join(KEYS)})")
        new = {}
        if "prune" in changes:
            new["prune"] = _nonneg_int(changes["prune"], "prune")
            if new["prune"] == 0:
                raise SwitchError("prune must keep at least 1 round (null turns it off)")
        if "confirm_every_ms" in changes:
            new["confirm_every_ms"] = _nonneg_int(changes["confirm_every_ms"], "confirm_every_ms")
        if "fail" in changes:
            new["fail"] = parse_fail(changes["fail"])
        if "fee_per_byte" in changes:
            new["fee_per_byte"] = _nonneg_int(changes["fee_per_byte"], "fee_per_byte", allow_none=False)
        if "max_boxes" in changes:
            new["max_boxes"] = _nonneg_int(changes["max_boxes"], "max_boxes", allow_none=False)
        if "algod_errors" in changes:
            if not isinstance(changes["algod_errors"], bool):
                raise SwitchError("algod_errors must be true or false")
            new["algod_errors"] = changes["algod_errors"]
        with self.lock:
            for k, v in new.items():
                setattr(self, k, v)
            if "fail" in new:
                self._seen = 0
                self.refused = 0
                self._rng = random.Random(new["fail"]["seed"] if new["fail"] else 0)

    def as_json(self):
        with self.lock:
            return {"prune": self.prune, "confirm_every_ms": self.confirm_every_ms, "fail": self.fail,
                    "fee_per_byte": self.fee_per_byte, "max_boxes": self.max_boxes,
                    "algod_errors": self.algod_errors, "refused": self.refused}

    def refusal(self):
        """(status, headers, body) when this API request is to be refused, else None."""
        with self.lock:
            f = self.fail
            if f is None:
                return None
            self._seen += 1
            if f["count"] is not None:
                hit = self._seen <= f["count"]
            elif f["every"] is not None:
                hit = self._seen % f["every"] == 0
            else:
                hit = self._rng.random() < f["fraction"]
            if not hit:
                return None
            self.refused += 1
        headers = {}
        if f["retry_after"] is not None:
            headers["Retry-After"] = (formatdate(time.time() + f["retry_after"], usegmt=True)
                                      if f["retry_after_date"] else str(f["retry_after"]))
        if f["status"] == 429:
            # algod's connection limiter answers 429 with no body (middlewares/connectionLimiter.go)
            return 429, headers, None
        if f["status"] == 403:
            return 403, headers, {"message": "Forbidden: request rate exceeded"}
        return 503, headers, {"message": "Service Unavailable"}
