"""Items dated at the ends of the calendar (year 1, year 9999) never break a page or a command.

A client may PUT `DTSTART:99991231T233000Z`: in Paris that is already year 10000, which
Python cannot hold. Such an item shows at its written time, sorts at the calendar's end,
and Postpone refuses it with a reason; every other item of the page or list is unaffected.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server import agenda, cli, model
from server.tokens import PageTokens
from tests.conftest import PEOPLE
from tests.dav import Client
from web import create_app

ZONES = ["UTC", "Europe/Paris", "Asia/Tokyo", "Pacific/Kiritimati", "America/Los_Angeles"]
YEARS = [1, 1900, 9999]
NOW = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)
FOLLOWUP = str(Path(sys.executable).parent / "followup")


def _moments(year: int, zone: str) -> list[model.Moment]:
    """The first and last instants of that year, written in UTC, in the zone, and floating."""
    tz = ZoneInfo(zone)
    first, last = dt.datetime(year, 1, 1, 0, 30), dt.datetime(year, 12, 31, 23, 30)
    return [first.replace(tzinfo=dt.UTC), last.replace(tzinfo=dt.UTC),
            first.replace(tzinfo=tz), last.replace(tzinfo=tz), first, last,
            first.date(), last.date()]


def _item(when: model.Moment, kind: str = "meeting") -> agenda.Item:
    cal = model.new("Odd", "task", None, now=NOW) if kind != "meeting" else \
        model.new("Odd", "meeting", dt.date(2026, 12, 10), now=NOW)
    comp = model.main_component(cal)
    name = "DTSTART" if kind == "meeting" else "DUE"
    comp.pop(name, None)
    comp.pop("DTEND", None)
    comp.add(name, when)
    return agenda.Item("/dav/alice/actions/odd.ics", model.read(cal))


def _everything_a_page_or_list_asks(item: agenda.Item, tz: dt.tzinfo) -> None:
    when = item.action.when
    agenda.sort_key(when)
    agenda.overdue([item], NOW, tz)
    agenda.records([item], "opportunity")
    day = model.local_day(when, tz)
    if dt.date(1900, 1, 8) <= day <= dt.date(9999, 12, 24):  # the weeks /week shows
        week = agenda.week([item], day, tz)
        assert item.action.uid in [i.action.uid for i in week[day]]  # it shows, on its day
    assert cli._show(when, tz)[:4].isdigit()
    try:
        moved = model.postpone(model.new("x", "task", when, now=NOW) if item.action.component
                               == "VTODO" else _event_cal(when), dt.timedelta(days=7), NOW)
        model.read(moved)
    except model.OutOfCalendar as exc:
        assert "end of the calendar" in str(exc)


def _event_cal(when: model.Moment):
    cal = model.new("x", "meeting", dt.date(2026, 12, 10), now=NOW)
    comp = model.main_component(cal)
    comp.pop("DTSTART")
    comp.pop("DTEND")
    comp.add("DTSTART", when)
    return cal


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("year", YEARS)
def test_the_first_and_last_moments_of_a_year_never_raise(year, zone):
    for reader in ZONES:
        for when in _moments(year, zone):
            for kind in ("meeting", "task"):
                _everything_a_page_or_list_asks(_item(when, kind), ZoneInfo(reader))


@settings(max_examples=400, deadline=None, database=None)
@given(when=st.one_of(
    st.datetimes(dt.datetime.min, dt.datetime.max,
                 timezones=st.sampled_from([dt.UTC] + [ZoneInfo(z) for z in ZONES])),
    st.datetimes(dt.datetime.min, dt.datetime.max),
    st.dates()), reader=st.sampled_from(ZONES), kind=st.sampled_from(["meeting", "task"]))
def test_any_moment_in_any_zone_never_raises(when, reader, kind):
    _everything_a_page_or_list_asks(_item(when, kind), ZoneInfo(reader))


@pytest.mark.parametrize("completed", [
    dt.datetime(1, 1, 1, 0, 30, tzinfo=ZoneInfo("Asia/Tokyo")),  # UTC would be in year 0
    dt.datetime(9999, 12, 31, 23, 30, tzinfo=ZoneInfo("America/Los_Angeles"))])  # year 10000
def test_closing_takes_now_for_a_completed_time_that_has_no_utc(completed):
    cal = model.new("Ticked", "task", dt.date(2026, 12, 1), now=NOW)
    model.main_component(cal).add("COMPLETED", completed)
    closed = model.read(model.close(cal, NOW))
    assert closed.closed and closed.closed_at == NOW


def test_a_time_the_zone_cannot_show_is_shown_as_written_and_sorts_last():
    end = dt.datetime(9999, 12, 31, 23, 30, tzinfo=dt.UTC)
    assert model.in_zone(end, ZoneInfo("Europe/Paris")) == end
    assert cli._show(end, ZoneInfo("Asia/Tokyo")) == "9999-12-31 23:30"
    los_angeles = dt.datetime(9999, 12, 31, 23, 0, tzinfo=ZoneInfo("America/Los_Angeles"))
    assert agenda.as_utc(los_angeles) == agenda.LAST_UTC
    tokyo = dt.datetime(1, 1, 1, 0, 30, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert agenda.as_utc(tokyo) == agenda.FIRST_UTC


# -- through the real server: the pages and the command ------------------------------------------

# What Radicale stores (it refuses, with 412, an item whose UTC time leaves the calendar,
# e.g. 99991231T230000 in Los Angeles), but east or west of UTC is past the calendar's end.
EXTREMES = {
    "end-utc": ("VEVENT", "DTSTART:99991231T233000Z", "Meeting at the end of time"),
    "end-kiritimati": ("VEVENT", "DTSTART;TZID=Pacific/Kiritimati:99991231T233000",
                       "Meeting in Kiritimati at the end of time"),
    "end-day": ("VTODO", "DUE;VALUE=DATE:99991231", "Task of the last day"),
    "start-utc": ("VTODO", "DUE:00010101T003000Z", "Task of year one"),
}


def _put_extremes(live) -> dict[str, str]:
    dav = Client(live.base_url, "alice", PEOPLE["alice"])
    paths = {}
    for uid, (component, date_line, summary) in EXTREMES.items():
        text = "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//odd client//EN",
                            f"BEGIN:{component}", f"UID:{uid}", "DTSTAMP:20261201T000000Z",
                            date_line, f"SUMMARY:{summary}", f"END:{component}",
                            "END:VCALENDAR", ""])
        path = live.calendar_path("alice") + f"{uid}.ics"
        assert dav.put(path, text).status_code == 201, uid
        paths[uid] = path
    normal = model.new("An ordinary call", "call", dt.datetime.now(dt.UTC).date(),
                       [model.Link.named("opportunity", "Deal")])
    from server.store import Store

    Store(live.base_url, "alice", PEOPLE["alice"]).new_action(live.calendar_path("alice"),
                                                              normal)
    return paths


def _basic() -> dict[str, str]:
    token = base64.b64encode(f"alice:{PEOPLE['alice']}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris", "Asia/Tokyo", "America/Los_Angeles"])
def test_pages_show_extreme_items_and_postpone_refuses_them(live, zone):
    paths = _put_extremes(live)
    user, password = live.service
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False,
                      "SECRET_KEY": live.secret_key, "CALDAV_URL": live.dav_url,
                      "CALDAV_USER": user, "CALDAV_PASSWORD": password,
                      "BASE_URL": live.base_url, "TIMEZONE": zone})
    client = app.test_client()
    for url in ("/week", "/week?date=9999-12-24", "/week?date=1900-01-08", "/overdue",
                "/records/opportunity"):
        response = client.get(url, headers=_basic())
        assert response.status_code == 200, (url, response.get_data(as_text=True)[:300])
    assert "An ordinary call" in client.get("/week", headers=_basic()).get_data(as_text=True)
    overdue = client.get("/overdue", headers=_basic()).get_data(as_text=True)
    assert "Task of year one" in overdue
    tokens = PageTokens(live.secret_key)
    for uid, path in paths.items():
        page = client.get(f"/a/{tokens.make(path)}")
        assert page.status_code == 200, uid
        assert EXTREMES[uid][2] in page.get_data(as_text=True)
    for uid in ("end-utc", "end-kiritimati", "end-day"):
        response = client.post(f"/a/{tokens.make(paths[uid])}/postpone", data={"days": "7"})
        assert response.status_code == 400, uid
        assert "very end of the calendar" in response.get_data(as_text=True)
    # The year-one task is overdue: Postpone moves it to a week from today, as any other.
    response = client.post(f"/a/{tokens.make(paths['start-utc'])}/postpone", data={"days": "7"})
    assert response.status_code == 303


@pytest.mark.parametrize("zone", ["Asia/Tokyo", "Europe/Paris", "Pacific/Kiritimati",
                                  "America/Los_Angeles"])
def test_list_shows_extreme_items_in_any_zone(live, zone):
    _put_extremes(live)
    env = {**os.environ, "FOLLOWUP_PASSWORD": PEOPLE["alice"]}
    done = subprocess.run([FOLLOWUP, "list", "--url", live.base_url, "--user", "alice",
                           "--timezone", zone], capture_output=True, text=True, env=env,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 5 and "Traceback" not in done.stderr
    assert lines[0].startswith("0001-01-01") and "Task of year one" in lines[0]
    assert "An ordinary call" in lines[1]
    assert all(line.startswith("9999-12-31") for line in lines[2:]), lines
    overdue = subprocess.run([FOLLOWUP, "list", "--url", live.base_url, "--user", "alice",
                              "--timezone", zone, "--overdue"], capture_output=True, text=True,
                             env=env, timeout=60)
    assert overdue.returncode == 0 and "Task of year one" in overdue.stdout
