"""`followup repair` from the command line: the sweep over every user's calendar through the
service account, a dry run that writes nothing, and the exit status."""

from __future__ import annotations

import pytest

from server import cli, model
from server.store import Store
from tests.conftest import PEOPLE
from tests.test_crash import Crash, CrashingStore, assert_one_successor_each


def _half_done(live, user: str) -> str:
    store = Store(live.base_url, user, PEOPLE[user])
    path = store.new_action(store.actions_calendar(), model.new("Call", "call")).path
    crashing = CrashingStore(live.base_url, user, PEOPLE[user], after_write=1)
    with pytest.raises(Crash):
        crashing.close_and_create(path, "Next", None, "call", generation=0)
    return path


def test_repair_every_user(live, capsys):
    paths = {user: _half_done(live, user) for user in PEOPLE}
    data = str(live.data.root)
    code = cli.main(["repair", "--url", live.base_url, "--data", data, "--dry-run"])
    assert code == cli.EXIT_FAILED  # something is left to do
    out = capsys.readouterr().out
    assert "2 problem(s) found, 0 fixed (dry run" in out
    assert out.count("(would be fixed)") == 2
    for user, path in paths.items():
        assert not Store(live.base_url, user, PEOPLE[user]).get(path).action.closed
    assert cli.main(["repair", "--url", live.base_url, "--data", data]) == 0
    assert "2 problem(s) found, 2 fixed" in capsys.readouterr().out
    for user in PEOPLE:
        store = Store(live.base_url, user, PEOPLE[user])
        assert_one_successor_each(store, store.actions_calendar(), 1)
    assert cli.main(["repair", "--url", live.base_url, "--data", data]) == 0
    assert "0 problem(s) found" in capsys.readouterr().out


def test_repair_one_account_and_what_needs_a_person(live, alice, capsys):
    path = alice.new_action(alice.actions_calendar(), model.new("Call", "call")).path
    _, successor = alice.close_and_create(path, "Next", None, "call", generation=0)
    alice.delete(alice.get(successor.path))
    code = cli.main(["repair", "--url", live.base_url, "--user", "alice",
                     "--password", PEOPLE["alice"]])
    assert code == cli.EXIT_FAILED
    assert "dangling-next" in capsys.readouterr().out


def test_repair_with_a_wrong_password_says_so(live, capsys):
    code = cli.main(["repair", "--url", live.base_url, "--user", "alice", "--password", "no"])
    assert code == cli.EXIT_FAILED
    assert "refused the user name or password" in capsys.readouterr().err


def test_what_repair_leaves_to_a_person_says_what_to_do():
    from server.repair import ADVICE, Finding

    for kind in ("unfinished-close", "duplicate-successor", "dangling-next", "stale-next"):
        line = Finding(kind, "/dav/alice/actions/x.ics", "detail", fixed=False).line()
        assert f"(needs a person: {ADVICE[kind]})" in line and len(ADVICE[kind]) > 20
