"""The week planner over real HTTP against the real product (Radicale and the pages in one
server, its pages in Europe/Paris): Monday to Sunday of the day asked, its neighbours' links,
entries at their day and time, each opening its action page."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import pytest

from server.store import Store
from tests.conftest import PEOPLE
from tests.test_web_pages import add

PARIS = ZoneInfo("Europe/Paris")
MONDAY = dt.date(2027, 3, 1)
SUNDAY = dt.date(2027, 3, 7)
THURSDAY = dt.date(2027, 3, 4)


def days_of(html: str) -> dict[str, dict[str, str]]:
    """Each day section of the week: its date → {entry title: what its time line says}."""
    found = {}
    for day, body in re.findall(r'<section class="day[^"]*" aria-labelledby="day-([0-9-]+)"'
                                r'[^>]*>(.*?)</section>', html, re.S):
        found[day] = {unescape(title): unescape(time) for time, title in re.findall(
            r'<span class="time">([^<]*)</span>\s*<span class="what"><bdi>([^<]*)</bdi>',
            body)}
    return found


def week_of(monday: dt.date) -> list[str]:
    return [(monday + dt.timedelta(days=n)).isoformat() for n in range(7)]


def get(http, url: str) -> str:
    response = http.get(url, timeout=30)
    assert response.status_code == 200, (url, response.status_code, response.text[:300])
    return response.text


@pytest.fixture
def seeded(paris):
    alice = Store(paris.base_url, "alice", PEOPLE["alice"])
    for summary, when, kind in (
            ("Task due the Sunday before", dt.date(2027, 2, 28), "task"),
            ("Task due Monday", MONDAY, "task"),
            ("Task due Sunday", SUNDAY, "task"),
            ("Task due the Monday after", dt.date(2027, 3, 8), "task"),
            ("Demo at ACME", dt.datetime(2027, 3, 3, 14, 30, tzinfo=PARIS), "meeting"),
            # 23:30 UTC on the Sunday before is 00:30 on Monday in Paris: this week.
            ("Early call", dt.datetime(2027, 2, 28, 23, 30, tzinfo=dt.UTC), "call"),
            ("Late meeting", dt.datetime(2027, 3, 7, 23, 30, tzinfo=PARIS), "meeting")):
        add(alice, paris, "alice", summary, when, kind)
    return paris


def test_a_mid_week_day_shows_its_monday_to_sunday_and_nothing_either_side(seeded, http):
    html = get(http, f"{seeded.base_url}/week?date={THURSDAY}")
    days = days_of(html)
    assert list(days) == week_of(MONDAY)
    assert days["2027-03-01"] == {"Task due Monday": "Task", "Early call": "12:30\u202fAM · Call"}
    assert days["2027-03-03"] == {"Demo at ACME": "2:30\u202fPM · Meeting"}
    assert days["2027-03-07"] == {"Task due Sunday": "Task",
                                  "Late meeting": "11:30\u202fPM · Meeting"}
    shown = {title for entries in days.values() for title in entries}
    assert "Task due the Monday after" not in shown
    assert "Task due the Sunday before" not in shown
    for day in ("2027-03-02", "2027-03-04", "2027-03-05", "2027-03-06"):
        assert days[day] == {}, day


@pytest.mark.parametrize("offset", range(7))
def test_every_day_of_a_week_shows_the_same_week(seeded, http, offset):
    """A Sunday belongs to the week that began the Monday before (not to the next one)."""
    day = MONDAY + dt.timedelta(days=offset)
    assert list(days_of(get(http, f"{seeded.base_url}/week?date={day}"))) == week_of(MONDAY)


def test_previous_and_next_week_links_go_to_the_mondays_either_side(seeded, http):
    url = f"{seeded.base_url}/week?date={THURSDAY}"
    html = get(http, url)
    previous = unescape(re.search(r'<a rel="prev" href="([^"]+)"', html).group(1))
    following = unescape(re.search(r'<a rel="next" href="([^"]+)"', html).group(1))
    assert previous == "/week?date=2027-02-22" and following == "/week?date=2027-03-08"
    before = get(http, urljoin(url, previous))
    assert list(days_of(before)) == week_of(dt.date(2027, 2, 22))
    assert days_of(before)["2027-02-28"] == {"Task due the Sunday before": "Task"}
    after = get(http, urljoin(url, following))
    assert list(days_of(after)) == week_of(dt.date(2027, 3, 8))
    assert days_of(after)["2027-03-08"] == {"Task due the Monday after": "Task"}
    # Back and forth lands on the week we started from.
    again = unescape(re.search(r'<a rel="prev" href="([^"]+)"', after).group(1))
    assert days_of(get(http, urljoin(url, again))) == days_of(html)


def test_an_entry_opens_its_action_page_with_a_way_back(seeded, http):
    url = f"{seeded.base_url}/week?date={THURSDAY}"
    html = get(http, url)
    links = {unescape(title): unescape(href) for href, title in re.findall(
        r'<a href="([^"]+)">\s*<span class="time">[^<]*</span>\s*<span class="what">'
        r'<bdi>([^<]*)</bdi>', html)}
    assert set(links) == {"Task due Monday", "Early call", "Demo at ACME", "Task due Sunday",
                          "Late meeting"}
    for title, href in links.items():
        assert href.startswith("/a/"), href
        response = http.get(urljoin(url, href), timeout=30)
        assert response.status_code == 200, title
        assert re.search(r'<h1 class="summary"[^>]*>\s*<bdi>' + re.escape(title) + "</bdi>",
                         response.text), title
        assert f'<p class="back"><a href="/week?date={THURSDAY}">' in response.text, title
