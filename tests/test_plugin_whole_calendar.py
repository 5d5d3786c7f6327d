"""Whole-calendar PUT into an actions calendar (a client importing or replacing a calendar).

Radicale writes such a calendar itself, in a fresh folder, under its global write lock; the
plugin formats each item on its way in. These tests check that every item gets its page link
for the file it lands in, that each item is written once (a second upload per item made the
PUT quadratic: 60 s for 3,000 items), and that the calendar keeps its own properties.
"""

from __future__ import annotations

import collections
import json

import pytest
from radicale import item as radicale_item

from plugins import storage
from server import model, protect
from server.tokens import PageTokens
from tests.compare import lost
from tests.test_plugin_dav import CALENDAR, Dav, task


@pytest.fixture
def dav(tmp_path) -> Dav:
    return Dav(tmp_path / "var")


def todo(uid: str, summary: str = "Call back", extra: str = "") -> str:
    return (f"BEGIN:VTODO\r\nUID:{uid}\r\nDTSTAMP:20261201T090000Z\r\nSUMMARY:{summary}\r\n"
            f"{extra}END:VTODO\r\n")


def put_whole(dav: Dav, components: list[str], head: str = ""):
    body = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//import//EN\r\n" + head
            + "".join(components) + "END:VCALENDAR\r\n")
    return dav.client.put(CALENDAR, data=body.encode(), headers=dict(
        dav.headers, **{"Content-Type": "text/calendar", "If-Match": "*"}))


def page_path(dav: Dav, href: str) -> str:
    """The item path the stored page link of `href` names."""
    page = model.read(dav.cal(href)).page
    return PageTokens(dav.data.secret_key()).read(page.rsplit("/", 1)[1])


def props(dav: Dav) -> dict:
    return json.loads((dav.folder / ".Radicale.props").read_text())


def count_calls(monkeypatch, owner: type, name: str, calls: collections.Counter) -> None:
    """Count the calls of a real method (it still runs)."""
    original = getattr(owner, name)

    def counted(*args, **kwargs):
        calls[name] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)


def test_each_item_is_written_once_and_the_index_made_once(dav, monkeypatch):
    calls: collections.Counter = collections.Counter()
    count_calls(monkeypatch, storage.Collection, "upload", calls)
    count_calls(monkeypatch, storage.Collection, "_all_texts", calls)  # an index rebuild
    response = put_whole(dav, [todo(f"w{n}", f"Task {n}") for n in range(60)])
    assert response.status_code in (201, 204), response.get_data(as_text=True)
    # No item went through upload() a second time, and the index was not rebuilt by
    # reading every item: it was made from what was written.
    assert calls == {}
    # Radicale's per-item write path keeps a history entry per item (and scans them all on
    # every write): none here, as in stock Radicale's whole-calendar PUT.
    history = dav.folder / ".Radicale.cache" / "history"
    assert not history.exists() or not list(history.iterdir())
    assert len(dav.hrefs()) == 60
    for href in dav.hrefs():
        assert page_path(dav, href) == CALENDAR + href
    assert dav.put("again.ics", task("w7")).status_code == 409  # the index knows every UID
    assert dav.put("new.ics", task("w-new")).status_code == 201


def test_stamped_items_put_back_whole_are_kept_as_they_are(dav):
    """A calendar exported and put back: items already in the format for their file."""
    assert put_whole(dav, [todo("e1"), todo("e2", "Two")]).status_code in (201, 204)
    first = {href: dav.text(href) for href in dav.hrefs()}
    exported = [text.split("BEGIN:VTODO", 1)[1].rsplit("END:VTODO", 1)[0] for text in
                first.values()]
    response = put_whole(dav, ["BEGIN:VTODO" + x + "END:VTODO\r\n" for x in exported])
    assert response.status_code in (201, 204)
    again = {href: dav.text(href) for href in dav.hrefs()}
    assert again.keys() == first.keys()
    for href, text in first.items():  # the same lines (Radicale may order them otherwise)
        assert protect.same_lines(again[href], text)


def test_an_item_is_stored_as_a_put_of_a_new_item_would_store_it(dav):
    # Ticked and linked to an opportunity: a PUT of this one item would make a planning task.
    ticked = todo("t1", "Done already", "STATUS:COMPLETED\r\n"
                  "X-FOLLOWUP-OPPORTUNITY;LABEL=Renewal:urn:followup:opportunity:Renewal\r\n")
    late = todo("t2", "Start after due", "DTSTART:20261220T090000Z\r\nDUE:20261215T090000Z\r\n")
    assert put_whole(dav, [ticked, late]).status_code in (201, 204)
    done = model.main_component(dav.cal("t1.ics"))
    for mark in ("COMPLETED", "PERCENT-COMPLETE", model.PROP_CLOSED):
        assert mark in done
    repaired = model.main_component(dav.cal("t2.ics"))
    assert "DTSTART" not in repaired and model.SAVED_PREFIX + "DTSTART" in repaired
    assert dav.hrefs() == ["t1.ics", "t2.ics"]  # no stored version, so no next-step task


def derived_name(uid: str) -> str:
    return radicale_item.get_etag(uid).strip('"') + ".ics"


def uid_with_a_random_name() -> tuple[list[str], str]:
    """UIDs in which the last one's two names are both taken when its turn comes.

    Radicale writes the items in UID order; each gets `<uid>.ics`, else `<sha256>.ics`,
    else a random name. With `first` and `first.ics`, the second lands on
    `<sha256 of first.ics>.ics`; a UID equal to that hash (call it V) finds its first name
    taken, and the UID `<sha256 of V>` written before it took its second one."""
    for n in range(1000):
        first = f"{n}"
        v = derived_name(f"{first}.ics")[:-4]
        blocker = derived_name(v)[:-4]
        if first < f"{first}.ics" < blocker < v:
            return [first, f"{first}.ics", blocker, v], v
    raise AssertionError("no such UIDs found")


def test_every_item_names_the_file_it_landed_in(dav):
    uids, random_one = uid_with_a_random_name()
    uids += ["x/y", "a b"]
    response = put_whole(dav, [todo(uid, f"About {uid}") for uid in uids])
    assert response.status_code in (201, 204), response.get_data(as_text=True)
    by_uid = {model.read(dav.cal(href)).uid: href for href in dav.hrefs()}
    assert sorted(by_uid) == sorted(uids)
    assert by_uid["x/y"] == derived_name("x/y")  # a "/" cannot be in a file name
    assert by_uid[random_one] not in (f"{random_one}.ics", derived_name(random_one))
    for href in by_uid.values():
        assert page_path(dav, href) == CALENDAR + href
    assert dav.put("dup.ics", task(random_one)).status_code == 409


def propfind(dav: Dav) -> str:
    body = ('<?xml version="1.0"?><D:propfind xmlns:D="DAV:" '
            'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:displayname/>'
            '<C:supported-calendar-component-set/></D:prop></D:propfind>')
    response = dav.client.open(CALENDAR, method="PROPFIND", data=body, headers=dict(
        dav.headers, Depth="0", **{"Content-Type": "application/xml"}))
    assert response.status_code == 207
    return response.get_data(as_text=True)


def set_colour(dav: Dav, colour: str) -> None:
    body = ('<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" '
            'xmlns:I="http://apple.com/ns/ical/"><D:set><D:prop>'
            f'<I:calendar-color>{colour}</I:calendar-color></D:prop></D:set></D:propertyupdate>')
    response = dav.client.open(CALENDAR, method="PROPPATCH", data=body, headers=dict(
        dav.headers, **{"Content-Type": "application/xml"}))
    assert response.status_code == 207


def test_the_calendar_keeps_its_name_and_kinds_of_items(dav):
    assert props(dav)["D:displayname"] == "Actions"
    set_colour(dav, "#ff8800")
    assert put_whole(dav, [todo("p1")]).status_code in (201, 204)
    assert props(dav) == {"tag": "VCALENDAR", "D:displayname": "Actions",
                          "C:supported-calendar-component-set": "VEVENT,VTODO",
                          "ICAL:calendar-color": "#ff8800"}
    answer = propfind(dav)
    assert "Actions</" in answer and 'name="VEVENT"' in answer and 'name="VTODO"' in answer


def test_a_name_given_in_the_body_is_the_new_name(dav):
    head = "X-WR-CALNAME:Imported actions\r\nX-WR-CALDESC:From the old CRM\r\n"
    assert put_whole(dav, [todo("p2")], head=head).status_code in (201, 204)
    assert props(dav) == {"tag": "VCALENDAR", "D:displayname": "Imported actions",
                          "C:calendar-description": "From the old CRM",
                          "C:supported-calendar-component-set": "VEVENT,VTODO"}


def test_what_vobject_damages_is_stored_as_sent(dav):
    """Radicale's parser cuts an X- value at its first comma and drops an empty parameter;
    each item of the body comes back as the client wrote it, stamped or not yet."""
    damaged = ("X-CLIENT-NOTE:first,second,third\r\nX-E;X-EMPTY=:v\r\n"
               "LOCATION:12 rue de l'Exemple\\, Lyon\r\nCATEGORIES:a\\,b,c\r\n")
    zone = ("BEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\nBEGIN:STANDARD\r\n"
            "DTSTART:19961027T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\n"
            "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\n"
            "END:VTIMEZONE\r\n")
    fresh = [todo("d1", "Call", damaged),
             todo("d2", "Zoned", "DUE;TZID=Europe/Paris:20261215T093000\r\n" + damaged)]
    assert put_whole(dav, fresh, head=zone).status_code in (201, 204)
    for href, sent in zip(["d1.ics", "d2.ics"], fresh, strict=True):
        body = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//import//EN\r\n"
                + (zone if "TZID" in sent else "") + sent + "END:VCALENDAR\r\n")
        assert lost(body, dav.text(href)) == []
    # Exported (stamped, in the format) and put back: still as the client wrote it.
    exported = dav.text("d1.ics").split("BEGIN:VTODO", 1)[1].rsplit("END:VTODO", 1)[0]
    exported = "BEGIN:VTODO" + exported + "END:VTODO\r\n"
    assert put_whole(dav, [exported]).status_code in (201, 204)
    stored = dav.text("d1.ics")
    assert "X-CLIENT-NOTE:first,second,third" in stored and "X-EMPTY=" in stored
    assert page_path(dav, "d1.ics") == CALENDAR + "d1.ics"
