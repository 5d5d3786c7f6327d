"""Where Radicale refuses an item, the client gets a 400 that says why and what to do.

Through the product's Radicale (plugins and filter, strict_preconditions on), in-process.
Radicale alone answers a bare "Bad Request", or "412 Precondition failed" for a time outside
years 1 to 9999 in UTC, which a client takes for an edit conflict and retries.
"""

from __future__ import annotations

import pytest

from tests.test_plugin_dav import Dav, task


@pytest.fixture(scope="module")
def dav(tmp_path_factory) -> Dav:
    return Dav(tmp_path_factory.mktemp("refusals") / "var")


def wrap(body: str) -> str:
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//c//EN\r\n{body}END:VCALENDAR\r\n"


REFUSED = {
    "no-uid": (wrap("BEGIN:VTODO\r\nDTSTAMP:20261201T090000Z\r\nSUMMARY:x\r\nEND:VTODO\r\n"),
               "a VTODO has no UID: give every task and event a UID"),
    "after-9999-in-utc": (wrap(
        "BEGIN:VEVENT\r\nUID:la\r\nDTSTAMP:20261201T090000Z\r\n"
        "DTSTART;TZID=America/Los_Angeles:99991231T230000\r\nSUMMARY:x\r\nEND:VEVENT\r\n"),
        "DTSTART 99991231T230000 in America/Los_Angeles falls outside the years 1 to 9999"),
    "30-february": (wrap("BEGIN:VTODO\r\nUID:f\r\nDTSTAMP:20261201T090000Z\r\n"
                         "DUE:20260230T090000Z\r\nEND:VTODO\r\n"), "20260230T090000Z"),
    "two-uids": (wrap("BEGIN:VTODO\r\nUID:a\r\nDTSTAMP:20261201T090000Z\r\nEND:VTODO\r\n"
                      "BEGIN:VTODO\r\nUID:b\r\nDTSTAMP:20261201T090000Z\r\nEND:VTODO\r\n"),
                 "send each task or event as its own file"),
    "not-icalendar": ("hello world\r\n", "not iCalendar that can be read"),
    "empty": ("", "the item is empty"),
    "alarms-in-alarms": (wrap("BEGIN:VTODO\r\nUID:deep\r\nDTSTAMP:20261201T090000Z\r\n"
                              + "BEGIN:VALARM\r\n" * 500 + "END:VALARM\r\n" * 500
                              + "END:VTODO\r\n"), "components are nested 502 deep"),
}


@pytest.mark.parametrize("name", REFUSED)
def test_a_refused_item_gets_a_400_that_says_why(dav, name):
    body, reason = REFUSED[name]
    response = dav.put(f"{name}.ics", body)
    said = response.get_data(as_text=True)
    assert response.status_code == 400, said
    assert said.startswith("followup: the calendar server refused this item: "), said
    assert reason in said
    assert f"{name}.ics" not in dav.hrefs()  # nothing stored


def test_a_real_edit_conflict_stays_a_412(dav):
    assert dav.put("kept.ics", task("kept")).status_code == 201
    stale = '"not-the-stored-version"'
    response = dav.put("kept.ics", task("kept", "Called back"), stale)
    assert response.status_code == 412
    assert "followup:" not in response.get_data(as_text=True)
    assert "Call back" in dav.text("kept.ics")
