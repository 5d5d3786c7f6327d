"""The pages speak only CalDAV: overdue and week against Xandikos (no plugin, no service
account; every read is made with the user's own Basic credentials)."""

from __future__ import annotations

import base64
import datetime as dt
import re

import pytest

from server import model
from tests.test_other_server import BASE, SECRET, store, xandikos  # noqa: F401 (fixtures)
from tests.test_web_pages import csrf, form_action, today
from web import create_app

USER = {"Authorization": "Basic " + base64.b64encode(b"user:any").decode()}


@pytest.fixture
def pages(xandikos):  # noqa: F811 (the fixture imported above)
    app = create_app({"TESTING": True, "SECRET_KEY": SECRET, "CALDAV_URL": xandikos,
                      "CALDAV_HOME": "{user}/calendars/", "BASE_URL": BASE,
                      "TIMEZONE": "Europe/Paris"})
    return app.test_client()


def test_overdue_and_week_on_xandikos(pages, store):  # noqa: F811
    calendar = store.actions_calendar()
    yesterday = today() - dt.timedelta(days=1)
    stored = store.new_action(calendar, model.new(
        "Call the buyer", "call", yesterday, [model.Link.named("opportunity", "Renewal")]))
    html = pages.get("/overdue", headers=USER).get_data(as_text=True)
    assert f'data-uid="{stored.action.uid}"' in html
    response = pages.post(form_action(html, "close", "Call the buyer"), headers=USER,
                          data={"csrf_token": csrf(html), "back": "/overdue"})
    assert response.status_code == 303
    assert store.get(stored.path).action.closed
    html = pages.get("/overdue", headers=USER).get_data(as_text=True)
    assert f'data-uid="{stored.action.uid}"' not in html
    week = pages.get(f"/week?date={yesterday}", headers=USER).get_data(as_text=True)
    assert re.search(r"<s><bdi>Call the buyer</bdi></s>", week)
    opportunities = pages.get("/records/opportunity", headers=USER).get_data(as_text=True)
    assert "Renewal" in re.search(r'<ul class="plain waiting">(.*?)</ul>', opportunities,
                                  re.S).group(1)
