"""An action copied in a calendar app carries the original's chain properties.

A client that duplicates a closed action gives the copy a new UID and STATUS:NEEDS-ACTION
but keeps X-FOLLOWUP-NEXT, which names the original's successor. That item does not point
back at the copy (its X-FOLLOWUP-PREVIOUS is the original), so it is not the copy's next
action: the page, close-and-create and repair must all treat the copy as having none.
"""

from __future__ import annotations

import datetime as dt
import re

from server import model, repair
from server.store import Store
from server.tokens import PageTokens
from tests.conftest import PEOPLE
from tests.dav import Client


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def copied(live, alice: Store, original_path: str, uid: str = "copy-of-the-call") -> str:
    """What a calendar app's "duplicate" makes of a closed action: new UID, open again,
    every other property (the chain included) as it was. Returns the copy's path."""
    text = model.to_text(alice.get(original_path).cal)
    comp = model.main_component(model.parse(text))
    original_uid = str(comp["UID"])
    lines = [line for line in text.replace("\r\n ", "").split("\r\n")
             if not line.startswith(("COMPLETED", "PERCENT-COMPLETE", "X-FOLLOWUP-CLOSED",
                                     "STATUS"))]
    lines = [line.replace(original_uid, uid) if line.startswith("UID") else line
             for line in lines]
    at = lines.index("END:VTODO")
    lines[at:at] = ["STATUS:NEEDS-ACTION"]
    path = live.calendar_path("alice") + uid + ".ics"
    response = Client(live.base_url, "alice", PEOPLE["alice"]).put(path, "\r\n".join(lines))
    assert response.status_code == 201, response.text
    return path


def closed_chain(live, alice: Store):
    first = alice.new_action(live.calendar_path("alice"),
                             model.new("Call the buyer", "call", dt.date(2026, 12, 1)))
    closed, successor = alice.close_and_create(first.path, "Send the offer",
                                               dt.date(2026, 12, 5))
    return closed, successor


def page_of(live, path: str) -> str:
    return f"/a/{PageTokens(live.secret_key).make(path)}"


def test_a_copy_is_not_given_the_originals_next_action(client, live, alice):
    closed, successor = closed_chain(live, alice)
    copy = alice.get(copied(live, alice, closed.path))
    assert copy.action.next == successor.action.uid and not copy.action.closed
    html = client.get(page_of(live, copy.path)).get_data(as_text=True)
    assert "already planned" not in html
    assert 'data-action="close-and-create"' in html and 'data-action="close"' in html
    assert "Send the offer" not in html  # the other chain's action is not this one's next


def test_close_and_create_on_a_copy_makes_its_own_successor(client, live, alice):
    closed, theirs = closed_chain(live, alice)
    copy_path = copied(live, alice, closed.path)
    url = page_of(live, copy_path)
    html = client.get(url).get_data(as_text=True)
    form = {"csrf_token": csrf(html), "summary": "Visit the copy's buyer", "due": "2026-12-20",
            "kind": "meeting",
            "generation": re.search(r'name="generation" value="(\d+)"', html).group(1)}
    response = client.post(url + "/close-and-create", data=form)
    assert response.status_code == 303
    copy = alice.get(copy_path)
    ours = alice.neighbour(copy, "next")
    assert copy.action.closed and ours is not None
    assert ours.action.summary == "Visit the copy's buyer"  # what was typed is kept
    assert ours.action.previous == copy.action.uid and copy.action.next == ours.action.uid
    assert alice.get(theirs.path).action == theirs.action  # the other chain is untouched
    # A retry of the same form (a double click) finds that successor and makes no other.
    assert client.post(url + "/close-and-create", data=form).status_code == 303
    _closed, again = alice.close_and_create(copy_path, "Something else", None,
                                            generation=int(form["generation"]))
    assert again.path == ours.path
    assert len(list(alice.list(live.calendar_path("alice")))) == 4


def test_repair_reports_a_copy_and_changes_nothing(live, alice):
    closed, theirs = closed_chain(live, alice)
    copy_path = copied(live, alice, closed.path)
    calendar = live.calendar_path("alice")
    before = {s.path: model.to_text(s.cal) for s in alice.list(calendar)}
    findings = repair.sweep(alice, calendar, fix=True)
    assert [(f.kind, f.path, f.fixed) for f in findings] == [("stale-next", copy_path, False)]
    assert theirs.action.uid in findings[0].detail
    assert {s.path: model.to_text(s.cal) for s in alice.list(calendar)} == before


def test_repair_finishes_a_half_done_close_of_a_copy(live, alice):
    """Close-and-create on the copy stopped after its first write: repair links the copy to
    its own new successor; the original's successor, which NEXT still names, is no reason
    to delete it."""
    from tests.test_crash import Crash, CrashingStore

    closed, theirs = closed_chain(live, alice)
    copy_path = copied(live, alice, closed.path)
    crashing = CrashingStore(live.base_url, "alice", PEOPLE["alice"], after_write=1)
    try:
        crashing.close_and_create(copy_path, "The copy's next step", None, generation=0)
    except Crash:
        pass
    made = [s for s in alice.list(live.calendar_path("alice"))
            if s.action.summary == "The copy's next step"]
    assert len(made) == 1
    findings = repair.sweep(alice, live.calendar_path("alice"), fix=True)
    assert [(f.kind, f.fixed) for f in findings] == [("unfinished-close", True)]
    copy = alice.get(copy_path)
    assert copy.action.closed and alice.successor(copy).path == made[0].path
    assert alice.find(theirs.path) is not None


def test_a_copy_of_a_successor_does_not_show_the_originals_previous_action(client, live,
                                                                           alice):
    closed, successor = closed_chain(live, alice)
    copy_path = copied(live, alice, successor.path, uid="copy-of-the-offer")
    assert alice.get(copy_path).action.previous == closed.action.uid
    html = client.get(page_of(live, copy_path)).get_data(as_text=True)
    assert "Call the buyer" not in html  # that action's next one is the original
    html = client.get(page_of(live, successor.path)).get_data(as_text=True)
    assert "Call the buyer" in html  # the original still shows where it comes from
