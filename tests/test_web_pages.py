"""The list pages against a real Radicale: overdue, week, records, action page forms."""

from __future__ import annotations

import base64
import datetime as dt
import re
from zoneinfo import ZoneInfo

from server import model
from server.store import Store
from tests.conftest import PEOPLE

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
                     r'[^<]*</span>\s*<s>Call ACME about the renewal</s>', week)


def test_pages_need_a_login(client):
    response = client.get("/overdue")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    wrong = {"Authorization": "Basic " + base64.b64encode(b"alice:nope").decode()}
    response = client.get("/week", headers=wrong)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")
