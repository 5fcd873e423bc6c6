"""Working time for time limits (办理时限): working days follow the Chinese calendar with its
adjusted working weekends (调休), from the maintained `chinese-calendar` package; working hours
are the office hours below, in Asia/Shanghai.

The package knows the years the State Council has announced (each year's arrangement comes out in
the autumn before); a deployment takes the next year's by upgrading the package
(`pip install -U chinese-calendar`, or a new pingan release). For a year it does not know yet,
weekdays are working days and `known(year)` says so."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import chinese_calendar

from pingan.db.base import SHANGHAI

# Office hours of a community and a street office: the limits in hours count these only.
OFFICE = ((time(8, 30), time(12, 0)), (time(14, 0), time(18, 0)))


def known(year: int) -> bool:
    """Whether the calendar has the State Council's holiday arrangement for this year."""
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


def is_workday(day: date) -> bool:
    """A working day: Monday to Friday save the holidays, and the weekends worked in lieu."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:  # a year not yet announced: weekdays (see known())
        return day.weekday() < 5


def add_working_days(start: datetime, days: int) -> datetime:
    """The same time of day `days` working days later (a report accepted on a holiday counts
    from the first working day after it, at its opening)."""
    local = start.astimezone(SHANGHAI)
    if not is_workday(local.date()):
        local = _next_opening(local)
    day = local.date()
    for _ in range(days):
        day += timedelta(days=1)
        while not is_workday(day):
            day += timedelta(days=1)
    return datetime.combine(day, local.timetz()).astimezone(start.tzinfo)


def add_working_hours(start: datetime, hours: float) -> datetime:
    """`hours` of office hours after `start`: the clock stops at lunch, at night, at weekends
    and on holidays."""
    left = timedelta(hours=hours)
    local = start.astimezone(SHANGHAI)
    while True:
        for opens, closes in OFFICE if is_workday(local.date()) else ():
            begin = max(local, datetime.combine(local.date(), opens, SHANGHAI))
            end = datetime.combine(local.date(), closes, SHANGHAI)
            if begin >= end:
                continue
            if begin + left <= end:
                return (begin + left).astimezone(start.tzinfo)
            left -= end - begin
            local = end
        local = datetime.combine(local.date() + timedelta(days=1), time(0), SHANGHAI)


def _next_opening(local: datetime) -> datetime:
    day = local.date() + timedelta(days=1)
    while not is_workday(day):
        day += timedelta(days=1)
    return datetime.combine(day, OFFICE[0][0], SHANGHAI)
