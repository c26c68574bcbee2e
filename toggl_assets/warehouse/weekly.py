"""Toggl's weekly report (Reports API v2 ``/weekly``), computed from the raw tables in SQL.

One pivot (:func:`build_weekly_pivot_sql`) feeds both the view ``<analytics>.toggl_weekly_summary`` (over the
daily rollup every merge keeps current, see :mod:`toggl_assets.warehouse.rollup`) and :func:`weekly_report`'s
JSON (over one week of entries), so the two cannot disagree.

Rules:

* An entry counts, in full, on the local day (in ``tz``) of its start: ``(start AT TIME ZONE tz)::date``.
  The week is [since 00:00, since+7 00:00) in ``tz``, so a week containing a DST change still has 7 correct
  calendar days (one of them 23 or 25 hours long).
* Running entries (no duration yet) are excluded: their length changes every second and would make the
  report (and the summary) differ on every run. They appear once stopped and synced.
* Earnings of a billable entry: ``billable_amount`` (from the Reports API) if known, else
  ``duration * hourly_rate``, else 0; non-billable entries earn 0. An entry's currency is its own, else
  its project's. Entries with no currency at all count for time but appear in no earnings total.
* A summary row is keyed by (week, project, user, currency): in practice a project/user pair has a single
  currency in a week (the workspace's or the project's), so this is one row per project and user.
* ``null`` means "no entries that day"; a day with entries worth nothing shows ``0`` (as Toggl does).
  ``total_grand``/``total_billable`` are likewise ``null`` when there is nothing to add up.
* ``week_totals`` in earnings mode is a list of per-currency objects shaped like the rows' ``totals``:
  ``[{"currency": "EUR", "amount": [8 numbers|null]}]`` (Toggl's documentation does not show this case).
* Order (reproduces Toggl's documented example): projects grouping lists projects that have a client
  first, by client name, then projects without a client, by project name, then the "no project" row;
  details by user name. Users grouping lists users by name; details by client name (no client after
  clients), then project name, the "no project" detail last. Names compare case-insensitively; ids break ties.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from toggl_assets.warehouse.db import schema_ident, validate_schema_name, validate_timezone
from toggl_assets.warehouse.rollup import Calendar, daily_rows_sql, ensure_rollups

DAYS = 7
GROUPINGS = ("projects", "users")
CALCULATIONS = ("time", "earnings")
_DAY_MS = [f"day{i}_ms" for i in range(1, DAYS + 1)]
_DAY_EARNINGS = [f"day{i}_earnings" for i in range(1, DAYS + 1)]
SUMMARY_COLUMNS: tuple[str, ...] = (
    "project_id",
    "project_name",
    "client_name",
    "user_id",
    "user_name",
    "currency",
    *_DAY_MS,
    "total_ms",
    "billable_ms",
    "earnings",
    *_DAY_EARNINGS,
)


def build_weekly_pivot_sql(raw: sql.Composable, source: sql.Composable) -> sql.Composed:
    """SELECT of ``workspace_id``, ``week_start``, :data:`SUMMARY_COLUMNS` and ``refreshed_at`` from ``source``:
    rollup rows (:data:`~toggl_assets.warehouse.rollup.ROLLUP_COLUMNS` and ``refreshed_at``), each ``day`` one
    of the 7 days from its ``week_start``. ``raw`` is the raw schema's identifier.

    The view :func:`weekly_view_sql` reads the stored rollup with it and the weekly report the rollup's SELECT
    over one week of entries, so the two cannot disagree. An entry's currency is its own, else its project's.
    Names are joined last, on the aggregated rows. A filter on ``workspace_id`` or ``week_start`` reaches the
    source (they are grouping columns), so a week read through the view is one index range scan of its days.

    Cheap per source row (a year's summary aggregates about a million of them): sums stay bigint (``toggl_sum``,
    migration 6), each row's day of the week is computed once, money is summed in cents and the totals are
    added up from the 7 days.
    """
    total = sql.SQL("{}.toggl_sum").format(raw)
    day_sums = sql.SQL(",\n").join(
        sql.SQL("{total}(d.{v}) FILTER (WHERE d.k = {i}) AS {name}").format(
            total=total, v=sql.Identifier(v), i=sql.Literal(i), name=sql.Identifier(f"{v}{i}")
        )
        for v in ("ms", "cents")
        for i in range(DAYS)
    )
    days_ms = sql.SQL(", ").join(
        sql.SQL("g.{} AS {}").format(sql.Identifier(f"ms{i}"), sql.Identifier(c)) for i, c in enumerate(_DAY_MS)
    )
    # A day's earnings: integer cents scaled by 0.01 (an exact numeric with 2 decimals, cheaper than a division).
    days_earnings = sql.SQL(", ").join(
        sql.SQL("(g.{} * 0.01)::numeric(14, 2) AS {}").format(sql.Identifier(f"cents{i}"), sql.Identifier(c))
        for i, c in enumerate(_DAY_EARNINGS)
    )
    week_sum = {
        v: sql.SQL(" + ").join(sql.SQL("coalesce(g.{}, 0)").format(sql.Identifier(f"{v}{i}")) for i in range(DAYS))
        for v in ("ms", "cents")
    }
    return sql.SQL(
        """SELECT g.workspace_id, g.week_start, g.project_id, p.name AS project_name, c.name AS client_name,
               g.user_id, u.name AS user_name, g.currency, {days_ms},
               ({week_ms})::bigint AS total_ms, g.billable_ms, (({week_cents}) * 0.01)::numeric(14, 2) AS earnings,
               {days_earnings}, g.refreshed_at
        FROM (
            SELECT d.workspace_id, d.week_start, d.project_id, d.user_id, coalesce(d.currency, dp.currency) AS currency,
                   {day_sums},
                   {total}(d.billable_ms) AS billable_ms, max(d.refreshed_at) AS refreshed_at
            FROM (SELECT s.*, s.day - s.week_start AS k FROM ({source}) s) d
            LEFT JOIN {raw}.toggl_projects dp ON dp.id = d.project_id
            GROUP BY d.workspace_id, d.week_start, d.project_id, d.user_id, coalesce(d.currency, dp.currency)
        ) g
        LEFT JOIN {raw}.toggl_projects p ON p.id = g.project_id
        LEFT JOIN {raw}.toggl_clients c ON c.id = p.client_id
        LEFT JOIN {raw}.toggl_users u ON u.id = g.user_id"""
    ).format(
        raw=raw,
        source=source,
        total=total,
        day_sums=day_sums,
        days_ms=days_ms,
        days_earnings=days_earnings,
        week_ms=week_sum["ms"],
        week_cents=week_sum["cents"],
    )


def weekly_view_sql(raw: sql.Composable, analytics: sql.Composable) -> sql.Composed:
    """``CREATE OR REPLACE VIEW <analytics>.toggl_weekly_summary``: the pivot of the stored daily rollup, with
    the zone of its days. Always current: every merge keeps the rollup of the days it touched up to date.

    Used by a migration: a change of the pivot or of the view's columns needs a new migration that runs this again.
    """
    pivot = build_weekly_pivot_sql(raw, sql.SQL("SELECT * FROM {}.toggl_daily_rollup").format(raw))
    columns = sql.SQL(", ").join(sql.SQL("a.{}").format(sql.Identifier(c)) for c in SUMMARY_COLUMNS)
    return sql.SQL(
        """CREATE OR REPLACE VIEW {analytics}.toggl_weekly_summary AS
        SELECT a.workspace_id, a.week_start, z.timezone, {columns}, a.refreshed_at
        FROM ({pivot}) a LEFT JOIN {raw}.toggl_rollup_zones z ON z.workspace_id = a.workspace_id"""
    ).format(analytics=analytics, raw=raw, columns=columns, pivot=pivot)


def prepare_weekly_summaries(
    conn: psycopg.Connection, calendar: Calendar, *, workspace_ids: Sequence[int], raw_schema: str = "raw"
) -> list[int]:
    """Make the summary view of ``workspace_ids`` follow ``calendar`` (zone and week start); returns the
    workspaces whose rollup was rebuilt for it. Runs in the caller's transaction.

    The view itself needs no refresh: every merge keeps the rollup current. A rollup never analyzed (just
    written by a first load) is sampled once (about 0.1 s for a 1M-entry year): without statistics the planner
    takes a year's rollup for a few rows and aggregates it by sorting.
    """
    validate_timezone(calendar.timezone, "timezone")
    rebuilt = ensure_rollups(conn, raw_schema, sorted(set(workspace_ids)), calendar)
    rollup = f"{validate_schema_name(raw_schema, 'raw_schema')}.toggl_daily_rollup"
    unanalyzed = conn.execute("SELECT reltuples < 0 FROM pg_class WHERE oid = %s::regclass", (rollup,)).fetchone()
    if rebuilt or (unanalyzed and unanalyzed[0]):
        conn.execute(sql.SQL("ANALYZE {}.toggl_daily_rollup").format(schema_ident(raw_schema, "raw_schema")))
    return rebuilt


def weekly_hours_by_project(
    conn: psycopg.Connection, workspace_id: int, week_start: date, *, analytics_schema: str = "analytics"
) -> list[tuple[str, int, float]]:
    """(project name, day index 0-6, hours) of a summary week of one workspace, summed over users and
    currencies; days without time are omitted. Entries without a project are named ``(no project)``."""
    analytics = schema_ident(analytics_schema, "analytics_schema")
    days = sql.SQL(", ").join(
        sql.SQL("({}, {})").format(sql.Literal(i), sql.Identifier(c)) for i, c in enumerate(_DAY_MS)
    )
    query = sql.SQL(
        """SELECT coalesce(s.project_name, '(no project)') AS project, d.day, sum(d.ms) / 3600000.0 AS hours
        FROM {a}.toggl_weekly_summary s CROSS JOIN LATERAL (VALUES {days}) AS d(day, ms)
        WHERE s.workspace_id = %s AND s.week_start = %s AND d.ms IS NOT NULL
        GROUP BY 1, 2 ORDER BY 1, 2"""
    ).format(a=analytics, days=days)
    return [(name, int(day), float(hours)) for name, day, hours in conn.execute(query, (workspace_id, week_start))]


@dataclass
class _Line:
    """Aggregated values of one (project, user) pair: time per day and earnings per currency and day."""

    project_id: int | None
    project_name: str | None
    client_name: str | None
    user_id: int | None
    user_name: str | None
    ms: list[int | None]
    billable_ms: int | None
    earnings: dict[str, list[Decimal | None]]


def _add(a: list[Any], b: list[Any]) -> list[Any]:
    """Element-wise sum where None means "nothing" (None + None stays None)."""
    return [y if x is None else x if y is None else x + y for x, y in zip(a, b, strict=True)]


def _add_currencies(target: dict[str, list[Any]], source: dict[str, list[Any]]) -> None:
    for currency, amounts in source.items():
        target[currency] = _add(target.get(currency, [None] * (DAYS + 1)), amounts)


def _lines(rows: Iterable[dict[str, Any]]) -> list[_Line]:
    lines: dict[tuple[int | None, int | None], _Line] = {}
    for row in rows:
        key = (row["project_id"], row["user_id"])
        line = lines.get(key)
        if line is None:
            line = lines[key] = _Line(
                row["project_id"], row["project_name"], row["client_name"], row["user_id"], row["user_name"],
                [None] * (DAYS + 1), None, {},
            )  # fmt: skip
        line.ms = _add(line.ms, [row[c] for c in _DAY_MS] + [row["total_ms"]])
        line.billable_ms = _add([line.billable_ms], [row["billable_ms"]])[0]
        if row["currency"] is not None:
            _add_currencies(line.earnings, {row["currency"]: [row[c] for c in _DAY_EARNINGS] + [row["earnings"]]})
    return list(lines.values())


def _money(value: Decimal | None) -> float | None:
    return None if value is None else round(float(value), 2)


def _totals(ms: list[int | None], earnings: dict[str, list[Any]], calculate: str) -> list[Any]:
    if calculate == "time":
        return [None if v is None else int(v) for v in ms]
    return [{"currency": c, "amount": [_money(v) for v in earnings[c]]} for c in sorted(earnings)]


def _name_key(name: str | None) -> tuple[bool, str]:
    return (name is None, (name or "").casefold())


def _project_key(line: _Line) -> tuple[Any, ...]:
    return (line.project_id is None, line.client_name is None, _name_key(line.client_name),
            _name_key(line.project_name), line.project_id or 0)  # fmt: skip


def _user_key(line: _Line) -> tuple[Any, ...]:
    return (line.user_id is None, _name_key(line.user_name), line.user_id or 0)


def build_weekly_report(rows: Iterable[dict[str, Any]], grouping: str = "projects", calculate: str = "time") -> dict:
    """Shape aggregate rows (:data:`SUMMARY_COLUMNS` dicts) as Toggl's weekly report JSON (pure function)."""
    if grouping not in GROUPINGS:
        raise ValueError(f"grouping must be one of {GROUPINGS}, got {grouping!r}")
    if calculate not in CALCULATIONS:
        raise ValueError(f"calculate must be one of {CALCULATIONS}, got {calculate!r}")
    lines = _lines(rows)
    by_project = grouping == "projects"
    group_of = (lambda ln: ln.project_id) if by_project else (lambda ln: ln.user_id)
    group_key, detail_key = (_project_key, _user_key) if by_project else (_user_key, _project_key)

    groups: dict[int | None, list[_Line]] = {}
    for line in sorted(lines, key=group_key):
        groups.setdefault(group_of(line), []).append(line)

    data = []
    week_ms: list[int | None] = [None] * (DAYS + 1)
    week_earnings: dict[str, list[Any]] = {}
    for members in groups.values():
        first = members[0]
        ms: list[int | None] = [None] * (DAYS + 1)
        earnings: dict[str, list[Any]] = {}
        details = []
        for line in sorted(members, key=detail_key):
            ms = _add(ms, line.ms)
            _add_currencies(earnings, line.earnings)
            if by_project:
                details.append({"uid": line.user_id, "title": {"user": line.user_name},
                                "totals": _totals(line.ms, line.earnings, calculate)})  # fmt: skip
            else:
                details.append({"pid": line.project_id,
                                "title": {"client": line.client_name, "project": line.project_name},
                                "totals": _totals(line.ms, line.earnings, calculate)})  # fmt: skip
        week_ms = _add(week_ms, ms)
        _add_currencies(week_earnings, earnings)
        if by_project:
            head: dict[str, Any] = {"title": {"project": first.project_name, "client": first.client_name},
                                    "pid": first.project_id}  # fmt: skip
        else:
            head = {"title": {"user": first.user_name}, "uid": first.user_id}
        data.append({**head, "totals": _totals(ms, earnings, calculate), "details": details})

    # Billable earnings per currency: currencies of pairs that had billable time.
    billable_earnings: dict[str, Decimal] = {}
    for line in lines:
        if line.billable_ms is not None:
            for currency, amounts in line.earnings.items():
                billable_earnings[currency] = billable_earnings.get(currency, Decimal(0)) + (amounts[-1] or 0)
    return {
        "total_grand": None if week_ms[-1] is None else int(week_ms[-1]),
        "total_billable": _billable_total(lines),
        "total_currencies": [
            {"currency": c, "amount": _money(billable_earnings[c])} for c in sorted(billable_earnings)
        ],
        "data": data,
        "week_totals": _totals(week_ms, week_earnings, calculate),
    }


def _billable_total(lines: list[_Line]) -> int | None:
    values = [ln.billable_ms for ln in lines if ln.billable_ms is not None]
    return int(sum(values)) if values else None


def fetch_weekly_rows(
    conn: psycopg.Connection, workspace_id: int, since: date, tz: str, *, raw_schema: str = "raw"
) -> list[dict]:
    """The summary rows of one workspace for the 7 days from ``since`` (any date) in ``tz``, from the entries."""
    validate_timezone(tz, "tz")
    raw = schema_ident(raw_schema, "raw_schema")
    # The rollup's own SELECT over the 7 days, in weeks that start on ``since``'s weekday.
    days = daily_rows_sql(raw_schema, days=(sql.SQL("%(since)s::date"), sql.SQL("%(since)s::date + 6")))
    source = sql.SQL("SELECT r.*, now() AS refreshed_at FROM ({}) r").format(days)
    params = {"ws": [workspace_id], "tz": tz, "since": since, "dow": since.isoweekday() % 7}
    with conn.cursor(row_factory=dict_row) as cur:
        query = sql.SQL("{} ORDER BY g.project_id, g.user_id, g.currency").format(build_weekly_pivot_sql(raw, source))
        cur.execute(query, params)
        return cur.fetchall()


def weekly_report(
    conn: psycopg.Connection,
    workspace_id: int,
    since: date,
    tz: str,
    *,
    grouping: str = "projects",
    calculate: str = "time",
    raw_schema: str = "raw",
) -> dict:
    """Toggl Reports API v2 weekly report of one workspace for the 7 days starting ``since`` (see the module
    docstring). Read-only: computed from the entries with the rollup's per-day SELECT."""
    rows = fetch_weekly_rows(conn, workspace_id, since, tz, raw_schema=raw_schema)
    return build_weekly_report(rows, grouping, calculate)
