"""Postpone, over real HTTP from an action's page link, read back over CalDAV: an action not
yet overdue moves by the delay chosen from its own date (docs: server/model.postpone; an
overdue one counts from today instead, tests/test_web_pages.py), for every delay the form
offers; a meeting keeps its hour and its length."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from babel import dates

from server import model
from server.store import Store
from server.tokens import PageTokens
from tests.conftest import PEOPLE
from tests.dav import Client
from tests.pages import Page
from tests.test_web_pages import add

PARIS = ZoneInfo("Europe/Paris")


def paris_today() -> dt.date:
    return dt.datetime.now(PARIS).date()


def offered(page: Page) -> dict[int, str]:
    """The delays of the page's Postpone form: days → label."""
    body = re.search(r'<select id="days" name="days">(.*?)</select>', page.html, re.S).group(1)
    return {int(days): unescape(label)
            for days, label in re.findall(r'<option value="(\d+)"[^>]*>([^<]*)</option>', body)}


def open_page(server, path: str) -> Page:
    """The page link, as the item carries it: no login."""
    return Page.open(f"{server.base_url}/a/{PageTokens(server.secret_key).make(path)}")


def postpone(page: Page, days: int) -> Page:
    response = page.submit("postpone", days=str(days))
    return page.follow(response)


def test_the_form_offers_a_day_to_a_month(paris):
    alice = Store(paris.base_url, "alice", PEOPLE["alice"])
    task = add(alice, paris, "alice", "Write the offer", paris_today() + dt.timedelta(days=3),
               "task")
    page = open_page(paris, task.path)
    assert offered(page) == {1: "1 day", 2: "2 days", 7: "1 week", 14: "2 weeks",
                             30: "1 month"}
    assert page.form("postpone")[1]["days"] == "1"  # preselected: the smallest step


@pytest.mark.parametrize("days", [1, 2, 7, 14, 30])
@pytest.mark.parametrize("ahead", [0, 3])  # due today (not overdue yet), or in three days
def test_a_task_not_yet_overdue_moves_by_the_delay_from_its_due_day(paris, days, ahead):
    alice = Store(paris.base_url, "alice", PEOPLE["alice"])
    due = paris_today() + dt.timedelta(days=ahead)
    task = add(alice, paris, "alice", "Write the offer", due, "task")
    page = open_page(paris, task.path)
    assert days in offered(page)
    shown = postpone(page, days)
    moved = due + dt.timedelta(days=days)
    raw = Client(paris.base_url, "alice", PEOPLE["alice"]).text(task.path)
    assert f"DUE;VALUE=DATE:{moved:%Y%m%d}" in raw.replace("\r\n ", "")
    assert alice.get(task.path).action.when == moved
    said = dates.format_skeleton("yMMMEd", moved, locale="en_US")
    assert f"Postponed to {said}." in shown.html


def next_clock_change(after: dt.date) -> dt.date:
    """The first day after `after` whose 14:00 in Paris is at another UTC offset."""
    day = after
    offset = dt.datetime.combine(day, dt.time(14), PARIS).utcoffset()
    while dt.datetime.combine(day, dt.time(14), PARIS).utcoffset() == offset:
        day += dt.timedelta(days=1)
    return day


@pytest.mark.parametrize("days", [1, 30])
def test_a_meeting_not_yet_overdue_keeps_its_hour_and_length_in_paris(paris, days):
    """Dated the day before the clocks change in Paris, so that either delay crosses the
    change: 14:00 stays 14:00 there, and the meeting keeps its length."""
    alice = Store(paris.base_url, "alice", PEOPLE["alice"])
    day = max(paris_today() + dt.timedelta(days=2),
              next_clock_change(paris_today() + dt.timedelta(days=2)) - dt.timedelta(days=1))
    start = dt.datetime.combine(day, dt.time(14, 0), PARIS)
    meeting = add(alice, paris, "alice", "Demo at ACME", start, "meeting")
    before = alice.get(meeting.path)
    length = (model.moment(model.main_component(before.cal), "DTEND")
              - model.moment(model.main_component(before.cal), "DTSTART"))
    postpone(open_page(paris, meeting.path), days)
    after = alice.get(meeting.path)
    comp = model.main_component(after.cal)
    moved = dt.datetime.combine(day + dt.timedelta(days=days), dt.time(14, 0), PARIS)
    assert model.moment(comp, "DTSTART") == moved
    assert model.moment(comp, "DTSTART").astimezone(PARIS).time() == dt.time(14, 0)
    assert model.moment(comp, "DTEND") - model.moment(comp, "DTSTART") == length
    raw = Client(paris.base_url, "alice", PEOPLE["alice"]).text(meeting.path)
    assert f"DTSTART;TZID=Europe/Paris:{moved:%Y%m%dT%H%M%S}" in raw.replace("\r\n ", "")
