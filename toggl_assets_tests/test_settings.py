from datetime import date

import pytest

from toggl_assets.settings import ConfigError, Settings, parse_weekday, validate_schema_name


def test_defaults_are_documented_values():
    settings = Settings.from_env({})
    assert settings.timezone == "UTC"
    assert settings.start_date == date(2020, 1, 1)
    assert settings.week_start == 1  # Monday, Toggl's numbering
    assert settings.trailing_days == 7
    assert (settings.raw_schema, settings.analytics_schema) == ("raw", "analytics")
    assert settings.schedule_enabled is False


def test_values_are_read_from_the_environment():
    settings = Settings.from_env(
        {
            "TOGGL_TIMEZONE": "Europe/Berlin",
            "TOGGL_START_DATE": "2023-05-01",
            "TOGGL_WEEK_START": "sunday",
            "TOGGL_SYNC_TRAILING_DAYS": "14",
            "TOGGL_SCHEDULE_ENABLED": "true",
            "TOGGL_REQUESTS_PER_SECOND": "0.5",
        }
    )
    assert settings.timezone == "Europe/Berlin"
    assert settings.start_date == date(2023, 5, 1)
    assert settings.week_start == 0
    assert settings.trailing_days == 14
    assert settings.schedule_enabled is True
    assert settings.requests_per_second == 0.5


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("TOGGL_TIMEZONE", "Mars/Olympus", "IANA time zone"),
        ("TOGGL_START_DATE", "2024-13-01", "YYYY-MM-DD"),
        ("TOGGL_WEEK_START", "someday", "weekday"),
        ("TOGGL_SYNC_TRAILING_DAYS", "0", "between 1 and 366"),
        ("TOGGL_RAW_SCHEMA", 'raw"; drop table x; --', "SQL identifier"),
        ("TOGGL_SCHEDULE_HOUR", "25", "between 0 and 23"),
        ("TOGGL_PAGE_SIZE", "many", "whole number"),
    ],
)
def test_bad_values_name_the_variable(name, value, fragment):
    with pytest.raises(ConfigError) as error:
        Settings.from_env({name: value})
    assert name in str(error.value) and fragment in str(error.value)


def test_weekday_accepts_names_and_toggl_numbers():
    assert parse_weekday("Monday") == 1
    assert parse_weekday("0") == 0
    assert parse_weekday("saturday") == 6


def test_schema_names_are_validated():
    assert validate_schema_name("toggl_raw", "X") == "toggl_raw"
    for bad in ("Raw", "1raw", "raw-data", "", "a" * 64):
        with pytest.raises(ConfigError):
            validate_schema_name(bad, "X")
