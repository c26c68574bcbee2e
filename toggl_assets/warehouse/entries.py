"""Time entries: staged with binary COPY, then merged into ``toggl_entries`` one workspace and window at a time.

Transactions belong to the caller: :meth:`EntryStaging.merge_window` commits nothing, takes the warehouse's
advisory load lock and refuses an autocommit connection outside ``conn.transaction()``.

A merge writes ONE workspace: staged rows of other workspaces are ignored, only that workspace's entries of the
window are deleted, and an entry row of another workspace is never changed. References to rows the metadata
tables lack get placeholder rows first (:mod:`toggl_assets.warehouse.placeholders`), so foreign keys hold.

The writes are set-based and no plan can make them quadratic, whatever the planner believes about freshly
loaded, never-analyzed tables (nothing here runs ANALYZE): changed rows are updated and new ids inserted with a
plain INSERT (no speculative insertion), deletions are found by ``EXCEPT``, and only the rollup days whose
entries changed are recomputed. A first load larger than the table inserts with the table's indexes set aside and
builds them after (:mod:`toggl_assets.warehouse.bulk`): inserting into two b-trees row by row cost three times the
rows themselves.

Foreign keys stay declared and enforced. The per-row foreign-key triggers cost about as much as the insert
itself, so when :func:`may_skip_row_triggers` allows it (a role that may set ``session_replication_role``: a
superuser such as the embedded server's, or from PostgreSQL 15 a role granted SET on it; and no trigger, rule
or referencing foreign key on ``toggl_entries`` but its own foreign keys), the merge checks the window's
references set-based instead (:func:`lock_references`: the same ``FOR KEY SHARE`` row locks the triggers take,
failing if any reference is missing) and switches the per-row triggers off for its three writes only. Anywhere
else (Supabase, RDS, an added audit trigger) it falls back to the per-row triggers, with the same results; a
refused setting is undone by a savepoint and the previous value is restored after the writes, also on error.

Text policy: NUL bytes are removed from every text field (PostgreSQL text cannot hold them); everything else
(unicode, emoji, quotes, commas, braces, very long text) is stored unchanged.
"""

from __future__ import annotations

import struct
import uuid
from array import array
from collections.abc import Iterable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import numpy as np
import psycopg
from psycopg import pq, sql
from psycopg.adapt import Dumper

from toggl_assets.records import EntryRecord
from toggl_assets.warehouse.bulk import indexes_set_aside
from toggl_assets.warehouse.db import (
    local_settings,
    lock_for_load,
    schema_ident,
    validate_schema_name,
    validate_timezone,
)
from toggl_assets.warehouse.history import mark_synced_days
from toggl_assets.warehouse.placeholders import ensure_workspace, placeholders_from_table
from toggl_assets.warehouse.references import (
    lock_references,
    may_skip_row_triggers,
    missing_references,
    referenced_ids,
    row_triggers_off,
)
from toggl_assets.warehouse.rollup import refresh_rollup
from toggl_assets.warehouse.values import clean_text


@dataclass(frozen=True)
class DayStats:
    """One local day of a merged window: ``rows`` = the workspace's entries now in that day (running ones too);
    ``inserted``/``updated`` by the entry's new start, ``deleted`` by its old start."""

    rows: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0


@dataclass(frozen=True)
class EntryLoadStats:
    """Outcome of :meth:`EntryStaging.merge_window`."""

    fetched: int = 0  # rows staged in total (all workspaces and windows, before de-duplication)
    in_window: int = 0  # distinct staged ids of the workspace whose start lies in the window
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    placeholders: dict[str, int] = field(default_factory=dict)
    # Every local day of the window (zeros included), in order.
    by_day: dict[date, DayStats] = field(default_factory=dict)
    # Local days outside the window that lost an entry moved into it (their weeks changed too).
    moved_from: tuple[date, ...] = ()


# Staged columns: (column, column type, binary COPY type).
STAGE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("id", "BIGINT NOT NULL", "int8"),
    ("workspace_id", "BIGINT NOT NULL", "int8"),
    ("project_id", "BIGINT", "int8"),
    ("task_id", "BIGINT", "int8"),
    ("user_id", "BIGINT", "int8"),
    ("description", "TEXT", "text"),
    ("start", "TIMESTAMPTZ NOT NULL", "timestamptz"),
    ("end", "TIMESTAMPTZ", "timestamptz"),
    ("duration_ms", "BIGINT", "int8"),
    ("is_billable", "BOOLEAN", "bool"),
    ("billable_amount", "NUMERIC(14, 2)", "numeric"),
    ("currency", "TEXT", "text"),
    ("tags", "TEXT[]", "text[]"),
    ("tag_ids", "BIGINT[]", "int8[]"),
    ("updated_at", "TIMESTAMPTZ", "timestamptz"),
    ("hourly_rate", "NUMERIC(14, 2)", "numeric"),
    ("project_name", "TEXT", "text"),
    ("client_name", "TEXT", "text"),
    ("task_name", "TEXT", "text"),
    ("user_name", "TEXT", "text"),
    ("user_email", "TEXT", "text"),
)
# Columns copied from the window into toggl_entries (and compared to detect changes).
ENTRY_COLUMNS: tuple[str, ...] = tuple(c for c, _, _ in STAGE_COLUMNS[:16])


# EntryRecord's fields are the staged columns, in order: a record becomes its staged row by msgspec's astuple.
if EntryRecord.__struct_fields__ != tuple(c for c, _, _ in STAGE_COLUMNS):  # pragma: no cover - a wiring error
    raise ImportError("EntryRecord's fields no longer match the staged columns")
_ARRAY_HEAD = struct.Struct("!iiIii")  # dimensions, has-NULLs flag, element oid, length, lower bound
_EMPTY_HEAD = struct.Struct("!iiI")
_INT8 = struct.Struct("!iq")  # length 8, value
_LENGTH = struct.Struct("!i")
_NULL = _LENGTH.pack(-1)
_INT8_OID, _TEXT_OID, _INT8_ARRAY_OID, _TEXT_ARRAY_OID = 20, 25, 1016, 1009


class _CachedArrayDumper(Dumper):
    """Binary ``COPY`` dumper of a one-dimensional array (a record's tags or tag ids, a tuple or a list): byte for
    byte what psycopg's generic array dumper writes, remembered per distinct value. Entries share few tag lists,
    and the generic dumper (pure Python, element by element, every row) costs most of a stage's client time.
    One instance serves one ``COPY`` (one page), so what it remembers is bounded by the page."""

    format = pq.Format.BINARY
    element_oid = 0

    def __init__(self, cls: type, context: Any = None) -> None:
        super().__init__(cls, context)
        self._cache: dict[tuple[Any, ...], bytes] = {}

    def dump(self, obj: Any) -> bytes:
        key = tuple(obj)
        data = self._cache.get(key)
        if data is None:
            data = self._cache[key] = self._encode(key)
        return data

    def _encode(self, values: tuple[Any, ...]) -> bytes:
        if not values:
            return _EMPTY_HEAD.pack(0, 0, self.element_oid)
        head = _ARRAY_HEAD.pack(1, int(None in values), self.element_oid, len(values), 1)
        return head + b"".join(_NULL if v is None else self._element(v) for v in values)

    def _element(self, value: Any) -> bytes:
        raise NotImplementedError


class _Int8ArrayDumper(_CachedArrayDumper):
    oid = _INT8_ARRAY_OID
    element_oid = _INT8_OID

    def _element(self, value: Any) -> bytes:
        return _INT8.pack(8, value)


class _TextArrayDumper(_CachedArrayDumper):
    """Text elements lose their NUL bytes (the text policy), as :func:`entry_row` does."""

    oid = _TEXT_ARRAY_OID
    element_oid = _TEXT_OID

    def _element(self, value: Any) -> bytes:
        data = clean_text(value).encode()
        return _LENGTH.pack(len(data)) + data


def _stage_rows(records: Sequence[EntryRecord], *, clean: bool) -> Iterator[tuple[Any, ...]]:
    """Staged rows of ``records`` for :class:`_CachedArrayDumper`: each record's own tuple, or with ``clean`` its
    :func:`entry_row` (NUL bytes removed from every text field; tags are cleaned by the dumper either way)."""
    return map(entry_row, records) if clean else map(msgspec.structs.astuple, records)


def entry_row(record: EntryRecord) -> tuple[Any, ...]:
    """The staged row of one record (NUL bytes removed from text; tuples become arrays)."""
    c = clean_text
    return (
        record.id, record.workspace_id, record.project_id, record.task_id, record.user_id, c(record.description),
        record.start, record.end, record.duration_ms, record.is_billable, record.billable_amount, c(record.currency),
        [c(t) for t in record.tags], list(record.tag_ids), record.updated_at, record.hourly_rate,
        c(record.project_name), c(record.client_name), c(record.task_name), c(record.user_name), c(record.user_email),
    )  # fmt: skip


def window_days(window_start: datetime, window_end: datetime, timezone: str) -> list[date]:
    """Every local day (in ``timezone``) that [window_start, window_end) overlaps, in order."""
    if window_start.tzinfo is None or window_end.tzinfo is None:
        raise ValueError("window_start and window_end must be timezone-aware")
    if window_end <= window_start:
        raise ValueError("window_end must be after window_start")
    zone = ZoneInfo(validate_timezone(timezone))
    first = window_start.astimezone(zone).date()
    last = (window_end - timedelta(microseconds=1)).astimezone(zone).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _entry_columns(prefix: str, *, with_id: bool = True) -> sql.Composed:
    names = ENTRY_COLUMNS if with_id else ENTRY_COLUMNS[1:]
    return sql.SQL(", ").join(sql.SQL(prefix + "{}").format(sql.Identifier(c)) for c in names)


def build_update_sql(schema: str, window: str) -> sql.Composed:
    """Update the workspace's entries whose staged version differs; yields (new day, old day, count) rows.

    ``o`` is the same row read by this statement's snapshot: its ``start`` is the value before the update.
    An entry of another workspace with the same id is never changed.
    """
    return sql.SQL(
        """WITH up AS (
            UPDATE {s}.toggl_entries t SET ({cols}, synced_at) = ({new}, coalesce(%(synced_at)s::timestamptz, now()))
            FROM {w} w, {s}.toggl_entries o
            WHERE t.id = w.id AND o.id = w.id AND t.workspace_id = w.workspace_id
              AND ({old}) IS DISTINCT FROM ({new})
            RETURNING (t.start AT TIME ZONE %(tz)s)::date AS day, (o.start AT TIME ZONE %(tz)s)::date AS old_day
        )
        SELECT day, old_day, count(*) FROM up GROUP BY day, old_day"""
    ).format(
        s=schema_ident(schema),
        w=sql.Identifier(window),
        cols=_entry_columns("", with_id=False),
        old=_entry_columns("t.", with_id=False),
        new=_entry_columns("w.", with_id=False),
    )


def build_insert_sql(schema: str, window: str) -> sql.Composed:
    """Insert the window's entries whose id the warehouse does not hold (in any workspace); yields (day, count).

    A plain insert: the ids are known to be new, so no speculative insertion (``ON CONFLICT``) is paid for.
    The load lock keeps other writers out between the test and the insert.
    """
    return sql.SQL(
        """WITH ins AS (
            INSERT INTO {s}.toggl_entries ({cols}, synced_at)
            SELECT {wcols}, coalesce(%(synced_at)s::timestamptz, now()) FROM {w} w
            WHERE NOT EXISTS (SELECT 1 FROM {s}.toggl_entries e WHERE e.id = w.id)
            RETURNING (start AT TIME ZONE %(tz)s)::date AS day
        )
        SELECT day, count(*) FROM ins GROUP BY day"""
    ).format(s=schema_ident(schema), w=sql.Identifier(window), cols=_entry_columns(""), wcols=_entry_columns("w."))


def delete_unstaged(conn: psycopg.Connection, schema: str, stage_table: str, params: dict[str, Any]) -> dict[date, int]:
    """Delete the workspace's entries starting in the window whose id the workspace's stage does not hold;
    returns how many per local day. ``params``: ws, start, end, tz.

    ``EXCEPT`` (a hashed or sorted set operation) finds them: never a nested loop over the stage, whatever the
    planner believes about freshly loaded tables.
    """
    query = sql.SQL(
        """WITH gone AS (
            SELECT e.id FROM {s}.toggl_entries e
            WHERE e.workspace_id = %(ws)s AND e.start >= %(start)s AND e.start < %(end)s
            EXCEPT
            SELECT st.id FROM {stage} st WHERE st.workspace_id = %(ws)s
        ), del AS (
            DELETE FROM {s}.toggl_entries e USING gone
            WHERE e.id = gone.id AND e.workspace_id = %(ws)s AND e.start >= %(start)s AND e.start < %(end)s
            RETURNING (e.start AT TIME ZONE %(tz)s)::date AS day
        ) SELECT day, count(*) FROM del GROUP BY day"""
    ).format(s=schema_ident(schema), stage=sql.Identifier(stage_table))
    return {day: int(n) for day, n in conn.execute(query, params)}


def rows_per_day(
    conn: psycopg.Connection, schema: str, workspace_id: int, days: list[date], tz: str
) -> dict[date, int]:
    """The workspace's entries (running ones included) per local day over ``days[0] .. days[-1]``."""
    query = sql.SQL(
        """SELECT (start AT TIME ZONE %(tz)s)::date, count(*) FROM {}.toggl_entries
        WHERE workspace_id = %(ws)s AND start >= (%(first)s::date::timestamp AT TIME ZONE %(tz)s)
          AND start < ((%(last)s::date + 1)::timestamp AT TIME ZONE %(tz)s)
        GROUP BY 1"""
    ).format(schema_ident(schema))
    params = {"tz": tz, "ws": workspace_id, "first": days[0], "last": days[-1]}
    return {day: int(n) for day, n in conn.execute(query, params)}


class EntryStaging:
    """Stage time entries in a temporary table, then merge them workspace by workspace, window by window.

    ``EntryStaging(conn)`` creates a TEMP table (ON COMMIT PRESERVE ROWS, private to this connection) in the
    current transaction; :meth:`add` streams records into it with binary ``COPY`` (memory stays flat: pass pages
    as they arrive); :meth:`merge_window` writes one workspace's window into ``toggl_entries`` inside the caller's
    transaction; :meth:`close` drops the table. Creating the stage inside a transaction that is then rolled back
    drops the table too. Usable as a context manager (closes on exit, commits nothing).
    ``set_based_references=False`` always leaves reference checks to the per-row foreign-key triggers.
    """

    def __init__(self, conn: psycopg.Connection, schema: str = "raw", *, set_based_references: bool = True) -> None:
        self.conn = conn
        self.schema = validate_schema_name(schema, "schema")
        self.table = f"toggl_entry_stage_{uuid.uuid4().hex[:12]}"
        self.set_based_references = set_based_references
        columns = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(kind)) for name, kind, _ in STAGE_COLUMNS
        )
        # seq records staging order so that "last staged wins" when an id is staged twice.
        conn.execute(
            sql.SQL(
                "CREATE TEMP TABLE {} (seq BIGINT GENERATED ALWAYS AS IDENTITY, {}) ON COMMIT PRESERVE ROWS"
            ).format(sql.Identifier(self.table), columns)
        )
        self.staged = 0
        self._ids: dict[int, array[int]] = {}  # the ids staged per workspace, to find an id staged twice
        self._windows = 0  # windows merged: each gets its own name

    def __enter__(self) -> EntryStaging:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()

    def add(self, records: Iterable[EntryRecord]) -> int:
        """Append records to the stage with binary COPY; returns how many. NUL bytes are removed from text.

        PostgreSQL text cannot hold a NUL byte and refuses the whole COPY for one (SQLSTATE 22021; a str always
        encodes to valid UTF-8 otherwise). Looking for one in every text field of every row cost a third of
        staging's client time, and Toggl's text almost never has one: the rows go as they are, and only a refused
        page is cleaned and sent again. In autocommit, outside a transaction, the COPY is a transaction of its
        own (a refused one stages nothing); inside the caller's transaction a savepoint keeps the refusal from
        aborting it. (A transaction per page would cost two more round trips per page, each a wait for the GIL
        while the next page is decoded.)
        """
        page = records if isinstance(records, Sequence) else list(records)
        on_its_own = self.conn.autocommit and self.conn.info.transaction_status == pq.TransactionStatus.IDLE
        try:
            with nullcontext() if on_its_own else self.conn.transaction():
                return self._copy(page, clean=False)
        except psycopg.errors.CharacterNotInRepertoire:
            return self._copy(page, clean=True)

    def _copy(self, records: Sequence[EntryRecord], *, clean: bool) -> int:
        copy_sql = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            sql.Identifier(self.table), sql.SQL(", ").join(sql.Identifier(c) for c, _, _ in STAGE_COLUMNS)
        )
        page_ids: dict[int, array[int]] = {}
        workspace, ids = None, array("q")
        with self.conn.cursor() as cur:
            cur.adapters.register_dumper(None, _Int8ArrayDumper)
            cur.adapters.register_dumper(None, _TextArrayDumper)
            with cur.copy(copy_sql) as copy:
                copy.set_types([t for _, _, t in STAGE_COLUMNS])
                for row in _stage_rows(records, clean=clean):
                    copy.write_row(row)
                    if row[1] != workspace:
                        workspace = row[1]
                        ids = page_ids.setdefault(workspace, array("q"))
                    ids.append(row[0])
        # Counted once COPY has taken them: a failed COPY stages nothing.
        for workspace_id, staged_ids in page_ids.items():
            self._ids.setdefault(workspace_id, array("q")).extend(staged_ids)
        count = sum(len(staged_ids) for staged_ids in page_ids.values())
        self.staged += count
        return count

    def _staged_twice(self, workspace_id: int) -> bool:
        """Whether an id of the workspace was staged more than once: one sort of its ids (8 bytes each)."""
        ids = np.sort(np.frombuffer(self._ids.get(workspace_id, array("q")), dtype=np.int64))
        return bool((ids[1:] == ids[:-1]).any())

    def _create_window(self, window: str, params: dict[str, Any]) -> tuple[str, int, sql.Composable | None]:
        """The relation of the workspace's staged rows in the window, the last staged version of each id only, how
        many rows it holds, and the statement that drops it after the merge (None: keep it): the stage itself when
        it holds exactly those rows (a first load, one window); a view over the stage named ``window`` when no id
        is staged twice and the window holds most of the stage (the days of margin around a backfill: no copy of
        a year's rows); else a new table named ``window``.

        A version superseded by one staged later with a start outside the window is skipped too. Duplicates are
        rare (a page staged twice, the running entry): the ids :meth:`add` recorded tell (a sort in memory, far
        cheaper than an aggregate over the stage), and only then are the rows sorted by id to keep each id's last
        version. No step is a join, so no plan can make it quadratic (the planner knows nothing of the fresh
        stage: nothing here runs ANALYZE).
        """
        stage = sql.Identifier(self.table)
        columns = sql.SQL(", ").join(sql.SQL("s.{}").format(sql.Identifier(c)) for c, _, _ in STAGE_COLUMNS)
        in_window = sql.SQL("s.workspace_id = {ws} AND s.start >= {start} AND s.start < {end}")
        by_parameter = in_window.format(ws=sql.SQL("%(ws)s"), start=sql.SQL("%(start)s"), end=sql.SQL("%(end)s"))
        row = self.conn.execute(
            sql.SQL("SELECT count(*), count(*) FILTER (WHERE {in_window}) FROM {stage} s").format(
                stage=stage, in_window=by_parameter
            ),
            params,
        ).fetchone()
        staged, wanted = row if row else (0, 0)
        duplicated = self._staged_twice(params["ws"])
        if not duplicated and staged == wanted:
            return self.table, int(wanted), None
        if not duplicated and 2 * wanted >= staged:
            # A view cannot take parameters: the window's bounds are written into it as literals.
            literal = in_window.format(**{k: sql.Literal(params[k]) for k in ("ws", "start", "end")})
            self.conn.execute(
                sql.SQL("CREATE TEMP VIEW {w} AS SELECT {cols} FROM {stage} s WHERE {in_window}").format(
                    w=sql.Identifier(window), stage=stage, cols=columns, in_window=literal
                )
            )
            return window, int(wanted), sql.SQL("DROP VIEW {}").format(sql.Identifier(window))
        source = (
            sql.SQL(
                "(SELECT DISTINCT ON (s.id) s.* FROM {stage} s WHERE s.workspace_id = %(ws)s ORDER BY s.id, s.seq DESC)"
            )
            if duplicated
            else sql.SQL("{stage}")
        ).format(stage=stage)
        cur = self.conn.execute(
            sql.SQL("CREATE TEMP TABLE {w} AS SELECT {cols} FROM {source} s WHERE {in_window}").format(
                w=sql.Identifier(window), source=source, cols=columns, in_window=by_parameter
            ),
            params,
        )
        return window, max(cur.rowcount, 0), sql.SQL("DROP TABLE {}").format(sql.Identifier(window))

    def _references(self, window: str) -> tuple[dict[str, list[int]], dict[str, int]]:
        """The window's references (see :func:`referenced_ids`) and the placeholder rows created for the missing."""
        conn = self.conn
        refs = referenced_ids(conn, window, tags=True)
        wanted = {c: ids for c, ids in refs.items() if c != "workspace_id"}
        missing = missing_references(conn, self.schema, wanted)
        placeholders = placeholders_from_table(conn, self.schema, window, missing)
        return refs, placeholders

    def _holds_entries(self, params: dict[str, Any]) -> bool:
        """Whether the warehouse holds any of the workspace's entries starting in the window (not on a first load)."""
        row = self.conn.execute(
            sql.SQL(
                "SELECT EXISTS (SELECT 1 FROM {}.toggl_entries"
                " WHERE workspace_id = %(ws)s AND start >= %(start)s AND start < %(end)s)"
            ).format(schema_ident(self.schema)),
            params,
        ).fetchone()
        return bool(row and row[0])

    def _write(
        self, window: str, params: dict[str, Any], refs: dict[str, list[int]], *, held: bool, rows: int
    ) -> tuple[dict[date, tuple[int, int]], list[date], dict]:
        """Update, insert and delete the window's ``rows`` rows; returns ((inserted, updated) per day, days moved
        from, deleted per day).

        Where allowed (:func:`may_skip_row_triggers`), the references are checked set-based by
        :func:`lock_references` and the per-row foreign-key triggers are off for these three statements only.
        A window that ``held`` none of the workspace's entries (a first load) has nothing to delete afterwards:
        entries an update moves into it are staged ones; and when its rows outnumber the table's, the table's
        indexes are set aside for the insert and built again after it (:mod:`toggl_assets.warehouse.bulk`).
        """
        conn = self.conn
        fast = self.set_based_references and may_skip_row_triggers(conn, self.schema)
        with row_triggers_off(conn) if fast else nullcontext(False) as off:
            if off:
                lock_references(conn, self.schema, {c: ids for c, ids in refs.items() if c != "tag_ids"})
            updated: dict[date, int] = {}
            moved_from: set[date] = set()
            for day, old_day, n in conn.execute(build_update_sql(self.schema, window), params):
                updated[day] = updated.get(day, 0) + int(n)
                if old_day != day:
                    moved_from.add(old_day)
            # Without the primary key the new-id test must hash, never loop over the table once per row.
            with (
                indexes_set_aside(conn, self.schema, "toggl_entries", rows=0 if held else rows) as aside,
                local_settings(conn, enable_nestloop="off") if aside else nullcontext(),
            ):
                insert = conn.execute(build_insert_sql(self.schema, window), params)
                inserted = {day: int(n) for day, n in insert}
            deleted = delete_unstaged(conn, self.schema, self.table, params) if held else {}
        upserted = {d: (inserted.get(d, 0), updated.get(d, 0)) for d in inserted.keys() | updated.keys()}
        return upserted, sorted(moved_from), deleted

    def merge_window(
        self,
        workspace_id: int,
        window_start: datetime,
        window_end: datetime,
        *,
        timezone: str,
        synced_at: datetime | None = None,
    ) -> EntryLoadStats:
        """Make workspace ``workspace_id``'s entries whose start is in [window_start, window_end) match the stage.

        In the caller's transaction (nothing is committed): staged rows of other workspaces or outside the window
        are ignored; an id staged twice keeps its last version; missing workspace/users/projects/tasks/tags get
        placeholder rows; entries are inserted, or updated only when a value changed; the workspace's entries
        starting in the window whose id it did not stage at all are deleted (an entry staged with a start in
        another window is left for that window's merge). Running entries (no end, no duration) are stored as
        such. Also records every local day of the window (in ``timezone``) as synced and brings the daily rollup
        of the days whose entries changed up to date. ``synced_at`` defaults to the transaction's ``now()``.
        """
        days = window_days(window_start, window_end, timezone)
        lock_for_load(self.conn)
        ensure_workspace(self.conn, self.schema, workspace_id)
        params = {"ws": workspace_id, "start": window_start, "end": window_end, "tz": timezone, "synced_at": synced_at}
        self._windows += 1
        window, in_window, drop_window = self._create_window(f"{self.table}_window{self._windows}", params)
        refs, placeholders = self._references(window)
        held = self._holds_entries(params)
        upserted, moved_from, deleted = self._write(window, params, refs, held=held, rows=in_window)
        if drop_window is not None:
            self.conn.execute(drop_window)
        # A window that held nothing now holds exactly the rows inserted or moved into it: no need to count the
        # rows just written again.
        rows = (
            rows_per_day(self.conn, self.schema, workspace_id, days, timezone)
            if held
            else {d: i + u for d, (i, u) in upserted.items()}
        )
        # The rollup of a day changes only with its entries: days that gained, changed or lost one.
        changed = {*upserted, *moved_from, *(d for d, n in deleted.items() if n)}
        refresh_rollup(self.conn, self.schema, workspace_id, sorted(changed), timezone, entries=in_window)
        mark_synced_days(self.conn, self.schema, workspace_id, days, synced_at)
        by_day = {
            d: DayStats(rows.get(d, 0), *upserted.get(d, (0, 0)), deleted.get(d, 0)) for d in days
        }  # fmt: skip
        inserted = sum(i for i, _ in upserted.values())
        updated = sum(u for _, u in upserted.values())
        return EntryLoadStats(
            fetched=self.staged,
            in_window=in_window,
            inserted=inserted,
            updated=updated,
            unchanged=in_window - inserted - updated,
            deleted=sum(deleted.values()),
            placeholders=placeholders,
            by_day=by_day,
            moved_from=tuple(sorted(set(moved_from) - set(days))),
        )

    def close(self) -> None:
        """Drop the temporary table (harmless if a rollback already dropped it) and a window view a failed merge
        may have left on it."""
        if not self.conn.closed:
            self.conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(sql.Identifier(self.table)))
