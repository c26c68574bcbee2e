"""Track v9 time-entry writes: create (start), update (move, retag, ...), delete, stop.

Every write moves the entry's ``at`` (the Store does it), which the Reports ``last_update`` order relies on.
"""

from __future__ import annotations

from typing import Any

from .serialize import entry_v9
from .store import Conflict, Entry, Store, User
from .timefmt import parse_instant
from .wire import ApiError, Ctx, Reply, Router, json_reply
from .world import World

ENTRIES = "/api/v9/workspaces/{wid}/time_entries"
_UNSET: Any = ...


def entry_changes(s: Store, body: dict[str, Any], user: User, old: Entry | None) -> dict[str, Any]:
    """Translate a v9 payload into Entry field changes (only what was sent)."""
    ch: dict[str, Any] = {}
    if "description" in body:
        if body["description"] is not None and not isinstance(body["description"], str):
            raise ApiError(400, "Invalid description")
        ch["description"] = body["description"]
    if "billable" in body:
        ch["billable"] = bool(body["billable"])
    ch.update(_references(s, body))
    if body.get("user_id") is not None:
        ch["user_id"] = _for_user(s, body["user_id"], user)
    tag_ids = _tag_ids(s, body, user)
    if tag_ids is not None:
        ch["tag_ids"] = _tag_action(body.get("tag_action"), tag_ids, old)
    ch.update(_times(body, old))
    return ch


def _references(s: Store, body: dict[str, Any]) -> dict[str, Any]:
    """project_id/pid and task_id/tid, which must exist in this workspace (null clears them)."""
    ch: dict[str, Any] = {}
    pid = body.get("project_id", body.get("pid", _UNSET))
    if pid is not _UNSET:
        p = s.projects.get(pid) if isinstance(pid, int) else None
        if pid is not None and (p is None or p.deleted_at is not None):
            raise ApiError(400, "User cannot access the selected project")
        ch["project_id"] = pid
    tid = body.get("task_id", body.get("tid", _UNSET))
    if tid is not _UNSET:
        if tid is not None and tid not in s.tasks:
            raise ApiError(400, "Invalid task_id")
        ch["task_id"] = tid
    return ch


def _for_user(s: Store, user_id: Any, caller: User) -> int:
    if user_id not in s.users:
        raise ApiError(400, "Invalid user_id")
    if user_id != caller.id and not caller.admin:
        raise ApiError(403, "Only admins can create time entries for other users")
    return int(user_id)


def _tag_ids(s: Store, body: dict[str, Any], user: User) -> list[int] | None:
    """Tags by id and/or by name (unknown names create the tag); None when neither was sent."""
    tag_ids: list[int] | None = None
    if body.get("tag_ids") is not None:
        if not all(isinstance(t, int) and t in s.tags for t in body["tag_ids"]):
            raise ApiError(400, "Invalid tag_ids")
        tag_ids = list(body["tag_ids"])
    if body.get("tags") is not None:
        if not all(isinstance(t, str) and t.strip() for t in body["tags"]):
            raise ApiError(400, "Invalid tags")
        tag_ids = (tag_ids or []) + [s.tag_id_for_name(n, user.id) for n in body["tags"]]
    return tag_ids


def _tag_action(action: Any, tag_ids: list[int], old: Entry | None) -> list[int]:
    current = list(old.tag_ids) if old is not None else []
    if action == "add":
        return current + tag_ids
    if action == "delete":
        return [t for t in current if t not in tag_ids]
    return tag_ids


def _instant(body: dict[str, Any], name: str) -> int:
    try:
        return parse_instant(str(body[name]))[0]
    except ValueError:
        raise ApiError(400, f"Invalid {name} time") from None


def _times(body: dict[str, Any], old: Entry | None) -> dict[str, Any]:
    """start, stop and duration (negative = running) into start/stop changes."""
    ch: dict[str, Any] = {}
    start = old.start if old is not None else None
    if "start" in body:
        start = ch["start"] = _instant(body, "start")
    if start is None:
        raise ApiError(400, "Start time must be provided")
    duration = body.get("duration")
    if duration is not None and not isinstance(duration, int):
        raise ApiError(400, "Invalid duration")
    if body.get("stop") is not None:
        stop = _instant(body, "stop")
        if duration is not None and duration >= 0 and start + duration != stop:
            raise ApiError(400, "Duration and stop do not match")
        if stop < start:
            raise ApiError(400, "Stop time must be after start time")
        ch["stop"] = stop
    elif duration is not None:
        ch["stop"] = None if duration < 0 else start + duration
    elif old is None:
        ch["stop"] = start  # observed: only `start` -> duration 0
    elif "start" in body and old.stop is not None:
        ch["stop"] = start + (old.stop - old.start)  # moving a stopped entry keeps its duration
    return ch


def register(r: Router, world: World) -> None:
    writes = EntryWrites(world)
    r.add("POST", ENTRIES, writes.create, read_only=False)
    r.add("PUT", ENTRIES + "/{id}", writes.update, read_only=False)
    r.add("DELETE", ENTRIES + "/{id}", writes.delete, read_only=False)
    r.add("PATCH", ENTRIES + "/{id}/stop", writes.stop, read_only=False)


class EntryWrites:
    def __init__(self, world: World) -> None:
        self.world = world

    def _own_entry(self, ctx: Ctx) -> Entry:
        e = ctx.store.entries.get(ctx.entry_id())
        if e is None:
            raise ApiError(404, "Time entry not found")
        if e.user_id != ctx.user.id and not ctx.user.admin:
            raise ApiError(403, "User cannot access this time entry")
        return e

    def create(self, ctx: Ctx) -> Reply:
        s, body = ctx.store, ctx.json_object()
        if not isinstance(body.get("created_with"), str) or not body["created_with"].strip():
            raise ApiError(400, "created_with needs to be provided an a valid string")
        if "workspace_id" in body and body["workspace_id"] != s.workspace_id:
            raise ApiError(400, "Workspace ID in the body does not match the path")
        with s.lock:
            ch = entry_changes(s, body, ctx.user, None)
            user_id = ch.pop("user_id", ctx.user.id)
            ch.setdefault("description", None)
            if ch["stop"] is None:
                self.world.stop_running_elsewhere(s, user_id, ch["start"])
            e = s.create_entry(user_id=user_id, **ch)
            echo = body.get("duration") if isinstance(body.get("duration"), int) else None
            d = entry_v9(s, e, write_echo=True, echo_duration=echo)
            if "stop" not in body and body.get("duration") is None:
                d["stop"], d["duration"] = None, 0  # observed echo for a start-only POST
            if not e.tag_ids and "tags" not in body and "tag_ids" not in body:
                d["tags"] = d["tag_ids"] = None  # observed: null right after creation without tags
            return json_reply(d)

    def update(self, ctx: Ctx) -> Reply:
        s, body = ctx.store, ctx.json_object()
        with s.lock:
            old = self._own_entry(ctx)
            ch = entry_changes(s, body, ctx.user, old)
            if ch.get("stop", 0) is None and old.stop is not None:  # restarting: one timer per user
                user_id = ch.get("user_id", old.user_id)
                other = s.running.get(user_id)
                if other is not None and other != old.id:
                    s.stop_entry(other)
                self.world.stop_running_elsewhere(s, user_id, s.now())
            return json_reply(entry_v9(s, s.update_entry(old.id, **ch), write_echo=True))

    def delete(self, ctx: Ctx) -> Reply:
        with ctx.store.lock:
            ctx.store.delete_entry(self._own_entry(ctx).id)
        return Reply(200, b"", {})

    def stop(self, ctx: Ctx) -> Reply:
        s = ctx.store
        with s.lock:
            e = self._own_entry(ctx)
            try:
                e = s.stop_entry(e.id)
            except Conflict as exc:
                raise ApiError(409, str(exc)) from None
            return json_reply(entry_v9(s, e, write_echo=True))
