"""Guarantee 6: the API token and the database password never reach what Dagster stores or prints, SQL is
parameterized with quoted identifiers, and a hostile schema name is refused before any SQL runs."""

from __future__ import annotations

import ast
import base64
import secrets
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
import pytest
from psycopg import sql

import toggl_assets
from toggl_assets.cli import _failure_message
from toggl_assets.orchestration.resources import WarehouseResource
from toggl_assets.settings import ConfigError
from toggl_assets.simulator import Simulator, SimulatorConfig
from toggl_assets_tests.factories import workspace_spec
from toggl_assets_tests.reliability_support import (
    cli_env,
    new_database,
    run_cli,
    run_sync,
)

START, END = date(2024, 3, 1), date(2024, 3, 14)


def _spellings(secret: str) -> list[str]:
    """The secret and the forms it could leak in (Basic auth header value, URL-encoded)."""
    basic = base64.b64encode(f"{secret}:api_token".encode()).decode()
    return [secret, basic, secret.upper()]


def _dump_database(url: str) -> str:
    """Every row of every table of Dagster's storage as text (event log, runs, run config, metadata, ...)."""
    parts = []
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "SELECT schemaname, tablename FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
        assert len(tables) > 5, tables
        for schema, table in tables:
            query = sql.SQL("SELECT t::text FROM {}.{} t").format(sql.Identifier(schema), sql.Identifier(table))
            parts.extend(row[0] for row in conn.execute(query))
    return "\n".join(parts)


def _dump_files(root: Path) -> str:
    return "\n".join(
        path.read_bytes().decode("utf-8", errors="replace")
        for path in root.rglob("*")
        if path.is_file() and "pgdata" not in path.parts
    )


def test_token_and_database_password_never_reach_dagster_storage_logs_or_output(pg_socket_dir, tmp_path):
    spec = workspace_spec(71, 200, START, END, projects=4, tasks=4)
    db_password = f"DbPw_{secrets.token_hex(10)}"
    wrong_token = secrets.token_hex(16)
    with (
        Simulator(SimulatorConfig(spec=spec)) as sim,
        new_database(pg_socket_dir) as warehouse,
        new_database(pg_socket_dir) as dagster_db,
    ):
        token = sim.api_token
        # The embedded server trusts local connections, so libpq never sends the password, but every layer
        # that sees the URL (settings, resources, Dagster's storage config, error messages) has it.
        with_password = lambda url: url.replace("postgres@/", f"postgres:{db_password}@/", 1)  # noqa: E731
        env = cli_env(
            tmp_path, with_password(warehouse), with_password(dagster_db), sim, TOGGL_START_DATE=START.isoformat()
        )
        args = ("sync", "--start", START.isoformat(), "--end", END.isoformat())
        ok = run_cli(*args, env=env, cwd=tmp_path)
        assert ok.returncode == 0, ok.stdout[-2000:] + ok.stderr[-2000:]
        failed = run_cli(*args, env={**env, "TOGGL_API_TOKEN": wrong_token}, cwd=tmp_path)
        assert failed.returncode == 1 and "TOGGL_API_TOKEN" in failed.stderr, failed.stderr[-2000:]

        stored = _dump_database(dagster_db)
        assert "toggl_entries" in stored and "api_requests" in stored  # the dump really holds the run history
        assert "refused the API token" in stored  # ... and the failed run's error
        haystacks = {
            "dagster storage": stored,
            "files under TOGGL_ASSETS_HOME (dagster.yaml, compute logs)": _dump_files(tmp_path),
            "stdout/stderr": ok.stdout + ok.stderr + failed.stdout + failed.stderr,
        }
        for where, text in haystacks.items():
            for secret in (*_spellings(token), *_spellings(wrong_token), db_password):
                assert secret not in text, f"a secret leaked into {where}"


def test_a_run_failing_on_the_database_does_not_store_its_password(pg_socket_dir):
    password = f"DbPw_{secrets.token_hex(10)}"
    spec = workspace_spec(72, 50, START, END, users=2, clients=1, projects=2, tags=2, tasks=0, edge_cases=False)
    with Simulator(SimulatorConfig(spec=spec)) as sim, dg.DagsterInstance.ephemeral() as instance:
        missing = f"postgresql://postgres:{password}@/no_such_db_{secrets.token_hex(4)}?host={pg_socket_dir}"
        result = run_sync(sim, missing, START, END, start_date=START, instance=instance)
        assert not result.success
        line = _failure_message(result)  # what `toggl-assets sync` prints for it
        assert line.startswith("toggl_assets.warehouse.db.WarehouseError: could not connect to database"), line
        assert password not in line
        events = [dg.serialize_value(record) for record in instance.all_logs(result.run_id)]
        run = dg.serialize_value(instance.get_run_by_id(result.run_id))
        assert events and all(password not in text for text in [*events, run])


def test_hostile_schema_names_are_refused_before_any_sql(pg_socket_dir, tmp_path, warehouse_url):
    hostile = 'raw"; DROP TABLE raw.toggl_entries; --'
    result = run_cli(
        "sync",
        "--start",
        "2024-03-01",
        "--end",
        "2024-03-02",
        env={
            "PATH": "/usr/bin:/bin",
            "TOGGL_ASSETS_HOME": str(tmp_path),
            "TOGGL_API_TOKEN": "x",
            "TOGGL_RAW_SCHEMA": hostile,
        },
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: TOGGL_RAW_SCHEMA must be a lower-case SQL identifier"), result.stderr
    resource = WarehouseResource(url=warehouse_url, raw_schema=hostile)
    with pytest.raises(ConfigError, match="raw_schema must be a lower-case SQL identifier"), resource.connection():
        pass
    with psycopg.connect(warehouse_url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'raw%'").fetchone() == (0,)


def _execute_calls(tree: ast.AST) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("execute", "executemany", "copy")
        and node.args
    ]


def _built_from_strings(node: Any) -> bool:
    """An f-string, ``%`` or ``+`` on strings, or ``"...".format(...)``: SQL text built from values."""
    if isinstance(node, ast.JoinedStr) and any(isinstance(v, ast.FormattedValue) for v in node.values):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        return True
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
        and isinstance(node.func.value, ast.Constant)
    )


def test_sql_is_parameterized_and_identifiers_are_composed_with_psycopg_sql():
    package = Path(toggl_assets.__file__).parent
    sources = [p for p in package.rglob("*.py") if "simulator" not in p.parts]
    offenders = []
    for path in sources:
        for call in _execute_calls(ast.parse(path.read_text(), str(path))):
            if _built_from_strings(call.args[0]):
                offenders.append(f"{path.relative_to(package)}:{call.lineno}")
    assert not offenders, "SQL built from strings (use parameters and psycopg.sql): " + ", ".join(offenders)
