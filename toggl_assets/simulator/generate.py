"""Deterministic generation of a realistic workspace from a ``WorkspaceSpec``.

Speed matters (1,000,000 entries in a few seconds): entries are allocated per (day, user) cell by largest
remainder and laid out sequentially inside each cell's working hours, so the hot loop only does a handful
of ``random()`` calls and integer arithmetic per entry.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from operator import itemgetter
from zoneinfo import ZoneInfo

from .config import WorkspaceSpec
from .store import Client, Entry, Project, Store, Tag, Task, User
from .timefmt import UTC, day_start

FIRST = [
    "Alice",
    "Bob",
    "Chiara",
    "Dmitri",
    "Émilie",
    "Farid",
    "Grace",
    "Hiro",
    "Ingrid",
    "Jamal",
    "Kaito",
    "Lena",
    "Miguel",
    "Noor",
    "Olga",
    "Priya",
    "Quentin",
    "Rosa",
    "Sven",
    "Tariq",
]
LAST = ["Anders", "Brown", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Hoffmann", "Ito", "Jensen"]
# Several zones, including a half-hour offset and both hemispheres' DST rules.
ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Asia/Tokyo",
    "UTC",
    "America/Los_Angeles",
    "Asia/Kolkata",
    "Australia/Sydney",
    "Europe/London",
]
CLIENTS = [
    "Acme Corp",
    "Globex",
    "Initech",
    "Müller & Söhne GmbH",
    "株式会社サンプル",
    "Stark, Inc.",
    "O'Reilly Media",
    "Umbrella",
    "Wayne Enterprises",
    "Soylent",
]
PROJECTS = [
    "Website Redesign",
    "Mobile App",
    "Internal",
    "Marketing Q1",
    "Data Warehouse",
    "Support",
    "Research",
    "Onboarding",
    "API v2",
    "Billing Migration",
    "Design System",
    "Security Audit",
]
COLORS = [
    "#0b83d9",
    "#9e5bd9",
    "#d94182",
    "#e36a00",
    "#bf7000",
    "#2da608",
    "#06a893",
    "#c9806b",
    "#465bb3",
    "#990099",
    "#c7af14",
    "#566614",
    "#d92b2b",
    "#525266",
]
EDGE_TAGS = ["urgent, high", 'say "hi"', "it's done", "café ☕"]
PLAIN_TAGS = ["billed", "meeting", "deep work", "review", "bug", "planning", "call", "travel", "admin", "research"]
VERBS = ["Fix", "Review", "Write", "Plan", "Meeting:", "Refactor", "Test", "Deploy", "Call with", "Research"]
NOUNS = [
    "login flow",
    "invoice export",
    "onboarding docs",
    "sprint",
    "client",
    "dashboard",
    "API limits",
    "database",
    "release 1.4",
    "roadmap",
]
PROJECT_RATES = [(95.5, "EUR"), (120.0, "USD"), (70.0, "GBP"), (12000.0, "JPY")]
USER_RATES = [None, 60.0, 75.5, None, 110.0, 42.25]
UNICODE_DESC = "Réunion über Straße — naïve café ☕ 🚀 日本語のテキスト 👩‍💻"
LONG_DESC = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 200)[:10_000]


def _utc(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> int:
    return int(datetime(y, m, d, hh, mm, ss, tzinfo=UTC).timestamp())


def generate(spec: WorkspaceSpec, store: Store) -> None:
    """Fill ``store`` from ``spec``. Same spec -> same data (the running entry aside, see package doc)."""
    rng = random.Random(spec.seed)
    s = store
    s.plan = spec.plan
    s.workspace_id = 4_000_000 + rng.randrange(1_000_000)
    s.organization_id = 3_000_000 + rng.randrange(1_000_000)
    s.workspace_name = f"Simulated Workspace {spec.seed}"
    s.default_currency = "USD"
    # Free workspaces have no billable rates; others get a workspace default rate.
    s.default_hourly_rate = None if spec.plan == "free" else 85.0
    range_start = day_start(spec.start)
    s.created_at = range_start - 400 * 86400

    # ----- users: the first one is the owner (admin); with edge cases the last one is deactivated.
    base_uid = 10_000_000 + rng.randrange(1_000_000) * 10
    for i in range(spec.users):
        zone = ZONES[i % len(ZONES)]
        first, last = FIRST[i % len(FIRST)], LAST[(i * 3) % len(LAST)]
        suffix = "" if i < len(FIRST) else str(i)
        uid = base_uid + i * 7
        s.users[uid] = User(
            id=uid,
            wu_id=8_000_000 + uid % 1_000_000 + i,
            email=f"{first.lower()}{suffix}@example.com",
            fullname=f"{first} {last}{suffix}",
            timezone=zone,
            tz=ZoneInfo(zone),
            rate=USER_RATES[i % len(USER_RATES)],
            admin=i == 0 or (i == 1 and spec.users >= 4),
            active=not (spec.edge_cases and spec.users >= 3 and i == spec.users - 1),
            token=f"{rng.getrandbits(128):032x}",
            password=f"pw-{rng.getrandbits(40):010x}",
            created_at=s.created_at + i * 86400,
            at_us=(s.created_at + i * 86400) * 1_000_000 + 123456,
            beginning_of_week=1,
        )
    users = list(s.users.values())
    s.owner_id = users[0].id
    owner = users[0].id

    # ----- clients (every third is archived)
    cid0 = 60_000_000 + rng.randrange(1_000_000) * 10
    for i in range(spec.clients):
        name = CLIENTS[i % len(CLIENTS)] + ("" if i < len(CLIENTS) else f" {i}")
        s.clients[cid0 + i] = Client(cid0 + i, name, archived=i % 3 == 2, creator_id=owner, at=s.created_at + 3600 * i)
    client_ids = list(s.clients)

    # ----- projects: some without client, some inactive, some private, some with their own rate/currency
    pid0 = 200_000_000 + rng.randrange(1_000_000) * 10
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
    deleted_project = None
    if spec.edge_cases:
        # Referenced by an entry but never listed by /projects (deleted): a missing reference.
        deleted_project = pid0 + spec.projects + 1
        s.projects[deleted_project] = Project(
            deleted_project,
            "Deleted project",
            None,
            active=False,
            is_private=True,
            billable=True,
            color="#525266",
            rate=None,
            currency=None,
            created_at=s.created_at,
            at=range_start,
            start_date=date.fromtimestamp(s.created_at).isoformat(),
            deleted_at=range_start,
        )

    # ----- tags (edge-case names first: commas, quotes, unicode)
    tid0 = 18_000_000 + rng.randrange(1_000_000) * 10
    names = (EDGE_TAGS + PLAIN_TAGS) if spec.edge_cases else PLAIN_TAGS
    for i in range(spec.tags):
        name = names[i] if i < len(names) else f"tag {i}"
        s.tags[tid0 + i] = Tag(tid0 + i, name, owner, (s.created_at + 600 * i) * 1_000_000 + 332795)
    deleted_tag = None
    if spec.edge_cases:
        deleted_tag = tid0 + spec.tags + 1
        s.tags[deleted_tag] = Tag(deleted_tag, "obsolete tag", owner, range_start * 1_000_000, deleted_at=range_start)
    s.next_tag_id = tid0 + spec.tags + 10
    live_tags = [t for t in s.tags if t != deleted_tag]

    # ----- tasks on active projects, every fifth done (inactive)
    active_projects = [p.id for p in s.projects.values() if p.active and p.deleted_at is None]
    task0 = 90_000_000 + rng.randrange(1_000_000) * 10
    tasks_by_project: dict[int, list[int]] = {}
    if active_projects:
        for i in range(spec.tasks):
            pid = active_projects[i % len(active_projects)]
            t = Task(
                task0 + i,
                f"{VERBS[i % len(VERBS)]} {NOUNS[(i * 7) % len(NOUNS)]} #{i + 1}",
                pid,
                users[i % len(users)].id if i % 2 else None,
                active=i % 5 != 4,
                estimated_seconds=3600 * (1 + i % 8) if i % 3 == 0 else None,
                at=s.created_at + 900 * i,
            )
            s.tasks[t.id] = t
            tasks_by_project.setdefault(pid, []).append(t.id)

    # ----- pools used by the hot loop
    listed_projects = [p for p in s.projects.values() if p.deleted_at is None]
    project_choices: list[int | None] = [None, None]
    for p in listed_projects:
        project_choices.extend([p.id] * (4 if p.active else 1))
    billable_of = {p.id: p.billable for p in listed_projects}
    desc_pool = [f"{v} {n}" for v in VERBS for n in NOUNS]
    tag_pool: list[tuple[int, ...]] = [(), (), (), ()]
    for i in range(len(live_tags)):
        tag_pool.append((live_tags[i],))
        if i + 2 < len(live_tags):
            tag_pool.append((live_tags[i], live_tags[i + 2]))

    # ----- edge cases
    edge: list[tuple[int, int | None, int, int | None, int | None, str | None, tuple[int, ...], bool]] = []
    n_days = (spec.end - spec.start).days + 1
    mid = spec.start + timedelta(days=n_days // 2)
    now = store.now()
    if spec.edge_cases:
        pr = listed_projects[0].id if listed_projects else None
        rated = next((p for p in listed_projects if p.rate is not None), None)
        utc_user = next((u.id for u in users if u.timezone == "UTC"), owner)
        tokyo = next((u.id for u in users if u.timezone == "Asia/Tokyo"), owner)
        m = _utc(mid.year, mid.month, mid.day)
        nxt = m + 86400 if mid + timedelta(days=1) <= spec.end else m
        end0 = day_start(spec.end)
        edge += [
            (m + 23 * 3600 + 1800, m + 25 * 3600 + 1800, utc_user, pr, None, "Crosses midnight UTC", (), False),
            (nxt, nxt + 1800, owner, pr, None, "Starts at 00:00:00 UTC", (), False),
            (range_start, range_start + 900, owner, pr, None, "First second of the range", (), False),
            (end0 + 86399, end0 + 86459, owner, pr, None, "Last second of the range", (), False),
            (m + 10 * 3600, m + 11 * 3600, owner, None, None, "No project", (), False),
            (m + 11 * 3600, m + 11 * 3600 + 600, owner, pr, None, None, (), False),
            (m + 12 * 3600, m + 12 * 3600 + 600, owner, pr, None, "", (), False),
            (m + 13 * 3600, m + 13 * 3600 + 1234, owner, pr, None, UNICODE_DESC, (), False),
            (m + 14 * 3600, m + 14 * 3600 + 777, owner, pr, None, LONG_DESC, (), False),
            (
                m + 15 * 3600,
                m + 15 * 3600 + 300,
                owner,
                pr,
                None,
                "Tags with commas and quotes",
                tuple(t for t in live_tags[:3]),
                False,
            ),
            (m + 16 * 3600, m + 16 * 3600 + 300, owner, deleted_project, None, "Deleted project", (), True),
            (
                m + 17 * 3600,
                m + 17 * 3600 + 300,
                owner,
                pr,
                None,
                "Deleted tag",
                (deleted_tag,) if deleted_tag else (),
                False,
            ),
            (m + 18 * 3600, m + 18 * 3600, owner, pr, None, "Zero duration", (), False),
            (m + 6 * 3600, m + 32 * 3600, tokyo, pr, None, "26 hours, crosses local midnight", (), False),
        ]
        if rated is not None:
            task = (tasks_by_project.get(rated.id) or [None])[0]
            edge.append((m + 19 * 3600, m + 19 * 3600 + 5400, owner, rated.id, task, "Billable with rate", (), True))
        # The running entry: "now" when the range covers today, else 16:00 UTC on the last day (keeps
        # historical datasets deterministic and the running entry inside the range).
        run_start = now - 47 * 60 if range_start <= now < end0 + 86400 else end0 + 16 * 3600
        edge.append((run_start, None, owner, pr, None, "Running entry", (), False))

    # ----- allocate regular entries to (day, user) cells by largest remainder
    n_regular = max(0, spec.entries - len(edge))
    cells: list[tuple[int, int, float]] = []
    half = n_days // 2
    for di in range(n_days):
        weekday = (spec.start + timedelta(days=di)).weekday()
        for ui, u in enumerate(users):
            w = (1.0 if weekday < 5 else 0.06) * (0.5 + rng.random()) * (1.3 if ui == 0 else 1.0)
            if not u.active and di >= half:
                w = 0.0  # deactivated user stopped tracking half-way through the range
            cells.append((di, ui, w))
    total_w = sum(c[2] for c in cells) or 1.0
    counts = [int(n_regular * c[2] / total_w) for c in cells]
    missing = n_regular - sum(counts)
    if missing:
        order = sorted(range(len(cells)), key=lambda k: -((n_regular * cells[k][2] / total_w) % 1.0))
        for k in order[:missing]:
            counts[k] += 1

    recs: list[tuple] = []
    rnd = rng.random
    n_choice, n_desc, n_tag = len(project_choices), len(desc_pool), len(tag_pool)
    append = recs.append
    for (di, ui, _w), k in zip(cells, counts, strict=True):
        if not k:
            continue
        u = users[ui]
        d = spec.start + timedelta(days=di)
        local_start = datetime(d.year, d.month, d.day, 8 + ui % 3, int(rnd() * 30), tzinfo=u.tz)
        base = int(local_start.timestamp())
        slot = 34200 / k  # 9.5 working hours shared by the cell's entries, no overlaps
        uid = u.id
        for j in range(k):
            st = base + int(slot * (j + 0.15 * rnd()))
            dur = max(1, int(slot * (0.5 + 0.34 * rnd())))
            pid = project_choices[int(rnd() * n_choice)]
            task = None
            if pid is not None:
                ts = tasks_by_project.get(pid)
                if ts and rnd() < 0.4:
                    task = ts[int(rnd() * len(ts))]
                billable = billable_of[pid] and rnd() < 0.9
            else:
                billable = False
            r = rnd()
            desc = desc_pool[int(r * n_desc)] if r < 0.97 else None
            append((st, st + dur, uid, pid, task, desc, tag_pool[int(rnd() * n_tag)], billable))
    recs.extend(edge)
    recs.sort(key=itemgetter(0))  # ids increase with start, as real ids grow with creation time

    # ----- materialize entries; `at` is a little after the stop (clamped to now)
    eid0 = 4_100_000_000 + rng.randrange(1_000_000) * 100  # above 2**31 on purpose
    now_us = store.now_us()
    out = []
    for i, r in enumerate(recs):
        st, sp = r[0], r[1]
        if sp is None:
            at = st * 1_000_000 + 500_000
        else:
            at = min((sp + int(rnd() * 7200)) * 1_000_000 + int(rnd() * 1_000_000), now_us)
        out.append(Entry(eid0 + i, r[2], st, sp, r[3], r[4], r[5], r[6], r[7], at))
    store.load_sorted(out)
    store.next_entry_id = eid0 + len(out) + 1000
