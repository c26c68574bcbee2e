"""Connecting to the warehouse without ever leaking the database password; SQL names; the writers' lock.

Also the one place that validates schema names and time zones for the warehouse (``toggl_assets.settings``
imports them from here: the warehouse does not depend on the application's settings).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg
from psycopg import conninfo, sql

# ``postgresql+psycopg://`` / ``postgres+psycopg2://``: SQLAlchemy-style URLs people paste from other tools.
_DRIVER_PREFIX = re.compile(r"^(?P<scheme>postgres(?:ql)?)\+[A-Za-z0-9_]+://", re.IGNORECASE)
# userinfo of a URL: everything between "scheme://user:" and the LAST "@" (over-redacting is the safe side).
_URL_PASSWORD = re.compile(r"^(?P<pre>[A-Za-z][A-Za-z0-9+.-]*://[^:@/?#]*:)(?P<pw>.*)@(?P<post>[^@]*)$", re.DOTALL)
_QUERY_PASSWORD = re.compile(r"(?P<pre>[?&]password=)(?P<pw>[^&#]*)", re.IGNORECASE)
_KV_PASSWORD = re.compile(r"(?P<pre>\bpassword\s*=\s*)(?P<pw>'(?:[^'\\]|\\.)*'|[^\s'&]+)", re.IGNORECASE)
_REDACTED = "***"
# Schema names are lower-case SQL identifiers (63 bytes at most): no quoting surprises, no injection.
SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Arbitrary constant (ASCII "tgload") shared by every process writing to the warehouse.
LOAD_LOCK_KEY = 0x7467_6C6F_6164


class WarehouseError(RuntimeError):
    """A warehouse operation failed; the message is safe to log (it never contains a password)."""


class InvalidNameError(ValueError):
    """A schema name or time zone given to the warehouse is not acceptable (the message says which and why)."""


def validate_schema_name(value: str, name: str = "schema") -> str:
    """Return ``value`` if it is a lower-case SQL identifier; ``name`` says where it came from in the error."""
    if not isinstance(value, str) or not SCHEMA_NAME.match(value):
        raise InvalidNameError(f"{name} must be a lower-case SQL identifier ([a-z_][a-z0-9_]*), got {value!r}")
    return value


def schema_ident(schema: str, name: str = "schema") -> sql.Identifier:
    """The validated schema name as an SQL identifier, ready for ``sql.SQL(...).format``."""
    return sql.Identifier(validate_schema_name(schema, name))


def validate_timezone(value: str, name: str = "timezone") -> str:
    """Return ``value`` if it is an IANA time zone name (the same names PostgreSQL's ``AT TIME ZONE`` knows)."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidNameError(f"{name} must be an IANA time zone such as Europe/Berlin, got {value!r}") from None
    return value


def require_transaction(conn: psycopg.Connection) -> None:
    """Refuse an autocommit connection outside ``conn.transaction()``.

    Autocommit would release the advisory lock after each statement, and a failure halfway through would leave
    a partial load behind. An autocommit connection inside ``with conn.transaction():`` is fine.
    """
    if conn.autocommit and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        raise WarehouseError(
            "warehouse loads need a transaction: use autocommit=False or wrap the call in conn.transaction()"
        )


def lock_for_load(conn: psycopg.Connection) -> None:
    """Serialize warehouse writers until the caller's transaction ends (commit or rollback releases it)."""
    require_transaction(conn)
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOAD_LOCK_KEY,))


@contextmanager
def local_settings(conn: psycopg.Connection, **settings: str) -> Iterator[None]:
    """Server settings for the statements of this block only, in the caller's transaction: each previous value is
    restored on exit (after an SQL error the transaction's rollback restores them)."""
    require_transaction(conn)
    previous = {}
    for name, value in settings.items():
        row = conn.execute("SELECT current_setting(%s), set_config(%s, %s, true)", (name, name, value)).fetchone()
        previous[name] = row[0] if row else ""
    try:
        yield
    finally:
        if conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS:
            for name, value in previous.items():
                conn.execute("SELECT set_config(%s, %s, true)", (name, value))


@contextmanager
def shared_snapshot(conn: psycopg.Connection, other: psycopg.Connection) -> Iterator[None]:
    """Read-only, repeatable-read transactions on ``conn`` and ``other`` (two connections to one database, no
    transaction open on either) that see the same snapshot, ``conn``'s, until the block ends: two reads run side by
    side see the warehouse as one read would, whatever commits meanwhile."""
    begin = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
    with conn.transaction(), other.transaction():
        conn.execute(begin)
        row = conn.execute("SELECT pg_export_snapshot()").fetchone()
        other.execute(begin)
        other.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(row[0] if row else "")))
        yield


def strip_driver(url: str) -> str:
    """Turn ``postgresql+psycopg2://...`` into ``postgresql://...`` (libpq does not know driver suffixes)."""
    return _DRIVER_PREFIX.sub(lambda m: f"{m.group('scheme')}://", url.strip(), count=1)


def redact_url(url: str) -> str:
    """Return ``url`` with its password replaced by ``***`` (URL or ``key=value`` conninfo form)."""
    text = _URL_PASSWORD.sub(lambda m: f"{m.group('pre')}{_REDACTED}@{m.group('post')}", url, count=1)
    text = _QUERY_PASSWORD.sub(lambda m: f"{m.group('pre')}{_REDACTED}", text)
    return _KV_PASSWORD.sub(lambda m: f"{m.group('pre')}{_REDACTED}", text)


def _passwords(url: str) -> list[str]:
    """Every spelling of the password in ``url`` (raw and percent-decoded), longest first."""
    found: set[str] = set()
    for pattern in (_URL_PASSWORD, _QUERY_PASSWORD, _KV_PASSWORD):
        for match in pattern.finditer(url):
            raw = match.group("pw").strip("'")
            found.update(p for p in (raw, unquote(raw)) if p)
    try:
        value = conninfo.conninfo_to_dict(url).get("password")
    except psycopg.Error:
        value = None
    if value:
        found.add(str(value))
    return sorted(found, key=len, reverse=True)


def scrub(text: str, url: str) -> str:
    """Remove the password of ``url`` from arbitrary text (e.g. a libpq error message)."""
    for password in _passwords(url):
        text = text.replace(password, _REDACTED)
    return redact_url(text)


def describe_target(url: str) -> str:
    """``database 'x' on host 'y'``, for error messages (no user, no password)."""
    try:
        params = conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return f"database URL {redact_url(url)!r}"
    host = params.get("host") or params.get("hostaddr") or "localhost (default socket)"
    port = f":{params['port']}" if params.get("port") else ""
    return f"database {params.get('dbname') or '(default)'!r} on host {f'{host}{port}'!r}"


def connect(url: str, **kwargs: Any) -> psycopg.Connection:
    """Open a psycopg connection to ``url``; failures become :class:`WarehouseError` without the password.

    ``kwargs`` go to :func:`psycopg.connect` (``autocommit``, ``connect_timeout``, ...). SQLAlchemy-style
    ``postgresql+driver://`` prefixes are accepted.
    """
    target = strip_driver(url)
    try:
        return psycopg.connect(target, **kwargs)
    except psycopg.Error as exc:
        detail = scrub(str(exc).strip(), target)
        # ``from None``: the original exception (and its traceback) could still carry the password.
        raise WarehouseError(f"could not connect to {describe_target(target)}: {detail}") from None
