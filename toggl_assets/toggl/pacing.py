"""Client-side pacing: at most N requests per second across every call of one client (monotonic clock)."""

from __future__ import annotations

import time
from collections.abc import Callable


class Pacer:
    """Spaces request starts at least ``1 / requests_per_second`` apart; 0 or None disables pacing."""

    def __init__(
        self,
        requests_per_second: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if requests_per_second is not None and requests_per_second < 0:
            raise ValueError("requests_per_second must be >= 0")
        self.interval = 1.0 / requests_per_second if requests_per_second else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next_at: float | None = None

    def wait(self) -> float:
        """Block until the next request may start; returns the seconds slept."""
        if not self.interval:
            return 0.0
        now = self._clock()
        delay = 0.0 if self._next_at is None else max(0.0, self._next_at - now)
        if delay:
            self._sleep(delay)
        self._next_at = now + delay + self.interval
        return delay
