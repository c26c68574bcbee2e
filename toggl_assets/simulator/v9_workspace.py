"""Track v9 reads of one workspace's objects: the workspace, clients, projects, tags, tasks and users.

The server has already checked that the caller can read ``ctx.store`` (403 otherwise).
"""

from __future__ import annotations

from typing import Any

from .serialize import (
    client_json,
    project_json,
    simple_user_json,
    tag_json,
    task_json,
    workspace_json,
    workspace_user_json,
)
from .store import Project
from .wire import ApiError, Ctx, Reply, Router, json_reply

WS = "/api/v9/workspaces/{wid}"


def register(r: Router) -> None:
    r.add("GET", WS, workspace)
    r.add("GET", WS + "/clients", clients)
    r.add("GET", WS + "/projects", projects)
    r.add("GET", WS + "/tags", tags)
    r.add("GET", WS + "/tasks", tasks, paid_feature=True)
    r.add("GET", WS + "/users", users)
    r.add("GET", WS + "/workspace_users", workspace_users)


def _choice(ctx: Ctx, name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = (ctx.query.get(name) or default).lower()
    if value not in allowed:
        raise ApiError(400, f"Invalid value for '{name}'")
    return value


def _page(ctx: Ctx, default_per_page: int, cap: int | None = 200) -> tuple[int, int]:
    """(page, per_page); per_page above ``cap`` is clamped."""
    page = max(1, ctx.int_param("page", 1))
    per_page = max(1, ctx.int_param("per_page", default_per_page))
    return page, per_page if cap is None else min(cap, per_page)


def workspace(ctx: Ctx) -> Reply:
    with ctx.store.lock:
        return json_reply(workspace_json(ctx.store, ctx.user))


def clients(ctx: Ctx) -> Reply:
    s = ctx.store
    status = ctx.query.get("status") or "active"  # archived clients are hidden by default
    if status not in ("active", "archived", "both"):
        raise ApiError(400, "Client status is invalid")
    name = (ctx.query.get("name") or "").lower()
    with s.lock:
        out = [
            client_json(s, c)
            for c in s.clients.values()
            if (status == "both" or c.archived == (status == "archived")) and name in c.name.lower()
        ]
    return json_reply(out)


def _project_candidates(ctx: Ctx, active: str) -> list[Project]:
    s, since = ctx.store, ctx.query.get("since")
    if since is None:
        return [
            p
            for p in s.projects.values()
            if p.deleted_at is None and (active == "both" or p.active == (active == "true"))
        ]
    try:
        since_ts = int(since)
    except ValueError:
        raise ApiError(400, "Invalid value for 'since'") from None
    # `since` returns everything modified since, deleted projects included.
    return [p for p in s.projects.values() if max(p.at, p.deleted_at or 0) >= since_ts]


def projects(ctx: Ctx) -> Reply:
    s, q = ctx.store, ctx.query
    active = _choice(ctx, "active", "true", ("true", "false", "both"))  # omitted -> active only (§8.8)
    page, per_page = _page(ctx, 151)  # default 151, max 200 (clamped)
    name = (q.get("name") or "").lower()
    billable = ctx.flag("billable")
    with s.lock:
        cand = [
            p
            for p in _project_candidates(ctx, active)
            if name in p.name.lower()
            and (billable is None or p.billable == billable)
            and (not p.is_private or ctx.user.admin)  # private projects: admins only here
        ]
        desc = (q.get("sort_order") or "ASC").upper() == "DESC"
        cand.sort(key=lambda p: (p.name.lower(), p.id), reverse=desc)
        return json_reply([project_json(s, p) for p in cand[(page - 1) * per_page : page * per_page]])


def tags(ctx: Ctx) -> Reply:
    s = ctx.store
    with s.lock:
        found = [t for t in s.tags.values() if t.deleted_at is None]
    search = (ctx.query.get("search") or "").lower()
    found = [t for t in found if search in t.name.lower()]
    if ctx.query.get("page") or ctx.query.get("per_page"):  # unpaged unless asked (§8.9)
        page, per_page = _page(ctx, 200, cap=None)
        found = found[(page - 1) * per_page : page * per_page]
    return json_reply([tag_json(s, t) for t in found])


def tasks(ctx: Ctx) -> Reply:
    s, q = ctx.store, ctx.query
    active = _choice(ctx, "active", "true", ("true", "false", "both"))
    page, per_page = _page(ctx, 50)  # default 50, max 200 (clamped)
    sort_field = q.get("sort_field") or "name"
    if sort_field not in ("name", "created_at"):
        raise ApiError(400, "Invalid value for 'sort_field'")
    sort_order = (q.get("sort_order") or "ASC").upper()
    pid = q.get("pid")
    with s.lock:
        cand = [t for t in s.tasks.values() if active == "both" or t.active == (active == "true")]
        if pid:
            cand = [t for t in cand if str(t.project_id) == pid]
        key: Any = (lambda t: (t.name.lower(), t.id)) if sort_field == "name" else (lambda t: (t.at, t.id))
        cand.sort(key=key, reverse=sort_order == "DESC")
        tracked = s.tracked_ms_by_task()
        data = [task_json(s, t, tracked) for t in cand[(page - 1) * per_page : page * per_page]]
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


def users(ctx: Ctx) -> Reply:
    exclude_deleted = ctx.flag("exclude_deleted", False)
    return json_reply([simple_user_json(u) for u in ctx.store.users.values() if u.active or not exclude_deleted])


def workspace_users(ctx: Ctx) -> Reply:
    return json_reply([workspace_user_json(ctx.store, u) for u in ctx.store.users.values()])
