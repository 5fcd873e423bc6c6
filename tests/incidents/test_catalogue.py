"""The event catalogue as data (categories, kinds, handlers, time limits), and working time by
the Chinese calendar with its adjusted working weekends (调休)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from pingan.datafile import DataFileError
from pingan.db.base import SHANGHAI
from pingan.incidents import calendar, catalogue


def bj(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=SHANGHAI)  # type: ignore[misc]


def test_the_shipped_catalogue_covers_what_a_grid_meets() -> None:
    shipped = catalogue.shipped()
    kinds = {f"{c.code}.{k.code}" for c in shipped.categories for k in c.kinds}
    assert {
        "security.suspicious_person",
        "fire.blocked_exit",
        "fire.ebike_indoor",
        "fire.flying_wire",
        "fire.extinguisher",
        "facilities.access_control",
        "facilities.fence",
        "facilities.lighting",
        "facilities.camera",
        "environment.exposed_rubbish",
        "environment.road_occupation",
        "city.street_order",
        "city.illegal_structure",
        "dispute.neighbour",
        "housing.structure",
        "other.other",
    } <= kinds
    found = shipped.kind("fire.blocked_exit")
    assert found is not None
    category, kind = found
    assert (category.name, kind.name, kind.handler, kind.priority) == (
        "消防隐患",
        "消防通道或安全出口堵塞",
        "site_manager",
        1,
    )
    assert kind.accept and kind.close and kind.limit.hours == 4
    assert shipped.kind("fire.nothing") is None and shipped.kind("nothing") is None


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (("handler: site_manager", "handler: janitor"), "handler 'janitor'"),
        (("limit: {hours: 2}", "limit: {hours: 2, days: 1}"), "hours or days"),
        (("code: unsecured_access", "code: suspicious_person"), "appears twice"),
        (("priority: 1", "priority: 9"), "less than or equal to 4"),
    ],
)
def test_a_mistake_in_the_catalogue_names_its_line(change: tuple[str, str], says: str) -> None:
    original = (Path(catalogue.__file__).parent / "catalogue.yaml").read_text(encoding="utf-8")
    broken = original.replace(*change, 1)
    assert broken != original
    changed = broken[: broken.index(change[1])].count("\n") + 1
    with pytest.raises(DataFileError, match=says) as info:
        catalogue.parse(broken, "catalogue.yaml")
    reported = int(str(info.value).split("catalogue.yaml: line ", 1)[1].split(":")[0])
    # The line of the value, or of the entry it belongs to (a kind is checked as a whole).
    assert changed - 8 <= reported <= changed, (reported, changed)
    with pytest.raises(DataFileError, match="'other' category"):
        catalogue.parse(original.replace("code: other", "code: misc"))


def test_working_days_follow_the_holidays_and_the_weekends_worked_in_lieu() -> None:
    assert calendar.is_workday(date(2026, 2, 14))  # a Saturday worked before the Spring Festival
    assert not calendar.is_workday(date(2026, 2, 16))  # a Monday of the Spring Festival
    assert not calendar.is_workday(date(2026, 12, 5))  # an ordinary Saturday
    friday = bj(2026, 2, 13, 10, 0)
    assert calendar.add_working_days(friday, 1) == bj(2026, 2, 14, 10, 0)
    assert calendar.add_working_days(friday, 2) == bj(2026, 2, 24, 10, 0)  # after the festival
    # Accepted on a holiday: counted from the first opening after it.
    assert calendar.add_working_days(bj(2026, 10, 3, 15, 0), 1) == bj(2026, 10, 9, 8, 30)


def test_working_hours_stop_at_lunch_at_night_and_on_holidays() -> None:
    assert calendar.add_working_hours(bj(2026, 12, 7, 11, 30), 1) == bj(2026, 12, 7, 14, 30)
    assert calendar.add_working_hours(bj(2026, 12, 7, 20, 0), 2) == bj(2026, 12, 8, 10, 30)
    # Friday before National Day's worked Saturday (2026-10-10): the clock goes on that Saturday.
    assert calendar.add_working_hours(bj(2026, 10, 9, 17, 0), 2) == bj(2026, 10, 10, 9, 30)
    # The limit of a kind runs from acceptance.
    kind = catalogue.shipped().kind("fire.blocked_exit")
    assert kind is not None
    assert kind[1].limit.due(bj(2026, 12, 7, 16, 0)) == bj(2026, 12, 8, 10, 30)


def test_a_year_the_calendar_does_not_know_yet_counts_weekdays_and_says_so() -> None:
    assert calendar.known(2026) and not calendar.known(2031)
    assert calendar.is_workday(date(2031, 1, 1))  # a Wednesday (New Year unknown yet)
    assert not calendar.is_workday(date(2031, 1, 4))  # a Saturday
