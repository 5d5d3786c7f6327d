"""The overdue page over real HTTP against the real product: oldest first as the page reads,
then the actions with no date, in their own section after them."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from server.store import Store
from tests.conftest import PEOPLE
from tests.test_web_pages import add

PARIS = ZoneInfo("Europe/Paris")


def test_overdue_actions_read_oldest_first_then_the_undated_ones(paris, http):
    alice = Store(paris.base_url, "alice", PEOPLE["alice"])
    today = dt.datetime.now(PARIS).date()
    three_days_ago = dt.datetime.combine(today - dt.timedelta(days=3), dt.time(9, 0), PARIS)
    # Made in no order of date, with UIDs in yet another order, so that neither the order of
    # writing nor the calendar's listing can pass for the page's.
    made = {}
    for uid, summary, when, kind in (
            ("u1", "Three days late", three_days_ago, "meeting"),
            ("u2", "One day late", today - dt.timedelta(days=1), "call"),
            ("u3", "Zebra, no date", None, "task"),
            ("u4", "A month late", today - dt.timedelta(days=30), "email"),
            ("u5", "Not due yet", today + dt.timedelta(days=2), "call"),
            ("u6", "Ten days late", today - dt.timedelta(days=10), "task"),
            ("u7", "Apple, no date", None, "call")):
        made[summary] = add(alice, paris, "alice", summary, when, kind, uid=uid).action.uid
    response = http.get(f"{paris.base_url}/overdue", timeout=30)
    assert response.status_code == 200
    html = response.text
    order = re.findall(r'<li class="item[^"]*" data-uid="([^"]+)"', html)
    names = {uid: summary for summary, uid in made.items()}
    assert [names[uid] for uid in order] == [
        "A month late", "Ten days late", "Three days late", "One day late",
        "Apple, no date", "Zebra, no date"]
    assert '<span class="count">4</span>' in html
    undated = html.index('id="undated"')
    assert html.index(f'data-uid="{made["One day late"]}"') < undated
    assert html.index(f'data-uid="{made["Apple, no date"]}"') > undated
    assert "No date yet" in html[undated:]
    assert "Not due yet" not in html
