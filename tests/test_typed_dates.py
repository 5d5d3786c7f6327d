"""One rule for dates people type, on the page and on the command line (model.parse_due).

Years 1900 to 2199 (outside is a typo), YYYY-MM-DD or YYYY-MM-DDTHH:MM, and a time must
exist in the zone: one in the hour the clocks skip in spring is refused, not moved.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from server import model
from server.tokens import PageTokens
from tests.conftest import PEOPLE

PARIS = ZoneInfo("Europe/Paris")
FOLLOWUP = str(Path(sys.executable).parent / "followup")
OUTSIDE = ["0001-01-01", "9999-12-31T23:59", "1899-12-31", "2200-01-01", "0001-01-01T00:00+05:00"]
RANGE = "with a year from 1900 to 2199"


@pytest.mark.parametrize("typed", OUTSIDE + ["next tuesday", "31/12/2026"])
def test_one_message_names_the_forms_and_the_years(typed):
    with pytest.raises(model.DateError) as refused:
        model.parse_due(typed, PARIS)
    assert refused.value.problem == "unreadable"
    assert "YYYY-MM-DD or YYYY-MM-DDTHH:MM" in str(refused.value)
    assert RANGE in str(refused.value)


def test_the_first_and_last_accepted_days():
    assert model.parse_due("1900-01-01", PARIS) == dt.date(1900, 1, 1)
    assert model.parse_due("2199-12-31T23:59", PARIS) == dt.datetime(2199, 12, 31, 23, 59,
                                                                     tzinfo=PARIS)


def test_a_time_the_clocks_skip_is_refused_and_a_doubled_one_is_the_first():
    with pytest.raises(model.DateError) as refused:
        model.parse_due("2027-03-28T02:30", PARIS)
    assert refused.value.problem == "skipped"
    assert "2027-03-28T02:30 does not exist in Europe/Paris" in str(refused.value)
    assert model.parse_due("2027-03-28T03:30", PARIS).utcoffset() == dt.timedelta(hours=2)
    autumn = model.parse_due("2027-10-31T02:30", PARIS)  # happens twice: the first one
    assert autumn.fold == 0 and autumn.utcoffset() == dt.timedelta(hours=2)
    assert model.parse_due("2027-03-28T02:30", dt.UTC).hour == 2  # no gap in UTC


def _new(live, due: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [FOLLOWUP, "new", "Call", "--url", live.base_url, "--user", "alice", "--due", due],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "FOLLOWUP_PASSWORD": PEOPLE["alice"], **env})


@pytest.mark.parametrize("typed", OUTSIDE)
def test_the_command_line_refuses_what_the_page_refuses(live, alice, typed):
    done = _new(live, typed, TZ="Europe/Paris")
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert RANGE in done.stderr
    assert list(alice.list(live.calendar_path("alice"))) == []


def test_the_command_line_refuses_a_time_the_clocks_skip(live, alice):
    done = _new(live, "2027-03-28T02:30", TZ="Europe/Paris")
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert "does not exist in Europe/Paris" in done.stderr
    assert _new(live, "1900-01-01", TZ="Europe/Paris").returncode == 0


@pytest.fixture
def action_url(live, alice):
    stored = alice.new_action(live.calendar_path("alice"),
                              model.new("Call back", "call", dt.date(2026, 12, 1)))
    return stored, "/a/" + PageTokens(live.secret_key).make(stored.path)


def _post_next(client, url: str, due: str, language: str = "en"):
    html = client.get(url).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    return client.post(url + "/close-and-create", headers={"Accept-Language": language},
                       data={"csrf_token": token, "summary": "Next", "due": due,
                             "kind": "call"})


@pytest.mark.parametrize("typed", OUTSIDE)
def test_the_page_refuses_with_the_same_rule(client, action_url, alice, typed):
    stored, url = action_url
    response = _post_next(client, url, typed)
    assert response.status_code == 400
    assert RANGE in response.get_data(as_text=True)
    assert not alice.get(stored.path).action.closed


def test_the_page_accepts_the_first_day_and_refuses_a_skipped_time(client, action_url, alice):
    stored, url = action_url
    response = _post_next(client, url, "2027-03-28T02:30")  # the app's zone is Europe/Paris
    assert response.status_code == 400
    assert "2027-03-28T02:30 does not exist in Europe/Paris" in response.get_data(as_text=True)
    french = _post_next(client, url, "2027-03-28T02:30", "fr").get_data(as_text=True)
    assert "existe pas dans le fuseau Europe/Paris" in french
    assert "entre 1900 et 2199" in _post_next(client, url, "0001-01-01", "fr").get_data(
        as_text=True)
    assert not alice.get(stored.path).action.closed
    assert _post_next(client, url, "1900-01-01").status_code == 303
