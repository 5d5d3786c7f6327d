"""Links, tokens, secrets, logs and the action page's web hardening (issue 5, points 3 and 4).

Every test asserts a refusal against the real product (Radicale + companion on 127.0.0.1).
Two-user isolation and the login rate limit belong with the login pages (tests of web/).
"""

from __future__ import annotations

import base64
import logging
import os
import re
import socket
import stat
from html.parser import HTMLParser

import pytest
import requests
from werkzeug.test import Client

from server import cli, embedded, model
from server.settings import DataDir
from server.tokens import PageTokens, TokenError
from tests.conftest import PEOPLE
from tests.servers import LiveServer
from web import create_app

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _action(alice, summary: str = "Call ACME") -> str:
    return alice.new_action(alice.actions_calendar(), model.new(summary, "call")).path


def _get(live, token: str) -> requests.Response:
    return requests.get(f"{live.base_url}/a/{token}", timeout=30, allow_redirects=False)


# -- 3. links and tokens -----------------------------------------------------------------------


def test_token_names_exactly_one_item(live, alice):
    path = _action(alice)
    tokens = PageTokens(live.secret_key)
    assert tokens.read(tokens.make(path)) == path
    assert _get(live, tokens.make(path)).status_code == 200


def test_tampered_tokens_answer_404_and_say_nothing(live, alice):
    path = _action(alice)
    token = PageTokens(live.secret_key).make(path)
    unknown = _get(live, "not-a-token")
    assert unknown.status_code == 404
    tampered = []
    for i in range(0, len(token), 3):
        swap = "A" if token[i] != "A" else "B"
        tampered.append(token[:i] + swap + token[i + 1:])
    tampered += [token[:-1], token + "A", token.split(".")[0], "." + token.split(".")[1]]
    for bad in tampered:
        answer = _get(live, bad)
        assert answer.status_code == 404, bad
        assert answer.text == unknown.text  # the same page whatever was wrong


def test_token_cannot_be_turned_into_another_items(live, alice):
    mine, other = _action(alice, "Mine"), _action(alice, "Not mine")
    tokens = PageTokens(live.secret_key)
    payload, signature = tokens.make(mine).split(".")
    other_payload = tokens.make(other).split(".")[0]
    assert _get(live, f"{other_payload}.{signature}").status_code == 404
    # Forging a payload by hand (a path of someone else's calendar) fails the same way.
    forged = base64.urlsafe_b64encode(b'"dav/bob/actions/x.ics"').decode().rstrip("=")
    assert _get(live, f"{forged}.{signature}").status_code == 404
    with pytest.raises(TokenError):
        tokens.read(f"{forged}.{signature}")


def test_token_from_another_secret_and_of_a_deleted_item_are_404(live, alice):
    path = _action(alice)
    unknown = _get(live, "x")
    assert _get(live, PageTokens("another site").make(path)).status_code == 404
    alice.delete(alice.get(path))
    gone = _get(live, PageTokens(live.secret_key).make(path))
    assert gone.status_code == 404 and gone.text == unknown.text


def test_signed_token_for_a_collection_is_not_an_action(live, alice):
    _action(alice, "One")
    _action(alice, "Two")
    token = PageTokens(live.secret_key).make(live.calendar_path("alice"))
    assert _get(live, token).status_code == 404


def test_posts_with_bad_tokens_are_404(live, alice):
    token = PageTokens(live.secret_key).make(_action(alice))
    session = requests.Session()
    csrf = CSRF.search(session.get(f"{live.base_url}/a/{token}", timeout=30).text).group(1)
    for route in ("close", "close-and-create"):
        answer = session.post(f"{live.base_url}/a/{token[:-2]}xx/{route}", timeout=30,
                              data={"csrf_token": csrf, "summary": "x", "due": "2027-01-01"})
        assert answer.status_code == 404
    session.close()


def test_rotating_the_secret_invalidates_links_and_restamp_writes_new_ones(tmp_path, capsys):
    old_server = LiveServer(tmp_path / "var", PEOPLE).start()
    alice = _alice(old_server)
    paths = [_action(alice, f"Call {n}") for n in range(3)]
    old_links = [alice.get(p).action.page for p in paths]
    assert all(requests.get(link, timeout=30).status_code == 200 for link in old_links)
    old_server.stop()

    assert cli.main(["rotate-secret", "--data", str(tmp_path / "var")]) == 0
    assert stat.S_IMODE((tmp_path / "var" / "secret_key").stat().st_mode) == 0o600
    server = LiveServer(tmp_path / "var", PEOPLE).start()
    try:
        for old in old_links:
            token = old.rsplit("/a/", 1)[1]
            assert _get(server, token).status_code == 404
        capsys.readouterr()
        assert cli.main(["restamp", "--url", server.base_url,
                         "--data", str(tmp_path / "var")]) == 0
        assert "restamped 3 item(s), 0 already current" in capsys.readouterr().out
        assert cli.main(["restamp", "--url", server.base_url,
                         "--data", str(tmp_path / "var")]) == 0
        assert "restamped 0 item(s), 3 already current" in capsys.readouterr().out
        alice = _alice(server)
        for path, old in zip(paths, old_links, strict=True):
            stored = alice.get(path)
            text = model.to_text(stored.cal).replace("\r\n ", "")
            assert old.rsplit("/a/", 1)[1] not in text  # no old link left anywhere in it
            assert requests.get(stored.action.page, timeout=30).status_code == 200
    finally:
        server.stop()


def test_after_rotation_a_client_upload_gets_a_new_link_from_the_plugin(tmp_path):
    """Before anyone runs restamp: a calendar app's next upload of an item (a new title,
    the old link still in it) is stamped by the plugin with a link signed by the new
    secret; the old link stays dead."""
    from tests.dav import Client

    old_server = LiveServer(tmp_path / "var", PEOPLE).start()
    path = _action(_alice(old_server), "Call ACME")
    client = Client(old_server.base_url, "alice", PEOPLE["alice"])
    text, old_link = client.text(path), _alice(old_server).get(path).action.page
    old_server.stop()
    assert cli.main(["rotate-secret", "--data", str(tmp_path / "var")]) == 0
    server = LiveServer(tmp_path / "var", PEOPLE).start()
    try:
        client = Client(server.base_url, "alice", PEOPLE["alice"])
        etag = client.get(path).headers["ETag"]
        edited = text.replace("SUMMARY:Call ACME", "SUMMARY:Call ACME again")
        assert client.put(path, edited, etag).status_code in (200, 204)
        stored = _alice(server).get(path)
        assert stored.action.summary == "Call ACME again"
        new_link = stored.action.page
        assert new_link != old_link
        assert old_link.rsplit("/a/", 1)[1] not in client.text(path).replace("\r\n ", "")
        assert requests.get(new_link, timeout=30).status_code == 200
        assert _get(server, old_link.rsplit("/a/", 1)[1]).status_code == 404
    finally:
        server.stop()


def _alice(server):
    from server.store import Store

    return Store(server.base_url, "alice", PEOPLE["alice"])


def test_restamp_refuses_while_the_server_uses_the_old_secret(live, alice, capsys):
    _action(alice)
    DataDir.at(live.data.root).rotate_secret_key()  # the running server keeps the old one
    code = cli.main(["restamp", "--url", live.base_url, "--data", str(live.data.root)])
    assert code == cli.EXIT_FAILED
    assert "restart followup serve" in capsys.readouterr().err


def test_secret_made_at_first_start_is_owner_only(tmp_path):
    old_umask = os.umask(0)  # even a careless umask gives 0600
    try:
        server = LiveServer(tmp_path / "var", PEOPLE)
    finally:
        os.umask(old_umask)
    server.stop()
    for name in ("secret_key", "service"):
        mode = stat.S_IMODE((tmp_path / "var" / name).stat().st_mode)
        assert mode == 0o600, (name, oct(mode))
    first = (tmp_path / "var" / "secret_key").read_text()
    assert len(first.strip()) >= 40
    assert DataDir.at(tmp_path / "var").secret_key() == first.strip()  # made once, then read


def test_secret_with_loose_permissions_is_tightened(tmp_path):
    data = DataDir.at(tmp_path)
    data.secret_key()
    (tmp_path / "secret_key").chmod(0o644)
    data.secret_key()
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600


def _chatty(root, link_path: str = "") -> LiveServer:
    """The product with every logger at DEBUG, Radicale logging whole requests and answers."""
    root.mkdir(parents=True, exist_ok=True)
    conf = root / "radicale.conf"
    conf.write_text("[logging]\nlevel = debug\nrequest_header_on_debug = True\n"
                    "request_content_on_debug = True\nresponse_content_on_debug = True\n")
    return LiveServer(root / "var", PEOPLE, extra_config=conf, link_path=link_path).start()


@pytest.fixture
def chatty(tmp_path):
    server = _chatty(tmp_path)
    yield server
    server.stop()


# A folded content line, as a log may print it: CRLF or LF, as such, as an XML character
# reference (&#13;) or as Python writes bytes (a backslash, r, backslash, n), then a space
# or a tab (after the log's indent: Radicale starts each line it prints with a space).
FOLD_IN_LOG = re.compile(r"(?:\r|&#13;|&#x[dD];|\\r)?(?:\n|\\n)[ \t]+")
TOKEN_RUN = re.compile(r"[A-Za-z0-9_.\-]{20,}")


def _token_slices_in(logged: str, secrets: set[str], size: int = 20) -> set[str]:
    """Every `size`-character slice of a secret found in the log (folds taken out first)."""
    slices = {secret[i:i + size] for secret in secrets for i in range(len(secret) - size + 1)}
    found = set()
    for run in TOKEN_RUN.findall(FOLD_IN_LOG.sub("", logged)):
        found |= {run[i:i + size] for i in range(len(run) - size + 1)} & slices
    return found


def _items_of_every_length(server) -> set[str]:
    """Actions whose DESCRIPTION is 0 to 80 characters long, so that the 75-octet fold of
    the page-link line lands on every character of it (in the base URL, in /a/, in the
    token); read back one by one and as a listing, so that the answers are logged too."""
    alice = _alice(server)
    calendar = alice.actions_calendar()
    tokens = PageTokens(server.secret_key)
    secrets = set()
    for length in range(81):
        cal = model.new(f"Call {length}", "call", description="d" * length)
        stored = alice.new_action(calendar, cal)
        secrets.add(tokens.make(stored.path))
        assert alice.get(stored.path).action.page.startswith(server.link_base + "/a/")
    assert len(list(alice.list(calendar))) >= 81
    return secrets


def test_tokens_never_reach_a_log(chatty, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    alice = _alice(chatty)
    path = _action(alice)
    tokens = PageTokens(chatty.secret_key)
    token = tokens.make(path)
    session = requests.Session()
    page = session.get(f"{chatty.base_url}/a/{token}", timeout=30)
    csrf = CSRF.search(page.text).group(1)
    done = session.post(f"{chatty.base_url}/a/{token}/close-and-create", timeout=30,
                        data={"csrf_token": csrf, "summary": "Next", "due": "2027-01-01",
                              "kind": "call", "generation": "0"}, allow_redirects=False)
    assert done.status_code == 303
    session.get(f"{chatty.base_url}{done.headers['Location']}", timeout=30)
    session.post(f"{chatty.base_url}/a/{token}/close", timeout=30)  # no CSRF: refused
    session.get(f"{chatty.base_url}/a/{token}x", timeout=30)  # tampered
    session.close()
    # What Flask and waitress write when a request fails: the path, through their loggers.
    for name in ("waitress", "flask.app", "radicale"):
        logging.getLogger(name).error("Exception while serving /a/%s", token)
    successor = next(s for s in alice.list(alice.actions_calendar()) if s.action.previous)
    secrets = {token, tokens.make(successor.path)}
    # The fold of the page-link line everywhere in it, with links of three lengths.
    secrets |= _items_of_every_length(chatty)
    for n, link_path in enumerate(("/c", "/followup-crm-links")):
        other = _chatty(tmp_path / f"other-{n}", link_path)
        try:
            secrets |= _items_of_every_length(other)
        finally:
            other.stop()
    records = [r.getMessage() + (r.exc_text or "") for r in caplog.records]
    assert any("PUT" in line for line in records)  # the logs did see the writes
    assert any("X-FOLLOWUP-PAGE" in line for line in records)  # and the items' text
    assert any("SUMMARY:Call 80" in line for line in records)  # the last item too
    logged = "\n".join(records)
    for secret in secrets:
        assert secret not in logged
    assert not _token_slices_in(logged, secrets)  # no 20 characters of any token


# -- 4. web hardening on the action page ------------------------------------------------------


def _post_routes(app) -> list[str]:
    return [rule.rule for rule in app.url_map.iter_rules() if "POST" in rule.methods]


def test_every_post_needs_the_csrf_token(live, alice, app, client):
    path = _action(alice)
    token = PageTokens(live.secret_key).make(path)
    routes = _post_routes(app)
    assert routes  # the page has forms
    other = app.test_client()  # someone else's session and CSRF token
    foreign = CSRF.search(other.get(f"/a/{token}").text).group(1)
    client.get(f"/a/{token}")
    for rule in routes:
        url = re.sub(r"<[^>]*token>", token, rule)
        url = re.sub(r"<[^>]+>", "x", url)
        form = {"summary": "x", "due": "2027-01-01", "kind": "call", "outcome": "x"}
        assert client.post(url, data=form).status_code == 400, rule
        assert client.post(url, data={**form, "csrf_token": foreign}).status_code == 400, rule
        assert client.post(url, data={**form, "csrf_token": "forged"}).status_code == 400, rule
    assert not alice.get(path).action.closed


# Where a redirect may go: a path of this site (one "/" not followed by "/" or "\\", which
# browsers read as another host), or this site's own address; never a control character.
def _on_the_site(live, location: str | None) -> bool:
    if not location or any(ord(c) < 0x21 for c in location):
        return False
    if location.startswith(live.base_url + "/"):
        return True
    return location.startswith("/") and location[1:2] not in ("/", "\\")


# Values of back, page_back and next that must never send anyone elsewhere.
HOSTILE = ["https://evil.example/", "//evil.example", "/\\evil.example", "\\\\evil.example",
           "http:evil.example", "javascript:alert(1)", "/week\r\nLocation: https://evil.example/",
           "/\r\n/evil.example", "\r\n//evil.example", "/\t/evil.example", " //evil.example"]

# Addresses that redirect (the login, Radicale's web page and well-known, the router's
# merged slashes, the language switch), odd ones included: each must stay on the site.
REDIRECTING = ["/overdue", "//overdue", "/week?date=//evil.example", "//dav",
               "/.well-known/caldav", "/.well-known/caldav//evil.example",
               "/dav/.web//evil.example",
               "/lang/fr?next=//evil.example", "/lang/fr?next=/%5Cevil.example"]
# Addresses that are no page: answered without any redirect (double slashes are not merged).
NOT_FOUND = ["//evil.example/", "//evil.example/%2e%2e", "/\\evil.example", "/a/", "/a",
             "/a/x/..", "/%2F%2Fevil.example", "/overdue//evil.example", "/a//evil.example",
             "/static//evil.example/x"]


@pytest.mark.parametrize("path", REDIRECTING)
def test_redirects_stay_on_the_site(live, path):
    answer = requests.get(f"{live.base_url}{path}", allow_redirects=False, timeout=30,
                          headers={"Host": f"127.0.0.1:{live.port}"})
    assert 300 <= answer.status_code < 400, (answer.status_code, path)
    assert _on_the_site(live, answer.headers.get("Location")), answer.headers.get("Location")


@pytest.mark.parametrize("path", NOT_FOUND)
def test_no_page_is_no_redirect(live, path):
    answer = requests.get(f"{live.base_url}{path}", allow_redirects=False, timeout=30,
                          headers={"Host": f"127.0.0.1:{live.port}"})
    assert answer.status_code == 404 and "Location" not in answer.headers, path


@pytest.mark.parametrize("path", ["/a//x", "/static//style.css", "/overdue//", "//overdue",
                                  "/records//opportunity"])
def test_no_redirect_is_built_from_the_host_header(live, path):
    """A request may name any Host: a redirect built from it (Werkzeug's merging of double
    slashes answered /a//x with Location: http://<that host>/a/x) would send a cache's
    visitors elsewhere. Sent raw, so that no client library rewrites the path."""
    with socket.create_connection(("127.0.0.1", live.port), timeout=30) as conn:
        conn.sendall(f"GET {path} HTTP/1.1\r\nHost: evil.example\r\n"
                     "Connection: close\r\n\r\n".encode())
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    assert "evil.example" not in head, head


def _session_on_the_page(live, alice) -> tuple[requests.Session, str, str]:
    token = PageTokens(live.secret_key).make(_action(alice))
    session = requests.Session()
    csrf = CSRF.search(session.get(f"{live.base_url}/a/{token}", timeout=30).text).group(1)
    return session, f"{live.base_url}/a/{token}", csrf


@pytest.mark.parametrize("field", ["back", "page_back"])
def test_back_and_page_back_never_redirect_elsewhere(live, alice, field):
    """A list's form sends `back`, the action page's forms `page_back`: what a hand-made
    form puts there gives the action page, on this site."""
    session, url, csrf = _session_on_the_page(live, alice)
    for hostile in HOSTILE:
        answer = session.post(f"{url}/postpone", data={"csrf_token": csrf, "days": "1",
                                                       field: hostile},
                              allow_redirects=False, timeout=30)
        assert answer.status_code == 303, hostile
        location = answer.headers["Location"]
        assert _on_the_site(live, location) and location.startswith("/a/"), (hostile, location)
        assert "evil" not in location, (hostile, location)
        landed = session.get(live.base_url + location, timeout=30).text  # no "← Back" to it
        assert 'class="back"' not in landed and "evil" not in landed, hostile
    form = {"csrf_token": csrf, "summary": "x", "due": "2027-01-01", "generation": "0",
            field: "https://evil.example/"}
    spoofed = session.post(f"{url}/close-and-create", data=form, allow_redirects=False,
                           timeout=30, headers={"Host": "evil.example",
                                                "X-Forwarded-Host": "evil.example"})
    assert spoofed.status_code < 500
    assert "evil.example" not in spoofed.headers.get("Location", "")
    answer = session.post(f"{url}/close-and-create", data=form, allow_redirects=False,
                          timeout=30)
    session.close()
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/a/")


def test_back_in_the_pages_address_is_no_way_out_either(live, alice):
    session, url, _csrf = _session_on_the_page(live, alice)
    for hostile in HOSTILE:
        html = session.get(url, params={"back": hostile}, timeout=30).text
        assert 'class="back"' not in html and "evil" not in html, hostile


def test_the_logins_next_never_redirects_elsewhere(live):
    for hostile in HOSTILE:
        session = requests.Session()
        form = session.get(f"{live.base_url}/login", params={"next": hostile}, timeout=30).text
        assert '<input type="hidden" name="next" value="/overdue">' in form, hostile
        answer = session.post(f"{live.base_url}/login", allow_redirects=False, timeout=30,
                              data={"csrf_token": CSRF.search(form).group(1), "next": hostile,
                                    "username": "alice", "password": PEOPLE["alice"]})
        assert answer.status_code == 303, hostile
        assert _on_the_site(live, answer.headers["Location"]), (hostile, answer.headers)
        again = session.get(f"{live.base_url}/login", params={"next": hostile}, timeout=30,
                            allow_redirects=False)  # logged in already: straight to `next`
        assert 300 <= again.status_code < 400, hostile
        assert _on_the_site(live, again.headers["Location"]), (hostile, again.headers)
        switch = session.get(f"{live.base_url}/lang/fr", params={"next": hostile},
                             timeout=30, allow_redirects=False)
        assert switch.status_code == 303, hostile
        assert _on_the_site(live, switch.headers["Location"]), (hostile, switch.headers)
        session.close()


SCRIPT = "<script>alert(1)</script>"
ATTR = '"><img src=x onerror=alert(2)>'
HOSTILE_ICS = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//evil//EN\r
BEGIN:VTODO\r
UID:{uid}\r
DTSTAMP:20261201T100000Z\r
SUMMARY:{script} {attr}\r
DESCRIPTION:{script}\\n{attr}\\njavascript:alert(3)\r
LOCATION:{script}\r
X-FOLLOWUP-PREVIOUS;X-HREF="{prev_href}":{prev_uid}\r
X-FOLLOWUP-ACCOUNT;LABEL="{attr_q}":javascript:alert(4)\r
X-FOLLOWUP-CONTACT;LABEL="{script}":https://crm.example/c/1\r
X-FOLLOWUP-OPPORTUNITY;LABEL="x':alert(5)//":data:text/html,{script}\r
X-FOLLOWUP-PROJECT;LABEL="ok":" onmouseover="alert(6)\r
END:VTODO\r
END:VCALENDAR\r
"""


def _put(live, user: str, href: str, text: str) -> int:
    answer = requests.put(f"{live.calendar_url(user)}{href}", data=text.encode(),
                          auth=(user, PEOPLE[user]), timeout=30,
                          headers={"Content-Type": "text/calendar", "If-None-Match": "*"})
    return answer.status_code


def test_hostile_text_is_escaped_in_every_context(live, alice):
    prev_uid = "prev-1"
    assert _put(live, "alice", "prev-1.ics", HOSTILE_ICS.format(
        uid=prev_uid, script=SCRIPT, attr=ATTR, attr_q="x'", prev_href="none.ics",
        prev_uid="none")) == 201
    assert _put(live, "alice", "evil.ics", HOSTILE_ICS.format(
        uid="evil-1", script=SCRIPT, attr=ATTR, attr_q="'onfocus=alert(7) x='",
        prev_href="prev-1.ics", prev_uid=prev_uid)) == 201
    token = PageTokens(live.secret_key).make(live.calendar_path("alice") + "evil.ics")
    page = _get(live, token)
    assert page.status_code == 200
    html = page.text
    assert "&lt;script&gt;" in html  # the text is shown, as text
    tags = _Tags()
    tags.feed(html)
    assert not {"script", "img", "iframe", "object"} & {tag for tag, _ in tags.found}
    for tag, attrs in tags.found:
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name)  # no event handler got in
            if name in ("href", "action", "src", "formaction"):
                assert (value.startswith("/") and not value.startswith("//")
                        or value.startswith("#")  # the skip link to the main content
                        or value.startswith(live.base_url + "/")), (tag, value)
    assert "alert(1)" in tags.text  # where the payload is: in text nodes only


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list]] = []
        self.text = ""

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, attrs))

    def handle_data(self, data):
        self.text += data


def test_security_headers_on_every_kind_of_answer(live, alice):
    token = PageTokens(live.secret_key).make(_action(alice))
    answers = [_get(live, token), _get(live, "bad"),
               requests.get(f"{live.base_url}/", timeout=30),
               requests.get(f"{live.base_url}/static/style.css", timeout=30),
               requests.post(f"{live.base_url}/a/{token}/close", timeout=30)]
    assert [a.status_code for a in answers] == [200, 404, 200, 200, 400]
    for answer in answers:
        csp = {d.split()[0]: d.split()[1:] for d in
               answer.headers["Content-Security-Policy"].split(";") if d.strip()}
        assert csp["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval'
        assert csp["frame-ancestors"] == ["'none'"]
        assert csp["default-src"] == ["'self'"]
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Referrer-Policy"] in ("no-referrer", "same-origin")
    page = answers[0].text
    assert not re.search(r"<script(?![^>]*\bsrc=)", page, re.IGNORECASE)  # no inline script


def _cookie(headers) -> str:
    cookies = [v for k, v in headers if k.lower() == "set-cookie" and v.startswith("session=")]
    assert cookies, "the page sets a session cookie for its CSRF token"
    return cookies[0]


def test_session_cookie_is_httponly_and_samesite(live, alice):
    token = PageTokens(live.secret_key).make(_action(alice))
    page = _get(live, token)
    cookie = _cookie(page.raw.headers.items())
    attributes = {a.strip().split("=")[0].lower(): a for a in cookie.split(";")}
    assert "httponly" in attributes
    assert attributes["samesite"].split("=")[1].strip().lower() in ("lax", "strict")
    assert "secure" not in attributes  # plain http on 127.0.0.1: a Secure cookie never returns


def test_session_cookie_is_secure_behind_tls(live, alice, tmp_path):
    """With an https BASE_URL (TLS ends at a proxy) the cookie is Secure."""
    path = _action(alice)
    data = DataDir.at(live.data.root)
    app = embedded.build(data, "https://crm.example.org", live.base_url, create_app)
    token = PageTokens(data.secret_key()).make(path)
    answer = Client(app).get(f"/a/{token}", headers={"X-Forwarded-Proto": "https"})
    assert answer.status_code == 200
    cookie = _cookie(answer.headers.items())
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_companion_alone_behind_tls_sets_secure_cookies():
    """Run from FOLLOWUP_* settings (not `followup serve`), an https BASE_URL still means
    Secure; an explicit setting wins."""
    assert create_app({"SECRET_KEY": "k", "BASE_URL": "https://crm.example.org"}) \
        .config["SESSION_COOKIE_SECURE"] is True
    assert create_app({"SECRET_KEY": "k", "BASE_URL": "http://127.0.0.1:5232"}) \
        .config["SESSION_COOKIE_SECURE"] is False
    assert create_app({"SECRET_KEY": "k", "BASE_URL": "https://x",
                       "SESSION_COOKIE_SECURE": False}).config["SESSION_COOKIE_SECURE"] is False


def test_post_on_an_action_deleted_meanwhile_is_404(live, alice):
    path = _action(alice)
    token = PageTokens(live.secret_key).make(path)
    session = requests.Session()
    csrf = CSRF.search(session.get(f"{live.base_url}/a/{token}", timeout=30).text).group(1)
    alice.delete(alice.get(path))
    for route in ("close", "close-and-create"):
        answer = session.post(f"{live.base_url}/a/{token}/{route}", timeout=30,
                              data={"csrf_token": csrf, "summary": "x", "due": "2027-01-01"})
        assert answer.status_code == 404
    session.close()


CRAFTED = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//evil//EN\r
BEGIN:VTODO\r
UID:crafted-1\r
DTSTAMP:20261201T100000Z\r
SUMMARY:Mine\r
X-FOLLOWUP-PREVIOUS;X-HREF="{href}":{uid}\r
X-FOLLOWUP-NEXT;X-HREF="{href}":{uid}\r
END:VTODO\r
END:VCALENDAR\r
"""


@pytest.mark.parametrize("hop", ["../../bob/actions/{name}", "..%2F..%2Fbob%2Factions%2F{name}",
                                 "/dav/bob/actions/{name}", "./../../bob/actions/{name}"])
def test_chain_hints_cannot_reach_another_users_item(live, hop):
    """alice writes a chain link naming bob's item (same UID, as with a shared meeting
    invitation): her page must neither show it nor give her a link that closes it."""
    from server.store import Store

    bob = Store(live.base_url, "bob", PEOPLE["bob"])
    theirs = bob.new_action(bob.actions_calendar(), model.new("Bob's secret deal", "call"))
    crafted = CRAFTED.format(href=hop.format(name=theirs.href), uid=theirs.action.uid)
    assert _put(live, "alice", "crafted.ics", crafted) == 201
    tokens = PageTokens(live.secret_key)
    token = tokens.make(live.calendar_path("alice") + "crafted.ics")
    session = requests.Session()
    page = session.get(f"{live.base_url}/a/{token}", timeout=30)
    assert page.status_code == 200
    assert "secret deal" not in page.text
    assert tokens.make(theirs.path) not in page.text
    csrf = CSRF.search(page.text).group(1)
    answer = session.post(f"{live.base_url}/a/{token}/close-and-create", timeout=30,
                          data={"csrf_token": csrf, "summary": "x", "due": "2027-01-01",
                                "generation": "0"}, allow_redirects=False)
    session.close()
    assert tokens.make(theirs.path) not in answer.headers.get("Location", "")
    assert not bob.get(theirs.path).action.closed


PLAIN = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//client//EN\r
BEGIN:VTODO\r
UID:{uid}\r
DTSTAMP:20200101T000000Z\r
DUE:20200101T100000Z\r
SUMMARY:{summary}\r
END:VTODO\r
END:VCALENDAR\r
"""


def _page_link_of(live, user: str, wire_name: str) -> str:
    """The page link the plugin stamped into the item PUT at `wire_name` (as sent)."""
    text = requests.get(f"{live.calendar_url(user)}{wire_name}", auth=(user, PEOPLE[user]),
                        timeout=30).text
    return str(model.read(model.parse(text)).page)


def _close_from(link: str) -> requests.Response:
    session = requests.Session()
    page = session.get(link, timeout=30)
    answer = session.post(f"{link}/close", timeout=30, allow_redirects=False,
                          data={"csrf_token": CSRF.search(page.text).group(1)})
    session.close()
    return answer


@pytest.mark.parametrize("target", ["{bob_file}", ""])
def test_a_file_name_decoded_twice_never_leads_into_another_calendar(live, target):
    """alice names a file of hers ``y%2F..%2F..%2F..%2Fbob%2Factions%2F<bob's file>``
    (or his calendar): its page link must open her item, and Close must close hers."""
    from server.store import Store

    bob = Store(live.base_url, "bob", PEOPLE["bob"])
    theirs = bob.new_action(bob.actions_calendar(), model.new("Bob private", "call"))
    hop = "y%252F..%252F..%252F..%252Fbob%252Factions" + (
        "%252F" + target.format(bob_file=theirs.href) if target else "")
    assert _put(live, "alice", hop, PLAIN.format(uid="innocent-1", summary="innocent")) == 201
    link = _page_link_of(live, "alice", hop)
    page = requests.get(link, timeout=30)
    assert page.status_code == 200
    assert "innocent" in page.text and "Bob private" not in page.text
    assert _close_from(link).status_code == 303
    assert not bob.get(theirs.path).action.closed
    mine = requests.get(f"{live.calendar_url('alice')}{hop}", auth=("alice", PEOPLE["alice"]),
                        timeout=30).text
    assert model.read(model.parse(mine)).closed
    listed = requests.get(f"{live.base_url}/overdue", auth=("alice", PEOPLE["alice"]),
                          timeout=30)
    assert listed.status_code == 200 and "Bob private" not in listed.text


@pytest.mark.parametrize("wire_name", ["a%23b.ics", "%C3%A9t%C3%A9%201.ics",
                                       "p%2525.ics"])
def test_odd_file_names_get_links_to_themselves(live, alice, wire_name):
    """``#``, ``?``, non-ASCII and ``%`` in a client's file name: the link opens that item
    and no other, and the server lists it under the name it was PUT to."""
    from urllib.parse import unquote

    assert _put(live, "alice", "a.ics", PLAIN.format(uid="other-a", summary="other")) == 201
    assert _put(live, "alice", wire_name, PLAIN.format(uid="odd-1", summary="odd one")) == 201
    link = _page_link_of(live, "alice", wire_name)
    page = requests.get(link, timeout=30)
    assert page.status_code == 200 and "odd one" in page.text
    assert _close_from(link).status_code == 303
    calendar = live.calendar_path("alice")
    hrefs = set(alice.etags(calendar))
    assert calendar + unquote(wire_name) in hrefs
    assert alice.get(calendar + unquote(wire_name)).action.closed
    assert not alice.get(calendar + "a.ics").action.closed


def test_a_token_naming_a_calendar_is_not_an_action(live, alice):
    """A calendar with one item answers GET with that item: still not a page."""
    _action(alice)
    tokens = PageTokens(live.secret_key)
    for path in (live.calendar_path("alice"), live.calendar_path("alice").rstrip("/")):
        assert _get(live, tokens.make(path)).status_code == 404


def test_caldav_answers_carry_the_security_headers_too(live, alice):
    path = _action(alice)
    answers = [requests.get(f"{live.base_url}{path}", auth=("alice", PEOPLE["alice"]),
                            timeout=30),
               requests.get(f"{live.base_url}/.well-known/caldav", timeout=30,
                            allow_redirects=False),
               requests.request("PROPFIND", live.calendar_url("alice"), timeout=30)]
    assert [a.status_code for a in answers] == [200, 301, 401]
    for answer in answers:
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
        assert answer.headers["X-Frame-Options"] == "DENY"


def test_a_token_with_characters_added_is_not_the_same_link(live, alice):
    token = PageTokens(live.secret_key).make(_action(alice))
    assert _get(live, token).status_code == 200
    for added in ("%C3%A9", "%20", "!", "%00"):
        assert _get(live, token + added).status_code == 404


@pytest.mark.parametrize("header", ["Basic !!!not-base64", "Basic " + base64.b64encode(
    b"\xff\xfe:\xff").decode(), "basic"])
def test_a_basic_header_that_cannot_be_read_is_a_wrong_login(live, header):
    answer = requests.get(f"{live.base_url}/overdue", headers={"Authorization": header},
                          timeout=30, allow_redirects=False)
    assert answer.status_code == 401



def test_serve_writes_the_data_folder_for_its_owner_only(tmp_path):
    """Collections and the index hold page links (capabilities), users the password hashes:
    `followup serve` started by someone whose umask is 022 still writes nothing that the
    group or others may read, list or enter."""
    from tests.dav import Client as DavClient
    from tests.test_acceptance import Served, run

    data = tmp_path / "var"
    old_umask = os.umask(0o022)  # the usual login umask, inherited by the processes below
    try:
        assert run("user", "add", "alice", "--password", "alice-pw",
                   "--data", str(data)).returncode == 0
        server = Served(data)
    finally:
        os.umask(old_umask)
    try:
        dav = DavClient(server.base, "alice", "alice-pw")
        path = "/dav/alice/actions/perm.ics"
        sent = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//c//EN\r\nBEGIN:VTODO\r\n"
                "UID:perm-1\r\nDTSTAMP:20261201T100000Z\r\nSUMMARY:Private\r\n"
                "DUE;VALUE=DATE:20200101\r\nEND:VTODO\r\nEND:VCALENDAR\r\n")
        assert dav.put(path, sent).status_code == 201
        page = model.read(model.parse(dav.text(path))).page
        assert requests.get(page, timeout=30).status_code == 200  # sessions, caches: all made
    finally:
        server.stop()
    found = [data, *data.rglob("*")]
    names = {p.relative_to(data).as_posix() for p in found}
    for expected in ("collections", "users", "secret_key",
                     "collections/collection-root/alice/actions/perm.ics",
                     "collections/collection-root/alice/actions/.Radicale.cache"):
        assert expected in names, sorted(names)
    assert any(name.endswith(".sqlite") for name in names), sorted(names)  # the index
    loose = {p.relative_to(data).as_posix() or ".": oct(stat.S_IMODE(p.lstat().st_mode))
             for p in found if stat.S_IMODE(p.lstat().st_mode) & 0o077}
    assert not loose, loose
