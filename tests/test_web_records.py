"""The contact and project pages over real HTTP against the real product: the list of a
kind's records with each one's next step (or none), and one record's timeline of every
action linked to it, closed and open, the next step highlighted."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape
from urllib.parse import parse_qs, urljoin

import pytest

from server import model
from server.store import Store
from tests.conftest import PEOPLE
from tests.test_web_pages import add
from tests.test_web_week import get

JANE, WEBSITE = ("contact", "Jane Doe"), ("project", "Website")
JOHN, INTRANET = ("contact", "John Roe"), ("project", "Intranet")


@pytest.fixture
def seeded(paris):
    """Jane's Website: a chain (kick-off, specs: closed; mock-ups: open) and a later action
    made by hand; John's Intranet: one action, closed, so no next step. And someone else."""
    alice = Store(paris.base_url, "alice", PEOPLE["alice"])
    kickoff = add(alice, paris, "alice", "Kick-off meeting", dt.date(2027, 3, 1), "meeting",
                  (JANE, WEBSITE))
    _, specs = alice.close_and_create(kickoff.path, "Send the specs", dt.date(2027, 3, 5),
                                      "email", outcome="Wants a shop too")
    _, mockups = alice.close_and_create(specs.path, "Review the mock-ups", dt.date(2027, 3, 12),
                                        "task")
    later = add(alice, paris, "alice", "Call Jane about the launch", dt.date(2027, 3, 20),
                "call", (JANE, WEBSITE))
    # Dated inside Jane's timeline, but linked to other records: on neither of hers.
    add(alice, paris, "alice", "Someone else's call", dt.date(2027, 3, 2), "call",
        (("contact", "Somebody Else"), ("project", "Other project")))
    done = add(alice, paris, "alice", "Intranet demo", dt.date(2027, 2, 20), "meeting",
               (JOHN, INTRANET))
    alice.close(done.path, outcome="Not now")
    return {"store": alice, "steps": [kickoff, specs, mockups, later], "done": done,
            "server": paris}


def rows(html: str) -> dict[str, tuple[str, str]]:
    """The list of every record: label → (its page's address, what its row says)."""
    body = re.search(r'<ul class="plain all-records">(.*?)</ul>', html, re.S).group(1)
    return {unescape(label): (unescape(href), unescape(re.sub(r"<[^>]+>", "", meta)))
            for href, label, meta in re.findall(
                r'<a href="([^"]+)"><bdi>([^<]*)</bdi></a>\s*<span class="meta">(.*?)</span>',
                body, re.S)}


def steps(html: str) -> list[tuple[str, str, str]]:
    """The timeline: (uid, classes, what its line says) in the page's order."""
    return [(uid, classes, unescape(re.sub(r"<[^>]+>", "", meta)))
            for classes, uid, meta in re.findall(
                r'<li class="(step[^"]*)" data-uid="([^"]+)">.*?<span class="meta">(.*?)</span>',
                html, re.S)]


@pytest.mark.parametrize(("kind", "busy", "idle"), [("contact", JANE, JOHN),
                                                    ("project", WEBSITE, INTRANET)])
def test_the_list_names_each_records_next_step_or_none(seeded, http, kind, busy, idle):
    base = seeded["server"].base_url
    html = get(http, f"{base}/records/{kind}")
    found = rows(html)
    assert set(found) == {busy[1], idle[1], "Somebody Else" if kind == "contact"
                          else "Other project"}
    assert found[busy[1]][1].startswith("Next: Review the mock-ups · ")
    assert "Mar 12, 2027" in found[busy[1]][1]
    assert found[idle[1]][1] == "No next step"
    for label, (href, _) in found.items():
        path, query = href.split("?")
        assert path == f"/records/{kind}/view", href
        assert parse_qs(query) == {"uri": [model.Link.named(kind, label).uri]}, href
    # The opportunities' "no next step" box is theirs alone.
    assert 'class="plain waiting"' not in html


@pytest.mark.parametrize(("kind", "label"), [JANE, WEBSITE])
def test_a_records_page_is_its_timeline_closed_and_open_with_the_next_step(seeded, http, kind,
                                                                          label):
    base = seeded["server"].base_url
    href = rows(get(http, f"{base}/records/{kind}"))[label][0]
    html = get(http, urljoin(base, href))
    assert re.search(r"<h1><bdi>" + re.escape(label) + "</bdi></h1>", html)
    kickoff, specs, mockups, later = (s.action.uid for s in seeded["steps"])
    assert steps(html) == [
        (kickoff, "step closed", "Meeting · Closed"),
        (specs, "step closed", "E-mail · Closed"),
        (mockups, "step next-step", "Task · Next step"),
        (later, "step", "Call · Open")]
    assert "<strong>Next step</strong>" in html
    assert "<s><bdi>Kick-off meeting</bdi></s>" in html and "<s><bdi>Send the specs</bdi></s>" \
        in html
    assert "Wants a shop too" in html  # a closed step's outcome
    assert "Someone else" not in html and "Intranet" not in html
    assert "No next step is planned." not in html
    # Each step opens its action's page.
    for step in seeded["steps"]:
        link = re.search(r'data-uid="' + step.action.uid + r'">\s*<span class="when">[^<]*'
                         r'</span>\s*<a href="(/a/[^"]+)">', html).group(1)
        opened = http.get(urljoin(base, link), timeout=30)
        assert opened.status_code == 200 and step.action.summary in opened.text


@pytest.mark.parametrize(("kind", "label"), [JOHN, INTRANET])
def test_a_record_with_no_next_step_says_so_and_plans_one(seeded, http, kind, label):
    base = seeded["server"].base_url
    href = rows(get(http, f"{base}/records/{kind}"))[label][0]
    html = get(http, urljoin(base, href))
    assert "No next step is planned." in html
    assert steps(html) == [(seeded["done"].action.uid, "step closed", "Meeting · Closed")]
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    uri = unescape(re.search(r'name="uri" value="([^"]+)"', html).group(1))
    response = http.post(f"{base}/records/{kind}/plan", timeout=30, allow_redirects=False,
                         data={"csrf_token": token, "uri": uri})
    assert response.status_code == 303 and response.headers["Location"].startswith("/a/")
    opened = get(http, urljoin(base, response.headers["Location"]))
    assert f"Plan the next step: {label}" in opened
    planned = seeded["store"].neighbour(seeded["store"].get(seeded["done"].path), "next")
    assert planned is not None and not planned.action.closed
    assert planned.action.links["contact"].label == "John Roe"
    assert planned.action.links["project"].label == "Intranet"
    after = get(http, urljoin(base, href))
    assert "No next step is planned." not in after
    assert rows(get(http, f"{base}/records/{kind}"))[label][1].startswith(
        f"Next: Plan the next step: {label} · ")
