"""The 2025 hourly quota (per user per organization, §4.2) and the legacy leaky bucket (§4.1)."""

from __future__ import annotations

import math
import threading
import time

from .config import QUOTA_TOTALS


class Quota:
    """Per-(user, organization) request windows; organization None is the user-specific (/me) bucket.

    The window is anchored at the first request and resets ``window`` seconds later (KB-LIMITS: "the count
    starts at the first request and is valid for 60 minutes, then resets").
    """

    def __init__(self, plan: str | None, window: float, user_quota: int) -> None:
        self.plan = plan
        self.window = window
        self.user_quota = user_quota
        self.buckets: dict[tuple[int, int | None], list[float]] = {}  # key -> [window start, count]
        self.lock = threading.Lock()

    def total(self, org: int | None) -> int:
        return self.user_quota if org is None else QUOTA_TOTALS[self.plan or "premium"]

    def _live(self, key: tuple[int, int | None], now: float) -> list[float] | None:
        b = self.buckets.get(key)
        return None if b is None or now >= b[0] + self.window else b

    def take(self, user_id: int, org: int | None) -> tuple[bool, int, int]:
        """Consume one request: (allowed, remaining, resets_in seconds)."""
        now = time.monotonic()
        with self.lock:
            b = self._live((user_id, org), now)
            if b is None:
                b = self.buckets[(user_id, org)] = [now, 0]
            total = self.total(org)
            resets_in = max(0, math.ceil(b[0] + self.window - now))
            if b[1] >= total:
                return False, 0, resets_in
            b[1] += 1
            return True, int(total - b[1]), resets_in

    def peek(self, user_id: int, org: int | None) -> tuple[int, int]:
        """(remaining, resets_in) without consuming."""
        now = time.monotonic()
        with self.lock:
            b = self._live((user_id, org), now)
            if b is None:
                return self.total(org), math.ceil(self.window)
            return int(max(0, self.total(org) - b[1])), max(0, math.ceil(b[0] + self.window - now))


class LeakyBucket:
    """Legacy safeguard: ``rate`` requests/second per (token, client IP), burst of max(1, rate)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.levels: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        with self.lock:
            level, last = self.levels.get(key, (0.0, now))
            level = max(0.0, level - (now - last) * self.rate)
            if level + 1 > max(1.0, self.rate) + 1e-9:
                self.levels[key] = (level, now)
                return False
            self.levels[key] = (level + 1, now)
            return True
