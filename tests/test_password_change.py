"""A new password takes effect at once: the old one stops working on the next request.

Radicale remembers successful logins (a bcrypt check per CalDAV request would be slow); the
remembered login must not outlive a change of the users file (plugins/auth.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import requests

from tests.conftest import PEOPLE

FOLLOWUP = str(Path(sys.executable).parent / "followup")
PROPFIND = '<?xml version="1.0"?><propfind xmlns="DAV:"><prop><displayname/></prop></propfind>'


def _caldav(live, user: str, password: str) -> int:
    return requests.request("PROPFIND", f"{live.base_url}/dav/{user}/", auth=(user, password),
                            headers={"Depth": "0"}, data=PROPFIND, timeout=30).status_code


def _page(live, user: str, password: str) -> int:
    return requests.get(f"{live.base_url}/overdue", auth=(user, password), timeout=30,
                        allow_redirects=False).status_code


def test_the_old_password_stops_working_at_once(live):
    old = PEOPLE["bob"]
    assert _caldav(live, "bob", old) == 207 and _page(live, "bob", old) == 200  # remembered
    done = subprocess.run([FOLLOWUP, "user", "add", "bob", "--password", "bob-new-pw",
                           "--data", str(live.data.root)], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "FOLLOWUP_BCRYPT_ROUNDS": "4"})
    assert done.returncode == 0, done.stderr
    assert _caldav(live, "bob", old) == 401
    assert _page(live, "bob", old) == 401
    assert _caldav(live, "bob", "bob-new-pw") == 207
    assert _page(live, "bob", "bob-new-pw") == 200
    # Remembered again with the new one; alice, whose line did not change, still logs in.
    assert _caldav(live, "bob", "bob-new-pw") == 207
    assert _caldav(live, "alice", PEOPLE["alice"]) == 207


def test_a_wrong_password_then_the_right_one(live):
    """Nothing remembers a failure: the right password works right after a wrong one."""
    assert _caldav(live, "alice", "wrong") == 401
    assert _caldav(live, "alice", PEOPLE["alice"]) == 207


def test_a_login_is_checked_once_while_the_file_is_unchanged(tmp_path):
    """The point of remembering: one bcrypt check, not one per request."""
    import radicale.auth

    from server import embedded, users
    from server.settings import DataDir

    data = DataDir.at(tmp_path / "var")
    users.set_password(data.users_file, "carol", "carol-pw")
    auth = radicale.auth.load(embedded.radicale_config(data, "http://127.0.0.1:9"))
    checks = []
    verify = auth._verify
    auth._verify = lambda digest, password: checks.append(1) or verify(digest, password)
    context = radicale.auth.AuthContext()
    for _ in range(3):
        assert auth.login("carol", "carol-pw", context)[0] == "carol"
    assert len(checks) == 1
    users.set_password(data.users_file, "carol", "carol-new")
    assert auth.login("carol", "carol-pw", context)[0] == ""
    assert auth.login("carol", "carol-new", context)[0] == "carol"
    assert len(checks) == 3
