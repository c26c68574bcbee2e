"""Decode speed of Toggl answers: the msgspec decoder against pydantic v2 and the former hand-written parser.

    PYTHONPATH=$PWD python benchmarks/decode_bench.py [--rows 10000] [--projects 1000] [--repeat 7]

Each contender turns the same bytes (a Reports v3 detailed page, a v9 project list) into the same records of
``toggl_assets.records``: decode + validate + map, best of ``--repeat`` runs, in rows per second. "Former
parser" is ``json.loads`` plus ``toggl_assets/toggl/parsing.py`` as of git revision ``--baseline`` (the module
was replaced by ``decode.py``); it is skipped when git cannot show that revision.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import subprocess
import sys
import time
import types
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pydantic
from pydantic import BaseModel, ConfigDict, TypeAdapter

from toggl_assets.records import EntryRecord, ProjectRecord
from toggl_assets.toggl import decode

ROOT = Path(__file__).resolve().parent.parent
BASELINE_REV = "a896ac8"  # last commit with toggl/parsing.py (fast path + checked path)
REPORT_EP = "POST /reports/api/v3/workspace/{wid}/search/time_entries"
PROJECTS_EP = "GET /api/v9/workspaces/{wid}/projects"


# -- sample bodies in the shapes of reference §2.11 and §3.1 ------------------------------------------------


def report_page(rows: int, seed: int = 1) -> bytes:
    rnd = random.Random(seed)
    base = datetime(2024, 1, 1, tzinfo=UTC)
    out = []
    for i in range(rows):
        start = base + timedelta(minutes=rnd.randrange(500_000))
        seconds = rnd.randrange(60, 4 * 3600)
        offset = rnd.choice(["+00:00", "+03:00", "-05:00", "Z"])
        shift = {"+00:00": 0, "Z": 0, "+03:00": 3, "-05:00": -5}[offset]

        def local(t: datetime, shift: int = shift, offset: str = offset) -> str:
            return (t + timedelta(hours=shift)).replace(tzinfo=None).isoformat() + offset

        billable = rnd.random() < 0.6
        out.append(
            {
                "user_id": 500 + rnd.randrange(20), "username": f"User {rnd.randrange(20)}", "email": "u@example.com",
                "project_id": rnd.choice([None, 700 + rnd.randrange(40)]), "project_name": "Website",
                "project_color": "#0b83d9", "project_hex": "#0b83d9", "client_name": "Acme",
                "task_id": None, "task_name": None, "description": f"work item {i} ✓", "billable": billable,
                "tag_ids": [1, 2][: rnd.randrange(3)], "tag_names": ["a", "b"][: rnd.randrange(3)],
                "hourly_rate_in_cents": 5050 if billable else None,
                "billable_amount_in_cents": seconds * 5050 // 3600 if billable else None,
                "currency": "USD", "row_number": i + 1, "toggl_accounts_id": "abc",
                "time_entries": [
                    {
                        "id": 4_100_000_000 + i, "seconds": seconds, "start": local(start),
                        "stop": local(start + timedelta(seconds=seconds)),
                        "at": (start + timedelta(seconds=seconds, microseconds=rnd.randrange(10**6)))
                        .isoformat().replace("+00:00", "Z"),
                        "at_tz": local(start + timedelta(seconds=seconds)),
                    }
                ],
            }
        )  # fmt: skip
    return json.dumps(out).encode()


def project_list(count: int, seed: int = 2) -> bytes:
    rnd = random.Random(seed)
    out = []
    for i in range(count):
        active = rnd.random() < 0.8
        out.append(
            {
                "id": 700_000 + i, "workspace_id": 900001, "client_id": rnd.choice([None, 600001]), "name": f"P{i}",
                "is_private": False, "active": active, "at": "2024-03-17T10:58:40+00:00",
                "created_at": "2017-08-28T10:47:38+00:00", "server_deleted_at": None, "color": "#0b83d9",
                "billable": rnd.random() < 0.5, "template": None, "auto_estimates": None, "estimated_hours": None,
                "estimated_seconds": None, "rate": rnd.choice([None, 12.5]), "rate_last_updated": None,
                "currency": "EUR", "recurring": False, "template_id": None, "recurring_parameters": None,
                "fixed_fee": None, "actual_hours": 11, "actual_seconds": 39733, "tasks_count": None,
                "can_track_time": False, "start_date": "2017-08-28", "status": "active" if active else "archived",
                "wid": 900001, "cid": None, "is_shared": False, "pinned": False,
            }
        )  # fmt: skip
    return json.dumps(out).encode()


# -- pydantic v2 contender: the same wire shapes and mapping as decode.py -----------------------------------


class _PModel(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class PReportEntry(_PModel):
    id: int
    start: datetime
    seconds: int | None = None
    stop: datetime | None = None
    at: datetime | None = None


class PReportRow(_PModel):
    time_entries: list[PReportEntry] | None = None
    workspace_id: int | None = None
    user_id: int | None = None
    username: str | None = None
    email: str | None = None
    project_id: int | None = None
    project_name: str | None = None
    client_name: str | None = None
    task_id: int | None = None
    task_name: str | None = None
    description: str | None = None
    billable: bool | None = None
    tag_ids: list[int] | None = None
    tag_names: list[str] | None = None
    hourly_rate_in_cents: Decimal | None = None
    billable_amount_in_cents: Decimal | None = None
    currency: str | None = None


class PProject(_PModel):
    id: int
    name: str
    workspace_id: int | None = None
    wid: int | None = None
    client_id: int | None = None
    cid: int | None = None
    color: str | None = None
    is_private: bool | None = None
    active: bool | None = None
    billable: bool | None = None
    at: datetime | None = None
    created_at: datetime | None = None
    status: str | None = None
    rate: Decimal | None = None
    currency: str | None = None
    server_deleted_at: datetime | None = None


_P_ROWS = TypeAdapter(list[PReportRow])
_P_PROJECTS = TypeAdapter(list[PProject])
_utc = decode._utc


def _cents(value: Decimal | None) -> Decimal | None:
    return None if value is None else value / 100


def pydantic_report(content: bytes) -> list[EntryRecord]:
    out = []
    for row in _P_ROWS.validate_json(content):
        for e in row.time_entries or ():
            stop = _utc(e.stop)
            out.append(
                EntryRecord(
                    id=e.id, workspace_id=row.workspace_id or 9, project_id=row.project_id, task_id=row.task_id,
                    user_id=row.user_id, description=row.description, start=_utc(e.start), end=stop,
                    duration_ms=None if stop is None or e.seconds is None else e.seconds * 1000,
                    is_billable=row.billable, billable_amount=_cents(row.billable_amount_in_cents),
                    currency=row.currency, tags=tuple(row.tag_names or ()), tag_ids=tuple(row.tag_ids or ()),
                    updated_at=_utc(e.at), hourly_rate=_cents(row.hourly_rate_in_cents),
                    project_name=row.project_name, client_name=row.client_name, task_name=row.task_name,
                    user_name=row.username, user_email=row.email,
                )
            )  # fmt: skip
    return out


def pydantic_projects(content: bytes) -> list[ProjectRecord]:
    out = []
    for p in _P_PROJECTS.validate_json(content):
        at = _utc(p.at)
        out.append(
            ProjectRecord(
                id=p.id, workspace_id=p.workspace_id or p.wid or 9, client_id=p.client_id or p.cid, name=p.name,
                color=p.color, is_private=p.is_private, is_active=p.active, is_billable=p.billable,
                created_at=_utc(p.created_at) or at, archived_at=at if p.active is False else None, updated_at=at,
                status=p.status, rate=p.rate, currency=p.currency, server_deleted_at=_utc(p.server_deleted_at),
            )
        )  # fmt: skip
    return out


# -- the former parser, loaded from git ------------------------------------------------------------------------


def former_parser(rev: str) -> types.ModuleType | None:
    try:
        source = subprocess.run(
            ["git", "show", f"{rev}:toggl_assets/toggl/parsing.py"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    module = types.ModuleType("former_parsing")
    exec(compile(source, f"{rev}:parsing.py", "exec"), module.__dict__)
    return module


# -- measuring --------------------------------------------------------------------------------------------------


def best_seconds(fn: Callable[[], Any], repeat: int) -> float:
    fn()  # warm-up (imports, caches)
    best = float("inf")
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - began)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--projects", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--baseline", default=BASELINE_REV, help="git revision of the former parser")
    args = parser.parse_args(argv)

    page, projects = report_page(args.rows), project_list(args.projects)
    contenders: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {
        f"msgspec {msgspec.__version__} (decode.py)": (
            lambda: decode.decode_report_page(page, REPORT_EP, 9)[0],
            lambda: decode.decode_projects(projects, PROJECTS_EP, 9),
        ),
        f"pydantic {pydantic.VERSION} (strict)": (lambda: pydantic_report(page), lambda: pydantic_projects(projects)),
    }
    former = former_parser(args.baseline)
    if former is not None:
        contenders[f"former parser ({args.baseline})"] = (
            lambda: former.parse_report_rows(json.loads(page), REPORT_EP, 9),
            lambda: former.parse_projects(json.loads(projects), PROJECTS_EP, 9),
        )

    reference = decode.decode_report_page(page, REPORT_EP, 9)[0]
    print(f"Python {platform.python_version()} on {platform.machine()}, {platform.processor() or 'cpu ?'}")
    print(f"report page: {args.rows} rows, {len(page) / 1e6:.1f} MB; project list: {args.projects}, "
          f"{len(projects) / 1e6:.2f} MB; best of {args.repeat}")  # fmt: skip
    print(f"{'contender':<34} {'report rows/s':>14} {'projects/s':>12}")
    for name, (report_fn, projects_fn) in contenders.items():
        if report_fn() != reference:
            print(f"{name}: records differ from decode.py's", file=sys.stderr)
            return 1
        report_rate = args.rows / best_seconds(report_fn, args.repeat)
        project_rate = args.projects / best_seconds(projects_fn, args.repeat)
        print(f"{name:<34} {report_rate:>14,.0f} {project_rate:>12,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
