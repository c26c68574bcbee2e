"""``toggl-assets simulator``: serve a simulated Toggl workspace on 127.0.0.1 until Ctrl-C."""

from __future__ import annotations

import argparse
import sys
import threading
from datetime import date

from .config import FAULT_KINDS, PLANS, QUOTA_TOTALS, SimulatorConfig, WorkspaceSpec
from .server import Simulator


def build_parser() -> argparse.ArgumentParser:
    d = WorkspaceSpec()
    p = argparse.ArgumentParser(
        prog="toggl-assets simulator", description="Serve a simulated Toggl Track API on 127.0.0.1."
    )
    p.add_argument("--port", type=int, default=0, help="TCP port (0 = pick a free one)")
    g = p.add_argument_group("generated workspace")
    g.add_argument("--seed", type=int, default=d.seed)
    g.add_argument("--users", type=int, default=d.users)
    g.add_argument("--clients", type=int, default=d.clients)
    g.add_argument("--projects", type=int, default=d.projects)
    g.add_argument("--tags", type=int, default=d.tags)
    g.add_argument("--tasks", type=int, default=d.tasks)
    g.add_argument("--entries", type=int, default=d.entries)
    g.add_argument("--start", type=date.fromisoformat, default=d.start, help="first entry day, YYYY-MM-DD")
    g.add_argument("--end", type=date.fromisoformat, default=d.end, help="last entry day (inclusive)")
    g.add_argument("--plan", choices=PLANS, default=d.plan, help="workspace plan (free -> tasks answer 402)")
    g.add_argument("--no-edge-cases", action="store_true", help="omit the edge-case entries")
    g.add_argument(
        "--workspaces", type=int, default=1, help="how many workspaces (each like the first, seeds seed, seed+1, ...)"
    )
    g.add_argument(
        "--organizations", type=int, default=1, help="spread the workspaces round-robin over this many organizations"
    )
    b = p.add_argument_group("server behaviour")
    b.add_argument("--quota-plan", choices=tuple(QUOTA_TOTALS), default=None, help="default: unlimited")
    b.add_argument("--quota-window-seconds", type=float, default=3600)
    b.add_argument("--user-quota", type=int, default=30)
    b.add_argument("--rate-limit", type=float, default=None, help="leaky bucket, requests/second (429)")
    b.add_argument("--max-page-size", type=int, default=1000)
    b.add_argument("--page-size-overflow", choices=("clamp", "reject"), default="clamp")
    b.add_argument("--reports-include-running", action="store_true")
    b.add_argument("--bare-date-tz", default="UTC", help='zone of date-only parameters, or "user"')
    b.add_argument("--fault-rate", type=float, default=0.0)
    b.add_argument(
        "--fault-kinds", default=",".join(FAULT_KINDS), help="comma-separated subset of " + ",".join(FAULT_KINDS)
    )
    b.add_argument("--fault-seed", type=int, default=0)
    b.add_argument("--slow-seconds", type=float, default=2.0)
    return p


def workspace_specs(args: argparse.Namespace) -> tuple[WorkspaceSpec, ...]:
    """``--workspaces`` specs alike but for their seed, workspace i in organization ``i % organizations``."""
    if not 1 <= args.organizations <= args.workspaces:
        raise ValueError("need 1 <= --organizations <= --workspaces")
    return tuple(
        WorkspaceSpec(
            seed=args.seed + i,
            users=args.users,
            clients=args.clients,
            projects=args.projects,
            tags=args.tags,
            tasks=args.tasks,
            entries=args.entries,
            start=args.start,
            end=args.end,
            plan=args.plan,
            edge_cases=not args.no_edge_cases,
            organization=1 + i % args.organizations,
        )
        for i in range(args.workspaces)
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        specs = workspace_specs(args)
        spec = specs[0]
        config = SimulatorConfig(
            spec=spec,
            more_workspaces=specs[1:],
            port=args.port,
            quota_plan=args.quota_plan,
            quota_window_seconds=args.quota_window_seconds,
            user_quota=args.user_quota,
            rate_limit_per_second=args.rate_limit,
            max_page_size=args.max_page_size,
            page_size_overflow=args.page_size_overflow,
            reports_include_running=args.reports_include_running,
            bare_date_tz=args.bare_date_tz,
            fault_rate=args.fault_rate,
            fault_kinds=tuple(k for k in args.fault_kinds.split(",") if k),
            fault_seed=args.fault_seed,
            slow_seconds=args.slow_seconds,
        )
    except ValueError as exc:
        print(f"toggl-assets simulator: {exc}", file=sys.stderr)
        return 2
    sim = Simulator(config)
    try:
        sim.start()
    except OSError as exc:
        print(f"toggl-assets simulator: cannot listen on port {args.port}: {exc}", file=sys.stderr)
        return 1
    print(f"TOGGL_API_URL={sim.url}")
    print(f"TOGGL_API_TOKEN={sim.api_token}")
    print(f"TOGGL_WORKSPACE_ID={','.join(str(w) for w in sim.workspace_ids)}")
    print(f"TOGGL_EMAIL={sim.email}")
    print(f"TOGGL_PASSWORD={sim.password}")
    if len(specs) > 1:
        orgs = {w: sim.organization_of(w) for w in sim.workspace_ids}
        print("# workspace -> organization: " + ", ".join(f"{w} -> {o}" for w, o in orgs.items()))
    print(f"# {sim.truth.entry_count} entries {spec.start}..{spec.end}; Ctrl-C to stop", flush=True)
    try:
        threading.Event().wait()  # serve until interrupted
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
