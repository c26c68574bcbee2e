"""Toggl's weekly report (Reports API v2 ``/weekly``), computed from the raw tables in SQL.

One aggregation (:func:`build_weekly_aggregate_sql`) feeds both the stored summary table
``<analytics>.toggl_weekly_summary`` and :func:`weekly_report`'s JSON, so the two cannot disagree.

Rules:

* An entry counts, in full, on the local day (in ``tz``) of its start: ``(start AT TIME ZONE tz)::date``.
  The week is [since 00:00, since+7 00:00) in ``tz``, so a week containing a DST change still has 7 correct
  calendar days (one of them 23 or 25 hours long).
* Running entries (no duration yet) are excluded: their length changes every second and would make the
  report (and the stored summary) differ on every run. They appear once stopped and synced.
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
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from toggl_assets.warehouse.db import schema_ident, validate_schema_name, validate_timezone
from toggl_assets.warehouse.rollup import daily_rows_sql, day_runs, ensure_rollups

DAYS = 7
# Arbitrary constant (ASCII "tgweek"): concurrent refreshes of the summary run one after the other. The rows of
# a week are unique by construction (one GROUP BY after the DELETE of the week); two refreshes racing on an
# empty week would both insert it.
SUMMARY_LOCK_KEY = 0x7467_7765_656B
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


def build_weekly_aggregate_sql(raw_schema: str = "raw", *, from_rollup: bool = True) -> sql.Composed:
    """SELECT of ``workspace_id``, ``week_start`` and :data:`SUMMARY_COLUMNS` for the 7 days from each date of
    ``%(weeks)s`` (a date array) in ``%(tz)s``, for the workspaces ``%(ws)s`` (bigint[]).

    The per-day figures come from the daily rollup (``from_rollup``, which must be kept in ``%(tz)s``: see
    :func:`~toggl_assets.warehouse.rollup.ensure_rollups`) or straight from the entries by the rollup's own
    SELECT (for a single week: the report). Each week is aggregated on its own (one index range scan of its
    7 days, a small in-memory aggregate) rather than a year sorted at once: the cost grows with the weeks
    asked for, and no plan needs statistics of the freshly written rollup. Weeks may start on any day and may
    overlap. An entry's currency is its own, else its project's. Names are joined last, on the aggregated rows.

    Cheap per source row, since a year's refresh aggregates about a million of them: sums stay bigint
    (``toggl_sum``, see migration 6), each row's day of the week is computed once, money is summed in cents
    and the totals are added up from the 7 days (every source row lies in one of them). Rows come in no
    particular order: sorting a year's wide rows cost about a second, and the summary's index is by week.
    """
    raw = schema_ident(raw_schema, "raw_schema")
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
        sql.SQL("g.{} * 0.01 AS {}").format(sql.Identifier(f"cents{i}"), sql.Identifier(c))
        for i, c in enumerate(_DAY_EARNINGS)
    )
    week_sum = {
        v: sql.SQL(" + ").join(sql.SQL("coalesce(g.{}, 0)").format(sql.Identifier(f"{v}{i}")) for i in range(DAYS))
        for v in ("ms", "cents")
    }
    source = (
        sql.SQL(
            "SELECT * FROM {raw}.toggl_daily_rollup r WHERE r.workspace_id = ANY(%(ws)s::bigint[])"
            " AND r.day >= w.week_start AND r.day < w.week_start + 7"
        ).format(raw=raw)
        if from_rollup
        else daily_rows_sql(raw_schema, days=(sql.SQL("w.week_start"), sql.SQL("w.week_start + 6")))
    )
    return sql.SQL(
        """SELECT a.* FROM unnest(%(weeks)s::date[]) AS w(week_start)
        CROSS JOIN LATERAL (
            SELECT g.workspace_id, w.week_start, g.project_id, p.name AS project_name, c.name AS client_name,
                   g.user_id, u.name AS user_name, g.currency, {days_ms},
                   {week_ms} AS total_ms, g.billable_ms, ({week_cents}) * 0.01 AS earnings, {days_earnings}
            FROM (
                SELECT d.workspace_id, d.project_id, d.user_id, coalesce(d.currency, dp.currency) AS currency,
                       {day_sums},
                       {total}(d.billable_ms) AS billable_ms
                FROM (SELECT s.*, s.day - w.week_start AS k FROM ({source}) s) d
                LEFT JOIN {raw}.toggl_projects dp ON dp.id = d.project_id
                GROUP BY d.workspace_id, d.project_id, d.user_id, coalesce(d.currency, dp.currency)
            ) g
            LEFT JOIN {raw}.toggl_projects p ON p.id = g.project_id
            LEFT JOIN {raw}.toggl_clients c ON c.id = p.client_id
            LEFT JOIN {raw}.toggl_users u ON u.id = g.user_id
        ) a"""
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


def weekly_parameters(week_starts: Sequence[date], tz: str, workspace_ids: Sequence[int]) -> dict[str, Any]:
    """Query parameters of :func:`build_weekly_aggregate_sql` (also those of the rollup's per-day SELECT)."""
    weeks = sorted(set(week_starts))
    if not weeks:
        raise ValueError("at least one week is needed")
    firsts, lasts = day_runs(w + timedelta(days=i) for w in weeks for i in range(DAYS))
    return {"weeks": weeks, "first": weeks[0], "last": weeks[-1], "tz": tz, "ws": sorted(set(workspace_ids)),
            "firsts": firsts, "lasts": lasts}  # fmt: skip


def refresh_weekly_summaries(
    conn: psycopg.Connection,
    week_starts: Sequence[date],
    timezone: str,
    *,
    workspace_ids: Sequence[int],
    raw_schema: str = "raw",
    analytics_schema: str = "analytics",
) -> int:
    """Replace the summary rows of ``workspace_ids`` for the weeks starting at ``week_starts`` (local to
    ``timezone``), computed from the daily rollup; returns rows written. Other weeks and workspaces are untouched.

    Runs in the caller's transaction (nothing is committed), so readers see either the old or the new weeks.
    A workspace whose rollup is kept in another zone (or was never rolled up) has it rebuilt first.
    """
    validate_timezone(timezone, "timezone")
    analytics = schema_ident(analytics_schema, "analytics_schema")
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in SUMMARY_COLUMNS)
    params = weekly_parameters(week_starts, timezone, workspace_ids)
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (SUMMARY_LOCK_KEY,))
    ensure_rollups(conn, raw_schema, params["ws"], timezone)
    # A rollup never analyzed (just written by a first load) makes the planner take each week for a few rows:
    # it then hashes the aggregated rows instead of the names and sorts twice (4.4 s instead of 2.6 s for a
    # 1M-entry year). Sampling it costs about 0.1 s, once.
    rollup = f"{validate_schema_name(raw_schema, 'raw_schema')}.toggl_daily_rollup"
    unanalyzed = conn.execute("SELECT reltuples < 0 FROM pg_class WHERE oid = %s::regclass", (rollup,)).fetchone()
    if unanalyzed and unanalyzed[0]:
        conn.execute(sql.SQL("ANALYZE {}.toggl_daily_rollup").format(schema_ident(raw_schema, "raw_schema")))
    conn.execute(
        sql.SQL(
            "DELETE FROM {}.toggl_weekly_summary WHERE workspace_id = ANY(%(ws)s::bigint[])"
            " AND week_start = ANY(%(weeks)s::date[])"
        ).format(analytics),
        params,
    )
    cur = conn.execute(
        sql.SQL(
            "INSERT INTO {a}.toggl_weekly_summary (workspace_id, week_start, timezone, {cols}, refreshed_at)"
            " SELECT workspace_id, week_start, %(tz)s, {cols}, now() FROM ({agg}) agg"
        ).format(a=analytics, cols=columns, agg=build_weekly_aggregate_sql(raw_schema)),
        params,
    )
    return max(cur.rowcount, 0)


def weekly_hours_by_project(
    conn: psycopg.Connection, workspace_id: int, week_start: date, *, analytics_schema: str = "analytics"
) -> list[tuple[str, int, float]]:
    """(project name, day index 0-6, hours) of a stored summary week of one workspace, summed over users and
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
    """The aggregate rows of one workspace for the 7 days from ``since`` (any date) in ``tz``, from the entries."""
    validate_timezone(tz, "tz")
    with conn.cursor(row_factory=dict_row) as cur:
        query = sql.SQL("{} ORDER BY a.project_id, a.user_id, a.currency").format(
            build_weekly_aggregate_sql(raw_schema, from_rollup=False)
        )
        cur.execute(query, weekly_parameters([since], tz, [workspace_id]))
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
