"""Logging in: the form, the session, HTTP Basic, the limit on attempts, one user per page."""

from __future__ import annotations

import datetime as dt

import pytest

from server import model
from server.attempts import Attempts
from server.store import Store
from tests.conftest import PEOPLE
from tests.test_web_pages import add, basic, csrf, page, today


def login(client, user: str, password: str):
    html = client.get("/login").get_data(as_text=True)
    return client.post("/login", data={"csrf_token": csrf(html), "username": user,
                                       "password": password, "next": "/week"})


def test_login_form_session_and_logout(client):
    response = login(client, "alice", PEOPLE["alice"])
    assert response.status_code == 303 and response.headers["Location"] == "/week"
    html = client.get("/week").get_data(as_text=True)
    assert "alice" in html and "Week planner" in html
    client.post("/logout", data={"csrf_token": csrf(html)})
    assert client.get("/week").status_code == 302


def test_wrong_password_says_what_to_do(client):
    response = login(client, "alice", "not-her-password")
    assert response.status_code == 401
    assert "Wrong user name or password" in response.get_data(as_text=True)
    assert client.get("/overdue").status_code == 302


def test_attempts_beyond_the_limit_are_refused_even_with_the_right_password(client, app):
    assert app.config["LOGIN_ATTEMPTS"] == 5  # the default; each failure costs Radicale 1 s
    limit = 2
    app.extensions["followup_attempts"] = Attempts(limit, app.config["LOGIN_WINDOW"])
    for _ in range(limit):
        assert login(client, "alice", "guess").status_code == 401
    response = login(client, "alice", PEOPLE["alice"])
    assert response.status_code == 429
    assert "Too many failed attempts" in response.get_data(as_text=True)
    # Basic auth counts against the same limit, and another user is not blocked by alice's.
    assert client.get("/overdue", headers=basic("alice")).status_code == 429
    assert login(client, "bob", PEOPLE["bob"]).status_code == 303


def test_the_service_account_cannot_log_in(client, live):
    user, password = live.service
    assert login(client, user, password).status_code == 401


def test_pages_never_show_another_users_actions(client, live, alice):
    bob = Store(live.base_url, "bob", PEOPLE["bob"])
    yesterday = today() - dt.timedelta(days=1)
    links = (("opportunity", "Shared name"),)
    mine = add(alice, live, "alice", "Call from Alice", yesterday, links=links)
    theirs = add(bob, live, "bob", "Secret call of Bob", yesterday, links=links)
    bob.close(add(bob, live, "bob", "Closed deal of Bob", yesterday,
                  links=(("opportunity", "Bob only"),)).path)
    uri = model.Link.named("opportunity", "Shared name").uri
    urls = ("/overdue", f"/week?date={yesterday}", "/records/opportunity",
            "/records/opportunity/view?uri=" + uri.replace("%", "%25"))
    # Alice through the login form (the companion's account reads for her: the page must
    # keep to her calendars), Bob through Basic auth (his own account reads).
    assert login(client, "alice", PEOPLE["alice"]).status_code == 303
    for url in urls:
        html = client.get(url).get_data(as_text=True)
        assert "Call from Alice" in html and "Bob" not in html, url
        html = page(client.application.test_client(), url, "bob")
        assert "Secret call of Bob" in html and "Alice" not in html, url
    # Alice cannot close Bob's action through the bulk close either, even with its token.
    html = client.get("/overdue").get_data(as_text=True)
    from web.calendar import tokens

    with client.application.app_context():
        bobs = tokens().make(theirs.path)
        own = tokens().make(mine.path)
    response = client.post("/overdue/close-many", data={
        "csrf_token": csrf(html), "t": [bobs, own], f"choice-{bobs}": "close",
        f"choice-{own}": "close"})
    assert response.status_code == 303
    assert not bob.get(theirs.path).action.closed
    assert alice.get(mine.path).action.closed


def test_the_limit_is_per_user_and_address_and_slides_with_time():
    now = [1000.0]
    attempts = Attempts(3, 60, clock=lambda: now[0])
    for _ in range(3):
        attempts.failed("Alice", "10.0.0.1")
    assert attempts.blocked("alice", "10.0.0.1")
    assert not attempts.blocked("alice", "10.0.0.2") and not attempts.blocked("bob", "10.0.0.1")
    now[0] += 59
    assert attempts.blocked("alice", "10.0.0.1")
    now[0] += 2
    assert not attempts.blocked("alice", "10.0.0.1")
    attempts.failed("alice", "10.0.0.1")
    attempts.succeeded("alice", "10.0.0.1")
    assert not attempts.blocked("alice", "10.0.0.1")


def _session_cookie(client) -> str:
    return client.get_cookie("session").value


def test_a_copied_session_cookie_stops_working_after_logout(client, app):
    assert login(client, "alice", PEOPLE["alice"]).status_code == 303
    copied = _session_cookie(client)
    other_device = app.test_client()
    assert login(other_device, "alice", PEOPLE["alice"]).status_code == 303
    html = client.get("/week").get_data(as_text=True)
    assert client.post("/logout", data={"csrf_token": csrf(html)}).status_code == 303
    thief = app.test_client()
    thief.set_cookie("session", copied)
    assert thief.get("/week").status_code == 302  # the replayed cookie is refused
    assert other_device.get("/week").status_code == 302  # logged out everywhere
    assert login(client, "alice", PEOPLE["alice"]).status_code == 303  # a new login works
    assert client.get("/week").status_code == 200


def test_a_new_password_ends_the_sessions_opened_with_the_old_one(client, live, capsys):
    from server.cli import main

    assert login(client, "alice", PEOPLE["alice"]).status_code == 303
    assert client.get("/week").status_code == 200
    assert main(["user", "add", "bob", "--password", "bobs-new-one",
                 "--data", str(live.data.root)]) == 0
    assert client.get("/week").status_code == 200  # someone else's new password: no effect
    assert main(["user", "add", "alice", "--password", "alices-new-one",
                 "--data", str(live.data.root)]) == 0
    assert client.get("/week").status_code == 302


def test_session_ends_are_shared_through_their_file_and_kept_in_memory_without(tmp_path):
    from server.sessions import SessionEnds

    path = tmp_path / "sessions"
    server, command_line = SessionEnds(path), SessionEnds(path)
    assert server.valid("Alice", 1.0)
    command_line.end("alice", at=100.0)
    assert not server.valid("ALICE", 99.0) and not server.valid("alice", 100.0)
    assert server.valid("alice", 100.5) and server.valid("bob", 1.0)
    command_line.end("alice", at=50.0)  # an older moment never reopens sessions
    assert not SessionEnds(path).valid("alice", 99.0)
    path.write_text("not json")
    assert SessionEnds(path).valid("alice", 1.0)
    memory = SessionEnds()
    memory.end("alice", at=10.0)
    assert not memory.valid("alice", 9.0) and memory.valid("alice", 11.0)


@pytest.mark.parametrize("proxies", [0, 1])
def test_behind_a_trusted_proxy_the_limit_counts_the_clients_address(live, proxies):
    from web import create_app

    user, password = live.service
    app = create_app({"TESTING": True, "SECRET_KEY": live.secret_key,
                      "CALDAV_URL": live.dav_url, "CALDAV_USER": user,
                      "CALDAV_PASSWORD": password, "BASE_URL": "https://crm.example.org",
                      "TRUSTED_PROXIES": proxies})
    app.extensions["followup_attempts"] = Attempts(1, 60)
    client = app.test_client()
    # Everyone reaches the server through the proxy, from 127.0.0.1.
    guesser = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    alice = {"X-Forwarded-For": "198.51.100.7", "X-Forwarded-Proto": "https"}
    assert client.get("/overdue", headers={**basic("alice"), **guesser,
                                           "Authorization": "Basic YWxpY2U6Z3Vlc3M="}
                      ).status_code == 401
    answer = client.get("/overdue", headers={**basic("alice"), **alice})
    # Trusted: the guesser's address is blocked, not alice's. Not trusted: the header is
    # anyone's to write, so it cannot open a new allowance (both come from the proxy).
    assert answer.status_code == (200 if proxies else 429)


def _get(url: str, user: str, password: str, headers: dict | None = None,
         method: str = "GET") -> int:
    """The status of one real HTTP request (urllib raises on 4xx: keep the code)."""
    import base64
    import urllib.error
    import urllib.request

    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    request = urllib.request.Request(url, method=method, headers={
        "Authorization": f"Basic {token}", "Depth": "0", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.parametrize("proxies", [0, 1])
def test_the_real_server_counts_the_visitor_behind_a_trusted_proxy(tmp_path, proxies):
    """Through waitress, as `followup serve --trusted-proxies 1` runs (waitress itself drops
    X-Forwarded-For unless told to trust it)."""
    from tests.servers import LiveServer

    server = LiveServer(tmp_path / "var", PEOPLE, trusted_proxies=proxies).start()
    try:
        guesser, visitor = {"X-Forwarded-For": "203.0.113.9"}, {"X-Forwarded-For": "198.51.100.7"}
        overdue = f"{server.base_url}/overdue"
        for _ in range(5):
            assert _get(overdue, "alice", "guess", guesser) == 401
        assert _get(overdue, "alice", PEOPLE["alice"], guesser) == 429
        # Trusted: only the guesser's address is blocked. Not trusted: the header is anyone's
        # to write, so both seem to come from 127.0.0.1 and alice waits the minute too.
        assert _get(overdue, "alice", PEOPLE["alice"], visitor) == (200 if proxies else 429)
    finally:
        server.stop()


def test_caldav_logins_count_in_the_same_allowance_as_the_pages(live):
    """Guessing over CalDAV is limited too, and both doors share one count of five."""
    calendar, overdue = live.calendar_url("alice"), f"{live.base_url}/overdue"
    for _ in range(3):
        assert _get(overdue, "alice", "guess") == 401
    for _ in range(2):
        assert _get(calendar, "alice", "guess", method="PROPFIND") == 401
    assert _get(calendar, "alice", PEOPLE["alice"], method="PROPFIND") == 429
    assert _get(overdue, "alice", PEOPLE["alice"]) == 429
    # Another user is not blocked, and pages still work through the companion's own calls.
    assert _get(live.calendar_url("bob"), "bob", PEOPLE["bob"], method="PROPFIND") == 207
    assert _get(overdue, "bob", PEOPLE["bob"]) == 200


def test_a_page_link_opens_its_one_item_and_the_owner_follows_the_chain(client, app, live,
                                                                        alice):
    """The link in an item is a capability for that item: without the owner's session the
    chain is named but not linked (another item's link would open that item too)."""
    from urllib.parse import quote

    from web.calendar import tokens

    first = add(alice, live, "alice", "Call ACME", today() - dt.timedelta(days=3))
    _, second = alice.close_and_create(first.path, "Send the quote", today())
    _, third = alice.close_and_create(second.path, "Call about the quote", today())
    with app.app_context():
        url = "/a/" + tokens().make(second.path)
        others = [tokens().make(first.path), tokens().make(third.path)]

    def shown(visitor, headers=None) -> str:
        response = visitor.get(url, headers=headers or {})
        assert response.status_code == 200
        return response.get_data(as_text=True)

    html = shown(client)  # someone the link was forwarded to
    assert "Call ACME" in html and "Call about the quote" in html  # named...
    assert not any(token in html for token in others)  # ...but not opened
    assert f'href="/login?next={quote(url)}"' in html
    assert "Log in to follow the chain" in html
    bob = app.test_client()  # logged in, but not the owner: no link, no login to offer
    assert login(bob, "bob", PEOPLE["bob"]).status_code == 303
    html = shown(bob)
    assert not any(token in html for token in others) and "Log in to follow" not in html
    html = shown(app.test_client(), basic("alice"))  # the owner, by Basic auth
    assert all(token in html for token in others)
    assert login(client, "alice", PEOPLE["alice"]).status_code == 303  # the owner's session
    html = shown(client)
    assert all(token in html for token in others) and "Log in to follow" not in html


def test_close_and_create_by_link_still_opens_the_new_action(client, app, live, alice):
    from web.calendar import tokens

    first = add(alice, live, "alice", "Call ACME", today())
    with app.app_context():
        url = "/a/" + tokens().make(first.path)
    html = client.get(url).get_data(as_text=True)
    response = client.post(url + "/close-and-create", data={
        "csrf_token": csrf(html), "summary": "Send the quote", "due": today().isoformat(),
        "generation": "0"})
    assert response.status_code == 303
    successor = alice.successor(alice.get(first.path))
    with app.app_context():
        assert response.headers["Location"] == "/a/" + tokens().make(successor.path)
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Send the quote" in html and "Call ACME" in html  # its page, naming where it comes from


@pytest.mark.parametrize("door", ["pages", "caldav"])
def test_guesses_sent_at_once_are_checked_in_turn(live, door):
    """Twenty wrong passwords at the same moment: five are checked, the rest refused;
    then twenty right ones at once all get in (no queue for what worked a moment ago)."""
    from concurrent.futures import ThreadPoolExecutor

    url, method = ((f"{live.base_url}/overdue", "GET") if door == "pages"
                   else (live.calendar_url("alice"), "PROPFIND"))
    with ThreadPoolExecutor(20) as pool:
        wrong = list(pool.map(lambda n: _get(url, "alice", f"guess-{n}", method=method),
                              range(20)))
    assert wrong.count(401) == 5 and wrong.count(429) == 15
    with ThreadPoolExecutor(10) as pool:
        right = list(pool.map(lambda _: _get(f"{live.base_url}/overdue", "bob",
                                             PEOPLE["bob"]), range(10)))
    assert right == [200] * 10


def test_without_a_service_account_the_browser_is_asked_for_the_password(live, alice):
    """Another CalDAV server, no CALDAV_USER: a session could read nothing (it never holds
    the password), so every page asks the browser for the calendar password instead."""
    from web import create_app
    from web.calendar import tokens

    app = create_app({"TESTING": True, "SECRET_KEY": live.secret_key,
                      "CALDAV_URL": live.dav_url, "BASE_URL": live.base_url})
    client = app.test_client()
    item = add(alice, live, "alice", "Call ACME", today() - dt.timedelta(days=1))
    with app.app_context():
        link = "/a/" + tokens().make(item.path)
    for url in ("/overdue", "/login?next=/week", link):
        asked = client.get(url)
        assert asked.status_code == 401, url
        assert asked.headers["WWW-Authenticate"].startswith("Basic")
        assert "when your browser asks" in asked.get_data(as_text=True)
    assert "Call ACME" in client.get("/overdue", headers=basic("alice")).get_data(as_text=True)
    answer = client.get("/login?next=/week", headers=basic("alice"))
    assert answer.status_code == 303 and answer.headers["Location"] == "/week"
    assert "Call ACME" in client.get(link, headers=basic("alice")).get_data(as_text=True)
    assert client.get(link, headers=basic("bob")).status_code == 404  # not bob's to read
    assert client.get("/overdue", headers={**basic("alice"), "Authorization": "Basic eDp5"}
                      ).status_code == 401
