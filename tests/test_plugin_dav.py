"""The product's Radicale, in-process, spoken to with real CalDAV requests (WSGI, no socket).

`Dav` is used by the other test_plugin_* modules: each request goes through the whole
product's WSGI app (dispatcher → Radicale with the plugins, strict_preconditions on), exactly
as waitress would pass it, only without the socket, so thousands of PUTs stay fast. The
tests here check the UID index that makes new-item PUTs O(1).
"""

from __future__ import annotations

import base64
import os
import re
import textwrap
import uuid
from pathlib import Path

import pytest
from werkzeug.test import Client

from plugins import storage
from server import embedded, model, users
from server.settings import DataDir
from server.tokens import PageTokens
from tests.conftest import PEOPLE
from web import create_app

CALENDAR = "/dav/alice/actions/"


class Dav:
    """alice's actions calendar, over CalDAV, in-process."""

    def __init__(self, root: Path, config: str = "") -> None:
        self.data = DataDir.at(root)
        for name, password in PEOPLE.items():
            users.set_password(self.data.users_file, name, password)
        extra = None
        if config:
            extra = root / "radicale.conf"
            extra.write_text("[storage]\ntype = plugins.storage\n" + textwrap.dedent(config))
        self.base_url = "http://127.0.0.1:9"  # never dialled: page links only
        app = embedded.build(self.data, self.base_url, self.base_url, create_app,
                             extra_config=extra, strict=True)
        self.client = Client(app)
        token = base64.b64encode(f"alice:{PEOPLE['alice']}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}"}

    def put(self, href: str, text: str, etag: str | None = None, create: bool = True):
        headers = dict(self.headers, **{"Content-Type": "text/calendar; charset=utf-8"})
        if etag:
            headers["If-Match"] = etag
        elif create:
            headers["If-None-Match"] = "*"
        return self.client.put(CALENDAR + href, data=text.encode("utf-8"), headers=headers)

    def get(self, href: str):
        return self.client.get(CALENDAR + href, headers=self.headers)

    def text(self, href: str) -> str:
        response = self.get(href)
        assert response.status_code == 200, response.status_code
        return response.get_data(as_text=True)

    def etag(self, href: str) -> str:
        return self.get(href).headers["ETag"]

    def delete(self, href: str, etag: str):
        return self.client.delete(CALENDAR + href, headers=dict(self.headers, **{"If-Match": etag}))

    def move(self, href: str, to_href: str):
        return self.client.open(CALENDAR + href, method="MOVE", headers=dict(
            self.headers, Destination=CALENDAR + to_href))

    def hrefs(self) -> list[str]:
        folder = self.data.collections / "collection-root" / "alice" / "actions"
        return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))

    def cal(self, href: str):
        return model.parse(self.text(href))

    @property
    def folder(self) -> Path:
        return self.data.collections / "collection-root" / "alice" / "actions"


@pytest.fixture
def dav(tmp_path) -> Dav:
    return Dav(tmp_path / "var")


def task(uid: str, summary: str = "Call back", extra: str = "") -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN", "BEGIN:VTODO",
             f"UID:{uid}", "DTSTAMP:20261201T090000Z", f"SUMMARY:{summary}",
             "DUE;VALUE=DATE:20261215", *filter(None, extra.split("\n")),
             "END:VTODO", "END:VCALENDAR", ""]
    return "\r\n".join(lines)


def test_duplicate_uid_is_refused_through_the_index(dav):
    assert dav.put("a.ics", task("same")).status_code == 201
    response = dav.put("b.ics", task("same"))
    assert response.status_code == 409
    assert "no-uid-conflict" in response.get_data(as_text=True)


def test_uid_freed_by_delete_and_move_is_free_again(dav):
    dav.put("a.ics", task("u1"))
    assert dav.delete("a.ics", dav.etag("a.ics")).status_code in (200, 204)
    assert dav.put("b.ics", task("u1")).status_code == 201
    assert dav.move("b.ics", "c.ics").status_code in (201, 204)
    assert dav.hrefs() == ["c.ics"]
    assert dav.put("d.ics", task("u1")).status_code == 409  # still taken, at c.ics
    # The moved item's page link names its new place.
    page = model.read(dav.cal("c.ics")).page
    assert PageTokens(dav.data.secret_key()).read(page.rsplit("/", 1)[1]) == CALENDAR + "c.ics"
    assert f"URL;VALUE=URI:{page}" in dav.text("c.ics").replace("\r\n ", "")


def test_index_is_rebuilt_after_a_write_behind_its_back(dav):
    dav.put("a.ics", task("u1"))
    # Another tool writes a file straight into the folder (no plugin involved).
    (dav.folder / "x.ics").write_text(task("written-outside"), newline="")
    os.utime(dav.folder)  # file systems with coarse timestamps: make the change visible
    assert dav.put("y.ics", task("written-outside")).status_code == 409
    assert dav.put("z.ics", task(str(uuid.uuid4()))).status_code == 201


def test_lost_index_file_is_rebuilt(dav):
    dav.put("a.ics", task("u1"))
    (dav.folder / ".Radicale.cache" / "followup-index.sqlite").unlink()
    assert dav.put("b.ics", task("u1")).status_code == 409


def test_put_answer_has_no_etag_when_the_stored_item_differs(live):
    """RFC 4791 5.3.4: the client must fetch the stamped item, so it is given no ETag."""
    from tests.dav import Client

    client = Client(live.base_url, "alice", PEOPLE["alice"])
    path = live.calendar_path("alice") + "etag.ics"
    sent = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//c//EN\r\nBEGIN:VTODO\r\n"
            "UID:etag-1\r\nDTSTAMP:20261201T100000Z\r\nSUMMARY:Stamp me\r\n"
            "END:VTODO\r\nEND:VCALENDAR\r\n")
    created = client.put(path, sent)
    assert created.status_code == 201 and "ETag" not in created.headers
    stored = client.get(path)
    # Re-uploading exactly what is stored changes nothing: then the ETag is given.
    again = client.put(path, stored.text, etag=stored.headers["ETag"])
    assert again.status_code == 204 and again.headers["ETag"] == stored.headers["ETag"]


def test_an_initial_sync_lists_members_not_the_items_deleted_before_it(live, alice):
    """RFC 6578 3.4: an empty sync-token gets every member URL and no removed one (Radicale
    3.9 listed deleted items as 404, and the caldav library then failed to load them)."""
    import caldav
    import requests

    from server import model
    from tests.conftest import PEOPLE

    calendar = alice.actions_calendar()
    kept = alice.new_action(calendar, model.new("Kept", "call"))
    gone = alice.new_action(calendar, model.new("Gone", "call"))
    alice.delete(alice.get(gone.path))
    report = ('<?xml version="1.0"?><d:sync-collection xmlns:d="DAV:"><d:sync-token/>'
              '<d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>')
    answer = requests.request("REPORT", f"{live.base_url}{calendar}", data=report, timeout=30,
                              auth=("alice", PEOPLE["alice"]),
                              headers={"Depth": "1", "Content-Type": "application/xml"})
    assert answer.status_code == 207
    assert kept.href in answer.text and gone.href not in answer.text and "404" not in answer.text
    client = caldav.DAVClient(url=live.dav_url, username="alice", password=PEOPLE["alice"])
    [found] = client.principal().calendars()
    assert [model.read(model.parse(o.data)).summary for o in found.objects(
        load_objects=True)] == ["Kept"]
    # An incremental sync still reports the deletion.
    token = re.search(r"<sync-token>([^<]+)</sync-token>", answer.text).group(1)
    alice.delete(alice.get(kept.path))
    later = requests.request("REPORT", f"{live.base_url}{calendar}", timeout=30,
                             data=report.replace("<d:sync-token/>",
                                                 f"<d:sync-token>{token}</d:sync-token>"),
                             auth=("alice", PEOPLE["alice"]),
                             headers={"Depth": "1", "Content-Type": "application/xml"})
    assert kept.href in later.text and "404" in later.text


def test_new_items_and_the_rule_read_no_other_item(dav, monkeypatch):
    """O(1) at any size: a new item's UID check and the next-step rule's "is another action
    of this opportunity open?" are answered by the index; stock Radicale's has_uid reads
    every item of the calendar (get_all), and so would a rule that searched the items."""
    link = "X-FOLLOWUP-OPPORTUNITY;LABEL=Renewal:urn:followup:opportunity:Renewal"
    for n in range(30):
        assert dav.put(f"i{n}.ics", task(f"i{n}", extra=link)).status_code == 201
    reads: list[str] = []
    get_all, get = storage.Collection.get_all, storage.Collection._get
    monkeypatch.setattr(storage.Collection, "get_all",
                        lambda self, *a, **k: reads.append("all") or get_all(self, *a, **k))
    monkeypatch.setattr(storage.Collection, "_get",
                        lambda self, href, *a, **k: reads.append(href) or get(self, href, *a,
                                                                             **k))
    assert dav.put("new.ics", task("new", extra=link)).status_code == 201
    assert set(reads) <= {"new.ics"}, reads
    # Ticked in a client, with 30 other open actions of the opportunity: no planning task,
    # and only the ticked item itself was read.
    reads.clear()
    ticked = dav.text("new.ics").replace("END:VTODO", "STATUS:COMPLETED\r\nEND:VTODO")
    assert dav.put("new.ics", ticked, dav.etag("new.ics")).status_code in (200, 204)
    assert set(reads) <= {"new.ics"}, reads
    assert len(dav.hrefs()) == 31
