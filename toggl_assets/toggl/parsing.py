"""Pure functions turning Toggl JSON (already decoded) into the records of :mod:`toggl_assets.records`.

Every function takes the ``endpoint`` (templated, e.g. ``GET /api/v9/workspaces/{wid}/clients``) so a
:class:`TogglResponseError` can say where a bad body came from. Unknown fields are ignored; optional fields
that are missing or null become None; a field of the wrong type is an error, not a silent None.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from toggl_assets.records import ClientRecord, EntryRecord, ProjectRecord, TagRecord, TaskRecord, UserRecord
from toggl_assets.toggl.errors import TogglResponseError

_MISSING = object()


def parse_timestamp(value: str, endpoint: str = "?", field: str = "timestamp") -> datetime:
    """RFC 3339 with ``Z`` or ``+HH:MM``, with or without fractional seconds -> aware UTC datetime."""
    if not isinstance(value, str) or not value:
        raise TogglResponseError(endpoint, f"{field} is not a timestamp string: {_short(value)}")
    text = value.strip()
    if text[-1:] in ("z", "Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise TogglResponseError(endpoint, f"{field} is not an RFC 3339 timestamp: {_short(value)}") from None
    if parsed.tzinfo is None:
        # Toggl stores UTC and always sends an offset; a bare local time is read as UTC rather than rejected.
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class _Obj:
    """Typed accessors over one JSON object, raising errors that name the endpoint and the field."""

    __slots__ = ("data", "endpoint", "what")

    def __init__(self, data: Any, endpoint: str, what: str) -> None:
        if not isinstance(data, Mapping):
            raise TogglResponseError(endpoint, f"expected a JSON object for {what}, got {type(data).__name__}")
        self.data = data
        self.endpoint = endpoint
        self.what = what

    def _get(self, *keys: str) -> Any:
        for key in keys:
            value = self.data.get(key, _MISSING)
            if value is not _MISSING and value is not None:
                return value
        return None

    def _fail(self, key: str, expected: str, value: Any) -> TogglResponseError:
        return TogglResponseError(self.endpoint, f"{self.what}.{key} should be {expected}, got {_short(value)}")

    def req_int(self, *keys: str) -> int:
        value = self.opt_int(*keys)
        if value is None:
            raise TogglResponseError(self.endpoint, f"{self.what} lacks required integer {keys[0]!r}")
        return value

    def opt_int(self, *keys: str) -> int | None:
        value = self._get(*keys)
        if value is None:
            return None
        # bool is an int subclass in Python; JSON true is never a valid id or count.
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise self._fail(keys[0], "an integer", value)
        return value

    def req_str(self, *keys: str) -> str:
        value = self.opt_str(*keys)
        if value is None:
            raise TogglResponseError(self.endpoint, f"{self.what} lacks required string {keys[0]!r}")
        return value

    def opt_str(self, *keys: str) -> str | None:
        value = self._get(*keys)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._fail(keys[0], "a string", value)
        return value

    def opt_bool(self, *keys: str) -> bool | None:
        value = self._get(*keys)
        if value is None:
            return None
        if not isinstance(value, bool):
            raise self._fail(keys[0], "a boolean", value)
        return value

    def opt_number(self, *keys: str) -> Decimal | None:
        value = self._get(*keys)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise self._fail(keys[0], "a number", value)
        try:
            # str() first so 12.3 becomes Decimal("12.3"), not the binary float's expansion.
            return Decimal(str(value))
        except InvalidOperation:
            raise self._fail(keys[0], "a number", value) from None

    def opt_cents(self, *keys: str) -> Decimal | None:
        cents = self.opt_number(*keys)
        return None if cents is None else cents / 100

    def req_time(self, *keys: str) -> datetime:
        value = self.opt_time(*keys)
        if value is None:
            raise TogglResponseError(self.endpoint, f"{self.what} lacks required timestamp {keys[0]!r}")
        return value

    def opt_time(self, *keys: str) -> datetime | None:
        value = self._get(*keys)
        if value is None:
            return None
        return parse_timestamp(value, self.endpoint, f"{self.what}.{keys[0]}")

    def opt_list(self, key: str) -> list[Any]:
        value = self._get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._fail(key, "an array", value)
        return value

    def str_tuple(self, key: str) -> tuple[str, ...]:
        items = self.opt_list(key)
        if not all(isinstance(item, str) for item in items):
            raise self._fail(key, "an array of strings", items)
        return tuple(items)

    def int_tuple(self, key: str) -> tuple[int, ...]:
        items = self.opt_list(key)
        if not all(isinstance(item, int) and not isinstance(item, bool) for item in items):
            raise self._fail(key, "an array of integers", items)
        return tuple(items)


def expect_list(body: Any, endpoint: str) -> list[Any]:
    if not isinstance(body, list):
        raise TogglResponseError(endpoint, f"expected a JSON array, got {type(body).__name__}")
    return body


def _items(body: Any, endpoint: str, what: str) -> list[_Obj]:
    return [_Obj(item, endpoint, f"{what}[{i}]") for i, item in enumerate(expect_list(body, endpoint))]


def parse_clients(body: Any, endpoint: str, workspace_id: int) -> list[ClientRecord]:
    out = []
    for o in _items(body, endpoint, "client"):
        at = o.req_time("at")
        out.append(
            ClientRecord(
                id=o.req_int("id"),
                workspace_id=o.opt_int("wid", "workspace_id") or workspace_id,
                name=o.req_str("name"),
                is_archived=o.opt_bool("archived"),
                created_at=at,  # Toggl has no creation time for clients; records.py documents the stand-in
                updated_at=at,
                notes=o.opt_str("notes"),
            )
        )
    return out


def parse_projects(body: Any, endpoint: str, workspace_id: int) -> list[ProjectRecord]:
    out = []
    for o in _items(body, endpoint, "project"):
        at = o.opt_time("at")
        active = o.opt_bool("active")
        created = o.opt_time("created_at") or at
        if created is None:
            raise TogglResponseError(endpoint, f"{o.what} has neither 'created_at' nor 'at'")
        out.append(
            ProjectRecord(
                id=o.req_int("id"),
                workspace_id=o.opt_int("workspace_id", "wid") or workspace_id,
                client_id=o.opt_int("client_id", "cid"),
                name=o.req_str("name"),
                color=o.opt_str("color"),
                is_private=o.opt_bool("is_private"),
                is_active=active,
                is_billable=o.opt_bool("billable"),
                created_at=created,
                # Toggl keeps no archive time; the last change of an inactive project is the best guess.
                archived_at=at if active is False else None,
                updated_at=at,
                status=o.opt_str("status"),
                rate=o.opt_number("rate"),
                currency=o.opt_str("currency"),
                server_deleted_at=o.opt_time("server_deleted_at"),
            )
        )
    return out


def parse_tags(body: Any, endpoint: str, workspace_id: int) -> list[TagRecord]:
    out = []
    for o in _items(body, endpoint, "tag"):
        at = o.req_time("at")
        out.append(
            TagRecord(
                id=o.req_int("id"),
                workspace_id=o.opt_int("workspace_id", "wid") or workspace_id,
                name=o.req_str("name"),
                created_at=at,  # no creation time exists for tags either
                updated_at=at,
            )
        )
    return out


def parse_workspace_users(body: Any, endpoint: str, workspace_id: int) -> list[UserRecord]:
    """Rows of ``/workspaces/{wid}/workspace_users``: ``id`` there is the membership id, ``uid`` the user."""
    out = []
    for o in _items(body, endpoint, "workspace_user"):
        uid = o.opt_int("uid", "user_id")
        if uid is None:
            raise TogglResponseError(endpoint, f"{o.what} lacks 'uid'/'user_id'")
        active = o.opt_bool("active")
        inactive = o.opt_bool("inactive")
        is_active = None if active is None and inactive is None else active is not False and inactive is not True
        admin = o.opt_bool("admin")
        if admin is None:
            admin = o.opt_bool("workspace_admin")
        out.append(
            UserRecord(
                id=uid,
                workspace_id=o.opt_int("wid", "workspace_id") or workspace_id,
                name=o.opt_str("name", "fullname"),
                email=o.opt_str("email"),
                is_active=is_active,
                is_admin=admin,
                rate=o.opt_number("rate"),
                timezone=o.opt_str("timezone"),
                updated_at=o.opt_time("at"),
            )
        )
    return out


def parse_tasks_page(body: Any, endpoint: str, workspace_id: int) -> tuple[list[TaskRecord], int | None, int | None]:
    """One page of the enveloped tasks list -> (tasks, total_count, per_page the server applied)."""
    env = _Obj(body, endpoint, "tasks envelope")
    out = []
    for i, item in enumerate(env.opt_list("data")):
        o = _Obj(item, endpoint, f"task[{i}]")
        out.append(
            TaskRecord(
                id=o.req_int("id"),
                workspace_id=o.opt_int("workspace_id", "wid") or workspace_id,
                project_id=o.opt_int("project_id", "pid"),
                name=o.req_str("name"),
                user_id=o.opt_int("user_id", "uid"),
                is_active=o.opt_bool("active"),
                estimated_seconds=o.opt_int("estimated_seconds"),
                # Documented as milliseconds despite the name (reference §2.7).
                tracked_ms=o.opt_int("tracked_seconds"),
                rate=o.opt_number("rate"),
                updated_at=o.opt_time("at"),
            )
        )
    return out, env.opt_int("total_count"), env.opt_int("per_page")


def _split_amount(total: Decimal | None, seconds: list[int | None], index: int) -> Decimal | None:
    """Share of a grouped row's amount for one of its entries, pro rata by duration (cent precision)."""
    if total is None or len(seconds) == 1:
        return total
    known = [s for s in seconds if s and s > 0]
    mine = seconds[index]
    if not known or not mine or mine <= 0:
        return None
    return (total * mine / sum(known)).quantize(Decimal("0.01"))


class _Unusual(Exception):
    """A report row the fast path does not handle; it is parsed again by the checked path."""


def _fast_int(value: Any) -> int | None:
    if value is None or type(value) is int:
        return value
    raise _Unusual


def _fast_str(value: Any) -> str | None:
    if value is None or type(value) is str:
        return value
    raise _Unusual


def _fast_cents(value: Any) -> Decimal | None:
    if value is None:
        return None
    if type(value) is int or type(value) is float:
        return Decimal(str(value)) / 100
    raise _Unusual


def _fast_time(value: Any) -> datetime | None:
    """Same result as :func:`parse_timestamp` for a well-formed string; anything else is unusual."""
    if value is None:
        return None
    if type(value) is not str or not value:
        raise _Unusual
    text = value.strip()
    if text[-1:] in ("z", "Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise _Unusual from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _fast_report_row(row: Any, workspace_id: int, out: list[EntryRecord]) -> None:
    """The common shape of a report row, parsed without the accessors' bookkeeping. Produces exactly what the
    checked path produces; raises :class:`_Unusual` (having appended nothing) for anything else."""
    if type(row) is not dict:
        raise _Unusual
    get = row.get
    items = get("time_entries")
    if type(items) is not list or not items or not all(type(e) is dict for e in items):
        raise _Unusual
    amount = _fast_cents(get("billable_amount_in_cents"))
    rate = _fast_cents(get("hourly_rate_in_cents"))
    seconds = [_fast_int(e.get("seconds")) for e in items]
    billable = get("billable")
    if billable is not None and billable is not True and billable is not False:
        raise _Unusual
    tag_names = get("tag_names")
    if tag_names is None:
        tags: tuple[str, ...] = ()
    elif type(tag_names) is list and all(type(t) is str for t in tag_names):
        tags = tuple(tag_names)
    else:
        raise _Unusual
    tag_id_list = get("tag_ids")
    if tag_id_list is None:
        tag_ids: tuple[int, ...] = ()
    elif type(tag_id_list) is list and all(type(t) is int for t in tag_id_list):
        tag_ids = tuple(tag_id_list)
    else:
        raise _Unusual
    user_name = get("username")
    if user_name is None:
        user_name = get("user_name")
    user_email = get("email")
    if user_email is None:
        user_email = get("user_email")
    common = {
        "workspace_id": _fast_int(get("workspace_id")) or workspace_id,
        "project_id": _fast_int(get("project_id")),
        "task_id": _fast_int(get("task_id")),
        "user_id": _fast_int(get("user_id")),
        "description": _fast_str(get("description")),
        "is_billable": billable,
        "currency": _fast_str(get("currency")),
        "tags": tags,
        "tag_ids": tag_ids,
        "hourly_rate": rate,
        "project_name": _fast_str(get("project_name")),
        "client_name": _fast_str(get("client_name")),
        "task_name": _fast_str(get("task_name")),
        "user_name": _fast_str(user_name),
        "user_email": _fast_str(user_email),
    }
    records = []
    for j, e in enumerate(items):
        entry_id = _fast_int(e.get("id"))
        start = _fast_time(e.get("start"))
        if entry_id is None or start is None:
            raise _Unusual
        stop = _fast_time(e.get("stop"))
        records.append(
            EntryRecord(
                id=entry_id,
                start=start,
                end=stop,
                duration_ms=None if stop is None or seconds[j] is None else seconds[j] * 1000,
                billable_amount=_split_amount(amount, seconds, j),
                updated_at=_fast_time(e.get("at")),
                **common,
            )
        )
    out.extend(records)


def parse_report_rows(body: Any, endpoint: str, workspace_id: int) -> list[EntryRecord]:
    """Reports v3 detailed rows -> one EntryRecord per element of each row's ``time_entries``.

    Rows of the usual shape take a fast path; any other row goes through the typed accessors, which give the
    same records or the same error (naming the endpoint, the row and the field).
    """
    rows = expect_list(body, endpoint)
    for index, item in enumerate(rows):
        if not isinstance(item, Mapping):
            _Obj(item, endpoint, f"row[{index}]")  # raises: a row that is not an object fails first
    out: list[EntryRecord] = []
    for index, item in enumerate(rows):
        try:
            _fast_report_row(item, workspace_id, out)
        except _Unusual:
            _parse_report_row_checked(item, index, endpoint, workspace_id, out)
    return out


def _parse_report_row_checked(item: Any, index: int, endpoint: str, workspace_id: int, out: list[EntryRecord]) -> None:
    """One report row through the typed accessors (exact error messages); appends its records to ``out``."""
    row = _Obj(item, endpoint, f"row[{index}]")
    entries = [_Obj(e, endpoint, f"{row.what}.time_entries[{j}]") for j, e in enumerate(row.opt_list("time_entries"))]
    if not entries:
        raise TogglResponseError(endpoint, f"{row.what} has no time_entries")
    amount = row.opt_cents("billable_amount_in_cents")
    rate = row.opt_cents("hourly_rate_in_cents")
    seconds = [e.opt_int("seconds") for e in entries]
    common = {
        "workspace_id": row.opt_int("workspace_id") or workspace_id,
        "project_id": row.opt_int("project_id"),
        "task_id": row.opt_int("task_id"),
        "user_id": row.opt_int("user_id"),
        "description": row.opt_str("description"),
        "is_billable": row.opt_bool("billable"),
        "currency": row.opt_str("currency"),
        "tags": row.str_tuple("tag_names"),
        "tag_ids": row.int_tuple("tag_ids"),
        "hourly_rate": rate,
        "project_name": row.opt_str("project_name"),
        "client_name": row.opt_str("client_name"),
        "task_name": row.opt_str("task_name"),
        "user_name": row.opt_str("username", "user_name"),
        "user_email": row.opt_str("email", "user_email"),
    }
    for j, e in enumerate(entries):
        stop = e.opt_time("stop")
        running = stop is None
        out.append(
            EntryRecord(
                id=e.req_int("id"),
                start=e.req_time("start"),
                end=stop,
                duration_ms=None if running or seconds[j] is None else seconds[j] * 1000,
                billable_amount=_split_amount(amount, seconds, j),
                updated_at=e.opt_time("at"),
                **common,
            )
        )


def parse_v9_entry(body: Any, endpoint: str) -> EntryRecord:
    """A Track v9 time entry (``/me/time_entries/current`` and friends)."""
    o = _Obj(body, endpoint, "time_entry")
    start = o.req_time("start")
    stop = o.opt_time("stop")
    duration = o.opt_int("duration")
    if stop is None and (duration is None or duration < 0):
        # Running: reads give duration = -start_epoch (reference §2.9); never store that as a duration.
        end, duration_ms = None, None
    elif stop is None:
        # Created with only a start (duration 0, stop null): Toggl later shows stop == start + duration.
        end, duration_ms = start + timedelta(seconds=duration or 0), (duration or 0) * 1000
    else:
        end = stop
        duration_ms = duration * 1000 if duration is not None and duration >= 0 else None
    return EntryRecord(
        id=o.req_int("id"),
        workspace_id=o.req_int("workspace_id", "wid"),
        project_id=o.opt_int("project_id", "pid"),
        task_id=o.opt_int("task_id", "tid"),
        user_id=o.opt_int("user_id", "uid"),
        description=o.opt_str("description"),
        start=start,
        end=end,
        duration_ms=duration_ms,
        is_billable=o.opt_bool("billable"),
        billable_amount=None,
        currency=None,
        tags=o.str_tuple("tags"),
        tag_ids=o.int_tuple("tag_ids"),
        updated_at=o.opt_time("at"),
        project_name=o.opt_str("project_name"),
        client_name=o.opt_str("client_name"),
        task_name=o.opt_str("task_name"),
        user_name=o.opt_str("user_name"),
    )


def parse_me_workspace_id(body: Any, endpoint: str) -> int:
    return _Obj(body, endpoint, "me").req_int("default_workspace_id")


def error_message(content: bytes) -> str:
    """Toggl's explanation from an error body: a JSON string, a JSON object's message, or stripped HTML."""
    text = content.decode("utf-8", errors="replace").strip()
    if not text:
        return ""
    try:
        decoded = json.loads(text)
    except ValueError:
        decoded = _MISSING
    if isinstance(decoded, str):
        text = decoded
    elif isinstance(decoded, Mapping):
        inner = decoded.get("error", decoded)
        if isinstance(inner, Mapping):
            inner = inner.get("message") or inner.get("error") or inner
        text = inner if isinstance(inner, str) else json.dumps(inner)[:300]
    elif isinstance(decoded, Sequence) and decoded is not _MISSING:
        text = json.dumps(decoded)[:300]
    elif "<" in text:
        # nginx-style HTML pages (429/400 under throttling, reference §4.1): keep the readable text only.
        text = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", text)
        text = html.unescape(re.sub(r"(?s)<[^>]+>", " ", text))
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:297] + "..."
