"""Reports v3: the detailed search and its totals (toggl-api.md §3.1, §3.4), one workspace per request.

Both read the same filters through ``parse_query``, so they always select the same entries.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from .config import SimulatorConfig
from .report_query import ReportQuery, report_ids
from .serialize import entry_money, report_rows
from .store import Entry, Store
from .timefmt import UTC, day_start, zone
from .wire import ApiError, Ctx, Reply, Router, json_reply

SEARCH = "/reports/api/v3/workspace/{wid}/search/time_entries"
ORDER_BY = ("date", "user", "duration", "description", "last_update")
RESOLUTIONS = ("day", "week", "month")
# Without granularity/resolution the totals pick the resolution by span (Toggl's own choice is unknown).
AUTO_DAY_MAX_DAYS = 31
AUTO_WEEK_MAX_DAYS = 183


def _ids_filter(body: dict[str, Any], name: str) -> frozenset[int | None] | None:
    v = body.get(name)
    if v is None:
        return None
    if not isinstance(v, list) or not all(x is None or (isinstance(x, int) and not isinstance(x, bool)) for x in v):
        raise ApiError(400, f"Invalid '{name}' value")
    return frozenset(v)  # [null] selects "none" (e.g. entries without project)


def _typed(body: dict[str, Any], name: str, kind: type) -> Any:
    value = body.get(name)
    if value is not None and not isinstance(value, kind):
        raise ApiError(400, f"Invalid '{name}' value")
    return value


def register(r: Router, config: SimulatorConfig) -> None:
    reports = Reports(config)
    r.add("POST", SEARCH, reports.detailed, reports=True)
    r.add("POST", SEARCH + "/totals", reports.totals, reports=True)


class Reports:
    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config

    # ------------------------------------------------------------------ shared request reading
    def _dates(self, s: Store, body: dict[str, Any]) -> tuple[date, date]:
        if body.get("start_date") is None:
            raise ApiError(400, "start_date is required")
        dates: list[date] = []
        for name in ("start_date", "end_date"):
            v = body.get(name)
            if v is None:  # end_date omitted -> today
                dates.append(datetime.fromtimestamp(s.now(), UTC).date())
                continue
            try:
                dates.append(date.fromisoformat(str(v)))
            except ValueError:
                raise ApiError(400, f"Invalid '{name}' value, expected YYYY-MM-DD") from None
        if dates[0] > dates[1]:
            raise ApiError(400, "start_date must not be later than end_date")
        span = self.config.report_max_span_days
        if span is not None and (dates[1] - dates[0]).days + 1 > span:
            raise ApiError(400, f"The date range must not exceed {span} days")
        return dates[0], dates[1]

    def _bounds(self, s: Store, d0: date, d1: date) -> tuple[int, int, tuple[tuple[int, int, int], ...] | None]:
        """[lo, hi) of starts for the inclusive days, read in ``bare_date_tz`` ("user": per user)."""
        end = d1 + timedelta(days=1)
        tz_name = self.config.bare_date_tz
        if tz_name == "user":
            per_user = tuple(sorted((u.id, day_start(d0, u.tz), day_start(end, u.tz)) for u in s.users.values()))
            return day_start(d0), day_start(end), per_user
        z = zone(tz_name)
        return day_start(d0, z), day_start(end, z), None

    def parse_query(self, ctx: Ctx) -> tuple[dict[str, Any], ReportQuery, date, date]:
        """The body, its normalized query and its inclusive dates. 400 on anything invalid."""
        body = ctx.json_object()
        if not body:
            raise ApiError(400, "At least one parameter must be set")
        d0, d1 = self._dates(ctx.store, body)
        order_by = body.get("order_by") or "date"
        if order_by not in ORDER_BY:
            raise ApiError(400, f"Invalid 'order_by' value, allowed values are {', '.join(ORDER_BY)}")
        order_dir = str(body.get("order_dir") or "ASC").upper()
        if order_dir not in ("ASC", "DESC"):
            raise ApiError(400, "Invalid 'order_dir' value, allowed values are ASC, DESC")
        lo, hi, per_user = self._bounds(ctx.store, d0, d1)
        user_ids = _ids_filter(body, "user_ids")
        query = ReportQuery(
            lo=lo,
            hi=hi,
            per_user_bounds=per_user,
            user_ids=None if user_ids is None else frozenset(x for x in user_ids if x is not None),
            project_ids=_ids_filter(body, "project_ids"),
            client_ids=_ids_filter(body, "client_ids"),
            tag_ids=_ids_filter(body, "tag_ids"),
            task_ids=_ids_filter(body, "task_ids"),
            description=_typed(body, "description", str) or None,
            billable=_typed(body, "billable", bool),
            include_running=self.config.reports_include_running,
            order_by=order_by,
            descending=order_dir == "DESC",
        )
        return body, query, d0, d1

    # ------------------------------------------------------------------ detailed search
    def _page_size(self, body: dict[str, Any]) -> int:
        cfg = self.config
        page_size = body.get("page_size", 50)
        if not isinstance(page_size, int) or isinstance(page_size, bool) or page_size < 1:
            raise ApiError(400, "Invalid 'page_size' value")
        if page_size > cfg.max_page_size:
            if cfg.page_size_overflow == "reject":
                raise ApiError(400, f"Invalid 'page_size' value, allowed values are 1 to {cfg.max_page_size}")
            page_size = cfg.max_page_size
        return page_size

    @staticmethod
    def _offset(body: dict[str, Any], ids: Any) -> int:
        """Where the page starts: ``first_row_number`` wins over ``first_id``."""
        frn, first_id = body.get("first_row_number"), body.get("first_id")
        if isinstance(frn, int) and not isinstance(frn, bool) and frn >= 1:
            return frn - 1
        if frn is not None:
            raise ApiError(400, "Invalid 'first_row_number' value")
        if isinstance(first_id, int) and not isinstance(first_id, bool):
            try:
                return int(ids.index(first_id))
            except ValueError:
                return len(ids)
        return 0

    def detailed(self, ctx: Ctx) -> Reply:
        s = ctx.store
        body, query, _, _ = self.parse_query(ctx)
        page_size = self._page_size(body)
        with s.lock:
            ids = report_ids(s, query)
            offset = self._offset(body, ids)
            page = ids[offset : offset + page_size]
            entries = s.entries
            rows = report_rows(s, (entries[i] for i in page), offset + 1, self.config.report_times_in_user_tz)
            headers: dict[str, str] = {}
            nxt = offset + page_size
            if nxt < len(ids):  # cursor headers only while more rows remain
                headers = {"X-Next-ID": str(ids[nxt]), "X-Next-Row-Number": str(nxt + 1)}
        return json_reply(rows, headers=headers)

    # ------------------------------------------------------------------ totals
    def _resolution(self, body: dict[str, Any], d0: date, d1: date) -> str:
        for name in ("granularity", "resolution"):  # granularity overrides resolution
            value = body.get(name)
            if value is not None:
                if value not in RESOLUTIONS:
                    raise ApiError(400, f"Invalid '{name}' value, allowed values are {', '.join(RESOLUTIONS)}")
                return str(value)
        days = (d1 - d0).days + 1
        return "day" if days <= AUTO_DAY_MAX_DAYS else "week" if days <= AUTO_WEEK_MAX_DAYS else "month"

    def _entry_day(self, s: Store, e: Entry) -> date:
        """The day an entry counts on: its start in the same zone the dates were read in."""
        tz_name = self.config.bare_date_tz
        tz = s.users[e.user_id].tz if tz_name == "user" else zone(tz_name)
        return datetime.fromtimestamp(e.start, tz).date()

    def totals(self, ctx: Ctx) -> Reply:
        s = ctx.store
        body, query, d0, d1 = self.parse_query(ctx)
        resolution = self._resolution(body, d0, d1)
        with_graph = _typed(body, "with_graph", bool)
        with s.lock:
            acc = _Totals(d0, d1, resolution)
            for i in report_ids(s, query):
                e = s.entries[i]
                acc.add(self._entry_day(s, e), e, s)
        return json_reply(acc.json(bool(with_graph)))


def _bucket_count(d0: date, d1: date, resolution: str) -> int:
    return _position(d1, d0, resolution) + 1


def _position(day: date, d0: date, resolution: str) -> int:
    """Graph bucket of a day: days or 7-day blocks counted from start_date, or calendar months."""
    if resolution == "day":
        return (day - d0).days
    if resolution == "week":
        return (day - d0).days // 7
    return (day.year - d0.year) * 12 + day.month - d0.month


class _Totals:
    """Sums of seconds and money, overall and per graph bucket."""

    def __init__(self, d0: date, d1: date, resolution: str) -> None:
        self.d0, self.resolution = d0, resolution
        n = _bucket_count(d0, d1, resolution)
        self.seconds = [0] * n
        self.amounts = [0] * n
        self.by_rate: list[dict[str, int]] = [defaultdict(int) for _ in range(n)]
        self.rates: dict[tuple[str, int], int] = defaultdict(int)  # (currency, rate) -> billable seconds
        self.days: set[date] = set()

    def add(self, day: date, e: Entry, s: Store) -> None:
        seconds = (s.now() if e.stop is None else e.stop) - e.start
        k = _position(day, self.d0, self.resolution)
        self.seconds[k] += seconds
        self.days.add(day)
        rate, amount, currency = entry_money(s, e, seconds)
        if rate is not None and amount is not None:
            self.amounts[k] += amount
            self.by_rate[k][str(rate)] += seconds
            self.rates[(currency, rate)] += seconds

    def json(self, with_graph: bool) -> dict[str, Any]:
        graph = [
            {
                "seconds": sec,
                "billable_amount_in_cents": amount,
                "labour_cost_in_cents": None,
                "by_rate": dict(by_rate) or None,
            }
            for sec, amount, by_rate in zip(self.seconds, self.amounts, self.by_rate, strict=True)
        ]
        return {
            "seconds": sum(self.seconds),
            "billable_amount_in_cents": sum(self.amounts),
            "labour_cost_in_cents": None,
            "tracked_days": len(self.days),
            "resolution": self.resolution,
            "graph": graph if with_graph else None,
            "rates": [
                {"billable_seconds": sec, "currency": cur, "hourly_rate_in_cents": rate}
                for (cur, rate), sec in sorted(self.rates.items())
            ],
        }
