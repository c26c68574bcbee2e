"""In-memory workspace state: compact entry storage, a (start, id) index, mutations and queries.

Entries are immutable ``Entry`` tuples in a dict keyed by id plus two parallel ``array('q')`` columns
(start, id) sorted by (start, id), so a date range is two bisections and a million entries fit in a few
hundred MB. JSON dicts are built only when a response is serialized.
"""

from __future__ import annotations

import threading
from array import array
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from .timefmt import micro_zulu, plus00, zulu


class Entry(NamedTuple):
    id: int
    user_id: int
    start: int  # unix seconds, UTC
    stop: int | None  # None = running
    project_id: int | None
    task_id: int | None
    description: str | None
    tag_ids: tuple[int, ...]
    billable: bool
    at_us: int  # last update, unix microseconds


@dataclass(slots=True)
class User:
    id: int
    wu_id: int  # workspace-user id: a different number from the user id, as in the real API
    email: str
    fullname: str
    timezone: str
    tz: ZoneInfo
    rate: float | None
    admin: bool
    active: bool
    token: str
    password: str
    created_at: int
    at_us: int
    beginning_of_week: int


@dataclass(slots=True)
class Client:
    id: int
    name: str
    archived: bool
    creator_id: int
    at: int


@dataclass(slots=True)
class Project:
    id: int
    name: str
    client_id: int | None
    active: bool
    is_private: bool
    billable: bool
    color: str
    rate: float | None
    currency: str | None
    created_at: int
    at: int
    start_date: str
    deleted_at: int | None = None


@dataclass(slots=True)
class Tag:
    id: int
    name: str
    creator_id: int
    at_us: int
    deleted_at: int | None = None


@dataclass(slots=True)
class Task:
    id: int
    name: str
    project_id: int
    user_id: int | None
    active: bool
    estimated_seconds: int | None
    at: int


class NotFound(LookupError):
    pass


class Conflict(RuntimeError):
    pass


@dataclass(frozen=True)
class ReportQuery:
    """A normalized Reports v3 detailed query (the cache key of the matching-id list)."""

    lo: int  # default window [lo, hi) in unix seconds (UTC reading of the dates)
    hi: int
    # (user_id, lo, hi) per user when dates are read in each user's zone
    per_user_bounds: tuple[tuple[int, int, int], ...] | None
    user_ids: frozenset[int] | None
    project_ids: frozenset[int | None] | None
    client_ids: frozenset[int | None] | None
    tag_ids: frozenset[int | None] | None
    task_ids: frozenset[int | None] | None
    description: str | None
    billable: bool | None
    include_running: bool
    order_by: str
    descending: bool


class Store:
    def __init__(self, clock: Callable[[], float]) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.workspace_id = 0
        self.organization_id = 0
        self.workspace_name = ""
        self.plan = "premium"
        self.default_currency = "USD"
        self.default_hourly_rate: float | None = None
        self.created_at = 0
        self.users: dict[int, User] = {}
        self.owner_id = 0
        self.clients: dict[int, Client] = {}
        self.projects: dict[int, Project] = {}
        self.tags: dict[int, Tag] = {}
        self.tasks: dict[int, Task] = {}
        self.entries: dict[int, Entry] = {}
        self.deleted: dict[int, tuple[Entry, int]] = {}  # id -> (entry as deleted, deleted_at unix us)
        self.starts = array("q")
        self.ids = array("q")
        self.running: dict[int, int] = {}  # user_id -> running entry id
        self.next_entry_id = 1
        self.next_tag_id = 1
        self.version = 0  # bumped by every write; invalidates query caches
        self._report_cache: OrderedDict[tuple[int, ReportQuery], array] = OrderedDict()
        self._tracked_cache: tuple[int, dict[int, int]] | None = None

    # ----------------------------------------------------------------- clock
    def now(self) -> int:
        return int(self.clock())

    def now_us(self) -> int:
        return int(self.clock() * 1_000_000)

    # ----------------------------------------------------------------- index
    def load_sorted(self, entries: Iterable[Entry]) -> None:
        """Bulk load entries already sorted by (start, id)."""
        for e in entries:
            self.entries[e.id] = e
            if e.stop is None:
                self.running[e.user_id] = e.id
        self.starts = array("q", (e.start for e in self.entries.values()))
        self.ids = array("q", self.entries.keys())

    def _index_insert(self, e: Entry) -> None:
        pos = bisect_left(self.starts, e.start)
        n = len(self.starts)
        while pos < n and self.starts[pos] == e.start and self.ids[pos] < e.id:
            pos += 1
        self.starts.insert(pos, e.start)
        self.ids.insert(pos, e.id)

    def _index_remove(self, e: Entry) -> None:
        pos = bisect_left(self.starts, e.start)
        while self.ids[pos] != e.id:
            pos += 1
        del self.starts[pos]
        del self.ids[pos]

    def range_positions(self, lo: int, hi: int) -> tuple[int, int]:
        """Index positions of live entries with lo <= start < hi."""
        return bisect_left(self.starts, lo), bisect_left(self.starts, hi)

    def iter_range(self, lo: int | None = None, hi: int | None = None) -> Iterator[Entry]:
        i0 = 0 if lo is None else bisect_left(self.starts, lo)
        i1 = len(self.starts) if hi is None else bisect_left(self.starts, hi)
        entries = self.entries
        for k in range(i0, i1):
            yield entries[self.ids[k]]

    def _touch(self) -> None:
        self.version += 1
        self._report_cache.clear()

    # ----------------------------------------------------------------- lookups
    def user_by_token(self, token: str) -> User | None:
        for u in self.users.values():
            if u.token == token:
                return u
        return None

    def user_by_login(self, email: str, password: str) -> User | None:
        for u in self.users.values():
            if u.email.lower() == email.lower() and u.password == password:
                return u
        return None

    def tag_id_for_name(self, name: str, creator_id: int) -> int:
        """Tags are referenced by name on writes; unknown names auto-create a tag (as the real API does)."""
        for t in self.tags.values():
            if t.deleted_at is None and t.name == name:
                return t.id
        tag = Tag(self.next_tag_id, name, creator_id, self.now_us())
        self.next_tag_id += 1
        self.tags[tag.id] = tag
        return tag.id

    def rate_for(self, e: Entry) -> tuple[int | None, str]:
        """(hourly rate in cents, currency): project rate, else workspace-user rate, else the default."""
        p = self.projects.get(e.project_id) if e.project_id is not None else None
        if p is not None and p.rate is not None:
            return round(p.rate * 100), p.currency or self.default_currency
        u = self.users.get(e.user_id)
        if u is not None and u.rate is not None:
            return round(u.rate * 100), self.default_currency
        if self.default_hourly_rate is not None:
            return round(self.default_hourly_rate * 100), self.default_currency
        return None, self.default_currency

    # ----------------------------------------------------------------- v9 rendering
    def entry_v9(
        self,
        e: Entry,
        *,
        write_echo: bool = False,
        meta: bool = False,
        deleted_us: int | None = None,
        echo_duration: int | None = None,
    ) -> dict[str, Any]:
        fmt = zulu if write_echo else plus00
        # Observed: reads of a running entry carry -start_epoch.
        duration = -e.start if e.stop is None else e.stop - e.start
        if echo_duration is not None:
            duration = echo_duration  # POST echoes what was sent (e.g. -1)
        tags = self.tags
        d: dict[str, Any] = {
            "id": e.id,
            "workspace_id": self.workspace_id,
            "project_id": e.project_id,
            "task_id": e.task_id,
            "billable": e.billable,
            "start": fmt(e.start),
            "stop": None if e.stop is None else fmt(e.stop),
            "duration": duration,
            "description": e.description,
            "tags": [tags[t].name for t in e.tag_ids if t in tags],
            "tag_ids": list(e.tag_ids),
            "duronly": True,
            "at": micro_zulu(e.at_us),
            "server_deleted_at": None if deleted_us is None else plus00(deleted_us // 1_000_000),
            "user_id": e.user_id,
            "uid": e.user_id,
            "wid": self.workspace_id,
        }
        if e.project_id is not None:
            d["pid"] = e.project_id  # observed: only present when a project is set
        if e.task_id is not None:
            d["tid"] = e.task_id
        if meta:
            p = self.projects.get(e.project_id) if e.project_id is not None else None
            c = self.clients.get(p.client_id) if p is not None and p.client_id is not None else None
            t = self.tasks.get(e.task_id) if e.task_id is not None else None
            u = self.users.get(e.user_id)
            d.update(
                client_id=None if c is None else c.id,
                client_name=None if c is None else c.name,
                project_name=None if p is None else p.name,
                project_color=None if p is None else p.color,
                project_active=None if p is None else p.active,
                project_billable=None if p is None else p.billable,
                task_name=None if t is None else t.name,
                user_name=None if u is None else u.fullname,
                user_avatar_url="",
            )
        return d

    # ----------------------------------------------------------------- writes
    def create_entry(
        self,
        *,
        user_id: int,
        start: int,
        stop: int | None,
        description: str | None,
        project_id: int | None = None,
        task_id: int | None = None,
        tag_ids: Iterable[int] = (),
        billable: bool = False,
    ) -> Entry:
        """Create an entry; stop=None starts it running.

        Starting a running entry while the same user has one running stops the old one at the new start
        (at the old start if the new one begins earlier), as Toggl's own apps do (§8.11 unknown).
        """
        with self.lock:
            if user_id not in self.users:
                raise NotFound("user")
            now_us = self.now_us()
            if stop is None and user_id in self.running:
                old = self.entries[self.running[user_id]]
                self._replace(old, old._replace(stop=max(old.start, start), at_us=now_us))
            e = Entry(
                self.next_entry_id,
                user_id,
                start,
                stop,
                project_id,
                task_id,
                description,
                tuple(dict.fromkeys(tag_ids)),
                bool(billable),
                now_us,
            )
            self.next_entry_id += 1
            self.entries[e.id] = e
            self._index_insert(e)
            if stop is None:
                self.running[user_id] = e.id
            self._touch()
            return e

    def _replace(self, old: Entry, new: Entry) -> None:
        if old.start != new.start:
            self._index_remove(old)
            self.entries[new.id] = new
            self._index_insert(new)
        else:
            self.entries[new.id] = new
        if old.stop is None and self.running.get(old.user_id) == old.id:
            del self.running[old.user_id]
        if new.stop is None:
            self.running[new.user_id] = new.id
        self._touch()

    def update_entry(self, entry_id: int, **changes: Any) -> Entry:
        with self.lock:
            old = self.entries.get(entry_id)
            if old is None:
                raise NotFound("time entry")
            if "tag_ids" in changes:
                changes["tag_ids"] = tuple(dict.fromkeys(changes["tag_ids"]))
            new = old._replace(**changes, at_us=self.now_us())
            if new.stop is not None and new.stop < new.start:
                raise ValueError("stop must not be before start")
            self._replace(old, new)
            return new

    def stop_entry(self, entry_id: int) -> Entry:
        with self.lock:
            e = self.entries.get(entry_id)
            if e is None:
                raise NotFound("time entry")
            if e.stop is not None:
                raise Conflict("Time entry already stopped")
            return self.update_entry(entry_id, stop=max(e.start, self.now()))

    def delete_entry(self, entry_id: int) -> Entry:
        with self.lock:
            e = self.entries.pop(entry_id, None)
            if e is None:
                raise NotFound("time entry")
            self._index_remove(e)
            if self.running.get(e.user_id) == e.id:
                del self.running[e.user_id]
            now_us = self.now_us()
            self.deleted[e.id] = (e._replace(at_us=now_us), now_us)
            self._touch()
            return e

    # ----------------------------------------------------------------- derived
    def tracked_ms_by_task(self) -> dict[int, int]:
        """``tracked_seconds`` of tasks (documented as milliseconds); cached per data version."""
        with self.lock:
            if self._tracked_cache is not None and self._tracked_cache[0] == self.version:
                return self._tracked_cache[1]
            out: dict[int, int] = {}
            for e in self.entries.values():
                if e.task_id is not None and e.stop is not None:
                    out[e.task_id] = out.get(e.task_id, 0) + (e.stop - e.start) * 1000
            self._tracked_cache = (self.version, out)
            return out

    # ----------------------------------------------------------------- reports
    def report_ids(self, q: ReportQuery) -> array:
        """Ids of entries matching a detailed-report query, in report order; cached per (version, query)."""
        with self.lock:
            key = (self.version, q)
            cached = self._report_cache.get(key)
            if cached is not None:
                self._report_cache.move_to_end(key)
                return cached
            result = self._compute_report_ids(q)
            self._report_cache[key] = result
            while len(self._report_cache) > 8:
                self._report_cache.popitem(last=False)
            return result

    def _compute_report_ids(self, q: ReportQuery) -> array:
        entries = self.entries
        if q.per_user_bounds:
            lo = min(b[1] for b in q.per_user_bounds)
            hi = max(b[2] for b in q.per_user_bounds)
        else:
            lo, hi = q.lo, q.hi
        i0, i1 = self.range_positions(lo, hi)
        simple = (
            q.per_user_bounds is None
            and q.user_ids is None
            and q.project_ids is None
            and q.client_ids is None
            and q.tag_ids is None
            and q.task_ids is None
            and q.description is None
            and q.billable is None
        )
        if simple:
            # Fast path: the index slice is already the answer (minus running entries).
            out = self.ids[i0:i1]
            if not q.include_running:
                for rid in self.running.values():
                    e = entries[rid]
                    if lo <= e.start < hi:
                        out.remove(rid)
        else:
            bounds = {b[0]: (b[1], b[2]) for b in q.per_user_bounds} if q.per_user_bounds else None
            client_of = {p.id: p.client_id for p in self.projects.values()}
            desc = q.description.lower() if q.description is not None else None
            out = array("q")
            ids = self.ids
            for k in range(i0, i1):
                e = entries[ids[k]]
                if e.stop is None and not q.include_running:
                    continue
                if bounds is not None:
                    b = bounds.get(e.user_id)
                    if b is None or not b[0] <= e.start < b[1]:
                        continue
                if q.user_ids is not None and e.user_id not in q.user_ids:
                    continue
                if q.project_ids is not None and e.project_id not in q.project_ids:
                    continue
                if q.client_ids is not None:
                    cid = client_of.get(e.project_id) if e.project_id is not None else None
                    if cid not in q.client_ids:
                        continue
                if q.tag_ids is not None:
                    if e.tag_ids:
                        if q.tag_ids.isdisjoint(e.tag_ids):
                            continue
                    elif None not in q.tag_ids:
                        continue
                if q.task_ids is not None and e.task_id not in q.task_ids:
                    continue
                if desc is not None and desc not in (e.description or "").lower():
                    continue
                if q.billable is not None and e.billable != q.billable:
                    continue
                out.append(e.id)
        if q.order_by != "date":
            now = self.now()
            users = self.users

            def key(i: int) -> tuple[Any, ...]:
                e = entries[i]
                if q.order_by == "user":
                    u = users.get(e.user_id)
                    return ((u.fullname.lower() if u else ""), e.start, e.id)
                if q.order_by == "duration":
                    return ((e.stop if e.stop is not None else now) - e.start, e.start, e.id)
                if q.order_by == "description":
                    return ((e.description or "").lower(), e.start, e.id)
                return (e.at_us, e.id)  # last_update

            out = array("q", sorted(out, key=key))
        if q.descending:
            out.reverse()
        return out
