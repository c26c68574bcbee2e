"""One logical Toggl request: pace, send, classify the answer, wait out a spent quota, retry transient failures.

The transport knows HTTP and Toggl's conventions (reference §2.1, §4), not endpoints: the client builds a
:class:`Request` and passes the decoder of its body. Nothing here ever logs or raises the API token, and raw
``requests`` exceptions are never chained (their text can carry URLs).
"""

from __future__ import annotations

import base64
import html
import http.client
import json
import logging
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import requests
import urllib3

from toggl_assets.toggl.decode import MalformedBody
from toggl_assets.toggl.errors import (
    TogglApiError,
    TogglAuthError,
    TogglConnectionError,
    TogglPlanError,
    TogglQuotaError,
    TogglWorkspaceAccessError,
)
from toggl_assets.toggl.pacing import Pacer
from toggl_assets.toggl.quota import USER_BUCKET, QuotaBook, QuotaSeen, is_quota_402, quota_headers, reset_wait

T = TypeVar("T")
MAX_QUOTA_WAITS_PER_REQUEST = 3  # a sliding window that keeps answering 402 after waiting is not worth more


def whole_body(resp: requests.Response) -> bytes:
    """The body of a streamed response, read (and decompressed) in one call, with the exceptions requests' own
    ``Response.content`` would raise.

    ``Response.content`` reads 10 kB at a time, and every read gives up the GIL: while other threads parse and
    stage pages (a page is read while the one before it is loaded), taking it back costs up to a switch interval
    (5 ms) per read. Measured on a 6.7 MB page with two busy threads: 2.2-3.9 s, against 30-35 ms in one call.
    """
    try:
        return resp.raw.read(decode_content=True)
    except urllib3.exceptions.ProtocolError as exc:  # cut short (IncompleteRead), connection reset
        raise requests.exceptions.ChunkedEncodingError(exc) from None
    except urllib3.exceptions.DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(exc) from None
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise requests.ConnectionError(exc) from None
    except urllib3.exceptions.SSLError as exc:
        raise requests.exceptions.SSLError(exc) from None


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
    """What one client has spent so far; never contains credentials.

    ``quota_remaining``/``quota_resets_in`` are the last values seen on any answer; ``quota_by_bucket`` keeps
    the last ones per quota bucket (``"user"``, ``"organization:<id>"``, ``"workspace:<id>"``).
    """

    requests_by_endpoint: dict[str, int] = field(default_factory=dict)
    requests_by_workspace: dict[int, int] = field(default_factory=dict)
    total: int = 0
    retries: int = 0
    quota_remaining: int | None = None
    quota_resets_in: float | None = None
    quota_by_bucket: dict[str, QuotaSeen] = field(default_factory=dict)
    waited_seconds: float = 0.0  # quota waits and retry backoff
    paced_seconds: float = 0.0  # sleeps imposed by requests_per_second
    quota_waits: int = 0
    page_size_used: int | None = None
    page_size_rejections: int = 0

    def count(self, endpoint: str, workspace_id: int | None) -> None:
        self.total += 1
        self.requests_by_endpoint[endpoint] = self.requests_by_endpoint.get(endpoint, 0) + 1
        if workspace_id is not None:
            self.requests_by_workspace[workspace_id] = self.requests_by_workspace.get(workspace_id, 0) + 1

    def note_quota(self, bucket: str, seen: QuotaSeen) -> None:
        if seen.remaining is None and seen.resets_in is None:
            return
        self.quota_by_bucket[bucket] = seen
        if seen.remaining is not None:
            self.quota_remaining = seen.remaining
        if seen.resets_in is not None:
            self.quota_resets_in = seen.resets_in


@dataclass(frozen=True)
class Request:
    """What to send. ``template`` keeps ``{wid}`` so stats and errors name the endpoint, not the workspace."""

    method: str
    api: str  # "/api/v9" or "/reports/api/v3"
    template: str
    workspace_id: int | None = None
    bucket: str = USER_BUCKET
    params: Mapping[str, Any] | None = None
    json_body: Any = None

    @property
    def endpoint(self) -> str:
        return f"{self.method} {self.api}{self.template}"

    @property
    def path(self) -> str:
        return self.template.format(wid=self.workspace_id) if "{wid}" in self.template else self.template


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with full-jitter exponential backoff (spreads concurrent clients instead of syncing them)."""

    max_retries: int = 6
    backoff_base: float = 1.0
    backoff_cap: float = 60.0

    def delay(self, failures: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        return random.uniform(0, min(self.backoff_cap, self.backoff_base * 2 ** (failures - 1)))


@dataclass(frozen=True)
class _Retry:
    problem: str
    retry_after: float | None = None


@dataclass(frozen=True)
class _QuotaSpent:
    resets_in: float | None


@dataclass
class _Attempts:
    failures: int = 0
    quota_402s: int = 0


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` as seconds or an HTTP date (Toggl never documented one, §4.1; proxies may send it)."""
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


def _json_text(decoded: Any) -> str | None:
    """Toggl's message inside a decoded JSON error body: a string, or an object's ``error``/``message``."""
    if isinstance(decoded, str):
        return decoded
    if isinstance(decoded, Mapping):
        inner = decoded.get("error", decoded)
        if isinstance(inner, Mapping):
            inner = inner.get("message") or inner.get("error") or inner
        return inner if isinstance(inner, str) else json.dumps(inner)[:300]
    if isinstance(decoded, list):
        return json.dumps(decoded)[:300]
    return None


def error_message(content: bytes) -> str:
    """Toggl's explanation from an error body: a JSON string, a JSON object's message, or stripped HTML."""
    text = content.decode("utf-8", errors="replace").strip()
    if not text:
        return ""
    try:
        found = _json_text(json.loads(text))
    except ValueError:
        found = None
    if found is not None:
        text = found
    elif "<" in text:
        # nginx-style HTML pages (429/400 under throttling, reference §4.1): keep the readable text only.
        text = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", text)
        text = html.unescape(re.sub(r"(?s)<[^>]+>", " ", text))
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:297] + "..."


class Transport:
    """Sends :class:`Request` objects for one token; shares pacing, quota state and stats across all calls."""

    def __init__(
        self,
        api_token: str,
        root: str,
        *,
        stats: RequestStats,
        timeout: tuple[float, float],
        retry: RetryPolicy,
        max_quota_wait_seconds: float,
        requests_per_second: float | None,
        logger: logging.Logger,
        user_agent: str,
        sleep: Callable[[float], None],
    ) -> None:
        self.root = root
        self.stats = stats
        self.timeout = timeout
        self.retry = retry
        self.max_quota_wait_seconds = max_quota_wait_seconds
        self.log = logger
        self.quota = QuotaBook()
        self._sleep = sleep
        self._pacer = Pacer(requests_per_second, sleep=sleep)
        # Kept only to scrub it from any text that might reach a log or an exception.
        basic = base64.b64encode(f"{api_token}:api_token".encode()).decode()
        self._secrets = tuple(s for s in (api_token, basic) if s)
        self._session = requests.Session()
        self._session.auth = (api_token, "api_token")
        self._session.headers.update({"User-Agent": user_agent, "Accept": "application/json"})

    def close(self) -> None:
        self._session.close()

    def call(self, request: Request, decode: Callable[[bytes], T]) -> tuple[T, Mapping[str, str]]:
        """Send until Toggl answers 2xx with a decodable body -> (decoded body, headers), or raise a TogglError."""
        attempts = _Attempts()
        while True:
            self._wait_for_quota(request)
            self.stats.paced_seconds += self._pacer.wait()
            self.stats.count(request.endpoint, request.workspace_id)
            outcome = self._exchange(request, decode)
            if isinstance(outcome, _QuotaSpent):
                self._wait_out_402(request, outcome, attempts)
            elif isinstance(outcome, _Retry):
                self._back_off(request, outcome, attempts)
            else:
                return outcome

    # -- one exchange ----------------------------------------------------------------------------------------

    def _exchange(
        self, request: Request, decode: Callable[[bytes], T]
    ) -> tuple[T, Mapping[str, str]] | _Retry | _QuotaSpent:
        body = json.dumps(request.json_body) if request.json_body is not None else None
        try:
            resp = self._session.request(
                request.method,
                f"{self.root}{request.api}{request.path}",
                params=request.params,
                data=body,
                headers={"Content-Type": "application/json"} if body is not None else None,
                timeout=self.timeout,
                stream=True,  # the body is read by whole_body, in one call
            )
        except _TRANSIENT_EXCEPTIONS as exc:
            return self._transient(exc)
        with resp:  # gives the connection back to the pool, or closes it if the body was not read to its end
            seen = quota_headers(resp.headers)
            self.stats.note_quota(request.bucket, seen)
            if not 200 <= resp.status_code < 300:
                return self._classify_failure(request, resp, seen)
            # Counted by Toggl whatever the body holds: a window's last request blocks the bucket even if the
            # body then turns out cut short.
            self.quota.note_success(request.bucket, seen)
            try:
                content = whole_body(resp)
            except _TRANSIENT_EXCEPTIONS as exc:
                return self._transient(exc)
        try:
            value = decode(content)
        except MalformedBody:
            return _Retry(f"HTTP {resp.status_code} with a body that is not valid JSON (truncated or malformed)")
        return value, resp.headers

    def _transient(self, exc: BaseException) -> _Retry:
        # Only the class name and redacted text; the exception itself is never chained.
        return _Retry(f"{type(exc).__name__}: {self._redact(str(exc))[:300]}")

    def _classify_failure(self, request: Request, resp: requests.Response, seen: QuotaSeen) -> _Retry | _QuotaSpent:
        """A non-2xx answer: something to wait out or retry, else the matching TogglError is raised."""
        status = resp.status_code
        # Read first, whatever follows: an error body is short, and a body read to its end gives the connection
        # back to the pool for the retry (an unread one closes it: a new connection per refusal).
        message = self._message(resp)
        if status == 402 and is_quota_402(resp.headers):
            return _QuotaSpent(seen.resets_in)
        if status == 429:
            return _Retry("HTTP 429 Too Many Requests", retry_after_seconds(resp.headers))
        if status >= 500:
            return _Retry(f"HTTP {status}: {message[:200]}")
        if status in (401, 403) and request.workspace_id is not None:
            # Toggl answers 403 for a workspace the token's user is not a member of, too.
            raise TogglWorkspaceAccessError(status, request.endpoint, request.workspace_id, message or None) from None
        if status in (401, 403):
            raise TogglAuthError(status, request.endpoint, message or None) from None
        if status == 402:
            raise TogglPlanError(status, request.endpoint, message) from None
        raise TogglApiError(status, request.endpoint, message) from None

    def _message(self, resp: requests.Response) -> str:
        try:
            content = resp.content
        except _TRANSIENT_EXCEPTIONS:
            return ""
        return self._redact(error_message(content))

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    # -- waiting ---------------------------------------------------------------------------------------------

    def _quota_error(self, request: Request, resets_in: float) -> TogglQuotaError:
        return TogglQuotaError(
            endpoint=request.endpoint, requests_used=self.stats.total, resets_in=resets_in, bucket=request.bucket
        )

    def _wait_for_quota(self, request: Request) -> None:
        """Before sending: a bucket known to be spent is waited out (or the request fails if that is too long)."""
        wait = self.quota.blocked_for(request.bucket)
        if wait > self.max_quota_wait_seconds:
            raise self._quota_error(request, wait) from None
        self.quota.release(request.bucket)
        if wait > 0:
            self.log.warning(
                "Toggl quota (%s) used up; waiting %.0f s for the reset before %s",
                request.bucket,
                wait,
                request.endpoint,
            )
            self._wait(wait, quota=True)

    def _wait_out_402(self, request: Request, spent: _QuotaSpent, attempts: _Attempts) -> None:
        attempts.quota_402s += 1
        wait = reset_wait(spent.resets_in)
        if wait > self.max_quota_wait_seconds or attempts.quota_402s > MAX_QUOTA_WAITS_PER_REQUEST:
            raise self._quota_error(request, wait) from None
        self.log.warning(
            "Toggl quota (%s) exhausted on %s; waiting %.0f s for the reset", request.bucket, request.endpoint, wait
        )
        self._wait(wait, quota=True)

    def _back_off(self, request: Request, retry: _Retry, attempts: _Attempts) -> None:
        attempts.failures += 1
        if attempts.failures > self.retry.max_retries:
            raise TogglConnectionError(request.endpoint, attempts.failures, retry.problem) from None
        if retry.retry_after is not None and retry.retry_after > self.max_quota_wait_seconds:
            raise TogglConnectionError(
                request.endpoint,
                attempts.failures,
                f"{retry.problem}; Retry-After {retry.retry_after:.0f} s is too long to wait",
            ) from None
        delay = self.retry.delay(attempts.failures, retry.retry_after)
        self.stats.retries += 1
        self.log.warning(
            "Toggl %s failed (%s); retry %d/%d in %.2f s",
            request.endpoint,
            retry.problem,
            attempts.failures,
            self.retry.max_retries,
            delay,
        )
        self._wait(delay)

    def _wait(self, seconds: float, *, quota: bool = False) -> None:
        if quota:
            self.stats.quota_waits += 1
        self.stats.waited_seconds += seconds
        if seconds > 0:
            self._sleep(seconds)
