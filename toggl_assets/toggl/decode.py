"""One typed decoder: Toggl's JSON bytes -> the records of :mod:`toggl_assets.records`.

Each endpoint's body is described by msgspec Structs (the wire shape) and decoded straight from bytes in one
pass; a small function then maps the wire shape onto the shared records (UTC times, cents -> currency units,
legacy aliases such as ``wid``/``pid``). Unknown fields are ignored; missing or null optional fields become None;
a field of the wrong type is an error, never a silent None. Errors are :class:`TogglResponseError` naming the
endpoint and the path of the field (``clients[0].id``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import msgspec

from toggl_assets.records import (
    ClientRecord,
    EntryRecord,
    ProjectRecord,
    TagRecord,
    TaskRecord,
    UserRecord,
    WorkspaceRecord,
)
from toggl_assets.toggl.errors import TogglResponseError

T = TypeVar("T")
_CENT = Decimal(100)


class MalformedBody(TogglResponseError):
    """The body is not JSON at all (typically cut short in transit): the transport retries these."""


# msgspec's type names -> (the noun after "should be", the noun after "lacks required").
_NOUNS = {
    "int": ("an integer", "integer"),
    "str": ("a string", "string"),
    "bool": ("a boolean", "boolean"),
    "array": ("an array", "array"),
    "object": ("a JSON object", "object"),
    "decimal": ("a number", "number"),
    "float": ("a number", "number"),
    "datetime": ("an RFC 3339 timestamp", "timestamp"),
}
_MSGSPEC_ERROR = re.compile(r"^(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_EXPECTED = re.compile(r"^Expected `(?P<expected>[^`]*)`, got `(?P<got>[^`]*)`$")
_STEP = re.compile(r"\.(\w+)|\[(\d+)\]")


def _value_at(body: Any, path: str) -> Any:
    """The JSON value at a msgspec path such as ``[0].time_entries[0].id`` (for the error message only)."""
    for key, index in _STEP.findall(path):
        try:
            body = body[key] if key else body[int(index)]
        except (KeyError, IndexError, TypeError):
            return None
    return body


def _noun(expected: str, form: int = 0) -> str:
    kinds = [kind for kind in expected.split(" | ") if kind != "null"]
    return " or ".join(_NOUNS[kind][form] if kind in _NOUNS else kind for kind in kinds)


def _explain(message: str, root: str, body: Callable[[], Any]) -> str:
    """msgspec's ``Expected `int`, got `str` - at `$[0].id``` in the words of the field: ``clients[0].id should be
    an integer, got '7'``; a null required field ``lacks required integer 'id'``."""
    parts = _MSGSPEC_ERROR.match(message)
    what, path = (parts["what"], parts["path"] or "") if parts else (message, "")
    where = f"{root}{path}"
    expected = _EXPECTED.match(what)
    if expected and expected["got"] == "null" and "." in where:
        parent, field = where.rsplit(".", 1)
        return f"{parent} lacks required {_noun(expected['expected'], 1)} {field!r}"
    if expected:
        return f"{where} should be {_noun(expected['expected'])}, got {_value_at(body(), path)!r:.80}"
    if what.startswith("Invalid RFC3339"):
        return f"{where} is not an RFC 3339 timestamp: {_value_at(body(), path)!r:.80}"
    if what.startswith("Invalid decimal"):
        return f"{where} should be a number, got {_value_at(body(), path)!r:.80}"
    if what.startswith("Object missing required field"):
        return f"{where} lacks required field {what.rsplit(' ', 1)[-1].strip('`')!r}"
    return f"{where}: {what}"


def _decode(decoder: msgspec.json.Decoder[T], content: bytes, endpoint: str, root: str) -> T:
    try:
        return decoder.decode(content)
    except msgspec.ValidationError as exc:
        # msgspec validates as it parses: a body cut short or garbled after a wrongly typed value fails
        # validation before syntax. Only a body that is whole JSON is a wrong answer; the rest is retried.
        try:
            parsed = json.loads(content)
        except ValueError:
            raise MalformedBody(endpoint, "the body is not valid JSON") from None
        raise TogglResponseError(endpoint, _explain(str(exc), root, lambda: parsed)) from None
    except msgspec.DecodeError as exc:
        raise MalformedBody(endpoint, f"the body is not valid JSON ({exc})") from None


def _utc(value: datetime | None) -> datetime | None:
    """Aware UTC: offsets (a report row's user offset) are converted, a bare time is read as UTC."""
    if value is None or value.tzinfo is UTC:
        return value
    if value.tzinfo is None:
        # Toggl stores UTC and always sends an offset; a bare local time is read as UTC rather than rejected.
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_timestamp(value: Any, endpoint: str = "?", field: str = "timestamp") -> datetime:
    """RFC 3339 with ``Z`` or ``+HH:MM``, with or without fractional seconds -> aware UTC datetime."""
    try:
        parsed = msgspec.convert(value, datetime)
    except msgspec.ValidationError as exc:
        raise TogglResponseError(endpoint, f"{field} is not an RFC 3339 timestamp ({exc}): {value!r:.80}") from None
    return _utc(parsed)  # type: ignore[return-value]


# -- wire shapes (only the fields we use; gc=False: these hold no reference cycles) --------------------------


class _Named(msgspec.Struct, kw_only=True, gc=False):
    id: int
    name: str


class _InWorkspace(_Named, kw_only=True, gc=False):
    workspace_id: int | None = None
    wid: int | None = None  # legacy alias (reference §2.1)


class _Workspace(_Named, kw_only=True, gc=False):
    organization_id: int | None = None
    default_currency: str | None = None
    default_hourly_rate: Decimal | None = None
    rounding: int | None = None
    rounding_minutes: int | None = None
    at: datetime | None = None


class _Client(_InWorkspace, kw_only=True, gc=False):
    at: datetime
    archived: bool | None = None
    notes: str | None = None


class _Project(_InWorkspace, kw_only=True, gc=False):
    client_id: int | None = None
    cid: int | None = None
    color: str | None = None
    is_private: bool | None = None
    active: bool | None = None
    billable: bool | None = None
    at: datetime | None = None
    created_at: datetime | None = None
    status: str | None = None
    rate: Decimal | None = None
    currency: str | None = None
    server_deleted_at: datetime | None = None


class _Tag(_InWorkspace, kw_only=True, gc=False):
    at: datetime


class _WorkspaceUser(msgspec.Struct, gc=False):
    uid: int | None = None
    user_id: int | None = None
    wid: int | None = None
    workspace_id: int | None = None
    name: str | None = None
    fullname: str | None = None
    email: str | None = None
    active: bool | None = None
    inactive: bool | None = None
    admin: bool | None = None
    workspace_admin: bool | None = None
    rate: Decimal | None = None
    timezone: str | None = None
    at: datetime | None = None


class _Task(_InWorkspace, kw_only=True, gc=False):
    project_id: int | None = None
    pid: int | None = None
    user_id: int | None = None
    uid: int | None = None
    active: bool | None = None
    estimated_seconds: int | None = None
    tracked_seconds: int | None = None  # milliseconds despite the name (reference §2.7)
    rate: Decimal | None = None
    at: datetime | None = None


class _TasksPage(msgspec.Struct, gc=False):
    data: list[_Task] | None = None
    total_count: int | None = None
    per_page: int | None = None


class _ReportEntry(msgspec.Struct, gc=False):
    id: int
    start: datetime
    seconds: int | None = None
    stop: datetime | None = None
    at: datetime | None = None


class ReportRow(msgspec.Struct, gc=False):
    """One row of a Reports v3 detailed search: the user's fields and the entries grouped under them, typed but
    not yet mapped (see :func:`decode_report_rows` and :func:`report_entries`)."""

    time_entries: list[_ReportEntry] | None = None
    workspace_id: int | None = None
    user_id: int | None = None
    username: str | None = None
    user_name: str | None = None
    email: str | None = None
    user_email: str | None = None
    project_id: int | None = None
    project_name: str | None = None
    client_name: str | None = None
    task_id: int | None = None
    task_name: str | None = None
    description: str | None = None
    billable: bool | None = None
    tag_ids: list[int] | None = None
    tag_names: list[str] | None = None
    hourly_rate_in_cents: Decimal | None = None
    billable_amount_in_cents: Decimal | None = None
    currency: str | None = None


class _V9Entry(msgspec.Struct, gc=False):
    id: int
    start: datetime
    workspace_id: int | None = None
    wid: int | None = None
    project_id: int | None = None
    pid: int | None = None
    task_id: int | None = None
    tid: int | None = None
    user_id: int | None = None
    uid: int | None = None
    description: str | None = None
    stop: datetime | None = None
    duration: int | None = None
    billable: bool | None = None
    tags: list[str] | None = None
    tag_ids: list[int] | None = None
    at: datetime | None = None
    project_name: str | None = None
    client_name: str | None = None
    task_name: str | None = None
    user_name: str | None = None


class _GraphBucket(msgspec.Struct, gc=False):
    seconds: int | None = None


class _Totals(msgspec.Struct, gc=False):
    resolution: str | None = None
    graph: list[_GraphBucket] | None = None


_WORKSPACES = msgspec.json.Decoder(list[_Workspace])
_CLIENTS = msgspec.json.Decoder(list[_Client])
_PROJECTS = msgspec.json.Decoder(list[_Project])
_TAGS = msgspec.json.Decoder(list[_Tag])
_USERS = msgspec.json.Decoder(list[_WorkspaceUser])
_TASKS = msgspec.json.Decoder(_TasksPage)
_REPORT = msgspec.json.Decoder(list[ReportRow])
_ANY = msgspec.json.Decoder()
_TOTALS = msgspec.json.Decoder(_Totals)


def _first(*values: Any) -> Any:
    """The first non-None of a field and its legacy alias (``workspace_id``/``wid``...)."""
    for value in values:
        if value is not None:
            return value
    return None


# -- v9 lists -------------------------------------------------------------------------------------------------


def decode_workspaces(content: bytes, endpoint: str) -> list[WorkspaceRecord]:
    return [
        WorkspaceRecord(
            id=w.id,
            organization_id=w.organization_id,
            name=w.name,
            default_currency=w.default_currency,
            default_hourly_rate=w.default_hourly_rate,
            rounding=w.rounding,
            rounding_minutes=w.rounding_minutes,
            updated_at=_utc(w.at),
        )
        for w in _decode(_WORKSPACES, content, endpoint, "workspaces")
    ]


def decode_clients(content: bytes, endpoint: str, workspace_id: int) -> list[ClientRecord]:
    out = []
    for c in _decode(_CLIENTS, content, endpoint, "clients"):
        at = _utc(c.at)
        out.append(
            ClientRecord(
                id=c.id,
                workspace_id=_first(c.wid, c.workspace_id, workspace_id),
                name=c.name,
                is_archived=c.archived,
                created_at=at,  # type: ignore[arg-type]  # no creation time for clients; records.py says why
                updated_at=at,
                notes=c.notes,
            )
        )
    return out


def decode_projects(content: bytes, endpoint: str, workspace_id: int) -> list[ProjectRecord]:
    out = []
    for i, p in enumerate(_decode(_PROJECTS, content, endpoint, "projects")):
        at = _utc(p.at)
        created = _utc(p.created_at) or at
        if created is None:
            raise TogglResponseError(endpoint, f"projects[{i}] has neither 'created_at' nor 'at'")
        out.append(
            ProjectRecord(
                id=p.id,
                workspace_id=_first(p.workspace_id, p.wid, workspace_id),
                client_id=_first(p.client_id, p.cid),
                name=p.name,
                color=p.color,
                is_private=p.is_private,
                is_active=p.active,
                is_billable=p.billable,
                created_at=created,
                # Toggl keeps no archive time; the last change of an inactive project is the best guess.
                archived_at=at if p.active is False else None,
                updated_at=at,
                status=p.status,
                rate=p.rate,
                currency=p.currency,
                server_deleted_at=_utc(p.server_deleted_at),
            )
        )
    return out


def decode_tags(content: bytes, endpoint: str, workspace_id: int) -> list[TagRecord]:
    out = []
    for t in _decode(_TAGS, content, endpoint, "tags"):
        at = _utc(t.at)
        out.append(
            TagRecord(
                id=t.id,
                workspace_id=_first(t.workspace_id, t.wid, workspace_id),
                name=t.name,
                created_at=at,  # type: ignore[arg-type]  # no creation time exists for tags either
                updated_at=at,
            )
        )
    return out


def _user(u: _WorkspaceUser, uid: int, workspace_id: int) -> UserRecord:
    unknown = u.active is None and u.inactive is None
    return UserRecord(
        id=uid,
        workspace_id=_first(u.wid, u.workspace_id, workspace_id),
        name=_first(u.name, u.fullname),
        email=u.email,
        is_active=None if unknown else u.active is not False and u.inactive is not True,
        is_admin=_first(u.admin, u.workspace_admin),
        rate=u.rate,
        timezone=u.timezone,
        updated_at=_utc(u.at),
    )


def decode_users(content: bytes, endpoint: str, workspace_id: int) -> list[UserRecord]:
    """Rows of ``/workspaces/{wid}/workspace_users``: ``id`` there is the membership id, ``uid`` the user."""
    out = []
    for i, u in enumerate(_decode(_USERS, content, endpoint, "workspace_users")):
        uid = _first(u.uid, u.user_id)
        if uid is None:
            raise TogglResponseError(endpoint, f"workspace_users[{i}] lacks 'uid'/'user_id'")
        out.append(_user(u, uid, workspace_id))
    return out


def decode_tasks_page(
    content: bytes, endpoint: str, workspace_id: int
) -> tuple[list[TaskRecord], int | None, int | None]:
    """One page of the enveloped tasks list -> (tasks, total_count, per_page the server applied)."""
    page = _decode(_TASKS, content, endpoint, "tasks")
    tasks = [
        TaskRecord(
            id=t.id,
            workspace_id=_first(t.workspace_id, t.wid, workspace_id),
            project_id=_first(t.project_id, t.pid),
            name=t.name,
            user_id=_first(t.user_id, t.uid),
            is_active=t.active,
            estimated_seconds=t.estimated_seconds,
            tracked_ms=t.tracked_seconds,
            rate=t.rate,
            updated_at=_utc(t.at),
        )
        for t in page.data or ()
    ]
    return tasks, page.total_count, page.per_page


# -- Reports v3 detailed ------------------------------------------------------------------------------------


def _split_amount(total: Decimal | None, seconds: list[int | None], index: int) -> Decimal | None:
    """Share of a grouped row's amount for one of its entries, pro rata by duration (cent precision)."""
    if total is None or len(seconds) == 1:
        return total
    known = [s for s in seconds if s and s > 0]
    mine = seconds[index]
    if not known or not mine or mine <= 0:
        return None
    return (total * mine / sum(known)).quantize(Decimal("0.01"))


def _row_entries(row: ReportRow, workspace_id: int, out: list[EntryRecord]) -> None:
    """Append one record per element of the row's ``time_entries`` (usually one; several when grouped)."""
    items = row.time_entries or ()
    cents = row.billable_amount_in_cents
    amount = None if cents is None else cents / _CENT
    if len(items) == 1:
        shares: Sequence[Decimal | None] = (amount,)
    else:
        seconds = [e.seconds for e in items]
        shares = [_split_amount(amount, seconds, j) for j in range(len(items))]
    tag_names, tag_ids = row.tag_names, row.tag_ids
    tags = tuple(tag_names) if tag_names else ()
    tag_id_tuple = tuple(tag_ids) if tag_ids else ()
    rate_cents = row.hourly_rate_in_cents
    rate = None if rate_cents is None else rate_cents / _CENT
    user_name = row.username if row.username is not None else row.user_name
    user_email = row.email if row.email is not None else row.user_email
    wid = row.workspace_id or workspace_id
    for e, share in zip(items, shares, strict=True):
        stop = _utc(e.stop)
        # A running entry (no stop) has no duration yet, whatever ``seconds`` says.
        duration_ms = None if stop is None or e.seconds is None else e.seconds * 1000
        # Positional, in EntryRecord's field order: a third cheaper than keywords, and this runs per entry.
        out.append(
            EntryRecord(
                e.id, wid, row.project_id, row.task_id, row.user_id, row.description,
                _utc(e.start), stop, duration_ms, row.billable, share, row.currency, tags, tag_id_tuple,  # type: ignore[arg-type]
                _utc(e.at), rate, row.project_name, row.client_name, row.task_name, user_name, user_email,
            )
        )  # fmt: skip


def decode_report_rows(content: bytes, endpoint: str) -> list[ReportRow]:
    """Reports v3 detailed rows, parsed and typed (a body that is not JSON is :class:`MalformedBody`, a wrongly
    typed one a :class:`TogglResponseError`), not yet mapped: the cheap third of decoding a page, the part
    that tells whether the answer must be asked again."""
    return _decode(_REPORT, content, endpoint, "rows")


def report_entries(rows: list[ReportRow], endpoint: str, workspace_id: int) -> list[EntryRecord]:
    """Rows of :func:`decode_report_rows` -> one EntryRecord per element of each row's ``time_entries``."""
    out: list[EntryRecord] = []
    for i, row in enumerate(rows):
        if not row.time_entries:
            raise TogglResponseError(endpoint, f"rows[{i}] has no time_entries")
        _row_entries(row, workspace_id, out)
    return out


def decode_report_page(content: bytes, endpoint: str, workspace_id: int) -> tuple[list[EntryRecord], int]:
    """Reports v3 detailed rows -> (one EntryRecord per element of each row's ``time_entries``, row count)."""
    rows = decode_report_rows(content, endpoint)
    return report_entries(rows, endpoint, workspace_id), len(rows)


# -- Track v9 entry ----------------------------------------------------------------------------------------


def _v9_times(e: _V9Entry) -> tuple[datetime, datetime | None, int | None]:
    """(start, end, duration_ms) under the running-entry rule of reference §2.9."""
    start = _utc(e.start)
    stop = _utc(e.stop)
    duration = e.duration
    if stop is None and (duration is None or duration < 0):
        # Running: reads give duration = -start_epoch; never store that as a duration.
        return start, None, None  # type: ignore[return-value]
    if stop is None:
        # Created with only a start (duration 0, stop null): Toggl later shows stop == start + duration.
        return start, start + timedelta(seconds=duration or 0), (duration or 0) * 1000  # type: ignore[operator]
    return start, stop, duration * 1000 if duration is not None and duration >= 0 else None  # type: ignore[return-value]


def decode_current_entry(content: bytes, endpoint: str) -> EntryRecord | None:
    """``/me/time_entries/current``: the running entry, or None for the JSON literal ``null``."""
    body = _decode(_ANY, content, endpoint, "time_entry")
    if isinstance(body, dict) and set(body) == {"data"}:
        body = body["data"]  # tolerate the stale v8-style envelope shown in one doc page (reference §2.9)
    if body is None:
        return None
    try:
        e = msgspec.convert(body, _V9Entry)
    except msgspec.ValidationError as exc:
        raise TogglResponseError(endpoint, _explain(str(exc), "time_entry", lambda: body)) from None
    workspace_id = _first(e.workspace_id, e.wid)
    if workspace_id is None:
        raise TogglResponseError(endpoint, "time_entry lacks 'workspace_id'/'wid'")
    start, end, duration_ms = _v9_times(e)
    return EntryRecord(
        id=e.id,
        workspace_id=workspace_id,
        project_id=_first(e.project_id, e.pid),
        task_id=_first(e.task_id, e.tid),
        user_id=_first(e.user_id, e.uid),
        description=e.description,
        start=start,
        end=end,
        duration_ms=duration_ms,
        is_billable=e.billable,
        billable_amount=None,
        currency=None,
        tags=tuple(e.tags or ()),
        tag_ids=tuple(e.tag_ids or ()),
        updated_at=_utc(e.at),
        project_name=e.project_name,
        client_name=e.client_name,
        task_name=e.task_name,
        user_name=e.user_name,
    )


# -- Reports v3 totals ---------------------------------------------------------------------------------------


def decode_daily_totals(content: bytes, endpoint: str, first_day: date, last_day: date) -> dict[date, int]:
    """A totals answer asked with ``granularity: "day"`` -> seconds per day of [first_day, last_day].

    The graph has no dates: bucket ``i`` is ``first_day + i`` days (reference §3.4). Anything that breaks that
    reading (another resolution, a bucket count that is not the span's day count) is an error, not a guess.
    """
    totals = _decode(_TOTALS, content, endpoint, "totals")
    return graph_days(totals.resolution, [b.seconds for b in totals.graph or ()], first_day, last_day, endpoint)


def graph_days(
    resolution: str | None, seconds: list[int | None], first_day: date, last_day: date, endpoint: str = "?"
) -> dict[date, int]:
    """Map graph buckets by position onto the days of [first_day, last_day] (a null bucket is 0 seconds)."""
    days = (last_day - first_day).days + 1
    if resolution != "day":
        raise TogglResponseError(endpoint, f"totals.resolution is {resolution!r}, expected 'day'")
    if len(seconds) != days:
        raise TogglResponseError(
            endpoint, f"totals.graph has {len(seconds)} bucket(s) for {days} day(s) {first_day}..{last_day}"
        )
    return {first_day + timedelta(days=i): value or 0 for i, value in enumerate(seconds)}
