"""Pure parsing of Toggl JSON into records: no HTTP involved."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from toggl_assets.toggl import parsing
from toggl_assets.toggl.errors import TogglResponseError

EP = "GET /api/v9/workspaces/{wid}/clients"
REPORT_EP = "POST /reports/api/v3/workspace/{wid}/search/time_entries"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-12-16T17:05:25+00:00", datetime(2024, 12, 16, 17, 5, 25, tzinfo=UTC)),
        ("2024-12-16T02:18:20Z", datetime(2024, 12, 16, 2, 18, 20, tzinfo=UTC)),
        ("2024-11-08T19:11:14.332795Z", datetime(2024, 11, 8, 19, 11, 14, 332795, tzinfo=UTC)),
        ("2024-07-30T11:13:46+03:00", datetime(2024, 7, 30, 8, 13, 46, tzinfo=UTC)),
        ("2024-07-30T01:13:46.5-05:30", datetime(2024, 7, 30, 6, 43, 46, 500000, tzinfo=UTC)),
        ("2024-07-30T01:13:46.123456789Z", datetime(2024, 7, 30, 1, 13, 46, 123456, tzinfo=UTC)),
    ],
)
def test_timestamps_become_aware_utc(text: str, expected: datetime) -> None:
    parsed = parsing.parse_timestamp(text, EP)
    assert parsed == expected
    assert parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0


@pytest.mark.parametrize("bad", ["yesterday", "", 1734035934, None, "2024-13-01T00:00:00Z"])
def test_bad_timestamps_name_the_endpoint(bad: object) -> None:
    with pytest.raises(TogglResponseError, match=r"GET /api/v9/workspaces/\{wid\}/clients"):
        parsing.parse_timestamp(bad, EP)  # type: ignore[arg-type]


def test_clients_ignore_unknown_fields_and_use_at() -> None:
    body = [
        {"id": 1, "wid": 9, "archived": False, "name": "Acme", "at": "2024-03-17T10:55:38+00:00", "x": [1]},
        {"id": 2, "wid": 9, "archived": True, "name": "Old", "at": "2024-03-17T10:55:38Z", "notes": "n"},
    ]
    clients = parsing.parse_clients(body, EP, 9)
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
        parsing.parse_clients(body, EP, 9)
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
    live, old = parsing.parse_projects(body, "GET p", 1)
    assert live.client_id == 600001 and live.is_active is True and live.archived_at is None
    assert live.is_billable is False and live.color == "#0b83d9" and live.rate is None
    assert live.created_at == datetime(2017, 8, 28, 10, 47, 38, tzinfo=UTC)
    assert old.client_id is None and old.is_active is False and old.is_billable is True
    assert old.archived_at == datetime(2024, 5, 1, tzinfo=UTC) == old.updated_at
    assert old.rate == Decimal("12.3") and old.currency == "EUR" and old.status == "archived"
    assert old.server_deleted_at == datetime(2024, 6, 1, tzinfo=UTC)
    assert old.workspace_id == 900001 and old.color is None and old.is_private is None


def test_tags() -> None:
    (tag,) = parsing.parse_tags(
        [
            {
                "id": 8,
                "workspace_id": 9,
                "name": "billed",
                "at": "2024-11-08T19:11:14.332795Z",
                "creator_id": 5,
            }
        ],
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
    ann, bob, eve = parsing.parse_workspace_users(body, "GET u", 9)
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
        parsing.parse_workspace_users([{"id": 1, "name": "x"}], "GET u", 9)


def test_tasks_envelope() -> None:
    body = {
        "data": [
            {"id": 1, "name": "T", "workspace_id": 9, "project_id": 3, "user_id": None, "active": False,
             "at": "2024-01-01T00:00:00Z", "estimated_seconds": 3600, "tracked_seconds": 90000, "rate": 1.5},
        ],
        "page": 1, "per_page": 50, "total_count": 1, "sort_field": "name", "sort_order": "ASC",
    }  # fmt: skip
    tasks, total, per_page = parsing.parse_tasks_page(body, "GET k", 9)
    assert (total, per_page) == (1, 50)
    assert tasks[0].tracked_ms == 90000 and tasks[0].estimated_seconds == 3600 and tasks[0].rate == Decimal("1.5")
    assert tasks[0].is_active is False and tasks[0].user_id is None and tasks[0].project_id == 3
    with pytest.raises(TogglResponseError):
        parsing.parse_tasks_page([], "GET k", 9)
    assert parsing.parse_tasks_page({"data": None}, "GET k", 9) == ([], None, None)


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


def test_report_row_to_entry() -> None:
    (e,) = parsing.parse_report_rows([_row()], REPORT_EP, 9)
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
    (e,) = parsing.parse_report_rows([row], REPORT_EP, 9)
    assert e.end is None and e.duration_ms is None
    assert e.billable_amount is None and e.hourly_rate is None
    assert e.tags == () and e.tag_ids == () and e.project_id is None and e.updated_at is None


def test_grouped_report_row_yields_one_record_per_entry() -> None:
    entries = [
        {"id": 1, "seconds": 3600, "start": "2024-01-01T10:00:00Z", "stop": "2024-01-01T11:00:00Z"},
        {"id": 2, "seconds": 1800, "start": "2024-01-02T10:00:00Z", "stop": "2024-01-02T10:30:00Z"},
    ]
    a, b = parsing.parse_report_rows([_row(time_entries=entries, billable_amount_in_cents=300)], REPORT_EP, 9)
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
        parsing.parse_report_rows(body, REPORT_EP, 9)


def test_v9_entries() -> None:
    base = {
        "id": 4100000001, "workspace_id": 900001, "project_id": 700001, "task_id": None, "billable": False,
        "start": "2024-12-16T17:05:25+00:00", "stop": "2024-12-16T18:07:05+00:00", "duration": 3700,
        "description": "Inbox Zero", "tags": [], "tag_ids": [], "duronly": True,
        "at": "2024-12-16T18:07:05.694469Z", "server_deleted_at": None, "user_id": 500001, "uid": 500001,
        "wid": 900001, "pid": 700001,
    }  # fmt: skip
    done = parsing.parse_v9_entry(base, "GET c")
    assert done.end == datetime(2024, 12, 16, 18, 7, 5, tzinfo=UTC) and done.duration_ms == 3_700_000
    running = parsing.parse_v9_entry({**base, "stop": None, "duration": -1734368725, "tags": None}, "GET c")
    assert running.end is None and running.duration_ms is None and running.tags == ()
    started_only = parsing.parse_v9_entry({**base, "stop": None, "duration": 0}, "GET c")
    assert started_only.end == started_only.start and started_only.duration_ms == 0
    with pytest.raises(TogglResponseError, match="GET c"):
        parsing.parse_v9_entry([base], "GET c")


def test_error_messages() -> None:
    assert parsing.error_message(b"\"'since' and 'before' can not be present simultaneously\"") == (
        "'since' and 'before' can not be present simultaneously"
    )
    html = b"<html><head><title>429 Too Many Requests</title></head><body><h1>429 Too Many Requests</h1></body>"
    assert parsing.error_message(html) == "429 Too Many Requests 429 Too Many Requests"
    assert parsing.error_message(b'{"error": {"message": "bad page_size"}}') == "bad page_size"
    assert parsing.error_message(b'{"message": "nope"}') == "nope"
    assert parsing.error_message(b"") == ""
    assert parsing.error_message(b"plain text") == "plain text"


def test_report_ranges_are_split_into_spans_of_at_most_a_year():
    from datetime import date

    from toggl_assets.toggl.client import report_spans

    assert report_spans(date(2024, 1, 1), date(2024, 1, 1)) == [(date(2024, 1, 1), date(2024, 1, 1))]
    spans = report_spans(date(2020, 1, 1), date(2024, 12, 31))
    assert spans[0][0] == date(2020, 1, 1) and spans[-1][1] == date(2024, 12, 31)
    assert all((last - first).days < 365 for first, last in spans)
    assert all(spans[i][1].toordinal() + 1 == spans[i + 1][0].toordinal() for i in range(len(spans) - 1))
    assert len(spans) == 6  # 1827 days
