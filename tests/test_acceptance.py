"""The main job, tried as a new user would: the real commands in real processes.

followup user add, followup serve (its own process, on a loopback port), followup new; then
the caldav library as that user, the page in the item's URL, and close-and-create on it.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import caldav
import pytest
import requests

from server import model
from tests.dav import Client
from tests.pages import Page

BIN = Path(sys.executable).parent
FOLLOWUP = str(BIN / "followup")
LINKS = {"account": "ACME", "contact": "Jane Doe", "opportunity": "ACME renewal 2027",
         "project": "Roll-out"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "FOLLOWUP_BCRYPT_ROUNDS": "4"}
    return subprocess.run([FOLLOWUP, *args], capture_output=True, text=True, env=env,
                          timeout=120)


def listening(base_url: str, deadline: float) -> bool:
    """Whether a server answers HTTP at `base_url` before `deadline` (time.monotonic())."""
    while time.monotonic() < deadline:
        try:
            requests.get(base_url + "/", timeout=2)
            return True
        except requests.ConnectionError:
            time.sleep(0.1)
    return False


class Served:
    """`followup serve` in its own process; port 0 lets it choose and read the banner."""

    def __init__(self, data: Path, *options: str, port: int | None = None) -> None:
        self.data = data
        self.port = free_port() if port is None else port
        env = {**os.environ, "FOLLOWUP_BCRYPT_ROUNDS": "4"}
        self.proc = subprocess.Popen(
            [FOLLOWUP, "serve", "--port", str(self.port), "--data", str(data), *options],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self.banner = ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            self.banner += line
            if "Stop with Ctrl+C" in line or not line:
                break
        if self.port == 0:
            found = re.search(r"running at http://127\.0\.0\.1:(\d+)/", self.banner)
            assert found, self.banner
            self.port = int(found.group(1))
        self.base = f"http://127.0.0.1:{self.port}"
        if not listening(self.base, deadline):
            raise AssertionError(f"followup serve did not start:\n{self.banner}")

    def stop(self) -> str:
        self.proc.terminate()
        try:
            out, _ = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        return out


@pytest.fixture
def served(tmp_path):
    data = tmp_path / "var"
    added = run("user", "add", "alice", "--password", "alice-pw", "--data", str(data))
    assert added.returncode == 0, added.stderr
    server = Served(data)
    yield server
    server.stop()


def test_first_start_prints_caldav_url_and_credentials(tmp_path):
    """As `make run` starts it: with the shipped config/radicale.ini."""
    config = Path(__file__).resolve().parent.parent / "config" / "radicale.ini"
    server = Served(tmp_path / "var", "--radicale-config", str(config))
    try:
        banner = server.banner
        assert f"{server.base}/dav/" in banner
        match = re.search(r"made user '(\w+)' with password (\S+)", banner)
        assert match, banner
        user, password = match.groups()
        principal = caldav.DAVClient(url=server.base, username=user, password=password,
                                     require_tls=False).principal()
        [calendar] = principal.calendars()
        assert calendar.get_display_name() == "Actions"
        # The plugins run under that config: a client's task gets its page link, and an
        # overwrite that does not say which version it replaces is refused.
        client = Client(server.base, user, password)
        path = calendar.url.path + "first.ics"
        sent = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//c//EN\r\nBEGIN:VTODO\r\n"
                "UID:first\r\nDTSTAMP:20261201T090000Z\r\nSUMMARY:Call\r\n"
                "END:VTODO\r\nEND:VCALENDAR\r\n")
        assert client.put(path, sent).status_code == 201
        assert f"URL;VALUE=URI:{server.base}/a/" in client.text(path).replace("\r\n ", "")
        unconditional = client.http.put(client.url(path), data=sent.encode(), timeout=30,
                                        headers={"Content-Type": "text/calendar"})
        assert unconditional.status_code == 412
    finally:
        server.stop()


def test_new_user_end_to_end(served):
    created = run("new", "Call the buyer", "--url", served.base, "--user", "alice",
                  "--password", "alice-pw", "--type", "call", "--due", "2026-12-01",
                  *[arg for kind, label in LINKS.items() for arg in (f"--{kind}", label)])
    assert created.returncode == 0, created.stderr

    # The caldav library, logged in as alice, finds the action with its link and links.
    client = caldav.DAVClient(url=served.base, username="alice", password="alice-pw",
                              require_tls=False)
    [calendar] = client.principal().calendars()
    [todo] = calendar.search(todo=True, include_completed=True)
    comp = model.main_component(model.parse(todo.data))
    assert comp["URL"].params["VALUE"] == "URI"
    page_url = str(comp["URL"])
    assert page_url.startswith(served.base + "/a/")
    assert "VALUE=URI:" + page_url[:40] in todo.data.replace("\r\n ", "")
    action = model.read(model.parse(todo.data))
    assert {k: link.label for k, link in action.links.items()} == LINKS

    # GET of that URL shows the page; close-and-create on it.
    page = Page.open(page_url)
    assert "Call the buyer" in page.html and page.has_form("close")
    target, fields = page.form("close-and-create")
    assert fields["kind"] == "call" and fields["due"]  # pre-filled: same kind, a delay
    response = page.submit("close-and-create", summary="Send the quote",
                           due="2026-12-10T10:00", kind="email")
    next_page = page.follow(response)
    assert "Send the quote" in next_page.html

    # What serve wrote is its owner's alone (the calendars are business data).
    data = served.data
    for place in [data / "collections", *(data / "collections").rglob("*")]:
        assert place.stat().st_mode & 0o077 == 0, place

    dav = Client(served.base, "alice", "alice-pw")
    path = "/dav/alice/actions/" + todo.url.path.rsplit("/", 1)[-1]
    closed = model.main_component(model.parse(dav.text(path)))
    assert str(closed["STATUS"]) == "COMPLETED"
    assert "COMPLETED" in closed and int(closed["PERCENT-COMPLETE"]) == 100

    items = calendar.search(todo=True, include_completed=True)
    successors = [model.read(model.parse(i.data)) for i in items
                  if model.read(model.parse(i.data)).uid != action.uid]
    assert len(successors) == 1
    nxt = successors[0]
    assert nxt.links == action.links and nxt.kind == "email"
    assert nxt.previous == action.uid
    assert model.read(model.parse(dav.text(path))).next == nxt.uid
    assert nxt.page and nxt.page != page_url and nxt.page in next_page.url

    # The same form again (a double click, a retry) makes no second successor.
    again = page.submit("close-and-create", summary="Send the quote",
                        due="2026-12-10T10:00", kind="email")
    assert again.status_code == 303
    assert len(calendar.search(todo=True, include_completed=True)) == 2


def test_plain_client_task_gets_a_link_and_closes(served):
    dav = Client(served.base, "alice", "alice-pw")
    path = "/dav/alice/actions/plain.ics"
    sent = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Some client//EN\r\n"
            "BEGIN:VTODO\r\nUID:plain-1\r\nDTSTAMP:20261201T100000Z\r\n"
            "SUMMARY:Renew the insurance\r\nEND:VTODO\r\nEND:VCALENDAR\r\n")
    assert dav.put(path, sent).status_code == 201
    comp = model.main_component(model.parse(dav.text(path)))
    page = Page.open(str(comp["URL"]))
    assert "Renew the insurance" in page.html
    page.follow(page.submit("close"))
    closed = model.main_component(model.parse(dav.text(path)))
    assert str(closed["STATUS"]) == "COMPLETED" and int(closed["PERCENT-COMPLETE"]) == 100
    assert "COMPLETED" in closed and model.PROP_CLOSED in closed


def test_well_known_and_server_address_lead_to_caldav(served):
    response = requests.get(served.base + "/.well-known/caldav", allow_redirects=False,
                            timeout=10)
    assert response.status_code in (301, 308)
    assert response.headers["Location"].endswith("/dav/")
    log = served.stop()
    assert re.search(r"GET /\.well-known/caldav 30\d", log)  # one line per request


def test_serve_says_when_the_port_is_taken_or_the_zone_unknown(served, tmp_path):
    taken = run("serve", "--port", str(served.port), "--data", str(tmp_path / "other"))
    assert taken.returncode == 1 and "--port" in taken.stderr
    assert "Traceback" not in taken.stderr
    zone = run("serve", "--port", str(free_port()), "--data", str(tmp_path / "z"),
               "--timezone", "Mars/Base")
    assert zone.returncode == 1 and "time zone" in zone.stderr


def test_serve_tells_how_to_rewrite_links_after_a_new_base_url(tmp_path):
    data = tmp_path / "var"
    Served(data).stop()
    moved = Served(data, "--base-url", "https://crm.example.org")
    try:
        assert f"{FOLLOWUP} restamp --url {moved.base}" in moved.banner  # pastes as printed
        assert "--base-url https://crm.example.org" in moved.banner
    finally:
        moved.stop()
    rotated = run("rotate-secret", "--data", str(data))
    assert rotated.returncode == 0, rotated.stderr
    # The server's own port and public address, not a default one.
    assert f"restamp --url {moved.base} --base-url https://crm.example.org " \
        f"--data {data}" in rotated.stdout


def test_first_start_hint_is_a_command_that_works_as_printed(tmp_path):
    data = tmp_path / "elsewhere"
    first = Served(data)
    first.stop()
    hint = re.search(r"shown once: (.*)\)", first.banner).group(1)
    assert hint == f"{FOLLOWUP} user add sales --data {data}"  # no password to type in
    renewed = subprocess.run(hint.split(), capture_output=True, text=True, timeout=60,
                             env={**os.environ, "FOLLOWUP_BCRYPT_ROUNDS": "4"})
    assert renewed.returncode == 0 and "password: " in renewed.stdout
