"""Resources: Toggl (Basic auth over HTTP) and the PostgreSQL warehouse. Secrets arrive only via ``dg.EnvVar``."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import psycopg
from pydantic import Field, PrivateAttr

from toggl_assets.records import WorkspaceRecord
from toggl_assets.settings import DEFAULT_API_URL, Settings, parse_workspace_ids, validate_schema_name
from toggl_assets.sync.workspaces import select_workspaces
from toggl_assets.toggl import TogglClient
from toggl_assets.warehouse.db import connect
from toggl_assets.warehouse.migrations import migrate


class TogglResource(dg.ConfigurableResource):
    """Toggl Track API access: Basic auth with the API token, pacing, quota handling, retries, pagination."""

    api_token: str = Field(description="Toggl API token (set TOGGL_API_TOKEN; never stored in run config).")
    api_url: str = Field(default=DEFAULT_API_URL, description="Base URL of the Toggl API (TOGGL_API_URL).")
    workspace_ids: str = Field(
        default="",
        description="Workspaces to sync, comma-separated (TOGGL_WORKSPACE_ID); empty: every workspace of the token.",
    )
    requests_per_second: float = Field(default=1.0, description="Pace of API requests; 0 disables pacing.")
    max_quota_wait_seconds: float = Field(
        default=900.0, description="Wait for a spent hourly quota to reset if that is at most this long."
    )
    page_size: int = Field(default=10_000, description="Requested page size of the detailed report.")
    max_retries: int = Field(default=6, description="Retries of a failed request (5xx, 429, network) per request.")

    _run_client: TogglClient | None = PrivateAttr(default=None)
    _token_workspaces: list[WorkspaceRecord] | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # One client per run: one requests.Session, one pace and quota state, and one /me/workspaces look-up
        # shared by every step, instead of one per step against the 30-per-hour user quota.
        self._run_client = None
        self._token_workspaces = None

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._run_client is not None:
            self._run_client.close()
            self._run_client = None

    @contextmanager
    def client(self, logger: logging.Logger | dg.DagsterLogManager | None = None) -> Iterator[TogglClient]:
        """The run's client, logging to the step's logger while the step uses it."""
        if self._run_client is None:
            self._run_client = TogglClient(
                self.api_token,
                self.api_url,
                requests_per_second=self.requests_per_second,
                max_quota_wait_seconds=self.max_quota_wait_seconds,
                page_size=self.page_size,
                max_retries=self.max_retries,
            )
        client = self._run_client
        previous = client.log
        client.log = logger or previous
        try:
            yield client
        finally:
            client.log = previous

    @property
    def configured_workspace_ids(self) -> tuple[int, ...]:
        return parse_workspace_ids(self.workspace_ids)

    def token_workspaces(self, client: TogglClient) -> list[WorkspaceRecord]:
        """The token user's workspaces (``GET /me/workspaces``), read once per run."""
        if self._token_workspaces is None:
            self._token_workspaces = client.workspaces()
        return self._token_workspaces

    def selected_workspace_ids(self, client: TogglClient) -> list[int]:
        """TOGGL_WORKSPACE_ID's workspaces (no request), else every workspace of the token (one request)."""
        configured = self.configured_workspace_ids
        if configured:
            return list(configured)
        return [workspace.id for workspace in select_workspaces(self.token_workspaces(client), configured)]


_MIGRATED: set[tuple[str, str, str]] = set()


class WarehouseResource(dg.ConfigurableResource):
    """The PostgreSQL warehouse. An empty ``url`` means the embedded server under ``TOGGL_ASSETS_HOME``."""

    url: str = Field(default="", description="PostgreSQL URL (TOGGL_WAREHOUSE_URL); empty = embedded server.")
    raw_schema: str = "raw"
    analytics_schema: str = "analytics"
    home: str = ".toggl_assets"
    _resolved_url: str | None = PrivateAttr(default=None)

    def _url(self) -> str:
        if self._resolved_url is None:
            if self.url:
                self._resolved_url = self.url
            else:
                from toggl_assets.local_postgres import resolve_database_urls

                env = {key: value for key, value in os.environ.items() if key != "TOGGL_WAREHOUSE_URL"}
                self._resolved_url = resolve_database_urls(Path(self.home), env).warehouse_url
        return self._resolved_url

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """An autocommit connection with the schema migrated (once per process).

        Callers open ``conn.transaction()`` around each write, so a transaction lasts as long as the write,
        not as long as the API calls before it (staging COPYs commit on their own into a temp table).
        """
        validate_schema_name(self.raw_schema, "raw_schema")  # before any SQL: a hostile name is a config error
        validate_schema_name(self.analytics_schema, "analytics_schema")
        url = self._url()
        with connect(url, autocommit=True) as conn:
            key = (url, self.raw_schema, self.analytics_schema)
            if key not in _MIGRATED:
                migrate(conn, raw_schema=self.raw_schema, analytics_schema=self.analytics_schema)
                _MIGRATED.add(key)
            yield conn


def _env_or_default(name: str, default: object) -> object:
    """``dg.EnvVar`` when the variable is set (so its value never enters run config), else the default."""
    return dg.EnvVar(name) if os.environ.get(name, "").strip() else default


def build_resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    return {
        "toggl": TogglResource(
            api_token=dg.EnvVar("TOGGL_API_TOKEN"),
            api_url=_env_or_default("TOGGL_API_URL", DEFAULT_API_URL),
            workspace_ids=",".join(str(wid) for wid in settings.workspace_ids),
            requests_per_second=settings.requests_per_second,
            max_quota_wait_seconds=settings.max_quota_wait_seconds,
            page_size=settings.page_size,
        ),
        "warehouse": WarehouseResource(
            url=_env_or_default("TOGGL_WAREHOUSE_URL", ""),
            raw_schema=settings.raw_schema,
            analytics_schema=settings.analytics_schema,
            home=str(settings.home),
        ),
    }
