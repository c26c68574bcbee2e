"""Connecting to the warehouse without ever leaking the database password into messages or logs."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

import psycopg
from psycopg import conninfo

# ``postgresql+psycopg://`` / ``postgres+psycopg2://``: SQLAlchemy-style URLs people paste from other tools.
_DRIVER_PREFIX = re.compile(r"^(?P<scheme>postgres(?:ql)?)\+[A-Za-z0-9_]+://", re.IGNORECASE)
# userinfo of a URL: everything between "scheme://user:" and the LAST "@" (over-redacting is the safe side).
_URL_PASSWORD = re.compile(r"^(?P<pre>[A-Za-z][A-Za-z0-9+.-]*://[^:@/?#]*:)(?P<pw>.*)@(?P<post>[^@]*)$", re.DOTALL)
_QUERY_PASSWORD = re.compile(r"(?P<pre>[?&]password=)(?P<pw>[^&#]*)", re.IGNORECASE)
_KV_PASSWORD = re.compile(r"(?P<pre>\bpassword\s*=\s*)(?P<pw>'(?:[^'\\]|\\.)*'|[^\s'&]+)", re.IGNORECASE)
_REDACTED = "***"


class WarehouseError(RuntimeError):
    """A warehouse operation failed; the message is safe to log (it never contains a password)."""


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
