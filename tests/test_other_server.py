"""The companion speaks only CalDAV: the same flow against Xandikos, with no plugin at all.

Without our Radicale plugin the store stamps the page link itself when it writes.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from server import model
from server.store import Store
from server.tokens import PageTokens
from web import create_app

XANDIKOS = str(Path(sys.executable).parent / "xandikos")
SECRET = "test-secret-for-xandikos"
BASE = "https://crm.example.org"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def xandikos(tmp_path):
    port = _free_port()
    proc = subprocess.Popen([XANDIKOS, "serve", "-d", str(tmp_path / "dav"), "--defaults",
                             "-l", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(url, timeout=2)
            break
        except requests.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise AssertionError("xandikos did not start") from None
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture
def companion(xandikos):
    """The companion with no CalDAV account of its own: it reads as the visitor, whose
    browser sends their password (HTTP Basic; this Xandikos takes any)."""
    app = create_app({"TESTING": True, "SECRET_KEY": SECRET, "CALDAV_URL": xandikos,
                      "BASE_URL": BASE, "TIMEZONE": "Europe/Paris"})
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(
        b"user:any").decode()
    return client


@pytest.fixture
def store(xandikos):
    return Store(xandikos, None, None, tokens=PageTokens(SECRET), base_url=BASE)


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_close_and_create_on_xandikos(companion, store):
    calendar = store.actions_calendar()
    cal = model.new("Call the buyer", "call", dt.date(2026, 12, 1),
                    [model.Link.named("opportunity", "Renewal"),
                     model.Link.named("account", "ACME")])
    stored = store.new_action(calendar, cal)
    page_url = store.get(stored.path).action.page
    assert page_url.startswith(BASE + "/a/")
    url = page_url[len(BASE):]

    html = companion.get(url).get_data(as_text=True)
    assert "Call the buyer" in html
    form = {"csrf_token": _csrf(html), "summary": "Send the quote", "due": "2026-12-10",
            "kind": "email", "generation": "0"}
    for _ in range(2):  # a double submit
        response = companion.post(url + "/close-and-create", data=form)
        assert response.status_code == 303

    actions = [s.action for s in store.list(calendar)]
    assert len(actions) == 2
    [closed] = [a for a in actions if a.closed]
    [successor] = [a for a in actions if not a.closed]
    assert closed.next == successor.uid and successor.previous == closed.uid
    assert successor.links == closed.links and successor.page.startswith(BASE + "/a/")
    assert companion.get(successor.page[len(BASE):]).status_code == 200
    # Without the visitor's password the link opens nothing: the companion has no account
    # of its own to read the item with, so the browser is asked for one.
    del companion.environ_base["HTTP_AUTHORIZATION"]
    asked = companion.get(url)
    assert asked.status_code == 401 and asked.headers["WWW-Authenticate"].startswith("Basic")


def test_restamp_on_another_server_signs_with_the_companions_secret(xandikos, store, tmp_path,
                                                                   monkeypatch, capsys):
    """No followup serve, so no data folder: restamp takes FOLLOWUP_SECRET_KEY, and without
    it refuses rather than sign with a secret of its own that no companion accepts."""
    from server import cli

    calendar = store.actions_calendar()
    made = store.new_action(calendar, model.new("Call the buyer", "call"))
    monkeypatch.chdir(tmp_path)
    args = ["restamp", "--url", xandikos, "--user", "user", "--password", "any",
            "--calendar", calendar.rstrip("/").rsplit("/", 1)[-1], "--base-url", BASE]
    monkeypatch.delenv("FOLLOWUP_SECRET_KEY", raising=False)
    assert cli.main(args) == cli.EXIT_FAILED
    assert "FOLLOWUP_SECRET_KEY" in capsys.readouterr().err
    assert not (tmp_path / "var").exists()  # no stray secret made on the way
    # Links signed with another secret (a rotated one): restamp writes ours.
    rotated = Store(xandikos, None, None, tokens=PageTokens("rotated"), base_url=BASE)
    rotated.update(rotated.get(made.path), rotated.get(made.path).cal)
    assert store.get(made.path).action.page != PageTokens(SECRET).page_url(BASE, made.path)
    monkeypatch.setenv("FOLLOWUP_SECRET_KEY", SECRET)
    assert cli.main(args) == 0
    assert "restamped 1 item(s)" in capsys.readouterr().out
    assert store.get(made.path).action.page == PageTokens(SECRET).page_url(BASE, made.path)
