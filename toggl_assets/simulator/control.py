"""What tests and benchmarks do to the simulated world besides calling the API: late edits, membership
changes, ground-truth summaries, and the ``/_simulator/...`` control endpoints that expose them over HTTP.
"""

from __future__ import annotations

import json
import random
from bisect import bisect_left
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from .serialize import entry_v9
from .store import Store
from .timefmt import UTC, day_start
from .wire import Reply, error_reply, json_reply
from .world import World

if TYPE_CHECKING:
    from .server import App


def apply_daily_edits(
    world: World, day: date, edits: int, deletions: int, additions: int, seed: int = 0, workspace_id: int | None = None
) -> dict[str, Any]:
    """Late edits to one UTC day of one workspace (default: the first): edit, delete and add entries
    (``at`` = now), like people fixing their timesheets."""
    s = world.store(workspace_id)
    rng = random.Random(seed)
    with s.lock:
        pool = [e.id for e in s.iter_range(day_start(day), day_start(day + timedelta(days=1))) if e.stop is not None]
        rng.shuffle(pool)
        to_delete = pool[:deletions]
        edited = pool[deletions : deletions + edits]
        projects = [p.id for p in s.projects.values() if p.deleted_at is None and p.active]
        tags = [t.id for t in s.tags.values() if t.deleted_at is None]
        for i, eid in enumerate(edited):
            s.update_entry(eid, **_edit(s, eid, i % 4, rng, projects, tags))
        for eid in to_delete:
            s.delete_entry(eid)
        users = [u.id for u in s.users.values() if u.active]
        added = [_late_addition(s, day, rng, projects, users) for _ in range(additions)]
        return {"day": day.isoformat(), "edited": edited, "deleted": to_delete, "added": added}


def _edit(s: Store, eid: int, kind: int, rng: random.Random, projects: list[int], tags: list[int]) -> dict[str, Any]:
    """One of four kinds of edit, in turn: description, stop, project, tags and billable."""
    e = s.entries[eid]
    if kind == 0:
        return {"description": f"{e.description or ''} (edited)".strip()}
    if kind == 1:
        return {"stop": (e.stop or e.start) + rng.randrange(60, 1800)}
    if kind == 2 and projects:
        return {"project_id": rng.choice(projects), "task_id": None}
    return {"tag_ids": tuple(rng.sample(tags, min(len(tags), 2))), "billable": not e.billable}


def _late_addition(s: Store, day: date, rng: random.Random, projects: list[int], users: list[int]) -> int:
    start = day_start(day) + rng.randrange(6 * 3600, 20 * 3600)
    pid = rng.choice(projects) if projects and rng.random() < 0.9 else None
    stop = start + rng.randrange(300, 7200)
    e = s.create_entry(
        user_id=rng.choice(users),
        start=start,
        stop=stop,
        description=f"Late addition {rng.randrange(10_000)}",
        project_id=pid,
        tag_ids=(),
        billable=pid is not None and rng.random() < 0.7,
    )
    return e.id


def _entries_by_day(stores: list[Store]) -> dict[str, int]:
    """Live entries per UTC start day, days without entries omitted."""
    by_day: dict[str, int] = {}
    for s in stores:
        if not len(s.starts):
            continue
        d = datetime.fromtimestamp(s.starts[0], UTC).date()
        last = datetime.fromtimestamp(s.starts[-1], UTC).date()
        while d <= last:
            n = bisect_left(s.starts, day_start(d + timedelta(days=1))) - bisect_left(s.starts, day_start(d))
            if n:
                by_day[d.isoformat()] = by_day.get(d.isoformat(), 0) + n
            d += timedelta(days=1)
    return dict(sorted(by_day.items()))


def _counts(stores: list[Store]) -> dict[str, Any]:
    return {
        "users": len({u for s in stores for u in s.users}),
        "clients": sum(len(s.clients) for s in stores),
        "projects": sum(1 for s in stores for p in s.projects.values() if p.deleted_at is None),
        "tags": sum(1 for s in stores for t in s.tags.values() if t.deleted_at is None),
        "tasks": sum(len(s.tasks) for s in stores),
        "entries": sum(len(s.entries) for s in stores),
        "deleted_entries": sum(len(s.deleted) for s in stores),
        "running_entry_ids": sorted(r for s in stores for r in s.running.values()),
        "version": sum(s.version for s in stores),
        "entries_by_day": _entries_by_day(stores),
    }


def summary(world: World, workspace_id: int | None = None) -> dict[str, Any]:
    """Counts of one workspace, or (None) of all of them, with the default workspace's identity first;
    ``workspaces`` lists each workspace's own summary."""
    with world.lock:
        stores = world.selected(workspace_id)
        head = stores[0]
        out = {
            "workspace_id": head.workspace_id,
            "organization_id": head.organization_id,
            "plan": head.plan,
            **_counts(stores),
        }
        out["workspaces"] = [
            {"workspace_id": s.workspace_id, "organization_id": s.organization_id, "plan": s.plan, **_counts([s])}
            for s in stores
        ]
        return out


def entries_between(world: World, d0: date, d1: date, workspace_id: int | None = None) -> list[dict[str, Any]]:
    """Live entries (v9 read shape) with start on UTC days d0..d1 inclusive, in (start, id) order."""
    with world.lock:
        lo, hi = day_start(d0), day_start(d1 + timedelta(days=1))
        stores = {s.workspace_id: s for s in world.selected(workspace_id)}
        owner = {e.id: s for s in stores.values() for e in s.iter_range(lo, hi)}
        return [entry_v9(owner[e.id], e) for e in world.iter_entries(workspace_id, lo, hi)]


def _optional_int(value: Any) -> int | None:
    return None if value in (None, "") else int(value)


class Control:
    """``/_simulator/...``: never faulted, never authenticated, never counted."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.routes: dict[tuple[str, str], Callable[[dict[str, Any], dict[str, str]], Any]] = {
            ("GET", "/_simulator/stats"): lambda d, q: app.stats(),
            ("POST", "/_simulator/reset_stats"): self._reset_stats,
            ("POST", "/_simulator/faults"): self._faults,
            ("POST", "/_simulator/quota"): self._quota,
            ("POST", "/_simulator/daily_edits"): self._daily_edits,
            ("POST", "/_simulator/membership"): self._membership,
            ("GET", "/_simulator/truth/summary"): lambda d, q: summary(app.world, _optional_int(q.get("workspace_id"))),
            ("GET", "/_simulator/truth/entries"): self._entries,
        }

    def handle(self, method: str, path: str, query: str, body: bytes) -> Reply:
        try:
            data = json.loads(body) if body.strip() else {}
        except ValueError:
            return error_reply(400, "invalid JSON")
        handler = self.routes.get((method, path))
        if handler is None:
            return error_reply(404, "unknown simulator control endpoint")
        q = {k: v[-1] for k, v in parse_qs(query).items()}
        try:
            return json_reply(handler(data, q))
        except (KeyError, ValueError, TypeError) as exc:
            return error_reply(400, f"bad control request: {exc}")

    def _reset_stats(self, data: dict[str, Any], q: dict[str, str]) -> Any:
        self.app.reset_stats()
        return self.app.stats()

    def _faults(self, data: dict[str, Any], q: dict[str, str]) -> Any:
        faults = self.app.faults
        faults.set(float(data.get("rate", 0.0)), data.get("kinds"), int(data.get("seed", 0)))
        return {"rate": faults.rate, "kinds": list(faults.kinds)}

    def _quota(self, data: dict[str, Any], q: dict[str, str]) -> Any:
        self.app.set_quota(data.get("plan"), data.get("window_seconds"))
        return {"plan": self.app.quota.plan, "window_seconds": self.app.quota.window}

    def _daily_edits(self, data: dict[str, Any], q: dict[str, str]) -> Any:
        counts = (int(data.get(k, 0)) for k in ("edits", "deletions", "additions", "seed"))
        wid = _optional_int(data.get("workspace_id"))
        return apply_daily_edits(self.app.world, date.fromisoformat(data["day"]), *counts, workspace_id=wid)

    def _membership(self, data: dict[str, Any], q: dict[str, str]) -> Any:
        """{"workspace_id": W, "member": false[, "user_id": U]}: remove (or give back) a user's access."""
        world = self.app.world
        user_id = _optional_int(data.get("user_id")) or world.owner_id
        world.set_membership(int(data["workspace_id"]), user_id, bool(data.get("member", False)))
        return {"workspace_id": int(data["workspace_id"]), "user_id": user_id, "member": bool(data.get("member"))}

    def _entries(self, data: dict[str, Any], q: dict[str, str]) -> Any:
        d0, d1 = date.fromisoformat(q["start"]), date.fromisoformat(q["end"])
        return entries_between(self.app.world, d0, d1, _optional_int(q.get("workspace_id")))
