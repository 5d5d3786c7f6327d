"""Why a calendar server refused an item, in words a person can act on.

Radicale refuses a PUT it cannot store with a bare "400 Bad Request", and one whose time in
UTC falls outside years 1 to 9999 with "412 Precondition failed", the answer that normally
means "someone changed this item since you read it" (a client then re-reads and retries for
nothing). `why_refused()` looks at the body again, only after such a refusal, and names the
first problem it finds, with what to do about it. Pure: no Radicale, no I/O.
"""

from __future__ import annotations

import datetime as dt

import icalendar

from server import ical, model

ITEMS = ("VTODO", "VEVENT", "VJOURNAL")
TIMES = ("DTSTART", "DTEND", "DUE", "RECURRENCE-ID", "COMPLETED")


# Deeper than a calendar's item's alarm (VCALENDAR > VTODO > VALARM) plus room for what
# newer RFCs nest: Radicale's parser recurses per level and gives up, unexplained, far below
# Python's limit when levels pile up.
MAX_DEPTH = 8


def why_refused(body: bytes) -> str | None:
    """The first reason this body cannot be one calendar item, or None if none is seen."""
    if not body.strip():
        return "the item is empty: send the task or event as a VCALENDAR object"
    try:
        cal = ical.read(model.clean_text(body.decode("utf-8-sig")))
    except UnicodeDecodeError:
        return "the item is not UTF-8 text: save it as UTF-8 and send it again"
    except Exception as exc:
        return (f"the item is not iCalendar that can be read ({exc}): export it again from "
                "the calendar app, or fix the line named")
    if not isinstance(cal, icalendar.Calendar):
        return "the item is not a VCALENDAR: send a BEGIN:VCALENDAR ... END:VCALENDAR object"
    depth = _depth(cal)
    if depth > MAX_DEPTH:
        return (f"components are nested {depth} deep (an alarm inside an alarm, …): a task or "
                "event holds its alarms one level down; export it again from the calendar app")
    items = [c for c in cal.subcomponents if c.name in ITEMS]
    if not items:
        return "the calendar object holds no task, event or journal entry (VTODO, VEVENT)"
    for comp in items:
        if not str(comp.get("UID", "")).strip():
            return (f"a {comp.name} has no UID: give every task and event a UID "
                    "(any unique text), as calendar apps do")
    if len({str(c["UID"]) for c in items}) > 1:
        return ("the object holds items with different UIDs: send each task or event as "
                "its own file")
    if len({c.name for c in items}) > 1:
        return "the object mixes kinds of items (a VTODO and a VEVENT): send each on its own"
    problems = model.date_problems(cal)
    if problems:
        return f"{problems[0]}: correct that date"
    return _outside_the_calendar(items)


def _depth(comp: icalendar.Component) -> int:
    """How many components deep `comp` goes, itself counted (walked without recursion)."""
    deepest, todo = 0, [(comp, 1)]
    while todo:
        comp, depth = todo.pop()
        deepest = max(deepest, depth)
        todo.extend((sub, depth + 1) for sub in comp.subcomponents)
    return deepest


def _outside_the_calendar(items: list[icalendar.Component]) -> str | None:
    for comp in items:
        for name in TIMES:
            when = model.moment(comp, name)
            if not isinstance(when, dt.datetime) or when.tzinfo is None:
                continue
            try:
                when.astimezone(dt.UTC)
            except (OverflowError, ValueError):
                raw = comp[name].to_ical().decode()
                zone = comp[name].params.get("TZID", "its zone")
                return (f"{comp.name} {name} {raw} in {zone} falls outside the years 1 to "
                        "9999 in UTC, which a calendar server cannot store: choose a date "
                        "within them")
    return None
