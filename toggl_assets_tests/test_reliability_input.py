"""Guarantee 5: bad input gets a clear error (and changes nothing), good-but-odd input is stored faithfully.

* Configuration and command line: wrong or missing token, unknown workspace, bad, reversed or out-of-range
  dates, unreachable database, wrong database password: one ``error:`` line, no traceback, no secret.
* Toggl answers: malformed JSON, a field of the wrong type -> ``TogglResponseError`` naming the endpoint and
  the field, the run fails and the warehouse is unchanged; extra, unknown fields are ignored.
* Text: 10,000-character descriptions, unicode, quotes, backslashes, SQL look-alikes are stored exactly as
  Toggl has them; NUL characters (which PostgreSQL text cannot hold) are removed, nothing else.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from toggl_assets.simulator import Simulator, SimulatorConfig
from toggl_assets.toggl import TogglClient, TogglResponseError
from toggl_assets_tests.factories import workspace_spec
from toggl_assets_tests.reliability_support import (
    admin_url,
    assert_checks_pass,
    cli_env,
    failure_message,
    new_database,
    run_cli,
    run_sync,
    table_contents,
)

START, END = date(2024, 3, 1), date(2024, 3, 31)
REPORT = "POST /reports/api/v3/workspace/{wid}/search/time_entries"


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    spec = workspace_spec(61, 300, START, END, projects=4, tasks=4)
    with Simulator(SimulatorConfig(spec=spec)) as simulator:
        yield simulator


def _one_error_line(result: Any, *fragments: str, code: int = 2) -> str:
    assert result.returncode == code, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-2000:]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


# ------------------------------------------------------------------------------------------ command line


@pytest.mark.parametrize(
    ("start", "end", "fragment"),
    [
        ("2024-02-30", "2024-03-02", "--start must be a date as YYYY-MM-DD"),
        ("2024-03-01", "yesterday", "--end must be a date as YYYY-MM-DD"),
        ("2024-03-05", "2024-03-01", "--start 2024-03-05 is after --end 2024-03-01"),
        ("2023-12-31", "2024-03-01", "is before TOGGL_START_DATE (2024-03-01)"),
        ("2024-03-01", (date.today() + timedelta(days=3)).isoformat(), "is in the future"),
    ],
    ids=["bad-start", "bad-end", "reversed", "before-start-date", "future"],
)
def test_bad_or_reversed_dates_are_refused_before_anything_runs(tmp_path, start, end, fragment):
    env = {
        "PATH": "/usr/bin:/bin",
        "TOGGL_ASSETS_HOME": str(tmp_path),
        "TOGGL_START_DATE": "2024-03-01",
        "TOGGL_API_TOKEN": "x",
    }
    result = run_cli("sync", "--start", start, "--end", end, env=env, cwd=tmp_path, timeout=120)
    _one_error_line(result, fragment)
    assert not (tmp_path / "pgdata").exists()  # refused before any server was started


def test_unknown_workspace_and_wrong_token_fail_clearly_and_change_nothing(sim, warehouse_url):
    assert run_sync(sim, warehouse_url, START, END, start_date=START).success
    before = table_contents(warehouse_url)
    unknown = run_sync(sim, warehouse_url, START, END, start_date=START, workspace_ids="1234567")
    assert not unknown.success
    message = failure_message(unknown)
    # Checked against GET /me/workspaces before any workspace-scoped request: no 403 needed to know.
    assert "workspace 1234567 is not readable" in message and "TOGGL_WORKSPACE_ID" in message, message
    assert str(sim.workspace_id) in message  # the workspaces the token can read, to pick from
    wrong = secrets.token_hex(16)
    refused = run_sync(sim, warehouse_url, START, END, start_date=START, token=wrong)
    assert not refused.success
    assert "refused the API token" in failure_message(refused) and wrong not in failure_message(refused)
    assert table_contents(warehouse_url) == before


@pytest.fixture
def password_role(pg_socket_dir: str) -> Iterator[tuple[str, str]]:
    """A role that must log in with a password (scram-sha-256) on the session server; removed afterwards."""
    role, password = f"pw_{secrets.token_hex(4)}", f"Pw_{secrets.token_hex(8)}"
    with psycopg.connect(admin_url(pg_socket_dir), autocommit=True) as conn:
        hba = Path(conn.execute("SHOW hba_file").fetchone()[0])
        original = hba.read_text()
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        hba.write_text(f"local all {role} scram-sha-256\n{original}")
        conn.execute("SELECT pg_reload_conf()")
        try:
            yield role, password
        finally:
            hba.write_text(original)
            conn.execute("SELECT pg_reload_conf()")
            conn.execute(f"DROP ROLE IF EXISTS {role}")


def test_wrong_database_password_is_one_line_without_the_password(sim, pg_socket_dir, password_role, tmp_path):
    role, password = password_role
    wrong = f"Wrong_{secrets.token_hex(8)}"
    with new_database(pg_socket_dir) as url:
        database = url.split("@/", 1)[1].split("?", 1)[0]
        good = f"postgresql://{role}:{password}@/{database}?host={pg_socket_dir}"
        psycopg.connect(good).close()  # the right password works: the role is set up correctly
        bad = good.replace(password, wrong)
        env = cli_env(tmp_path, bad, bad, sim, TOGGL_START_DATE=START.isoformat())
        result = run_cli("sync", "--start", "2024-03-04", "--end", "2024-03-05", env=env, cwd=tmp_path)
        line = _one_error_line(result, "TOGGL_WAREHOUSE_URL", "password authentication failed", role)
        assert wrong not in result.stdout + result.stderr and password not in line


# ------------------------------------------------------------------------------------------ Toggl answers


class _Mangler:
    """A test-only HTTP proxy in front of the simulator that rewrites the JSON of chosen answers."""

    def __init__(self, upstream: str, mangle: Callable[[str, Any], Any]) -> None:
        self.upstream, self.mangle = upstream, mangle
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _proxy(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                answer = requests.request(
                    self.command, outer.upstream + self.path, data=body, headers=headers, timeout=30
                )
                content = answer.content
                if answer.ok and content:
                    content = json.dumps(outer.mangle(self.path, json.loads(content))).encode()
                self.send_response(answer.status_code)
                for key, value in answer.headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = _proxy

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _add_extras(value: Any) -> Any:
    """Every JSON object gains fields Toggl might add one day."""
    if isinstance(value, dict):
        return {**{k: _add_extras(v) for k, v in value.items()}, "x_new_field": {"nested": [1, "two"]}, "x_flag": True}
    if isinstance(value, list):
        return [_add_extras(v) for v in value]
    return value


def _wrong_type(field: str, value: Any, nested: bool = False) -> Callable[[str, Any], Any]:
    def mangle(path: str, body: Any) -> Any:
        if "search/time_entries" in path and isinstance(body, list) and body:
            target = body[-1]["time_entries"][0] if nested else body[-1]
            target[field] = value
        return body

    return mangle


@pytest.mark.parametrize(
    ("mangle", "problem"),
    [
        (_wrong_type("description", 12345), "description should be a string, got 12345"),
        (_wrong_type("user_id", "seven"), "user_id should be an integer, got 'seven'"),
        (_wrong_type("tag_ids", "1,2"), "tag_ids should be an array"),
        (_wrong_type("start", "yesterday", nested=True), "start is not an RFC 3339 timestamp"),
        (_wrong_type("id", None, nested=True), "lacks required integer 'id'"),
    ],
    ids=["description-int", "user_id-str", "tag_ids-str", "start-garbage", "id-missing"],
)
def test_wrong_field_types_raise_response_error_naming_endpoint_and_fail_the_run(sim, warehouse_url, mangle, problem):
    with _Mangler(sim.url, mangle) as url:
        client = TogglClient(sim.api_token, url, requests_per_second=0)
        with client, pytest.raises(TogglResponseError) as raised:
            [page for page in client.iter_entry_pages(sim.workspace_id, START, END)]
        assert raised.value.endpoint == REPORT and problem in str(raised.value), str(raised.value)
        assert run_sync(sim, warehouse_url, START, END, start_date=START).success
        before = table_contents(warehouse_url)
        result = run_sync(_Via(sim, url), warehouse_url, START, END, start_date=START)
        assert not result.success
        message = failure_message(result)
        assert REPORT in message and problem in message, message
        assert table_contents(warehouse_url) == before


class _Via:
    """The simulator's identity (token, workspace) at another URL."""

    def __init__(self, sim: Simulator, url: str) -> None:
        self.api_token, self.workspace_id, self.url = sim.api_token, sim.workspace_id, url


def test_malformed_json_fails_the_run_clearly_and_changes_nothing(sim, warehouse_url):
    assert run_sync(sim, warehouse_url, START, END, start_date=START).success
    before = table_contents(warehouse_url)
    sim.set_faults(rate=1.0, kinds=("malformed",))
    try:
        result = run_sync(sim, warehouse_url, START, END, start_date=START, max_retries=1)
    finally:
        sim.set_faults(rate=0.0)
    assert not result.success
    assert "not valid JSON" in failure_message(result) and "GET /api/v9/workspaces/{wid}/" in failure_message(result)
    assert table_contents(warehouse_url) == before


def test_extra_fields_everywhere_are_ignored(sim, pg_socket_dir):
    with (
        _Mangler(sim.url, lambda path, body: _add_extras(body)) as url,
        new_database(pg_socket_dir) as plain,
        new_database(pg_socket_dir) as extra,
    ):
        assert run_sync(sim, plain, START, END, start_date=START).success
        assert run_sync(_Via(sim, url), extra, START, END, start_date=START).success
        assert table_contents(extra) == table_contents(plain)


# ------------------------------------------------------------------------------------------ text


ODD_TEXTS = {
    "long": ("Ünïcødé ☕ " * 1000)[:10_000],
    "unicode": "日本語のテキスト 👩‍💻 🚀 עברית مرحبا e\u0301 \u200b zero-width \U0001f1e9\U0001f1ea",
    "sql": "'); DROP TABLE raw.toggl_entries; -- \" OR 1=1; SELECT pg_sleep(10); $$ $tag$",
    "escapes": "back\\slash \\N tab\there new\nline cr\r percent %s %(x)s {0} {} \\x00 \\u0000",
    "nul": "before\x00after\x00",
    "only_spaces": "   ",
    "empty": "",
}


def test_odd_descriptions_are_stored_faithfully_end_to_end(sim, warehouse_url):
    day = datetime(2024, 3, 20, 8, 0, tzinfo=UTC)
    created = {
        name: sim.create_entry(
            user_id=sim.truth.users[0]["uid"],
            start=day + timedelta(minutes=10 * i),
            duration_seconds=300,
            description=text,
            tags=["'; DROP TABLE x; --", 'ñ,"quoted"', "tab\there"],
        )["id"]
        for i, (name, text) in enumerate(ODD_TEXTS.items())
    }
    result = run_sync(sim, warehouse_url, date(2024, 3, 20), date(2024, 3, 20), start_date=START)
    assert result.success, failure_message(result)
    with psycopg.connect(warehouse_url) as conn:
        stored = dict(
            conn.execute(
                "SELECT id, description FROM raw.toggl_entries WHERE id = ANY(%s)", (list(created.values()),)
            ).fetchall()
        )
        tags = conn.execute("SELECT tags FROM raw.toggl_entries WHERE id = %s", (created["sql"],)).fetchone()[0]
        assert conn.execute("SELECT to_regclass('raw.toggl_entries')").fetchone()[0] is not None
    for name, text in ODD_TEXTS.items():
        expected = text.replace("\x00", "")  # the documented exception: PostgreSQL text cannot hold NUL
        assert stored[created[name]] == expected, (name, stored[created[name]])
    assert len(stored[created["long"]]) == 10_000
    assert sorted(tags) == sorted(["'; DROP TABLE x; --", 'ñ,"quoted"', "tab\there"])
    assert all(check.passed for check in result.get_asset_check_evaluations())
    assert_checks_pass(warehouse_url)
