"""Transport, auth, quotas, rate limiting, fault injection, control endpoints and the ``Simulator`` facade."""

from __future__ import annotations

import base64
import binascii
import json
import math
import random
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from .api import JSON_TYPE, Api, ApiError, Ctx, Reply, error_reply, json_reply
from .config import FAULT_KINDS, QUOTA_TOTALS, SimulatorConfig
from .generate import generate
from .store import Conflict, Entry, NotFound, Store, User
from .timefmt import UTC, day_start, parse_instant

HTML_429 = (
    b"<html>\r\n<head><title>429 Too Many Requests</title></head>\r\n<body>\r\n"
    b"<center><h1>429 Too Many Requests</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
HTML_502 = (
    b'<html><head>\n<meta http-equiv="content-type" content="text/html;charset=utf-8">\n'
    b"<title>502 Server Error</title>\n</head>\n<body text=#000000 bgcolor=#ffffff>\n"
    b"<h1>Error: Server Error</h1>\n<h2>The server encountered a temporary error and could not "
    b"complete your request.<p>Please try again in 30 seconds.</h2>\n</body></html>\n"
)
HTML_503 = (
    b"<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
    b"<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


class _Quota:
    """Per-(user, organization) request windows.

    The window is anchored at the first request and resets ``window`` seconds later (KB-LIMITS: "the count
    starts at the first request and is valid for 60 minutes, then resets").
    """

    def __init__(self, plan: str | None, window: float, user_quota: int) -> None:
        self.plan = plan
        self.window = window
        self.user_quota = user_quota
        self.buckets: dict[tuple[int, int | None], list[float]] = {}  # key -> [window start, count]
        self.lock = threading.Lock()

    def total(self, org: int | None) -> int:
        return self.user_quota if org is None else QUOTA_TOTALS[self.plan or "premium"]

    def _bucket(self, key: tuple[int, int | None], now: float) -> list[float]:
        b = self.buckets.get(key)
        if b is None or now >= b[0] + self.window:
            b = self.buckets[key] = [now, 0]
        return b

    def take(self, user_id: int, org: int | None) -> tuple[bool, int, int]:
        """Consume one request: (allowed, remaining, resets_in seconds)."""
        now = time.monotonic()
        with self.lock:
            b = self._bucket((user_id, org), now)
            total = self.total(org)
            resets_in = max(0, math.ceil(b[0] + self.window - now))
            if b[1] >= total:
                return False, 0, resets_in
            b[1] += 1
            return True, int(total - b[1]), resets_in

    def peek(self, user_id: int, org: int | None) -> tuple[int, int]:
        now = time.monotonic()
        with self.lock:
            b = self.buckets.get((user_id, org))
            if b is None or now >= b[0] + self.window:
                return self.total(org), math.ceil(self.window)
            return int(max(0, self.total(org) - b[1])), max(0, math.ceil(b[0] + self.window - now))


class _LeakyBucket:
    """Legacy safeguard: ``rate`` requests/second per (token, client IP), burst of max(1, rate)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.levels: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        with self.lock:
            level, last = self.levels.get(key, (0.0, now))
            level = max(0.0, level - (now - last) * self.rate)
            if level + 1 > max(1.0, self.rate) + 1e-9:
                self.levels[key] = (level, now)
                return False
            self.levels[key] = (level + 1, now)
            return True


class App:
    """Everything behind the socket: a request in, a ``Reply`` (plus a delivery mode) out."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        if config.clock_start is not None:
            offset = config.clock_start.timestamp() - time.time()
            self.clock = lambda: time.time() + offset
        else:
            self.clock = time.time
        self.store = Store(self.clock)
        generate(config.spec, self.store)
        self.api = Api(self.store, config)
        self.api.quota_info = self._quota_info
        self.quota = _Quota(config.quota_plan, config.quota_window_seconds, config.user_quota)
        self.leaky = _LeakyBucket(config.rate_limit_per_second) if config.rate_limit_per_second else None
        self.stats_lock = threading.Lock()
        self.total = 0
        self.by_endpoint: dict[str, int] = {}
        self.faults_injected = 0
        self.set_faults(config.fault_rate, config.fault_kinds, config.fault_seed)

    # ------------------------------------------------------------------ runtime controls
    def set_faults(self, rate: float, kinds: tuple[str, ...] | list[str] | None = None, seed: int = 0) -> None:
        kinds = tuple(kinds) if kinds is not None else FAULT_KINDS
        unknown = set(kinds) - set(FAULT_KINDS)
        if unknown or not 0 <= rate <= 1:
            raise ValueError(f"bad fault settings: rate={rate} unknown kinds={sorted(unknown)}")
        with self.stats_lock:
            self.fault_rate, self.fault_kinds = float(rate), kinds
            self.fault_rng = random.Random(seed)

    def set_quota(self, plan: str | None, window_seconds: float | None = None) -> None:
        if plan is not None and plan not in QUOTA_TOTALS:
            raise ValueError(f"quota plan must be None or one of {tuple(QUOTA_TOTALS)}")
        window = self.quota.window if window_seconds is None else float(window_seconds)
        self.quota = _Quota(plan, window, self.config.user_quota)

    def stats(self) -> dict[str, Any]:
        q = self.quota
        owner = self.store.owner_id
        remaining = resets = user_remaining = user_resets = None
        if q.plan is not None:
            remaining, resets = q.peek(owner, self.store.organization_id)
            user_remaining, user_resets = q.peek(owner, None)
        with self.stats_lock:
            return {
                "total": self.total,
                "by_endpoint": dict(self.by_endpoint),
                "faults_injected": self.faults_injected,
                "quota": {
                    "plan": q.plan,
                    "remaining": remaining,
                    "resets_in": resets,
                    "user_remaining": user_remaining,
                    "user_resets_in": user_resets,
                },
            }

    def reset_stats(self) -> None:
        with self.stats_lock:
            self.total, self.by_endpoint, self.faults_injected = 0, {}, 0

    def _quota_info(self, user: User) -> list[dict[str, Any]]:
        out = []
        for org in (self.store.organization_id, None):
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
    def _roll_fault(self) -> str | None:
        with self.stats_lock:
            if self.fault_rate <= 0 or not self.fault_kinds:
                return None
            if self.fault_rng.random() >= self.fault_rate:
                return None
            self.faults_injected += 1
            return self.fault_rng.choice(self.fault_kinds)

    def _authenticate(self, header: str | None) -> User | Reply:
        if not header:
            # Observed: 401, empty body, X-Authorization-Missing (VCR).
            return Reply(401, b"", {"X-Authorization-Missing": "true"})
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return error_reply(403, "Incorrect username and/or password")
        try:
            name, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return error_reply(403, "Incorrect username and/or password")
        s = self.store
        user = s.user_by_token(name) if password == "api_token" else s.user_by_login(name, password)
        if user is None:
            return error_reply(403, "Incorrect username and/or password")  # §8.1: body unknown, JSON string
        return user

    def handle(self, method: str, path: str, query: str, body: bytes, headers: Any, client: str) -> tuple[Reply, str]:
        """Returns (reply, delivery mode): mode is "normal", "drop", "truncate"."""
        route, params, exists = self.api.match(method, path)
        key = f"{method} {route.template}" if route else f"{method} (unmatched)"
        with self.stats_lock:
            self.total += 1
            self.by_endpoint[key] = self.by_endpoint.get(key, 0) + 1
        fault = self._roll_fault()
        if fault == "drop":
            return Reply(0), "drop"
        if fault in ("500", "502", "503", "429"):
            return self._fault_reply(fault), "normal"
        if fault == "slow":
            time.sleep(self.config.slow_seconds)
        if fault in ("truncate", "malformed") and route is not None and not route.read_only:
            # Faulted writes never change data: fabricate the broken body instead of running the handler.
            s = self.store
            fake = json.dumps({"id": s.next_entry_id, "workspace_id": s.workspace_id}).encode()
            return self._mangle(Reply(200, fake, {"Content-Type": JSON_TYPE}), fault)
        reply = self._answer(method, path, route, params, exists, query, body, headers, client)
        if fault in ("truncate", "malformed"):
            return self._mangle(reply, fault)
        return reply, "normal"

    def _mangle(self, reply: Reply, fault: str) -> tuple[Reply, str]:
        if fault == "truncate":
            return reply, "truncate"
        body = reply.body[: max(1, len(reply.body) // 2)] + b'"}\x00{,'  # not JSON whatever it was
        return Reply(200, body, {**reply.headers, "Content-Type": JSON_TYPE}), "normal"

    def _fault_reply(self, kind: str) -> Reply:
        if kind == "500":
            return error_reply(500, "Internal Server Error")
        if kind == "502":
            return Reply(502, HTML_502, {"Content-Type": "text/html; charset=UTF-8"})
        if kind == "503":
            return Reply(503, HTML_503, {"Content-Type": "text/html"})
        with self.stats_lock:
            retry = self.fault_rng.random() < 0.5
        return Reply(429, HTML_429, {"Content-Type": "text/html", **({"Retry-After": "1"} if retry else {})})

    def _answer(
        self,
        method: str,
        path: str,
        route: Any,
        params: dict[str, str],
        exists: bool,
        query: str,
        body: bytes,
        headers: Any,
        client: str,
    ) -> Reply:
        auth = headers.get("Authorization")
        if self.leaky is not None and not self.leaky.allow(f"{auth}|{client}"):
            return Reply(429, HTML_429, {"Content-Type": "text/html"})
        user = self._authenticate(auth)
        if isinstance(user, Reply):
            return user
        if route is None:
            if exists:
                return error_reply(405, "Method Not Allowed")
            return error_reply(404, "404 page not found")
        if route.paid_feature and self.store.plan == "free":
            # Plan restriction: 402 WITHOUT quota headers, not counted against the quota.
            return error_reply(402, "Available only for premium workspaces")
        quota_headers: dict[str, str] = {}
        if self.quota.plan is not None:
            org = None if route.user_bucket else self.store.organization_id
            ok, remaining, resets_in = self.quota.take(user.id, org)
            quota_headers = {"X-Toggl-Quota-Remaining": str(remaining), "X-Toggl-Quota-Resets-In": str(resets_in)}
            if not ok:
                msg = (
                    f"You have hit your hourly API request quota. Please wait {resets_in} seconds or upgrade your plan."
                )
                r = error_reply(402, msg)
                r.headers.update(quota_headers)
                return r
        q = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        try:
            reply = route.handler(Ctx(user, params, q, body))
        except ApiError as exc:
            reply = error_reply(exc.status, exc.message)
        except NotFound:
            reply = error_reply(404, "Resource can not be found")
        except Conflict as exc:
            reply = error_reply(409, str(exc))
        except ValueError as exc:
            reply = error_reply(400, str(exc))
        reply.headers.update(quota_headers)
        return reply

    # ------------------------------------------------------------------ /_simulator control endpoints
    def control(self, method: str, path: str, query: str, body: bytes) -> Reply:
        try:
            data = json.loads(body) if body.strip() else {}
        except ValueError:
            return error_reply(400, "invalid JSON")
        q = {k: v[-1] for k, v in parse_qs(query).items()}
        try:
            if method == "GET" and path == "/_simulator/stats":
                return json_reply(self.stats())
            if method == "POST" and path == "/_simulator/reset_stats":
                self.reset_stats()
                return json_reply(self.stats())
            if method == "POST" and path == "/_simulator/faults":
                self.set_faults(float(data.get("rate", 0.0)), data.get("kinds"), int(data.get("seed", 0)))
                return json_reply({"rate": self.fault_rate, "kinds": list(self.fault_kinds)})
            if method == "POST" and path == "/_simulator/quota":
                self.set_quota(data.get("plan"), data.get("window_seconds"))
                return json_reply({"plan": self.quota.plan, "window_seconds": self.quota.window})
            if method == "POST" and path == "/_simulator/daily_edits":
                return json_reply(
                    self.apply_daily_edits(
                        date.fromisoformat(data["day"]),
                        int(data.get("edits", 0)),
                        int(data.get("deletions", 0)),
                        int(data.get("additions", 0)),
                        int(data.get("seed", 0)),
                    )
                )
            if method == "GET" and path == "/_simulator/truth/summary":
                return json_reply(self.summary())
            if method == "GET" and path == "/_simulator/truth/entries":
                d0 = date.fromisoformat(q["start"])
                d1 = date.fromisoformat(q["end"])
                with self.store.lock:
                    return json_reply([self.store.entry_v9(e) for e in self.entries_between(d0, d1)])
        except (KeyError, ValueError, TypeError) as exc:
            return error_reply(400, f"bad control request: {exc}")
        return error_reply(404, "unknown simulator control endpoint")

    def entries_between(self, d0: date, d1: date) -> Iterator[Entry]:
        """Live entries with start in [d0 00:00 UTC, d1+1 00:00 UTC): both days inclusive."""
        return self.store.iter_range(day_start(d0), day_start(d1 + timedelta(days=1)))

    def summary(self) -> dict[str, Any]:
        s = self.store
        with s.lock:
            by_day: dict[str, int] = {}
            if len(s.starts):
                from bisect import bisect_left

                d = datetime.fromtimestamp(s.starts[0], UTC).date()
                last = datetime.fromtimestamp(s.starts[-1], UTC).date()
                while d <= last:
                    n = bisect_left(s.starts, day_start(d + timedelta(days=1))) - bisect_left(s.starts, day_start(d))
                    if n:
                        by_day[d.isoformat()] = n
                    d += timedelta(days=1)
            return {
                "workspace_id": s.workspace_id,
                "organization_id": s.organization_id,
                "plan": s.plan,
                "users": len(s.users),
                "clients": len(s.clients),
                "projects": sum(1 for p in s.projects.values() if p.deleted_at is None),
                "tags": sum(1 for t in s.tags.values() if t.deleted_at is None),
                "tasks": len(s.tasks),
                "entries": len(s.entries),
                "deleted_entries": len(s.deleted),
                "running_entry_ids": sorted(s.running.values()),
                "version": s.version,
                "entries_by_day": by_day,
            }

    def apply_daily_edits(self, day: date, edits: int, deletions: int, additions: int, seed: int = 0) -> dict[str, Any]:
        """Late edits to one UTC day: edit, delete and add entries (``at`` = now), like people fixing
        their timesheets."""
        s = self.store
        rng = random.Random(seed)
        with s.lock:
            pool = [
                e.id for e in s.iter_range(day_start(day), day_start(day + timedelta(days=1))) if e.stop is not None
            ]
            rng.shuffle(pool)
            to_delete = pool[:deletions]
            to_edit = pool[deletions : deletions + edits]
            projects = [p.id for p in s.projects.values() if p.deleted_at is None and p.active]
            tags = [t.id for t in s.tags.values() if t.deleted_at is None]
            edited = []
            for i, eid in enumerate(to_edit):
                e = s.entries[eid]
                kind = i % 4
                if kind == 0:
                    ch: dict[str, Any] = {"description": f"{e.description or ''} (edited)".strip()}
                elif kind == 1:
                    ch = {"stop": e.stop + rng.randrange(60, 1800)}
                elif kind == 2 and projects:
                    ch = {"project_id": rng.choice(projects), "task_id": None}
                else:
                    ch = {"tag_ids": tuple(rng.sample(tags, min(len(tags), 2))), "billable": not e.billable}
                s.update_entry(eid, **ch)
                edited.append(eid)
            for eid in to_delete:
                s.delete_entry(eid)
            added = []
            users = [u.id for u in s.users.values() if u.active]
            for _ in range(additions):
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
                added.append(e.id)
            return {"day": day.isoformat(), "edited": edited, "deleted": to_delete, "added": added}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse connections like they would with nginx
    server_version = "nginx"
    sys_version = ""
    timeout = 120  # idle keep-alive connections are closed eventually
    server: _Server

    def version_string(self) -> str:
        return "nginx"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _serve(self) -> None:
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        app = self.server.app
        if path.startswith("/_simulator/"):
            self._send(app.control(self.command, path, query, body))
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
        owner = self._app.store.users[self._app.store.owner_id]
        self.api_token = owner.token
        self.email = owner.email
        self.password = owner.password
        self.workspace_id = self._app.store.workspace_id
        self.organization_id = self._app.store.organization_id
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
    def user_tokens(self) -> dict[int, str]:
        """API token of every workspace user (the owner's is ``api_token``)."""
        return {u.id: u.token for u in self._app.store.users.values()}

    # ------------------------------------------------------------------ controls
    def stats(self) -> dict[str, Any]:
        return self._app.stats()

    def reset_stats(self) -> None:
        self._app.reset_stats()

    def set_faults(self, rate: float, kinds: tuple[str, ...] | list[str] | None = None, seed: int = 0) -> None:
        self._app.set_faults(rate, kinds, seed)

    def set_quota(self, plan: str | None, window_seconds: float | None = None) -> None:
        self._app.set_quota(plan, window_seconds)

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
    ) -> dict[str, Any]:
        """Create an entry as if the user did it in Toggl. duration None or negative = running."""
        s = self._app.store
        with s.lock:
            st = _ts(start) if start is not None else s.now()
            stop = None if duration_seconds is None or duration_seconds < 0 else st + duration_seconds
            tag_ids = [t if isinstance(t, int) else s.tag_id_for_name(t, user_id or s.owner_id) for t in (tags or [])]
            e = s.create_entry(
                user_id=user_id or s.owner_id,
                start=st,
                stop=stop,
                description=description,
                project_id=project_id,
                task_id=task_id,
                tag_ids=tag_ids,
                billable=billable,
            )
            return s.entry_v9(e)

    def update_entry(self, entry_id: int, **fields: Any) -> dict[str, Any]:
        """Change v9-named fields (description, start, stop, duration, project_id, task_id, tags, tag_ids,
        billable, user_id). Times may be datetimes or RFC3339 strings."""
        s = self._app.store
        with s.lock:
            old = s.entries.get(entry_id)
            if old is None:
                raise KeyError(entry_id)
            ch: dict[str, Any] = {}
            for k, v in fields.items():
                if k in ("start", "stop"):
                    ch[k] = None if v is None else _ts(v)
                elif k == "duration":
                    start = ch.get("start", old.start)
                    ch["stop"] = None if v is None or v < 0 else start + v
                elif k == "tags":
                    ch["tag_ids"] = [t if isinstance(t, int) else s.tag_id_for_name(t, old.user_id) for t in v]
                elif k in ("description", "project_id", "task_id", "tag_ids", "billable", "user_id"):
                    ch[k] = v
                else:
                    raise TypeError(f"unknown time entry field {k!r}")
            if "start" in ch and "stop" not in ch and old.stop is not None:
                ch["stop"] = ch["start"] + old.stop - old.start
            return s.entry_v9(s.update_entry(entry_id, **ch))

    def delete_entry(self, entry_id: int) -> None:
        try:
            self._app.store.delete_entry(entry_id)
        except NotFound:
            raise KeyError(entry_id) from None

    def running_entry(self, user_id: int | None = None) -> dict[str, Any] | None:
        s = self._app.store
        with s.lock:
            rid = s.running.get(user_id or s.owner_id)
            return None if rid is None else s.entry_v9(s.entries[rid])

    def apply_daily_edits(self, day: date, edits: int, deletions: int, additions: int, seed: int = 0) -> dict[str, Any]:
        return self._app.apply_daily_edits(day, edits, deletions, additions, seed)


def _ts(v: datetime | str | int) -> int:
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        return parse_instant(v)[0]
    if v.tzinfo is None:
        raise ValueError("naive datetime: pass an aware datetime (UTC)")
    return int(v.timestamp())


class Truth:
    """Ground truth, read in-process. List properties build fresh v9-shaped dicts on every access."""

    def __init__(self, app: App) -> None:
        self._app = app
        self.store = app.store

    @property
    def workspace(self) -> dict[str, Any]:
        s = self.store
        return self._app.api.workspace_json(s.users[s.owner_id])

    @property
    def users(self) -> list[dict[str, Any]]:
        """Workspace users in /workspace_users shape (``uid``, ``rate``, ``timezone``...) + ``api_token``."""
        api = self._app.api
        return [{**api.workspace_user_json(u), "api_token": u.token} for u in self.store.users.values()]

    @property
    def clients(self) -> list[dict[str, Any]]:
        """All clients, archived included."""
        return [self._app.api.client_json(c) for c in self.store.clients.values()]

    @property
    def projects(self) -> list[dict[str, Any]]:
        """Projects listed by /projects?active=both (deleted ones excluded, private included)."""
        actual = self._app.api._actual_seconds_by_project()
        return [self._app.api.project_json(p, actual) for p in self.store.projects.values() if p.deleted_at is None]

    @property
    def deleted_projects(self) -> list[dict[str, Any]]:
        actual = self._app.api._actual_seconds_by_project()
        return [self._app.api.project_json(p, actual) for p in self.store.projects.values() if p.deleted_at is not None]

    @property
    def tags(self) -> list[dict[str, Any]]:
        return [self._app.api.tag_json(t) for t in self.store.tags.values() if t.deleted_at is None]

    @property
    def deleted_tag_ids(self) -> list[int]:
        return [t.id for t in self.store.tags.values() if t.deleted_at is not None]

    @property
    def tasks(self) -> list[dict[str, Any]]:
        tracked = self.store.tracked_ms_by_task()
        return [self._app.api.task_json(t, tracked) for t in self.store.tasks.values()]

    @property
    def entries(self) -> list[dict[str, Any]]:
        """Live entries (running included) in v9 read shape, ordered by (start, id). Materializes everything:
        for big workspaces prefer ``entry_count`` / ``iter_entries`` / ``entries_between``."""
        with self.store.lock:
            return [self.store.entry_v9(e) for e in self.store.iter_range()]

    @property
    def entry_count(self) -> int:
        return len(self.store.entries)

    def iter_entries(self) -> Iterator[dict[str, Any]]:
        with self.store.lock:
            snapshot = list(self.store.iter_range())
        for e in snapshot:
            yield self.store.entry_v9(e)

    def entries_between(self, start: date, end: date) -> list[dict[str, Any]]:
        """Live entries whose start falls on UTC days start..end (inclusive)."""
        with self.store.lock:
            return [self.store.entry_v9(e) for e in self._app.entries_between(start, end)]

    def entry(self, entry_id: int) -> dict[str, Any] | None:
        e = self.store.entries.get(entry_id)
        return None if e is None else self.store.entry_v9(e)

    @property
    def deleted_entry_ids(self) -> set[int]:
        return set(self.store.deleted)

    def report_rate(self, entry_id: int) -> tuple[int | None, str]:
        """(hourly rate in cents, currency) the reports use for this entry, ignoring ``billable``."""
        return self.store.rate_for(self.store.entries[entry_id])

    def summary(self) -> dict[str, Any]:
        return self._app.summary()
