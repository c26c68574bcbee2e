"""Track v9 endpoints about the token's user: ``/me``, their workspaces and organizations, quota and own
time entries (across every workspace they can read)."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

from .config import SimulatorConfig
from .serialize import client_json, entry_v9, organization_json, project_json, tag_json, task_json, workspace_json
from .store import Entry, Store, User
from .timefmt import micro_zulu, parse_instant, zone
from .wire import ApiError, Ctx, Reply, Router, json_reply
from .world import World

RECENT_DAYS = 9  # no parameters: the latest entries (about 9 days, v8-era default)
ME_LIMIT = 1000


class MeApi:
    def __init__(self, world: World, config: SimulatorConfig, quota_info: Callable[[User], list[dict]]) -> None:
        self.world = world
        self.config = config
        self.quota_info = quota_info

    def register(self, r: Router) -> None:
        v9 = "/api/v9"
        r.add("GET", v9 + "/me", self.me, user_bucket=True)
        r.add("GET", v9 + "/me/workspaces", self.me_workspaces, user_bucket=True)
        r.add("GET", v9 + "/workspaces", self.me_workspaces, user_bucket=True)
        r.add("GET", v9 + "/me/organizations", self.me_organizations, user_bucket=True)
        r.add("GET", v9 + "/me/quota", self.me_quota, user_bucket=True)
        # /me/time_entries counts against the organization bucket (observed by a user, §4.2).
        r.add("GET", v9 + "/me/time_entries", self.me_time_entries)
        r.add("GET", v9 + "/me/time_entries/current", self.me_current)
        r.add("GET", v9 + "/me/time_entries/{id}", self.me_time_entry)

    # ------------------------------------------------------------------ the user
    def me(self, ctx: Ctx) -> Reply:
        u = ctx.user
        d: dict[str, Any] = {
            "id": u.id,
            "api_token": u.token,
            "email": u.email,
            "fullname": u.fullname,
            "timezone": u.timezone,
            "toggl_accounts_id": f"uWdx{u.id:08d}",
            "default_workspace_id": ctx.store.workspace_id,
            "beginning_of_week": u.beginning_of_week,
            "image_url": "https://assets.track.toggl.com/avatar.png",
            "created_at": micro_zulu(u.created_at * 1_000_000),
            "updated_at": micro_zulu(u.at_us),
            "at": micro_zulu(u.at_us),
            "openid_email": None,
            "openid_enabled": False,
            "country_id": None,
            "has_password": True,
            "intercom_hash": f"{u.id:064x}",
            "oauth_providers": [],
            "authorization_updated_at": micro_zulu(u.at_us),
            "2fa_enabled": False,
        }
        d.update(dict.fromkeys(("clients", "projects", "tags", "tasks", "time_entries", "workspaces")))
        if ctx.flag("with_related_data", False):
            with self.world.lock:
                d.update(self._related(u))
        return json_reply(d)

    def _related(self, u: User) -> dict[str, Any]:
        """``with_related_data``: the objects of every workspace the user can read (null when empty)."""
        stores = self.world.readable(u.id)
        out: dict[str, list[Any]] = {k: [] for k in ("clients", "projects", "tags", "tasks", "workspaces")}
        for s in stores:
            out["clients"] += [client_json(s, c) for c in s.clients.values()]
            out["projects"] += [project_json(s, p) for p in s.projects.values() if p.deleted_at is None]
            out["tags"] += [tag_json(s, t) for t in s.tags.values() if t.deleted_at is None]
            if s.plan != "free":
                tracked = s.tracked_ms_by_task()
                out["tasks"] += [task_json(s, t, tracked) for t in s.tasks.values()]
            out["workspaces"].append(workspace_json(s, s.users[u.id]))
        now = self.world.now()
        out["time_entries"] = [entry_v9(s, e) for s, e in self._mine(u.id, now - RECENT_DAYS * 86400, now + 86400)]
        return {k: v or None for k, v in out.items()}

    def me_workspaces(self, ctx: Ctx) -> Reply:
        with self.world.lock:
            return json_reply([workspace_json(s, s.users[ctx.user.id]) for s in self.world.readable(ctx.user.id)])

    def me_organizations(self, ctx: Ctx) -> Reply:
        w, uid = self.world, ctx.user.id
        out = []
        with w.lock:
            for org in w.organizations_of(uid):
                stores = [s for s in w.readable(uid) if s.organization_id == org.id]
                members = {m for s in w.stores.values() if s.organization_id == org.id for m in s.users}
                out.append(organization_json(org, len(members), stores[0].users[uid], stores[0].owner_id))
        return json_reply(out)

    def me_quota(self, ctx: Ctx) -> Reply:
        return json_reply(self.quota_info(ctx.user))

    # ------------------------------------------------------------------ own time entries
    def _mine(self, user_id: int, lo: int | None, hi: int | None) -> list[tuple[Store, Entry]]:
        """The user's live entries with lo <= start < hi in readable workspaces, newest first, capped."""
        streams = [_newest_first(s, user_id, lo, hi) for s in self.world.readable(user_id)]
        merged = heapq.merge(*streams, key=lambda se: (se[1].start, se[1].id), reverse=True)
        return [se for _, se in zip(range(ME_LIMIT), merged, strict=False)]

    def me_time_entries(self, ctx: Ctx) -> Reply:
        q = ctx.query
        meta = bool(ctx.flag("meta", False))
        if q.get("since") is not None and q.get("before") is not None:
            raise ApiError(400, "'since' and 'before' can not be present simultaneously")
        with self.world.lock:
            if q.get("since") is not None:
                rows = self._modified_since(ctx.user.id, q["since"])
                return json_reply([entry_v9(s, e, meta=meta, deleted_us=d) for s, e, d in rows])
            lo, hi = self._window(ctx)
            return json_reply([entry_v9(s, e, meta=meta) for s, e in self._mine(ctx.user.id, lo, hi)])

    def _oldest(self) -> int:
        return self.world.now() - self.config.me_time_entries_max_age_days * 86400

    def _modified_since(self, user_id: int, since: str) -> list[tuple[Store, Entry, int | None]]:
        """Live and deleted entries whose ``at`` is at or after ``since`` (unix seconds), newest first."""
        try:
            since_us = int(since) * 1_000_000
        except ValueError:
            raise ApiError(400, "Invalid since value") from None
        if since_us < self._oldest() * 1_000_000:
            raise ApiError(400, "Since cannot be older than 3 months")
        rows: list[tuple[Store, Entry, int | None]] = []
        for s in self.world.readable(user_id):
            rows += [(s, e, None) for e in s.entries.values() if e.user_id == user_id and e.at_us >= since_us]
            rows += [(s, e, d) for e, d in s.deleted.values() if e.user_id == user_id and e.at_us >= since_us]
        rows.sort(key=lambda r: (r[1].start, r[1].id), reverse=True)
        return rows[:ME_LIMIT]

    def _window(self, ctx: Ctx) -> tuple[int | None, int | None]:
        """[lo, hi) of starts from start_date/end_date, before, or the recent default."""
        q = ctx.query
        tz = ctx.user.tz if self.config.bare_date_tz == "user" else zone(self.config.bare_date_tz)
        start_date, end_date = q.get("start_date"), q.get("end_date")
        if start_date is None and end_date is None:
            if q.get("before") is None:
                return self.world.now() - RECENT_DAYS * 86400, None
            try:
                return None, parse_instant(q["before"], tz)[0]
            except ValueError:
                raise ApiError(400, "Invalid before value") from None
        if start_date is None or end_date is None:
            raise ApiError(400, "start_date and end_date must be used together")
        try:
            lo, _ = parse_instant(start_date, tz)
            hi, _ = parse_instant(end_date, tz)  # a bare date means 00:00, so the end day is excluded
        except ValueError:
            raise ApiError(400, "Invalid start_date or end_date") from None
        oldest = self._oldest()
        if lo < oldest:
            raise ApiError(
                400, f"Start and end dates must not be earlier than {date.fromtimestamp(oldest).isoformat()}"
            )
        if hi < lo:
            raise ApiError(400, "end_date must not be earlier than start_date")
        return lo, hi

    def me_current(self, ctx: Ctx) -> Reply:
        with self.world.lock:
            found = self.world.running(ctx.user.id)
            return json_reply(None if found is None else entry_v9(*found))

    def me_time_entry(self, ctx: Ctx) -> Reply:
        eid = ctx.entry_id()
        with self.world.lock:
            s = self.world.store_of_entry(eid)
            e = None if s is None else s.entries[eid]
            if s is None or e is None or e.user_id != ctx.user.id:
                raise ApiError(404, "Resource can not be found")
            return json_reply(entry_v9(s, e, meta=bool(ctx.flag("meta", False))))


def _newest_first(s: Store, user_id: int, lo: int | None, hi: int | None) -> Iterator[tuple[Store, Entry]]:
    i0 = 0 if lo is None else s.range_positions(lo, lo)[0]
    i1 = len(s.ids) if hi is None else s.range_positions(hi, hi)[0]
    ids, entries = s.ids, s.entries
    for k in range(i1 - 1, i0 - 1, -1):
        e = entries[ids[k]]
        if e.user_id == user_id:
            yield s, e
