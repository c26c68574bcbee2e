"""The merge's set-based reference check: when it may switch the per-row triggers off, and its clean fallbacks.

The fast path (``session_replication_role = replica`` around the merge's writes) needs a role that may set that
parameter (a superuser; PostgreSQL 15+: a role granted SET on it) and a ``toggl_entries`` whose only triggers are
those of its own foreign keys. Anywhere else (Supabase, RDS, a trigger or a referencing table someone added) the
merge runs with the per-row triggers, with the same results.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import psycopg
import pytest
from psycopg import sql

from toggl_assets.warehouse import checks, entries
from toggl_assets.warehouse.migrations import migrate
from toggl_assets.warehouse.references import may_skip_row_triggers, row_triggers_off
from toggl_assets_tests.factories import entry, load_entries, utc

W0 = utc(2024, 3, 4)
W1 = W0 + timedelta(days=1)


@pytest.fixture
def db(warehouse: psycopg.Connection) -> psycopg.Connection:
    migrate(warehouse)
    return warehouse


def _day(count: int = 6) -> list:
    return [entry(i, W0 + timedelta(hours=i), 60, project_id=10 + i % 2, user_id=5, task_id=None) for i in range(count)]


def _replication_role(conn: psycopg.Connection) -> str:
    return conn.execute("SELECT current_setting('session_replication_role')").fetchone()[0]


def test_the_embedded_superuser_takes_the_set_based_path(db: psycopg.Connection) -> None:
    assert may_skip_row_triggers(db, "raw")
    stats = load_entries(db, _day(), W0, W1)
    assert (stats.inserted, stats.placeholders["projects"], stats.placeholders["users"]) == (6, 2, 1)
    # Back on as soon as the writes are done, inside the caller's transaction.
    assert _replication_role(db) == "origin"
    db.commit()
    assert checks.foreign_keys_resolve(db).passed


def test_triggers_come_back_on_when_the_merge_fails_in_python(
    db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: object, **kwargs: object) -> dict:
        raise RuntimeError("injected")

    monkeypatch.setattr(entries, "build_insert_sql", boom)
    with pytest.raises(RuntimeError, match="injected"):
        load_entries(db, _day(), W0, W1)
    # The transaction is still usable (no SQL error): the previous value is back.
    assert _replication_role(db) == "origin"
    db.rollback()


def test_a_trigger_someone_added_keeps_firing(db: psycopg.Connection) -> None:
    db.execute("CREATE TABLE public.audit (entry_id bigint)")
    db.execute(
        "CREATE FUNCTION public.audit_entry() RETURNS trigger LANGUAGE plpgsql AS"
        " $$ BEGIN INSERT INTO public.audit VALUES (NEW.id); RETURN NEW; END $$"
    )
    db.execute(
        "CREATE TRIGGER audit AFTER INSERT ON raw.toggl_entries FOR EACH ROW EXECUTE FUNCTION public.audit_entry()"
    )
    db.commit()
    assert not may_skip_row_triggers(db, "raw")
    load_entries(db, _day(), W0, W1)
    db.commit()
    assert db.execute("SELECT count(*) FROM public.audit").fetchone() == (6,)


def test_a_table_referencing_entries_keeps_its_foreign_key(db: psycopg.Connection) -> None:
    load_entries(db, _day(), W0, W1)
    db.execute("CREATE TABLE public.notes (entry_id bigint REFERENCES raw.toggl_entries (id))")
    db.execute("INSERT INTO public.notes VALUES (1)")
    db.commit()
    assert not may_skip_row_triggers(db, "raw")
    # Entry 1 is gone from Toggl: deleting it would orphan the note, so the merge fails and changes nothing.
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        load_entries(db, [r for r in _day() if r.id != 1], W0, W1)
    db.rollback()
    assert checks.window_row_count(db, "raw", W0, W1) == 6


def test_a_role_that_may_not_set_the_replication_role_falls_back_cleanly(
    db: psycopg.Connection, warehouse_url: str
) -> None:
    role = f"t_loader_{uuid.uuid4().hex[:8]}"
    try:
        db.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    except psycopg.errors.InsufficientPrivilege:
        db.rollback()
        pytest.skip("this server does not let the test create a role")
    ident = sql.Identifier(role)
    dbname = db.info.dbname
    for statement in (
        "GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {r}",
        "GRANT USAGE ON SCHEMA raw, analytics TO {r}",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA raw, analytics TO {r}",
    ):
        db.execute(sql.SQL(statement).format(db=sql.Identifier(dbname), r=ident))
    db.commit()
    try:
        with psycopg.connect(warehouse_url, user=role) as conn:
            assert not conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0]
            assert not may_skip_row_triggers(conn, "raw")
            # Even asked directly, the refused setting changes nothing and leaves the transaction usable.
            with conn.transaction(), row_triggers_off(conn) as off:
                assert not off
                assert _replication_role(conn) == "origin"
            stats = load_entries(conn, _day(), W0, W1)
            assert (stats.inserted, stats.placeholders["projects"]) == (6, 2)
            conn.commit()
            assert load_entries(conn, _day(), W0, W1).unchanged == 6
            conn.commit()
            # The foreign keys are the per-row triggers here: a reference to nothing is refused.
            with pytest.raises(psycopg.errors.ForeignKeyViolation):
                conn.execute(
                    "INSERT INTO raw.toggl_entries (id, workspace_id, start, project_id) VALUES (99, 1, now(), 424242)"
                )
            conn.rollback()
    finally:
        db.rollback()
        db.execute(sql.SQL("DROP OWNED BY {}").format(ident))
        db.execute(sql.SQL("DROP ROLE {}").format(ident))
        db.commit()
    assert checks.foreign_keys_resolve(db).passed


@pytest.mark.parametrize(
    ("dumper", "values"),
    [
        (entries._Int8ArrayDumper, [[], [1], [1, 2, 3], [-5, 2**62], [4, None]]),
        (entries._TextArrayDumper, [[], ["a"], ["comma, here", 'quote "', "{b}", "😀", "", "NULL"], ["x", None]]),
    ],
)
def test_the_stage_array_dumpers_write_what_psycopg_writes(dumper: type, values: list[list]) -> None:
    context = psycopg.adapt.Transformer()
    generic = psycopg.postgres.adapters.get_dumper_by_oid(dumper.oid, psycopg.pq.Format.BINARY)(list, context)
    ours = dumper(type(None), context)
    for value in values:
        assert ours.dump(tuple(value)) == bytes(generic.dump(list(value))), value
        assert ours.dump(list(value)) == bytes(generic.dump(list(value))), value
    # NUL bytes go, as everywhere in the stage.
    if dumper is entries._TextArrayDumper:
        assert ours.dump(("a\x00b",)) == bytes(generic.dump(["ab"]))
