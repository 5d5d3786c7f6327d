"""Values that are lists (RFC 5545 3.1.1) stay the lists the client wrote, on every path.

`RESOURCES:x,y` is two resources and `RESOURCES:a\\,b,c` two as well ("a,b" and "c");
written back as `x\\,y` or `a\\,b\\,c` they become one. The same goes for the parts of a
REQUEST-STATUS and for a property whose type we do not know (X-, a newer RFC's), which stays
as sent. Each line goes through the three places that parse and write items: the protect
filter in front of Radicale, the storage plugin's full path (a new item stamped, an item
ticked in a client), and the companion's (model.parse, model.close, model.to_text); and
through a Radicale run with the storage plugin alone, without the filter.
"""

from __future__ import annotations

import base64
import re

import icalendar
import pytest
import radicale
from werkzeug.test import Client

from plugins import protect
from server import embedded, ical, model, users
from server.settings import DataDir
from tests.compare import lost
from tests.conftest import PEOPLE
from tests.test_plugin_dav import CALENDAR, Dav, task

LISTS = [
    "RESOURCES:x,y",
    "RESOURCES:a\\,b,c",
    "RESOURCES;LANGUAGE=fr:projecteur,salle 2\\; étage 3",
    "CATEGORIES:a\\,b,c",
    "CATEGORIES:Work,Personal\\,Urgent",
    "REQUEST-STATUS:2.0;Success",
    "REQUEST-STATUS:3.1;Invalid property value;DTSTART:96-Apr-01",
    "X-FOO:a,b",
    "X-FOO;VALUE=TEXT:a,b",
    "X-FOO;VALUE=TEXT:a\\,b,c",
    "X-NUMBERS;VALUE=INTEGER:1,2",
    "X-DAYS;VALUE=DATE:20260101,20260102",
    "X-WHEN;VALUE=DATE-TIME:20260101T000000Z,20260102T000000Z",
    "LOCATION-TYPE:hotel,restaurant",  # RFC 9073, a TEXT list icalendar does not know
]


def lines(text: str | bytes, name: str) -> list[str]:
    if isinstance(text, bytes):
        text = text.decode()
    unfolded = re.sub(r"\r?\n[ \t]", "", text).splitlines()
    return [x for x in unfolded if re.split(r"[;:]", x, maxsplit=1)[0] == name]


def name_of(line: str) -> str:
    return re.split(r"[;:]", line, maxsplit=1)[0]


@pytest.fixture(scope="module")
def dav(tmp_path_factory) -> Dav:
    return Dav(tmp_path_factory.mktemp("lists") / "var")


@pytest.mark.parametrize("line", LISTS)
def test_a_parse_and_a_write_give_back_the_line(line):
    cal = ical.read(task("r1", "Call back", line))
    assert lines(cal.to_ical(sorted=False), name_of(line)) == [line]


def test_resources_are_a_list_and_icalendar_is_left_as_it_was():
    comp = ical.read(task("r2", "Call back", "RESOURCES:a\\,b,c")).subcomponents[0]
    assert [str(x) for x in comp["RESOURCES"]] == ["a,b", "c"]
    # Everyone else in the process (caldav, recurring_ical_events) keeps icalendar's reading.
    plain = icalendar.Calendar.from_ical(task("r2", "Call back", "RESOURCES:x,y"))
    assert str(plain.subcomponents[0]["RESOURCES"]) == "x,y"


def test_our_own_properties_keep_their_types():
    closed = "X-FOLLOWUP-CLOSED;VALUE=DATE-TIME:20261203T101500Z"
    saved = "X-FOLLOWUP-SAVED-DTSTART;VALUE=DATE:20261220"
    comp = ical.read(task("r3", "Call back", f"{closed}\n{saved}")).subcomponents[0]
    assert comp[model.PROP_CLOSED].dt.isoformat() == "2026-12-03T10:15:00+00:00"
    assert comp[model.SAVED_PREFIX + "DTSTART"].to_ical() == b"20261220"  # as written


@pytest.mark.parametrize("line", LISTS)
def test_the_filter_passes_lists_as_sent(line):
    # A comma elsewhere makes the filter re-encode the whole body.
    sent = task("f1", "Call back", f"LOCATION:12 rue de l'Exemple, Lyon\n{line}")
    body = protect.reencode(sent.encode())
    assert body is not None
    assert lines(body, name_of(line)) == [line]


@pytest.mark.parametrize("line", LISTS)
def test_lists_are_kept_when_stamped_ticked_and_closed(dav, line):
    href = f"list-{LISTS.index(line)}.ics"
    sent = task(href[:-4], "Call back", line)
    assert dav.put(href, sent).status_code == 201  # new: stamped (the full path)
    stored = dav.text(href)
    assert lines(stored, name_of(line)) == [line]
    assert lost(sent, stored) == []
    ticked = stored.replace("END:VTODO", "STATUS:COMPLETED\r\nEND:VTODO")
    assert dav.put(href, ticked, etag=dav.etag(href)).status_code == 204  # a client's tick
    assert lines(dav.text(href), name_of(line)) == [line]
    reopened = model.reopen(model.parse(dav.text(href)))  # the companion's path
    assert lines(model.to_text(reopened), name_of(line)) == [line]
    closed = model.close(reopened)
    assert lines(model.to_text(closed), name_of(line)) == [line]


@pytest.fixture(scope="module")
def plugin_alone(tmp_path_factory):
    """Radicale with `[storage] type = plugins.storage` and no protect filter in front."""
    data = DataDir.at(tmp_path_factory.mktemp("alone") / "var")
    users.set_password(data.users_file, "alice", PEOPLE["alice"])
    configuration = embedded.radicale_config(data, "http://127.0.0.1:9")
    embedded.ensure_calendars(configuration, ["alice"])
    client = Client(radicale.Application(configuration))
    token = base64.b64encode(f"alice:{PEOPLE['alice']}".encode()).decode()
    return client, {"Authorization": f"Basic {token}"}


@pytest.mark.parametrize("line", LISTS)
def test_lists_are_kept_by_the_plugin_without_the_filter(plugin_alone, line):
    client, headers = plugin_alone
    path = CALENDAR.removeprefix(embedded.DAV_PREFIX) + f"alone-{LISTS.index(line)}.ics"
    sent = task(f"alone-{LISTS.index(line)}", "Call back", line)
    put = client.put(path, data=sent.encode(), headers=dict(
        headers, **{"Content-Type": "text/calendar", "If-None-Match": "*"}))
    assert put.status_code == 201
    stored = client.get(path, headers=headers).get_data(as_text=True)
    assert model.PROP_PAGE in stored
    assert lines(stored, name_of(line)) == [line]
