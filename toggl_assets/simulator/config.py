"""Configuration of the simulated workspace and of the simulated server's behaviour."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

PLANS = ("free", "starter", "premium", "enterprise")

# Requests per quota window for organization-specific calls (toggl-api.md §4.2). Enterprise is "custom" in
# reality; 1200 is an arbitrary higher value.
QUOTA_TOTALS = {"free": 30, "starter": 240, "premium": 600, "enterprise": 1200}

FAULT_KINDS = ("500", "502", "503", "429", "drop", "slow", "truncate", "malformed")


@dataclass(frozen=True)
class WorkspaceSpec:
    """What to generate. Everything is deterministic from ``seed``.

    ``entries`` is the total number of live time entries, edge cases included (when there are at least as
    many entries as edge cases). ``start``/``end`` is the inclusive range of entry start days.
    ``organization`` is a key, not an id: workspaces with the same key share one organization (and so one
    quota bucket per user); ``name`` defaults to "Simulated Workspace {seed}".
    """

    seed: int = 1
    users: int = 5
    clients: int = 4
    projects: int = 12
    tags: int = 10
    tasks: int = 20
    entries: int = 2000
    start: date = date(2024, 1, 1)
    end: date = date(2024, 3, 31)
    plan: str = "premium"
    edge_cases: bool = True
    organization: int = 1
    name: str | None = None

    def __post_init__(self) -> None:
        if self.plan not in PLANS:
            raise ValueError(f"plan must be one of {PLANS}, got {self.plan!r}")
        if self.end < self.start:
            raise ValueError("end must not be before start")
        if self.users < 1:
            raise ValueError("at least one user (the owner) is needed")


@dataclass
class SimulatorConfig:
    """How the simulated server behaves. See the package docstring for the defaults chosen for unknowns."""

    spec: WorkspaceSpec = field(default_factory=WorkspaceSpec)
    # Further workspaces served next to ``spec`` (the first, default workspace). The token user (owner of
    # ``spec``) is a member of every one of them.
    more_workspaces: tuple[WorkspaceSpec, ...] = ()
    port: int = 0
    quota_plan: str | None = None
    quota_window_seconds: float = 3600
    user_quota: int = 30
    rate_limit_per_second: float | None = None
    max_page_size: int = 1000
    page_size_overflow: str = "clamp"
    reports_include_running: bool = False
    report_times_in_user_tz: bool = True
    bare_date_tz: str = "UTC"
    fault_rate: float = 0.0
    fault_kinds: tuple[str, ...] = FAULT_KINDS
    fault_seed: int = 0
    slow_seconds: float = 2.0
    # Extras (not in the original brief), all with conservative defaults:
    # Max span of a Reports v3 request in days (a third-party README claims 366; §8.5). None = unlimited.
    report_max_span_days: int | None = 366
    # How far back /me/time_entries accepts since/start_date ("3 months", §2.9).
    me_time_entries_max_age_days: int = 90
    # The simulator's clock starts here (and then advances in real time); None = the real wall clock.
    # Useful to make /me/time_entries' 90-day limit reach generated historical data.
    clock_start: datetime | None = None

    @property
    def specs(self) -> tuple[WorkspaceSpec, ...]:
        """Every workspace to serve, the default one first."""
        return (self.spec, *self.more_workspaces)

    def __post_init__(self) -> None:
        self.more_workspaces = tuple(self.more_workspaces)
        if self.quota_plan is not None and self.quota_plan not in QUOTA_TOTALS:
            raise ValueError(f"quota_plan must be None or one of {tuple(QUOTA_TOTALS)}")
        if self.page_size_overflow not in ("clamp", "reject"):
            raise ValueError("page_size_overflow must be 'clamp' or 'reject'")
        if self.bare_date_tz != "user":
            from zoneinfo import ZoneInfo  # validates the zone name early

            ZoneInfo(self.bare_date_tz)
        unknown = set(self.fault_kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {FAULT_KINDS}")
