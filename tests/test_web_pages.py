"""The list pages against a real Radicale: overdue, week, records, action page forms."""

from __future__ import annotations

import base64
import datetime as dt
import re
from html import unescape
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest

from server import model
from server.store import Store
from server.tokens import PageTokens
from tests.conftest import PEOPLE
from tests.dav import Client

PARIS = ZoneInfo("Europe/Paris")


def today() -> dt.date:
    return dt.datetime.now(PARIS).date()


def basic(user: str = "alice") -> dict[str, str]:
    token = base64.b64encode(f"{user}:{PEOPLE[user]}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def add(store: Store, live, user: str, summary: str, when=None, kind: str = "call",
        links: tuple[tuple[str, str], ...] = (), uid: str | None = None):
    cal = model.new(summary, kind, when, [model.Link.named(k, v) for k, v in links], uid=uid)
    return store.new_action(live.calendar_path(user), cal)


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def form_action(html: str, data_action: str, near: str) -> str:
    """The action URL of the first form of that kind after the text `near`."""
    start = html.index(near)
    found = re.search(r'<form method="post" action="([^"]+)" data-action="' + data_action + '"',
                      html[start:])
    return found.group(1).replace("&amp;", "&")


def page(client, url: str, user: str = "alice") -> str:
    response = client.get(url, headers=basic(user))
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def test_overdue_with_basic_auth_then_close_leaves_the_list_and_week_strikes_it(
        client, live, alice):
    yesterday = today() - dt.timedelta(days=1)
    late = add(alice, live, "alice", "Call ACME about the renewal", yesterday,
               links=(("account", "ACME"),)).action.uid
    add(alice, live, "alice", "Not yet due", today() + dt.timedelta(days=3))
    html = page(client, "/overdue")
    assert f'data-uid="{late}"' in html and "Call ACME about the renewal" in html
    assert "Not yet due" not in html
    assert "ACME" in html
    url = form_action(html, "close", "Call ACME about the renewal")
    response = client.post(url, data={"csrf_token": csrf(html), "back": "/overdue"},
                           headers=basic())
    assert response.status_code == 303 and response.headers["Location"] == "/overdue"
    after = page(client, "/overdue")
    assert f'data-uid="{late}"' not in after
    assert "Closed: Call ACME about the renewal" in after  # said once, in the message
    week = page(client, f"/week?date={yesterday.isoformat()}")
    assert re.search(r'class="entry kind-call closed"[^>]*>\s*<a [^>]*>\s*<span class="time">'
                     r'[^<]*</span>\s*<s><bdi>Call ACME about the renewal</bdi></s>', week)


def test_pages_need_a_login(client):
    response = client.get("/overdue")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    wrong = {"Authorization": "Basic " + base64.b64encode(b"alice:nope").decode()}
    response = client.get("/week", headers=wrong)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def waiting_list(html: str) -> str:
    """The "opportunities with no next step" list of the page ("" when there is none)."""
    found = re.search(r'<ul class="plain waiting">(.*?)</ul>', html, re.S)
    return found.group(1) if found else ""


def chain_of_three(alice: Store, live):
    """Meeting → quote → call on one opportunity, the first two closed, made the product's way."""
    first = add(alice, live, "alice", "Discovery meeting", today() - dt.timedelta(days=9),
                links=(("opportunity", "Renewal 2027"), ("account", "ACME")))
    _, second = alice.close_and_create(first.path, "Send the quote",
                                       today() - dt.timedelta(days=5), "email")
    _, third = alice.close_and_create(second.path, "Call about the quote",
                                      today() + dt.timedelta(days=2), "call")
    return first, second, third


def test_opportunity_page_shows_the_chain_in_order_with_the_next_step(client, live, alice):
    first, second, third = chain_of_three(alice, live)
    # A later, unrelated action with an earlier date must not break the chain's order.
    add(alice, live, "alice", "Other deal", today(), links=(("opportunity", "Other"),))
    uri = model.Link.named("opportunity", "Renewal 2027").uri
    html = page(client, "/records/opportunity/view?" + urlencode({"uri": uri}))
    uids = re.findall(r'<li class="step[^"]*" data-uid="([^"]+)"', html)
    assert uids == [first.action.uid, second.action.uid, third.action.uid]
    assert re.search(r'class="step next-step" data-uid="' + third.action.uid, html)
    assert "<s><bdi>Discovery meeting</bdi></s>" in html
    assert "<s><bdi>Send the quote</bdi></s>" in html


def test_no_next_step_lists_only_opportunities_whose_actions_are_all_closed(client, live, alice):
    chain_of_three(alice, live)  # Renewal 2027 has an open action
    done = add(alice, live, "alice", "Lost deal debrief", today() - dt.timedelta(days=3),
               links=(("opportunity", "Lost deal"), ("contact", "Jane Doe")))
    alice.close(done.path)
    html = page(client, "/records/opportunity")
    waiting = waiting_list(html)
    assert "Lost deal" in waiting and "Renewal 2027" not in waiting
    # One click plans the next step: a task linked to it (and to the same contact), opened.
    response = client.post("/records/opportunity/plan", headers=basic(), data={
        "csrf_token": csrf(html), "uri": model.Link.named("opportunity", "Lost deal").uri})
    assert response.status_code == 303 and response.headers["Location"].startswith("/a/")
    opened = page(client, response.headers["Location"])
    assert "Plan the next step: Lost deal" in opened and "Jane Doe" in opened
    assert "Lost deal" not in waiting_list(page(client, "/records/opportunity"))
    planned = alice.neighbour(alice.get(done.path), "next")
    assert planned is not None and not planned.action.closed
    assert planned.action.links["opportunity"].label == "Lost deal"


def test_outcome_undo_and_postpone_are_in_the_stored_item(client, live, alice):
    due = today() - dt.timedelta(days=1)
    item = add(alice, live, "alice", "Call the buyer", due)
    html = page(client, "/overdue")
    url = form_action(html, "close", "Call the buyer")
    token = url.rsplit("/", 1)[0]
    client.post(url, headers=basic(), data={"csrf_token": csrf(html), "outcome": "Wants a demo"})
    stored = alice.get(item.path)  # alice's own CalDAV view of the item
    assert stored.action.closed
    assert "X-FOLLOWUP-OUTCOME:Wants a demo" in model.to_text(stored.cal)
    html = page(client, token)
    assert "Wants a demo" in html and "Reopen" in html
    response = client.post(token + "/reopen", headers=basic(), data={"csrf_token": csrf(html)})
    assert response.status_code == 303
    assert not alice.get(item.path).action.closed
    html = page(client, token)
    response = client.post(token + "/postpone", headers=basic(),
                           data={"csrf_token": csrf(html), "days": "7"})
    assert response.status_code == 303
    # It was overdue: a week is counted from today, so it is no longer overdue.
    assert alice.get(item.path).action.when == today() + dt.timedelta(days=7)
    assert "DUE;VALUE=DATE:" + (today() + dt.timedelta(days=7)).strftime("%Y%m%d") in \
        model.to_text(alice.get(item.path).cal)


def test_undo_of_close_and_create_can_delete_the_successor(client, live, alice):
    item = add(alice, live, "alice", "Meet the buyer", today() - dt.timedelta(days=2))
    _, successor = alice.close_and_create(item.path, "Send the minutes", today(), "email")
    html = page(client, "/week?date=" + (today() - dt.timedelta(days=2)).isoformat())
    token = re.search(r'href="(/a/[^"?]+)\?back=[^"]*">\s*<span class="time">[^<]*</span>\s*'
                      r'<s><bdi>Meet the buyer</bdi></s>', html).group(1)
    html = page(client, token)
    assert "Send the minutes" in html and 'value="delete"' in html
    etag = unescape(re.search(r'name="successor_etag" value="([^"]+)"', html).group(1))
    response = client.post(token + "/reopen", headers=basic(), data={
        "csrf_token": csrf(html), "successor": "delete", "successor_etag": etag})
    assert response.status_code == 303
    assert alice.find(successor.path) is None
    again = alice.get(item.path).action
    assert not again.closed and again.next is None


def test_summaries_are_escaped_everywhere(client, live, alice):
    evil = '<img src=x onerror="alert(1)">'
    item = add(alice, live, "alice", evil, today() - dt.timedelta(days=1),
               links=(("opportunity", evil),))
    alice.close_and_create(item.path, evil + " again", today() - dt.timedelta(days=1))
    uri = model.Link.named("opportunity", evil).uri
    for url in ("/overdue", f"/week?date={today() - dt.timedelta(days=1)}",
                "/records/opportunity", "/records/opportunity/view?" + urlencode({"uri": uri})):
        html = page(client, url)
        assert "<img" not in html, url
        assert "&lt;img" in html, url


def test_close_and_create_from_the_overdue_list_returns_to_it(client, live, alice):
    item = add(alice, live, "alice", "Call the buyer", today() - dt.timedelta(days=2),
               links=(("opportunity", "Deal"),))
    html = page(client, "/overdue")
    url = form_action(html, "close-and-create", "Call the buyer")
    response = client.post(url, headers=basic(), data={
        "csrf_token": csrf(html), "back": "/overdue", "summary": "Send the quote",
        "due": today().isoformat(), "kind": "email", "generation": "0",
        "outcome": "Interested"})
    assert response.status_code == 303 and response.headers["Location"] == "/overdue"
    after = page(client, "/overdue")
    assert f'data-uid="{item.action.uid}"' not in after
    assert "Next: Send the quote" in after
    closed = alice.get(item.path).action
    successor = alice.neighbour(alice.get(item.path), "next").action
    assert closed.closed and closed.outcome == "Interested"
    assert successor.summary == "Send the quote" and successor.kind == "email"
    assert successor.links["opportunity"].label == "Deal"
    # A bad date is refused with what to write, and nothing changes.
    other = add(alice, live, "alice", "Second call", today() - dt.timedelta(days=2))
    html = page(client, "/overdue")
    response = client.post(form_action(html, "close-and-create", "Second call"),
                           headers=basic(), data={"csrf_token": csrf(html), "summary": "x",
                                                  "due": "next tuesday", "back": "/overdue"})
    assert response.status_code == 400
    assert "YYYY-MM-DD" in response.get_data(as_text=True)
    assert not alice.get(other.path).action.closed


def test_errors_say_what_to_do(client):
    response = client.get("/a/not-a-token")
    assert response.status_code == 404
    text = response.get_data(as_text=True)
    for reason in ("copied incompletely", "its action was deleted", "links were renewed"):
        assert reason in text
    response = client.post("/logout")  # no CSRF token
    assert response.status_code == 400
    assert "reload the page and send it again" in response.get_data(as_text=True)
    response = client.get("/week?date=tuesday", headers=basic())
    assert response.status_code == 400 and "YYYY-MM-DD" in response.get_data(as_text=True)


def test_a_user_without_calendars_sees_empty_pages(client, live):
    import shutil

    shutil.rmtree(live.data.collections / "collection-root" / "bob")
    for url in ("/overdue", "/week", "/records/opportunity"):
        assert client.get(url, headers=basic("bob")).status_code == 200, url


@pytest.mark.parametrize("target", ["/\t/evil.example", "/\n/evil.example", "//evil.example",
                                    "https://evil.example/", "/\\evil.example"])
def test_language_switch_never_redirects_off_site(client, target):
    response = client.get("/lang/fr", query_string={"next": target})
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_reopened_action_with_a_kept_successor_offers_close_not_a_second_next(client, alice,
                                                                              live):
    """Undo keeping the next action, then the page: Close, and the planned next is named."""
    stored = alice.new_action(live.calendar_path("alice"),
                              model.new("Call back", "call", dt.date(2026, 12, 1)))
    alice.close_and_create(stored.path, "Send the offer", dt.date(2026, 12, 5))
    alice.modify(stored.path, model.reopen)
    token = PageTokens(live.secret_key).make(stored.path)
    html = client.get(f"/a/{token}").get_data(as_text=True)
    assert 'data-action="close"' in html
    assert 'data-action="close-and-create"' not in html
    assert "already planned: <bdi>Send the offer</bdi>" in html


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_week_at_the_ends_of_the_calendar_says_the_date_is_wrong(client, live, day):
    response = client.get("/week", query_string={"date": day}, headers=basic())
    assert response.status_code == 400


def test_overdue_shows_fifty_at_a_time_oldest_first(client, alice, live):
    from web.overdue import PAGE_SIZE

    first = today() - dt.timedelta(days=200)
    for n in range(PAGE_SIZE + 3):
        add(alice, live, "alice", f"Old call {n:03d}", first + dt.timedelta(days=n))
    html = page(client, "/overdue")
    assert f'<span class="count">{PAGE_SIZE + 3}</span>' in html
    assert "Old call 000" in html and f"Old call {PAGE_SIZE - 1:03d}" in html
    assert f"Old call {PAGE_SIZE:03d}" not in html
    rest = page(client, "/overdue?page=2")
    assert f"Old call {PAGE_SIZE + 2:03d}" in rest and "Old call 000" not in rest


def test_lists_reread_only_the_items_that_changed(client, alice, live, monkeypatch):
    due = today() - dt.timedelta(days=3)
    items = [add(alice, live, "alice", f"Call {n}", due) for n in range(3)]
    assert "Call 2" in page(client, "/overdue")  # first read: the whole calendar
    full_reads = []
    monkeypatch.setattr(Store, "list", lambda self, path: full_reads.append(path) or [])
    alice.modify(items[1].path, lambda cal: _renamed(cal, "Call one, renamed"))
    html = page(client, "/overdue")
    assert "Call one, renamed" in html and "Call 0" in html and "Call 2" in html
    assert full_reads == []  # the changed item was fetched alone


def _renamed(cal, summary):
    model.main_component(cal)["SUMMARY"] = summary
    return cal


def test_a_listing_is_reused_for_a_few_seconds_unless_a_page_wrote(app, client, alice, live):
    app.config["LISTING_TTL"] = 60
    due = today() - dt.timedelta(days=3)
    first, second = (add(alice, live, "alice", f"Call {n}", due) for n in range(2))
    assert "Call 0" in page(client, "/overdue")
    alice.modify(first.path, lambda cal: _renamed(cal, "Renamed in a calendar app"))
    assert "Renamed in a calendar app" not in page(client, "/overdue")  # within the window
    html = page(client, "/overdue")
    url = form_action(html, "close", "Call 1")
    client.post(url, headers=basic(), data={"csrf_token": csrf(html)})  # a page writes
    html = page(client, "/overdue")
    assert "Renamed in a calendar app" in html
    assert f'data-uid="{second.action.uid}"' not in html  # closed: off the list at once


def test_a_weekly_meeting_made_in_an_app_is_on_every_week_and_never_overdue(client, live):
    start = today() - dt.timedelta(days=today().weekday() + 14)  # a Monday two weeks ago
    text = "\r\n".join([
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Apple Inc.//iCal//EN", "BEGIN:VEVENT",
        "UID:stand-up", "DTSTAMP:20261001T000000Z",
        f"DTSTART;TZID=Europe/Paris:{start:%Y%m%d}T090000",
        f"DTEND;TZID=Europe/Paris:{start:%Y%m%d}T093000",
        "SUMMARY:Team stand-up", "RRULE:FREQ=WEEKLY;BYDAY=MO", "END:VEVENT", "END:VCALENDAR",
        ""])
    path = live.calendar_path("alice") + "stand-up.ics"
    assert Client(live.base_url, "alice", PEOPLE["alice"]).put(path, text).status_code == 201
    for weeks in (0, 1, 30):
        day = today() + dt.timedelta(weeks=weeks)
        week = page(client, f"/week?date={day.isoformat()}")
        assert week.count("Team stand-up") == 1, weeks
    assert "Team stand-up" not in page(client, "/overdue")


def test_bulk_close_with_one_bad_date_changes_nothing_and_gives_every_row_back(
        client, live, alice):
    yesterday = today() - dt.timedelta(days=1)
    first = add(alice, live, "alice", "Call Dupont", yesterday)
    second = add(alice, live, "alice", "Mail Durand", yesterday, kind="email")
    html = page(client, "/overdue")
    with client.application.app_context():
        from web.calendar import tokens

        one, two = tokens().make(first.path), tokens().make(second.path)
    form = {"csrf_token": csrf(html), "t": [one, two],
            f"choice-{one}": "next", f"summary-{one}": "Call Dupont again",
            f"due-{one}": "31/12/2026", f"outcome-{one}": "Wants a quote, by Friday",
            f"choice-{two}": "close", f"outcome-{two}": "Sent the brochure"}
    response = client.post("/overdue/close-many", data=form, headers=basic())
    assert response.status_code == 400
    again = response.get_data(as_text=True)
    assert "31/12/2026 is not a date" in again
    assert ">Wants a quote, by Friday</textarea>" in again  # nothing typed is lost
    assert ">Sent the brochure</textarea>" in again
    assert not alice.get(first.path).action.closed and not alice.get(second.path).action.closed
    form[f"due-{one}"] = (today() + dt.timedelta(days=7)).isoformat()
    response = client.post("/overdue/close-many", data=form, headers=basic())
    assert response.status_code == 303
    closed_one, closed_two = alice.get(first.path).action, alice.get(second.path).action
    assert closed_one.closed and closed_one.outcome == "Wants a quote, by Friday"
    assert closed_one.next is not None
    assert closed_two.closed and closed_two.outcome == "Sent the brochure"
    assert closed_two.next is None


def test_a_repeating_action_page_says_closing_closes_the_series(client, live):
    text = "\r\n".join([
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Apple Inc.//iCal//EN", "BEGIN:VEVENT",
        "UID:review", "DTSTAMP:20261001T000000Z", "DTSTART:20261005T090000Z",
        "SUMMARY:Pipeline review", "RRULE:FREQ=MONTHLY", "END:VEVENT", "END:VCALENDAR", ""])
    path = live.calendar_path("alice") + "review.ics"
    assert Client(live.base_url, "alice", PEOPLE["alice"]).put(path, text).status_code == 201
    with client.application.app_context():
        from web.calendar import page_url

        url = page_url(path)
    html = page(client, url)
    assert 'class="repeats"' in html and "whole series" in html
    french = client.get(url, headers={**basic(), "Accept-Language": "fr"})
    assert "toute la série" in french.get_data(as_text=True)


RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: without isolation it flips the rest of the row


def test_user_text_is_isolated_so_a_bidi_control_cannot_flip_the_row(client, live, alice):
    day = today() - dt.timedelta(days=1)
    evil, label = RLO + "Call ACME", RLO + "Deal"
    item = add(alice, live, "alice", evil, day, links=(("opportunity", label),))
    uri = model.Link.named("opportunity", label).uri
    with client.application.app_context():
        from web.calendar import page_url

        action_page = page_url(item.path)
    shown = {"/overdue": [evil, label], f"/week?date={day}": [evil],
             "/records/opportunity": [evil, label],  # the record, and its next step
             "/records/opportunity/view?" + urlencode({"uri": uri}): [evil, label],
             action_page: [evil, label]}
    for url, texts in shown.items():
        html = page(client, url)
        for text in texts:
            assert f"<bdi>{text}</bdi>" in html, (url, text)


def test_an_action_without_a_summary_shows_a_placeholder(client, live):
    text = "\r\n".join([
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//x//EN", "BEGIN:VTODO", "UID:untitled",
        "DTSTAMP:20261001T000000Z", f"DUE;VALUE=DATE:{today() - dt.timedelta(days=1):%Y%m%d}",
        "END:VTODO", "END:VCALENDAR", ""])
    path = live.calendar_path("alice") + "untitled.ics"
    assert Client(live.base_url, "alice", PEOPLE["alice"]).put(path, text).status_code == 201
    with client.application.app_context():
        from web.calendar import page_url

        url = page_url(path)
    html = page(client, url)
    assert re.search(r'<h1 class="summary"[^>]*>\s*<bdi>\(no summary\)</bdi>\s*</h1>', html)
    french = client.get(url, headers={**basic(), "Accept-Language": "fr"}).get_data(True)
    assert "(sans titre)" in french
    week = page(client, f"/week?date={today() - dt.timedelta(days=1)}")
    assert "<bdi>(no summary)</bdi>" in week


def test_a_huge_summary_is_cut_on_the_lists_and_whole_on_its_page(client, live):
    import random
    import string

    # Varied letters: the session cookie is compressed, and would hide a repeated one.
    huge = "Call " + "".join(random.Random(1).choices(string.ascii_letters, k=100_000))
    day = today() - dt.timedelta(days=1)
    text = "\r\n".join([
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//x//EN", "BEGIN:VTODO", "UID:huge",
        "DTSTAMP:20261001T000000Z", f"DUE;VALUE=DATE:{day:%Y%m%d}", f"SUMMARY:{huge}",
        "X-FOLLOWUP-OPPORTUNITY;LABEL=Deal:urn:followup:opportunity:Deal",
        "END:VTODO", "END:VCALENDAR", ""])
    path = live.calendar_path("alice") + "huge.ics"
    assert Client(live.base_url, "alice", PEOPLE["alice"]).put(path, text).status_code == 201
    uri = "urn:followup:opportunity:Deal"
    for url in ("/overdue", f"/week?date={day}",
                "/records/opportunity/view?" + urlencode({"uri": uri})):
        html = page(client, url)
        assert huge[:100] in html and huge[:1000] not in html, url
        assert f"{huge[:119]}…</bdi>" in html, url
    with client.application.app_context():
        from web.calendar import page_url

        url = page_url(path)
    html = page(client, url)
    assert huge in html  # the action's own page shows it all (and wraps it)
    assert huge[:1000] not in html.split("<title>")[1].split("</title>")[0]
    # Closing it says so in a message that still fits in the session cookie.
    response = client.post(url + "/close", headers=basic(), data={"csrf_token": csrf(html)})
    assert response.status_code == 303
    assert len(client.get_cookie("session").value) < 4000


@pytest.mark.parametrize("url", ["/records/foo", "/records/foo/view?uri=x",
                                 "/records/opportunity/view?uri=urn:followup:opportunity:None",
                                 "/nowhere"])
def test_a_wrong_list_address_is_a_plain_no_such_page_with_the_lists(client, url):
    response = client.get(url, headers=basic())
    assert response.status_code == 404
    main = response.get_data(as_text=True).split("<main")[1]
    assert "There is no such page" in main
    assert 'href="/overdue"' in main and 'href="/week"' in main
    assert "calendar" not in main  # that is the action link's story, not this one's
    # An action link that names nothing is still the one page of its own.
    token_page = client.get("/a/not-a-token").get_data(as_text=True)
    assert "copied incompletely" in token_page and "There is no such page" not in token_page


def test_the_week_names_the_kind_of_timed_entries_too(client, live, alice):
    """A call and a meeting at the same hour must not look alike on the week."""
    day = today() + dt.timedelta(days=1)
    at_ten = dt.datetime.combine(day, dt.time(10, 0), PARIS)
    add(alice, live, "alice", "Ring the buyer", at_ten, "call")
    add(alice, live, "alice", "Demo at ACME", at_ten, "meeting")
    add(alice, live, "alice", "Write the offer", day, "task")
    html = page(client, f"/week?date={day.isoformat()}")
    times = dict((what, shown) for shown, what in re.findall(
        r'<span class="time">([^<]*)</span>\s*<span class="what"><bdi>([^<]*)</bdi>', html))
    assert times == {"Ring the buyer": "10:00\u202fAM · Call",
                     "Demo at ACME": "10:00\u202fAM · Meeting", "Write the offer": "Task"}
    french = client.get(f"/week?date={day.isoformat()}",
                        headers={**basic(), "Accept-Language": "fr"}).get_data(as_text=True)
    assert '<span class="time">10:00 · Rendez-vous</span>' in french


def test_a_record_with_two_chains_reads_as_one_timeline(client, live, alice):
    deal = (("opportunity", "Renewal 2027"),)
    quote = add(alice, live, "alice", "Send the quote", dt.date(2026, 12, 3), "email", deal)
    _, jane = alice.close_and_create(quote.path, "Call Jane", dt.date(2026, 12, 8), "call")
    buyer = add(alice, live, "alice", "Call the buyer",
                dt.datetime(2026, 12, 3, 10, 0, tzinfo=PARIS), "call", deal)
    alice.close(buyer.path)
    uri = model.Link.named("opportunity", "Renewal 2027").uri
    html = page(client, "/records/opportunity/view?" + urlencode({"uri": uri}))
    uids = re.findall(r'<li class="step[^"]*" data-uid="([^"]+)"', html)
    assert uids == [quote.action.uid, buyer.action.uid, jane.action.uid]
    assert re.search(r'class="step next-step" data-uid="' + jane.action.uid, html)


def flash_links(html: str) -> dict[str, str]:
    """The links of the page's messages: their text → where they go."""
    flashes = "".join(re.findall(r'<p class="flash">(.*?)</p>', html, re.S))
    return {unescape(re.sub(r"<[^>]+>", "", text)): unescape(url)
            for url, text in re.findall(r'<a href="([^"]+)">(.*?)</a>', flashes, re.S)}


def test_a_close_on_the_overdue_list_links_the_action_to_undo_it(client, live, alice):
    item = add(alice, live, "alice", "Call ACME", today() - dt.timedelta(days=1))
    html = page(client, "/overdue")
    response = client.post(form_action(html, "close", "Call ACME"), headers=basic(),
                           data={"csrf_token": csrf(html), "back": "/overdue"})
    assert response.headers["Location"] == "/overdue"
    after = page(client, "/overdue")
    assert "Closed: <bdi>Call ACME</bdi>" in after or "Closed: Call ACME" in after
    link = flash_links(after)["Open it to undo"]
    assert link.startswith("/a/") and link.endswith("?back=%2Foverdue")
    opened = page(client, link)  # one tap: the page with Undo, and its way back
    assert 'data-action="reopen"' in opened
    assert '<p class="back"><a href="/overdue">' in opened
    undone = client.post(link.split("?")[0] + "/reopen", headers=basic(),
                         data=form_fields(opened, "reopen"))
    assert undone.status_code == 303 and not alice.get(item.path).action.closed


def test_a_bulk_close_links_each_closed_action(client, live, alice):
    yesterday = today() - dt.timedelta(days=1)
    first = add(alice, live, "alice", "Call Dupont", yesterday)
    second = add(alice, live, "alice", "Mail Durand", yesterday, kind="email")
    html = page(client, "/overdue")
    with client.application.app_context():
        from web.calendar import tokens

        one, two = tokens().make(first.path), tokens().make(second.path)
    response = client.post("/overdue/close-many", headers=basic(), data={
        "csrf_token": csrf(html), "t": [one, two], f"choice-{one}": "close",
        f"choice-{two}": "next", f"summary-{two}": "Mail Durand again",
        f"due-{two}": today().isoformat(), f"kind-{two}": "email"})
    assert response.status_code == 303
    links = flash_links(page(client, "/overdue"))
    assert links["Call Dupont"] == f"/a/{one}?back=%2Foverdue"
    assert links["Mail Durand"] == f"/a/{two}?back=%2Foverdue"


def form_fields(html: str, data_action: str) -> dict[str, str]:
    """The hidden fields a browser would send with that form."""
    body = re.search(r'<form[^>]*data-action="' + data_action + r'"[^>]*>(.*?)</form>', html,
                     re.S).group(1)
    return {unescape(name): unescape(value) for name, value in re.findall(
        r'<input type="hidden" name="([^"]+)" value="([^"]*)"', body)}


def undated_section(html: str) -> str:
    found = re.search(r'<section[^>]*id="undated"[^>]*>(.*?)</section>', html, re.S)
    return found.group(1) if found else ""


def test_open_actions_without_a_date_have_their_own_section_on_the_overdue_page(
        client, live, alice):
    undated = add(alice, live, "alice", "Ring Jane some day", None, "call")
    add(alice, live, "alice", "Late call", today() - dt.timedelta(days=1))
    gone = add(alice, live, "alice", "Closed, no date", None, "task")
    alice.close(gone.path)
    html = page(client, "/overdue")
    section = undated_section(html)
    assert "No date yet" in section and "Ring Jane some day" in section
    assert "Late call" not in section and "Closed, no date" not in html
    for form in ("plan-date", "close", "close-and-create"):
        assert f'data-action="{form}"' in section, form
    # The week points at them: they are on no day of it.
    assert 'href="/overdue#undated"' in page(client, "/week")
    # Planning a date takes it off the section, and back to the list.
    proposed = model.default_due("call", today()).isoformat()
    assert f'value="{proposed}"' in section  # the kind's default day, proposed
    url = form_action(section, "plan-date", "Ring Jane some day")
    response = client.post(url, headers=basic(), data={
        "csrf_token": csrf(html), "due": proposed, "back": "/overdue"})
    assert response.status_code == 303 and response.headers["Location"] == "/overdue"
    assert alice.get(undated.path).action.when == dt.date.fromisoformat(proposed)
    assert "Ring Jane some day" not in undated_section(page(client, "/overdue"))


def test_an_undated_action_page_offers_a_date_not_a_postpone(client, live, alice):
    task = add(alice, live, "alice", "Lunch with Jane", None, "task")
    with client.application.app_context():
        from web.calendar import page_url

        url = page_url(task.path)
    html = page(client, url)
    assert 'data-action="plan-date"' in html and 'data-action="postpone"' not in html
    wrong = client.post(url + "/plan-date", headers=basic(), data={
        "csrf_token": csrf(html), "due": "10/12"})
    assert wrong.status_code == 400 and 'value="10/12"' in wrong.get_data(as_text=True)
    response = client.post(url + "/plan-date", headers=basic(), data={
        "csrf_token": csrf(html), "due": "2026-12-10T12:30"})
    assert response.status_code == 303
    assert alice.get(task.path).action.when == dt.datetime(2026, 12, 10, 12, 30, tzinfo=PARIS)
