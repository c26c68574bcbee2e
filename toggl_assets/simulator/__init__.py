"""A local, stdlib-only simulator of the Toggl Track API (Track v9 + Reports v3 detailed search and totals).

It reads the API independently of the client in ``toggl_assets.toggl`` (shares no code with it), following
``toggl-api.md``. Start it with ``with Simulator(SimulatorConfig(spec=WorkspaceSpec(...))) as sim:`` and point
a client at ``sim.url`` with ``sim.api_token``. It binds to 127.0.0.1 only.

Several workspaces: ``SimulatorConfig(spec=A, more_workspaces=(B, C))``. ``WorkspaceSpec.organization`` is a
key: equal keys share an organization (one quota bucket per user), different keys do not. The token user
(owner of A) belongs to every workspace; each workspace has its own other users, and with edge cases every
further workspace also has A's second user (same global id). All ids are globally unique and A's data does not
depend on the other workspaces. ``sim.workspace_id`` is A, ``sim.workspace_ids`` all of them.

Modules: ``config`` (specs), ``generate`` (data), ``store`` (one workspace's state), ``world`` (all workspaces,
membership), ``report_query`` (what a report selects), ``serialize`` (JSON shapes), ``v9_me`` /
``v9_workspace`` / ``v9_entries`` / ``reports`` (endpoints), ``api`` (routes), ``wire`` (request/reply types),
``quota``, ``faults``, ``control`` (late edits, truth summaries, ``/_simulator``), ``truth``, ``server``.

Choices made where the real API is unknown or unspecified (toggl-api.md §8):

* Wrong credentials: 403 with a JSON string body; no ``Authorization`` header: 401, empty body,
  ``X-Authorization-Missing: true`` (observed).
* ``/workspaces/{wid}/projects`` without ``active`` lists active projects only (like clients); ``active=both``
  lists all. Private projects are listed for admins only. ``per_page`` default 151, values above 200 are
  clamped to 200. Deleted projects appear only with ``since``.
* ``/workspaces/{wid}/tasks``: ``active`` defaults to true, ``per_page`` default 50, clamped to 200; on a
  free-plan workspace it answers 402 WITHOUT quota headers and does not consume quota.
* ``/workspaces/{wid}/users`` has the SimpleWorkspaceUser shape (id, email, fullname, inactive, is_active,
  is_admin, role); rates, timezones and ``uid`` come from ``/workspace_users`` (whose ``id`` is a distinct
  workspace-user id).
* ``/me/time_entries``: bare dates (``start_date``/``end_date``/``before``) are 00:00 in ``bare_date_tz``
  (default UTC; "user" = the caller's profile zone), so ``end_date`` is exclusive. Both dates are required
  together; ``start_date`` older than ``me_time_entries_max_age_days`` (90) -> 400 "Start and end dates must
  not be earlier than YYYY-MM-DD"; ``since`` older -> 400 "Since cannot be older than 3 months". No
  parameters -> the last 9 days. Always newest first, at most 1000, only the caller's entries.
* ``/me/time_entries*`` cover every workspace the caller can read and count against the organization bucket
  of the caller's default workspace (the first readable one, also ``/me``'s ``default_workspace_id``).
* Starting a running entry while the same user has one running (in any workspace: one timer per user) stops
  the old one at the new start. Only the default workspace gets the generated running entry.
* A workspace the caller is not a member of (unknown id, or membership removed with
  ``sim.remove_membership`` / ``POST /_simulator/membership``) answers 403 with a JSON string on every
  workspace-scoped call: v9 "Incorrect workspace ID or you are not a member of it", Reports "Workspace not
  found/accessible" (SW-R3). Like auth failures it carries no quota headers and uses no quota.
* Reports v3 detailed: dates are inclusive days read in UTC (``bare_date_tz``; "user" = each entry's user
  zone). Running entries are omitted unless ``reports_include_running``; deleted entries never appear.
  ``page_size`` above ``max_page_size`` (1000) is clamped (or 400 with ``page_size_overflow="reject"``).
  Spans above ``report_max_span_days`` (366) -> 400; omitted ``end_date`` = today. Order is (start, id)
  (``order_by`` user/duration/description/last_update also supported; every write moves ``at``, so
  last_update DESC lists the latest edits first). ``first_row_number`` wins over ``first_id``. Rate:
  project rate (project currency), else workspace-user rate, else workspace default (workspace currency).
  Billable rows: ``billable_amount_in_cents = round_half_up(seconds/3600*rate)``; non-billable rows carry
  ``hourly_rate_in_cents`` and ``billable_amount_in_cents`` null (EVR fixture) and the resolved currency.
  Entries of deleted projects keep the project's id and name in report rows.
* Reports v3 totals (``…/search/time_entries/totals``): the detailed search's filters, dates, zone rule,
  span limit and running/deleted rule, so both always agree. ``granularity`` (day/week/month) overrides
  ``resolution``; with neither, the span picks: day up to 31 days, week up to 183, month beyond. Graph buckets
  come by position from ``start_date`` (no date field): days; 7-day blocks from ``start_date`` (not calendar
  weeks); calendar months. An entry counts on the day of its start in ``bare_date_tz`` ("user": its user's
  zone). ``graph`` is null unless ``with_graph`` is true; ``labour_cost_in_cents`` is null; ``by_rate`` maps
  the hourly rate in cents (as a string) to billable seconds, null when none; ``billable_amount_in_cents``
  sums every currency; ``rates`` lists {billable_seconds, currency, hourly_rate_in_cents}; ``tracked_days``
  counts days with at least one matching entry.
* Quotas: with ``quota_plan`` set every authenticated response carries ``X-Toggl-Quota-Remaining`` and
  ``X-Toggl-Quota-Resets-In``; the window is anchored at the first request and resets after
  ``quota_window_seconds``. ``/me``, ``/me/workspaces``, ``/me/organizations``, ``/me/quota`` and
  ``/workspaces`` use the user bucket (``user_quota``); ``/me/time_entries*`` and everything
  workspace/report-scoped use the organization bucket (as a user observed, §4.2). Exhausted -> 402 with the
  headers and a JSON string. ``quota_plan=None`` (default): unlimited and no quota headers. Enterprise = 1200.
* Quota totals follow ``quota_plan`` for every organization. Order of checks: fault injection, leaky bucket
  (429 nginx HTML), auth, routing, workspace access, plan features, quota.
  Injected faults and 401/403 carry no quota headers and consume none.
* Faults: 500 (JSON string), 502/503 (HTML), 429 (HTML, Retry-After: 1 half the time), drop (socket closed
  without a response), slow (``slow_seconds`` then a normal answer), truncate (full Content-Length, half the
  body, then close), malformed (200 with invalid JSON). Write requests hit by truncate/malformed are not
  executed, so faulted requests never change data.
* Generated data: ``WorkspaceSpec.entries`` counts all live entries, edge cases included. The running entry
  (owner) starts 47 minutes before "now" if the range covers today, else at 16:00 UTC on the last day of
  the range (so historical datasets stay deterministic). "Now" is the wall clock, or
  ``SimulatorConfig.clock_start`` advancing in real time. Free workspaces have no rates.
"""

from .config import SimulatorConfig, WorkspaceSpec
from .server import Simulator, Truth

__all__ = ["Simulator", "SimulatorConfig", "Truth", "WorkspaceSpec"]
