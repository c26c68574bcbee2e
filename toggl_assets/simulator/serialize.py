"""JSON shapes of every object, exactly as the real API renders them (toggl-api.md §2, §3.1)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from .store import Client, Entry, Project, Store, Tag, Task, User
from .timefmt import ZoneTimes, micro_zulu, plus00, zulu
from .world import Organization

PLAN_IDS = {"free": 0, "starter": 1, "premium": 2, "enterprise": 3}

# Workspace settings the simulator never varies (field order as in real responses).
_WORKSPACE_FLAGS: dict[str, Any] = {
    "only_admins_may_create_projects": False,
    "only_admins_may_create_tags": False,
    "only_admins_see_billable_rates": False,
    "only_admins_see_team_dashboard": False,
    "projects_billable_by_default": True,
    "projects_private_by_default": False,
    "projects_enforce_billable": False,
    "limit_public_project_data": False,
}
_WORKSPACE_TAIL: dict[str, Any] = {
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
}


def _names(s: Store, e: Entry | Task) -> tuple[Project | None, Client | None, User | None]:
    """The project, client and user an entry or task points at (None where unset or unknown)."""
    p, c = _project_client(s, e.project_id)
    u = s.users.get(e.user_id) if e.user_id is not None else None
    return p, c, u


def _project_client(s: Store, project_id: int | None) -> tuple[Project | None, Client | None]:
    p = s.projects.get(project_id) if project_id is not None else None
    c = s.clients.get(p.client_id) if p is not None and p.client_id is not None else None
    return p, c


def workspace_json(s: Store, user: User) -> dict[str, Any]:
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
        **_WORKSPACE_FLAGS,
        "last_modified": created,
        "reports_collapse": True,
        "rounding": 1,
        "rounding_minutes": 0,
        "at": created,
        **_WORKSPACE_TAIL,
        "active_project_count": sum(1 for p in s.projects.values() if p.active and p.deleted_at is None),
    }


def organization_json(org: Organization, user_count: int, user: User, owner_id: int) -> dict[str, Any]:
    created = plus00(org.created_at)
    trial_info = {
        "trial": False,
        "trial_available": False,
        "trial_end_date": None,
        "next_payment_date": None,
        "last_pricing_plan_id": None,
        "can_have_trial": False,
        "trial_plan_id": None,
    }
    return {
        "id": org.id,
        "name": org.name,
        "pricing_plan_id": PLAN_IDS[org.plan],
        "created_at": created,
        "at": created,
        "server_deleted_at": None,
        "is_multi_workspace_enabled": False,
        "suspended_at": None,
        "user_count": user_count,
        "trial_info": trial_info,
        "is_unified": True,
        "max_workspaces": 1 if org.plan == "free" else 20,
        "permissions": None,
        "admin": user.admin,
        "owner": user.id == owner_id,
        "pricing_plan_name": org.plan.capitalize(),
        "pricing_plan_enterprise": org.plan == "enterprise",
    }


def client_json(s: Store, c: Client) -> dict[str, Any]:
    return {
        "id": c.id,
        "wid": s.workspace_id,
        "archived": c.archived,
        "name": c.name,
        "at": plus00(c.at),
        "creator_id": c.creator_id,
    }


def project_json(s: Store, p: Project) -> dict[str, Any]:
    secs = s.seconds_by("project_id").get(p.id, 0)
    status = "deleted" if p.deleted_at is not None else ("active" if p.active else "archived")
    c = s.clients.get(p.client_id) if p.client_id is not None else None
    premium_nulls = ("template", "auto_estimates", "estimated_hours", "estimated_seconds")
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
        **dict.fromkeys(premium_nulls),
        "rate": p.rate,
        "rate_last_updated": plus00(p.created_at) if p.rate is not None else None,
        "currency": p.currency,
        "recurring": False,
        **dict.fromkeys(("template_id", "recurring_parameters", "fixed_fee")),
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


def tag_json(s: Store, t: Tag) -> dict[str, Any]:
    return {
        "id": t.id,
        "workspace_id": s.workspace_id,
        "name": t.name,
        "at": micro_zulu(t.at_us),
        "creator_id": t.creator_id,
    }


def task_json(s: Store, t: Task, tracked: dict[int, int]) -> dict[str, Any]:
    p, c, u = _names(s, t)
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
        **dict.fromkeys(("rate", "rate_last_updated", "toggl_accounts_id")),
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


def simple_user_json(u: User) -> dict[str, Any]:
    """``/workspaces/{wid}/users`` (SimpleWorkspaceUser)."""
    return {
        "id": u.id,
        "email": u.email,
        "fullname": u.fullname,
        "inactive": not u.active,
        "is_active": u.active,
        "is_admin": u.admin,
        "role": "admin" if u.admin else "user",
    }


def workspace_user_json(s: Store, u: User) -> dict[str, Any]:
    wid = s.workspace_id
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
        "organization_admin": u.id == s.owner_id,
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
        **dict.fromkeys(("avatar_file_name", "invitation_code", "invite_url")),
        "2fa_enabled": False,
        "view_edit_billable_rates": u.admin,
        "view_edit_labor_costs": u.admin,
    }


def entry_v9(
    s: Store,
    e: Entry,
    *,
    write_echo: bool = False,
    meta: bool = False,
    deleted_us: int | None = None,
    echo_duration: int | None = None,
) -> dict[str, Any]:
    """A v9 time entry: reads use ``+00:00``, write echoes ``Z`` (observed)."""
    fmt = zulu if write_echo else plus00
    # Observed: reads of a running entry carry -start_epoch; POST echoes what was sent (e.g. -1).
    duration = -e.start if e.stop is None else e.stop - e.start
    if echo_duration is not None:
        duration = echo_duration
    d: dict[str, Any] = {
        "id": e.id,
        "workspace_id": s.workspace_id,
        "project_id": e.project_id,
        "task_id": e.task_id,
        "billable": e.billable,
        "start": fmt(e.start),
        "stop": None if e.stop is None else fmt(e.stop),
        "duration": duration,
        "description": e.description,
        "tags": [s.tags[t].name for t in e.tag_ids if t in s.tags],
        "tag_ids": list(e.tag_ids),
        "duronly": True,
        "at": micro_zulu(e.at_us),
        "server_deleted_at": None if deleted_us is None else plus00(deleted_us // 1_000_000),
        "user_id": e.user_id,
        "uid": e.user_id,
        "wid": s.workspace_id,
    }
    if e.project_id is not None:
        d["pid"] = e.project_id  # observed: only present when a project is set
    if e.task_id is not None:
        d["tid"] = e.task_id
    if meta:
        d.update(_entry_meta(s, e))
    return d


def _entry_meta(s: Store, e: Entry) -> dict[str, Any]:
    p, c, u = _names(s, e)
    t = s.tasks.get(e.task_id) if e.task_id is not None else None
    return {
        "client_id": None if c is None else c.id,
        "client_name": None if c is None else c.name,
        "project_name": None if p is None else p.name,
        "project_color": None if p is None else p.color,
        "project_active": None if p is None else p.active,
        "project_billable": None if p is None else p.billable,
        "task_name": None if t is None else t.name,
        "user_name": None if u is None else u.fullname,
        "user_avatar_url": "",
    }


def entry_money(s: Store, e: Entry, seconds: int) -> tuple[int | None, int | None, str]:
    """(hourly rate in cents, billable amount in cents, currency) of a report row or total.

    Non-billable entries carry a null rate and amount (EVR fixture) and the resolved currency;
    the amount is round_half_up(seconds / 3600 * rate).
    """
    return _money(e, seconds, *s.rate_for(e))


def _money(e: Entry, seconds: int, rate: int | None, currency: str) -> tuple[int | None, int | None, str]:
    if not e.billable or rate is None:
        return None, None, currency
    return rate, (seconds * rate * 2 + 3600) // 7200, currency


def report_rows(s: Store, entries: Iterable[Entry], first_row_number: int, in_user_tz: bool) -> list[dict[str, Any]]:
    """The Reports v3 detailed rows of a page, one per entry (§3.1), numbered from ``first_row_number``.

    What a page's entries share (their users, projects, tasks, tag lists, rates, and each zone's offset per hour)
    is looked up once per page: a page of 10,000 rows otherwise spent most of its time doing it again per row.
    """
    now = s.now()
    zone_time = ZoneTimes()
    entry_time = zone_time if in_user_tz else (lambda ts, _tz: plus00(ts))
    rate_of = cache(s.rate_of)

    @cache
    def user(user_id: int) -> tuple[ZoneInfo, dict[str, Any]]:
        u = s.users.get(user_id)
        assert u is not None  # entries always belong to a member
        return u.tz, {"user_id": u.id, "username": u.fullname, "email": u.email, "toggl_accounts_id": f"uWdx{u.id:08d}"}

    @cache
    def project(project_id: int | None) -> dict[str, Any]:
        p, c = _project_client(s, project_id)
        return {
            "project_id": project_id,
            "project_name": p.name if p else None,
            "project_color": p.color if p else None,
            "project_hex": p.color if p else None,
            "client_name": c.name if c else None,
        }

    @cache
    def task_name(task_id: int | None) -> str | None:
        t = s.tasks.get(task_id) if task_id is not None else None
        return t.name if t else None

    @cache
    def tag_names(tag_ids: tuple[int, ...]) -> list[str]:
        return [s.tags[x].name for x in tag_ids if x in s.tags]

    rows: list[dict[str, Any]] = []
    for number, e in enumerate(entries, first_row_number):
        tz, user_fields = user(e.user_id)
        stop = e.stop
        seconds = (now if stop is None else stop) - e.start
        rate, amount, currency = _money(e, seconds, *rate_of(e.project_id, e.user_id))
        at = e.at_us // 1_000_000
        rows.append(
            {
                **user_fields,
                **project(e.project_id),
                "task_id": e.task_id,
                "task_name": task_name(e.task_id),
                "description": e.description,
                "billable": e.billable,
                "tag_ids": e.tag_ids,
                "tag_names": tag_names(e.tag_ids),
                "hourly_rate_in_cents": rate,
                "billable_amount_in_cents": amount,
                "currency": currency,
                "row_number": number,
                "time_entries": [
                    {
                        "id": e.id,
                        "seconds": seconds,
                        "start": entry_time(e.start, tz),
                        "stop": None if stop is None else entry_time(stop, tz),
                        "at": plus00(at),
                        "at_tz": zone_time(at, tz),
                    }
                ],
            }
        )
    return rows
