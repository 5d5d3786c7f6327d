"""Record names typed in NFC or NFD are one record; a summary has one limit, in the model."""

from __future__ import annotations

import base64
import datetime as dt
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from server import agenda, model, nextstep
from tests.conftest import PEOPLE

FOLLOWUP = str(Path(sys.executable).parent / "followup")
NFC = unicodedata.normalize("NFC", "Café deal")
NFD = unicodedata.normalize("NFD", "Café deal")


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([FOLLOWUP, *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "FOLLOWUP_PASSWORD": PEOPLE["alice"]})


def test_a_name_in_nfc_and_in_nfd_is_one_uri():
    assert NFC != NFD
    one, two = model.Link.named("opportunity", NFC), model.Link.named("opportunity", NFD)
    assert one == two and one.uri == "urn:followup:opportunity:Caf%C3%A9%20deal"
    # A URI of another system is kept exactly as it was given.
    other = "https://crm.example.org/deals/Cafe\u0301"
    assert model.Link.named("opportunity", other).uri == other


def test_records_group_nfc_and_nfd_urns_alike():
    """A client (or an older followup) may have written the NFD spelling of the URN."""
    written_nfd = model.Link("opportunity", "urn:followup:opportunity:Cafe%CC%81%20deal", NFD)
    items = [agenda.Item(f"/dav/alice/actions/{n}.ics", model.read(
        model.new(f"Step {n}", "call", dt.date(2026, 12, n + 1), [link])))
        for n, link in enumerate([model.Link.named("opportunity", NFC), written_nfd])]
    [record] = agenda.records(items, "opportunity")
    assert len(record.items) == 2
    assert agenda.record(items, "opportunity", written_nfd.uri) == record
    assert model.link_key("urn:followup:account:ACME") == "urn:followup:account:ACME"
    assert model.link_key("mailto:Cafe\u0301@example.org") == "mailto:Cafe\u0301@example.org"


def test_new_in_nfc_and_nfd_makes_one_opportunity(live, alice):
    for summary, name in (("First", NFC), ("Second", NFD)):
        done = _run("new", summary, "--url", live.base_url, "--user", "alice", "--due",
                    "2026-12-01", "--opportunity", name)
        assert done.returncode == 0, done.stderr
    uris = {s.action.links["opportunity"].uri for s in alice.list(live.calendar_path("alice"))}
    assert uris == {"urn:followup:opportunity:Caf%C3%A9%20deal"}
    token = base64.b64encode(f"alice:{PEOPLE['alice']}".encode()).decode()
    from web import create_app

    user, password = live.service
    app = create_app({"TESTING": True, "SECRET_KEY": live.secret_key,
                      "CALDAV_URL": live.dav_url, "CALDAV_USER": user,
                      "CALDAV_PASSWORD": password, "BASE_URL": live.base_url})
    html = app.test_client().get("/records/opportunity",
                                 headers={"Authorization": f"Basic {token}"}).get_data(
                                     as_text=True)
    assert unicodedata.normalize("NFC", html).count(NFC) == 1, html


def test_new_refuses_a_summary_longer_than_the_limit_without_echoing_it(live, alice):
    done = _run("new", "x" * 100_000, "--url", live.base_url, "--user", "alice")
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert "100,000 characters" in done.stderr and "500" in done.stderr
    assert len(done.stderr) < 200 and done.stdout == ""
    assert list(alice.list(live.calendar_path("alice"))) == []
    assert _run("new", "y" * 500, "--url", live.base_url, "--user", "alice").returncode == 0


def test_the_model_limit_is_the_pages_limit():
    from web.actions import SUMMARY_LIMIT

    assert SUMMARY_LIMIT == model.SUMMARY_LIMIT == 500
    with pytest.raises(model.ActionError, match="500"):
        model.new("z" * 501)


def test_a_planning_task_for_a_long_label_stays_within_the_limit():
    link = model.Link.named("opportunity", "o" * 2000)
    closed = model.close(model.new("Call", "call", dt.date(2026, 12, 1), [link]))
    task = model.read(nextstep.plan_task(closed, link, dt.date(2026, 12, 2)))
    assert len(task.summary) == model.SUMMARY_LIMIT and task.summary.endswith("…")


def test_a_summary_typed_with_combining_accents_counts_as_it_shows():
    """300 "é" typed on a Mac (e + U+0301 each) are 300 characters, stored as NFC."""
    typed = "e\u0301" * 300
    action = model.read(model.new(typed))
    assert action.summary == "\u00e9" * 300
