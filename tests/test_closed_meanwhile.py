"""Close and create next on a page left open while the action was closed elsewhere: ticked
in a calendar app (the next-step rule then plans a task), or closed in another tab. What was
typed is never dropped without a word: the outcome goes with the close when it has none, and
the next action typed is given back, to apply to the next action that exists or to create
beside it. One close still never makes two successors."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape
from zoneinfo import ZoneInfo

import pytest
import requests

from server import model, nextstep
from server.tokens import PageTokens
from tests.conftest import PEOPLE
from tests.test_page import FORGED_ETAGS, form_fields, outcome_in_both_places

DEAL = (model.Link.named("opportunity", "Renewal 2027"), model.Link.named("account", "ACME"))
PARIS = ZoneInfo("Europe/Paris")
TYPED = {"summary": "Call Jane about the quote", "due": "2026-12-20", "kind": "call",
         "outcome": "Wants 3 more seats"}


def _action(live, alice, kind="email", summary="Send the quote"):
    when = dt.datetime(2026, 12, 1, 10, 0, tzinfo=PARIS) if kind == "meeting" \
        else dt.date(2026, 12, 1)
    stored = alice.new_action(live.calendar_path("alice"), model.new(summary, kind, when, DEAL))
    return stored, f"/a/{PageTokens(live.secret_key).make(stored.path)}"


def _tick(live, alice, path):
    """What a calendar app sends when the user ticks the task (or marks the meeting ✓)."""
    now = alice.get(path)
    text = model.to_text(now.cal)
    if now.action.is_event:
        text = text.replace("SUMMARY:", "SUMMARY:✓ ", 1)
    else:
        text = text.replace("END:VTODO", "PERCENT-COMPLETE:100\r\nEND:VTODO")
    answer = requests.put(f"{live.base_url}{path}", data=text.encode(), timeout=30,
                          auth=("alice", PEOPLE["alice"]),
                          headers={"If-Match": now.etag, "Content-Type": "text/calendar"})
    assert answer.status_code == 204


def _submit(client, url, html, **typed):
    return client.post(url + "/close-and-create", data={**form_fields(html, "close-and-create"),
                                                        **TYPED, **typed})


def _items(live, alice):
    return {s.action.uid: s for s in alice.list(live.calendar_path("alice"))}


def test_a_tick_in_a_calendar_app_meanwhile_keeps_the_outcome_and_gives_the_next_back(
        client, live, alice):
    stored, url = _action(live, alice)
    html = client.get(url).get_data(as_text=True)  # the page, open on a phone
    _tick(live, alice, stored.path)
    response = _submit(client, url, html)
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    text = unescape(re.sub(r"<[^>]+>", "", page))
    assert "closed meanwhile, in your calendar app or another tab" in text
    assert "its next action is “Plan the next step: Renewal 2027”" in text
    assert "Your outcome was not saved" not in text  # it was: the close had none
    assert outcome_in_both_places(alice.get(stored.path).cal) == (
        "Wants 3 more seats", ["Outcome: Wants 3 more seats"])
    # What was typed for the next action is given back, ready to use.
    given = form_fields(page, "typed-next")
    assert re.search(r'name="summary" value="Call Jane about the quote"', page)
    assert re.search(r'name="due" value="2026-12-20"', page)
    assert re.search(r'<option value="call" selected>', page)
    assert given["next_etag"]
    items = _items(live, alice)
    assert len(items) == 2  # nothing created behind the user's back
    assert items[stored.action.uid].action.next == nextstep.plan_uid(stored.action.uid)


def test_the_typed_next_action_applied_to_the_planning_task(client, live, alice):
    stored, url = _action(live, alice)
    html = client.get(url).get_data(as_text=True)
    _tick(live, alice, stored.path)
    page = _submit(client, url, html).get_data(as_text=True)
    response = client.post(url + "/typed-next", data={
        **form_fields(page, "typed-next"), **TYPED, "how": "apply"})
    assert response.status_code == 303
    items = _items(live, alice)
    assert len(items) == 2
    planned = items[nextstep.plan_uid(stored.action.uid)].action
    assert (planned.summary, planned.when, planned.kind) == (
        "Call Jane about the quote", dt.date(2026, 12, 20), "call")
    assert planned.previous == stored.action.uid and planned.links == stored.action.links
    assert items[stored.action.uid].action.next == planned.uid  # still its one next action
    landed = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Call Jane about the quote" in landed


def test_the_typed_next_action_created_beside_it_once(client, live, alice):
    stored, url = _action(live, alice)
    html = client.get(url).get_data(as_text=True)
    _tick(live, alice, stored.path)
    page = _submit(client, url, html).get_data(as_text=True)
    form = {**form_fields(page, "typed-next"), **TYPED, "how": "add"}
    assert client.post(url + "/typed-next", data=form).status_code == 303
    assert client.post(url + "/typed-next", data=form).status_code == 303  # a double click
    items = _items(live, alice)
    assert len(items) == 3
    [extra] = [s.action for s in items.values() if s.action.summary == TYPED["summary"]]
    assert extra.links == stored.action.links and extra.previous is None
    assert (extra.when, extra.kind) == (dt.date(2026, 12, 20), "call")
    closed = items[stored.action.uid].action
    assert closed.next == nextstep.plan_uid(stored.action.uid)  # one close, one successor


def _next_action_changed_since_the_page(client, live, alice):
    """A form shown, the action ticked in an app (which plans its next step), the form
    sent (given back), then the next step retitled in an app: (url, page, next step)."""
    stored, url = _action(live, alice)
    html = client.get(url).get_data(as_text=True)
    _tick(live, alice, stored.path)
    page = _submit(client, url, html).get_data(as_text=True)
    plan = alice.successor(alice.get(stored.path))
    alice.modify(plan.path, lambda cal: model.revise(cal, "Jane's own idea", None, None))
    return url, page, plan


def test_applying_to_a_next_action_changed_since_the_page_keeps_that_change(client, live,
                                                                          alice):
    url, page, plan = _next_action_changed_since_the_page(client, live, alice)
    response = client.post(url + "/typed-next", data={
        **form_fields(page, "typed-next"), **TYPED, "how": "apply"})
    assert response.status_code == 409
    assert "changed since" in response.get_data(as_text=True)
    assert alice.get(plan.path).action.summary == "Jane's own idea"
    # The page shown again carries the new version: applying now is what the user means.
    again = response.get_data(as_text=True)
    assert client.post(url + "/typed-next", data={
        **form_fields(again, "typed-next"), **TYPED, "how": "apply"}).status_code == 303
    assert alice.get(plan.path).action.summary == TYPED["summary"]


@pytest.mark.parametrize("forged", FORGED_ETAGS)
def test_applying_with_a_forged_etag_keeps_a_next_action_changed_since(client, live, alice,
                                                                       forged):
    url, page, plan = _next_action_changed_since_the_page(client, live, alice)
    response = client.post(url + "/typed-next", data={
        **form_fields(page, "typed-next"), **TYPED, "how": "apply", "next_etag": forged})
    assert response.status_code == 409
    assert "changed since" in response.get_data(as_text=True)
    assert alice.get(plan.path).action.summary == "Jane's own idea"


def test_a_meeting_marked_done_in_a_calendar_app_then_the_next_meeting_applied(client, live,
                                                                              alice):
    stored, url = _action(live, alice, "meeting", "Demo at ACME")
    html = client.get(url).get_data(as_text=True)
    _tick(live, alice, stored.path)
    page = _submit(client, url, html, summary="Second demo", due="2026-12-08T10:00",
                   kind="meeting").get_data(as_text=True)
    assert 'name="due" value="2026-12-08T10:00"' in page
    response = client.post(url + "/typed-next", data={
        **form_fields(page, "typed-next"), **TYPED, "summary": "Second demo",
        "due": "2026-12-08T10:00", "kind": "meeting", "how": "apply"})
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    planned = alice.successor(alice.get(stored.path))
    assert planned.action.is_event and planned.action.kind == "meeting"
    assert planned.action.when == dt.datetime(2026, 12, 8, 10, 0, tzinfo=PARIS)


def test_the_second_of_two_tabs_says_it_was_already_done(client, live, alice):
    stored, url = _action(live, alice)
    html = client.get(url).get_data(as_text=True)  # two tabs showing the same form
    first = _submit(client, url, html)
    assert first.status_code == 303
    client.get(first.headers["Location"])  # its message is read
    second = _submit(client, url, html)  # the same next action again
    assert second.status_code == 303
    text = unescape(re.sub(r"<[^>]+>", "", client.get(second.headers["Location"]).get_data(
        as_text=True)))
    assert "Already done" in text and "Closed: Send the quote" not in text
    other = _submit(client, url, html, summary="Something else")  # another one typed
    assert other.status_code == 409 and 'data-action="typed-next"' in other.get_data(True)
    assert len(_items(live, alice)) == 2


def test_a_bulk_close_says_which_action_was_closed_meanwhile_and_gives_its_next_back(
        client, live, alice):
    from tests.test_web_pages import basic, csrf, flash_links, page, today

    late = today() - dt.timedelta(days=2)
    ticked = alice.new_action(live.calendar_path("alice"),
                              model.new("Send the quote", "email", late, DEAL))
    other = alice.new_action(live.calendar_path("alice"), model.new("Call Dupont", "call", late))
    html = page(client, "/overdue")
    with client.application.app_context():
        from web.calendar import tokens

        one, two = tokens().make(ticked.path), tokens().make(other.path)
    _tick(live, alice, ticked.path)  # while the confirm page is open
    response = client.post("/overdue/close-many", headers=basic(), data={
        "csrf_token": csrf(html), "t": [one, two],
        f"choice-{one}": "next", f"summary-{one}": "Call Jane about the quote",
        f"due-{one}": "2026-12-20", f"kind-{one}": "call", f"outcome-{one}": "Wants 3 more",
        f"choice-{two}": "close"})
    assert response.status_code == 303
    after = page(client, "/overdue")
    text = unescape(re.sub(r"<[^>]+>", "", after))
    assert "“Send the quote” was closed meanwhile" in text
    assert "Call Jane about the quote" in text and "1 action closed." in text
    assert alice.get(ticked.path).action.outcome == "Wants 3 more"
    assert len(_items(live, alice)) == 3  # the two, and the task the tick planned
    given = page(client, flash_links(after)["Apply it or create it"])
    assert 'data-action="typed-next"' in given
    assert 'name="summary" value="Call Jane about the quote"' in given


def test_the_store_says_when_the_next_action_was_there_before(live, alice):
    stored, _ = _action(live, alice)
    first = alice.close_and_create(stored.path, "Call Jane", dt.date(2026, 12, 20))
    assert not first.done_before
    again = alice.close_and_create(stored.path, "Something else", dt.date(2026, 12, 21),
                                   generation=99, outcome="A late note")
    assert again.done_before and again.successor.path == first.successor.path
    assert outcome_in_both_places(alice.get(stored.path).cal) == (
        "A late note", ["Outcome: A late note"])  # added: the close had none
    closed, successor = again  # unpacks as it always did
    assert successor.action.summary == "Call Jane"


def test_applying_after_the_next_action_was_deleted_offers_to_create_it(client, live, alice):
    stored, url = _action(live, alice)
    html = client.get(url).get_data(as_text=True)
    _tick(live, alice, stored.path)
    page = _submit(client, url, html).get_data(as_text=True)
    plan = alice.successor(alice.get(stored.path))
    alice.delete(plan)  # deleted in a calendar app meanwhile
    response = client.post(url + "/typed-next", data={
        **form_fields(page, "typed-next"), **TYPED, "how": "apply"})
    assert response.status_code == 409
    again = response.get_data(as_text=True)
    assert "no next action any more" in again
    assert 'data-action="close-and-create"' in again  # "Create the next action", filled in
    assert 'name="summary" value="Call Jane about the quote"' in again


def test_close_and_create_after_an_undo_that_kept_the_next_says_it_was_kept(client, live,
                                                                          alice):
    """Undo keeping the next action, then Close and create next from a form that still
    offers it (a list, a page shown before): not "closed meanwhile", which nobody did."""
    stored, url = _action(live, alice)
    html = client.get(url).get_data(as_text=True)
    _, kept = alice.close_and_create(stored.path, "Send the offer", dt.date(2026, 12, 5))
    alice.modify(stored.path, model.reopen)
    response = _submit(client, url, html)
    assert response.status_code == 409
    text = unescape(re.sub(r"<[^>]+>", "", response.get_data(as_text=True)))
    assert "kept when its close was undone" in text and "Send the offer" in text
    assert "closed meanwhile" not in text
    assert alice.get(stored.path).action.next == kept.action.uid  # still one next action
