"""What vobject damages is kept as sent; odd input never stops a write; whole-calendar PUT;
a second Radicale (without the plugin) writing into the same folder."""

from __future__ import annotations

import base64

import pytest
import radicale
import radicale.item as radicale_item
from werkzeug.test import Client

from plugins import fastpath
from server import model
from tests.compare import lost
from tests.test_plugin_dav import CALENDAR, Dav, task

DAMAGED_BY_VOBJECT = [
    "X-CLIENT-NOTE:first,second,third",          # cut at the first comma
    'X-CLIENT-NOTE;X-P="a,b":v1,v2',             # the same with a quoted parameter
    "COMMENT:a,b",                               # unescaped comma in a TEXT property
    "SUMMARY:a\\:b",                             # its backslash doubled
    "X-CLIENT-NOTE;X-EMPTY=:value",              # an empty parameter dropped
]


@pytest.fixture
def dav(tmp_path) -> Dav:
    return Dav(tmp_path / "var")


@pytest.mark.parametrize("line", DAMAGED_BY_VOBJECT)
def test_what_vobject_damages_is_stored_as_sent(dav, line):
    extra = line if not line.startswith("SUMMARY") else ""
    sent = task("v1", "a\\:b" if line.startswith("SUMMARY") else "Call back", extra)
    assert dav.put("v1.ics", sent).status_code == 201
    assert lost(sent, dav.text("v1.ics")) == []


def test_damage_is_repaired_in_other_calendars_too(dav):
    """Protection is for every calendar; stamping only for actions calendars."""
    token = base64.b64encode(b"alice:alice-password").decode()
    headers = {"Authorization": f"Basic {token}"}
    body = ('<?xml version="1.0"?><C:mkcalendar xmlns:D="DAV:" '
            'xmlns:C="urn:ietf:params:xml:ns:caldav"/>')
    assert dav.client.open("/dav/alice/personal/", method="MKCALENDAR", data=body,
                           headers=headers).status_code == 201
    sent = task("p1", extra="X-CLIENT-NOTE:first,second")
    put = dav.client.put("/dav/alice/personal/p1.ics", data=sent, headers=dict(
        headers, **{"If-None-Match": "*", "Content-Type": "text/calendar"}))
    assert put.status_code == 201
    stored = dav.client.get("/dav/alice/personal/p1.ics", headers=headers).get_data(
        as_text=True)
    assert lost(sent, stored) == []
    assert model.PROP_PAGE not in stored


def test_unreadable_item_is_stored_as_radicale_read_it(dav):
    storage_class = __import__("plugins.storage", fromlist=["Storage"]).Storage
    configuration = __import__("server.embedded", fromlist=["x"]).radicale_config(
        dav.data, dav.base_url)
    storage = storage_class(configuration)
    odd = radicale_item.Item(collection_path="alice/actions", text="not iCalendar at all",
                             component_name="VTODO")
    assert storage.prepare_upload("alice/actions", "x.ics", odd, None) == (odd, "")


def test_whole_calendar_put_gives_every_item_its_page(dav):
    body = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//import//EN\r\n"
            "BEGIN:VTODO\r\nUID:w1\r\nDTSTAMP:20261201T090000Z\r\nSUMMARY:One\r\nEND:VTODO\r\n"
            "BEGIN:VTODO\r\nUID:w2\r\nDTSTAMP:20261201T090000Z\r\nSUMMARY:Two\r\nEND:VTODO\r\n"
            "END:VCALENDAR\r\n")
    response = dav.client.put(CALENDAR, data=body, headers=dict(
        dav.headers, **{"Content-Type": "text/calendar", "If-Match": "*"}))
    assert response.status_code in (201, 204), response.get_data(as_text=True)
    hrefs = dav.hrefs()
    assert len(hrefs) == 2
    for href in hrefs:
        action = model.read(dav.cal(href))
        assert action.page and action.summary in ("One", "Two")
    assert dav.put("again.ics", task("w1")).status_code == 409  # the index saw them


def test_second_radicale_without_the_plugin_writing_the_same_folder(dav, tmp_path):
    """Another process (stock Radicale) writes; our index notices and stays right."""
    dav.put("a.ics", task("a"))
    configuration = radicale.config.load([])
    configuration.update({
        "auth": {"type": "none"}, "rights": {"type": "authenticated"},
        "storage": {"filesystem_folder": str(dav.data.collections)},
        "web": {"type": "none"}}, "test", privileged=True)
    stock = Client(radicale.Application(configuration))
    token = base64.b64encode(b"alice:x").decode()
    put = stock.put("/alice/actions/b.ics", data=task("from-stock"), headers={
        "Authorization": f"Basic {token}", "Content-Type": "text/calendar",
        "If-None-Match": "*"})
    assert put.status_code == 201
    assert dav.put("c.ics", task("from-stock")).status_code == 409


def test_fast_path_needs_every_line_of_ours():
    page = "https://crm.example.org/a/tok"
    stored = model.to_text(model.stamp(model.new("Call", "call", None, uid="f1"), page))
    assert fastpath.nothing_to_do(stored.replace("SUMMARY:Call", "SUMMARY:Ring"), stored, page)
    assert not fastpath.nothing_to_do(stored, stored, page + "-moved")
    dropped = "\r\n".join(x for x in stored.split("\r\n") if not x.startswith("X-FOLLOWUP-K"))
    assert not fastpath.nothing_to_do(dropped, stored, page)
    ticked = stored.replace("STATUS:NEEDS-ACTION", "STATUS:COMPLETED")
    assert not fastpath.nothing_to_do(ticked, stored, page)
    assert not fastpath.nothing_to_do(
        stored.replace("END:VTODO", "RELATED-TO:x\r\nEND:VTODO"), stored, page)
    for mark in ("PERCENT-COMPLETE:100", "COMPLETED:20261201T090000Z", "PERCENT-COMPLETE:x"):
        assert not fastpath.nothing_to_do(
            stored.replace("END:VTODO", f"{mark}\r\nEND:VTODO"), stored, page), mark
    assert fastpath.nothing_to_do(
        stored.replace("END:VTODO", "PERCENT-COMPLETE:40\r\nEND:VTODO"), stored, page)
    # A moved occurrence ticked on its own: the full path decides, not the line test.
    override = stored.replace("END:VCALENDAR", "BEGIN:VTODO\r\nUID:f1\r\n"
                              "RECURRENCE-ID:20261208T090000Z\r\nDTSTAMP:20261201T090000Z\r\n"
                              "STATUS:COMPLETED\r\nEND:VTODO\r\nEND:VCALENDAR")
    assert not fastpath.nothing_to_do(override, stored, page)


def test_journal_entries_are_protected_too(dav):
    sent = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VJOURNAL\r\nUID:j1\r\n"
            "DTSTAMP:20261201T090000Z\r\nSUMMARY:notes,minutes\r\nEND:VJOURNAL\r\n"
            "END:VCALENDAR\r\n")
    assert dav.put("j1.ics", sent).status_code == 201
    assert lost(sent, dav.text("j1.ics")) == []
