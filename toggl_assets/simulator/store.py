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
class Named:
    """What every workspace object has (entries aside)."""

    id: int
    name: str


@dataclass(slots=True)
class Client(Named):
    archived: bool
    creator_id: int
    at: int


@dataclass(slots=True)
class Project(Named):
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
class Tag(Named):
    creator_id: int
    at_us: int
    deleted_at: int | None = None


@dataclass(slots=True)
class Task(Named):
    project_id: int
    user_id: int | None
    active: bool
    estimated_seconds: int | None
    at: int


class NotFound(LookupError):
    pass


class Conflict(RuntimeError):
    pass


class IdSource:
    """Hands out fresh ids; shared by every workspace so ids created at run time stay globally unique."""

    def __init__(self, start: int = 1) -> None:
        self.next = start

    def take(self) -> int:
        value = self.next
        self.next += 1
        return value

    def reserve_below(self, bound: int) -> None:
        """Never hand out an id below ``bound`` (ids up to it are taken by generated data)."""
        self.next = max(self.next, bound)


class Store:
    """One workspace. Several stores may share one lock, clock and id sources (see ``world.World``)."""

    def __init__(
        self,
        clock: Callable[[], float],
        lock: threading.RLock | None = None,
        entry_ids: IdSource | None = None,
        tag_ids: IdSource | None = None,
    ) -> None:
        self.lock = lock or threading.RLock()
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
        self.revoked: set[int] = set()  # members whose access was removed at run time (entries stay)
        self.clients: dict[int, Client] = {}
        self.projects: dict[int, Project] = {}
        self.tags: dict[int, Tag] = {}
        self.tasks: dict[int, Task] = {}
        self.entries: dict[int, Entry] = {}
        self.deleted: dict[int, tuple[Entry, int]] = {}  # id -> (entry as deleted, deleted_at unix us)
        self.starts = array("q")
        self.ids = array("q")
        self.running: dict[int, int] = {}  # user_id -> running entry id
        self.entry_ids = entry_ids or IdSource()
        self.tag_ids = tag_ids or IdSource()
        self.version = 0  # bumped by every write; invalidates query caches
        self.report_cache: OrderedDict[tuple[int, Any], array] = OrderedDict()
        self._sums: dict[str, tuple[int, dict[int, int]]] = {}

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
        self.report_cache.clear()

    # ----------------------------------------------------------------- lookups
    def can_read(self, user_id: int) -> bool:
        """Whether this user may read the workspace (a member whose access was not removed)."""
        return user_id in self.users and user_id not in self.revoked

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
        tag = Tag(self.tag_ids.take(), name, creator_id, self.now_us())
        self.tags[tag.id] = tag
        return tag.id

    def rate_for(self, e: Entry) -> tuple[int | None, str]:
        """(hourly rate in cents, currency) of an entry: see :meth:`rate_of`."""
        return self.rate_of(e.project_id, e.user_id)

    def rate_of(self, project_id: int | None, user_id: int) -> tuple[int | None, str]:
        """(hourly rate in cents, currency): project rate, else workspace-user rate, else the default."""
        p = self.projects.get(project_id) if project_id is not None else None
        if p is not None and p.rate is not None:
            return round(p.rate * 100), p.currency or self.default_currency
        u = self.users.get(user_id)
        if u is not None and u.rate is not None:
            return round(u.rate * 100), self.default_currency
        if self.default_hourly_rate is not None:
            return round(self.default_hourly_rate * 100), self.default_currency
        return None, self.default_currency

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
                self.entry_ids.take(),
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
    def seconds_by(self, attr: str) -> dict[int, int]:
        """Seconds of stopped entries summed per ``project_id`` or ``task_id``; cached per data version."""
        with self.lock:
            cached = self._sums.get(attr)
            if cached is not None and cached[0] == self.version:
                return cached[1]
            out: dict[int, int] = {}
            for e in self.entries.values():
                key = getattr(e, attr)
                if key is not None and e.stop is not None:
                    out[key] = out.get(key, 0) + e.stop - e.start
            self._sums[attr] = (self.version, out)
            return out

    def tracked_ms_by_task(self) -> dict[int, int]:
        """``tracked_seconds`` of tasks (documented as milliseconds)."""
        return {k: v * 1000 for k, v in self.seconds_by("task_id").items()}
