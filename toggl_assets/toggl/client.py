"""HTTP client for the Toggl Track v9 and Reports v3 APIs, for any workspace the token's user can read.

It knows nothing about PostgreSQL, Dagster or the application's settings: it turns Toggl answers into
:mod:`toggl_assets.records` and failures into :mod:`toggl_assets.toggl.errors`. Sending, retries, pacing and
quota live in :mod:`toggl_assets.toggl.transport`; decoding in :mod:`toggl_assets.toggl.decode`. See the API
reference notes (toggl-api.md: §3 reports, §4 quotas, §6 pitfalls) for why it behaves as it does.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from datetime import date, datetime, timedelta
from functools import partial
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from toggl_assets import __version__
from toggl_assets import records as rec
from toggl_assets.toggl import decode
from toggl_assets.toggl.errors import TogglApiError, TogglPlanError, TogglResponseError
from toggl_assets.toggl.quota import USER_BUCKET, header_int, organization_bucket, workspace_bucket
from toggl_assets.toggl.transport import Request, RequestStats, RetryPolicy, Transport

__all__ = ["DEFAULT_BASE_URL", "MAX_REPORT_SPAN_DAYS", "RequestStats", "TogglClient", "report_spans"]

DEFAULT_BASE_URL = "https://api.track.toggl.com"
USER_AGENT = f"toggl_assets/{__version__} (+https://github.com/toggl-assets)"

V9 = "/api/v9"
REPORTS = "/reports/api/v3"
PROJECTS_PER_PAGE = 200  # documented maximum (reference §2.5)
TASKS_PER_PAGE = 200  # maximum undocumented (default 50); the envelope's per_page tells what the server applied
REPORT_PATH = "/workspace/{wid}/search/time_entries"
TOTALS_PATH = "/workspace/{wid}/search/time_entries/totals"
MAX_LIST_PAGES = 10_000  # guard against a server that ignores ``page`` and repeats itself forever
# Toggl's maximum span per report request is undocumented (a third-party source says 366 days; its apps
# refuse more than 365), so long ranges are split; one extra request per year is cheap.
MAX_REPORT_SPAN_DAYS = 365
BY_LAST_UPDATE = {"order_by": "last_update", "order_dir": "DESC"}

R = TypeVar("R", rec.ClientRecord, rec.ProjectRecord, rec.TagRecord, rec.TaskRecord, rec.UserRecord)


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


def report_spans(start: date, end: date, span_days: int = MAX_REPORT_SPAN_DAYS) -> list[tuple[date, date]]:
    """Split [start, end] (inclusive) into consecutive inclusive spans of at most ``span_days`` days."""
    spans = []
    while start <= end:
        last = min(end, start + timedelta(days=span_days - 1))
        spans.append((start, last))
        start = last + timedelta(days=1)
    return spans


def _date_range(start_date: date, end_date: date) -> list[tuple[date, date]]:
    """Validated report spans of an inclusive date range (datetimes are cut to their date)."""
    start_date = start_date.date() if isinstance(start_date, datetime) else start_date
    end_date = end_date.date() if isinstance(end_date, datetime) else end_date
    if start_date > end_date:
        raise ValueError(f"start_date {start_date} is after end_date {end_date}")
    return report_spans(start_date, end_date)


def _next_cursor(headers: Mapping[str, str]) -> tuple[int | None, int | None] | None:
    """(first_row_number, first_id) of the next page, or None on the last page (0 is a cursor, not absent)."""
    next_row, next_id = header_int(headers, "X-Next-Row-Number"), header_int(headers, "X-Next-ID")
    return None if next_row is None and next_id is None else (next_row, next_id)


def _page_body(first: date, last: date, size: int, cursor: tuple[int | None, int | None] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"start_date": first.isoformat(), "end_date": last.isoformat(), "page_size": size}
    if cursor is not None:
        if cursor[0] is not None:
            body["first_row_number"] = cursor[0]
        if cursor[1] is not None:
            body["first_id"] = cursor[1]
    return body


def _is_page_size_refusal(exc: TogglApiError, size: int) -> bool:
    return exc.status == 400 and "page_size" in exc.message.lower() and size > 1


def _in_daemon_thread(call: Callable[..., Any], *args: Any) -> Future[Any]:
    """``call(*args)`` in a daemon thread, as a Future. A daemon (not an executor's thread): a request still
    waiting when its reader stopped early must not hold the process open at exit."""
    future: Future[Any] = Future()

    def run() -> None:
        try:
            future.set_result(call(*args))
        except BaseException as error:  # handed to the reader, which re-raises it
            future.set_exception(error)

    threading.Thread(target=run, name="toggl-next-page", daemon=True).start()
    return future


class TogglClient:
    """One authenticated session of one API token, for every workspace its user can read.

    All calls share one pacer, per-bucket quota tracker and :attr:`stats`. Use it as a context manager or
    close() it. Workspace-scoped calls take the workspace id; :meth:`workspaces` lists them.
    """

    def __init__(
        self,
        api_token: str,
        base_url: str = DEFAULT_BASE_URL,
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
            raise ValueError("the Toggl API token is empty")
        if page_size < 1:
            raise ValueError("page_size must be >= 1")
        self.base_url = _root_url(base_url)
        self.page_size = page_size
        self.stats = RequestStats()
        self.warnings: list[str] = []
        self._organizations: dict[int, int | None] = {}
        self._transport = Transport(
            api_token,
            self.base_url,
            stats=self.stats,
            timeout=timeout,
            retry=RetryPolicy(max_retries, backoff_base, backoff_cap),
            max_quota_wait_seconds=max_quota_wait_seconds,
            requests_per_second=requests_per_second,
            logger=logger or logging.getLogger("toggl_assets.toggl"),
            user_agent=user_agent or USER_AGENT,
            sleep=sleep,
        )

    # -- lifecycle -------------------------------------------------------------------------------------------

    @property
    def log(self) -> logging.Logger:
        return self._transport.log

    @log.setter
    def log(self, logger: logging.Logger) -> None:
        self._transport.log = logger

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> TogglClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TogglClient(base_url={self.base_url!r})"

    # -- requests --------------------------------------------------------------------------------------------

    def _bucket(self, workspace_id: int) -> str:
        """Toggl counts per user per organization (§4.2); an unknown organization is keyed by its workspace."""
        organization_id = self._organizations.get(workspace_id)
        return workspace_bucket(workspace_id) if organization_id is None else organization_bucket(organization_id)

    def _request(self, method: str, api: str, template: str, workspace_id: int | None = None, **kw: Any) -> Request:
        bucket = USER_BUCKET if workspace_id is None else self._bucket(workspace_id)
        return Request(method, api, template, workspace_id, bucket, **kw)

    # -- workspaces and metadata -----------------------------------------------------------------------------

    def workspaces(self) -> list[rec.WorkspaceRecord]:
        """Every workspace of the token's user (``GET /me/workspaces``, on the user quota bucket).

        Remembers each workspace's organization, so later calls are counted against the right quota bucket.
        """
        request = self._request("GET", V9, "/me/workspaces")
        records, _ = self._transport.call(request, partial(decode.decode_workspaces, endpoint=request.endpoint))
        for workspace in records:
            before = self._bucket(workspace.id)
            self._organizations[workspace.id] = workspace.organization_id
            if self._bucket(workspace.id) != before:
                # A quota spent while the organization was unknown stays spent under its real bucket.
                self._transport.quota.move(before, self._bucket(workspace.id))
        return records

    def _list(self, template: str, workspace_id: int, decoder: Callable[..., list[R]], **kw: Any) -> list[R]:
        request = self._request("GET", V9, template, workspace_id, **kw)
        records, _ = self._transport.call(
            request, partial(decoder, endpoint=request.endpoint, workspace_id=workspace_id)
        )
        return records

    def clients(self, workspace_id: int) -> list[rec.ClientRecord]:
        # Archived clients are hidden unless asked for (reference §2.4).
        return self._list("/workspaces/{wid}/clients", workspace_id, decode.decode_clients, params={"status": "both"})

    def tags(self, workspace_id: int) -> list[rec.TagRecord]:
        # Tags accept page/per_page but answer everything when they are omitted (reference §2.6, §8.9).
        return self._list("/workspaces/{wid}/tags", workspace_id, decode.decode_tags)

    def users(self, workspace_id: int) -> list[rec.UserRecord]:
        # workspace_users (not /users) because it carries rates, timezone and the global uid.
        return self._list("/workspaces/{wid}/workspace_users", workspace_id, decode.decode_users)

    def projects(self, workspace_id: int) -> list[rec.ProjectRecord]:
        def page(number: int) -> tuple[list[rec.ProjectRecord], int, int | None]:
            params = {"active": "both", "per_page": PROJECTS_PER_PAGE, "page": number}
            records = self._list("/workspaces/{wid}/projects", workspace_id, decode.decode_projects, params=params)
            return records, PROJECTS_PER_PAGE, None

        return self._all_pages(f"GET {V9}/workspaces/{{wid}}/projects", "projects", page)

    def tasks(self, workspace_id: int) -> list[rec.TaskRecord] | None:
        """All tasks (active and done), or None when the plan lacks tasks (402 without quota headers)."""
        template = "/workspaces/{wid}/tasks"

        def page(number: int) -> tuple[list[rec.TaskRecord], int, int | None]:
            params = {"active": "both", "per_page": TASKS_PER_PAGE, "page": number}
            request = self._request("GET", V9, template, workspace_id, params=params)
            (records, total, per_page), _ = self._transport.call(
                request, partial(decode.decode_tasks_page, endpoint=request.endpoint, workspace_id=workspace_id)
            )
            return records, per_page or TASKS_PER_PAGE, total

        try:
            return self._all_pages(f"GET {V9}{template}", "tasks", page)
        except TogglPlanError as exc:
            msg = f"tasks of workspace {workspace_id} skipped: the workspace plan does not include tasks ({exc})"
            self.warnings.append(msg)
            self.log.warning("Toggl %s", msg)
            return None

    @staticmethod
    def _all_pages(endpoint: str, what: str, fetch: Callable[[int], tuple[list[R], int, int | None]]) -> list[R]:
        """Page 1, 2, ... until a short page or ``total`` records; a page of only known ids is an error."""
        out: list[R] = []
        seen: set[int] = set()
        for number in range(1, MAX_LIST_PAGES + 1):
            records, per_page, total = fetch(number)
            if records and all(r.id in seen for r in records):
                raise TogglResponseError(endpoint, f"page {number} repeats {what} already received")
            seen.update(r.id for r in records)
            out.extend(records)
            # A short page is the last one: saves the extra empty-page request on a 30-requests/hour plan.
            if len(records) < per_page or (total is not None and len(out) >= total):
                break
        return out

    # -- entries ---------------------------------------------------------------------------------------------

    def iter_entry_pages(self, workspace_id: int, start_date: date, end_date: date) -> Iterator[list[rec.EntryRecord]]:
        """Detailed-report entries started between the dates (both inclusive), one decoded page at a time.

        Ranges longer than :data:`MAX_REPORT_SPAN_DAYS` are split into several report spans.
        """
        for first, last in _date_range(start_date, end_date):
            yield from self._iter_report_span(workspace_id, first, last, {})

    def iter_updated_entry_pages(
        self, workspace_id: int, start_date: date, end_date: date, since: datetime
    ) -> Iterator[list[rec.EntryRecord]]:
        """Entries of the date range created or edited at or after ``since``, most recently updated first.

        The detailed search ordered by ``last_update`` descending (reference §3.4) is read page by page until a
        page holds an entry whose ``at`` is older than ``since``: that page is yielded filtered to
        ``at >= since`` and the span ends there. Each report span of a long range is read this way. Entries
        without ``at`` are kept (nothing says they are old). Deleted entries never appear.
        """
        if since.tzinfo is None:
            raise ValueError("since must be a timezone-aware datetime")
        for first, last in _date_range(start_date, end_date):
            for page in self._iter_report_span(workspace_id, first, last, BY_LAST_UPDATE, ahead=False):
                fresh = [e for e in page if e.updated_at is None or e.updated_at >= since]
                yield fresh
                if len(fresh) < len(page):
                    break

    def _report_page(self, workspace_id: int, body: dict[str, Any]) -> tuple[list[Any], Mapping[str, str]] | None:
        """One detailed-report page, parsed but not yet mapped -> (rows, headers), or None when Toggl refused the
        page size (which is then halved: the server may refuse or cap page_size, reference §3.4)."""
        request = self._request("POST", REPORTS, REPORT_PATH, workspace_id, json_body=body)
        try:
            return self._transport.call(request, partial(decode.decode_report_rows, endpoint=request.endpoint))
        except TogglApiError as exc:
            size = body["page_size"]
            if not _is_page_size_refusal(exc, size):
                raise
            self.page_size = max(1, size // 2)
            self.stats.page_size_rejections += 1
            self.stats.retries += 1
            self.log.info("Toggl rejected page_size=%d (%s); retrying with %d", size, exc.message, self.page_size)
            return None

    def _iter_report_span(
        self, workspace_id: int, first: date, last: date, order: Mapping[str, str], *, ahead: bool = True
    ) -> Iterator[list[rec.EntryRecord]]:
        """The span's pages in order. With ``ahead``, the next page is asked for as soon as a page has arrived and
        been parsed (its headers name the next one), while this page is mapped and used: Toggl prepares the next
        answer meanwhile. Only a caller that reads every page passes it; one that may stop early would pay for a
        page it never reads."""
        endpoint = f"POST {REPORTS}{REPORT_PATH}"

        def ask(cursor: tuple[int | None, int | None] | None) -> tuple[int, Any]:
            size = self.page_size
            return size, self._report_page(workspace_id, {**_page_body(first, last, size, cursor), **order})

        cursor: tuple[int | None, int | None] | None = None
        seen: set[tuple[int | None, int | None]] = set()
        pending: Future[Any] | None = None
        while True:
            size, page = pending.result() if pending is not None else ask(cursor)
            pending = None
            if page is None:
                continue
            rows, headers = page
            cursor = _next_cursor(headers)
            if cursor is not None and 0 < len(rows) < size:
                # The server clamped page_size: ask for what it actually gives from now on.
                self.log.info("Toggl answered %d rows for page_size=%d; using %d", len(rows), size, len(rows))
                self.page_size = len(rows)
            self.stats.page_size_used = self.page_size
            repeated = cursor in seen
            if cursor is not None and not repeated:
                seen.add(cursor)
                if ahead:
                    pending = _in_daemon_thread(ask, cursor)
            yield decode.report_entries(rows, endpoint, workspace_id)
            if cursor is None:
                return
            if repeated:
                raise TogglResponseError(endpoint, f"pagination cursor repeated (row {cursor[0]}, id {cursor[1]})")

    def daily_seconds(self, workspace_id: int, start_date: date, end_date: date) -> dict[date, int]:
        """Tracked seconds per day of [start_date, end_date] (every day present, 0 included), all users.

        One ``…/search/time_entries/totals`` request per report span with ``granularity: "day"`` and
        ``with_graph: true``; graph bucket ``i`` is the span's start + ``i`` days. An answer of another
        resolution or another bucket count is a :class:`TogglResponseError`, never a guess. Which time zone
        Toggl's day buckets use is undocumented (reference §3.4, §5).
        """
        out: dict[date, int] = {}
        for first, last in _date_range(start_date, end_date):
            body = {
                "start_date": first.isoformat(),
                "end_date": last.isoformat(),
                "granularity": "day",
                "with_graph": True,
            }
            request = self._request("POST", REPORTS, TOTALS_PATH, workspace_id, json_body=body)
            days, _ = self._transport.call(
                request, partial(decode.decode_daily_totals, endpoint=request.endpoint, first_day=first, last_day=last)
            )
            out.update(days)
        return out

    def current_entry(self) -> rec.EntryRecord | None:
        """The running entry of the token's user, or None (Toggl answers JSON ``null``)."""
        request = self._request("GET", V9, "/me/time_entries/current")
        entry, _ = self._transport.call(request, partial(decode.decode_current_entry, endpoint=request.endpoint))
        return entry
