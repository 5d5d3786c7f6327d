"""A task ticked in todoman (a real client) closes the action, page included.

todoman works on a local folder that vdirsyncer (a real sync client) keeps in step with the
live server over http://127.0.0.1. Both are installed from PyPI by the test extras and run
as subprocesses from the venv's bin folder, each configured in a temporary folder.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from server import model
from server.store import item_path
from tests.conftest import PEOPLE

BIN = Path(sys.executable).parent
OPP = model.Link("opportunity", "urn:followup:opportunity:Renewal%202027", "Renewal 2027")


def _run(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120,
                            input="")
    assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture
def clients(live, tmp_path):
    """(vdirsyncer sync, todo ...) configured for alice's actions calendar."""
    if not (BIN / "todo").exists() or not (BIN / "vdirsyncer").exists():
        pytest.fail("todoman and vdirsyncer come with the test extras: make test installs them")
    local = tmp_path / "calendars" / "actions"
    local.mkdir(parents=True)
    (tmp_path / "vdirsyncer.conf").write_text(f"""\
[general]
status_path = "{tmp_path}/status/"

[pair actions]
a = "local"
b = "server"
collections = null
conflict_resolution = "b wins"

[storage local]
type = "filesystem"
path = "{local}"
fileext = ".ics"

[storage server]
type = "caldav"
url = "{live.calendar_url('alice')}"
username = "alice"
password = "{PEOPLE['alice']}"
""")
    (tmp_path / "todoman.py").write_text(f"""\
path = "{tmp_path}/calendars/*"
cache_path = "{tmp_path}/todoman-cache.sqlite3"
date_format = "%Y-%m-%d"
time_format = "%H:%M"
default_list = "actions"
""")
    env = {"HOME": str(tmp_path), "PATH": f"{BIN}:/usr/bin:/bin", "LANG": "C.UTF-8",
           "LC_ALL": "C.UTF-8", "XDG_CACHE_HOME": str(tmp_path / "cache")}

    def sync() -> None:
        _run(str(BIN / "vdirsyncer"), "-c", str(tmp_path / "vdirsyncer.conf"), "sync",
             env=env)

    def todo(*args: str) -> str:
        return _run(str(BIN / "todo"), "--config", str(tmp_path / "todoman.py"), *args,
                    env=env)

    _run(str(BIN / "vdirsyncer"), "-c", str(tmp_path / "vdirsyncer.conf"), "discover",
         env=env)
    return sync, todo


def _get(url: str, auth: tuple[str, str] | None = None) -> str:
    request = urllib.request.Request(url)
    if auth:
        import base64

        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read().decode()


def test_ticking_in_todoman_closes_the_action(live, alice, clients):
    sync, todo = clients
    calendar = live.calendar_path("alice")
    action = model.new("Send the renewal offer", "email", dt.date(2026, 12, 20), [OPP],
                       uid="todoman-1")
    other = model.new("Call the buyer", "call", dt.date(2026, 12, 21), [OPP], uid="todoman-2")
    alice.create(item_path(calendar, "todoman-1"), action)
    alice.create(item_path(calendar, "todoman-2"), other)
    sync()
    listed = json.loads(todo("--porcelain", "list"))
    ids = {t["summary"]: t["id"] for t in listed}
    assert set(ids) == {"Send the renewal offer", "Call the buyer"}
    todo("done", str(ids["Send the renewal offer"]))
    sync()

    stored = alice.get(item_path(calendar, "todoman-1"))
    comp = model.main_component(stored.cal)
    assert str(comp["STATUS"]) == "COMPLETED"
    assert "COMPLETED" in comp and str(comp["PERCENT-COMPLETE"]) == "100"
    assert model.PROP_CLOSED in comp
    assert stored.action.links == {"opportunity": OPP}  # todoman kept or we restored them
    page = stored.action.page
    assert page and page.startswith(live.base_url)
    html = _get(page)
    state = re.search(r'class="state">([^<]*)<', html)
    assert state and state.group(1).startswith("Closed"), html[:500]

    # The other action is still open: no planning task yet. Ticking it makes exactly one,
    # and syncing again (a retry of the same state) makes no other.
    todo("done", str(ids["Call the buyer"]))
    sync()
    sync()
    titles = [a.action.summary for a in alice.list(calendar)]
    assert titles.count("Plan the next step: Renewal 2027") == 1
    assert len(titles) == 3


def test_a_task_made_in_todoman_without_a_due_date_is_on_the_overdue_page(live, clients,
                                                                          tmp_path):
    sync, todo = clients
    with open(tmp_path / "todoman.py", "a") as config:
        config.write("default_due = 0\n")  # todoman's way to make tasks with no due date
    todo("new", "Ring Jane some day")
    sync()
    html = _get(f"{live.base_url}/overdue", auth=("alice", PEOPLE["alice"]))
    section = re.search(r'<section[^>]*id="undated"[^>]*>(.*?)</section>', html, re.S)
    assert section and "Ring Jane some day" in section.group(1)
