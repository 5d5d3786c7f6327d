"""The pure action model: no server, no web."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from server import model
from tests.compare import lost

NOW = dt.datetime(2026, 12, 3, 9, 30, tzinfo=dt.UTC)
PAGE = "https://crm.example.org/a/token-1"
LINKS = [model.Link.named("account", "ACME"), model.Link.named("contact", "Jane Doe"),
         model.Link.named("opportunity", "Renewal 2027"), model.Link.named("project", "Q1")]


def task(**kw):
    return model.new("Call the buyer", "call", dt.date(2026, 12, 1), LINKS, uid="t-1",
                     now=NOW, **kw)


def comp(cal):
    return model.main_component(cal)


def test_new_task_is_vtodo_with_kind_and_links():
    cal = task()
    action = model.read(cal)
    assert action.component == "VTODO" and action.kind == "call"
    assert action.when == dt.date(2026, 12, 1)
    assert {k: link.label for k, link in action.links.items()} == {
        "account": "ACME", "contact": "Jane Doe", "opportunity": "Renewal 2027", "project": "Q1"}
    text = model.to_text(cal)
    assert 'X-FOLLOWUP-ACCOUNT;LABEL=ACME:urn:followup:account:ACME' in text
    assert "RELATED-TO" not in text
    assert not action.closed


def test_meeting_is_vevent_with_an_hour():
    start = dt.datetime(2026, 12, 8, 14, 0, tzinfo=ZoneInfo("Europe/Paris"))
    cal = model.new("Meet the buyer", "meeting", start, now=NOW)
    c = comp(cal)
    assert c.name == "VEVENT"
    assert c["DTEND"].dt - c["DTSTART"].dt == dt.timedelta(hours=1)
    assert "BEGIN:VTIMEZONE" in model.to_text(cal)  # every TZID has its VTIMEZONE


def test_close_task_writes_all_three_marks_and_bumps_sequence():
    closed = model.close(task(), NOW)
    c = comp(closed)
    assert str(c["STATUS"]) == "COMPLETED"
    assert c["COMPLETED"].dt == NOW
    assert int(c["PERCENT-COMPLETE"]) == 100
    assert c[model.PROP_CLOSED].dt == NOW
    assert int(c["SEQUENCE"]) == 1 and c["DTSTAMP"].dt == NOW and c["LAST-MODIFIED"].dt == NOW
    assert model.read(closed).closed


def test_closing_twice_changes_nothing():
    once = model.close(task(), NOW)
    twice = model.close(once, NOW + dt.timedelta(hours=1))
    assert model.to_text(once) == model.to_text(twice)


@pytest.mark.parametrize("mark", ["STATUS:COMPLETED", "COMPLETED:20261202T090000Z",
                                  "PERCENT-COMPLETE:100"])
def test_any_one_mark_reads_as_closed(mark):
    text = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VTODO\r\nUID:u\r\n"
            f"DTSTAMP:20261201T000000Z\r\nSUMMARY:s\r\n{mark}\r\nEND:VTODO\r\nEND:VCALENDAR\r\n")
    assert model.read(model.parse(text)).closed


def test_close_event_marks_summary_and_closed_at():
    cal = model.new("Meet", "meeting", dt.date(2026, 12, 8), now=NOW)
    closed = model.close(cal, NOW)
    c = comp(closed)
    assert str(c["SUMMARY"]) == model.CLOSED_MARK + "Meet"
    assert "STATUS" not in c  # CANCELLED would mean something else
    action = model.read(closed)
    assert action.closed and action.summary == "Meet"


def test_reopen_removes_every_mark():
    reopened = model.reopen(model.close(task(), NOW), NOW)
    c = comp(reopened)
    assert not model.read(reopened).closed
    assert "COMPLETED" not in c and "PERCENT-COMPLETE" not in c and model.PROP_CLOSED not in c
    assert str(c["STATUS"]) == "NEEDS-ACTION"


def test_successor_keeps_links_and_chains_back():
    pred = task()
    nxt = model.successor(pred, "Send the quote", dt.date(2026, 12, 10), "email",
                          predecessor_href="t-1.ics", now=NOW)
    a = model.read(nxt)
    assert a.kind == "email" and a.summary == "Send the quote"
    assert a.links == model.read(pred).links
    assert a.previous == "t-1"
    assert comp(nxt)[model.PROP_PREVIOUS].params["X-HREF"] == "t-1.ics"
    assert a.uid == model.successor_uid("t-1", 0)


def test_successor_uid_is_stable_per_generation():
    assert model.successor_uid("a", 0) == model.successor_uid("a", 0)
    assert model.successor_uid("a", 0) != model.successor_uid("a", 1)
    assert model.successor_uid("a", 0) != model.successor_uid("b", 0)


def test_close_and_link_points_at_successor_once():
    linked = model.close_and_link(task(), "n-1", "n-1.ics", NOW)
    a = model.read(linked)
    assert a.closed and a.next == "n-1"
    again = model.close_and_link(linked, "n-1", "n-1.ics", NOW + dt.timedelta(minutes=1))
    assert model.to_text(again) == model.to_text(linked)


def test_stamp_puts_link_in_url_page_and_description_last_line():
    cal = model.stamp(task(description="Ask about volumes"), PAGE)
    c = comp(cal)
    assert str(c["URL"]) == PAGE and c["URL"].params["VALUE"] == "URI"
    assert str(c[model.PROP_PAGE]) == PAGE
    assert str(c["DESCRIPTION"]).split("\n")[-1] == "followup: " + PAGE
    assert model.read(cal).description == "Ask about volumes"


def test_stamp_is_idempotent_and_replaces_an_old_link():
    once = model.stamp(task(), PAGE)
    assert model.to_text(model.stamp(once, PAGE)) == model.to_text(once)
    moved = model.stamp(once, PAGE + "-new")
    c = comp(moved)
    assert str(c["URL"]) == PAGE + "-new"
    assert str(c["DESCRIPTION"]) == "followup: " + PAGE + "-new"


def test_stamp_never_overwrites_the_users_own_url():
    cal = task()
    comp(cal).add("URL", "https://meet.example.org/room-42", parameters={"VALUE": "URI"})
    c = comp(model.stamp(cal, PAGE))
    assert str(c["URL"]) == "https://meet.example.org/room-42"
    assert str(c[model.PROP_PAGE]) == PAGE


def test_parse_due_accepts_day_and_time():
    paris = ZoneInfo("Europe/Paris")
    assert model.parse_due("2026-12-10", paris) == dt.date(2026, 12, 10)
    assert model.parse_due("2026-12-10T14:30", paris) == dt.datetime(2026, 12, 10, 14, 30,
                                                                     tzinfo=paris)
    with pytest.raises(model.ActionError, match="YYYY-MM-DD"):
        model.parse_due("next tuesday", paris)


def test_parse_refuses_non_calendar_with_a_reason():
    with pytest.raises(model.ActionError):
        model.parse("hello")
    with pytest.raises(model.ActionError, match="no VTODO or VEVENT"):
        model.parse("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n")


def test_postpone_moves_due_by_the_delay():
    moved = model.postpone(task(), dt.timedelta(days=3), NOW, today=dt.date(2026, 11, 20))
    assert model.read(moved).when == dt.date(2026, 12, 4)


def test_postponing_an_overdue_action_counts_from_today():
    moved = model.postpone(task(), dt.timedelta(days=7), NOW)  # due Dec 1, today Dec 3
    assert model.read(moved).when == dt.date(2026, 12, 10)


def test_postponing_a_meeting_keeps_its_length_and_zone():
    start = dt.datetime(2026, 12, 8, 14, 0, tzinfo=ZoneInfo("Europe/Paris"))
    cal = model.new("Meet", "meeting", start, now=NOW)
    c = comp(model.postpone(cal, dt.timedelta(days=1), NOW))
    assert c["DTSTART"].dt == start + dt.timedelta(days=1)
    assert c["DTEND"].dt - c["DTSTART"].dt == dt.timedelta(hours=1)
    assert c["DTSTART"].params["TZID"] == "Europe/Paris"


def test_postponing_an_undated_task_gives_it_a_day_and_a_series_is_refused():
    undated = model.new("Someday", "task", None, now=NOW)
    assert model.read(model.postpone(undated, dt.timedelta(days=2), NOW)).when == \
        dt.date(2026, 12, 5)
    series = model.new("Weekly", "meeting", dt.date(2026, 12, 8), now=NOW)
    comp(series).add("RRULE", {"FREQ": "WEEKLY"})
    with pytest.raises(model.ActionError, match="repeats"):
        model.postpone(series, dt.timedelta(days=1), NOW)


def test_postponing_a_time_in_an_unknown_zone_keeps_the_zone_name():
    """FORMAT.md: an unknown TZID is left as written; the time moves, the name stays."""
    cal = model.parse("\r\n".join([
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//x//EN", "BEGIN:VTODO", "UID:mars",
        "DTSTAMP:20261001T000000Z", "SUMMARY:Call the base",
        "DUE;TZID=Mars/Olympus:20261210T100000", "END:VTODO", "END:VCALENDAR", ""]))
    moved = model.to_text(model.postpone(cal, dt.timedelta(days=1), NOW))
    assert "DUE;TZID=Mars/Olympus:20261211T100000" in moved


def test_a_closed_action_is_not_postponed():
    closed = model.close(task(), NOW)
    with pytest.raises(model.ActionClosed, match="closed"):
        model.postpone(closed, dt.timedelta(days=1), NOW)


def test_reopen_removes_the_outcome_it_closed_with():
    closed = model.close(model.stamp(task(description="Notes"), PAGE), NOW, outcome="No answer")
    c = comp(model.reopen(closed, NOW))
    assert model.PROP_OUTCOME not in c
    assert str(c["DESCRIPTION"]) == "Notes\n\nfollowup: " + PAGE


def test_new_refuses_empty_summary_and_unknown_kind():
    with pytest.raises(model.ActionError, match="summary"):
        model.new("  ")
    with pytest.raises(model.ActionError, match="kind"):
        model.new("x", "lunch")


def test_new_action_round_trips_through_text():
    cal = task()
    again = model.parse(model.to_text(cal))
    assert lost(model.to_text(cal), model.to_text(again)) == []
    assert model.read(again) == model.read(cal)


def test_outcome_is_stored_and_visible_in_the_description():
    stamped = model.stamp(task(description="Ask about volumes"), PAGE)
    closed = model.close(stamped, NOW, outcome="Wants 200 units")
    c = comp(closed)
    assert str(c[model.PROP_OUTCOME]) == "Wants 200 units"
    lines = str(c["DESCRIPTION"]).split("\n")
    assert lines[0] == "Ask about volumes"
    assert "Outcome: Wants 200 units" in lines
    assert lines[-1] == "followup: " + PAGE  # the link stays last
    assert model.to_text(model.stamp(closed, PAGE)) == model.to_text(closed)


def test_parse_due_with_an_offset_is_written_in_utc():
    moment = model.parse_due("2026-12-08T10:00+05:30", ZoneInfo("Europe/Paris"))
    assert moment == dt.datetime(2026, 12, 8, 4, 30, tzinfo=dt.UTC)
    cal = model.new("x", "call", moment, now=NOW)
    assert "DUE:20261208T043000Z" in model.to_text(cal)


@pytest.mark.parametrize("typo", ["0206-12-08", "9999-12-31", "0001-01-01T10:00"])
def test_parse_due_refuses_implausible_years(typo):
    with pytest.raises(model.ActionError, match="year"):
        model.parse_due(typo, dt.UTC)


def test_control_characters_never_reach_the_calendar():
    cal = model.new("Notes\x0bfrom Word\x00", "task", now=NOW)
    closed = model.close(cal, NOW, outcome="pasted\x0bline\x1b")
    text = model.to_text(closed)
    assert not model.CONTROL_CHARACTERS.search(text)
    assert model.read(closed).summary == "Notes from Word"


def test_outcome_with_commas_is_escaped_and_read_back_whole():
    closed = model.close(task(), NOW, outcome="Jane, she wants a discount; call back")
    assert "X-FOLLOWUP-OUTCOME:Jane\\, she wants a discount\\; call back" in model.to_text(closed)
    again = model.read(model.parse(model.to_text(closed)))
    assert again.outcome == "Jane, she wants a discount; call back"
    assert "Outcome:" not in again.description  # shown once, as the outcome


def test_an_unquoted_label_with_a_comma_reads_whole():
    text = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VTODO\r\nUID:u\r\n"
            "DTSTAMP:20261201T000000Z\r\nSUMMARY:s\r\n"
            "X-FOLLOWUP-ACCOUNT;LABEL=Foo, Inc.:urn:followup:account:Foo\r\n"
            "END:VTODO\r\nEND:VCALENDAR\r\n")
    cal = model.parse(text)
    assert model.read(cal).links["account"].label == "Foo, Inc."
    successor = model.to_text(model.successor(cal, "next", None, now=NOW))
    assert 'LABEL="Foo, Inc."' in successor


def test_default_next_day_is_never_a_weekend():
    thursday = dt.date(2026, 12, 3)
    assert model.default_due("call", thursday) == dt.date(2026, 12, 7)  # Sat → Monday
    assert model.default_due("email", thursday) == dt.date(2026, 12, 4)  # Friday stays
    assert all(model.default_due(k, thursday + dt.timedelta(days=n)).weekday() < 5
               for k in model.KINDS for n in range(7))


PARIS = ZoneInfo("Europe/Paris")


def plan_task():
    """What the next-step rule makes after a tick: a task due today, chained back, with a
    note and an alarm a client added since."""
    cal = model.new("Plan the next step: Renewal 2027", "task", dt.date(2026, 12, 3), LINKS,
                    uid="plan-1", now=NOW, description="Ask Jane first")
    comp(cal).add(model.PROP_PREVIOUS, "t-1", parameters={"X-HREF": "t-1.ics"})
    alarm = model.icalendar.Alarm()
    alarm.add("ACTION", "DISPLAY")
    alarm.add("TRIGGER", dt.timedelta(minutes=-15))
    comp(cal).add_component(alarm)
    return model.stamp(cal, PAGE)


def test_revise_renames_and_redates_a_task_keeping_the_rest():
    revised = model.revise(plan_task(), "Call Jane about the quote", dt.date(2026, 12, 20),
                           "call", now=NOW)
    action = model.read(revised)
    assert (action.summary, action.when, action.kind) == (
        "Call Jane about the quote", dt.date(2026, 12, 20), "call")
    assert action.uid == "plan-1" and action.previous == "t-1"
    assert action.links == model.read(plan_task()).links and action.page == PAGE
    assert action.description == "Ask Jane first" and comp(revised).walk("VALARM")
    assert int(comp(revised)["SEQUENCE"]) == 1
    assert "Plan the next step" not in model.to_text(revised)


def test_revise_into_a_meeting_makes_the_task_an_event_with_an_hour():
    at = dt.datetime(2026, 12, 10, 14, 30, tzinfo=PARIS)
    revised = model.revise(plan_task(), "Meet Jane", at, "meeting", now=NOW)
    c = comp(revised)
    assert c.name == "VEVENT" and len(revised.walk("VTODO")) == 0
    assert c["DTSTART"].dt == at and c["DTEND"].dt == at + dt.timedelta(hours=1)
    for gone in ("DUE", "STATUS", "PERCENT-COMPLETE", "COMPLETED"):
        assert gone not in c
    action = model.read(revised)
    assert action.kind == "meeting" and action.uid == "plan-1" and action.previous == "t-1"
    assert action.description == "Ask Jane first" and c.walk("VALARM")
    assert "BEGIN:VTIMEZONE" in model.to_text(revised)
    # And back: a meeting typed again as a call is a task due on that day.
    back = model.revise(revised, "Call Jane", dt.date(2026, 12, 11), "call", now=NOW)
    assert comp(back).name == "VTODO" and "DTEND" not in comp(back)
    assert str(comp(back)["STATUS"]) == "NEEDS-ACTION"
    assert model.read(back).when == dt.date(2026, 12, 11)


def test_revise_keeps_a_meetings_length_when_it_moves():
    start = dt.datetime(2026, 12, 8, 9, 0, tzinfo=PARIS)
    cal = model.new("Workshop", "meeting", start, now=NOW)
    comp(cal)["DTEND"] = model.icalendar.vDDDTypes(start + dt.timedelta(hours=3))
    moved = model.revise(cal, None, start + dt.timedelta(days=2), None, now=NOW)
    c = comp(moved)
    assert c["DTEND"].dt - c["DTSTART"].dt == dt.timedelta(hours=3)
    assert model.read(moved).summary == "Workshop"  # None: unchanged


def test_revise_refuses_what_it_must_not_change():
    with pytest.raises(model.ActionClosed):
        model.revise(model.close(plan_task(), NOW), "x", dt.date(2026, 12, 20), "call")
    with pytest.raises(model.ActionError):
        model.revise(plan_task(), "   ", dt.date(2026, 12, 20), "call")
    with pytest.raises(model.ActionError):
        model.revise(plan_task(), "x" * 501, dt.date(2026, 12, 20), "call")
    weekly = model.new("Stand-up", "meeting", dt.datetime(2026, 12, 7, 9, 0, tzinfo=PARIS))
    comp(weekly).add("RRULE", {"FREQ": "WEEKLY"})
    with pytest.raises(model.RepeatsError):
        model.revise(weekly, "Stand-up", dt.date(2026, 12, 20), "meeting")


def test_an_action_beside_another_has_a_uid_of_its_own_per_generation():
    assert model.beside_uid("t-1", 2) == model.beside_uid("t-1", 2)
    assert len({model.beside_uid("t-1", 2), model.beside_uid("t-1", 3),
                model.successor_uid("t-1", 2)}) == 3


def test_a_time_zone_written_for_a_late_date_covers_it():
    """icalendar writes a zone's transitions up to 2038: a meeting in July 2040 in Paris
    would read at +01:00 instead of +02:00 in a client that trusts the VTIMEZONE."""
    paris = ZoneInfo("Europe/Paris")
    cal = model.new("Visit", "meeting", dt.datetime(2040, 7, 2, 10, 0, tzinfo=paris))
    [zone] = [c for c in cal.walk("VTIMEZONE")]
    starts = [when.dt.year for daylight in zone.walk("DAYLIGHT")
              for name in ("DTSTART", "RDATE") for value in _all_values(daylight, name)
              for when in getattr(value, "dts", [value])]
    assert 2040 in starts  # the summer time of 2040 begins in the zone as written
    near = model.new("Call", "call", dt.datetime(2026, 7, 2, 10, 0, tzinfo=paris))
    assert "to 2038-01-01" in model.to_text(near)  # the usual span, unchanged


def _all_values(comp, name: str) -> list:
    value = comp.get(name)
    return [] if value is None else value if isinstance(value, list) else [value]
