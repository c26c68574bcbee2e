"""HTTP client for the Toggl Track v9 and Reports v3 APIs, with pacing, quota handling and bounded retries.

It knows nothing about PostgreSQL or Dagster: it turns Toggl answers into :mod:`toggl_assets.records`.
See the API reference notes (toggl-api.md: §4 quotas, §6 pitfalls) for why it behaves as it does.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from toggl_assets import __version__
from toggl_assets.records import ClientRecord, EntryRecord, ProjectRecord, TagRecord, TaskRecord, UserRecord
from toggl_assets.toggl import parsing
from toggl_assets.toggl.errors import (
    TogglApiError,
    TogglAuthError,
    TogglConnectionError,
    TogglPlanError,
    TogglQuotaError,
    TogglResponseError,
)
from toggl_assets.toggl.pacing import Pacer

DEFAULT_BASE_URL = "https://api.track.toggl.com"
USER_AGENT = f"toggl_assets/{__version__} (+https://github.com/toggl-assets)"

V9 = "/api/v9"
REPORTS = "/reports/api/v3"
PROJECTS_PER_PAGE = 200  # documented maximum (reference §2.5)
TASKS_PER_PAGE = 200  # maximum undocumented (default 50); the envelope's per_page tells what the server applied
REPORT_PATH = "/workspace/{wid}/search/time_entries"
QUOTA_REMAINING = "X-Toggl-Quota-Remaining"
QUOTA_RESETS_IN = "X-Toggl-Quota-Resets-In"
DEFAULT_QUOTA_RESET = 60.0  # when only Remaining is sent (SINGER's choice, reference §4.3)
MAX_QUOTA_WAITS_PER_REQUEST = 3  # a sliding window that keeps answering 402 after waiting is not worth more
MAX_LIST_PAGES = 10_000  # guard against a server that ignores ``page`` and repeats itself forever

# Failures worth retrying: the request may not have been processed, or the body was cut short.
_TRANSIENT_EXCEPTIONS: tuple[type[BaseException], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    http.client.HTTPException,
)


@dataclass
class RequestStats:
    """What one client has spent so far; never contains credentials."""

    requests_by_endpoint: dict[str, int] = field(default_factory=dict)
    total: int = 0
    retries: int = 0
    quota_remaining: int | None = None
    quota_resets_in: float | None = None
    waited_seconds: float = 0.0  # quota waits and retry backoff
    paced_seconds: float = 0.0  # sleeps imposed by requests_per_second
    quota_waits: int = 0
    page_size_used: int | None = None
    page_size_rejections: int = 0


def _root_url(base_url: str) -> str:
    """Host root without credentials or a trailing ``/api/v9``; Reports live at ``root + /reports/api/v3``."""
    parts = urlsplit(base_url.strip())
    if not parts.scheme or not parts.hostname:
        raise ValueError("base_url must be an absolute http(s) URL")
    netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    if parts.port:
        netloc += f":{parts.port}"
    path = parts.path.rstrip("/")
    for suffix in (V9, REPORTS):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
    return urlunsplit((parts.scheme, netloc, path, "", ""))


def _header_number(headers: Mapping[str, str], name: str) -> float | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return float(value.strip())
    except ValueError:
        return None


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    number = _header_number(headers, name)
    return None if number is None else int(number)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


MAX_REPORT_SPAN_DAYS = 365


def report_spans(start: date, end: date, span_days: int = MAX_REPORT_SPAN_DAYS) -> list[tuple[date, date]]:
    """Split [start, end] (inclusive) into consecutive inclusive spans of at most ``span_days`` days."""
    spans = []
    while start <= end:
        last = min(end, start + timedelta(days=span_days - 1))
        spans.append((start, last))
        start = last + timedelta(days=1)
    return spans


class TogglClient:
    """One authenticated session against one Toggl workspace.

    All calls share one pacer, quota tracker and :attr:`stats`. Use it as a context manager or close() it.
    """

    def __init__(
        self,
        api_token: str,
        base_url: str = DEFAULT_BASE_URL,
        workspace_id: int | None = None,
        *,
        requests_per_second: float | None = 1.0,
        max_quota_wait_seconds: float = 900.0,
        page_size: int = 10_000,
        timeout: tuple[float, float] = (10.0, 120.0),
        max_retries: int = 6,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        logger: logging.Logger | None = None,
        user_agent: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not api_token or not api_token.strip():
            raise ValueError("Toggl API token is empty: set TOGGL_API_TOKEN")
        if page_size < 1:
            raise ValueError("page_size must be >= 1")
        self._root = _root_url(base_url)
        self.base_url = self._root
        self._workspace_id = workspace_id
        self.max_quota_wait_seconds = max_quota_wait_seconds
        self.page_size = page_size
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.log = logger or logging.getLogger("toggl_assets.toggl")
        self.stats = RequestStats()
        self.warnings: list[str] = []
        self._sleep = sleep
        self._pacer = Pacer(requests_per_second, sleep=sleep)
        self._quota_blocked_until: float | None = None
        # Kept only to scrub it from any text that might reach a log or an exception.
        basic = base64.b64encode(f"{api_token}:api_token".encode()).decode()
        self._secrets = tuple(s for s in (api_token, basic) if s)
        self._session = requests.Session()
        self._session.auth = (api_token, "api_token")
        self._session.headers.update({"User-Agent": user_agent or USER_AGENT, "Accept": "application/json"})

    # -- lifecycle -------------------------------------------------------------------------------------------

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> TogglClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TogglClient(base_url={self._root!r}, workspace_id={self._workspace_id!r})"

    # -- public API ------------------------------------------------------------------------------------------

    @property
    def workspace_id(self) -> int:
        """The configured workspace, else the user's default workspace from ``GET /me`` (fetched once)."""
        if self._workspace_id is None:
            endpoint = f"GET {V9}/me"
            body, _ = self._call("GET", V9, "/me")
            self._workspace_id = parsing.parse_me_workspace_id(body, endpoint)
        return self._workspace_id

    def clients(self) -> list[ClientRecord]:
        body, _ = self._call("GET", V9, "/workspaces/{wid}/clients", params={"status": "both"})
        return parsing.parse_clients(body, f"GET {V9}/workspaces/{{wid}}/clients", self.workspace_id)

    def projects(self) -> list[ProjectRecord]:
        endpoint = f"GET {V9}/workspaces/{{wid}}/projects"
        out: list[ProjectRecord] = []
        seen: set[int] = set()
        for page in range(1, MAX_LIST_PAGES + 1):
            params = {"active": "both", "per_page": PROJECTS_PER_PAGE, "page": page}
            body, _ = self._call("GET", V9, "/workspaces/{wid}/projects", params=params)
            records = parsing.parse_projects(body, endpoint, self.workspace_id)
            if records and all(r.id in seen for r in records):
                raise TogglResponseError(endpoint, f"page {page} repeats projects already received")
            seen.update(r.id for r in records)
            out.extend(records)
            # A short page is the last one: saves the extra empty-page request on a 30-requests/hour plan.
            if len(records) < PROJECTS_PER_PAGE:
                break
        return out

    def tags(self) -> list[TagRecord]:
        # Tags accept page/per_page but answer everything when they are omitted (reference §2.6, §8.9).
        body, _ = self._call("GET", V9, "/workspaces/{wid}/tags")
        return parsing.parse_tags(body, f"GET {V9}/workspaces/{{wid}}/tags", self.workspace_id)

    def users(self) -> list[UserRecord]:
        # workspace_users (not /users) because it carries rates, timezone and the global uid.
        body, _ = self._call("GET", V9, "/workspaces/{wid}/workspace_users")
        return parsing.parse_workspace_users(body, f"GET {V9}/workspaces/{{wid}}/workspace_users", self.workspace_id)

    def tasks(self) -> list[TaskRecord] | None:
        """All tasks (active and done), or None when the plan lacks tasks (402 without quota headers)."""
        endpoint = f"GET {V9}/workspaces/{{wid}}/tasks"
        out: list[TaskRecord] = []
        seen: set[int] = set()
        for page in range(1, MAX_LIST_PAGES + 1):
            params = {"active": "both", "per_page": TASKS_PER_PAGE, "page": page}
            try:
                body, _ = self._call("GET", V9, "/workspaces/{wid}/tasks", params=params)
            except TogglPlanError as exc:
                msg = f"tasks skipped: the workspace plan does not include tasks ({exc})"
                self.warnings.append(msg)
                self.log.warning("Toggl %s", msg)
                return None
            records, total, per_page = parsing.parse_tasks_page(body, endpoint, self.workspace_id)
            if records and all(r.id in seen for r in records):
                raise TogglResponseError(endpoint, f"page {page} repeats tasks already received")
            seen.update(r.id for r in records)
            out.extend(records)
            if not records or len(records) < (per_page or TASKS_PER_PAGE):
                break
            if total is not None and len(out) >= total:
                break
        return out

    def iter_entry_pages(self, start_date: date, end_date: date) -> Iterator[list[EntryRecord]]:
        """Detailed-report entries started between the dates (both inclusive), one parsed page at a time.

        Ranges longer than :data:`MAX_REPORT_SPAN_DAYS` are split: Toggl's maximum span per report request
        is undocumented (a third-party source says 366 days), and one extra request per year is cheap.
        """
        start_date = start_date.date() if isinstance(start_date, datetime) else start_date
        end_date = end_date.date() if isinstance(end_date, datetime) else end_date
        if start_date > end_date:
            raise ValueError(f"start_date {start_date} is after end_date {end_date}")
        for chunk_start, chunk_end in report_spans(start_date, end_date):
            yield from self._iter_report_span(chunk_start, chunk_end)

    def _iter_report_span(self, start_date: date, end_date: date) -> Iterator[list[EntryRecord]]:
        endpoint = f"POST {REPORTS}{REPORT_PATH}"
        cursor: tuple[int | None, int | None] | None = None
        seen: set[tuple[int | None, int | None]] = set()
        while True:
            size = self.page_size
            body: dict[str, Any] = {
                "start_date": start_date.isoformat(),
                "end_date": end_date.isoformat(),
                "page_size": size,
            }
            if cursor is not None:
                if cursor[0] is not None:
                    body["first_row_number"] = cursor[0]
                if cursor[1] is not None:
                    body["first_id"] = cursor[1]
            try:
                data, headers = self._call("POST", REPORTS, REPORT_PATH, json_body=body)
            except TogglApiError as exc:
                if exc.status == 400 and "page_size" in exc.message.lower() and size > 1:
                    self.page_size = max(1, size // 2)
                    self.stats.page_size_rejections += 1
                    self.stats.retries += 1
                    self.log.info(
                        "Toggl rejected page_size=%d (%s); retrying with %d",
                        size,
                        exc.message,
                        self.page_size,
                    )
                    continue
                raise
            rows = parsing.expect_list(data, endpoint)
            records = parsing.parse_report_rows(rows, endpoint, self.workspace_id)
            next_row = _header_int(headers, "X-Next-Row-Number")
            next_id = _header_int(headers, "X-Next-ID")
            more = next_row is not None or next_id is not None
            if more and 0 < len(rows) < size:
                # The server clamped page_size: ask for what it actually gives from now on.
                self.log.info("Toggl answered %d rows for page_size=%d; using %d", len(rows), size, len(rows))
                self.page_size = len(rows)
            self.stats.page_size_used = self.page_size
            yield records
            if not more:
                return
            cursor = (next_row, next_id)
            if cursor in seen:
                raise TogglResponseError(endpoint, f"pagination cursor repeated (row {next_row}, id {next_id})")
            seen.add(cursor)

    def current_entry(self) -> EntryRecord | None:
        """The running entry of the token's user, or None (Toggl answers JSON ``null``)."""
        endpoint = f"GET {V9}/me/time_entries/current"
        body, _ = self._call("GET", V9, "/me/time_entries/current")
        if isinstance(body, dict) and set(body) == {"data"}:
            body = body["data"]  # tolerate the stale v8-style envelope shown in one doc page (reference §2.9)
        if body is None:
            return None
        return parsing.parse_v9_entry(body, endpoint)

    # -- transport -------------------------------------------------------------------------------------------

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _call(
        self,
        method: str,
        api: str,
        template: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
    ) -> tuple[Any, Mapping[str, str]]:
        """One logical request with quota waits and bounded retries -> (decoded JSON body, headers)."""
        endpoint = f"{method} {api}{template}"
        path = template.format(wid=self.workspace_id) if "{wid}" in template else template
        url = f"{self._root}{api}{path}"
        headers = {"Content-Type": "application/json"} if json_body is not None else None
        data = json.dumps(json_body) if json_body is not None else None
        failures = 0
        quota_402s = 0
        while True:
            self._wait_for_quota(endpoint)
            self.stats.paced_seconds += self._pacer.wait()
            self.stats.total += 1
            self.stats.requests_by_endpoint[endpoint] = self.stats.requests_by_endpoint.get(endpoint, 0) + 1
            retry_after: float | None = None
            try:
                resp = self._session.request(
                    method, url, params=params, data=data, headers=headers, timeout=self.timeout
                )
            except _TRANSIENT_EXCEPTIONS as exc:
                # Only the class name and redacted text; the exception itself is never chained.
                problem = f"{type(exc).__name__}: {self._redact(str(exc))[:300]}"
            else:
                remaining, resets_in = self._note_quota(resp.headers)
                status = resp.status_code
                if 200 <= status < 300:
                    try:
                        body = json.loads(resp.content)
                    except ValueError:
                        problem = f"HTTP {status} with a body that is not valid JSON (truncated or malformed)"
                    else:
                        self._block_if_quota_spent(remaining, resets_in)
                        return body, resp.headers
                elif status == 402 and self._is_quota_402(resp.headers):
                    quota_402s += 1
                    wait = (resets_in if resets_in is not None else DEFAULT_QUOTA_RESET) + 1.0
                    if wait > self.max_quota_wait_seconds or quota_402s > MAX_QUOTA_WAITS_PER_REQUEST:
                        raise TogglQuotaError(
                            endpoint=endpoint, requests_used=self.stats.total, resets_in=wait
                        ) from None
                    self.log.warning("Toggl quota exhausted on %s; waiting %.0f s for the reset", endpoint, wait)
                    self._wait(wait, quota=True)
                    continue
                elif status == 429:
                    retry_after = _retry_after(resp.headers)
                    problem = "HTTP 429 Too Many Requests"
                elif status >= 500:
                    problem = f"HTTP {status}: {self._message(resp)[:200]}"
                elif status in (401, 403):
                    detail = self._message(resp) or None
                    if status == 403 and "{wid}" in template:
                        # Toggl answers 403 for a workspace the token's user is not a member of, too.
                        hint = f"workspace {self._workspace_id}: if that id is wrong, fix TOGGL_WORKSPACE_ID"
                        detail = f"{detail} ({hint})" if detail else hint
                    raise TogglAuthError(status, endpoint, detail) from None
                elif status == 402:
                    raise TogglPlanError(status, endpoint, self._message(resp)) from None
                else:
                    raise TogglApiError(status, endpoint, self._message(resp)) from None
            failures += 1
            if failures > self.max_retries:
                raise TogglConnectionError(endpoint, failures, problem) from None
            if retry_after is not None:
                if retry_after > self.max_quota_wait_seconds:
                    raise TogglConnectionError(
                        endpoint, failures, f"{problem}; Retry-After {retry_after:.0f} s is too long to wait"
                    ) from None
                delay = retry_after
            else:
                # Full jitter: spreads retries of concurrent clients instead of synchronising them.
                delay = random.uniform(0, min(self.backoff_cap, self.backoff_base * 2 ** (failures - 1)))
            self.stats.retries += 1
            self.log.warning(
                "Toggl %s failed (%s); retry %d/%d in %.2f s",
                endpoint,
                problem,
                failures,
                self.max_retries,
                delay,
            )
            self._wait(delay)

    def _message(self, resp: requests.Response) -> str:
        try:
            content = resp.content
        except _TRANSIENT_EXCEPTIONS:
            return ""
        return self._redact(parsing.error_message(content))

    def _note_quota(self, headers: Mapping[str, str]) -> tuple[int | None, float | None]:
        """Record this answer's quota headers (stats keep the last seen values) and return them."""
        remaining = _header_int(headers, QUOTA_REMAINING)
        resets_in = _header_number(headers, QUOTA_RESETS_IN)
        if remaining is not None:
            self.stats.quota_remaining = remaining
        if resets_in is not None:
            self.stats.quota_resets_in = resets_in
        return remaining, resets_in

    @staticmethod
    def _is_quota_402(headers: Mapping[str, str]) -> bool:
        # 402 also means "plan lacks this feature"; only the quota flavour carries the quota headers
        # (reference §4.3). A 402 that reports quota left is a plan refusal, whatever headers it has.
        if QUOTA_REMAINING not in headers and QUOTA_RESETS_IN not in headers:
            return False
        remaining = _header_int(headers, QUOTA_REMAINING)
        return remaining is None or remaining <= 0

    def _block_if_quota_spent(self, remaining: int | None, resets_in: float | None) -> None:
        """After a success that used the window's last request, the next request waits for the reset."""
        if remaining is not None and remaining <= 0:
            wait = (resets_in if resets_in is not None else DEFAULT_QUOTA_RESET) + 1.0
            self._quota_blocked_until = time.monotonic() + wait

    def _wait_for_quota(self, endpoint: str) -> None:
        if self._quota_blocked_until is None:
            return
        wait = self._quota_blocked_until - time.monotonic()
        if wait > self.max_quota_wait_seconds:
            raise TogglQuotaError(endpoint=endpoint, requests_used=self.stats.total, resets_in=wait)
        self._quota_blocked_until = None
        if wait > 0:
            self.log.warning("Toggl quota used up; waiting %.0f s for the reset before %s", wait, endpoint)
            self._wait(wait, quota=True)

    def _wait(self, seconds: float, *, quota: bool = False) -> None:
        if quota:
            self.stats.quota_waits += 1
        self.stats.waited_seconds += seconds
        if seconds > 0:
            self._sleep(seconds)
