"""Every client bug shape, through real Radicale with our plugin and through the page."""

from __future__ import annotations

import pytest

from server import model
from tests.cases_files import case_files
from tests.compare import lost
from tests.conftest import PEOPLE
from tests.dav import Client
from tests.pages import Page


@pytest.fixture(params=case_files(), ids=lambda p: p.name)
def case(request):
    return request.param


def _put_case(live, user, case):
    client = Client(live.base_url, user, PEOPLE[user])
    path = live.calendar_path(user) + case.stem + ".ics"
    sent = case.read_text()
    response = client.put(path, sent)
    assert response.status_code == 201, response.text
    return client, path, sent


def _page_url(text: str) -> str:
    return str(model.main_component(model.parse(text))[model.PROP_PAGE])


def test_case_is_stamped_and_kept(live, case):
    client, path, sent = _put_case(live, "alice", case)
    stored = client.text(path)
    assert lost(sent, stored) == []
    comp = model.main_component(model.parse(stored))
    assert str(comp["URL"]) == _page_url(stored)
    assert comp["URL"].params["VALUE"] == "URI"
    assert model.strip_page_line(str(comp["DESCRIPTION"])) != str(comp["DESCRIPTION"])


def test_case_closes_from_its_page(live, case):
    client, path, sent = _put_case(live, "bob", case)
    page = Page.open(_page_url(client.text(path)))
    action = model.read(model.parse(sent))
    assert action.summary.replace("'", "&#39;") in page.html
    if action.closed:  # ticked in the client already: the page says so, no Close to offer
        assert not page.has_form("close")
        closed_page = page
    else:
        closed_page = page.follow(page.submit("close"))
    assert "Closed" in closed_page.html
    stored = client.text(path)
    assert model.read(model.parse(stored)).closed
    assert lost(sent, stored) == []


def test_case_is_followed_by_a_valid_successor(live, case):
    client, path, sent = _put_case(live, "alice", case)
    page = Page.open(_page_url(client.text(path)))
    next_page = page.follow(page.submit("close-and-create", summary="Next step",
                                        due="2026-12-20T10:00"))
    assert "Next step" in next_page.html
    predecessor = model.parse(client.text(path))
    assert model.read(predecessor).closed
    assert lost(sent, model.to_text(predecessor)) == []
    successor_path = live.calendar_path("alice") + model.read(predecessor).next + ".ics"
    successor = model.parse(client.text(successor_path))
    action = model.read(successor)
    assert action.previous == model.read(predecessor).uid
    assert action.page and action.page in next_page.url
    # Valid for every client: repairing it changes nothing but what repair always adds.
    assert model.to_text(model.repair(successor)) == model.to_text(successor)


def test_radicale_runs_with_strict_preconditions(live):
    """An overwrite without If-Match is refused: every writer must say what it read."""
    client = Client(live.base_url, "alice", PEOPLE["alice"])
    path = live.calendar_path("alice") + "strict.ics"
    text = case_files()[0].read_text()
    assert client.put(path, text).status_code == 201
    response = client.http.put(client.url(path), data=text.encode(),
                               headers={"Content-Type": "text/calendar"}, timeout=30)
    assert response.status_code == 412


def test_items_outside_the_actions_calendar_are_left_alone(live):
    client = Client(live.base_url, "alice", PEOPLE["alice"])
    made = client.http.request("MKCALENDAR", client.url("/dav/alice/holidays/"), timeout=30)
    assert made.status_code == 201
    sent = case_files()[0].read_text()
    assert client.put("/dav/alice/holidays/h.ics", sent).status_code == 201
    assert model.PROP_PAGE not in client.text("/dav/alice/holidays/h.ics")


def test_a_client_control_character_does_not_break_the_calendar(live):
    client = Client(live.base_url, "alice", PEOPLE["alice"])
    sent = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//c//EN\r\nBEGIN:VTODO\r\n"
            "UID:ctl-1\r\nDTSTAMP:20261201T100000Z\r\nSUMMARY:Notes\x0bfrom Word\r\n"
            "END:VTODO\r\nEND:VCALENDAR\r\n")
    assert client.put(live.calendar_path("alice") + "ctl.ics", sent).status_code == 201
    from server.store import Store

    [stored] = Store(live.base_url, "alice", PEOPLE["alice"]).list(live.calendar_path("alice"))
    assert stored.action.summary == "Notes from Word"
