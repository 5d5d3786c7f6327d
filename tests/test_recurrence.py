"""Repeating actions made in calendar apps: the week planner shows each time, the overdue list
does not call a series late while it goes on (server/recurrence.py, pure)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from server import agenda, model, recurrence

PARIS = ZoneInfo("Europe/Paris")
NOW = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)  # a Thursday


def client_item(*lines: str, uid: str = "weekly") -> agenda.Item:
    """An item as a calendar app writes a repeating meeting (TZID, RRULE, overrides)."""
    text = "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//app//EN", *lines,
                        "END:VCALENDAR", ""])
    return agenda.Item(f"/dav/alice/actions/{uid}.ics", model.read(model.parse(text)))


WEEKLY = ["BEGIN:VEVENT", "UID:weekly", "DTSTAMP:20261001T000000Z",
          "DTSTART;TZID=Europe/Paris:20261005T090000",
          "DTEND;TZID=Europe/Paris:20261005T093000",
          "SUMMARY:Sales stand-up", "RRULE:FREQ=WEEKLY;BYDAY=MO,TH", "END:VEVENT"]


def names(days: dict) -> dict:
    return {day: [(i.action.summary, i.action.when.hour if isinstance(i.action.when, dt.datetime)
                   else None) for i in found] for day, found in days.items() if found}


def test_a_weekly_meeting_shows_every_week_at_its_local_time():
    days = agenda.week([client_item(*WEEKLY)], dt.date(2026, 12, 3), PARIS)
    assert names(days) == {dt.date(2026, 11, 30): [("Sales stand-up", 9)],
                           dt.date(2026, 12, 3): [("Sales stand-up", 9)]}
    later = agenda.week([client_item(*WEEKLY)], dt.date(2027, 6, 1), PARIS)
    assert sorted(later) and len(sum(later.values(), [])) == 2
    assert agenda.week([client_item(*WEEKLY)], dt.date(2026, 9, 30), PARIS) == {
        dt.date(2026, 9, 28) + dt.timedelta(days=n): [] for n in range(7)}


def test_excluded_and_moved_times_are_followed():
    lines = WEEKLY[:-1] + ["EXDATE;TZID=Europe/Paris:20261130T090000", "END:VEVENT",
                           "BEGIN:VEVENT", "UID:weekly", "DTSTAMP:20261001T000000Z",
                           "RECURRENCE-ID;TZID=Europe/Paris:20261203T090000",
                           "DTSTART;TZID=Europe/Paris:20261204T140000",
                           "DTEND;TZID=Europe/Paris:20261204T150000",
                           "SUMMARY:Stand-up (moved)", "END:VEVENT"]
    days = agenda.week([client_item(*lines)], dt.date(2026, 12, 3), PARIS)
    assert names(days) == {dt.date(2026, 12, 4): [("Stand-up (moved)", 14)]}


def test_every_time_links_to_the_series_page_and_a_closed_series_is_struck_everywhere():
    cal = model.close(model.parse("\r\n".join(
        ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//app//EN", *WEEKLY, "END:VCALENDAR"])),
        NOW)
    closed = agenda.Item("/dav/alice/actions/weekly.ics", model.read(cal))
    found = sum(agenda.week([closed], dt.date(2026, 12, 10), PARIS).values(), [])
    assert len(found) == 2
    assert all(i.action.closed and i.path == closed.path for i in found)
    assert all(i.action.summary == "Sales stand-up" for i in found)  # the ✓ is a mark


def test_a_series_is_not_overdue_while_it_goes_on_and_is_once_it_ended():
    assert agenda.overdue([client_item(*WEEKLY)], NOW, PARIS) == []
    ended = [x if not x.startswith("RRULE") else "RRULE:FREQ=DAILY;COUNT=3" for x in WEEKLY]
    assert [i.action.uid for i in agenda.overdue([client_item(*ended)], NOW, PARIS)] == [
        "weekly"]


def test_a_repeating_task_shows_on_its_due_days():
    lines = ["BEGIN:VTODO", "UID:report", "DTSTAMP:20261001T000000Z",
             "DTSTART;VALUE=DATE:20261102", "DUE;VALUE=DATE:20261103",
             "SUMMARY:Weekly report", "RRULE:FREQ=WEEKLY", "END:VTODO"]
    days = agenda.week([client_item(*lines, uid="report")], dt.date(2026, 12, 3), PARIS)
    assert names(days) == {dt.date(2026, 12, 1): [("Weekly report", None)]}


def test_a_rule_gone_wild_is_cut_and_a_broken_one_is_a_one_off():
    hourly = [x if not x.startswith("RRULE") else "RRULE:FREQ=HOURLY" for x in WEEKLY]
    found = recurrence.occurrences(client_item(*hourly).action, dt.date(2026, 10, 5),
                                   dt.date(2026, 10, 11), PARIS)
    assert len(found) == recurrence.MAX_PER_WINDOW
    broken = [x if not x.startswith("RRULE") else "RRULE:FREQ=SOMETIMES" for x in WEEKLY]
    action = client_item(*broken).action
    first = recurrence.occurrences(action, dt.date(2026, 10, 5), dt.date(2026, 10, 11), PARIS)
    assert [a.when for a in first] == [action.when]
    assert recurrence.occurrences(action, dt.date(2026, 12, 1), dt.date(2026, 12, 7)) == []


@pytest.mark.parametrize(("rule", "ever_expanded"), [
    ("FREQ=SECONDLY", False), ("FREQ=MINUTELY", False), ("FREQ=HOURLY", True),
    ("FREQ=DAILY;BYHOUR=0,1,2,3,4,5,6,7,8,9", True),
    ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", False),
    ("FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30;COUNT=5", False),
    ("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=6", False)])
def test_a_rule_that_would_take_forever_to_walk_shows_once_at_its_first_time(
        rule, ever_expanded):
    """Walking FREQ=SECONDLY from 2020 to this week is 200 million steps, and a rule that
    never happens (30 February) is looked for until the year 9999: a page would never
    answer. Such a series shows once, at its first time, and is not "still going on"."""
    old = [x.replace("20261005", "20200106") if x.startswith(("DTSTART", "DTEND")) else x
           for x in WEEKLY]
    lines = [x if not x.startswith("RRULE") else f"RRULE:{rule}" for x in old]
    action = client_item(*lines).action
    assert recurrence.occurrences(action, dt.date(2026, 11, 30), dt.date(2026, 12, 6),
                                  PARIS) == []
    # Near its start an hourly rule is a short walk and is expanded (cut at 50 a week).
    first_week = recurrence.occurrences(action, dt.date(2020, 1, 6), dt.date(2020, 1, 12),
                                        PARIS)
    assert len(first_week) == recurrence.MAX_PER_WINDOW if ever_expanded else \
        first_week == [action]
    assert not recurrence.repeats_after(action, NOW)


def test_a_one_off_is_itself():
    one = client_item(*[x for x in WEEKLY if not x.startswith("RRULE")]).action
    assert one.series is None
    assert recurrence.occurrences(one, dt.date(2026, 10, 5), dt.date(2026, 10, 5), PARIS) == [
        one]


@pytest.mark.parametrize("rule", ["FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
                                  "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=6", "FREQ=DAILY;BYSETPOS=2"])
def test_a_rule_that_never_happens_again_is_stopped_not_walked_to_the_year_9999(rule):
    lines = [x if not x.startswith("RRULE") else f"RRULE:{rule}" for x in WEEKLY]
    series = client_item(*lines).action.series
    start = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    with pytest.raises(recurrence.TooCostly):
        recurrence.bounded(series, lambda: recurrence._times(series, start, start))
    with pytest.raises(recurrence.TooCostly):  # and remembered: the next page pays nothing
        recurrence.bounded(series, lambda: [])
