"""The plugin's pure rules (server/merge.py, server/protect.py, server/nextstep.py), without
a server: quick to read, quick to fail."""

from __future__ import annotations

import datetime as dt

import icalendar

from server import merge, model, nextstep, protect

OPP = model.Link("opportunity", "urn:followup:opportunity:R", "Renewal")
PAGE = "https://crm.example.org/a/tok"
NOW = dt.datetime(2026, 12, 3, 9, 30, tzinfo=dt.UTC)


def _stored() -> icalendar.Calendar:
    cal = model.new("Call", "call", dt.date(2026, 12, 15), [OPP], uid="m1", now=NOW)
    model.main_component(cal).add(model.PROP_NEXT, "n1", parameters={"X-HREF": "n1.ics"})
    return model.stamp(cal, PAGE)


def _client(cal: icalendar.Calendar, drop=(), **set_) -> icalendar.Calendar:
    new = icalendar.Calendar.from_ical(model.to_text(cal))
    comp = model.main_component(new)
    for name in drop:
        comp.pop(name, None)
    for name, value in set_.items():
        comp.pop(name.replace("_", "-"), None)
        comp.add(name.replace("_", "-"), value)
    return new


def test_dropped_link_and_parameters_come_back():
    old = _stored()
    new = _client(old, drop=(model.LINK_PROPS["opportunity"],))
    model.main_component(new)[model.PROP_NEXT].params.pop("X-HREF")
    merged, change = merge.update(old, new, PAGE, NOW)
    action = model.read(merged)
    assert action.links == {"opportunity": OPP} and change == ""
    assert model.chain_href(merged, "next") == "n1.ics"


def test_the_companion_may_drop_what_it_means_to():
    old = _stored()
    undone, _ = merge.update(old, model.unlink_next(old, NOW), PAGE, NOW, restore=False)
    assert model.read(undone).next is None
    restored, _ = merge.update(old, model.unlink_next(old, NOW), PAGE, NOW)
    assert model.read(restored).next == "n1"  # from a calendar client it comes back


def test_a_changed_link_value_is_the_clients():
    old = _stored()
    new = _client(old)
    model.main_component(new)[model.LINK_PROPS["opportunity"]] = icalendar.vText("urn:x:other")
    merged, _ = merge.update(old, new, PAGE, NOW)
    assert model.read(merged).links["opportunity"].uri == "urn:x:other"


def test_completion_rules():
    old = _stored()
    closed, change = merge.update(old, _client(old, STATUS="COMPLETED"), PAGE, NOW)
    assert change == merge.TICKED and model.read(closed).closed  # a client's tick
    _, change = merge.update(old, model.close(old, NOW), PAGE, NOW)
    assert change == merge.CLOSED  # followup's own close writes X-FOLLOWUP-CLOSED
    comp = model.main_component(closed)
    assert str(comp["PERCENT-COMPLETE"]) == "100" and "COMPLETED" in comp
    # from closed: dropping PERCENT-COMPLETE is not an un-tick, STATUS back is
    kept, change = merge.update(closed, _client(closed, drop=("PERCENT-COMPLETE",)), PAGE, NOW)
    assert model.read(kept).closed and change == ""
    reopened, change = merge.update(closed, _client(closed, STATUS="NEEDS-ACTION"), PAGE, NOW)
    assert not model.read(reopened).closed and change == merge.REOPENED
    assert model.PROP_CLOSED not in model.main_component(reopened)


def test_new_item_done_by_percent_is_normalised_but_is_no_change():
    cal = model.new("Send", "email", None, uid="p1", now=NOW)
    model.main_component(cal).add("PERCENT-COMPLETE", 100)
    merged, change = merge.update(None, cal, PAGE, NOW)
    assert change == "" and str(model.main_component(merged)["STATUS"]) == "COMPLETED"


def test_protect_puts_back_what_a_parser_cut():
    sent = icalendar.Calendar.from_ical(
        "BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nUID:x\r\nX-A:a\\,b\r\nX-B:same\r\nEND:VTODO\r\n"
        "END:VCALENDAR\r\n")
    parsed = icalendar.Calendar.from_ical(
        "BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nUID:x\r\nX-B:same\r\nX-A:a\r\nEND:VTODO\r\n"
        "END:VCALENDAR\r\n")
    fixed, count = protect.restore_damaged(sent, parsed)
    assert count == 1
    assert model.main_component(fixed)["X-A"].to_ical() == model.main_component(sent)[
        "X-A"].to_ical()
    assert protect.same_lines("A:1\r\nB:2\r\n", "B:2\r\nA:1\r\n")
    assert not protect.same_lines("A:1\r\n", "A:1\r\nA:1\r\n")


def test_plan_task_is_derived_and_linked():
    closed = _stored()
    link = nextstep.rule_link(model.read(closed), ("project", "opportunity"))
    assert link == OPP
    plan = nextstep.plan_task(closed, link, dt.date(2026, 12, 3), "m1.ics", NOW)
    action = model.read(plan)
    assert action.uid == nextstep.plan_uid("m1") == nextstep.plan_uid("m1")
    assert action.summary == "Plan the next step: Renewal" and action.previous == "m1"
    assert action.when == dt.date(2026, 12, 3) and action.links == {"opportunity": OPP}
    assert nextstep.rule_link(model.read(closed), ("account",)) is None


def test_only_bodies_vobject_could_misread_are_reencoded():
    from plugins.protect import needs_reencoding

    def body(*lines: str) -> bytes:
        return "\r\n".join(["BEGIN:VCALENDAR", "BEGIN:VTODO", *lines, "END:VTODO",
                            "END:VCALENDAR", ""]).encode()

    plain = body("UID:1", "SUMMARY:Call back", "DESCRIPTION:Budget\\, timing\\nNext week\\;",
                 "URL;VALUE=URI:https://example.com/a?b=c", "X-FOLLOWUP-ACCOUNT;LABEL=AC",
                 " ME:urn:followup:account:ACME", "SUMMARY:Écrire à Zoë 📞")
    assert not needs_reencoding(plain)
    for risky in ("LOCATION:12 rue de l'Exemple, Lyon", "X-FOO:a;b", "X-FOO:a\\:b",
                  "X-FOO;EMPTY=:value", "X-FOO;LABEL=\"Foo, Inc.\":u", "CATEGORIES:a,b",
                  "RRULE:FREQ=WEEKLY;BYDAY=MO", "SUMMARY:tab\x0bhere", "no colon at all",
                  "LOCATION:a\\\\,b", "", "X-FOO:a,", "X-FO", " O:1,2"):
        assert needs_reencoding(body("UID:1", risky)), risky
    assert needs_reencoding(b"\xff\xfe")
    assert needs_reencoding("\ufeffBEGIN:VCALENDAR\r\n".encode())
