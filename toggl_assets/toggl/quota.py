"""Toggl's hourly quota, tracked per bucket (reference §4.2, §4.3).

Toggl counts requests per user per organization, and ``/me`` calls on a separate per-user bucket. The client
keys its state the same way: ``"user"`` for ``/me*`` calls, ``"organization:<id>"`` for workspace-scoped and
report calls once the workspace's organization is known (from ``/me/workspaces``), else
``"workspace:<id>"``. A spent bucket blocks only the requests that would be counted against it, so a run that
alternates between organizations never waits on the other organization's quota.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

QUOTA_REMAINING = "X-Toggl-Quota-Remaining"
QUOTA_RESETS_IN = "X-Toggl-Quota-Resets-In"
DEFAULT_QUOTA_RESET = 60.0  # when only Remaining is sent (SINGER's choice, reference §4.3)
USER_BUCKET = "user"


def organization_bucket(organization_id: int) -> str:
    return f"organization:{organization_id}"


def workspace_bucket(workspace_id: int) -> str:
    return f"workspace:{workspace_id}"


@dataclass(frozen=True)
class QuotaSeen:
    """The quota headers of the last answer counted against one bucket."""

    remaining: int | None
    resets_in: float | None


def header_number(headers: Mapping[str, str], name: str) -> float | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return float(value.strip())
    except ValueError:
        return None


def header_int(headers: Mapping[str, str], name: str) -> int | None:
    number = header_number(headers, name)
    return None if number is None else int(number)


def quota_headers(headers: Mapping[str, str]) -> QuotaSeen:
    return QuotaSeen(header_int(headers, QUOTA_REMAINING), header_number(headers, QUOTA_RESETS_IN))


def is_quota_402(headers: Mapping[str, str]) -> bool:
    """402 also means "plan lacks this feature"; only the quota flavour carries the quota headers (§4.3).
    A 402 that reports quota left is a plan refusal, whatever headers it has."""
    if QUOTA_REMAINING not in headers and QUOTA_RESETS_IN not in headers:
        return False
    remaining = header_int(headers, QUOTA_REMAINING)
    return remaining is None or remaining <= 0


def reset_wait(resets_in: float | None) -> float:
    """Seconds to wait for a spent window: Toggl's countdown plus a second of slack."""
    return (resets_in if resets_in is not None else DEFAULT_QUOTA_RESET) + 1.0


class QuotaBook:
    """Which buckets are known to be spent, and until when (monotonic clock)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._blocked_until: dict[str, float] = {}

    def note_success(self, bucket: str, seen: QuotaSeen) -> None:
        """After a success that used the window's last request, the bucket's next request waits for the reset."""
        if seen.remaining is not None and seen.remaining <= 0:
            self._blocked_until[bucket] = self._clock() + reset_wait(seen.resets_in)

    def blocked_for(self, bucket: str) -> float:
        """Seconds until ``bucket`` may be used again (0 when it is not known to be spent)."""
        until = self._blocked_until.get(bucket)
        return 0.0 if until is None else max(0.0, until - self._clock())

    def move(self, old: str, new: str) -> None:
        """``old`` turned out to be (part of) ``new``: a workspace whose organization just became known."""
        until = self._blocked_until.pop(old, None)
        if until is not None:
            self._blocked_until[new] = max(until, self._blocked_until.get(new, until))

    def release(self, bucket: str) -> None:
        """The caller waited out the block (or chose to try anyway)."""
        self._blocked_until.pop(bucket, None)
