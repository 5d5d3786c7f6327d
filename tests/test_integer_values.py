"""A client's integer that is no integer (PERCENT-COMPLETE:x, SEQUENCE:1e9, PRIORITY:) never
hides an action: the item is read, stamped and listed, and the value stays as written.

icalendar refuses such a value in a VTODO (it tolerates it in a VEVENT only): the whole item
was unreadable, so it got no page link, was missing from /overdue and its page was a 404.
"""

from __future__ import annotations

import base64

import pytest

from server import model
from server.tokens import PageTokens
from tests.conftest import PEOPLE
from tests.dav import Client
from web import create_app

JUNK = ["x", "1e9", "99999999999", "-99999999999", "-5", "", "1_0", "+100x", "٥"]
INTEGERS = ["PERCENT-COMPLETE", "SEQUENCE", "PRIORITY"]


def _todo(uid: str, summary: str, *lines: str, kind: str = "VTODO") -> str:
    return "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//junk//EN",
                        f"BEGIN:{kind}", f"UID:{uid}", "DTSTAMP:20261201T090000Z",
                        f"SUMMARY:{summary}",
                        "DUE;VALUE=DATE:20200115" if kind == "VTODO"
                        else "DTSTART;VALUE=DATE:20200115",
                        *lines, f"END:{kind}", "END:VCALENDAR", ""])


@pytest.mark.parametrize("name", INTEGERS)
@pytest.mark.parametrize("value", JUNK)
@pytest.mark.parametrize("kind", ["VTODO", "VEVENT"])
def test_model_reads_stamps_closes_and_keeps_a_junk_integer(name, value, kind):
    line = f"{name}:{value}"
    cal = model.parse(_todo("u1", "Junk", line, kind=kind))
    action = model.read(cal)
    assert not action.closed  # not a readable 100: open, as no other mark says closed
    if name == "SEQUENCE":  # what our next write counts from: 0 to 2**31-1
        assert action.sequence == (model.MAX_INTEGER if value == "99999999999" else 0)
    stamped = model.stamp(cal, "https://crm.example.org/a/t.s")
    assert line in model.to_text(stamped).split("\r\n")  # as written
    assert model.read(model.parse(model.to_text(stamped))).page.endswith("/a/t.s")
    closed = model.close(stamped)
    assert model.read(closed).closed
    assert not model.read(model.reopen(closed)).closed
    model.postpone(stamped, model.dt.timedelta(days=1))


@pytest.mark.parametrize("value", JUNK)
def test_junk_percent_with_another_mark_is_closed(value):
    for mark in ("STATUS:COMPLETED", "COMPLETED:20261201T100000Z"):
        cal = model.parse(_todo("u1", "Done", f"PERCENT-COMPLETE:{value}", mark))
        assert model.read(cal).closed, mark


def test_percent_complete_is_read_as_an_rfc_5545_integer():
    for value, done in [("100", True), ("+100", True), (" 100", True), ("2147483647", True),
                        ("99", False), ("2147483648", False), ("99999999999", False),
                        ("1_00", False), ("１００", False), ("1e2", False), ("", False)]:
        cal = model.parse(_todo("u1", "P", f"PERCENT-COMPLETE:{value}"))
        assert model.read(cal).closed is done, value


def _basic() -> dict[str, str]:
    token = base64.b64encode(f"alice:{PEOPLE['alice']}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_items_with_junk_integers_get_their_link_page_and_overdue_line(live):
    dav = Client(live.base_url, "alice", PEOPLE["alice"])
    written = {}
    for name in INTEGERS:
        for n, value in enumerate(JUNK):
            uid, summary = f"{name.lower()}-{n}", f"Junk {name} {value!r}"
            path = live.calendar_path("alice") + f"{uid}.ics"
            answer = dav.put(path, _todo(uid, summary, f"{name}:{value}"))
            assert answer.status_code == 201, (name, value, answer.text[:300])
            written[path] = (f"{name}:{value}", summary)
    done = live.calendar_path("alice") + "done.ics"
    assert dav.put(done, _todo("done", "Junk and done", "PERCENT-COMPLETE:x",
                               "STATUS:COMPLETED")).status_code == 201
    user, password = live.service
    app = create_app({"TESTING": True, "SECRET_KEY": live.secret_key,
                      "CALDAV_URL": live.dav_url, "CALDAV_USER": user,
                      "CALDAV_PASSWORD": password, "BASE_URL": live.base_url,
                      "TIMEZONE": "Europe/Paris"})
    client = app.test_client()
    tokens = PageTokens(live.secret_key)
    overdue = client.get("/overdue", headers=_basic())
    assert overdue.status_code == 200
    overdue_html = overdue.get_data(as_text=True)
    for path, (line, summary) in written.items():
        stored = dav.text(path)
        lines = stored.replace("\r\n ", "").split("\r\n")
        assert line in lines, (line, stored)  # the client's value, as written
        link = f"{live.base_url}/a/{tokens.make(path)}"
        assert f"X-FOLLOWUP-PAGE;VALUE=URI:{link}" in lines, (line, stored)
        page = client.get(f"/a/{tokens.make(path)}")
        assert page.status_code == 200, line
        assert summary.replace("'", "&#39;") in page.get_data(as_text=True), line
        assert summary.replace("'", "&#39;") in overdue_html, line
    assert "Junk and done" not in overdue_html
