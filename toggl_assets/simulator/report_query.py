"""Which entries a Reports v3 search matches, in report order: a normalized query and its evaluation.

The detailed search and the totals share this, so both always agree on what a filter selects.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .store import Entry, Store

Predicate = Callable[[Entry], bool]


@dataclass(frozen=True)
class ReportQuery:
    """A normalized Reports v3 query (the cache key of the matching-id list)."""

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
    order_by: str = "date"
    descending: bool = False

    @property
    def window(self) -> tuple[int, int]:
        """The widest [lo, hi) of entry starts the query can match."""
        if self.per_user_bounds:
            return min(b[1] for b in self.per_user_bounds), max(b[2] for b in self.per_user_bounds)
        return self.lo, self.hi


def report_ids(store: Store, q: ReportQuery) -> array:
    """Ids of entries matching ``q``, in report order; cached per (data version, query)."""
    with store.lock:
        key = (store.version, q)
        cached = store.report_cache.get(key)
        if cached is not None:
            store.report_cache.move_to_end(key)
            return cached
        result = _sorted(store, q, _matching(store, q))
        store.report_cache[key] = result
        while len(store.report_cache) > 8:
            store.report_cache.popitem(last=False)
        return result


def _matching(store: Store, q: ReportQuery) -> array:
    lo, hi = q.window
    i0, i1 = store.range_positions(lo, hi)
    tests = _predicates(store, q)
    if not tests:
        # Fast path: the index slice is already the answer, minus running entries unless they are wanted.
        out = store.ids[i0:i1]
        if not q.include_running:
            for rid in store.running.values():
                if lo <= store.entries[rid].start < hi:
                    out.remove(rid)
        return out
    if not q.include_running:
        tests.insert(0, lambda e: e.stop is not None)
    entries, ids = store.entries, store.ids
    out = array("q")
    for k in range(i0, i1):
        e = entries[ids[k]]
        if all(test(e) for test in tests):
            out.append(e.id)
    return out


def _predicates(store: Store, q: ReportQuery) -> list[Predicate]:
    """One test per active filter (an empty list = every entry of the window matches); running entries
    are the caller's business."""
    tests: list[Predicate] = []
    if q.per_user_bounds:
        bounds = {b[0]: (b[1], b[2]) for b in q.per_user_bounds}
        tests.append(lambda e: e.user_id in bounds and bounds[e.user_id][0] <= e.start < bounds[e.user_id][1])
    if q.user_ids is not None:
        tests.append(lambda e: e.user_id in q.user_ids)  # type: ignore[operator]
    if q.project_ids is not None:
        tests.append(lambda e: e.project_id in q.project_ids)  # type: ignore[operator]
    if q.client_ids is not None:
        client_of = {p.id: p.client_id for p in store.projects.values()}
        tests.append(lambda e: client_of.get(e.project_id) in q.client_ids)  # type: ignore[arg-type,operator]
    if q.tag_ids is not None:
        tests.append(lambda e: _tags_match(e, q.tag_ids))  # type: ignore[arg-type]
    if q.task_ids is not None:
        tests.append(lambda e: e.task_id in q.task_ids)  # type: ignore[operator]
    if q.description is not None:
        needle = q.description.lower()
        tests.append(lambda e: needle in (e.description or "").lower())
    if q.billable is not None:
        tests.append(lambda e: e.billable == q.billable)
    return tests


def _tags_match(e: Entry, wanted: frozenset[int | None]) -> bool:
    """Any of the wanted tags; ``None`` in the filter selects entries without tags."""
    if e.tag_ids:
        return not wanted.isdisjoint(e.tag_ids)
    return None in wanted


def _sorted(store: Store, q: ReportQuery, ids: array) -> array:
    if q.order_by != "date":
        ids = array("q", sorted(ids, key=_sort_key(store, q.order_by)))
    if q.descending:
        ids = array("q", reversed(ids))
    return ids


def _sort_key(store: Store, order_by: str) -> Callable[[int], tuple[Any, ...]]:
    entries, users, now = store.entries, store.users, store.now()

    def by_user(i: int) -> tuple[Any, ...]:
        e = entries[i]
        u = users.get(e.user_id)
        return ((u.fullname.lower() if u else ""), e.start, e.id)

    def by_duration(i: int) -> tuple[Any, ...]:
        e = entries[i]
        return ((e.stop if e.stop is not None else now) - e.start, e.start, e.id)

    def by_description(i: int) -> tuple[Any, ...]:
        e = entries[i]
        return ((e.description or "").lower(), e.start, e.id)

    def by_last_update(i: int) -> tuple[Any, ...]:
        e = entries[i]
        return (e.at_us, e.id)

    keys = {"user": by_user, "duration": by_duration, "description": by_description, "last_update": by_last_update}
    return keys[order_by]
