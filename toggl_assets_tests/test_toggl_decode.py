"""Pure decoding of Toggl JSON bytes into records: no HTTP involved."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from toggl_assets.records import EntryRecord
from toggl_assets.toggl import decode
from toggl_assets.toggl.client import report_spans
from toggl_assets.toggl.errors import TogglResponseError
from toggl_assets.toggl.transport import error_message

EP = "GET /api/v9/workspaces/{wid}/clients"
REPORT_EP = "POST /reports/api/v3/workspace/{wid}/search/time_entries"


def _b(body: Any) -> bytes:
    return json.dumps(body).encode()


def parse_clients(body: Any, endpoint: str, workspace_id: int) -> list:
    return decode.decode_clients(_b(body), endpoint, workspace_id)


def parse_report_rows(body: Any, endpoint: str, workspace_id: int) -> list:
    return decode.decode_report_page(_b(body), endpoint, workspace_id)[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-12-16T17:05:25+00:00", datetime(2024, 12, 16, 17, 5, 25, tzinfo=UTC)),
        ("2024-12-16T02:18:20Z", datetime(2024, 12, 16, 2, 18, 20, tzinfo=UTC)),
        ("2024-11-08T19:11:14.332795Z", datetime(2024, 11, 8, 19, 11, 14, 332795, tzinfo=UTC)),
        ("2024-07-30T11:13:46+03:00", datetime(2024, 7, 30, 8, 13, 46, tzinfo=UTC)),
        ("2024-07-30T01:13:46.5-05:30", datetime(2024, 7, 30, 6, 43, 46, 500000, tzinfo=UTC)),
        # Nanoseconds are rounded to the nearest microsecond.
        ("2024-07-30T01:13:46.123456789Z", datetime(2024, 7, 30, 1, 13, 46, 123457, tzinfo=UTC)),
    ],
)
def test_timestamps_become_aware_utc(text: str, expected: datetime) -> None:
    parsed = decode.parse_timestamp(text, EP)
    assert parsed == expected
    assert parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0


@pytest.mark.parametrize("bad", ["yesterday", "", 1734035934, None, "2024-13-01T00:00:00Z"])
def test_bad_timestamps_name_the_endpoint(bad: object) -> None:
    with pytest.raises(TogglResponseError, match=r"GET /api/v9/workspaces/\{wid\}/clients"):
        decode.parse_timestamp(bad, EP)  # type: ignore[arg-type]


def test_clients_ignore_unknown_fields_and_use_at() -> None:
    body = [
        {"id": 1, "wid": 9, "archived": False, "name": "Acme", "at": "2024-03-17T10:55:38+00:00", "x": [1]},
        {"id": 2, "wid": 9, "archived": True, "name": "Old", "at": "2024-03-17T10:55:38Z", "notes": "n"},
    ]
    clients = parse_clients(body, EP, 9)
    assert [c.id for c in clients] == [1, 2]
    assert clients[0].created_at == datetime(2024, 3, 17, 10, 55, 38, tzinfo=UTC)
    assert clients[0].updated_at == clients[0].created_at
    assert clients[0].notes is None and clients[1].notes == "n"
    assert clients[1].is_archived is True


@pytest.mark.parametrize(
    "body",
    [
        {"id": 1},  # not an array
        "oops",
        [{"id": "1", "name": "A", "at": "2024-01-01T00:00:00Z"}],  # id as string
        [{"id": True, "name": "A", "at": "2024-01-01T00:00:00Z"}],  # bool is not an id
        [{"id": 1, "at": "2024-01-01T00:00:00Z"}],  # name missing
        [{"id": 1, "name": "A", "at": "2024-01-01T00:00:00Z", "archived": "no"}],
        [17],
    ],
)
def test_client_shape_errors(body: object) -> None:
    with pytest.raises(TogglResponseError) as info:
        parse_clients(body, EP, 9)
    assert "clients" in str(info.value)


def test_projects() -> None:
    body = [
        {
            "id": 700001, "workspace_id": 900001, "client_id": 600001, "name": "Website", "is_private": False,
            "active": True, "at": "2024-03-17T10:58:40+00:00", "created_at": "2017-08-28T10:47:38+00:00",
            "server_deleted_at": None, "color": "#0b83d9", "billable": False, "rate": None, "currency": None,
            "status": "active", "wid": 900001, "cid": 600001,
        },
        {
            "id": 700002, "wid": 900001, "cid": None, "name": "Old", "active": False, "billable": True,
            "at": "2024-05-01T00:00:00Z", "created_at": "2023-01-01T00:00:00Z", "rate": 12.3,
            "currency": "EUR",
            "status": "archived", "server_deleted_at": "2024-06-01T00:00:00+00:00",
        },
    ]  # fmt: skip
    live, old = decode.decode_projects(_b(body), "GET p", 1)
    assert live.client_id == 600001 and live.is_active is True and live.archived_at is None
    assert live.is_billable is False and live.color == "#0b83d9" and live.rate is None
    assert live.created_at == datetime(2017, 8, 28, 10, 47, 38, tzinfo=UTC)
    assert old.client_id is None and old.is_active is False and old.is_billable is True
    assert old.archived_at == datetime(2024, 5, 1, tzinfo=UTC) == old.updated_at
    assert old.rate == Decimal("12.3") and old.currency == "EUR" and old.status == "archived"
    assert old.server_deleted_at == datetime(2024, 6, 1, tzinfo=UTC)
    assert old.workspace_id == 900001 and old.color is None and old.is_private is None


def test_tags() -> None:
    (tag,) = decode.decode_tags(
        _b(
            [
                {
                    "id": 8,
                    "workspace_id": 9,
                    "name": "billed",
                    "at": "2024-11-08T19:11:14.332795Z",
                    "creator_id": 5,
                }
            ]
        ),
        "GET t",
        9,
    )
    assert tag.created_at == datetime(2024, 11, 8, 19, 11, 14, 332795, tzinfo=UTC)
    assert tag.name == "billed"


def test_workspace_users_use_the_global_user_id() -> None:
    body = [
        {"id": 77, "uid": 5, "wid": 9, "name": "Ann", "email": "a@x", "active": True, "inactive": False,
         "admin": True, "rate": 50, "timezone": "Europe/Berlin", "at": "2024-01-01T00:00:00+00:00"},
        {"id": 78, "user_id": 6, "workspace_id": 9, "name": "Bob", "email": "b@x", "active": True,
         "inactive": True, "admin": False, "rate": None},
        {"id": 79, "uid": 7, "name": None},
    ]  # fmt: skip
    ann, bob, eve = decode.decode_users(_b(body), "GET u", 9)
    assert (ann.id, ann.is_active, ann.is_admin, ann.rate, ann.timezone) == (
        5,
        True,
        True,
        Decimal(50),
        "Europe/Berlin",
    )
    assert ann.updated_at == datetime(2024, 1, 1, tzinfo=UTC)
    assert (bob.id, bob.is_active, bob.is_admin, bob.rate) == (6, False, False, None)
    assert (eve.id, eve.workspace_id, eve.name, eve.is_active, eve.updated_at) == (7, 9, None, None, None)
    with pytest.raises(TogglResponseError, match="uid"):
        decode.decode_users(_b([{"id": 1, "name": "x"}]), "GET u", 9)


def test_tasks_envelope() -> None:
    body = {
        "data": [
            {"id": 1, "name": "T", "workspace_id": 9, "project_id": 3, "user_id": None, "active": False,
             "at": "2024-01-01T00:00:00Z", "estimated_seconds": 3600, "tracked_seconds": 90000, "rate": 1.5},
        ],
        "page": 1, "per_page": 50, "total_count": 1, "sort_field": "name", "sort_order": "ASC",
    }  # fmt: skip
    tasks, total, per_page = decode.decode_tasks_page(_b(body), "GET k", 9)
    assert (total, per_page) == (1, 50)
    assert tasks[0].tracked_ms == 90000 and tasks[0].estimated_seconds == 3600 and tasks[0].rate == Decimal("1.5")
    assert tasks[0].is_active is False and tasks[0].user_id is None and tasks[0].project_id == 3
    with pytest.raises(TogglResponseError):
        decode.decode_tasks_page(_b([]), "GET k", 9)
    assert decode.decode_tasks_page(_b({"data": None}), "GET k", 9) == ([], None, None)


def _row(**over: object) -> dict:
    row = {
        "user_id": 5, "username": "Ann", "email": "a@x", "project_id": 3, "project_name": "P",
        "client_name": "C", "task_id": None, "task_name": None, "description": "work", "billable": True,
        "tag_ids": [1, 2], "tag_names": ["a", "b"], "hourly_rate_in_cents": 5050,
        "billable_amount_in_cents": 2525, "currency": "USD", "row_number": 1, "extra": {"x": 1},
        "time_entries": [
            {"id": 41, "seconds": 1800, "start": "2024-07-30T11:13:46+03:00",
             "stop": "2024-07-30T11:43:46+03:00",
             "at": "2024-07-30T08:44:00+00:00", "at_tz": "2024-07-30T11:44:00+03:00"},
        ],
    }  # fmt: skip
    row.update(over)
    return row


def test_report_row_maps_every_field_to_its_own() -> None:
    """Every field of the record from its own part of the row (all values distinct: a mix-up cannot pass)."""
    (e,) = parse_report_rows([_row(task_id=7, task_name="T", workspace_id=11, description="d")], REPORT_EP, 9)
    assert e == EntryRecord(
        id=41, workspace_id=11, project_id=3, task_id=7, user_id=5, description="d",
        start=datetime(2024, 7, 30, 8, 13, 46, tzinfo=UTC), end=datetime(2024, 7, 30, 8, 43, 46, tzinfo=UTC),
        duration_ms=1_800_000, is_billable=True, billable_amount=Decimal("25.25"), currency="USD", tags=("a", "b"),
        tag_ids=(1, 2), updated_at=datetime(2024, 7, 30, 8, 44, tzinfo=UTC), hourly_rate=Decimal("50.50"),
        project_name="P", client_name="C", task_name="T", user_name="Ann", user_email="a@x",
    )  # fmt: skip


def test_report_row_to_entry() -> None:
    (e,) = parse_report_rows([_row()], REPORT_EP, 9)
    assert e.id == 41 and e.workspace_id == 9 and e.user_id == 5 and e.project_id == 3 and e.task_id is None
    assert e.start == datetime(2024, 7, 30, 8, 13, 46, tzinfo=UTC)
    assert e.end == datetime(2024, 7, 30, 8, 43, 46, tzinfo=UTC)
    assert e.duration_ms == 1_800_000
    assert e.billable_amount == Decimal("25.25") and e.hourly_rate == Decimal("50.50") and e.currency == "USD"
    assert e.tags == ("a", "b") and e.tag_ids == (1, 2)
    assert e.updated_at == datetime(2024, 7, 30, 8, 44, tzinfo=UTC)
    assert (e.project_name, e.client_name, e.task_name, e.user_name, e.user_email) == (
        "P",
        "C",
        None,
        "Ann",
        "a@x",
    )
    assert e.is_billable is True and e.description == "work"


def test_report_row_nulls_and_running() -> None:
    row = _row(
        billable_amount_in_cents=None,
        hourly_rate_in_cents=None,
        tag_ids=None,
        tag_names=None,
        project_id=None,
        description=None,
        time_entries=[{"id": 42, "seconds": 0, "start": "2024-07-30T08:00:00Z", "stop": None, "at": None}],
    )
    (e,) = parse_report_rows([row], REPORT_EP, 9)
    assert e.end is None and e.duration_ms is None
    assert e.billable_amount is None and e.hourly_rate is None
    assert e.tags == () and e.tag_ids == () and e.project_id is None and e.updated_at is None


def test_grouped_report_row_yields_one_record_per_entry() -> None:
    entries = [
        {"id": 1, "seconds": 3600, "start": "2024-01-01T10:00:00Z", "stop": "2024-01-01T11:00:00Z"},
        {"id": 2, "seconds": 1800, "start": "2024-01-02T10:00:00Z", "stop": "2024-01-02T10:30:00Z"},
    ]
    a, b = parse_report_rows([_row(time_entries=entries, billable_amount_in_cents=300)], REPORT_EP, 9)
    assert (a.id, b.id) == (1, 2)
    assert (a.billable_amount, b.billable_amount) == (Decimal("2.00"), Decimal("1.00"))
    assert a.tags == b.tags == ("a", "b")


@pytest.mark.parametrize(
    "body",
    [
        {"rows": []},
        [_row(time_entries=[])],
        [_row(time_entries=[{"id": 1, "seconds": 1, "start": "2024-01-01T00:00:00Z", "stop": "soon"}])],
        [_row(tag_ids=["x"])],
        [_row(billable_amount_in_cents="lots")],
        [_row(time_entries="nope")],
    ],
)
def test_report_shape_errors(body: object) -> None:
    with pytest.raises(TogglResponseError, match="search/time_entries"):
        parse_report_rows(body, REPORT_EP, 9)


def test_v9_entries() -> None:
    base = {
        "id": 4100000001, "workspace_id": 900001, "project_id": 700001, "task_id": None, "billable": False,
        "start": "2024-12-16T17:05:25+00:00", "stop": "2024-12-16T18:07:05+00:00", "duration": 3700,
        "description": "Inbox Zero", "tags": [], "tag_ids": [], "duronly": True,
        "at": "2024-12-16T18:07:05.694469Z", "server_deleted_at": None, "user_id": 500001, "uid": 500001,
        "wid": 900001, "pid": 700001,
    }  # fmt: skip
    done = decode.decode_current_entry(_b(base), "GET c")
    assert done.end == datetime(2024, 12, 16, 18, 7, 5, tzinfo=UTC) and done.duration_ms == 3_700_000
    running = decode.decode_current_entry(_b({**base, "stop": None, "duration": -1734368725, "tags": None}), "GET c")
    assert running.end is None and running.duration_ms is None and running.tags == ()
    started_only = decode.decode_current_entry(_b({**base, "stop": None, "duration": 0}), "GET c")
    assert started_only.end == started_only.start and started_only.duration_ms == 0
    with pytest.raises(TogglResponseError, match="GET c"):
        decode.decode_current_entry(_b([base]), "GET c")


def test_error_messages() -> None:
    assert error_message(b"\"'since' and 'before' can not be present simultaneously\"") == (
        "'since' and 'before' can not be present simultaneously"
    )
    html = b"<html><head><title>429 Too Many Requests</title></head><body><h1>429 Too Many Requests</h1></body>"
    assert error_message(html) == "429 Too Many Requests 429 Too Many Requests"
    assert error_message(b'{"error": {"message": "bad page_size"}}') == "bad page_size"
    assert error_message(b'{"message": "nope"}') == "nope"
    assert error_message(b"") == ""
    assert error_message(b"plain text") == "plain text"


def test_report_ranges_are_split_into_spans_of_at_most_a_year() -> None:
    assert report_spans(date(2024, 1, 1), date(2024, 1, 1)) == [(date(2024, 1, 1), date(2024, 1, 1))]
    spans = report_spans(date(2020, 1, 1), date(2024, 12, 31))
    assert spans[0][0] == date(2020, 1, 1) and spans[-1][1] == date(2024, 12, 31)
    assert all((last - first).days < 365 for first, last in spans)
    assert all(spans[i][1].toordinal() + 1 == spans[i + 1][0].toordinal() for i in range(len(spans) - 1))
    assert len(spans) == 6  # 1827 days


# -- field paths, aliases, new endpoints --


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ([{"id": "1", "name": "A", "at": "2024-01-01T00:00:00Z"}], "clients[0].id"),
        ([{"id": 1, "name": "A", "at": "2024-01-01T00:00:00Z"}, {"id": 2, "at": "2024-01-01T00:00:00Z"}], "clients[1]"),
        ([{"id": 1, "name": "A", "at": "2024-01-01T00:00:00Z", "archived": "no"}], "clients[0].archived"),
        ([{"id": 1, "name": "A", "at": "yesterday"}], "clients[0].at"),
    ],
)
def test_errors_name_the_endpoint_and_the_field(body: object, path: str) -> None:
    with pytest.raises(TogglResponseError) as info:
        parse_clients(body, EP, 9)
    assert EP in str(info.value) and path in str(info.value)
    assert info.value.endpoint == EP


@pytest.mark.parametrize(
    ("over", "path"),
    [
        ({"tag_ids": ["x"]}, "rows[0].tag_ids[0]"),
        ({"billable_amount_in_cents": "lots"}, "rows[0].billable_amount_in_cents"),
        ({"user_id": 1.5}, "rows[0].user_id"),
        ({"billable": "yes"}, "rows[0].billable"),
        (
            {"time_entries": [{"id": 1, "start": "2024-01-01T00:00:00Z", "stop": "soon"}]},
            "rows[0].time_entries[0].stop",
        ),
        ({"time_entries": [{"id": 1, "start": None}]}, "rows[0].time_entries[0] lacks required timestamp 'start'"),
        ({"time_entries": []}, "rows[0] has no time_entries"),
    ],
)
def test_report_errors_name_the_field(over: dict, path: str) -> None:
    with pytest.raises(TogglResponseError) as info:
        parse_report_rows([_row(), _row(**over)][1:], REPORT_EP, 9)
    assert REPORT_EP in str(info.value) and path in str(info.value)


def test_a_body_that_is_not_json_is_malformed() -> None:
    with pytest.raises(decode.MalformedBody, match="not valid JSON"):
        decode.decode_report_page(b'[{"user_id": 5, "time_en', REPORT_EP, 9)
    assert issubclass(decode.MalformedBody, TogglResponseError)  # direct callers see a TogglResponseError


def test_a_garbled_body_that_fails_validation_first_is_still_malformed() -> None:
    """msgspec meets the wrongly typed ``user_id`` before the syntax error: still a body to retry, not a wrong
    answer (and never a raw JSONDecodeError)."""
    with pytest.raises(decode.MalformedBody, match="not valid JSON"):
        decode.decode_report_page(b'[{"user_id": "5", "time_en', REPORT_EP, 9)


def test_report_money_and_user_offsets() -> None:
    row = _row(
        hourly_rate_in_cents=12345,
        billable_amount_in_cents=7,
        time_entries=[
            {"id": 1, "seconds": 60, "start": "2024-12-31T23:30:00-05:00", "stop": "2025-01-01T00:30:00.25-05:00",
             "at": "2025-01-01T05:30:00.123456Z"},
        ],
    )  # fmt: skip
    (e,) = parse_report_rows([row], REPORT_EP, 9)
    assert e.hourly_rate == Decimal("123.45") and e.billable_amount == Decimal("0.07")
    assert isinstance(e.hourly_rate, Decimal)
    assert e.start == datetime(2025, 1, 1, 4, 30, tzinfo=UTC)
    assert e.end == datetime(2025, 1, 1, 5, 30, 0, 250000, tzinfo=UTC) and e.end.tzinfo is UTC
    assert e.updated_at == datetime(2025, 1, 1, 5, 30, 0, 123456, tzinfo=UTC)


def test_running_report_entry_with_negative_seconds_has_no_duration() -> None:
    row = _row(time_entries=[{"id": 9, "seconds": -1734035934, "start": "2024-12-12T20:38:54+00:00", "stop": None}])
    (e,) = parse_report_rows([row], REPORT_EP, 9)
    assert (e.end, e.duration_ms) == (None, None)


def test_v9_legacy_aliases_and_missing_workspace() -> None:
    legacy = {"id": 1, "wid": 9, "pid": 3, "tid": 4, "uid": 5, "start": "2024-12-16T02:18:20Z", "stop": None,
              "duration": -1, "description": None}  # fmt: skip
    e = decode.decode_current_entry(_b(legacy), "GET c")
    assert e is not None
    assert (e.workspace_id, e.project_id, e.task_id, e.user_id, e.end, e.duration_ms) == (9, 3, 4, 5, None, None)
    with pytest.raises(TogglResponseError, match="workspace_id"):
        decode.decode_current_entry(_b({"id": 1, "start": "2024-12-16T02:18:20Z"}), "GET c")
    with pytest.raises(TogglResponseError, match=r"time_entry\.duration"):
        decode.decode_current_entry(_b({**legacy, "duration": "long"}), "GET c")


def test_current_entry_null_and_stale_envelope() -> None:
    assert decode.decode_current_entry(b"null", "GET c") is None
    assert decode.decode_current_entry(b'{"data": null}', "GET c") is None
    wrapped = {"data": {"id": 7, "workspace_id": 9, "start": "2024-12-16T02:18:20Z", "duration": 60,
                        "stop": "2024-12-16T02:19:20Z"}}  # fmt: skip
    e = decode.decode_current_entry(_b(wrapped), "GET c")
    assert e is not None and e.id == 7 and e.duration_ms == 60_000


def test_workspaces() -> None:
    body = [
        {"id": 900001, "organization_id": 800001, "name": "Agency", "premium": True, "default_hourly_rate": 85.5,
         "default_currency": "EUR", "rounding": -1, "rounding_minutes": 15, "at": "2024-03-17T10:58:40+00:00",
         "permissions": None, "active_project_count": 4},
        {"id": 900002, "organization_id": None, "name": "Solo", "default_hourly_rate": None},
    ]  # fmt: skip
    agency, solo = decode.decode_workspaces(_b(body), "GET w")
    assert (agency.id, agency.organization_id, agency.name, agency.default_currency) == (
        900001,
        800001,
        "Agency",
        "EUR",
    )
    assert agency.default_hourly_rate == Decimal("85.5") and (agency.rounding, agency.rounding_minutes) == (-1, 15)
    assert agency.updated_at == datetime(2024, 3, 17, 10, 58, 40, tzinfo=UTC)
    assert (solo.organization_id, solo.default_hourly_rate, solo.updated_at) == (None, None, None)
    with pytest.raises(TogglResponseError, match=r"workspaces\[0\]\.organization_id"):
        decode.decode_workspaces(_b([{"id": 1, "name": "x", "organization_id": "8"}]), "GET w")


def test_nul_bytes_pass_through_untouched() -> None:
    """Cleaning NUL characters is the warehouse's business: the decoder keeps Toggl's text as it is."""
    (e,) = parse_report_rows([_row(description="a\u0000b")], REPORT_EP, 9)
    assert e.description == "a\x00b"


# -- totals graph -> days --

TOTALS_EP = "POST /reports/api/v3/workspace/{wid}/search/time_entries/totals"


def test_graph_buckets_map_to_days_by_position() -> None:
    graph = [{"seconds": 0}, {"seconds": 100, "by_rate": {}}, {"seconds": None}, {"seconds": 500}]
    body = {"seconds": 600, "resolution": "day", "tracked_days": 2, "graph": graph}
    days = decode.decode_daily_totals(_b(body), TOTALS_EP, date(2024, 2, 28), date(2024, 3, 2))
    assert days == {date(2024, 2, 28): 0, date(2024, 2, 29): 100, date(2024, 3, 1): 0, date(2024, 3, 2): 500}


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"resolution": "week", "graph": [{"seconds": 1}]}, "resolution is 'week'"),
        ({"graph": [{"seconds": 1}]}, "resolution is None"),
        ({"resolution": "day", "graph": [{"seconds": 1}] * 3}, "3 bucket(s) for 4 day(s)"),
        ({"resolution": "day"}, "0 bucket(s) for 4 day(s)"),
        ({"resolution": "day", "graph": [{"seconds": "1"}] * 4}, "totals.graph[0].seconds"),
    ],
)
def test_totals_that_cannot_be_mapped_are_errors(body: dict, problem: str) -> None:
    with pytest.raises(TogglResponseError) as info:
        decode.decode_daily_totals(_b(body), TOTALS_EP, date(2024, 2, 28), date(2024, 3, 2))
    assert TOTALS_EP in str(info.value) and problem in str(info.value)


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (_row(description=12345), "rows[0].description should be a string, got 12345"),
        (_row(user_id="seven"), "rows[0].user_id should be an integer, got 'seven'"),
        (_row(tag_ids="1,2"), "rows[0].tag_ids should be an array, got '1,2'"),
        (_row(hourly_rate_in_cents=True), "rows[0].hourly_rate_in_cents should be a number, got True"),
        (
            _row(time_entries=[{"id": 1, "start": "yesterday"}]),
            "rows[0].time_entries[0].start is not an RFC 3339 timestamp: 'yesterday'",
        ),
        (_row(time_entries=[{"id": None, "start": "2024-01-01T00:00:00Z"}]), "lacks required integer 'id'"),
        (_row(time_entries=[{"start": "2024-01-01T00:00:00Z"}]), "rows[0].time_entries[0] lacks required field 'id'"),
        ("not a row", "rows[0] should be a JSON object, got 'not a row'"),
    ],
)
def test_error_messages_say_what_the_field_should_be_and_what_came(row: object, problem: str) -> None:
    """The wording the application's failure messages (and their tests) rely on."""
    with pytest.raises(TogglResponseError) as info:
        parse_report_rows([row], REPORT_EP, 9)
    assert str(info.value).startswith(f"Unexpected Toggl response from {REPORT_EP}: ")
    assert str(info.value).endswith(problem) and info.value.endpoint == REPORT_EP
