"""Shared fixtures: a real followup server, and the Flask tutorial's app/client/runner."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("FOLLOWUP_BCRYPT_ROUNDS", "4")  # cheap hashes; the format is the same
# Tests change calendars behind the pages' back and look at once: no listing reuse window.
os.environ.setdefault("FOLLOWUP_LISTING_TTL", "0")

from server.store import Store  # noqa: E402
from tests.servers import LiveServer  # noqa: E402
from web import create_app  # noqa: E402

CASES = Path(__file__).resolve().parent.parent.parent / "shared" / "cases"
PEOPLE = {"alice": "alice-password", "bob": "bob-password"}


@pytest.fixture
def live(tmp_path):
    """followup serve, for real, on 127.0.0.1 (Radicale with strict_preconditions)."""
    server = LiveServer(tmp_path / "var", PEOPLE).start()
    yield server
    server.stop()


@pytest.fixture
def app(live):
    """A companion configured against the live server's Radicale."""
    user, password = live.service
    return create_app({
        "TESTING": True,
        "SECRET_KEY": live.secret_key,
        "CALDAV_URL": live.dav_url,
        "CALDAV_USER": user,
        "CALDAV_PASSWORD": password,
        "BASE_URL": live.base_url,
        "TIMEZONE": "Europe/Paris",
        "SESSIONS_FILE": str(live.data.sessions_file),
    })


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def alice(live) -> Store:
    """alice's own CalDAV account, as a client would use it."""
    return Store(live.base_url, "alice", PEOPLE["alice"])


@pytest.fixture
def paris(tmp_path):
    """followup serve whose pages read the calendar in Europe/Paris, whatever this machine's
    zone: real HTTP tests can then say at which hour and on which day an entry shows."""
    server = LiveServer(tmp_path / "var", PEOPLE, timezone="Europe/Paris").start()
    yield server
    server.stop()


@pytest.fixture
def http(paris):
    """alice's browser on that server, minus the rendering: HTTP Basic on every request."""
    import requests

    session = requests.Session()
    session.auth = ("alice", PEOPLE["alice"])
    return session
