"""Transport and the request pipeline (faults, leaky bucket, auth, workspace access, quotas), and the
``Simulator`` facade tests and tools use."""

from __future__ import annotations

import base64
import binascii
import json
import sys
import threading
import time
import uuid
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from .api import Api
from .config import QUOTA_TOTALS, SimulatorConfig
from .control import Control, apply_daily_edits
from .faults import BODY_KINDS, ERROR_KINDS, HTML_429, Faults, mangle
from .generate import populate
from .quota import LeakyBucket, Quota
from .serialize import entry_v9
from .store import Conflict, NotFound, User
from .timefmt import parse_instant
from .truth import Truth
from .wire import JSON_TYPE, ApiError, Ctx, Reply, Route, error_reply
from .world import World

BAD_LOGIN = "Incorrect username and/or password"
V9_NO_ACCESS = "Incorrect workspace ID or you are not a member of it"
REPORTS_NO_ACCESS = "Workspace not found/accessible"  # SW-R3, OFF-DET


class App:
    """Everything behind the socket: a request in, a ``Reply`` (plus a delivery mode) out."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        if config.clock_start is not None:
            offset = config.clock_start.timestamp() - time.time()
            self.clock = lambda: time.time() + offset
        else:
            self.clock = time.time
        self.world = World(self.clock)
        populate(self.world, config.specs)
        self.store = self.world.first  # the default workspace
        self.api = Api(self.world, config, self._quota_info)
        self.control = Control(self)
        self.quota = Quota(config.quota_plan, config.quota_window_seconds, config.user_quota)
        self.leaky = LeakyBucket(config.rate_limit_per_second) if config.rate_limit_per_second else None
        self.faults = Faults()
        self.faults.set(config.fault_rate, config.fault_kinds, config.fault_seed)
        self.stats_lock = threading.Lock()
        self.total = 0
        self.by_endpoint: dict[str, int] = {}
        self.connections = 0  # TCP connections accepted: a client that keeps its connections alive opens few

    # ------------------------------------------------------------------ runtime controls
    def set_quota(self, plan: str | None, window_seconds: float | None = None) -> None:
        if plan is not None and plan not in QUOTA_TOTALS:
            raise ValueError(f"quota plan must be None or one of {tuple(QUOTA_TOTALS)}")
        window = self.quota.window if window_seconds is None else float(window_seconds)
        self.quota = Quota(plan, window, self.config.user_quota)

    def stats(self) -> dict[str, Any]:
        """Request counts and the owner's quota: ``remaining``/``resets_in`` of the default workspace's
        organization, ``organizations`` of each, ``user_*`` of the user bucket (None without quotas)."""
        q, owner = self.quota, self.world.owner_id
        quota: dict[str, Any] = dict.fromkeys(("remaining", "resets_in", "user_remaining", "user_resets_in"))
        quota["organizations"] = {}
        if q.plan is not None:
            quota["remaining"], quota["resets_in"] = q.peek(owner, self.store.organization_id)
            quota["user_remaining"], quota["user_resets_in"] = q.peek(owner, None)
            for org in self.world.organizations:
                remaining, resets = q.peek(owner, org)
                quota["organizations"][str(org)] = {"remaining": remaining, "resets_in": resets}
        with self.stats_lock:
            return {
                "total": self.total,
                "by_endpoint": dict(self.by_endpoint),
                "connections": self.connections,
                "faults_injected": self.faults.injected,
                "quota": {"plan": q.plan, **quota},
            }

    def reset_stats(self) -> None:
        with self.stats_lock:
            self.total, self.by_endpoint, self.connections = 0, {}, 0
        with self.faults.lock:
            self.faults.injected = 0

    def _quota_info(self, user: User) -> list[dict[str, Any]]:
        orgs: list[int | None] = [o.id for o in self.world.organizations_of(user.id)]
        out = []
        for org in [*orgs, None]:
            remaining, resets = self.quota.peek(user.id, org)
            out.append(
                {
                    "organization_id": org,
                    "remaining": remaining,
                    "resets_in_secs": resets,
                    "total": self.quota.total(org),
                }
            )
        return out

    # ------------------------------------------------------------------ the request pipeline
    def handle(self, method: str, path: str, query: str, body: bytes, headers: Any, client: str) -> tuple[Reply, str]:
        """Returns (reply, delivery mode): mode is "normal", "drop", "truncate"."""
        route, params, exists = self.api.match(method, path)
        key = f"{method} {route.template}" if route else f"{method} (unmatched)"
        with self.stats_lock:
            self.total += 1
            self.by_endpoint[key] = self.by_endpoint.get(key, 0) + 1
        fault = self.faults.roll()
        if fault == "drop":
            return Reply(0), "drop"
        if fault in ERROR_KINDS:
            return self.faults.error_reply(fault), "normal"
        if fault == "slow":
            time.sleep(self.config.slow_seconds)
        if fault in BODY_KINDS and route is not None and not route.read_only:
            # Faulted writes never change data: fabricate the broken body instead of running the handler.
            fake = json.dumps({"id": self.world.entry_ids.next, "workspace_id": self.store.workspace_id}).encode()
            return mangle(Reply(200, fake, {"Content-Type": JSON_TYPE}), fault)
        auth = headers.get("Authorization")
        if self.leaky is not None and not self.leaky.allow(f"{auth}|{client}"):
            reply = Reply(429, HTML_429, {"Content-Type": "text/html"})
        else:
            reply = self._answer(route, params, exists, query, body, auth)
        if fault in BODY_KINDS:
            return mangle(reply, fault)
        return reply, "normal"

    def _authenticate(self, header: str | None) -> User | Reply:
        if not header:
            # Observed: 401, empty body, X-Authorization-Missing (VCR).
            return Reply(401, b"", {"X-Authorization-Missing": "true"})
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return error_reply(403, BAD_LOGIN)
        try:
            name, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return error_reply(403, BAD_LOGIN)
        w = self.world
        user = w.user_by_token(name) if password == "api_token" else w.user_by_login(name, password)
        return error_reply(403, BAD_LOGIN) if user is None else user  # §8.1: body unknown, JSON string

    def _context(self, route: Route, params: dict[str, str], user: User, query: str, body: bytes) -> Ctx | Reply:
        """The workspace the request addresses (403 if the user cannot read it) and the caller in it."""
        store = self.world.home(user.id)
        if route.workspace_scoped:
            try:
                wid = int(params["wid"])
            except ValueError:
                return error_reply(400, "Invalid workspace id")
            found = self.world.readable_store(wid, user.id)
            if found is None:
                return error_reply(403, REPORTS_NO_ACCESS if route.reports else V9_NO_ACCESS)
            store = found
        member = store.users.get(user.id, user)
        q = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        return Ctx(member, params, q, body, store)

    def _answer(
        self, route: Route | None, params: dict[str, str], exists: bool, query: str, body: bytes, auth: str | None
    ) -> Reply:
        user = self._authenticate(auth)
        if isinstance(user, Reply):
            return user
        if route is None:
            return error_reply(405, "Method Not Allowed") if exists else error_reply(404, "404 page not found")
        ctx = self._context(route, params, user, query, body)
        if isinstance(ctx, Reply):
            return ctx  # like auth failures: no quota headers, no quota used
        if route.paid_feature and ctx.store.plan == "free":
            # Plan restriction: 402 WITHOUT quota headers, not counted against the quota.
            return error_reply(402, "Available only for premium workspaces")
        quota_headers: dict[str, str] = {}
        if self.quota.plan is not None:
            ok, remaining, resets_in = self.quota.take(
                user.id, None if route.user_bucket else ctx.store.organization_id
            )
            quota_headers = {"X-Toggl-Quota-Remaining": str(remaining), "X-Toggl-Quota-Resets-In": str(resets_in)}
            if not ok:
                msg = (
                    f"You have hit your hourly API request quota. Please wait {resets_in} seconds or upgrade your plan."
                )
                return error_reply(402, msg, headers=quota_headers)
        reply = _run(route, ctx)
        reply.headers.update(quota_headers)
        return reply


def _run(route: Route, ctx: Ctx) -> Reply:
    try:
        return route.handler(ctx)
    except ApiError as exc:
        return error_reply(exc.status, exc.message)
    except NotFound:
        return error_reply(404, "Resource can not be found")
    except Conflict as exc:
        return error_reply(409, str(exc))
    except ValueError as exc:
        return error_reply(400, str(exc))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse connections like they would with nginx
    server_version = "nginx"
    sys_version = ""
    timeout = 120  # idle keep-alive connections are closed eventually
    server: _Server

    def version_string(self) -> str:
        return "nginx"

    def setup(self) -> None:
        super().setup()
        app = self.server.app
        with app.stats_lock:
            app.connections += 1

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _serve(self) -> None:
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        app = self.server.app
        if path.startswith("/_simulator/"):
            self._send(app.control.handle(self.command, path, query, body))
            return
        reply, mode = app.handle(self.command, path, query, body, self.headers, self.client_address[0])
        if mode == "drop":
            self.close_connection = True  # close the socket without any response
            return
        self._send(reply, truncate=mode == "truncate")

    def _send(self, reply: Reply, truncate: bool = False) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("X-Toggl-Request-Id", str(uuid.uuid4()))
        for k, v in reply.headers.items():
            self.send_header(k, v)
        if truncate:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(reply.body[: len(reply.body) // 2] if truncate else reply.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    app: App

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away mid-answer (killed sync, timeout) is normal here, not worth a traceback.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class Simulator:
    """A running simulated Toggl API (see the package docstring). Usable as a context manager."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self._app = App(self.config)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        world = self._app.world
        owner = world.first.users[world.owner_id]
        self.api_token = owner.token
        self.email = owner.email
        self.password = owner.password
        self.workspace_id = world.first.workspace_id
        self.organization_id = world.first.organization_id
        self.truth = Truth(self._app)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Simulator:
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", self.config.port), _Handler)  # loopback only
        server.app = self._app
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="toggl-simulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("simulator is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def workspace_ids(self) -> list[int]:
        """Every workspace's id, the default one (``workspace_id``) first."""
        return list(self._app.world.stores)

    @property
    def organization_ids(self) -> list[int]:
        """Every organization's id, the default workspace's (``organization_id``) first."""
        return list(self._app.world.organizations)

    def organization_of(self, workspace_id: int) -> int:
        return self._app.world.store(workspace_id).organization_id

    @property
    def user_tokens(self) -> dict[int, str]:
        """API token of every user of every workspace (the owner's is ``api_token``)."""
        return {u.id: u.token for s in self._app.world.stores.values() for u in s.users.values()}

    # ------------------------------------------------------------------ controls
    def stats(self) -> dict[str, Any]:
        return self._app.stats()

    def reset_stats(self) -> None:
        self._app.reset_stats()

    def set_faults(self, rate: float, kinds: tuple[str, ...] | list[str] | None = None, seed: int = 0) -> None:
        self._app.faults.set(rate, kinds, seed)

    def set_quota(self, plan: str | None, window_seconds: float | None = None) -> None:
        self._app.set_quota(plan, window_seconds)

    def remove_membership(self, workspace_id: int, user_id: int | None = None) -> None:
        """The user (default: the token's user) loses access to the workspace: every v9 and Reports request
        on it answers 403 and /me/workspaces stops listing it. Their entries stay in the workspace."""
        self._app.world.set_membership(workspace_id, user_id or self._app.world.owner_id, False)

    def restore_membership(self, workspace_id: int, user_id: int | None = None) -> None:
        self._app.world.set_membership(workspace_id, user_id or self._app.world.owner_id, True)

    # ------------------------------------------------------------------ direct data manipulation
    def create_entry(
        self,
        user_id: int | None = None,
        start: datetime | str | None = None,
        duration_seconds: int | None = 3600,
        description: str | None = None,
        project_id: int | None = None,
        tags: list[str] | list[int] | None = None,
        billable: bool = False,
        task_id: int | None = None,
        workspace_id: int | None = None,
    ) -> dict[str, Any]:
        """Create an entry as if the user did it in Toggl, in ``workspace_id`` (default: the first).
        ``start`` may be any time, back-dated included. duration None or negative = running."""
        world = self._app.world
        s = world.store(workspace_id)
        with s.lock:
            uid = user_id or world.owner_id
            st = _ts(start) if start is not None else s.now()
            stop = None if duration_seconds is None or duration_seconds < 0 else st + duration_seconds
            tag_ids = [t if isinstance(t, int) else s.tag_id_for_name(t, uid) for t in (tags or [])]
            if stop is None:
                world.stop_running_elsewhere(s, uid, st)
            e = s.create_entry(
                user_id=uid,
                start=st,
                stop=stop,
                description=description,
                project_id=project_id,
                task_id=task_id,
                tag_ids=tag_ids,
                billable=billable,
            )
            return entry_v9(s, e)

    def update_entry(self, entry_id: int, **fields: Any) -> dict[str, Any]:
        """Change v9-named fields (description, start, stop, duration, project_id, task_id, tags, tag_ids,
        billable, user_id) of an entry of any workspace. Times may be datetimes or RFC3339 strings; a new
        ``start`` on another day moves the entry (keeping its duration unless stop/duration is given). Every
        update moves the entry's ``at``."""
        s = self._app.world.store_of_entry(entry_id)
        if s is None:
            raise KeyError(entry_id)
        with s.lock:
            old = s.entries[entry_id]
            ch: dict[str, Any] = {}
            for k, v in fields.items():
                if k in ("start", "stop"):
                    ch[k] = None if v is None else _ts(v)
                elif k == "duration":
                    ch["stop"] = None if v is None or v < 0 else ch.get("start", old.start) + v
                elif k == "tags":
                    ch["tag_ids"] = [t if isinstance(t, int) else s.tag_id_for_name(t, old.user_id) for t in v]
                elif k in ("description", "project_id", "task_id", "tag_ids", "billable", "user_id"):
                    ch[k] = v
                else:
                    raise TypeError(f"unknown time entry field {k!r}")
            if "start" in ch and "stop" not in ch and old.stop is not None:
                ch["stop"] = ch["start"] + old.stop - old.start
            return entry_v9(s, s.update_entry(entry_id, **ch))

    def delete_entry(self, entry_id: int) -> None:
        """Delete an entry of any workspace (KeyError if there is no such live entry)."""
        s = self._app.world.store_of_entry(entry_id)
        if s is None:
            raise KeyError(entry_id)
        s.delete_entry(entry_id)

    def running_entry(self, user_id: int | None = None) -> dict[str, Any] | None:
        """The user's (default: the owner's) running entry, in whichever workspace it runs."""
        world = self._app.world
        with world.lock:
            found = world.running(user_id or world.owner_id)
            return None if found is None else entry_v9(*found)

    def apply_daily_edits(
        self, day: date, edits: int, deletions: int, additions: int, seed: int = 0, workspace_id: int | None = None
    ) -> dict[str, Any]:
        """Late edits to one UTC day of a workspace (default: the first); see ``control.apply_daily_edits``."""
        return apply_daily_edits(self._app.world, day, edits, deletions, additions, seed, workspace_id)


def _ts(v: datetime | str | int) -> int:
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        return parse_instant(v)[0]
    if v.tzinfo is None:
        raise ValueError("naive datetime: pass an aware datetime (UTC)")
    return int(v.timestamp())
