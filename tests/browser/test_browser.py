"""The morning of a sales person, in real Chromium against the real product: log in, see what
is overdue, close and create the next action, find both on the week planner, switch to French.
Screenshots at phone and desktop width are written on the way (README shows them). Every
page visited must log no console error and throw none (conftest.new_context): a
Content-Security-Policy violation is one."""

from __future__ import annotations

import datetime as dt
import re

from playwright.sync_api import expect

from server import model
from tests.conftest import PEOPLE
from tests.test_web_pages import add, today

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 860}
DEAL = (("account", "ACME"), ("contact", "Jane Doe"), ("opportunity", "Renewal 2027"))


def seed(alice, live) -> None:
    """A plausible calendar: two overdue actions, meetings this week, a closed chain."""
    now = today()
    zone = dt.datetime.now().astimezone().tzinfo
    first = add(alice, live, "alice", "Discovery meeting with ACME",
                now - dt.timedelta(days=12), "meeting", DEAL)
    alice.close_and_create(first.path, "Call Jane about the renewal",
                           now - dt.timedelta(days=1), "call")
    add(alice, live, "alice", "Send the Globex proposal", now - dt.timedelta(days=4), "email",
        (("account", "Globex"), ("opportunity", "Globex pilot")))
    at_ten = dt.datetime.combine(now + dt.timedelta(days=1), dt.time(10, 0), zone)
    add(alice, live, "alice", "Demo for Initech", at_ten, "meeting",
        (("account", "Initech"), ("opportunity", "Initech roll-out")))
    for days, hour, summary, kind, account in (
            (2, 14, "Lunch with the Globex buyer", "meeting", "Globex"),
            (3, 9, "Call the Initech IT lead", "call", "Initech"),
            (1, None, "Prepare the Initech demo", "task", "Initech")):
        when = now + dt.timedelta(days=days)
        if hour is not None:
            when = dt.datetime.combine(when, dt.time(hour, 0), zone)
        add(alice, live, "alice", summary, when, kind, (("account", account),))
    lost = add(alice, live, "alice", "Debrief the Umbrella tender", now - dt.timedelta(days=6),
               "task", (("account", "Umbrella"), ("opportunity", "Umbrella tender")))
    alice.close(lost.path, outcome="Lost on price")


def log_in(page, base_url: str) -> None:
    """Keyboard only: the user name field has focus, Tab to the password, Enter to send."""
    page.goto(base_url + "/overdue")
    expect(page).to_have_url(re.compile(r"/login\?next=/overdue"))
    expect(page.get_by_label("User name")).to_be_focused()
    page.keyboard.type("alice")
    page.keyboard.press("Tab")
    page.keyboard.type(PEOPLE["alice"])
    page.keyboard.press("Enter")
    expect(page).to_have_url(base_url + "/overdue")


def test_overdue_close_and_create_next_week_and_french(new_context, live, alice, shots):
    seed(alice, live)
    context = new_context(viewport=DESKTOP, locale="en-US")
    page = context.new_page()
    log_in(page, live.base_url)

    item = page.locator("li.item", has_text="Call Jane about the renewal")
    expect(item).to_be_visible()
    expect(item.locator(".links")).to_contain_text("Renewal 2027")
    page.screenshot(path=shots / "overdue-desktop.png", full_page=True)

    item.get_by_text("Close and create next").first.click()  # opens the inline form
    item.get_by_label("Next action").fill("Send the quote to Jane")
    item.get_by_label("When").fill(today().isoformat())
    item.get_by_label("Outcome (optional)").fill("Wants 3 more seats")
    item.get_by_role("button", name="Close and create next").click()
    expect(page.locator(".flash")).to_contain_text("Next: Send the quote to Jane")
    expect(page.locator("li.item", has_text="Call Jane about the renewal")).to_have_count(0)

    yesterday = today() - dt.timedelta(days=1)
    page.goto(f"{live.base_url}/week?date={yesterday.isoformat()}")
    closed = page.locator("li.entry.closed", has_text="Call Jane about the renewal")
    expect(closed.locator("s")).to_have_text("Call Jane about the renewal")
    expect(closed.locator("s")).to_have_css("text-decoration-line", "line-through")
    page.goto(f"{live.base_url}/week")
    successor = page.locator(".day.today li.entry", has_text="Send the quote to Jane")
    expect(successor).to_be_visible()
    expect(successor).not_to_have_class(re.compile("closed"))
    page.screenshot(path=shots / "week-desktop.png", full_page=True)

    successor.get_by_role("link").click()  # the entry opens the action's own page
    expect(page.get_by_role("heading", name="Send the quote to Jane")).to_be_visible()
    expect(page.locator(".chain a[rel=prev]")).to_contain_text("Call Jane about the renewal")

    page.get_by_role("link", name="Opportunities").click()
    expect(page.locator(".waiting")).to_contain_text("Umbrella tender")
    page.get_by_role("link", name="Renewal 2027").first.click()
    steps = page.locator("ol.timeline > li")
    expect(steps).to_have_count(3)
    expect(steps.nth(2)).to_have_class(re.compile("next-step"))
    page.screenshot(path=shots / "opportunity-desktop.png", full_page=True)

    page.goto(live.base_url + "/overdue")
    page.get_by_role("link", name="Français").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Actions en retard")
    expect(page.get_by_role("button", name="Clôturer", exact=True).first).to_be_visible()
    expect(page.locator("li.item summary").first).to_have_text("Clôturer et créer")
    expect(page.get_by_role("link", name="Semainier")).to_be_visible()
    page.screenshot(path=shots / "overdue-desktop-fr.png", full_page=True)
    context.close()


def test_phone_width_pages_fit_and_work(new_context, live, alice, shots):
    seed(alice, live)
    context = new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True,
                          has_touch=True, locale="fr-FR")
    page = context.new_page()
    page.goto(live.base_url + "/login")
    page.get_by_label("Identifiant").fill("alice")
    page.get_by_label("Mot de passe").fill(PEOPLE["alice"])
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Actions en retard")
    for name, url in (("overdue", "/overdue"), ("week", "/week"),
                      ("opportunities", "/records/opportunity")):
        page.goto(live.base_url + url)
        # Nothing wider than the phone: no sideways scrolling.
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], name
        page.screenshot(path=shots / f"{name}-phone.png", full_page=True)
    tomorrow = (today() + dt.timedelta(days=1)).isoformat()
    page.goto(f"{live.base_url}/week?date={tomorrow}")
    demo = page.locator("li.entry", has_text="Demo for Initech").locator(".time")
    expect(demo).to_have_text(re.compile(r"^10:00 · Rendez-vous$"))  # the kind, timed too
    expect(demo).to_have_css("display", "inline")  # on the title's line: compact
    page.goto(live.base_url + "/overdue")
    page.locator("li.item").first.get_by_role("link").first.click()
    expect(page.get_by_role("button", name="Clôturer et créer")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=shots / "action-phone.png", full_page=True)
    context.close()


def test_bulk_close_asks_per_action_whether_a_next_one_follows(new_context, live, alice, shots):
    seed(alice, live)
    context = new_context(viewport=DESKTOP, locale="en-US")
    page = context.new_page()
    log_in(page, live.base_url)
    for summary in ("Call Jane about the renewal", "Send the Globex proposal"):
        page.get_by_label(f"Select {summary}").check()
    page.get_by_role("button", name="Close the selected actions…").click()
    globex = page.locator("fieldset", has_text="Send the Globex proposal")
    globex.get_by_label("Close only").check()
    expect(globex.get_by_label("Next action")).to_be_hidden()  # nothing to fill for it
    jane = page.locator("fieldset", has_text="Call Jane about the renewal")
    expect(jane.get_by_label("Close and create next")).to_be_checked()
    jane.get_by_label("Next action").fill("Book the signing meeting")
    page.screenshot(path=shots / "bulk-desktop.png", full_page=True)
    page.get_by_role("button", name="Close them").click()
    expect(page.locator(".flash").last).to_contain_text("2 actions closed.")
    expect(page.locator("li.item", has_text="Call Jane about the renewal")).to_have_count(0)
    expect(page.locator("li.item", has_text="Send the Globex proposal")).to_have_count(0)
    names = {s.action.summary: s.action for s in alice.list(live.calendar_path("alice"))}
    assert names["Send the Globex proposal"].closed and names["Send the Globex proposal"].next \
        is None
    assert names["Call Jane about the renewal"].closed
    follow = names["Book the signing meeting"]
    assert not follow.closed and follow.links["opportunity"].label == "Renewal 2027"
    context.close()


def test_a_huge_title_made_in_a_calendar_app_neither_widens_nor_floods_a_page(new_context, live,
                                                                             alice):
    huge = "Call" + "x" * 100_000  # one unbroken word, as a paste gone wrong makes
    # followup itself writes no title that long: the calendar app's upload is what makes it.
    cal = model.new("Call", "call", today() - dt.timedelta(days=1),
                    [model.Link.named(k, v) for k, v in DEAL])
    model.main_component(cal)["SUMMARY"] = huge
    item = alice.new_action(live.calendar_path("alice"), cal)
    context = new_context(viewport=PHONE, is_mobile=True, locale="en-US")
    page = context.new_page()
    log_in(page, live.base_url)
    for url in ("/overdue", "/week?date=" + (today() - dt.timedelta(days=1)).isoformat()):
        page.goto(live.base_url + url)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], url
        assert page.evaluate("document.documentElement.scrollHeight") < 5 * PHONE["height"], url
    from server.tokens import PageTokens

    page.goto(f"{live.base_url}/a/{PageTokens(live.secret_key).make(item.path)}")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # it wraps
    expect(page.locator("h1.summary")).to_contain_text("Callxxx")
    context.close()


def test_every_kind_of_page_loads_with_nothing_refused_and_no_script_error(new_context, live,
                                                                            alice):
    """The pages the tests above do not reach, in both languages: `new_context` fails the
    test on any console error (a CSP violation, a resource refused) or script error."""
    seed(alice, live)
    from urllib.parse import urlencode

    from server.tokens import PageTokens

    action = next(s for s in alice.list(live.calendar_path("alice"))
                  if s.action.summary == "Debrief the Umbrella tender")
    record = "/records/contact/view?" + urlencode(
        {"uri": model.Link.named("contact", "Jane Doe").uri})
    urls = {"/records/account": 200, "/records/contact": 200, "/records/project": 200,
            record: 200, "/records/opportunity": 200, "/week?date=2027-03-04": 200,
            "/week?date=someday": 400, "/nowhere": 404, "/a/not-a-token": 404,
            f"/a/{PageTokens(live.secret_key).make(action.path)}": 200}
    for locale in ("en-US", "fr-FR"):
        context = new_context(viewport=DESKTOP, locale=locale)
        page = context.new_page()
        page.goto(live.base_url + "/login")
        page.locator("input[name=username]").fill("alice")
        page.locator("input[name=password]").fill(PEOPLE["alice"])
        page.locator("form button[type=submit]").click()
        expect(page).not_to_have_url(re.compile("/login"))
        for url, status in urls.items():
            response = page.goto(live.base_url + url)
            assert response.status == status, (url, response.status)
            expect(page.locator("main")).to_be_visible()
        context.close()
