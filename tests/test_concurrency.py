"""Parallel close-and-create and concurrent edits against a real Radicale (strict_preconditions).

The acceptance line: 20 rounds of 10 parallel submits of the page's form make 20 successors,
not 200. Then the same from separate processes, and a calendar client editing the action
while the page closes it: neither change may be lost.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import pytest
import requests
from flask import g

from server import model
from server.store import Conflict, Store
from server.tokens import PageTokens
from tests.conftest import PEOPLE
from tests.test_acceptance import free_port, listening

ROUNDS = 20
PARALLEL = 10
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
GENERATION = re.compile(r'name="generation" value="([^"]*)"')


def _form(base_url: str, token: str) -> tuple[requests.Session, dict[str, str]]:
    """Open the page like a phone would: its session cookie and the form as shown."""
    session = requests.Session()
    page = session.get(f"{base_url}/a/{token}", timeout=60)
    assert page.status_code == 200
    return session, {"csrf_token": CSRF.search(page.text).group(1),
                     "generation": GENERATION.search(page.text).group(1),
                     "summary": "Send the offer", "due": "2027-02-01", "kind": "email"}


def _chain_state(store: Store, calendar: str) -> tuple[dict[str, model.Action], list]:
    actions = {s.action.uid: s.action for s in store.list(calendar)}
    successors = [a for a in actions.values() if a.previous]
    return actions, successors


def test_parallel_submits_make_one_successor_each(live, alice):
    calendar = alice.actions_calendar()
    tokens = PageTokens(live.secret_key)
    with ThreadPoolExecutor(PARALLEL) as pool:
        for round_ in range(ROUNDS):
            stored = alice.new_action(calendar, model.new(f"Call {round_}", "call"))
            token = tokens.make(stored.path)
            forms = list(pool.map(_form, [live.base_url] * PARALLEL, [token] * PARALLEL))
            start = threading.Barrier(PARALLEL)

            def submit(form, token=token, start=start):
                session, data = form
                start.wait(timeout=60)
                return session.post(f"{live.base_url}/a/{token}/close-and-create", data=data,
                                    allow_redirects=False, timeout=60)

            answers = list(pool.map(submit, forms))
            for session, _ in forms:
                session.close()
            assert [a.status_code for a in answers] == [303] * PARALLEL
            # Every click lands on the same successor's page.
            assert len({a.headers["Location"] for a in answers}) == 1
    actions, successors = _chain_state(alice, calendar)
    assert len(successors) == ROUNDS
    for action in successors:
        predecessor = actions[action.previous]
        assert predecessor.closed and predecessor.next == action.uid
        assert not action.closed


def _close_and_create_in_process(url: str, user: str, password: str, path: str,
                                 generation: int) -> str:
    store = Store(url, user, password)
    _, successor = store.close_and_create(path, "Meet the board", None, "meeting",
                                          generation, outcome="they said yes")
    return successor.action.uid


def test_parallel_processes_make_one_successor(live, alice):
    calendar = alice.actions_calendar()
    rounds, workers = 3, 6
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        for round_ in range(rounds):
            stored = alice.new_action(calendar, model.new(f"Visit {round_}", "task"))
            jobs = [pool.submit(_close_and_create_in_process, live.base_url, "alice",
                                PEOPLE["alice"], stored.path, 0) for _ in range(workers)]
            assert len({job.result(timeout=120) for job in jobs}) == 1
    actions, successors = _chain_state(alice, calendar)
    assert len(successors) == rounds
    for action in successors:
        assert actions[action.previous].next == action.uid
        assert actions[action.previous].outcome == "they said yes"


class Companion:
    """Another companion process (waitress), as behind a proxy that spreads page requests
    over several: the same Radicale, the same secret, its own memory."""

    def __init__(self, live) -> None:
        user, password = live.service
        env = {**os.environ, "FOLLOWUP_CALDAV_URL": live.dav_url,
               "FOLLOWUP_CALDAV_USER": user, "FOLLOWUP_CALDAV_PASSWORD": password,
               "FOLLOWUP_SECRET_KEY": live.secret_key, "FOLLOWUP_BASE_URL": live.base_url}
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("waitress-serve")), "--threads", "16",
             f"--listen=127.0.0.1:{self.port}", "--call", "web:create_app"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not listening(self.base_url, time.monotonic() + 60):
            self.stop()
            raise AssertionError("the companion process did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def test_parallel_submits_through_several_companion_processes(live, alice):
    """The page's form, submitted at once through three companion processes (this one and
    two others) in parallel: one successor per action, every click on its page."""
    calendar = alice.actions_calendar()
    tokens = PageTokens(live.secret_key)
    others = [Companion(live), Companion(live)]
    try:
        bases = [live.base_url] + [c.base_url for c in others]
        with ThreadPoolExecutor(PARALLEL) as pool:
            for round_ in range(5):
                stored = alice.new_action(calendar, model.new(f"Phone {round_}", "call"))
                token = tokens.make(stored.path)
                where = [bases[n % len(bases)] for n in range(PARALLEL)]
                forms = list(pool.map(_form, where, [token] * PARALLEL))
                start = threading.Barrier(PARALLEL)

                def submit(base, form, token=token, start=start):
                    session, data = form
                    start.wait(timeout=60)
                    return session.post(f"{base}/a/{token}/close-and-create", data=data,
                                        allow_redirects=False, timeout=60)

                answers = list(pool.map(submit, where, forms))
                assert [a.status_code for a in answers] == [303] * PARALLEL
                assert len({a.headers["Location"] for a in answers}) == 1
    finally:
        for companion in others:
            companion.stop()
    actions, successors = _chain_state(alice, calendar)
    assert len(successors) == 5
    for action in successors:
        assert actions[action.previous].closed and actions[action.previous].next == action.uid


class ClientEditsFirst(Store):
    """The companion's store, with a calendar client writing just before each of its updates.

    That is the worst interleaving for a read-change-write: every write of ours then meets a
    412 and must re-read and re-apply, or give up with a clear conflict.
    """

    def __init__(self, *args, client: Store, edits: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.client_store, self.edits_left = client, edits

    def update(self, stored, cal):
        if self.edits_left and stored.path.endswith(self.target):
            self.edits_left -= 1
            n = self.edits_left
            self.client_store.modify(stored.path, lambda c: _client_edit(c, n))
        return super().update(stored, cal)


def _client_edit(cal, n: int):
    """What Thunderbird does when someone types a location and a note: a change of theirs."""
    comp = model.main_component(cal)
    comp.pop("LOCATION", None)
    comp.add("LOCATION", f"Room {n}")
    comp.add("X-CLIENT-NOTE", f"edit {n}")
    return cal


def _meddling(live, alice, target: str, edits: int) -> ClientEditsFirst:
    user, password = live.service
    store = ClientEditsFirst(live.dav_url, user, password, tokens=PageTokens(live.secret_key),
                             base_url=live.base_url, client=alice, edits=edits)
    store.target = target
    return store


@pytest.mark.parametrize("edits", [1, 3])
def test_client_edit_during_close_and_create_is_kept(live, alice, edits):
    calendar = alice.actions_calendar()
    stored = alice.new_action(calendar, model.new("Call Jane", "call"))
    store = _meddling(live, alice, stored.href, edits)
    closed, successor = store.close_and_create(stored.path, "Call Jane again", None,
                                               generation=0, outcome="left a message")
    final = alice.get(stored.path)
    comp = model.main_component(final.cal)
    notes = comp.get("X-CLIENT-NOTE")
    notes = [str(n) for n in (notes if isinstance(notes, list) else [notes])]
    assert notes == [f"edit {n}" for n in reversed(range(edits))]  # every client write kept
    assert final.action.closed and final.action.next == successor.action.uid
    assert final.action.outcome == "left a message"
    assert str(comp["LOCATION"]) == "Room 0"


def test_client_edit_during_close_is_kept(live, alice):
    calendar = alice.actions_calendar()
    stored = alice.new_action(calendar, model.new("Send the contract", "email"))
    _meddling(live, alice, stored.href, 2).close(stored.path, outcome="sent")
    final = alice.get(stored.path)
    assert final.action.closed and final.action.outcome == "sent"
    assert str(model.main_component(final.cal)["LOCATION"]) == "Room 0"


def test_page_says_conflict_when_client_keeps_writing(live, alice, app, client):
    calendar = alice.actions_calendar()
    stored = alice.new_action(calendar, model.new("Call Bob", "call"))
    meddler = _meddling(live, alice, stored.href, 1000)
    app.before_request(lambda: setattr(g, "store", meddler))
    token = PageTokens(live.secret_key).make(stored.path)
    page = client.get(f"/a/{token}")
    csrf = CSRF.search(page.text).group(1)
    answer = client.post(f"/a/{token}/close", data={"csrf_token": csrf, "outcome": "done"})
    assert answer.status_code == 409
    assert "Someone changed this action at the same moment" in answer.text
    final = alice.get(stored.path)
    assert not final.action.closed  # nothing half written
    notes = model.main_component(final.cal).get("X-CLIENT-NOTE")
    assert len(notes) == 1000 - meddler.edits_left  # and no client edit lost


def test_client_and_page_racing_for_real(live, alice):
    """Real threads, no staged order: a client saving notes while the page closes."""
    calendar = alice.actions_calendar()
    stored = alice.new_action(calendar, model.new("Demo for ACME", "meeting"))
    user, password = live.service
    page_store = Store(live.dav_url, user, password, tokens=PageTokens(live.secret_key),
                       base_url=live.base_url)
    edits = 10

    def client_saves():
        for n in range(edits):
            alice.modify(stored.path, lambda c, n=n: _client_edit(c, n))

    def page_closes():
        return page_store.close_and_create(stored.path, "Send the quote", None, "email",
                                           generation=0)

    with ThreadPoolExecutor(2) as pool:
        saving = pool.submit(client_saves)
        closing = pool.submit(page_closes)
        saving.result(timeout=120)
        _, successor = closing.result(timeout=120)
    final = alice.get(stored.path)
    notes = model.main_component(final.cal).get("X-CLIENT-NOTE")
    assert len(notes) == edits
    assert final.action.closed and final.action.next == successor.action.uid


def test_a_delete_without_the_version_read_is_never_sent(live, alice):
    """Every write is conditional, deletes too: an item read without an ETag is kept."""
    stored = alice.new_action(alice.actions_calendar(), model.new("Keep me", "task"))
    with pytest.raises(Conflict):
        alice.delete(dataclasses.replace(stored, etag=None))
    assert alice.get(stored.path).action.summary == "Keep me"
    alice.delete(alice.get(stored.path))  # with its ETag it goes
    assert alice.find(stored.path) is None
