"""The text report of ``./run bench``: tables of every measured command, then each target with its verdict."""

from __future__ import annotations

from typing import Any

from benchmarks.harness import endpoints_text

COMMAND_HEADER = ["command", "requests", "wall s", "CPU s", "simulator CPU s", "peak RSS MB"]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    out = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    for row in rows:
        out.append(
            "| "
            + " | ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
            + " |"
        )
    return out


def _command_row(label: str, m: dict[str, Any]) -> list[str]:
    return [
        label,
        str(m["requests"]),
        f"{m['wall_seconds']:.1f}",
        f"{m['cpu_seconds']:.1f}",
        f"{m['simulator_cpu_seconds']:.1f}",
        f"{m['peak_rss_mb']:.0f}",
    ]


def _two_years(two: dict[str, Any]) -> list[str]:
    first, last = two["range"]
    lines = [
        f"Two-year workspace: {two['entries']:,} entries, {first} .. {last} ({two['days']} daily partitions),"
        f" pages capped at {two['page_size']}, TOGGL_WORKSPACE_ID set:",
    ]
    rows = [
        *(
            [_command_row("sync one day (cold: first run of the install)", two["one_day_cold"])]
            if "one_day_cold" in two
            else []
        ),
        _command_row(f"sync {two['days']} days (backfill, one run)", two["backfill"]),
        _command_row("sync one day", two["one_day"]),
        _command_row("sync (daily tick, no late edits)", two["daily_quiet"]),
        _command_row("sync (daily tick, after late edits)", two["daily_edits"]),
        _command_row("plain script (requests + COPY), same range", two["plain_script"]),
    ]
    b = two.get("baseline")
    if b:
        rows.append(_command_row(f"naive: one run per partition, {b['days']} of {b['of_days']} days", b))
    lines += _table(COMMAND_HEADER, rows)
    if b and b["days"] != b["of_days"]:
        lines.append(
            f"Naive baseline extrapolated to all {b['of_days']} days: {b['requests_full_range']} requests,"
            f" {b['wall_seconds_full_range']} s ({b['seconds_per_run']} s per run), against ours"
            f" {b['ours_requests']} requests, {b['ours_wall_seconds']} s."
        )
    edits = ", ".join(
        f"{e['day']}: {e['edited']} edited, {e['deleted']} deleted, {e['added']} added" for e in two["late_edits"]
    )
    lines.append(f"Late edits: {edits}.")
    for key in ("daily_quiet", "daily_edits"):
        d, bud = two[key], two[key]["budget"]
        lines.append(
            f"Daily run {'after late edits' if key == 'daily_edits' else 'without late edits'}: {d['requests']}"
            f" requests ({endpoints_text(d['requests_by_endpoint'])}); budget {bud['total']} = metadata"
            f" {bud['metadata']} + 1 trailing page + 2 x {bud['history_spans']} spans + {bud['resynced_pages']}"
            f" pages of re-synced days; {d['days_compared']} days compared, {d['days_different']} different,"
            f" re-synced {', '.join(bud['resynced_days']) or 'none'}"
        )
    return lines


def _forty_two(forty: dict[str, Any]) -> list[str]:
    first, last = forty["range"]
    return [
        f"Short range: {forty['entries']:,} entries, {first} .. {last}, pages capped at {forty['page_size']}:",
        *_table(
            COMMAND_HEADER,
            [
                _command_row(f"sync {forty['days']} days", forty["range_sync"]),
                _command_row("sync one day", forty["one_day"]),
                _command_row("plain script, same range", forty["plain_script"]),
            ],
        ),
    ]


def _throughput(results: dict[str, dict[str, Any]], page: int) -> list[str]:
    header = [
        "workload",
        "entries",
        "requests",
        "minimum",
        "wall s",
        "sim CPU s",
        "entries/s",
        "w/o sim",
        "plain s",
        "plain/s",
        "fetch s",
        "load s",
        "load/COPY",
        "peak RSS MB",
        "weekly s",
        "weekly SQL s",
    ]
    rows = []
    for name, r in results.items():
        p = r["plain_script"]
        rows.append(
            [
                name,
                f"{r['entries_synced']:,}",
                str(r["requests"]),
                str(r["requests_minimum"]),
                f"{r['wall_seconds']:.1f}",
                f"{r['simulator_cpu_seconds']:.1f}",
                f"{r['entries_per_second']:,.0f}",
                f"{r['entries_per_second_without_simulator'] or 0:,.0f}",
                f"{p['wall_seconds']:.1f}",
                f"{p['entries_per_second']:,.0f}",
                f"{r['seconds_fetching'] or 0:.1f}",
                f"{r['seconds_loading']:.1f}",
                f"{r['load_vs_copy_ratio'] or 0:.2f}",
                f"{r['peak_rss_mb']:.0f}",
                "-" if r["weekly_step_seconds"] is None else f"{r['weekly_step_seconds']:.2f}",
                f"{r['weekly_sql_seconds']:.2f}",
            ]
        )
    return [
        f"Backfills of a year in one run (pages of {page}, TOGGL_WORKSPACE_ID set), each beside the plain script"
        " over the same range:",
        *_table(header, rows),
        "requests by endpoint: "
        + "; ".join(f"{n}: {endpoints_text(r['requests_by_endpoint'])}" for n, r in results.items()),
    ]


def _workspaces(ws: dict[str, Any]) -> list[str]:
    lines = [
        f"Two workspaces in {ws['organizations']} organizations ({ws['entries']:,} entries in all, {ws['days']} days,"
        f" pages of {ws['page_size']}, TOGGL_WORKSPACE_ID unset):"
    ]
    for key, label in (("first_sync", "first sync"), ("daily", "daily run")):
        r = ws[key]
        lines.append(
            f"  {label}: {r['requests']} requests (expected {r['expected']}: {r['expected_note']}),"
            f" {r['wall_seconds']:.1f} s; {endpoints_text(r['requests_by_endpoint'])}"
        )
    return lines


def render(report: dict[str, Any]) -> str:
    lines = [
        f"Machine: {report['machine']['summary']}; embedded PostgreSQL {report['machine']['postgres']}",
        f"Command: {report['config']['command']} ({report['seconds']:.0f} s in all). Pacing off"
        " (TOGGL_REQUESTS_PER_SECOND=0), quotas off, TOGGL_TIMEZONE=UTC.",
        "CPU s = the command's own CPU time; simulator CPU s = the test server's CPU time during it.",
        "",
    ]
    if "two_years" in report:
        lines += [*_two_years(report["two_years"]), ""]
    if "forty_two_days" in report:
        lines += [*_forty_two(report["forty_two_days"]), ""]
    if report.get("workloads"):
        lines += [*_throughput(report["workloads"], report["config"]["throughput_page_size"]), ""]
    if "two_workspaces" in report:
        lines += [*_workspaces(report["two_workspaces"]), ""]
    lines.append("Targets:")
    for v in report["targets"]:
        value = "-" if v["value"] is None else v["value"]
        lines.append(
            f"  {v['status']:<4} {v['name']}: {value} (target {v['target']})"
            + (f"; reference: {v['reference']}" if v["reference"] else "")
        )
    return "\n".join(lines)
