"""Deterministic generation of realistic workspaces from ``WorkspaceSpec``s.

Speed matters (1,000,000 entries in a few seconds): entries are allocated per (day, user) cell by largest
remainder and laid out sequentially inside each cell's working hours, so the hot loop only does a handful
of ``random()`` calls and integer arithmetic per entry.

Ids are drawn from each spec's seed in fixed regions per kind; a draw that would overlap the ids of an
earlier workspace is drawn again, so ids are globally unique and the default workspace's data does not
depend on the others.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from operator import itemgetter
from zoneinfo import ZoneInfo

from .config import WorkspaceSpec
from .store import Client, Entry, Project, Store, Tag, Task, User
from .timefmt import UTC, day_start
from .world import Organization, World

FIRST = ["Alice", "Bob", "Chiara", "Dmitri", "Émilie", "Farid", "Grace", "Hiro", "Ingrid", "Jamal", "Kaito"]
FIRST += ["Lena", "Miguel", "Noor", "Olga", "Priya", "Quentin", "Rosa", "Sven", "Tariq"]
LAST = ["Anders", "Brown", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Hoffmann", "Ito", "Jensen"]
# Several zones, including a half-hour offset and both hemispheres' DST rules.
ZONES = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC", "America/Los_Angeles", "Asia/Kolkata"]
ZONES += ["Australia/Sydney", "Europe/London"]
CLIENTS = ["Acme Corp", "Globex", "Initech", "Müller & Söhne GmbH", "株式会社サンプル", "Stark, Inc."]
CLIENTS += ["O'Reilly Media", "Umbrella", "Wayne Enterprises", "Soylent"]
PROJECTS = ["Website Redesign", "Mobile App", "Internal", "Marketing Q1", "Data Warehouse", "Support"]
PROJECTS += ["Research", "Onboarding", "API v2", "Billing Migration", "Design System", "Security Audit"]
COLORS = ["#0b83d9", "#9e5bd9", "#d94182", "#e36a00", "#bf7000", "#2da608", "#06a893", "#c9806b", "#465bb3"]
COLORS += ["#990099", "#c7af14", "#566614", "#d92b2b", "#525266"]
EDGE_TAGS = ["urgent, high", 'say "hi"', "it's done", "café ☕"]
PLAIN_TAGS = ["billed", "meeting", "deep work", "review", "bug", "planning", "call", "travel", "admin", "research"]
VERBS = ["Fix", "Review", "Write", "Plan", "Meeting:", "Refactor", "Test", "Deploy", "Call with", "Research"]
NOUNS = ["login flow", "invoice export", "onboarding docs", "sprint", "client", "dashboard", "API limits"]
NOUNS += ["database", "release 1.4", "roadmap"]
PROJECT_RATES = [(95.5, "EUR"), (120.0, "USD"), (70.0, "GBP"), (12000.0, "JPY")]
USER_RATES = [None, 60.0, 75.5, None, 110.0, 42.25]
UNICODE_DESC = "Réunion über Straße — naïve café ☕ 🚀 日本語のテキスト 👩‍💻"
LONG_DESC = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 200)[:10_000]

# (start, stop, user, project, task, description, tag ids, billable)
Rec = tuple[int, int | None, int, int | None, int | None, str | None, tuple[int, ...], bool]


def _utc(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> int:
    return int(datetime(y, m, d, hh, mm, ss, tzinfo=UTC).timestamp())


class IdRanges:
    """Id ranges already used, per kind of object, so later workspaces draw disjoint ones."""

    def __init__(self) -> None:
        self.taken: dict[str, list[tuple[int, int]]] = {}

    def draw(self, kind: str, rng: random.Random, lo: int, step: int, count: int) -> int:
        """``lo + randrange(1_000_000) * step``, redrawn until [base, base + count) is free."""
        taken = self.taken.setdefault(kind, [])
        while True:
            base = lo + rng.randrange(1_000_000) * step
            if all(base + count <= a or b <= base for a, b in taken):
                taken.append((base, base + count))
                return base


def populate(world: World, specs: Sequence[WorkspaceSpec]) -> None:
    """Generate every workspace into ``world`` (the first spec is the default workspace)."""
    ranges = IdRanges()
    for index, spec in enumerate(specs):
        store = world.new_store()
        _Generator(spec, store, world, ranges, index).run()
        world.add(store)


class _Generator:
    """Fills one workspace. Same spec (and same earlier workspaces) -> same data, running entry aside."""

    def __init__(self, spec: WorkspaceSpec, store: Store, world: World, ranges: IdRanges, index: int) -> None:
        self.spec, self.s, self.world, self.ranges, self.index = spec, store, world, ranges, index
        self.rng = random.Random(spec.seed)
        self.range_start = day_start(spec.start)
        self.users: list[User] = []

    def run(self) -> None:
        self._workspace()
        self._users()
        self._clients()
        self._projects()
        self._tags()
        self._tasks()
        edge = self._edge_entries() if self.spec.edge_cases else []
        recs = self._regular_entries(max(0, self.spec.entries - len(edge)))
        recs.extend(edge)
        recs.sort(key=itemgetter(0))  # ids increase with start, as real ids grow with creation time
        self._materialize(recs)

    def _draw(self, kind: str, lo: int, step: int, count: int) -> int:
        return self.ranges.draw(kind, self.rng, lo, step, count)

    # ------------------------------------------------------------------ workspace and organization
    def _workspace(self) -> None:
        s, spec = self.s, self.spec
        s.plan = spec.plan
        s.workspace_id = self._draw("workspace", 4_000_000, 1, 1)
        org_id = 3_000_000 + self.rng.randrange(1_000_000)
        s.workspace_name = spec.name or f"Simulated Workspace {spec.seed}"
        s.default_currency = "USD"
        # Free workspaces have no billable rates; others get a workspace default rate.
        s.default_hourly_rate = None if spec.plan == "free" else 85.0
        s.created_at = self.range_start - 400 * 86400
        known = next((o for o in self.world.organizations.values() if o.key == spec.organization), None)
        if known is None:
            while org_id in self.world.organizations:
                org_id = 3_000_000 + self.rng.randrange(1_000_000)
            known = Organization(org_id, spec.organization, f"Organization {s.workspace_name}", spec.plan, s.created_at)
            self.world.organizations[org_id] = known
        s.organization_id = known.id

    # ------------------------------------------------------------------ users
    def _users(self) -> None:
        """The first member is the owner (admin). With edge cases the last one is deactivated, and a
        further workspace also has the default workspace's second user as a member (same global id)."""
        spec, s = self.spec, self.s
        base_uid = self._draw("user", 10_000_000, 10, spec.users * 7)
        shared = self._shared_identities()
        for i in range(spec.users):
            ident = shared[i] if i < len(shared) else None
            u = self._member(i, base_uid + i * 7, ident)
            s.users[u.id] = u
            self.users.append(u)
        s.owner_id = self.users[0].id

    def _shared_identities(self) -> list[User]:
        if self.index == 0:
            return []
        first = list(self.world.first.users.values())
        out = [first[0]]  # the token user belongs to every workspace
        if self.spec.edge_cases and self.spec.users >= 3 and len(first) >= 2:
            out.append(first[1])
        return out

    def _member(self, i: int, uid: int, ident: User | None) -> User:
        spec, s, k = self.spec, self.s, self.index
        zone = ZONES[i % len(ZONES)] if ident is None else ident.timezone
        first, last = FIRST[(i + 5 * k) % len(FIRST)], LAST[(i * 3 + k) % len(LAST)]
        suffix = "" if i < len(FIRST) else str(i)
        uid = uid if ident is None else ident.id
        created = s.created_at + i * 86400
        u = User(
            id=uid,
            wu_id=8_000_000 + uid % 1_000_000 + i + 100_000 * k,
            email=f"{first.lower()}{suffix}{f'+w{k}' if k else ''}@example.com",
            fullname=f"{first} {last}{suffix}",
            timezone=zone,
            tz=ZoneInfo(zone),
            rate=USER_RATES[i % len(USER_RATES)],
            admin=i == 0 or (i == 1 and spec.users >= 4),
            active=not (spec.edge_cases and spec.users >= 3 and i == spec.users - 1),
            token=f"{self.rng.getrandbits(128):032x}",
            password=f"pw-{self.rng.getrandbits(40):010x}",
            created_at=created,
            at_us=created * 1_000_000 + 123456,
            beginning_of_week=1,
        )
        if ident is not None:  # same person: identity from their first workspace, membership from this one
            u.email, u.fullname, u.token, u.password = ident.email, ident.fullname, ident.token, ident.password
            u.created_at, u.at_us = ident.created_at, ident.at_us
        return u

    # ------------------------------------------------------------------ metadata
    def _clients(self) -> None:
        """Every third client is archived."""
        s, n = self.s, self.spec.clients
        cid0 = self._draw("client", 60_000_000, 10, n)
        for i in range(n):
            name = CLIENTS[i % len(CLIENTS)] + ("" if i < len(CLIENTS) else f" {i}")
            s.clients[cid0 + i] = Client(cid0 + i, name, i % 3 == 2, self.users[0].id, s.created_at + 3600 * i)

    def _projects(self) -> None:
        """Some without client, some inactive, some private, some with their own rate and currency; with
        edge cases a deleted project that entries still reference."""
        s, spec = self.s, self.spec
        pid0 = self._draw("project", 200_000_000, 10, spec.projects + 2)
        client_ids = list(s.clients)
        for i in range(spec.projects):
            rate = PROJECT_RATES[(i // 4) % len(PROJECT_RATES)] if i % 4 == 0 and spec.plan != "free" else None
            p = Project(
                id=pid0 + i,
                name=PROJECTS[i % len(PROJECTS)] + ("" if i < len(PROJECTS) else f" {i}"),
                client_id=client_ids[i % len(client_ids)] if client_ids and i % 5 != 4 else None,
                active=i % 6 != 5,
                is_private=i % 4 == 3,
                billable=i % 3 != 2,
                color=COLORS[i % len(COLORS)],
                rate=None if rate is None else rate[0],
                currency=None if rate is None else rate[1],
                created_at=s.created_at + 7200 * i,
                at=s.created_at + 7200 * i + 60,
                start_date=date.fromtimestamp(s.created_at + 7200 * i).isoformat(),
            )
            s.projects[p.id] = p
        self.deleted_project = None
        if spec.edge_cases:
            # Referenced by an entry but never listed by /projects (deleted): a missing reference.
            pid = self.deleted_project = pid0 + spec.projects + 1
            created = date.fromtimestamp(s.created_at).isoformat()
            s.projects[pid] = Project(
                pid, "Deleted project", None, False, True, True, "#525266", None, None, s.created_at,
                self.range_start, created, deleted_at=self.range_start,
            )  # fmt: skip

    def _tags(self) -> None:
        """Edge-case names first (commas, quotes, unicode); with edge cases a deleted tag."""
        s, spec, owner = self.s, self.spec, self.users[0].id
        tid0 = self._draw("tag", 18_000_000, 10, spec.tags + 10)
        names = (EDGE_TAGS + PLAIN_TAGS) if spec.edge_cases else PLAIN_TAGS
        for i in range(spec.tags):
            name = names[i] if i < len(names) else f"tag {i}"
            s.tags[tid0 + i] = Tag(tid0 + i, name, owner, (s.created_at + 600 * i) * 1_000_000 + 332795)
        self.deleted_tag = None
        if spec.edge_cases:
            t = self.deleted_tag = tid0 + spec.tags + 1
            s.tags[t] = Tag(t, "obsolete tag", owner, self.range_start * 1_000_000, deleted_at=self.range_start)
        s.tag_ids.reserve_below(tid0 + spec.tags + 10)
        self.live_tags = [t for t in s.tags if t != self.deleted_tag]

    def _tasks(self) -> None:
        """Tasks on active projects, every fifth done (inactive)."""
        s, n = self.s, self.spec.tasks
        active = [p.id for p in s.projects.values() if p.active and p.deleted_at is None]
        task0 = self._draw("task", 90_000_000, 10, n)
        self.tasks_by_project: dict[int, list[int]] = {}
        if not active:
            return
        for i in range(n):
            pid = active[i % len(active)]
            t = Task(
                task0 + i,
                f"{VERBS[i % len(VERBS)]} {NOUNS[(i * 7) % len(NOUNS)]} #{i + 1}",
                pid,
                self.users[i % len(self.users)].id if i % 2 else None,
                active=i % 5 != 4,
                estimated_seconds=3600 * (1 + i % 8) if i % 3 == 0 else None,
                at=s.created_at + 900 * i,
            )
            s.tasks[t.id] = t
            self.tasks_by_project.setdefault(pid, []).append(t.id)

    # ------------------------------------------------------------------ entries
    def _edge_entries(self) -> list[Rec]:
        spec, users, owner = self.spec, self.users, self.users[0].id
        listed = [p for p in self.s.projects.values() if p.deleted_at is None]
        pr = listed[0].id if listed else None
        rated = next((p for p in listed if p.rate is not None), None)
        utc_user = next((u.id for u in users if u.timezone == "UTC"), owner)
        tokyo = next((u.id for u in users if u.timezone == "Asia/Tokyo"), owner)
        mid = spec.start + timedelta(days=((spec.end - spec.start).days + 1) // 2)
        m = _utc(mid.year, mid.month, mid.day)
        nxt = m + 86400 if mid + timedelta(days=1) <= spec.end else m
        end0 = day_start(spec.end)
        h = 3600
        tagged = tuple(self.live_tags[:3])
        gone_tag = (self.deleted_tag,) if self.deleted_tag else ()
        edge: list[Rec] = [
            (m + 23 * h + 1800, m + 25 * h + 1800, utc_user, pr, None, "Crosses midnight UTC", (), False),
            (nxt, nxt + 1800, owner, pr, None, "Starts at 00:00:00 UTC", (), False),
            (self.range_start, self.range_start + 900, owner, pr, None, "First second of the range", (), False),
            (end0 + 86399, end0 + 86459, owner, pr, None, "Last second of the range", (), False),
            (m + 10 * h, m + 11 * h, owner, None, None, "No project", (), False),
            (m + 11 * h, m + 11 * h + 600, owner, pr, None, None, (), False),
            (m + 12 * h, m + 12 * h + 600, owner, pr, None, "", (), False),
            (m + 13 * h, m + 13 * h + 1234, owner, pr, None, UNICODE_DESC, (), False),
            (m + 14 * h, m + 14 * h + 777, owner, pr, None, LONG_DESC, (), False),
            (m + 15 * h, m + 15 * h + 300, owner, pr, None, "Tags with commas and quotes", tagged, False),
            (m + 16 * h, m + 16 * h + 300, owner, self.deleted_project, None, "Deleted project", (), True),
            (m + 17 * h, m + 17 * h + 300, owner, pr, None, "Deleted tag", gone_tag, False),
            (m + 18 * h, m + 18 * h, owner, pr, None, "Zero duration", (), False),
            (m + 6 * h, m + 32 * h, tokyo, pr, None, "26 hours, crosses local midnight", (), False),
        ]
        if rated is not None:
            task = (self.tasks_by_project.get(rated.id) or [None])[0]
            edge.append((m + 19 * h, m + 19 * h + 5400, owner, rated.id, task, "Billable with rate", (), True))
        if self.index == 0:
            # The running entry (one timer per user, so only in the default workspace): "now" when the range
            # covers today, else 16:00 UTC on the last day (keeps historical datasets deterministic).
            now = self.s.now()
            run_start = now - 47 * 60 if self.range_start <= now < end0 + 86400 else end0 + 16 * h
            edge.append((run_start, None, owner, pr, None, "Running entry", (), False))
        return edge

    def _cell_counts(self, n_regular: int) -> tuple[list[tuple[int, int, float]], list[int]]:
        """Allocate regular entries to (day, user) cells by largest remainder."""
        spec, rng = self.spec, self.rng
        n_days = (spec.end - spec.start).days + 1
        cells: list[tuple[int, int, float]] = []
        for di in range(n_days):
            weekday = (spec.start + timedelta(days=di)).weekday()
            for ui, u in enumerate(self.users):
                w = (1.0 if weekday < 5 else 0.06) * (0.5 + rng.random()) * (1.3 if ui == 0 else 1.0)
                if not u.active and di >= n_days // 2:
                    w = 0.0  # deactivated user stopped tracking half-way through the range
                cells.append((di, ui, w))
        total_w = sum(c[2] for c in cells) or 1.0
        counts = [int(n_regular * c[2] / total_w) for c in cells]
        missing = n_regular - sum(counts)
        if missing:
            order = sorted(range(len(cells)), key=lambda k: -((n_regular * cells[k][2] / total_w) % 1.0))
            for k in order[:missing]:
                counts[k] += 1
        return cells, counts

    def _pools(self) -> tuple[list[int | None], dict[int, bool], list[str], list[tuple[int, ...]]]:
        listed = [p for p in self.s.projects.values() if p.deleted_at is None]
        project_choices: list[int | None] = [None, None]
        for p in listed:
            project_choices.extend([p.id] * (4 if p.active else 1))
        billable_of = {p.id: p.billable for p in listed}
        desc_pool = [f"{v} {n}" for v in VERBS for n in NOUNS]
        tags = self.live_tags
        tag_pool: list[tuple[int, ...]] = [(), (), (), ()]
        for i in range(len(tags)):
            tag_pool.append((tags[i],))
            if i + 2 < len(tags):
                tag_pool.append((tags[i], tags[i + 2]))
        return project_choices, billable_of, desc_pool, tag_pool

    def _regular_entries(self, n_regular: int) -> list[Rec]:
        project_choices, billable_of, desc_pool, tag_pool = self._pools()
        cells, counts = self._cell_counts(n_regular)
        recs: list[Rec] = []
        rnd = self.rng.random
        n_choice, n_desc, n_tag = len(project_choices), len(desc_pool), len(tag_pool)
        append, tasks_of = recs.append, self.tasks_by_project
        for (di, ui, _w), k in zip(cells, counts, strict=True):
            if not k:
                continue
            u = self.users[ui]
            d = self.spec.start + timedelta(days=di)
            base = int(datetime(d.year, d.month, d.day, 8 + ui % 3, int(rnd() * 30), tzinfo=u.tz).timestamp())
            slot = 34200 / k  # 9.5 working hours shared by the cell's entries, no overlaps
            for j in range(k):
                st = base + int(slot * (j + 0.15 * rnd()))
                dur = max(1, int(slot * (0.5 + 0.34 * rnd())))
                pid = project_choices[int(rnd() * n_choice)]
                task = None
                billable = False
                if pid is not None:
                    ts = tasks_of.get(pid)
                    if ts and rnd() < 0.4:
                        task = ts[int(rnd() * len(ts))]
                    billable = billable_of[pid] and rnd() < 0.9
                r = rnd()
                desc = desc_pool[int(r * n_desc)] if r < 0.97 else None
                append((st, st + dur, u.id, pid, task, desc, tag_pool[int(rnd() * n_tag)], billable))
        return recs

    def _materialize(self, recs: list[Rec]) -> None:
        """Entries get ids in start order; ``at`` is a little after the stop (clamped to now)."""
        eid0 = self._draw("entry", 4_100_000_000, 100, len(recs) + 1000)  # above 2**31 on purpose
        rnd = self.rng.random
        now_us = self.s.now_us()
        out = []
        for i, r in enumerate(recs):
            st, sp = r[0], r[1]
            if sp is None:
                at = st * 1_000_000 + 500_000
            else:
                at = min((sp + int(rnd() * 7200)) * 1_000_000 + int(rnd() * 1_000_000), now_us)
            out.append(Entry(eid0 + i, r[2], st, sp, r[3], r[4], r[5], r[6], r[7], at))
        self.s.load_sorted(out)
        self.s.entry_ids.reserve_below(eid0 + len(out) + 1000)
