"""The action page through Flask's test client (the companion) against live Radicale."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from server import model
from server.tokens import PageTokens


@pytest.fixture
def action(live, alice):
    """An action of alice's with all four links, made through her own account."""
    cal = model.new("Call <b>ACME</b> & co", "call", dt.date(2026, 12, 1),
                    [model.Link.named("opportunity", '<script>alert("x")</script>'),
                     model.Link.named("account", "ACME")])
    stored = alice.new_action(live.calendar_path("alice"), cal)
    token = PageTokens(live.secret_key).make(stored.path)
    return stored, f"/a/{token}"


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_page_shows_the_action_escaped(client, action):
    _, url = action
    html = client.get(url).get_data(as_text=True)
    assert "Call &lt;b&gt;ACME&lt;/b&gt; &amp; co" in html
    assert "<script>alert" not in html
    assert 'data-action="close-and-create"' in html and 'data-action="close"' in html
    # The default choice comes first.
    assert html.index('data-action="close-and-create"') < html.index('data-action="close"')


def test_page_has_security_headers(client, action):
    response = client.get(action[1])
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_post_without_csrf_token_is_refused(client, action, alice):
    stored, url = action
    assert client.post(url + "/close").status_code == 400
    assert not alice.get(stored.path).action.closed


@pytest.mark.parametrize("mangle", [lambda t: t[:-2] + "xx", lambda t: t + "x",
                                    lambda t: "abc"])
def test_tampered_token_is_404(client, action, mangle):
    token = action[1].rsplit("/", 1)[1]
    response = client.get("/a/" + mangle(token))
    assert response.status_code == 404
    assert "signature" not in response.get_data(as_text=True).lower()


def test_token_for_a_missing_item_is_404(client, live):
    token = PageTokens(live.secret_key).make("/dav/alice/actions/nothing.ics")
    assert client.get(f"/a/{token}").status_code == 404


@pytest.mark.parametrize("due", ["soon", "", "   "])
def test_bad_or_missing_date_says_what_to_write_and_changes_nothing(client, action, alice,
                                                                     due):
    stored, url = action
    html = client.get(url).get_data(as_text=True)
    response = client.post(url + "/close-and-create", data={
        "csrf_token": csrf(html), "summary": "Next", "due": due, "kind": "call"})
    assert response.status_code == 400
    assert "YYYY-MM-DD" in response.get_data(as_text=True)
    assert not alice.get(stored.path).action.closed
    assert len(list(alice.list(stored.path.rsplit("/", 1)[0] + "/"))) == 1  # no next one


def test_close_then_page_shows_closed_without_close_form(client, action, alice):
    stored, url = action
    html = client.get(url).get_data(as_text=True)
    response = client.post(url + "/close", data={"csrf_token": csrf(html)})
    assert response.status_code == 303
    html = client.get(url).get_data(as_text=True)
    assert "Closed" in html and 'data-action="close"' not in html
    # Closed without a next step: the page still offers to plan one.
    assert 'data-action="close-and-create"' in html
    assert alice.get(stored.path).action.closed


def test_create_next_after_close_links_both(client, action, alice, live):
    stored, url = action
    html = client.get(url).get_data(as_text=True)
    client.post(url + "/close", data={"csrf_token": csrf(html)})
    html = client.get(url).get_data(as_text=True)
    response = client.post(url + "/close-and-create", data={
        "csrf_token": csrf(html), "summary": "Plan the demo", "due": "2026-12-15",
        "kind": "meeting", "generation": re.search(r'name="generation" value="(\d+)"',
                                                   html).group(1)})
    assert response.status_code == 303
    closed = alice.get(stored.path).action
    successor = alice.get(f"{live.calendar_path('alice')}{closed.next}.ics").action
    assert successor.component == "VEVENT" and successor.previous == closed.uid
    html = client.get(url).get_data(as_text=True)
    assert "Plan the demo" in html and 'data-action="close-and-create"' not in html


def test_an_overlong_next_summary_is_refused_with_a_reason(client, action, alice):
    stored, url = action
    html = client.get(url).get_data(as_text=True)
    response = client.post(url + "/close-and-create", data={
        "csrf_token": csrf(html), "summary": "x" * 501, "due": "2026-12-20", "kind": "call"})
    assert response.status_code == 400 and "500" in response.get_data(as_text=True)
    assert not alice.get(stored.path).action.closed


def test_a_rejected_form_gives_back_the_typed_outcome(client, action):
    _, url = action
    html = client.get(url).get_data(as_text=True)
    response = client.post(url + "/close-and-create", data={
        "csrf_token": csrf(html), "summary": "Next", "due": "2026-02-31", "kind": "call",
        "outcome": "long typed notes, with a comma"})
    assert response.status_code == 400
    assert "long typed notes, with a comma</textarea>" in response.get_data(as_text=True)


def test_undo_deletes_only_an_action_that_follows_this_one(client, live, alice):
    """A NEXT that points at an unrelated item (a client wrote it) never deletes that item."""
    other = alice.new_action(live.calendar_path("alice"), model.new("Unrelated", "task"))
    cal = model.close_and_link(model.new("Done", "task"), other.action.uid, other.href)
    stored = alice.new_action(live.calendar_path("alice"), cal)
    url = f"/a/{PageTokens(live.secret_key).make(stored.path)}"
    html = client.get(url).get_data(as_text=True)
    client.post(url + "/reopen", data={"csrf_token": csrf(html), "successor": "delete"})
    assert alice.find(other.path) is not None


def test_control_characters_typed_on_the_page_are_not_stored(client, action, alice, live):
    stored, url = action
    html = client.get(url).get_data(as_text=True)
    client.post(url + "/close", data={"csrf_token": csrf(html),
                                      "outcome": "pasted from Word\x0bsecond line\x1b"})
    text = model.to_text(alice.get(stored.path).cal)
    assert not model.CONTROL_CHARACTERS.search(text)
    assert list(alice.list(live.calendar_path("alice")))  # the calendar still lists


def form_fields(html: str, data_action: str) -> dict[str, str]:
    """The hidden and checked fields a browser would send with that form."""
    from html import unescape

    body = re.search(r'<form[^>]*data-action="' + data_action + r'"[^>]*>(.*?)</form>', html,
                     re.S).group(1)
    return {unescape(name): unescape(value) for name, value in re.findall(
        r'<input type="hidden" name="([^"]+)" value="([^"]*)"', body)}


def _closed_with_next(live, alice):
    """A meeting closed with a next action: (the meeting, its next action, its page)."""
    stored = alice.new_action(live.calendar_path("alice"),
                              model.new("Meet the buyer", "meeting", dt.date(2026, 12, 1)))
    _, successor = alice.close_and_create(stored.path, "Send the minutes", dt.date(2026, 12, 2))
    return stored, successor, f"/a/{PageTokens(live.secret_key).make(stored.path)}"


def test_undo_keeps_a_next_action_edited_since_the_page_was_shown(client, live, alice):
    stored, successor, url = _closed_with_next(live, alice)
    html = client.get(url).get_data(as_text=True)
    # Meanwhile, in a calendar app, someone writes the minutes into the next action.
    alice.modify(successor.path, lambda cal: _described(cal, "Minutes: they sign in March"))
    response = client.post(url + "/reopen", data={**form_fields(html, "reopen"),
                                                  "successor": "delete"})
    assert response.status_code == 303
    kept = alice.find(successor.path)
    assert kept is not None and "they sign in March" in kept.action.description
    assert not alice.get(stored.path).action.closed  # reopened all the same
    html = client.get(url).get_data(as_text=True)
    assert "The next action was changed since" in html and "it was kept" in html


def test_undo_deletes_an_unchanged_next_action(client, live, alice):
    stored, successor, url = _closed_with_next(live, alice)
    html = client.get(url).get_data(as_text=True)
    response = client.post(url + "/reopen", data={**form_fields(html, "reopen"),
                                                  "successor": "delete"})
    assert response.status_code == 303
    assert alice.find(successor.path) is None
    assert alice.get(stored.path).action.next is None


# What a hand-edited form may send instead of the ETag the page showed: "*" (any version),
# a list, a weak tag, a header of its own after CR/LF. None of them is "the version shown".
FORGED_ETAGS = ['*', '"stale", "other"', 'W/"stale"', '"stale"\r\nIf-Match: *', ' * ', '']


@pytest.mark.parametrize("forged", FORGED_ETAGS)
def test_undo_with_a_forged_etag_keeps_a_next_action_edited_since(client, live, alice, forged):
    stored, successor, url = _closed_with_next(live, alice)
    html = client.get(url).get_data(as_text=True)
    alice.modify(successor.path, lambda cal: _described(cal, "Minutes: they sign in March"))
    response = client.post(url + "/reopen", data={**form_fields(html, "reopen"),
                                                  "successor": "delete",
                                                  "successor_etag": forged})
    assert response.status_code == 303
    kept = alice.find(successor.path)
    assert kept is not None and "they sign in March" in kept.action.description
    assert alice.get(stored.path).action.next == kept.action.uid  # still linked
    html = client.get(url).get_data(as_text=True)
    assert "The next action was changed since" in html and "it was kept" in html


def test_undo_of_an_action_already_open_says_so_and_changes_nothing(client, live, alice):
    stored, successor, url = _closed_with_next(live, alice)
    html = client.get(url).get_data(as_text=True)  # two tabs showing Undo
    first = client.post(url + "/reopen", data={**form_fields(html, "reopen"),
                                               "successor": "keep"})
    assert first.status_code == 303
    client.get(first.headers["Location"])  # its message is read
    before = alice.get(stored.path)
    again = client.post(url + "/reopen", data={**form_fields(html, "reopen"),
                                               "successor": "delete"})
    text = re.sub(r"<[^>]+>", "", again.get_data(as_text=True))
    if again.status_code == 303:
        text = re.sub(r"<[^>]+>", "", client.get(again.headers["Location"]).get_data(True))
    assert "already open" in text
    assert "Reopened" not in text and "it was kept" not in text
    assert alice.find(successor.path) is not None  # the next action is not deleted either
    after = alice.get(stored.path)
    assert after.etag == before.etag and after.action.next == successor.action.uid


def _described(cal, text):
    comp = model.main_component(cal)
    comp.pop("DESCRIPTION", None)
    comp.add("DESCRIPTION", text)
    return cal


def outcome_in_both_places(cal) -> tuple[str, list[str]]:
    """The outcome property, and the outcome lines of the description."""
    action = model.read(cal)
    description = str(model.main_component(cal).get("DESCRIPTION", ""))
    return action.outcome, [line for line in description.split("\n")
                            if line.startswith(model.OUTCOME_LINE_PREFIX)]


def test_a_second_close_with_another_outcome_is_refused_and_both_places_agree(
        client, action, alice):
    """Two tabs: the first Close wins; the second says so and gives back what was typed."""
    stored, url = action
    html = client.get(url).get_data(as_text=True)
    assert client.post(url + "/close", data={"csrf_token": csrf(html),
                                             "outcome": "first"}).status_code == 303
    response = client.post(url + "/close", data={"csrf_token": csrf(html),
                                                 "outcome": "second"})
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "already closed" in page and "second" in page  # nothing typed is lost
    assert outcome_in_both_places(alice.get(stored.path).cal) == ("first", ["Outcome: first"])
    # The same outcome again (a double click) is no conflict.
    assert client.post(url + "/close", data={"csrf_token": csrf(html),
                                             "outcome": "first"}).status_code == 303


def test_an_outcome_for_an_action_closed_elsewhere_goes_in_both_places(client, action, alice):
    stored, url = action
    html = client.get(url).get_data(as_text=True)
    alice.close(stored.path)  # ticked in a calendar app meanwhile, with no note
    assert client.post(url + "/close", data={"csrf_token": csrf(html),
                                             "outcome": "Signed"}).status_code == 303
    assert outcome_in_both_places(alice.get(stored.path).cal) == ("Signed", ["Outcome: Signed"])


def test_close_and_create_after_a_close_in_another_tab_keeps_the_first_outcome(
        client, action, alice, live):
    stored, url = action
    html = client.get(url).get_data(as_text=True)
    client.post(url + "/close", data={"csrf_token": csrf(html), "outcome": "first"})
    response = client.post(url + "/close-and-create", data={
        "csrf_token": csrf(html), "summary": "Send the quote", "due": "2026-12-20",
        "kind": "email", "outcome": "second",
        "generation": re.search(r'name="generation" value="(\d+)"', html).group(1)})
    assert response.status_code == 303
    closed = alice.get(stored.path)
    assert outcome_in_both_places(closed.cal) == ("first", ["Outcome: first"])
    assert alice.successor(closed).action.summary == "Send the quote"
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your outcome was not saved" in html and "second" in html


def test_postpone_from_a_stale_form_leaves_a_closed_action_alone(client, action, alice):
    stored, url = action
    html = client.get(url).get_data(as_text=True)
    alice.close(stored.path)  # closed in another tab, or in a calendar app
    response = client.post(url + "/postpone", data={"csrf_token": csrf(html), "days": "7"})
    assert response.status_code == 409
    assert "closed" in response.get_data(as_text=True)
    assert alice.get(stored.path).action.when == dt.date(2026, 12, 1)


def test_postpone_on_the_page_keeps_an_unknown_zone_name(client, live):
    from tests.conftest import PEOPLE
    from tests.dav import Client

    day = dt.date.today() + dt.timedelta(days=30)
    text = "\r\n".join([
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//x//EN", "BEGIN:VTODO", "UID:mars",
        "DTSTAMP:20261001T000000Z", "SUMMARY:Call the base",
        f"DUE;TZID=Mars/Olympus:{day:%Y%m%d}T100000", "END:VTODO", "END:VCALENDAR", ""])
    path = live.calendar_path("alice") + "mars.ics"
    dav = Client(live.base_url, "alice", PEOPLE["alice"])
    assert dav.put(path, text).status_code == 201
    url = f"/a/{PageTokens(live.secret_key).make(path)}"
    html = client.get(url).get_data(as_text=True)
    response = client.post(url + "/postpone", data={"csrf_token": csrf(html), "days": "1"})
    assert response.status_code == 303
    moved = day + dt.timedelta(days=1)
    assert f"DUE;TZID=Mars/Olympus:{moved:%Y%m%d}T100000" in dav.text(path)


@pytest.mark.parametrize("form", ["postpone", "close", "close-and-create", "reopen"])
def test_every_form_of_the_action_page_keeps_its_back_link(client, action, alice, form):
    """A page opened from the week (or "Plan next step") keeps "← Back" after any of its
    forms: the next page shown is an action page (this one, or the next action's) with it."""
    from urllib.parse import urlencode

    stored, url = action
    if form == "reopen":
        alice.close(stored.path)
    back = "/week?date=2026-11-30"
    html = client.get(f"{url}?{urlencode({'back': back})}").get_data(as_text=True)
    typed = {"postpone": {"days": "1"},
             "close-and-create": {"summary": "Send the quote", "due": "2026-12-20",
                                  "kind": "email"}}.get(form, {})
    response = client.post(f"{url}/{form}", data={**form_fields(html, form), **typed})
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/a/")  # the result is shown, not skipped
    landed = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f'<p class="back"><a href="{back}">' in landed


def _prefilled_due(client, live, alice, cal) -> str:
    stored = alice.new_action(live.calendar_path("alice"), cal)
    html = client.get(f"/a/{PageTokens(live.secret_key).make(stored.path)}").get_data(True)
    return re.search(r'name="due" value="([^"]*)"', html).group(1)


def test_the_next_meeting_is_proposed_at_a_time_not_all_day(client, live, alice):
    from zoneinfo import ZoneInfo

    paris = ZoneInfo("Europe/Paris")  # the app's zone
    day = model.default_due("meeting", dt.datetime.now(paris).date()).isoformat()
    at_half_past_two = dt.datetime(2026, 12, 1, 13, 30, tzinfo=dt.UTC)  # 14:30 in Paris
    assert _prefilled_due(client, live, alice, model.new(
        "Demo", "meeting", at_half_past_two)) == f"{day}T14:30"
    assert _prefilled_due(client, live, alice, model.new(
        "Workshop", "meeting", dt.date(2026, 12, 1))) == f"{day}T09:00"  # all day: 09:00
    call_day = model.default_due("call", dt.datetime.now(paris).date()).isoformat()
    assert _prefilled_due(client, live, alice, model.new(
        "Ring", "call", at_half_past_two)) == call_day  # a call is due on a day


def _proposed_summary(client, live, alice, summary: str, language: str = "en") -> str:
    from html import unescape

    stored = alice.new_action(live.calendar_path("alice"), model.new(summary, "call"))
    html = client.get(f"/a/{PageTokens(live.secret_key).make(stored.path)}",
                      headers={"Accept-Language": language}).get_data(True)
    return unescape(re.search(r'name="summary" value="([^"]*)"', html).group(1))


def test_the_proposed_title_does_not_stack_follow_up(client, live, alice):
    assert _proposed_summary(client, live, alice, "Call the buyer") == \
        "Follow up: Call the buyer"
    # The next action of a next action: the prefix is there already, once is enough.
    assert _proposed_summary(client, live, alice, "Follow up: Call the buyer") == \
        "Follow up: Call the buyer"
    assert _proposed_summary(client, live, alice, "follow up:  Call the buyer") == \
        "follow up:  Call the buyer"
    assert _proposed_summary(client, live, alice, "Appeler", "fr") == "Suite\u00a0: Appeler"
    for french in ("Suite\u00a0: Appeler", "Suite : Appeler"):  # typed with a plain space too
        assert _proposed_summary(client, live, alice, french, "fr") == french
    # A title made in the other language is not prefixed a second time either.
    assert _proposed_summary(client, live, alice, "Suite\u00a0: Appeler") == \
        "Suite\u00a0: Appeler"
    assert _proposed_summary(client, live, alice, "Follow up: Call", "fr") == "Follow up: Call"
