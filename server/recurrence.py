"""The times a repeating action happens (a weekly meeting made in a calendar app, say).

followup itself never writes a repeating action, but clients do, and the week planner must
show a weekly meeting every week, not only in the week it began. The expansion is
recurring_ical_events' (RRULE, RDATE, EXDATE, moved occurrences); this module only turns
its occurrences back into actions. Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import itertools
import logging
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import TypeVar

import icalendar
import recurring_ical_events

from server import model

log = logging.getLogger(__name__)

# A week holds at most this many times of one action; more is a broken rule, not a plan,
# and is cut rather than flood the page.
MAX_PER_WINDOW = 50
# Expanding a rule walks every step from its first time (dateutil has no shortcut), so a
# rule is expanded only if the walk to the end of what is asked stays this short. Beyond,
# or more often than hourly, it is not a plan a person keeps (FREQ=SECONDLY since 2020 is
# 200 million steps: a page would never answer) and the action shows once, at its first
# time.
MAX_STEPS = 20_000
STEP_SECONDS = {"HOURLY": 3600, "DAILY": 86400, "WEEKLY": 7 * 86400, "MONTHLY": 28 * 86400,
                "YEARLY": 365 * 86400}
# How far ahead "does the series still happen?" looks (a yearly review repeats within it).
HORIZON = dt.timedelta(days=3 * 366)
# A rule that never happens (BYMONTH=2;BYMONTHDAY=30, BYSETPOS past the end) is looked for,
# period by period, until the year 9999, whatever window is asked: seconds of CPU on every
# page. The step count cannot see that, so each expansion may make at most this many Python
# calls (a weekly meeting since 1900 needs 43,000); a rule found too costly is remembered.
MAX_CALLS = 300_000
_costly: OrderedDict[str, None] = OrderedDict()
_costly_lock = threading.Lock()
T = TypeVar("T")


class TooCostly(Exception):
    """Expanding this series would take more than MAX_CALLS calls."""


def occurrences(action: model.Action, first: dt.date, last: dt.date,
                tz: dt.tzinfo = dt.UTC) -> list[model.Action]:
    """The action at each time it happens on days `first` to `last` (in zone `tz`).

    A one-off action is itself when its day is in range. Each occurrence is the action with
    that time, and with what a moved or changed occurrence says (summary, closed mark). A
    closed series is closed at every time: followup closes a series as a whole. A rule that
    cannot be read leaves the action at its first time, as a one-off.
    """
    start = dt.datetime.combine(first, dt.time(), tz)
    end = dt.datetime.combine(last + dt.timedelta(days=2), dt.time(), tz)
    if action.series is None or action.when is None or not affordable(action.series, end):
        return [action] if action.when is not None and \
            first <= model.local_day(action.when, tz) <= last else []
    found = []
    try:
        times = bounded(action.series, lambda: _times(action.series, start, end))
        for comp in itertools.islice(times, MAX_PER_WINDOW * 2):
            one = _as_action(action, comp)
            if one.when is not None and first <= model.local_day(one.when, tz) <= last:
                found.append(one)
    except Exception as exc:  # a client's odd rule must not break the page
        log.warning("cannot expand the repeating action %s: %s", action.uid, exc)
        return occurrences(dataclasses.replace(action, series=None), first, last, tz)
    return found[:MAX_PER_WINDOW]


def repeats_after(action: model.Action, moment: dt.datetime) -> bool:
    """Whether a repeating action still happens after `moment` (a series not yet over)."""
    if action.series is None or not affordable(action.series, moment + HORIZON):
        return False
    try:
        times = bounded(action.series, lambda: _times(action.series, moment, moment + HORIZON))
        return next(times, None) is not None
    except Exception as exc:
        log.warning("cannot expand the repeating action %s: %s", action.uid, exc)
        return False


def affordable(cal: icalendar.Calendar, until: dt.datetime) -> bool:
    """Whether walking every rule of the series up to `until` takes at most MAX_STEPS steps.

    The steps are counted from the rule's first time, by its frequency and interval, times
    the hours, minutes and seconds a step expands to (BYHOUR, BYMINUTE, BYSECOND). A rule
    that cannot be read is not walked either."""
    try:
        return _steps_within(cal, until)
    except Exception:
        return False


def _steps_within(cal: icalendar.Calendar, until: dt.datetime) -> bool:
    for comp in cal.walk():
        if comp.name not in ("VEVENT", "VTODO") or "RRULE" not in comp:
            continue
        start = model.moment(comp, "DTSTART") or model.moment(comp, "DUE")
        if start is None:
            continue
        if not isinstance(start, dt.datetime):
            start = dt.datetime.combine(start, dt.time())
        if start.tzinfo is None:
            start = start.replace(tzinfo=dt.UTC)
        span = max((until - start).total_seconds(), 0.0)
        rules = comp["RRULE"] if isinstance(comp["RRULE"], list) else [comp["RRULE"]]
        for rule in rules:
            step = STEP_SECONDS.get(str((rule.get("FREQ") or [""])[0]).upper())
            if step is None:  # SECONDLY, MINUTELY, or a frequency that does not exist
                return False
            try:
                interval = max(int((rule.get("INTERVAL") or [1])[0]), 1)
            except (TypeError, ValueError):
                interval = 1
            fan_out = 1
            for part in ("BYHOUR", "BYMINUTE", "BYSECOND"):
                fan_out *= max(len(rule.get(part) or []), 1)
            if span / (step * interval) * fan_out > MAX_STEPS:
                return False
    return True


def bounded(cal: icalendar.Calendar, work: Callable[[], T]) -> T:
    """`work()`, stopped with TooCostly after MAX_CALLS Python calls in this thread.

    sys.settrace is the one way to stop a loop inside dateutil from the outside without a
    second process; only calls are counted (no line tracing), and only in this thread."""
    key = hashlib.sha256(cal.to_ical()).hexdigest()
    with _costly_lock:
        if key in _costly:
            raise TooCostly("known to be too costly")
    if sys.gettrace() is not None:  # a debugger or coverage is tracing: leave it be
        return work()
    calls = 0

    def count(_frame, _event, _arg):
        nonlocal calls
        calls += 1
        if calls > MAX_CALLS:
            raise TooCostly(f"more than {MAX_CALLS} calls")

    sys.settrace(count)
    try:
        return work()
    except TooCostly:
        with _costly_lock:
            _costly[key] = None
            while len(_costly) > 1024:
                _costly.popitem(last=False)
        raise
    finally:
        sys.settrace(None)


def _times(cal: icalendar.Calendar, start: dt.datetime,
           end: dt.datetime) -> Iterator[icalendar.Component]:
    """The series' occurrences from `start` to `end`: a bounded walk, even for a rule that
    never happens again (BYMONTH=2;BYMONTHDAY=30 would be looked for until the year 9999)."""
    query = recurring_ical_events.of(cal, components=("VEVENT", "VTODO"))
    return iter(query.between(start, end))


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
