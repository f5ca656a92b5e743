"""Schedule expressions as EventBridge Scheduler reads them: AWS's examples fire when AWS says they do."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from mlops_pipeline.config import Schedules, describe_validation_error
from mlops_pipeline.schedules import parse

UTC = timezone.utc
# Thursday 26 November 2026, 00:50 UTC
NOW = datetime(2026, 11, 26, 0, 50, tzinfo=UTC)


def fires(expression: str, count: int = 3, zone: str = "UTC", after=NOW) -> list[str]:
    return [moment.isoformat() for moment in parse(expression).next_fires(after, count, zone)]


# The examples of the EventBridge user guide, "Cron expressions" (the table EventBridge Scheduler's
# "Schedule types" page shares): what each says it runs at.
@pytest.mark.parametrize(
    "expression, expected",
    [
        # Run at 10:00 am (UTC+0) every day
        ("cron(0 10 * * ? *)", ["2026-11-26T10:00:00+00:00", "2026-11-27T10:00:00+00:00"]),
        # Run at 12:15 pm (UTC+0) every day
        ("cron(15 12 * * ? *)", ["2026-11-26T12:15:00+00:00", "2026-11-27T12:15:00+00:00"]),
        # Run at 6:00 pm (UTC+0) every Monday through Friday (26 and 27 Nov 2026 are Thursday and Friday)
        ("cron(0 18 ? * MON-FRI *)", ["2026-11-26T18:00:00+00:00", "2026-11-27T18:00:00+00:00"]),
        # Run at 8:00 am (UTC+0) every first day of the month
        ("cron(0 8 1 * ? *)", ["2026-12-01T08:00:00+00:00", "2027-01-01T08:00:00+00:00"]),
        # Run every 15 minutes
        ("cron(0/15 * * * ? *)", ["2026-11-26T01:00:00+00:00", "2026-11-26T01:15:00+00:00"]),
        # Run every 10 minutes Monday through Friday
        ("cron(0/10 * ? * MON-FRI *)", ["2026-11-26T01:00:00+00:00", "2026-11-26T01:10:00+00:00"]),
        # Run every 5 minutes Monday through Friday between 8:00 am and 5:55 pm (UTC+0)
        ("cron(0/5 8-17 ? * MON-FRI *)", ["2026-11-26T08:00:00+00:00", "2026-11-26T08:05:00+00:00"]),
        # Run at 9:00 am (UTC+0) on the first Monday of each month (2#1: the week's day 2 is Monday)
        ("cron(0 9 ? * 2#1 *)", ["2026-12-07T09:00:00+00:00", "2027-01-04T09:00:00+00:00"]),
    ],
)
def test_the_aws_documentation_examples_fire_when_aws_says(expression, expected):
    assert fires(expression, 2) == expected


def test_day_of_week_numbers_count_from_sunday_as_aws_does():
    # AWS: 1 is SUN, 7 is SAT; 2-6 is Monday to Friday; 6L is the last Friday of the month
    assert fires("cron(0 0 ? * 1 *)", 1) == ["2026-11-29T00:00:00+00:00"]  # a Sunday
    assert fires("cron(0 0 ? * 7 *)", 1) == ["2026-11-28T00:00:00+00:00"]  # a Saturday
    assert fires("cron(0 0 ? * 2-6 *)", 2) == ["2026-11-27T00:00:00+00:00", "2026-11-30T00:00:00+00:00"]
    assert fires("cron(0 0 ? * 6L *)", 2) == ["2026-11-27T00:00:00+00:00", "2026-12-25T00:00:00+00:00"]
    assert fires("cron(0 0 L * ? *)", 1) == ["2026-11-30T00:00:00+00:00"]


def test_the_year_field_limits_the_fires_and_a_past_year_has_none():
    assert fires("cron(30 2 1 1 ? 2028)", 3) == ["2028-01-01T02:30:00+00:00"]
    assert fires("cron(0 0 1 1 ? 2026)", 3) == []


def test_cron_is_read_in_the_schedules_time_zone_across_a_daylight_saving_change():
    # 03:00 in Paris is 02:00 UTC in winter and 01:00 UTC in summer (DST starts 28 March 2027)
    moments = parse("cron(0 3 * * ? *)").next_fires(datetime(2027, 3, 27, 12, tzinfo=UTC), 2, "Europe/Paris")
    assert [m.astimezone(UTC).isoformat() for m in moments] == [
        "2027-03-28T01:00:00+00:00",
        "2027-03-29T01:00:00+00:00",
    ]


def test_a_rate_counts_whole_periods_from_its_start():
    start = datetime(2026, 11, 26, 0, 0, tzinfo=UTC)
    expression = parse("rate(5 minutes)")
    assert expression.next_fires(start, 2, anchor=start) == [
        start + timedelta(minutes=5),
        start + timedelta(minutes=10),
    ]
    later = start + timedelta(minutes=12)
    assert expression.next_fires(later, 1, anchor=start) == [start + timedelta(minutes=15)]
    assert parse("rate(1 day)").rate_seconds == 86400 and parse("rate(2 hours)").rate_seconds == 7200


@pytest.mark.parametrize(
    "expression, says",
    [
        ("cron(0 10 * * * *)", "exactly one of day-of-month and day-of-week must be ?"),
        ("cron(0 10 ? * ? *)", "exactly one of day-of-month and day-of-week must be ?"),
        ("cron(0 10 * * ?)", "has 5 fields; AWS cron has six"),
        ("cron(0 ? * * ? *)", "? may only stand alone in day-of-month or day-of-week"),
        ("cron(61 10 * * ? *)", "is not a valid cron expression"),
        ("cron(0 10 LW * ? *)", "LW (the last weekday of the month) is not supported"),
        ("rate(0 minutes)", "a rate is a positive number of minutes"),
        ("rate(5 weeks)", "is not a schedule expression"),
        ("0 10 * * *", "is not a schedule expression"),
    ],
)
def test_a_bad_expression_is_one_line_naming_the_field_and_what_is_accepted(expression, says):
    with pytest.raises(ValidationError) as raised:
        Schedules(retraining=expression)
    line = describe_validation_error(raised.value)
    assert line.startswith(f"Schedules.retraining: {expression!r}") and says in line
    assert "\n" not in line


def test_a_time_zone_must_be_an_iana_name():
    with pytest.raises(ValidationError) as raised:
        Schedules(batch_scoring="rate(1 day)", timezone="CET+1")
    assert describe_validation_error(raised.value) == (
        "Schedules.timezone: timezone 'CET+1' is not an IANA time zone name such as UTC or Europe/Paris"
    )


def test_schedules_are_off_unless_given():
    assert Schedules().by_kind() == {}
    assert Schedules(batch_scoring="rate(1 day)").by_kind() == {"score": "rate(1 day)"}


def test_schedules_change_no_definition_so_the_validated_bytes_are_the_same(example_config):
    """A fire goes through the landing handler: the state machines are the ones `validate` checks without schedules."""
    from conftest import configured
    from mlops_pipeline.builders import build_definitions, definition_json
    from mlops_pipeline.target import local_target

    target = local_target(example_config.name)
    scheduled = configured(example_config, schedules=Schedules(retraining="rate(1 day)", batch_scoring="rate(1 hour)"))
    rendered = {str(w): definition_json(d) for w, d in build_definitions(scheduled, target).items()}
    assert rendered == {str(w): definition_json(d) for w, d in build_definitions(example_config, target).items()}
