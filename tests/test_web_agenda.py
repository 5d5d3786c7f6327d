"""server/agenda.py, the pure questions behind the pages (no server needed)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from server import agenda, model

PARIS = ZoneInfo("Europe/Paris")
NOW = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)  # a Thursday, 10:00 in Paris
DEAL = model.Link.named("opportunity", "Deal")


def item(summary: str, when, closed: bool = False, links=(DEAL,), uid: str | None = None,
         previous: str | None = None) -> agenda.Item:
    cal = model.new(summary, "meeting" if isinstance(when, dt.datetime) else "task", when,
                    links, uid=uid or summary, now=NOW)
    comp = model.main_component(cal)
    if previous:
        comp.add(model.PROP_PREVIOUS, previous)
    if closed:
        cal = model.close(cal, NOW)
    return agenda.Item(f"/dav/alice/actions/{uid or summary}.ics", model.read(cal))


def chain(*items: agenda.Item) -> list[agenda.Item]:
    """Link each item to the next, as close-and-create does."""
    linked = []
    for first, second in zip(items, items[1:] + (None,), strict=True):
        action = first.action
        if second is not None:
            action = action.__class__(**{**action.__dict__, "next": second.action.uid})
        if linked:
            action = action.__class__(**{**action.__dict__, "previous": linked[-1].action.uid})
        linked.append(agenda.Item(first.path, action))
    return linked


def test_overdue_is_open_and_past_oldest_first_in_the_users_zone():
    items = [item("yesterday", dt.date(2026, 12, 2)), item("today", dt.date(2026, 12, 3)),
             item("last week", dt.date(2026, 11, 26)),
             item("closed", dt.date(2026, 11, 1), closed=True),
             item("an hour ago", dt.datetime(2026, 12, 3, 8, 0, tzinfo=dt.UTC)),
             item("in an hour", dt.datetime(2026, 12, 3, 10, 0, tzinfo=dt.UTC)),
             item("no date", None)]
    assert [i.action.summary for i in agenda.overdue(items, NOW, PARIS)] == [
        "last week", "yesterday", "an hour ago"]
    # 23:30 UTC on the 2nd is already the 3rd in Paris: the 2nd is over there.
    late = dt.datetime(2026, 12, 2, 23, 30, tzinfo=dt.UTC)
    assert [i.action.summary for i in agenda.overdue([item("d", dt.date(2026, 12, 2))], late,
                                                     PARIS)] == ["d"]
    assert agenda.overdue([item("d", dt.date(2026, 12, 2))], late, dt.UTC) == []


def test_week_places_events_at_their_local_day_and_tasks_on_their_due_day():
    items = [item("sun late utc", dt.datetime(2026, 12, 6, 23, 30, tzinfo=dt.UTC)),  # Mon Paris
             item("wed task", dt.date(2026, 12, 2)),
             item("wed 9h", dt.datetime(2026, 12, 2, 9, 0, tzinfo=PARIS)),
             item("wed 8h", dt.datetime(2026, 12, 2, 8, 0, tzinfo=PARIS)),
             item("next week", dt.date(2026, 12, 8)), item("closed", dt.date(2026, 11, 30),
                                                           closed=True)]
    days = agenda.week(items, dt.date(2026, 12, 3), PARIS)
    assert list(days) == [dt.date(2026, 11, 30) + dt.timedelta(days=n) for n in range(7)]
    names = {day: [i.action.summary for i in found] for day, found in days.items()}
    assert names[dt.date(2026, 12, 2)] == ["wed task", "wed 8h", "wed 9h"]
    assert names[dt.date(2026, 11, 30)] == ["closed"]
    assert names[dt.date(2026, 12, 6)] == []  # it is Monday 00:30 in Paris
    assert "next week" not in sum(names.values(), [])


def test_timeline_is_by_date_and_never_shows_a_step_before_the_one_it_follows():
    """One list by date, as a timeline reads; within a chain, chain order wins over dates
    (c was dated before b, but follows it)."""
    a, b, c = chain(item("a", dt.date(2026, 11, 1), closed=True),
                    item("b", dt.date(2026, 12, 20), closed=True),
                    item("c", dt.date(2026, 11, 15)))
    lone = item("lone", dt.date(2026, 11, 10))
    ordered = agenda.timeline([c, lone, b, a])
    assert [i.action.summary for i in ordered] == ["a", "lone", "b", "c"]
    assert agenda.next_step(ordered).action.summary == "lone"  # the earliest open one


def test_timeline_puts_an_unrelated_chain_where_its_dates_are():
    """The tester's record: a chain (quote, then Call Jane) and another action of the same
    day as the quote. It shows with its day, not after the later Call Jane."""
    quote, jane = chain(item("Send the quote", dt.date(2026, 12, 3), closed=True),
                        item("Call Jane", dt.date(2026, 12, 8)))
    buyer = item("Call the buyer", dt.datetime(2026, 12, 3, 10, 0, tzinfo=PARIS),
                 closed=True)
    ordered = agenda.timeline([jane, buyer, quote])
    assert [i.action.summary for i in ordered] == ["Send the quote", "Call the buyer",
                                                   "Call Jane"]


def test_timeline_survives_a_loop_a_client_made():
    a, b = chain(item("a", dt.date(2026, 11, 1)), item("b", dt.date(2026, 11, 2)))
    looped = agenda.Item(b.path, b.action.__class__(**{**b.action.__dict__, "next": "a"}))
    looped_a = agenda.Item(a.path, a.action.__class__(**{**a.action.__dict__, "previous": "b"}))
    assert sorted(i.action.summary for i in agenda.timeline([looped_a, looped])) == ["a", "b"]


def test_records_without_next_step_and_the_tail_to_follow():
    a, b = chain(item("a", dt.date(2026, 11, 1), closed=True),
                 item("b", dt.date(2026, 11, 2), closed=True))
    other = model.Link.named("opportunity", "Other")
    busy = item("open one", dt.date(2026, 12, 9), links=(other,))
    none = item("no link", dt.date(2026, 12, 9), links=())
    waiting = agenda.without_next_step([b, a, busy, none])
    assert [r.link.label for r in waiting] == ["Deal"]
    assert agenda.tail(waiting[0]).action.summary == "b"
    assert agenda.record([a, b, busy], "opportunity", other.uri).open == [busy]


def test_the_tail_does_not_follow_a_next_copied_from_another_action():
    """A copy made in a calendar app keeps the original's NEXT; b does not point back at it,
    so the copy (the latest action) is the end of its own chain."""
    a, b = chain(item("a", dt.date(2026, 11, 1), closed=True),
                 item("b", dt.date(2026, 11, 2), closed=True))
    copy = item("copy of a", dt.date(2026, 11, 3), closed=True, uid="copy")
    copy = agenda.Item(copy.path, copy.action.__class__(
        **{**copy.action.__dict__, "next": b.action.uid}))
    found = agenda.record([a, b, copy], "opportunity", DEAL.uri)
    assert agenda.tail(found).action.summary == "copy of a"


def test_timeline_of_a_head_reached_from_another_chain_shows_it_once():
    """b has no PREVIOUS (made by hand), but a's NEXT names it: one chain, each step once."""
    a = item("a", dt.date(2026, 11, 1), closed=True)
    b = item("b", dt.date(2026, 12, 1))
    a = agenda.Item(a.path, a.action.__class__(**{**a.action.__dict__, "next": "b"}))
    assert [i.action.summary for i in agenda.timeline([b, a])] == ["a", "b"]


def test_undated_is_open_actions_without_a_date_by_title():
    items = [item("b no date", None), item("A no date", None),
             item("closed no date", None, closed=True), item("dated", dt.date(2026, 12, 1))]
    assert [i.action.summary for i in agenda.undated(items)] == ["A no date", "b no date"]
