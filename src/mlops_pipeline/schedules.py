"""Schedule expressions as EventBridge Scheduler reads them, and their next fire times.

A workflow gives its retraining and batch-scoring schedules in AWS's syntax, so that deploy hands
them to EventBridge Scheduler unchanged and the local session fires at the same times:

- ``cron(minutes hours day-of-month month day-of-week year)``: six fields; day-of-week is 1-7 or
  SUN-SAT (1 is Sunday); one of day-of-month and day-of-week must be ``?``; ``L``, ``W`` and ``#``;
  year 1970-2199 (EventBridge Scheduler User Guide, "Schedule types", cron-based schedules; the same
  table as the EventBridge user guide's "Cron expressions").
- ``rate(value unit)``: a positive whole number and ``minute(s)``, ``hour(s)`` or ``day(s)``
  (EventBridge Scheduler User Guide, rate-based schedules). A rate schedule counts from when it is
  created (locally: from the start of the session).

Cron fields are parsed and iterated by croniter, never here: a cron expression is only rewritten into
croniter's seven fields (minute hour day month day-of-week second year): ``?`` becomes ``*``, and
day-of-week numbers move from AWS's 1-7 (Sunday first) to cron's 0-6 (``2#1`` → ``1#1``, ``6L`` →
``L5``). AWS's ``LW`` (last weekday of the month) has no croniter counterpart and is refused.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: What the error messages say is accepted.
ACCEPTED = (
    "cron(minutes hours day-of-month month day-of-week year) with ? in day-of-month or day-of-week, "
    "or rate(N minutes|hours|days)"
)
RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
CRON = re.compile(r"^cron\((.*)\)$")
RATE_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
#: AWS's years; croniter searches at most this far for the next match.
LAST_YEAR = 2199
DAY_OF_WEEK_NUMBER = re.compile(r"(?<![#/\d])([1-7])(?!\d)")  # not the n of 2#n, nor a step


@dataclass(frozen=True)
class ScheduleExpression:
    """A validated expression: ``text`` as the workflow gave it, and what fires it."""

    text: str
    cron: str = ""  # croniter's seven fields, for a cron expression
    rate_seconds: int = 0  # the period of a rate expression

    def next_fires(self, after: datetime.datetime, count: int, timezone: str = "UTC", anchor=None):
        """The next ``count`` fire times strictly after ``after`` (aware datetimes in ``timezone``); fewer
        when the expression's years run out. A rate counts periods from ``anchor`` (default ``after``)."""
        zone = ZoneInfo(timezone)
        after = after.astimezone(zone)
        if self.rate_seconds:
            start = (anchor or after).astimezone(zone)
            period = datetime.timedelta(seconds=self.rate_seconds)
            periods = max(0, int((after - start) / period)) + 1
            return [start + period * (periods + index) for index in range(count)]
        from croniter import CroniterBadDateError, croniter

        found = []
        iterator = croniter(self.cron, after, max_years_between_matches=LAST_YEAR - after.year + 1)
        try:
            for _ in range(count):
                found.append(iterator.get_next(datetime.datetime))
        except CroniterBadDateError:  # no later year matches
            pass
        return found


def parse(text: str) -> ScheduleExpression:
    """Check ``text`` as EventBridge Scheduler does; ValueError says what is wrong and what is accepted."""
    if not isinstance(text, str):
        raise ValueError(f"a schedule expression is a string: {ACCEPTED}")
    rate = RATE.match(text.strip())
    if rate:
        value, unit = int(rate.group(1)), rate.group(2).rstrip("s")
        if value < 1:
            raise ValueError(f"{text!r}: a rate is a positive number of {unit}s")
        return ScheduleExpression(text, rate_seconds=value * RATE_UNITS[unit])
    cron = CRON.match(text.strip())
    if not cron:
        raise ValueError(f"{text!r} is not a schedule expression; accepted: {ACCEPTED}")
    return ScheduleExpression(text, cron=_croniter_fields(text, cron.group(1).split()))


def _croniter_fields(text: str, fields: list[str]) -> str:
    if len(fields) != 6:
        raise ValueError(f"{text!r} has {len(fields)} fields; AWS cron has six: {ACCEPTED}")
    minutes, hours, day_of_month, month, day_of_week, year = fields
    if (day_of_month == "?") == (day_of_week == "?"):
        raise ValueError(f"{text!r}: exactly one of day-of-month and day-of-week must be ? (AWS cron)")
    if any("?" in field for field in (minutes, hours, month, year)) or any(
        "?" in field and field != "?" for field in (day_of_month, day_of_week)
    ):
        raise ValueError(f"{text!r}: ? may only stand alone in day-of-month or day-of-week")
    if "LW" in day_of_month.upper():
        raise ValueError(f"{text!r}: LW (the last weekday of the month) is not supported; use a day or L")
    translated = " ".join(
        [minutes, hours, _star(day_of_month), month, _cron_day_of_week(_star(day_of_week)), "0", year]
    )
    from croniter import croniter

    if not croniter.is_valid(translated):
        raise ValueError(f"{text!r} is not a valid cron expression; accepted: {ACCEPTED}")
    return translated


def _star(field: str) -> str:
    return "*" if field == "?" else field


def _cron_day_of_week(field: str) -> str:
    """AWS counts days of the week 1-7 from Sunday, cron 0-6; AWS's ``6L`` (last Friday) is croniter's ``L5``."""
    shifted = DAY_OF_WEEK_NUMBER.sub(lambda number: str(int(number.group(1)) - 1), field)
    return re.sub(r"(?<!\d)([0-6])L", r"L\1", shifted)


def check_timezone(name: str) -> str:
    """An IANA time zone name, as ``ScheduleExpressionTimezone`` takes."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"timezone {name!r} is not an IANA time zone name such as UTC or Europe/Paris") from None
    return name
