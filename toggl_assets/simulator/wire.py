"""What handlers see and return: the request context, the reply, errors and routes. No sockets here."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from .store import Store, User

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
    # Compact UTF-8 JSON, as the real API sends; msgspec writes a page of 10,000 report rows several times faster
    # than the json module, byte for byte the same text (floats aside: 1e16 for 1e+16, both valid JSON).
    body = msgspec.json.encode(value)
    return Reply(status, body, {"Content-Type": JSON_TYPE, **(headers or {})})


def error_reply(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    return json_reply(message, status, headers)


@dataclass
class Ctx:
    """One request. ``store`` is the workspace of a ``{wid}`` route (already checked readable by ``user``),
    else the user's default workspace; ``user`` is the caller's membership record in that workspace."""

    user: User
    params: dict[str, str]
    query: dict[str, str]
    body: bytes
    store: Store

    def json(self) -> Any:
        if not self.body.strip():
            return {}
        try:
            return json.loads(self.body)
        except ValueError:
            raise ApiError(400, "Invalid JSON input") from None

    def json_object(self) -> dict[str, Any]:
        body = self.json()
        if not isinstance(body, dict):
            raise ApiError(400, "Invalid JSON input")
        return body

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

    def entry_id(self) -> int:
        try:
            return int(self.params["id"])
        except ValueError:
            raise ApiError(400, "Invalid time entry ID") from None


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
    reports: bool = False  # Reports API: its own 403 wording for an unreadable workspace

    @property
    def workspace_scoped(self) -> bool:
        return "{wid}" in self.template


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, template: str, handler: Handler, **kw: Any) -> None:
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
