"""Crash safety of close-and-create: stop it after each CalDAV write, then retry or repair.

The failure is injected in the client (an exception, or the process killed with SIGKILL right
after the server answered a write); the server is the real one, so what is on disk is exactly
what a crash would leave. Afterwards: one successor, predecessor closed, chain intact.
"""

from __future__ import annotations

import os
import re
import signal
from multiprocessing import get_context

import pytest
from flask import g

from server import model, repair
from server.store import Store
from server.tokens import PageTokens
from tests.conftest import PEOPLE

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
# close-and-create writes twice: 1 creates the successor, 2 closes and links the predecessor
WRITE_STEPS = [1, 2]


class Crash(Exception):
    pass


class CrashingStore(Store):
    """A store that dies right after its n-th write reached the server."""

    def __init__(self, *args, after_write: int, kill: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.after_write, self.kill, self.writes = after_write, kill, 0

    def _request(self, method, path, body="", headers=None):
        response = super()._request(method, path, body, headers)
        if method in ("PUT", "DELETE") and response.status < 300:
            self.writes += 1
            if self.writes == self.after_write:
                if self.kill:
                    os.kill(os.getpid(), signal.SIGKILL)
                raise Crash(f"stopped after write {self.writes}: {method} {path}")
        return response


def assert_one_successor_each(store: Store, calendar: str, expected: int) -> None:
    actions = {s.action.uid: s.action for s in store.list(calendar)}
    successors = [a for a in actions.values() if a.previous]
    assert len(successors) == expected
    for action in successors:
        predecessor = actions[action.previous]
        assert predecessor.closed
        assert predecessor.next == action.uid  # the chain both ways
        assert not action.closed


def _new(alice: Store, summary: str = "Call ACME") -> str:
    return alice.new_action(alice.actions_calendar(), model.new(summary, "call")).path


def test_close_and_create_writes_as_many_times_as_the_steps_tried(live, alice):
    """WRITE_STEPS covers every write: a close-and-create that never crashes writes exactly
    that many times (a third write added to the store would need its own crash test)."""
    path = _new(alice)
    counting = CrashingStore(live.base_url, "alice", PEOPLE["alice"], after_write=0)
    counting.close_and_create(path, "Send the offer", None, "email", generation=0)
    assert counting.writes == len(WRITE_STEPS)


@pytest.mark.parametrize("step", WRITE_STEPS)
def test_exception_after_write_then_retry(live, alice, step):
    path = _new(alice)
    crashing = CrashingStore(live.base_url, "alice", PEOPLE["alice"], after_write=step)
    with pytest.raises(Crash):
        crashing.close_and_create(path, "Send the offer", None, "email", generation=0,
                                  outcome="interested")
    alice.close_and_create(path, "Send the offer", None, "email", generation=0,
                           outcome="interested")
    assert_one_successor_each(alice, alice.actions_calendar(), 1)
    assert alice.get(path).action.outcome == "interested"


@pytest.mark.parametrize("step", WRITE_STEPS)
def test_exception_after_write_then_repair(live, alice, step):
    path = _new(alice)
    crashing = CrashingStore(live.base_url, "alice", PEOPLE["alice"], after_write=step)
    with pytest.raises(Crash):
        crashing.close_and_create(path, "Send the offer", None, "email", generation=0)
    findings = repair.sweep(alice, alice.actions_calendar())
    assert [f.kind for f in findings] == (["unfinished-close"] if step == 1 else [])
    assert all(f.fixed for f in findings)
    assert_one_successor_each(alice, alice.actions_calendar(), 1)
    assert repair.sweep(alice, alice.actions_calendar()) == []  # nothing left to do


def _killed_during_close_and_create(url: str, password: str, path: str, step: int) -> None:
    store = CrashingStore(url, "alice", password, after_write=step, kill=True)
    store.close_and_create(path, "Send the offer", None, "email", generation=0)


@pytest.mark.parametrize("step", WRITE_STEPS)
@pytest.mark.parametrize("then", ["retry", "repair"])
def test_killed_process_after_write(live, alice, step, then):
    path = _new(alice)
    worker = get_context("spawn").Process(
        target=_killed_during_close_and_create,
        args=(live.base_url, PEOPLE["alice"], path, step))
    worker.start()
    worker.join(timeout=120)
    assert worker.exitcode == -signal.SIGKILL
    if then == "retry":
        alice.close_and_create(path, "Send the offer", None, "email", generation=0)
    else:
        assert all(f.fixed for f in repair.sweep(alice, alice.actions_calendar()))
    assert_one_successor_each(alice, alice.actions_calendar(), 1)


@pytest.mark.parametrize("step", WRITE_STEPS)
def test_page_retry_of_the_same_form_after_crash(live, alice, app, client, step):
    """The phone lost the answer (the server died mid-way); the person presses again."""
    injected: dict[str, Store] = {}

    @app.before_request
    def use_injected() -> None:
        if injected:
            g.store = injected["store"]

    path = _new(alice)
    token = PageTokens(live.secret_key).make(path)
    page = client.get(f"/a/{token}")
    form = {"csrf_token": CSRF.search(page.text).group(1), "generation": "0",
            "summary": "Send the offer", "due": "2027-03-01", "kind": "email"}
    user, password = live.service
    crashing = CrashingStore(live.dav_url, user, password, after_write=step,
                             tokens=PageTokens(live.secret_key), base_url=live.base_url)
    injected["store"] = crashing
    with pytest.raises(Crash):
        client.post(f"/a/{token}/close-and-create", data=form)
    injected.clear()
    again = client.post(f"/a/{token}/close-and-create", data=form)
    assert again.status_code == 303
    assert_one_successor_each(alice, alice.actions_calendar(), 1)
    successor = next(s for s in alice.list(alice.actions_calendar()) if s.action.previous)
    assert again.headers["Location"].endswith(PageTokens(live.secret_key).make(successor.path))


def test_repair_removes_the_second_successor_of_a_changed_form(live, alice):
    """Crash after step 1, the action edited (SEQUENCE moves on), the form reloaded and sent:
    two successors with different generations. The one linked stays, the unused one goes."""
    path = _new(alice)
    crashing = CrashingStore(live.base_url, "alice", PEOPLE["alice"], after_write=1)
    with pytest.raises(Crash):
        crashing.close_and_create(path, "Send the offer", None, "email", generation=0)
    alice.modify(path, lambda cal: model.postpone(cal, model.dt.timedelta(days=1)))
    generation = alice.get(path).action.sequence
    alice.close_and_create(path, "Send the offer", None, "email", generation=generation)
    findings = repair.sweep(alice, alice.actions_calendar())
    assert [(f.kind, f.fixed) for f in findings] == [("duplicate-successor", True)]
    assert_one_successor_each(alice, alice.actions_calendar(), 1)


def test_repair_keeps_a_second_successor_someone_used(live, alice):
    path = _new(alice)
    crashing = CrashingStore(live.base_url, "alice", PEOPLE["alice"], after_write=1)
    with pytest.raises(Crash):
        crashing.close_and_create(path, "Send the offer", None, "email", generation=0)
    orphan = next(s for s in alice.list(alice.actions_calendar()) if s.action.previous)
    alice.modify(path, lambda cal: model.postpone(cal, model.dt.timedelta(days=1)))
    alice.close_and_create(path, "Call back", None, "call",
                           generation=alice.get(path).action.sequence)
    alice.modify(orphan.path, lambda cal: model.postpone(cal, model.dt.timedelta(days=2)))
    findings = repair.sweep(alice, alice.actions_calendar())
    assert [(f.kind, f.fixed) for f in findings] == [("duplicate-successor", False)]
    assert alice.find(orphan.path) is not None  # a person's work is never deleted


def test_repair_reports_a_next_link_to_nothing(live, alice):
    path = _new(alice)
    _, successor = alice.close_and_create(path, "Send the offer", None, "email", generation=0)
    alice.delete(alice.get(successor.path))
    findings = repair.sweep(alice, alice.actions_calendar())
    assert [(f.kind, f.path, f.fixed) for f in findings] == [("dangling-next", path, False)]


def test_repair_does_not_close_for_a_copied_chain_property(live, alice):
    """A client copied an item, chain property and all: that is no proof of a close."""
    path = _new(alice)
    predecessor = alice.get(path)
    copied = model.new("Copied by hand", "task", uid="hand-made-1")
    model.main_component(copied).add(model.PROP_PREVIOUS, predecessor.action.uid)
    alice.new_action(alice.actions_calendar(), copied)
    findings = repair.sweep(alice, alice.actions_calendar())
    assert [(f.kind, f.fixed) for f in findings] == [("unfinished-close", False)]
    assert not alice.get(path).action.closed


class DeletingStore(Store):
    """A store whose predecessor is deleted (in a calendar app) right after write 1."""

    def __init__(self, *args, victim: Store, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.victim, self.path = victim, None

    def _request(self, method, path, body="", headers=None):
        response = super()._request(method, path, body, headers)
        if method == "PUT" and response.status == 201 and self.path:
            self.victim.delete(self.victim.get(self.path))
            self.path = None
        return response


def test_an_action_deleted_during_close_and_create_leaves_no_successor(live, alice):
    from server.store import NotFound

    calendar = alice.actions_calendar()
    first = alice.new_action(calendar, model.new("Call ACME", "call"))
    store = DeletingStore(live.base_url, "alice", PEOPLE["alice"], victim=alice)
    store.path = first.path
    with pytest.raises(NotFound):
        store.close_and_create(first.path, "Send the quote", None, "email", 0)
    assert list(alice.list(calendar)) == []
