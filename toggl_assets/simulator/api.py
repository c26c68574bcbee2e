"""The Track v9 and Reports v3 endpoints: pure functions from a request context to a ``Reply``.

Nothing here touches sockets; ``server.py`` does transport, auth, quotas and fault injection.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from .config import SimulatorConfig
from .store import Conflict, Entry, NotFound, Project, ReportQuery, Store, Task, User
from .timefmt import UTC, day_start, in_zone, micro_zulu, parse_instant, plus00, zulu

JSON_TYPE = "application/json; charset=utf-8"


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class ApiError(Exception):
    """An error answered as a JSON string body (the v9/v3 convention, toggl-api.md §2.1)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def json_reply(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    return Reply(status, body, {"Content-Type": JSON_TYPE, **(headers or {})})


def error_reply(status: int, message: str) -> Reply:
    return json_reply(message, status)


@dataclass
class Ctx:
    user: User
    params: dict[str, str]
    query: dict[str, str]
    body: bytes

    def json(self) -> Any:
        if not self.body.strip():
            return {}
        try:
            return json.loads(self.body)
        except ValueError:
            raise ApiError(400, "Invalid JSON input") from None

    def flag(self, name: str, default: bool | None = None) -> bool | None:
        v = self.query.get(name)
        if v is None or v == "":
            return default
        if v.lower() in ("true", "1"):
            return True
        if v.lower() in ("false", "0"):
            return False
        raise ApiError(400, f"Invalid value for '{name}'")

    def int_param(self, name: str, default: int) -> int:
        v = self.query.get(name)
        if v is None or v == "":
            return default
        try:
            return int(v)
        except ValueError:
            raise ApiError(400, f"Invalid value for '{name}'") from None


Handler = Callable[[Ctx], Reply]


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    template: str
    handler: Handler
    user_bucket: bool = False  # counts against the per-user (/me) quota instead of the organization's
    paid_feature: bool = False  # 402 without quota headers on free workspaces
    read_only: bool = True


class Api:
    def __init__(self, store: Store, config: SimulatorConfig) -> None:
        self.s = store
        self.config = config
        self.routes: list[Route] = []
        v9 = "/api/v9"
        r = self._add
        r("GET", v9 + "/me", self.me, user_bucket=True)
        r("GET", v9 + "/me/workspaces", self.me_workspaces, user_bucket=True)
        r("GET", v9 + "/workspaces", self.me_workspaces, user_bucket=True)
        r("GET", v9 + "/me/organizations", self.me_organizations, user_bucket=True)
        r("GET", v9 + "/me/quota", self.me_quota_placeholder, user_bucket=True)
        # /me/time_entries counts against the organization bucket (observed by a user, §4.2).
        r("GET", v9 + "/me/time_entries", self.me_time_entries)
        r("GET", v9 + "/me/time_entries/current", self.me_current)
        r("GET", v9 + "/me/time_entries/{id}", self.me_time_entry)
        r("GET", v9 + "/workspaces/{wid}", self.workspace)
        r("GET", v9 + "/workspaces/{wid}/clients", self.clients)
        r("GET", v9 + "/workspaces/{wid}/projects", self.projects)
        r("GET", v9 + "/workspaces/{wid}/tags", self.tags)
        r("GET", v9 + "/workspaces/{wid}/tasks", self.tasks, paid_feature=True)
        r("GET", v9 + "/workspaces/{wid}/users", self.users)
        r("GET", v9 + "/workspaces/{wid}/workspace_users", self.workspace_users)
        r("POST", v9 + "/workspaces/{wid}/time_entries", self.create_entry, read_only=False)
        r("PUT", v9 + "/workspaces/{wid}/time_entries/{id}", self.update_entry, read_only=False)
        r("DELETE", v9 + "/workspaces/{wid}/time_entries/{id}", self.delete_entry, read_only=False)
        r("PATCH", v9 + "/workspaces/{wid}/time_entries/{id}/stop", self.stop_entry, read_only=False)
        r("POST", "/reports/api/v3/workspace/{wid}/search/time_entries", self.report_detailed)
        # Filled in by the server: it owns the quota state.
        self.quota_info: Callable[[User], list[dict[str, Any]]] = lambda user: []

    def _add(self, method: str, template: str, handler: Handler, **kw: Any) -> None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
        self.routes.append(Route(method, re.compile(f"^{regex}/?$"), template, handler, **kw))

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        """(route, path params, path_exists_with_other_method)."""
        other = False
        for route in self.routes:
            m = route.pattern.match(path)
            if m:
                if route.method == method:
                    return route, m.groupdict(), True
                other = True
        return None, {}, other

    # ------------------------------------------------------------------ helpers
    def _wid(self, ctx: Ctx) -> None:
        try:
            wid = int(ctx.params["wid"])
        except ValueError:
            raise ApiError(400, "Invalid workspace id") from None
        if wid != self.s.workspace_id:
            raise ApiError(403, "Incorrect workspace ID or you are not a member of it")

    def _id(self, ctx: Ctx) -> int:
        try:
            return int(ctx.params["id"])
        except ValueError:
            raise ApiError(400, "Invalid time entry ID") from None

    def workspace_json(self, user: User) -> dict[str, Any]:
        s = self.s
        rate = s.default_hourly_rate
        created = plus00(s.created_at)
        return {
            "id": s.workspace_id,
            "organization_id": s.organization_id,
            "name": s.workspace_name,
            "premium": s.plan != "free",
            "business_ws": s.plan in ("premium", "enterprise"),
            "admin": user.admin,
            "role": "admin" if user.admin else "user",
            "suspended_at": None,
            "server_deleted_at": None,
            "default_hourly_rate": rate,
            "rate_last_updated": created if rate is not None else None,
            "default_currency": s.default_currency,
            "only_admins_may_create_projects": False,
            "only_admins_may_create_tags": False,
            "only_admins_see_billable_rates": False,
            "only_admins_see_team_dashboard": False,
            "projects_billable_by_default": True,
            "projects_private_by_default": False,
            "projects_enforce_billable": False,
            "limit_public_project_data": False,
            "last_modified": created,
            "reports_collapse": True,
            "rounding": 1,
            "rounding_minutes": 0,
            "at": created,
            "logo_url": "https://assets.track.toggl.com/images/workspace.jpg",
            "ical_url": "",
            "ical_enabled": False,
            "csv_upload": None,
            "subscription": None,
            "hide_start_end_times": False,
            "working_hours_in_minutes": None,
            "te_constraints": None,
            "max_data_retention_days": None,
            "permissions": None,
            "disable_approvals": False,
            "disable_expenses": False,
            "disable_timesheet_view": False,
            "active_project_count": sum(1 for p in s.projects.values() if p.active and p.deleted_at is None),
        }

    def client_json(self, c: Any) -> dict[str, Any]:
        return {
            "id": c.id,
            "wid": self.s.workspace_id,
            "archived": c.archived,
            "name": c.name,
            "at": plus00(c.at),
            "creator_id": c.creator_id,
        }

    def project_json(self, p: Project, actual: dict[int, int]) -> dict[str, Any]:
        s = self.s
        secs = actual.get(p.id, 0)
        status = "deleted" if p.deleted_at is not None else ("active" if p.active else "archived")
        c = s.clients.get(p.client_id) if p.client_id is not None else None
        return {
            "id": p.id,
            "workspace_id": s.workspace_id,
            "client_id": p.client_id,
            "name": p.name,
            "is_private": p.is_private,
            "active": p.active,
            "at": plus00(p.at),
            "created_at": plus00(p.created_at),
            "server_deleted_at": None if p.deleted_at is None else plus00(p.deleted_at),
            "color": p.color,
            "billable": p.billable,
            "template": None,
            "auto_estimates": None,
            "estimated_hours": None,
            "estimated_seconds": None,
            "rate": p.rate,
            "rate_last_updated": plus00(p.created_at) if p.rate is not None else None,
            "currency": p.currency,
            "recurring": False,
            "template_id": None,
            "recurring_parameters": None,
            "fixed_fee": None,
            "actual_hours": secs // 3600,
            "actual_seconds": secs,
            "tasks_count": None,
            "can_track_time": True,
            "start_date": p.start_date,
            "status": status,
            "wid": s.workspace_id,
            "cid": p.client_id,
            "is_shared": False,
            "pinned": False,
            "client_name": None if c is None else c.name,
        }

    def tag_json(self, t: Any) -> dict[str, Any]:
        return {
            "id": t.id,
            "workspace_id": self.s.workspace_id,
            "name": t.name,
            "at": micro_zulu(t.at_us),
            "creator_id": t.creator_id,
        }

    def task_json(self, t: Task, tracked: dict[int, int]) -> dict[str, Any]:
        s = self.s
        p = s.projects.get(t.project_id)
        c = s.clients.get(p.client_id) if p is not None and p.client_id is not None else None
        u = s.users.get(t.user_id) if t.user_id is not None else None
        return {
            "id": t.id,
            "name": t.name,
            "workspace_id": s.workspace_id,
            "project_id": t.project_id,
            "user_id": t.user_id,
            "active": t.active,
            "at": plus00(t.at),
            "estimated_seconds": t.estimated_seconds,
            "tracked_seconds": tracked.get(t.id, 0),  # documented as milliseconds despite the name
            "recurring": False,
            "rate": None,
            "rate_last_updated": None,
            "toggl_accounts_id": None,
            "project_name": p.name if p else None,
            "project_color": p.color if p else None,
            "project_billable": p.billable if p else None,
            "project_is_private": p.is_private if p else None,
            "client_id": c.id if c else None,
            "client_name": c.name if c else None,
            "user_name": u.fullname if u else None,
            "avatar_url": "",
            "external_reference": None,
            "permissions": None,
        }

    def workspace_user_json(self, u: User) -> dict[str, Any]:
        wid = self.s.workspace_id
        return {
            "id": u.wu_id,
            "uid": u.id,
            "user_id": u.id,
            "wid": wid,
            "workspace_id": wid,
            "name": u.fullname,
            "email": u.email,
            "active": u.active,
            "inactive": not u.active,
            "admin": u.admin,
            "workspace_admin": u.admin,
            "organization_admin": u.id == self.s.owner_id,
            "role": "admin" if u.admin else "user",
            "role_id": 2 if u.admin else 3,
            "rate": u.rate,
            "rate_last_updated": plus00(u.created_at) if u.rate is not None else None,
            "labor_cost": None,
            "labor_cost_last_updated": None,
            "group_ids": [],
            "is_direct": True,
            "timezone": u.timezone,
            "working_hours_in_minutes": None,
            "at": plus00(u.at_us // 1_000_000),
            "avatar_file_name": None,
            "invitation_code": None,
            "invite_url": None,
            "2fa_enabled": False,
            "view_edit_billable_rates": u.admin,
            "view_edit_labor_costs": u.admin,
        }

    def _actual_seconds_by_project(self) -> dict[int, int]:
        s = self.s
        with s.lock:
            cache = getattr(self, "_actual_cache", None)
            if cache is not None and cache[0] == s.version:
                return cache[1]
            out: dict[int, int] = {}
            for e in s.entries.values():
                if e.project_id is not None and e.stop is not None:
                    out[e.project_id] = out.get(e.project_id, 0) + e.stop - e.start
            self._actual_cache = (s.version, out)
            return out

    # ------------------------------------------------------------------ /me
    def me(self, ctx: Ctx) -> Reply:
        s, u = self.s, ctx.user
        d: dict[str, Any] = {
            "id": u.id,
            "api_token": u.token,
            "email": u.email,
            "fullname": u.fullname,
            "timezone": u.timezone,
            "toggl_accounts_id": f"uWdx{u.id:08d}",
            "default_workspace_id": s.workspace_id,
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
        for k in ("clients", "projects", "tags", "tasks", "time_entries", "workspaces"):
            d[k] = None
        if ctx.flag("with_related_data", False):
            with s.lock:
                actual = self._actual_seconds_by_project()
                d["clients"] = [self.client_json(c) for c in s.clients.values()] or None
                d["projects"] = [
                    self.project_json(p, actual) for p in s.projects.values() if p.deleted_at is None
                ] or None
                d["tags"] = [self.tag_json(t) for t in s.tags.values() if t.deleted_at is None] or None
                if s.plan != "free":
                    tracked = s.tracked_ms_by_task()
                    d["tasks"] = [self.task_json(t, tracked) for t in s.tasks.values()] or None
                now = s.now()
                mine = self._mine(u.id, now - 9 * 86400, now + 86400, limit=1000)
                d["time_entries"] = [s.entry_v9(e) for e in mine] or None
                d["workspaces"] = [self.workspace_json(u)]
        return json_reply(d)

    def me_workspaces(self, ctx: Ctx) -> Reply:
        with self.s.lock:
            return json_reply([self.workspace_json(ctx.user)])

    def me_organizations(self, ctx: Ctx) -> Reply:
        s = self.s
        name = s.plan.capitalize()
        created = plus00(s.created_at)
        return json_reply(
            [
                {
                    "id": s.organization_id,
                    "name": f"Organization {s.workspace_name}",
                    "pricing_plan_id": {"free": 0, "starter": 1, "premium": 2, "enterprise": 3}[s.plan],
                    "created_at": created,
                    "at": created,
                    "server_deleted_at": None,
                    "is_multi_workspace_enabled": False,
                    "suspended_at": None,
                    "user_count": len(s.users),
                    "trial_info": {
                        "trial": False,
                        "trial_available": False,
                        "trial_end_date": None,
                        "next_payment_date": None,
                        "last_pricing_plan_id": None,
                        "can_have_trial": False,
                        "trial_plan_id": None,
                    },
                    "is_unified": True,
                    "max_workspaces": 1 if s.plan == "free" else 20,
                    "permissions": None,
                    "admin": ctx.user.admin,
                    "owner": ctx.user.id == s.owner_id,
                    "pricing_plan_name": name,
                    "pricing_plan_enterprise": s.plan == "enterprise",
                }
            ]
        )

    def me_quota_placeholder(self, ctx: Ctx) -> Reply:
        return json_reply(self.quota_info(ctx.user))

    # ------------------------------------------------------------------ time entries (reads)
    def _mine(self, user_id: int, lo: int | None, hi: int | None, limit: int) -> list[Entry]:
        """The user's live entries with lo <= start < hi, newest first, at most ``limit``."""
        s = self.s
        i0 = 0 if lo is None else s.range_positions(lo, lo)[0]
        i1 = len(s.ids) if hi is None else s.range_positions(hi, hi)[0]
        out: list[Entry] = []
        ids, entries = s.ids, s.entries
        for k in range(i1 - 1, i0 - 1, -1):  # newest first, stop early at the cap
            e = entries[ids[k]]
            if e.user_id == user_id:
                out.append(e)
                if len(out) >= limit:
                    break
        return out

    def me_time_entries(self, ctx: Ctx) -> Reply:
        s, u, q = self.s, ctx.user, ctx.query
        meta = bool(ctx.flag("meta", False))
        now = s.now()
        max_age = self.config.me_time_entries_max_age_days
        oldest = now - max_age * 86400
        since, before = q.get("since"), q.get("before")
        start_date, end_date = q.get("start_date"), q.get("end_date")
        if since is not None and before is not None:
            raise ApiError(400, "'since' and 'before' can not be present simultaneously")
        tz = u.tz if self.config.bare_date_tz == "user" else _zone(self.config.bare_date_tz)
        with s.lock:
            if since is not None:
                try:
                    since_ts = int(since)
                except ValueError:
                    raise ApiError(400, "Invalid since value") from None
                if since_ts < oldest:
                    raise ApiError(400, "Since cannot be older than 3 months")
                since_us = since_ts * 1_000_000
                rows = [(e, None) for e in s.entries.values() if e.user_id == u.id and e.at_us >= since_us]
                rows += [(e, d) for e, d in s.deleted.values() if e.user_id == u.id and e.at_us >= since_us]
                rows.sort(key=lambda r: (r[0].start, r[0].id), reverse=True)
                rows = rows[:1000]
                return json_reply([s.entry_v9(e, meta=meta, deleted_us=d) for e, d in rows])
            if start_date is not None or end_date is not None:
                if start_date is None or end_date is None:
                    raise ApiError(400, "start_date and end_date must be used together")
                try:
                    lo, _ = parse_instant(start_date, tz)
                    hi, _ = parse_instant(end_date, tz)  # a bare date means 00:00, so the end day is excluded
                except ValueError:
                    raise ApiError(400, "Invalid start_date or end_date") from None
                if lo < oldest:
                    limit_day = date.fromtimestamp(oldest).isoformat()
                    raise ApiError(400, f"Start and end dates must not be earlier than {limit_day}")
                if hi < lo:
                    raise ApiError(400, "end_date must not be earlier than start_date")
            elif before is not None:
                try:
                    hi, _ = parse_instant(before, tz)
                except ValueError:
                    raise ApiError(400, "Invalid before value") from None
                lo = None
            else:
                lo, hi = now - 9 * 86400, None  # no params: the latest entries (about 9 days, v8-era default)
            mine = self._mine(u.id, lo, hi, limit=1000)
            return json_reply([s.entry_v9(e, meta=meta) for e in mine])

    def me_current(self, ctx: Ctx) -> Reply:
        s = self.s
        with s.lock:
            rid = s.running.get(ctx.user.id)
            return json_reply(None if rid is None else s.entry_v9(s.entries[rid]))

    def me_time_entry(self, ctx: Ctx) -> Reply:
        s = self.s
        eid = self._id(ctx)
        with s.lock:
            e = s.entries.get(eid)
            if e is None or e.user_id != ctx.user.id:
                raise ApiError(404, "Resource can not be found")
            return json_reply(s.entry_v9(e, meta=bool(ctx.flag("meta", False))))

    # ------------------------------------------------------------------ workspace objects
    def workspace(self, ctx: Ctx) -> Reply:
        self._wid(ctx)
        with self.s.lock:
            return json_reply(self.workspace_json(ctx.user))

    def clients(self, ctx: Ctx) -> Reply:
        self._wid(ctx)
        status = ctx.query.get("status") or "active"  # archived clients are hidden by default
        if status not in ("active", "archived", "both"):
            raise ApiError(400, "Client status is invalid")
        name = (ctx.query.get("name") or "").lower()
        with self.s.lock:
            out = [
                self.client_json(c)
                for c in self.s.clients.values()
                if (status == "both" or c.archived == (status == "archived")) and name in c.name.lower()
            ]
        return json_reply(out)

    def projects(self, ctx: Ctx) -> Reply:
        self._wid(ctx)
        s, q = self.s, ctx.query
        active = (q.get("active") or "true").lower()  # omitted -> active only (§8.8 unknown; documented)
        if active not in ("true", "false", "both"):
            raise ApiError(400, "Invalid value for 'active'")
        page = max(1, ctx.int_param("page", 1))
        per_page = min(200, max(1, ctx.int_param("per_page", 151)))  # default 151, max 200 (clamped)
        since = q.get("since")
        name = (q.get("name") or "").lower()
        billable = ctx.flag("billable")
        with s.lock:
            if since is not None:
                try:
                    since_ts = int(since)
                except ValueError:
                    raise ApiError(400, "Invalid value for 'since'") from None
                # `since` returns everything modified since, deleted projects included.
                cand = [p for p in s.projects.values() if max(p.at, p.deleted_at or 0) >= since_ts]
            else:
                cand = [
                    p
                    for p in s.projects.values()
                    if p.deleted_at is None and (active == "both" or p.active == (active == "true"))
                ]
            cand = [
                p
                for p in cand
                if name in p.name.lower()
                and (billable is None or p.billable == billable)
                and (not p.is_private or ctx.user.admin)
            ]  # private projects: admins only here
            desc = (q.get("sort_order") or "ASC").upper() == "DESC"
            cand.sort(key=lambda p: (p.name.lower(), p.id), reverse=desc)
            actual = self._actual_seconds_by_project()
            chunk = cand[(page - 1) * per_page : page * per_page]
            return json_reply([self.project_json(p, actual) for p in chunk])

    def tags(self, ctx: Ctx) -> Reply:
        self._wid(ctx)
        with self.s.lock:
            tags = [t for t in self.s.tags.values() if t.deleted_at is None]
        search = (ctx.query.get("search") or "").lower()
        tags = [t for t in tags if search in t.name.lower()]
        if ctx.query.get("page") or ctx.query.get("per_page"):  # unpaged unless asked (§8.9)
            page = max(1, ctx.int_param("page", 1))
            per_page = max(1, ctx.int_param("per_page", 200))
            tags = tags[(page - 1) * per_page : page * per_page]
        return json_reply([self.tag_json(t) for t in tags])

    def tasks(self, ctx: Ctx) -> Reply:
        self._wid(ctx)
        s, q = self.s, ctx.query
        active = (q.get("active") or "true").lower()
        if active not in ("true", "false", "both"):
            raise ApiError(400, "Invalid value for 'active'")
        page = max(1, ctx.int_param("page", 1))
        per_page = min(200, max(1, ctx.int_param("per_page", 50)))  # default 50, max 200 (clamped)
        sort_field = q.get("sort_field") or "name"
        if sort_field not in ("name", "created_at"):
            raise ApiError(400, "Invalid value for 'sort_field'")
        sort_order = (q.get("sort_order") or "ASC").upper()
        pid = q.get("pid")
        with s.lock:
            cand = [t for t in s.tasks.values() if active == "both" or t.active == (active == "true")]
            if pid:
                cand = [t for t in cand if str(t.project_id) == pid]
            if sort_field == "name":
                cand.sort(key=lambda t: (t.name.lower(), t.id), reverse=sort_order == "DESC")
            else:
                cand.sort(key=lambda t: (t.at, t.id), reverse=sort_order == "DESC")
            tracked = s.tracked_ms_by_task()
            data = [self.task_json(t, tracked) for t in cand[(page - 1) * per_page : page * per_page]]
        return json_reply(
            {
                "data": data,
                "page": page,
                "per_page": per_page,
                "sort_field": sort_field,
                "sort_order": sort_order,
                "total_count": len(cand),
            }
        )

    def users(self, ctx: Ctx) -> Reply:
        self._wid(ctx)
        exclude_deleted = ctx.flag("exclude_deleted", False)
        out = [
            {
                "id": u.id,
                "email": u.email,
                "fullname": u.fullname,
                "inactive": not u.active,
                "is_active": u.active,
                "is_admin": u.admin,
                "role": "admin" if u.admin else "user",
            }
            for u in self.s.users.values()
            if u.active or not exclude_deleted
        ]
        return json_reply(out)

    def workspace_users(self, ctx: Ctx) -> Reply:
        self._wid(ctx)
        return json_reply([self.workspace_user_json(u) for u in self.s.users.values()])

    # ------------------------------------------------------------------ time entries (writes)
    def _entry_fields(self, body: dict[str, Any], ctx: Ctx, old: Entry | None) -> dict[str, Any]:
        """Translate a v9 payload into Entry field changes (only what was sent)."""
        s = self.s
        ch: dict[str, Any] = {}
        if "description" in body:
            if body["description"] is not None and not isinstance(body["description"], str):
                raise ApiError(400, "Invalid description")
            ch["description"] = body["description"]
        pid = body.get("project_id", body.get("pid", ...))
        if pid is not ...:
            if pid is not None:
                p = s.projects.get(pid) if isinstance(pid, int) else None
                if p is None or p.deleted_at is not None:
                    raise ApiError(400, "User cannot access the selected project")
            ch["project_id"] = pid
        tid = body.get("task_id", body.get("tid", ...))
        if tid is not ...:
            if tid is not None and tid not in s.tasks:
                raise ApiError(400, "Invalid task_id")
            ch["task_id"] = tid
        if "billable" in body:
            ch["billable"] = bool(body["billable"])
        if "user_id" in body and body["user_id"] is not None:
            if body["user_id"] not in s.users:
                raise ApiError(400, "Invalid user_id")
            if body["user_id"] != ctx.user.id and not ctx.user.admin:
                raise ApiError(403, "Only admins can create time entries for other users")
            ch["user_id"] = body["user_id"]
        tag_ids: list[int] | None = None
        if "tag_ids" in body and body["tag_ids"] is not None:
            if not all(isinstance(t, int) and t in s.tags for t in body["tag_ids"]):
                raise ApiError(400, "Invalid tag_ids")
            tag_ids = list(body["tag_ids"])
        if "tags" in body and body["tags"] is not None:
            if not all(isinstance(t, str) and t.strip() for t in body["tags"]):
                raise ApiError(400, "Invalid tags")
            tag_ids = (tag_ids or []) + [s.tag_id_for_name(n, ctx.user.id) for n in body["tags"]]
        if tag_ids is not None:
            action = body.get("tag_action")
            current = list(old.tag_ids) if old is not None else []
            if action == "add":
                tag_ids = current + tag_ids
            elif action == "delete":
                tag_ids = [t for t in current if t not in tag_ids]
            ch["tag_ids"] = tag_ids
        # Times: start, stop, duration (negative = running).
        start = old.start if old is not None else None
        if "start" in body:
            try:
                start, _ = parse_instant(str(body["start"]))
            except ValueError:
                raise ApiError(400, "Invalid start time") from None
            ch["start"] = start
        if start is None:
            raise ApiError(400, "Start time must be provided")
        stop: int | object | None = ...
        if body.get("stop") is not None:
            try:
                stop, _ = parse_instant(str(body["stop"]))
            except ValueError:
                raise ApiError(400, "Invalid stop time") from None
        duration = body.get("duration")
        if duration is not None and not isinstance(duration, int):
            raise ApiError(400, "Invalid duration")
        if stop is not ...:
            if duration is not None and duration >= 0 and start + duration != stop:
                raise ApiError(400, "Duration and stop do not match")
            if stop < start:  # type: ignore[operator]
                raise ApiError(400, "Stop time must be after start time")
            ch["stop"] = stop
        elif duration is not None:
            ch["stop"] = None if duration < 0 else start + duration
        elif old is None:
            ch["stop"] = start  # observed: only `start` -> duration 0
        elif "start" in body and old.stop is not None:
            ch["stop"] = start + (old.stop - old.start)  # moving a stopped entry keeps its duration
        return ch

    def _own_entry(self, ctx: Ctx) -> Entry:
        e = self.s.entries.get(self._id(ctx))
        if e is None:
            raise ApiError(404, "Time entry not found")
        if e.user_id != ctx.user.id and not ctx.user.admin:
            raise ApiError(403, "User cannot access this time entry")
        return e

    def create_entry(self, ctx: Ctx) -> Reply:
        self._wid(ctx)
        body = ctx.json()
        if not isinstance(body, dict):
            raise ApiError(400, "Invalid JSON input")
        if not isinstance(body.get("created_with"), str) or not body["created_with"].strip():
            raise ApiError(400, "created_with needs to be provided an a valid string")
        if "workspace_id" in body and body["workspace_id"] != self.s.workspace_id:
            raise ApiError(400, "Workspace ID in the body does not match the path")
        with self.s.lock:
            ch = self._entry_fields(body, ctx, None)
            e = self.s.create_entry(
                user_id=ch.get("user_id", ctx.user.id),
                start=ch["start"],
                stop=ch["stop"],
                description=ch.get("description"),
                project_id=ch.get("project_id"),
                task_id=ch.get("task_id"),
                tag_ids=ch.get("tag_ids", ()),
                billable=ch.get("billable", False),
            )
            echo = body.get("duration") if isinstance(body.get("duration"), int) else None
            d = self.s.entry_v9(e, write_echo=True, echo_duration=echo)
            if "stop" not in body and body.get("duration") is None:
                d["stop"], d["duration"] = None, 0  # observed echo for a start-only POST
            if not e.tag_ids and "tags" not in body and "tag_ids" not in body:
                d["tags"] = d["tag_ids"] = None  # observed: null right after creation without tags
            return json_reply(d)

    def update_entry(self, ctx: Ctx) -> Reply:
        self._wid(ctx)
        body = ctx.json()
        if not isinstance(body, dict):
            raise ApiError(400, "Invalid JSON input")
        with self.s.lock:
            old = self._own_entry(ctx)
            ch = self._entry_fields(body, ctx, old)
            if ch.get("stop", 0) is None and old.stop is not None:
                other = self.s.running.get(ch.get("user_id", old.user_id))
                if other is not None and other != old.id:
                    self.s.stop_entry(other)
            e = self.s.update_entry(old.id, **ch)
            return json_reply(self.s.entry_v9(e, write_echo=True))

    def delete_entry(self, ctx: Ctx) -> Reply:
        self._wid(ctx)
        with self.s.lock:
            self.s.delete_entry(self._own_entry(ctx).id)
        return Reply(200, b"", {})

    def stop_entry(self, ctx: Ctx) -> Reply:
        self._wid(ctx)
        with self.s.lock:
            e = self._own_entry(ctx)
            try:
                e = self.s.stop_entry(e.id)
            except Conflict as exc:
                raise ApiError(409, str(exc)) from None
            return json_reply(self.s.entry_v9(e, write_echo=True))

    # ------------------------------------------------------------------ reports v3
    def _ids_filter(self, body: dict[str, Any], name: str) -> frozenset[int | None] | None:
        v = body.get(name)
        if v is None:
            return None
        if not isinstance(v, list) or not all(x is None or (isinstance(x, int) and not isinstance(x, bool)) for x in v):
            raise ApiError(400, f"Invalid '{name}' value")
        return frozenset(v)  # [null] selects "none" (e.g. entries without project)

    def _report_dates(self, body: dict[str, Any]) -> tuple[date, date]:
        dates: list[date] = []
        for name in ("start_date", "end_date"):
            v = body.get(name)
            if v is None:
                if name == "start_date":
                    raise ApiError(400, "start_date is required")
                dates.append(date.fromtimestamp(self.s.now(), UTC))  # end_date omitted -> today
                continue
            try:
                dates.append(date.fromisoformat(str(v)))
            except ValueError:
                raise ApiError(400, f"Invalid '{name}' value, expected YYYY-MM-DD") from None
        if dates[0] > dates[1]:
            raise ApiError(400, "start_date must not be later than end_date")
        span = self.config.report_max_span_days
        if span is not None and (dates[1] - dates[0]).days + 1 > span:
            raise ApiError(400, f"The date range must not exceed {span} days")
        return dates[0], dates[1]

    def report_detailed(self, ctx: Ctx) -> Reply:
        self._wid(ctx)
        s, cfg = self.s, self.config
        body = ctx.json()
        if not isinstance(body, dict):
            raise ApiError(400, "Invalid JSON input")
        if not body:
            raise ApiError(400, "At least one parameter must be set")
        d0, d1 = self._report_dates(body)
        page_size = body.get("page_size", 50)
        if not isinstance(page_size, int) or isinstance(page_size, bool) or page_size < 1:
            raise ApiError(400, "Invalid 'page_size' value")
        if page_size > cfg.max_page_size:
            if cfg.page_size_overflow == "reject":
                raise ApiError(400, f"Invalid 'page_size' value, allowed values are 1 to {cfg.max_page_size}")
            page_size = cfg.max_page_size
        order_by = body.get("order_by") or "date"
        if order_by not in ("date", "user", "duration", "description", "last_update"):
            raise ApiError(
                400, "Invalid 'order_by' value, allowed values are date, user, duration, description, last_update"
            )
        order_dir = str(body.get("order_dir") or "ASC").upper()
        if order_dir not in ("ASC", "DESC"):
            raise ApiError(400, "Invalid 'order_dir' value, allowed values are ASC, DESC")
        billable = body.get("billable")
        if billable is not None and not isinstance(billable, bool):
            raise ApiError(400, "Invalid 'billable' value")
        description = body.get("description")
        if description is not None and not isinstance(description, str):
            raise ApiError(400, "Invalid 'description' value")
        lo, hi = day_start(d0), day_start(d1 + timedelta(days=1))
        per_user = None
        if cfg.bare_date_tz == "user":
            per_user = tuple(
                sorted((u.id, day_start(d0, u.tz), day_start(d1 + timedelta(days=1), u.tz)) for u in s.users.values())
            )
        elif cfg.bare_date_tz != "UTC":
            z = _zone(cfg.bare_date_tz)
            lo, hi = day_start(d0, z), day_start(d1 + timedelta(days=1), z)
        user_ids = self._ids_filter(body, "user_ids")
        query = ReportQuery(
            lo=lo,
            hi=hi,
            per_user_bounds=per_user,
            user_ids=None if user_ids is None else frozenset(x for x in user_ids if x is not None),
            project_ids=self._ids_filter(body, "project_ids"),
            client_ids=self._ids_filter(body, "client_ids"),
            tag_ids=self._ids_filter(body, "tag_ids"),
            task_ids=self._ids_filter(body, "task_ids"),
            description=description or None,
            billable=billable,
            include_running=cfg.reports_include_running,
            order_by=order_by,
            descending=order_dir == "DESC",
        )
        frn = body.get("first_row_number")
        first_id = body.get("first_id")
        with s.lock:
            ids = s.report_ids(query)
            if isinstance(frn, int) and not isinstance(frn, bool) and frn >= 1:
                offset = frn - 1
            elif frn is not None:
                raise ApiError(400, "Invalid 'first_row_number' value")
            elif isinstance(first_id, int) and not isinstance(first_id, bool):
                try:
                    offset = ids.index(first_id)
                except ValueError:
                    offset = len(ids)
            else:
                offset = 0
            page = ids[offset : offset + page_size]
            rows = [self._report_row(s.entries[i], offset + k + 1) for k, i in enumerate(page)]
            headers: dict[str, str] = {}
            nxt = offset + page_size
            if nxt < len(ids):  # cursor headers only while more rows remain
                headers = {"X-Next-ID": str(ids[nxt]), "X-Next-Row-Number": str(nxt + 1)}
        return json_reply(rows, headers=headers)

    def _report_row(self, e: Entry, row_number: int) -> dict[str, Any]:
        s = self.s
        u = s.users[e.user_id]
        p = s.projects.get(e.project_id) if e.project_id is not None else None
        c = s.clients.get(p.client_id) if p is not None and p.client_id is not None else None
        t = s.tasks.get(e.task_id) if e.task_id is not None else None
        rate, currency = s.rate_for(e)
        stop = e.stop
        seconds = (s.now() if stop is None else stop) - e.start
        amount = None
        if e.billable and rate is not None:
            amount = (seconds * rate * 2 + 3600) // 7200  # round half up of seconds/3600*rate
        else:
            rate = None  # non-billable rows carry null rate and amount (EVR fixture)
        fmt = (lambda ts: in_zone(ts, u.tz)) if self.config.report_times_in_user_tz else plus00
        at = e.at_us // 1_000_000
        return {
            "user_id": u.id,
            "username": u.fullname,
            "email": u.email,
            "toggl_accounts_id": f"uWdx{u.id:08d}",
            "project_id": e.project_id,
            "project_name": p.name if p else None,
            "project_color": p.color if p else None,
            "project_hex": p.color if p else None,
            "client_name": c.name if c else None,
            "task_id": e.task_id,
            "task_name": t.name if t else None,
            "description": e.description,
            "billable": e.billable,
            "tag_ids": list(e.tag_ids),
            "tag_names": [s.tags[x].name for x in e.tag_ids if x in s.tags],
            "hourly_rate_in_cents": rate,
            "billable_amount_in_cents": amount,
            "currency": currency,
            "row_number": row_number,
            "time_entries": [
                {
                    "id": e.id,
                    "seconds": seconds,
                    "start": fmt(e.start),
                    "stop": None if stop is None else fmt(stop),
                    "at": plus00(at),
                    "at_tz": in_zone(at, u.tz),
                }
            ],
        }


def _zone(name: str) -> Any:
    from zoneinfo import ZoneInfo

    return UTC if name == "UTC" else ZoneInfo(name)


__all__ = ["Api", "ApiError", "Ctx", "NotFound", "Reply", "Route", "error_reply", "json_reply", "zulu"]
