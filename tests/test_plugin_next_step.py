"""Completions from any client, and the next-step rule, through real Radicale.

A client ticks a task in its own dialect (any one completion mark), un-ticks it, or marks a
meeting done with a leading check mark; closing the last open action of an opportunity
makes exactly one "Plan the next step" task, and none when the rule is off.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from server import model, nextstep
from tests.test_plugin_dav import Dav


@pytest.fixture
def dav(tmp_path) -> Dav:
    return Dav(tmp_path / "var")

OPP = model.Link("opportunity", "urn:followup:opportunity:Renewal%202027", "Renewal 2027")
ACCOUNT = model.Link("account", "urn:followup:account:ACME", "ACME")


def _create(dav, uid: str, kind: str = "call", links=(OPP, ACCOUNT)) -> str:
    when = dt.date(2026, 12, 15)
    cal = model.new(f"Action {uid}", kind, when, links, uid=uid)
    assert dav.put(f"{uid}.ics", model.to_text(cal)).status_code == 201
    return dav.text(f"{uid}.ics")


def _client_edit(dav, href: str, add: list[str], drop: tuple[str, ...] = ()) -> int:
    """A client's upload: the stored item with some lines dropped and some added."""
    text = re.sub(r"\r?\n[ \t]", "", dav.text(href))
    lines = [x for x in text.splitlines()
             if re.split(r"[;:]", x, maxsplit=1)[0].upper() not in drop]
    end = next(i for i, x in enumerate(lines) if x in ("END:VTODO", "END:VEVENT"))
    body = "\r\n".join(lines[:end] + add + lines[end:]) + "\r\n"
    return dav.put(href, body, dav.etag(href)).status_code


def _comp(dav, href):
    return model.main_component(dav.cal(href))


@pytest.mark.parametrize("marks", [["STATUS:COMPLETED"], ["COMPLETED:20261203T101500Z"],
                                   ["PERCENT-COMPLETE:100"]], ids=["status", "completed",
                                                                   "percent"])
def test_any_completion_mark_closes_with_all_three(dav, marks):
    _create(dav, "t1", links=())
    assert _client_edit(dav, "t1.ics", marks, drop=("STATUS",)) == 204
    comp = _comp(dav, "t1.ics")
    assert str(comp["STATUS"]) == "COMPLETED"
    assert "COMPLETED" in comp and str(comp["PERCENT-COMPLETE"]) == "100"
    assert model.PROP_CLOSED in comp
    if marks[0].startswith("COMPLETED"):  # the client's time is the closed-at time
        assert comp[model.PROP_CLOSED].dt == dt.datetime(2026, 12, 3, 10, 15, tzinfo=dt.UTC)


def test_untick_reopens_cleanly(dav):
    _create(dav, "t1", links=())
    _client_edit(dav, "t1.ics", ["STATUS:COMPLETED"], drop=("STATUS",))
    assert model.read(dav.cal("t1.ics")).closed
    # Thunderbird's un-tick: STATUS back, COMPLETED gone, percent 0; X- props kept as they were.
    assert _client_edit(dav, "t1.ics", ["STATUS:NEEDS-ACTION", "PERCENT-COMPLETE:0"],
                        drop=("STATUS", "COMPLETED", "PERCENT-COMPLETE")) == 204
    comp = _comp(dav, "t1.ics")
    assert not model.read(dav.cal("t1.ics")).closed
    assert model.PROP_CLOSED not in comp and "COMPLETED" not in comp
    assert str(comp["STATUS"]) == "NEEDS-ACTION"


def test_dropping_one_mark_of_a_closed_task_does_not_reopen_it(dav):
    _create(dav, "t1", links=())
    _client_edit(dav, "t1.ics", ["STATUS:COMPLETED"], drop=("STATUS",))
    # A client that does not keep PERCENT-COMPLETE nor unknown properties.
    assert _client_edit(dav, "t1.ics", [], drop=("PERCENT-COMPLETE", model.PROP_CLOSED)) == 204
    comp = _comp(dav, "t1.ics")
    assert model.read(dav.cal("t1.ics")).closed
    assert str(comp["PERCENT-COMPLETE"]) == "100" and model.PROP_CLOSED in comp


def test_meeting_marked_done_in_summary_closes_and_unmarking_reopens(dav):
    _create(dav, "m1", kind="meeting", links=())
    assert _client_edit(dav, "m1.ics", ["SUMMARY:✓Action m1"], drop=("SUMMARY",)) == 204
    comp = _comp(dav, "m1.ics")
    assert str(comp["SUMMARY"]) == "✓ Action m1" and model.PROP_CLOSED in comp
    assert _client_edit(dav, "m1.ics", ["SUMMARY:Action m1"], drop=("SUMMARY",)) == 204
    comp = _comp(dav, "m1.ics")
    assert model.PROP_CLOSED not in comp and not model.read(dav.cal("m1.ics")).closed


def _plans(dav) -> list[str]:
    return [h for h in dav.hrefs()
            if model.read(dav.cal(h)).summary.startswith(nextstep.TITLE)]


def test_closing_the_last_open_action_makes_one_plan_task(dav):
    _create(dav, "a1")
    _create(dav, "a2")
    _create(dav, "other", links=(model.Link("opportunity", "urn:x:other", "Other"),))
    _client_edit(dav, "a1.ics", ["STATUS:COMPLETED"], drop=("STATUS",))
    assert _plans(dav) == []  # a2 is still open for the opportunity
    _client_edit(dav, "a2.ics", ["PERCENT-COMPLETE:100"])
    plans = _plans(dav)
    assert len(plans) == 1
    plan = dav.cal(plans[0])
    action = model.read(plan)
    assert action.summary == "Plan the next step: Renewal 2027"
    assert action.when == dt.date.today() and not action.closed
    assert action.links == {"opportunity": OPP, "account": ACCOUNT}
    assert action.previous == "a2" and action.page and action.page.startswith(dav.base_url)
    assert str(model.main_component(plan)["URL"]) == action.page
    # The ticked action points at it, so its page shows the next step as planned.
    ticked = dav.cal("a2.ics")
    assert model.read(ticked).next == action.uid and model.read(ticked).closed
    assert model.chain_href(ticked, "next") == plans[0]
    # A second tick (un-tick, tick again) and a retry of the same upload make no other.
    _client_edit(dav, "a2.ics", ["STATUS:NEEDS-ACTION"], drop=("STATUS", "COMPLETED",
                                                               "PERCENT-COMPLETE"))
    _client_edit(dav, "a2.ics", ["STATUS:COMPLETED"], drop=("STATUS",))
    _client_edit(dav, "a2.ics", [])
    assert _plans(dav) == plans
    assert len(dav.hrefs()) == 4


def test_rule_off_makes_none(tmp_path):
    dav = Dav(tmp_path / "var", config="followup_next_step_rule = False\n")
    _create(dav, "a1")
    _client_edit(dav, "a1.ics", ["STATUS:COMPLETED"], drop=("STATUS",))
    assert model.read(dav.cal("a1.ics")).closed
    assert _plans(dav) == [] and dav.hrefs() == ["a1.ics"]


def test_rule_on_accounts_by_configuration(tmp_path):
    dav = Dav(tmp_path / "var", config="followup_next_step_links = opportunity, account\n")
    _create(dav, "a1", links=(ACCOUNT,))
    _client_edit(dav, "a1.ics", ["STATUS:COMPLETED"], drop=("STATUS",))
    assert [model.read(dav.cal(h)).summary for h in _plans(dav)] == [
        "Plan the next step: ACME"]


def test_action_without_watched_link_makes_none(dav):
    _create(dav, "a1", links=(ACCOUNT,))
    _client_edit(dav, "a1.ics", ["STATUS:COMPLETED"], drop=("STATUS",))
    assert _plans(dav) == []


def test_page_of_an_action_ticked_in_a_client_shows_the_plan_task(live, alice):
    """Ticked in a client, then the page: one next step, whatever form is submitted."""
    import requests

    from server.tokens import PageTokens
    from tests.pages import Page

    cal = model.new("Send the quote", "email", dt.date(2026, 12, 1), (OPP,), uid="tick-1")
    stored = alice.new_action(live.calendar_path("alice"), cal)
    url = f"{live.base_url}/a/{PageTokens(live.secret_key).make(stored.path)}"
    stale = Page.open(url)  # a form shown before the tick
    now = alice.get(stored.path)
    text = model.to_text(now.cal).replace("END:VTODO", "PERCENT-COMPLETE:100\r\nEND:VTODO")
    answer = requests.put(f"{live.base_url}{stored.path}", data=text.encode(), timeout=30,
                          auth=("alice", "alice-password"),
                          headers={"If-Match": now.etag, "Content-Type": "text/calendar"})
    assert answer.status_code == 204
    planned = nextstep.plan_uid("tick-1")
    assert alice.get(stored.path).action.next == planned
    fresh = Page.open(url)
    assert "Plan the next step: Renewal 2027" in fresh.html
    assert not fresh.has_form("close-and-create")
    # The form shown before the tick makes no second next step: the page says the action was
    # closed meanwhile and gives the typed one back (tests/test_closed_meanwhile.py).
    answer = stale.submit("close-and-create", summary="A second next step")
    assert answer.status_code == 409 and 'value="A second next step"' in answer.text
    uids = [s.action.uid for s in alice.list(live.calendar_path("alice"))]
    assert sorted(uids) == sorted(["tick-1", planned])


def test_the_planning_task_is_written_in_the_configured_language(tmp_path):
    dav = Dav(tmp_path / "var", config="followup_language = fr\n")
    _create(dav, "a1")
    _client_edit(dav, "a1.ics", ["STATUS:COMPLETED"], drop=("STATUS",))
    [plan] = [h for h in dav.hrefs() if h != "a1.ics"]
    assert model.read(dav.cal(plan)).summary == "Planifier la prochaine étape\u00a0: Renewal 2027"


def test_an_unknown_language_stops_serve_with_one_line(tmp_path):
    from tests.test_acceptance import free_port, run

    conf = tmp_path / "radicale.ini"
    conf.write_text("[storage]\nfollowup_language = de\n")
    done = run("serve", "--port", str(free_port()), "--data", str(tmp_path / "var"),
               "--radicale-config", str(conf))
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert "followup_language" in done.stderr and "en, fr" in done.stderr
