"""The times a repeating action happens (a weekly meeting made in a calendar app, say).

followup itself never writes a repeating action, but clients do, and the week planner must
show a weekly meeting every week, not only in the week it began. The expansion is
recurring_ical_events' (RRULE, RDATE, EXDATE, moved occurrences); this module only turns
its occurrences back into actions. Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import logging
from collections.abc import Iterator

import icalendar
import recurring_ical_events

from server import model

log = logging.getLogger(__name__)

# A week holds at most this many times of one action; more is a broken rule
# (FREQ=MINUTELY, say), not a plan, and is cut rather than flood the page.
MAX_PER_WINDOW = 50


def occurrences(action: model.Action, first: dt.date, last: dt.date,
                tz: dt.tzinfo = dt.UTC) -> list[model.Action]:
    """The action at each time it happens on days `first` to `last` (in zone `tz`).

    A one-off action is itself when its day is in range. Each occurrence is the action with
    that time, and with what a moved or changed occurrence says (summary, closed mark). A
    closed series is closed at every time: followup closes a series as a whole. A rule that
    cannot be read leaves the action at its first time, as a one-off.
    """
    if action.series is None or action.when is None:
        return [action] if action.when is not None and \
            first <= model.local_day(action.when, tz) <= last else []
    found = []
    try:
        times = _times(action.series, dt.datetime.combine(first, dt.time(), tz))
        for comp in itertools.islice(times, MAX_PER_WINDOW * 2):
            one = _as_action(action, comp)
            if one.when is None:
                continue
            day = model.local_day(one.when, tz)
            if day > last + dt.timedelta(days=1):
                break
            if first <= day <= last:
                found.append(one)
    except Exception as exc:  # a client's odd rule must not break the page
        log.warning("cannot expand the repeating action %s: %s", action.uid, exc)
        return occurrences(dataclasses.replace(action, series=None), first, last, tz)
    return found[:MAX_PER_WINDOW]


def repeats_after(action: model.Action, moment: dt.datetime) -> bool:
    """Whether a repeating action still happens after `moment` (a series not yet over)."""
    if action.series is None:
        return False
    try:
        return next(_times(action.series, moment), None) is not None
    except Exception as exc:
        log.warning("cannot expand the repeating action %s: %s", action.uid, exc)
        return False


def _times(cal: icalendar.Calendar, start: dt.date | dt.datetime) -> Iterator[icalendar.Component]:
    query = recurring_ical_events.of(cal, components=("VEVENT", "VTODO"))
    return query.after(start)


def _as_action(series: model.Action, comp: icalendar.Component) -> model.Action:
    is_event = comp.name == "VEVENT"
    when = model.moment(comp, "DTSTART" if is_event else "DUE")
    if when is None and not is_event:
        when = model.moment(comp, "DTSTART")
    summary = str(comp.get("SUMMARY", series.summary))
    if summary.startswith(model.CLOSED_MARK):
        summary = summary[len(model.CLOSED_MARK):]
    return dataclasses.replace(
        series, when=when, end=model.moment(comp, "DTEND") if is_event else None,
        summary=summary, closed=series.closed or model.is_closed(comp), series=None)
