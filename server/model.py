"""The action model: a CRM action read from and written to iCalendar.

Everything here is pure: functions take a calendar object and return a new one, so the web
companion, the CLI and the Radicale plugins share one definition of what "closed", "linked" and
"successor" mean. docs/FORMAT.md is the contract these functions implement.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import quote, unquote
from zoneinfo import ZoneInfo

import icalendar

from server import ical

KINDS = ("call", "meeting", "email", "task")
LINK_KINDS = ("account", "contact", "opportunity", "project")

PROP_KIND = "X-FOLLOWUP-KIND"
PROP_PAGE = "X-FOLLOWUP-PAGE"
PROP_CLOSED = "X-FOLLOWUP-CLOSED"
PROP_PREVIOUS = "X-FOLLOWUP-PREVIOUS"
PROP_NEXT = "X-FOLLOWUP-NEXT"
PROP_OUTCOME = "X-FOLLOWUP-OUTCOME"
LINK_PROPS = {kind: f"X-FOLLOWUP-{kind.upper()}" for kind in LINK_KINDS}
# Where a value the format forbids is kept, so that nothing a client wrote is lost.
SAVED_PREFIX = ical.SAVED_PREFIX  # "X-FOLLOWUP-SAVED-": read as the client wrote it

# A closed meeting reads as done in every client through this mark (events have no done state).
CLOSED_MARK = "✓ "
# The last line of DESCRIPTION that carries the page link, for clients that do not show URL.
PAGE_LINE_PREFIX = "followup: "
# The outcome note written when closing, in DESCRIPTION so that every client shows it.
OUTCOME_LINE_PREFIX = "Outcome: "
PRODID = "-//followup//followup 0.1//EN"
DEFAULT_DELAYS = {
    "call": dt.timedelta(days=2),
    "meeting": dt.timedelta(days=7),
    "email": dt.timedelta(days=1),
    "task": dt.timedelta(days=3),
}
MEETING_LENGTH = dt.timedelta(hours=1)
# Dates typed by people: outside this range it is a typo (0206 for 2026), not a plan.
FIRST_YEAR, LAST_YEAR = 1900, 2199
DATE_FORMS = "YYYY-MM-DD or YYYY-MM-DDTHH:MM"
# The longest summary followup writes (the page's form allows as much): a title, not a text.
SUMMARY_LIMIT = 500
# Successor UIDs are derived from the predecessor's so that a retry finds, not duplicates, them.
SUCCESSOR_NAMESPACE = uuid.UUID("8f5bc1a4-3c0e-4f35-9c53-0d1f6f6b7a10")

Moment = dt.date | dt.datetime
MAX_INTEGER = 2**31 - 1


class ActionError(ValueError):
    """An input that cannot be an action; the message says what to do."""


class ActionClosed(ActionError):
    """A change meant for an open action (postponing it) asked of a closed one."""


class RepeatsError(ActionError):
    """Postpone asked of a repeating action (it is moved in a calendar app)."""


class OutOfCalendar(ActionError):
    """A date that cannot move further: it would leave the calendar (past year 9999)."""


class DateError(ActionError):
    """A typed date that followup does not take.

    `problem` says which rule it breaks, so that the page can say it in the reader's
    language: "unreadable" (not a date, or outside FIRST_YEAR..LAST_YEAR) or "skipped" (a
    local time that does not exist, in the hour the clocks skip in spring)."""

    def __init__(self, text: str, problem: str, zone: str = "") -> None:
        self.text, self.problem, self.zone = text, problem, zone
        if problem == "skipped":
            message = (f"{text} does not exist in {zone}: the clocks skip that hour on that "
                       "day (daylight saving time); choose another time")
        else:
            message = (f"{text!r} is not a date followup accepts: write {DATE_FORMS}, "
                       f"with a year from {FIRST_YEAR} to {LAST_YEAR}")
        super().__init__(message)


@dataclass(frozen=True)
class Link:
    """A link to a CRM record: its kind, a URI that identifies it and a human label."""

    kind: str
    uri: str
    label: str

    @classmethod
    def named(cls, kind: str, name: str) -> Link:
        """A link given as a URI (kept as it is) or as a plain name (given a followup URN).

        A name is normalised to NFC: "Café" typed with one é (NFC) or with an e and a
        combining accent (NFD, as some macOS and Linux input gives it) looks the same, so it
        must be the same record, with the same URN."""
        name = name.strip()
        if "://" in name or name.startswith(("urn:", "mailto:")):
            return cls(kind, name, name)
        name = unicodedata.normalize("NFC", name)
        return cls(kind, f"{URN_PREFIX}{kind}:{_quote(name)}", name)


def _quote(text: str) -> str:
    return quote(text, safe="")


URN_PREFIX = "urn:followup:"


def link_key(uri: str) -> str:
    """What makes two link URIs the same record: a followup URN compared by its name in NFC
    (a client or an older followup may have written the NFD spelling), any other URI as is."""
    if not uri.startswith(URN_PREFIX):
        return uri
    return _quote_urn(unicodedata.normalize("NFC", unquote(uri)))


def _quote_urn(uri: str) -> str:
    kind, _, name = uri[len(URN_PREFIX):].partition(":")
    return f"{URN_PREFIX}{kind}:{_quote(name)}"


def fit_summary(text: str) -> str:
    """A summary we make from someone's label, cut to SUMMARY_LIMIT (with … when cut)."""
    return text if len(text) <= SUMMARY_LIMIT else text[:SUMMARY_LIMIT - 1] + "…"


# Control characters other than tab, LF and CR are not allowed in iCalendar text, and one
# in a stored item makes every calendar-query answer invalid XML (the whole calendar stops
# syncing). Word puts a vertical tab in pasted soft line breaks.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(text: str) -> str:
    """Text as iCalendar can carry it: control characters become spaces."""
    return CONTROL_CHARACTERS.sub(" ", text)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


# -- reading -----------------------------------------------------------------------------------


def parse(text: str | bytes) -> icalendar.Calendar:
    """Parse iCalendar text tolerantly; raise ActionError with a readable reason otherwise."""
    try:
        cal = ical.read(text)  # values kept as written (server/ical.py)
    except Exception as exc:  # icalendar raises several types for broken input
        raise ActionError(f"not a readable iCalendar object: {exc}") from exc
    if not isinstance(cal, icalendar.Calendar):
        raise ActionError("not a VCALENDAR object")
    if main_component(cal) is None:
        raise ActionError("the calendar object holds no VTODO or VEVENT")
    return cal


def main_component(cal: icalendar.Calendar) -> icalendar.Component | None:
    """The VTODO or VEVENT that is the action: the master, not a recurrence override."""
    found = None
    for comp in cal.subcomponents:
        if comp.name in ("VTODO", "VEVENT"):
            if "RECURRENCE-ID" not in comp:
                return comp
            found = found or comp
    return found


def _main(cal: icalendar.Calendar) -> icalendar.Component:
    comp = main_component(cal)
    if comp is None:
        raise ActionError("the calendar object holds no VTODO or VEVENT")
    return comp


def _text(comp: icalendar.Component, name: str) -> str:
    value = comp.get(name)
    if isinstance(value, list):
        value = value[-1]
    return "" if value is None else str(value)


def moment(comp: icalendar.Component, name: str) -> Moment | None:
    """A date property's day or time; None when absent or unreadable."""
    prop = comp.get(name)
    if isinstance(prop, list):
        prop = prop[0]
    if prop is None:
        return None
    try:
        # A broken value raises on .dt (icalendar's BrokenCalendarProperty); an X- property
        # a client rewrote without VALUE=DATE-TIME has no .dt and is parsed here.
        value = prop.dt if hasattr(prop, "dt") else icalendar.vDDDTypes.from_ical(str(prop))
    except Exception:
        return None
    # Only a day or a time of day on a date is a moment; a bare time ("DUE:230101") or a
    # duration is a broken value, read as no date at all (found by tests/test_fuzz.py).
    return value if isinstance(value, dt.date) else None


@dataclass(frozen=True)
class Action:
    """A read-only view of an action, for pages and lists. The calendar stays the truth."""

    uid: str
    component: str  # "VTODO" or "VEVENT"
    kind: str
    summary: str
    description: str
    when: Moment | None  # DUE for a task, DTSTART for an event
    end: Moment | None
    links: dict[str, Link]
    previous: str | None
    next: str | None
    closed: bool
    closed_at: dt.datetime | None
    page: str | None
    outcome: str
    sequence: int
    # The whole calendar object when the action repeats (RRULE or RDATE): what
    # server/recurrence.py expands into the times it happens. None for a one-off.
    series: icalendar.Calendar | None = field(default=None, compare=False, repr=False)

    @property
    def is_event(self) -> bool:
        return self.component == "VEVENT"


def read(cal: icalendar.Calendar) -> Action:
    """Read the action from a parsed calendar object; tolerant of every client's habits."""
    comp = _main(cal)
    is_event = comp.name == "VEVENT"
    kind = _text(comp, PROP_KIND).lower()
    if kind not in KINDS:
        kind = "meeting" if is_event else "task"
    links = {}
    for link_kind, prop_name in LINK_PROPS.items():
        prop = comp.get(prop_name)
        if isinstance(prop, list):
            prop = prop[-1]
        if prop is not None and str(prop):
            label = prop.params.get("LABEL") or str(prop)
            if isinstance(label, list):  # LABEL=Foo, Inc. unquoted reads as two values
                label = ",".join(label)
            links[link_kind] = Link(link_kind, str(prop), str(label))
    summary = _text(comp, "SUMMARY")
    if is_event and summary.startswith(CLOSED_MARK):
        summary = summary[len(CLOSED_MARK):]
    when = moment(comp, "DTSTART" if is_event else "DUE")
    if when is None and not is_event:
        when = moment(comp, "DTSTART")
    end = moment(comp, "DTEND") if is_event else None
    closed_at = moment(comp, PROP_CLOSED) or moment(comp, "COMPLETED")
    return Action(
        uid=_text(comp, "UID"),
        component=comp.name,
        kind=kind,
        summary=summary,
        description=_without_outcome_line(strip_page_line(_text(comp, "DESCRIPTION")),
                                          _outcome(comp)),
        when=when,
        end=end,
        links=links,
        previous=_text(comp, PROP_PREVIOUS) or None,
        next=_text(comp, PROP_NEXT) or None,
        closed=is_closed(comp),
        closed_at=closed_at if isinstance(closed_at, dt.datetime) else None,
        page=_text(comp, PROP_PAGE) or None,
        outcome=_outcome(comp),
        sequence=sequence(comp),
        series=cal if "RRULE" in comp or "RDATE" in comp else None,
    )


def _outcome(comp: icalendar.Component) -> str:
    return unescape_text(_text(comp, PROP_OUTCOME))  # X- values come back still escaped


def unescape_text(text: str) -> str:
    """RFC 5545 TEXT unescaping (icalendar 7's vText.from_ical leaves escapes in place)."""
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), text)


def _without_outcome_line(description: str, outcome: str) -> str:
    """The description as people wrote it: the outcome is shown on its own."""
    if not outcome:
        return description
    parts = [p for p in description.split("\n\n") if p != OUTCOME_LINE_PREFIX + outcome]
    return "\n\n".join(parts)


def in_zone(when: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """A time as the clock in zone `tz` shows it; a floating time as written.

    Within hours of the calendar's ends (year 1, year 9999) the time in `tz` may fall
    outside what Python can hold (9999-12-31T23:30Z is in year 10000 in Paris): then the
    time is kept as written, in its own zone, so that one odd item still shows instead of
    breaking the page or the command that lists it."""
    if when.tzinfo is None:
        return when
    try:
        return when.astimezone(tz)
    except (OverflowError, ValueError):
        return when


def local_day(when: Moment, tz: dt.tzinfo) -> dt.date:
    """The day a moment falls on for someone in zone `tz` (a floating time is taken as is)."""
    if isinstance(when, dt.datetime):
        return in_zone(when, tz).date()
    return when


def is_closed(comp: icalendar.Component) -> bool:
    """Closed if any one client's way of saying so is present (clients disagree on which)."""
    if PROP_CLOSED in comp:
        return True
    if comp.name != "VTODO":
        return False
    if _text(comp, "STATUS").upper() == "COMPLETED" or "COMPLETED" in comp:
        return True
    percent = percent_complete(comp)
    return percent is not None and percent >= 100


def percent_complete(comp: icalendar.Component) -> int | None:
    """PERCENT-COMPLETE as a number, None when absent or not an RFC 5545 integer (a client's
    `x`, `1e9` or 99999999999 is kept as written, and says nothing about being done)."""
    value = comp.get("PERCENT-COMPLETE")
    if isinstance(value, list):
        value = value[-1] if value else None
    return None if value is None else ical.integer(value)


def sequence(comp: icalendar.Component) -> int:
    """SEQUENCE as our writes count from it: 0 when absent, negative or not an integer
    (kept as written until our next write replaces it), the 32-bit top when past it."""
    value = comp.get("SEQUENCE")
    if isinstance(value, list):
        value = value[-1] if value else None
    text = "" if value is None else str(value).strip()
    number = ical.integer(text)
    if number is None and re.fullmatch(r"\+?[0-9]+", text):
        return MAX_INTEGER  # a huge count: still the newest version
    return min(max(number or 0, 0), MAX_INTEGER)


def href_of(prop: icalendar.prop.vText | None) -> str | None:
    """The href hint stored with a PREVIOUS/NEXT chain property, if any."""
    if isinstance(prop, list):  # the property written twice (a client merge): the last wins
        prop = prop[-1] if prop else None
    if prop is None:
        return None
    return prop.params.get("X-HREF") or None


def chain_href(cal: icalendar.Calendar, which: str) -> str | None:
    comp = _main(cal)
    return href_of(comp.get(PROP_PREVIOUS if which == "previous" else PROP_NEXT))


# -- writing -----------------------------------------------------------------------------------


def _touch(comp: icalendar.Component, now: dt.datetime) -> None:
    """What every write of ours does: SEQUENCE+1, DTSTAMP and LAST-MODIFIED now."""
    # RFC 5545 integers are 32-bit: a client's huge SEQUENCE stays at the top, not past it.
    _set(comp, "SEQUENCE", min(sequence(comp) + 1, MAX_INTEGER))
    _set(comp, "DTSTAMP", now)
    _set(comp, "LAST-MODIFIED", now)


def _set(comp: icalendar.Component, name: str, value, parameters: dict | None = None) -> None:
    """Set one property in place (its position kept), writing nothing if it is unchanged."""
    scratch = icalendar.Component()
    scratch.add(name, value, parameters=parameters)
    wanted = scratch[name]
    old = comp.get(name)
    if (old is not None and not isinstance(old, list) and old.to_ical() == wanted.to_ical()
            and dict(old.params) == dict(wanted.params)):
        return
    comp[name] = wanted


def _save_aside(comp: icalendar.Component, name: str) -> None:
    """Move a property the format forbids to an X- name, keeping value and parameters."""
    if name not in comp:
        return
    values = comp.pop(name)
    saved = SAVED_PREFIX + name
    for value in values if isinstance(values, list) else [values]:
        comp.add(saved, value, encode=False)


def repair(cal: icalendar.Calendar, now: dt.datetime | None = None) -> icalendar.Calendar:
    """Make a client's object valid for every client, losing nothing (FORMAT.md, "Repairs").

    Returns a new calendar; the input is not changed. Idempotent.
    """
    cal = copy.deepcopy(cal)
    now = now or utcnow()
    for comp in cal.subcomponents:
        if comp.name not in ("VTODO", "VEVENT"):
            continue
        if "DTSTAMP" not in comp:
            comp.add("DTSTAMP", now)
        uid = _text(comp, "UID")
        related = comp.get("RELATED-TO")
        related = related if isinstance(related, list) else [related] if related else []
        if any(str(r) == uid for r in related):
            _save_aside(comp, "RELATED-TO")
            for r in related:
                if str(r) != uid:
                    comp.add("RELATED-TO", r, encode=False)
        if comp.name == "VTODO" and "DTSTART" in comp and "DUE" in comp:
            start, due = moment(comp, "DTSTART"), moment(comp, "DUE")
            if not _ordered(start, due):
                # RFC 5545 wants DTSTART before DUE and of the same value type: keep DUE alone.
                _save_aside(comp, "DTSTART")
    if "PRODID" not in cal:
        cal.add("PRODID", PRODID)
    if "VERSION" not in cal:
        cal.add("VERSION", "2.0")
    _add_missing_timezones(cal)
    return cal


def _ordered(start: Moment | None, due: Moment | None) -> bool:
    if start is None or due is None:
        return True
    if isinstance(start, dt.datetime) != isinstance(due, dt.datetime):
        return False
    try:
        return start < due
    except TypeError:  # one naive, one aware
        return False


# icalendar writes a VTIMEZONE as the zone's transitions from 1970 to 2038: an action dated
# later would read an hour off in summer in a client that trusts the VTIMEZONE. The span is
# stretched to two years past the item's last date, up to the years typed dates may have.
ZONE_SPAN = (dt.date(1970, 1, 1), dt.date(2038, 1, 1))


def _add_missing_timezones(cal: icalendar.Calendar) -> None:
    try:
        if not cal.get_missing_tzids():  # the usual case, on every write: no walk of dates
            return
    except Exception:  # an unknown TZID stays as the client wrote it; readers fall back to UTC
        return
    first, last = ZONE_SPAN
    years = [when.year for comp in cal.walk() for name in ("DTSTART", "DTEND", "DUE")
             if isinstance(when := moment(comp, name), dt.date) and not comp.name.startswith(
                 ("STANDARD", "DAYLIGHT"))]
    if years and max(years) + 2 > last.year:
        last = dt.date(min(max(years) + 2, LAST_YEAR + 1), 1, 1)  # bounded: 8 kB for Paris
    try:
        cal.add_missing_timezones(first, last)
    except Exception:  # an unknown TZID stays as the client wrote it; readers fall back to UTC
        pass


def page_line(url: str) -> str:
    return PAGE_LINE_PREFIX + url


def strip_page_line(description: str) -> str:
    """The description as the user wrote it: without our trailing page-link line."""
    lines = description.split("\n")
    while lines and lines[-1].startswith(PAGE_LINE_PREFIX) and "/a/" in lines[-1]:
        lines.pop()
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)


def stamp(cal: icalendar.Calendar, page_url: str) -> icalendar.Calendar:
    """Give the action its page link (FORMAT.md, "The page link"). Idempotent; returns a copy.

    The link goes in X-FOLLOWUP-PAGE always, in URL unless the user has a URL of their own,
    and on the last line of DESCRIPTION.
    """
    cal = repair(cal)
    comp = _main(cal)
    old_page = _text(comp, PROP_PAGE)
    _set(comp, PROP_PAGE, page_url, parameters={"VALUE": "URI"})
    url = _text(comp, "URL")
    ours = not url or url in (old_page, page_url)
    if ours and (url != page_url or comp["URL"].params.get("VALUE") != "URI"):
        _set(comp, "URL", page_url, parameters={"VALUE": "URI"})
    _write_description(comp, strip_page_line(_text(comp, "DESCRIPTION")), page_url)
    return cal


def _write_description(comp: icalendar.Component, user_text: str,
                       page_url: str | None = None) -> None:
    """DESCRIPTION as the user's text, then our page-link line (kept if no new one is given)."""
    description = _text(comp, "DESCRIPTION")
    if page_url is None:
        tail = description[len(strip_page_line(description)):].strip()
        line = tail if tail.startswith(PAGE_LINE_PREFIX) else ""
    else:
        line = page_line(page_url)
    wanted = "\n\n".join(part for part in (user_text, line) if part)
    if description != wanted:
        # Thunderbird keeps showing the ALTREP copy if it stays: drop it with the old text.
        # Every other parameter (LANGUAGE, a client's X-) is the client's and stays.
        old = comp.get("DESCRIPTION")
        params = {} if old is None or isinstance(old, list) else dict(old.params)
        params.pop("ALTREP", None)
        _set(comp, "DESCRIPTION", wanted, parameters=params or None)


def is_stamped(cal: icalendar.Calendar, page_url: str) -> bool:
    return stamp(cal, page_url).to_ical() == repair(cal).to_ical()


def close(cal: icalendar.Calendar, now: dt.datetime | None = None,
          outcome: str = "") -> icalendar.Calendar:
    """Mark the action done (FORMAT.md, "Closed"). Closing a closed action changes nothing."""
    cal = repair(cal)
    comp = _main(cal)
    now = now or utcnow()
    if is_closed(comp) and _complete(comp):
        return cal
    when = moment(comp, "COMPLETED")
    closed_at = when if isinstance(when, dt.datetime) else now
    try:
        closed_at = closed_at.astimezone(dt.UTC)
    except (OverflowError, ValueError):  # a client's COMPLETED at year 1 in Tokyo: not a time
        closed_at = now.astimezone(dt.UTC)
    if comp.name == "VTODO":
        _set(comp, "STATUS", "COMPLETED")
        _set(comp, "COMPLETED", closed_at)
        _set(comp, "PERCENT-COMPLETE", 100)
    else:
        summary = _text(comp, "SUMMARY")
        if not summary.startswith(CLOSED_MARK):
            _set(comp, "SUMMARY", CLOSED_MARK + summary)
    if PROP_CLOSED not in comp:
        comp.add(PROP_CLOSED, closed_at, parameters={"VALUE": "DATE-TIME"})
    outcome = clean_text(outcome).strip()
    if outcome:
        _write_outcome(comp, outcome)
    _touch(comp, now)
    return cal


def add_outcome(cal: icalendar.Calendar, outcome: str,
                now: dt.datetime | None = None) -> icalendar.Calendar:
    """Give an action closed without a note its outcome, in both places (``close`` writes
    nothing on a closed action). An outcome it already has is kept: the first close wins."""
    cal = repair(cal)
    comp = _main(cal)
    outcome = clean_text(outcome).strip()
    if not outcome or _outcome(comp):
        return cal
    _write_outcome(comp, outcome)
    _touch(comp, now or utcnow())
    return cal


def _write_outcome(comp: icalendar.Component, outcome: str) -> None:
    """The outcome in X-FOLLOWUP-OUTCOME and as the `Outcome:` line of DESCRIPTION, the two
    always alike (an older note, e.g. copied into an open item, goes with its line)."""
    _drop_outcome(comp)
    # vText: escaped as TEXT (a bare X- value is written raw, and a comma splits it).
    _set(comp, PROP_OUTCOME, icalendar.vText(outcome))
    # X- properties are invisible in calendar apps: the note goes in the text too.
    text = strip_page_line(_text(comp, "DESCRIPTION"))
    note = OUTCOME_LINE_PREFIX + outcome
    if note not in text.split("\n\n"):
        _write_description(comp, "\n\n".join(part for part in (text, note) if part))


def _complete(comp: icalendar.Component) -> bool:
    """All marks of a closed action are present (so closing again has nothing to add)."""
    if PROP_CLOSED not in comp:
        return False
    if comp.name == "VEVENT":
        return _text(comp, "SUMMARY").startswith(CLOSED_MARK)
    return (_text(comp, "STATUS").upper() == "COMPLETED" and "COMPLETED" in comp
            and str(comp.get("PERCENT-COMPLETE", "")) == "100")


def reopen(cal: icalendar.Calendar, now: dt.datetime | None = None) -> icalendar.Calendar:
    """Undo a close: the action is open again, every closed mark removed."""
    cal = repair(cal)
    comp = _main(cal)
    if not is_closed(comp):
        return cal
    for name in (PROP_CLOSED, "COMPLETED", "PERCENT-COMPLETE"):
        comp.pop(name, None)
    _drop_outcome(comp)  # the close did not happen, nor did its outcome
    if comp.name == "VTODO":
        _set(comp, "STATUS", "NEEDS-ACTION")
    else:
        summary = _text(comp, "SUMMARY")
        if summary.startswith(CLOSED_MARK):
            _set(comp, "SUMMARY", summary[len(CLOSED_MARK):])
    _touch(comp, now or utcnow())
    return cal


def _drop_outcome(comp: icalendar.Component) -> None:
    outcome = _outcome(comp)  # unescaped, as its line in DESCRIPTION is
    comp.pop(PROP_OUTCOME, None)
    if not outcome:
        return
    text = strip_page_line(_text(comp, "DESCRIPTION"))
    kept = [part for part in text.split("\n\n") if part != OUTCOME_LINE_PREFIX + outcome]
    if len(kept) != len(text.split("\n\n")):
        _write_description(comp, "\n\n".join(kept))


def successor_uid(predecessor_uid: str, generation: int) -> str:
    """The UID of the action that follows predecessor_uid at its SEQUENCE `generation`.

    Derived, not random: a retried or doubled close-and-create lands on the same UID.
    """
    return str(uuid.uuid5(SUCCESSOR_NAMESPACE, f"{predecessor_uid}#{generation}"))


def default_due(kind: str, today: dt.date) -> dt.date:
    """The suggested day of the next action: its kind's delay, moved off a weekend."""
    due = today + DEFAULT_DELAYS.get(kind, DEFAULT_DELAYS["task"])
    return due + dt.timedelta(days=max(0, 7 - due.weekday())) if due.weekday() >= 5 else due


def parse_due(text: str, tz: dt.tzinfo) -> Moment:
    """A date typed by a person, on the page or the command line: the one rule for both.

    YYYY-MM-DD is a day; YYYY-MM-DDTHH:MM a time in `tz` (with an offset such as +05:30 it
    is written in UTC). The year must be FIRST_YEAR..LAST_YEAR, and a time must exist in
    `tz`: one in the hour the clocks skip in spring is refused rather than moved, so that
    nobody finds a meeting an hour away from what they typed. An hour that happens twice
    (autumn) is the first one. DateError says which rule was broken."""
    text = text.strip()
    try:
        if "T" in text or " " in text:
            typed = dt.datetime.fromisoformat(text.replace(" ", "T"))
            day = typed.date()
        else:
            typed = day = dt.date.fromisoformat(text)
    except ValueError:
        raise DateError(text, "unreadable") from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:  # checked first: no zone arithmetic at year 1
        raise DateError(text, "unreadable")
    if not isinstance(typed, dt.datetime):
        return typed
    typed = typed.replace(second=0, microsecond=0)
    if typed.tzinfo is not None:
        return typed.astimezone(dt.UTC)  # "+05:30" is no zone name: write UTC
    local = typed.replace(tzinfo=tz)
    if not exists(local):
        raise DateError(text, "skipped", zone_name(tz))
    return local


def exists(local: dt.datetime) -> bool:
    """Whether a wall-clock time happens in its zone (not in an hour the clocks skip)."""
    there_and_back = local.astimezone(dt.UTC).astimezone(local.tzinfo)
    return there_and_back.replace(tzinfo=None) == local.replace(tzinfo=None)


def zone_name(tz: dt.tzinfo) -> str:
    return str(getattr(tz, "key", None) or tz)


def date_problems(cal: icalendar.Calendar) -> list[str]:
    """Date and time properties that cannot be read (e.g. 30 February), named for a person."""
    problems = []
    for comp in cal.walk():
        for name in ("DTSTART", "DTEND", "DUE", "COMPLETED", "RECURRENCE-ID"):
            for prop in comp.get(name, []) if isinstance(comp.get(name), list) else \
                    [comp.get(name)] if name in comp else []:
                try:
                    prop.dt  # noqa: B018 (reading it is the check)
                except Exception:
                    raw = prop.to_ical().decode() if hasattr(prop, "to_ical") else str(prop)
                    problems.append(f"{comp.name} {name} {raw} is not a valid date or time")
    return problems


def new(summary: str, kind: str = "task", when: Moment | None = None,
        links: Iterable[Link] = (), uid: str | None = None,
        now: dt.datetime | None = None, description: str = "") -> icalendar.Calendar:
    """A new action as a calendar object: a VEVENT for a meeting, a VTODO for the rest."""
    summary = _checked_summary(summary)
    description = clean_text(description)
    if kind not in KINDS:
        raise ActionError(f"unknown kind {kind!r}: use one of {', '.join(KINDS)}")
    now = now or utcnow()
    cal = icalendar.Calendar()
    cal.add("PRODID", PRODID)
    cal.add("VERSION", "2.0")
    comp = icalendar.Event() if kind == "meeting" else icalendar.Todo()
    comp.add("UID", uid or str(uuid.uuid4()))
    comp.add("DTSTAMP", now)
    comp.add("CREATED", now)
    comp.add("LAST-MODIFIED", now)
    comp.add("SEQUENCE", 0)
    comp.add("SUMMARY", summary)
    comp.add(PROP_KIND, kind)
    if description.strip():
        comp.add("DESCRIPTION", description.strip())
    if kind == "meeting":
        start = when or now.date() + DEFAULT_DELAYS["meeting"]
        comp.add("DTSTART", start)
        try:
            end = start + (MEETING_LENGTH if isinstance(start, dt.datetime)
                           else dt.timedelta(days=1))
        except OverflowError:
            raise OutOfCalendar(f"a meeting at {start.isoformat()} would end after the "
                                "calendar's last day: choose an earlier date") from None
        comp.add("DTEND", end)
    else:
        comp.add("STATUS", "NEEDS-ACTION")
        if when is not None:
            comp.add("DUE", when)
    for link in links:
        comp.add(LINK_PROPS[link.kind], link.uri, parameters={"LABEL": link.label})
    cal.add_component(comp)
    _add_missing_timezones(cal)
    return cal


def successor(cal: icalendar.Calendar, summary: str, when: Moment | None, kind: str | None = None,
              predecessor_href: str | None = None, generation: int | None = None,
              now: dt.datetime | None = None) -> icalendar.Calendar:
    """The next action after `cal`: same links, chained back to it, with a derived UID."""
    action = read(cal)
    kind = kind or action.kind
    gen = action.sequence if generation is None else generation
    cal_next = new(summary, kind, when, action.links.values(),
                   uid=successor_uid(action.uid, gen), now=now)
    comp = _main(cal_next)
    params = {"X-HREF": predecessor_href} if predecessor_href else None
    comp.add(PROP_PREVIOUS, action.uid, parameters=params)
    return cal_next


def link_next(cal: icalendar.Calendar, next_uid: str, next_href: str | None = None,
              now: dt.datetime | None = None) -> icalendar.Calendar:
    """Point a (closed) action at its successor. Linking to the same successor is a no-op."""
    cal = repair(cal)
    comp = _main(cal)
    if _text(comp, PROP_NEXT) == next_uid:
        return cal
    params = {"X-HREF": next_href} if next_href else None
    _set(comp, PROP_NEXT, next_uid, parameters=params)
    _touch(comp, now or utcnow())
    return cal


def close_and_link(cal: icalendar.Calendar, next_uid: str, next_href: str | None,
                   now: dt.datetime | None = None, outcome: str = "") -> icalendar.Calendar:
    """Close the action and point it at its successor, in one write."""
    now = now or utcnow()
    was_complete = _complete(_main(cal))
    closed = close(cal, now, outcome)
    comp = _main(closed)
    if _text(comp, PROP_NEXT) != next_uid:
        params = {"X-HREF": next_href} if next_href else None
        _set(comp, PROP_NEXT, next_uid, parameters=params)
        if was_complete:  # close() wrote nothing, so this change needs its own stamp
            _touch(comp, now)
    return closed


def beside_uid(uid: str, generation: int) -> str:
    """The UID of an action made beside `uid` at its SEQUENCE `generation`: same links, not
    its successor (the page's "create it as an additional action"). Derived like
    successor_uid, so a double click makes one; never equal to a successor's UID."""
    return str(uuid.uuid5(SUCCESSOR_NAMESPACE, f"{uid}#beside#{generation}"))


# The properties that only one of the two components has: a task typed again as a meeting
# (or back) leaves them behind, and the other component's are written afresh.
COMPONENT_ONLY = {"VTODO": ("DUE", "DTSTART", "DURATION", "STATUS", "COMPLETED",
                            "PERCENT-COMPLETE"),
                  "VEVENT": ("DTSTART", "DTEND", "DURATION", "STATUS", "TRANSP")}


def revise(cal: icalendar.Calendar, summary: str | None = None, when: Moment | None = None,
           kind: str | None = None, now: dt.datetime | None = None) -> icalendar.Calendar:
    """The open action as someone typed it again: another title, date or kind (None keeps
    what it has).

    A kind that needs the other component (a meeting is a VEVENT, the rest VTODOs, as `new`
    makes them) turns the item into that component, with its UID, links, chain, page link,
    notes and alarms: it stays the same action, e.g. the "Plan the next step" task a tick
    made, now the meeting the user typed. A moved meeting keeps its length."""
    cal = repair(cal)
    comp = _changeable(cal, "change it", "change it in your calendar app")
    current = read(cal)
    kind = kind or current.kind
    if kind not in KINDS:
        raise ActionError(f"unknown kind {kind!r}: use one of {', '.join(KINDS)}")
    if summary is not None:
        summary = _checked_summary(summary)
    wanted = "VEVENT" if kind == "meeting" else "VTODO"
    length = _length(comp, when)
    if comp.name != wanted:
        when = when if when is not None else current.when
        if when is None:
            raise ActionError("a meeting needs a date: give it one")
        comp = _converted(cal, comp, wanted)
    if summary is not None:
        _set(comp, "SUMMARY", summary)
    _set(comp, PROP_KIND, kind)
    if when is not None:
        _set_when(comp, when, length)
    _touch(comp, now or utcnow())
    return repair(cal)


def _checked_summary(summary: str) -> str:
    # NFC: "é" typed on a Mac arrives as e + a combining accent, two code points that count
    # once against the limit, as they show once.
    summary = unicodedata.normalize("NFC", clean_text(summary)).strip()
    if not summary:
        raise ActionError("an action needs a summary: say what is to be done")
    if len(summary) > SUMMARY_LIMIT:  # not echoed: the point is that it is too long to show
        raise ActionError(f"the summary is {len(summary):,} characters long, more than "
                          f"{SUMMARY_LIMIT}: keep the details for the description")
    return summary


def _length(comp: icalendar.Component, when: Moment | None) -> dt.timedelta:
    """How long a meeting starting at `when` lasts: as long as this event did when it was of
    the same value type (a day, or a time), else an hour or a day."""
    default = MEETING_LENGTH if isinstance(when, dt.datetime) else dt.timedelta(days=1)
    if comp.name != "VEVENT":
        return default
    start, end = moment(comp, "DTSTART"), moment(comp, "DTEND")
    duration = comp.get("DURATION")
    if start is None or isinstance(start, dt.datetime) != isinstance(when, dt.datetime):
        return default
    try:
        length = duration.dt if duration is not None and end is None else end - start
    except (AttributeError, TypeError):  # no end at all, or one naive and one aware
        return default
    return length if isinstance(length, dt.timedelta) and length > dt.timedelta(0) else default


def _converted(cal: icalendar.Calendar, comp: icalendar.Component,
               wanted: str) -> icalendar.Component:
    """`comp` as the other component, in its place in `cal`: every property but those only
    its own component has, and its alarms."""
    other = icalendar.Event() if wanted == "VEVENT" else icalendar.Todo()
    for name, value in comp.property_items(recursive=False, sorted=False):
        if name in ("BEGIN", "END") or name in COMPONENT_ONLY[comp.name]:
            continue
        other.add(name, value, encode=False)
    for sub in comp.subcomponents:
        other.add_component(sub)
    if wanted == "VTODO":
        other.add("STATUS", "NEEDS-ACTION")
    cal.subcomponents[cal.subcomponents.index(comp)] = other
    return other


def _set_when(comp: icalendar.Component, when: Moment, length: dt.timedelta) -> None:
    """The action's date: DUE for a task; DTSTART, and DTEND `length` later, for an event."""
    if comp.name == "VTODO":
        comp.pop("DUE", None)  # its old TZID or VALUE must not stay with the new value
        _set(comp, "DUE", when)
        return
    for name in ("DTSTART", "DTEND", "DURATION"):
        comp.pop(name, None)
    try:
        end = when + length
    except OverflowError:
        raise OutOfCalendar(f"a meeting at {when.isoformat()} would end after the calendar's "
                            "last day: choose an earlier date") from None
    _set(comp, "DTSTART", when)
    _set(comp, "DTEND", end)


def _changeable(cal: icalendar.Calendar, to_do: str, in_app: str) -> icalendar.Component:
    """The main component, if the page may change it: not closed (reopen it `to_do`), not a
    series (`in_app` instead, where the user chooses an occurrence or the whole series)."""
    comp = _main(cal)
    if is_closed(comp):
        raise ActionClosed(f"this action is closed: reopen it to {to_do}")
    if "RRULE" in comp or "RDATE" in comp:
        raise RepeatsError(f"this action repeats: {in_app}, where you can choose this "
                           "occurrence or the whole series")
    return comp


def postpone(cal: icalendar.Calendar, delta: dt.timedelta,
             now: dt.datetime | None = None, today: dt.date | None = None
             ) -> icalendar.Calendar:
    """Move the action's date (DUE, or DTSTART and DTEND) `delta` later.

    An overdue action moves to `delta` after today (postponing must not leave it overdue);
    an undated task gets a due day. A recurring action is moved in a calendar app instead.
    """
    cal = repair(cal)
    # A form shown while it was open (another tab) must not move a done action's date.
    comp = _changeable(cal, "give it another date", "move it in your calendar app")
    now = now or utcnow()
    today = today or now.date()
    when = read(cal).when
    if when is None:
        if comp.name == "VTODO":
            comp.add("DUE", today + dt.timedelta(days=max(delta.days, 0)))
            _touch(comp, now)
        return cal
    late = today - (when.date() if isinstance(when, dt.datetime) else when)
    if late > dt.timedelta(0):
        delta += dt.timedelta(days=late.days)
    names = ("DTSTART", "DTEND") if comp.name == "VEVENT" else ("DTSTART", "DUE")
    for name in names:
        prop = comp.get(name)
        if prop is None or isinstance(prop, list):
            continue
        at = moment(comp, name)
        if at is None:  # a broken date: nothing to move, and it is left as written
            continue
        step = delta if isinstance(at, dt.datetime) else dt.timedelta(days=delta.days)
        try:
            moved = at + step
        except OverflowError:
            raise OutOfCalendar(
                f"this action is dated {at.isoformat()}, at the end of the calendar: it "
                "cannot be postponed; give it a real date in your calendar app") from None
        # VALUE and TZID follow from the new value, except for a zone name the zone database
        # does not know: its time reads as floating and the name is kept as written.
        unknown_zone = isinstance(at, dt.datetime) and at.tzinfo is None
        params = {k: v for k, v in prop.params.items()
                  if k.upper() != "VALUE" and (k.upper() != "TZID" or unknown_zone)}
        comp[name] = _encoded(name, moved, params)
    _touch(comp, now)
    return cal


def _encoded(name: str, value: Moment, params: dict) -> icalendar.prop.vDDDTypes:
    scratch = icalendar.Component()
    scratch.add(name, value, parameters=params or None)
    return scratch[name]


def to_text(cal: icalendar.Calendar) -> str:
    """Serialize keeping the client's property order."""
    return cal.to_ical(sorted=False).decode("utf-8")


def local_zone(name: str | None) -> dt.tzinfo:
    if not name:
        return dt.UTC
    try:
        return ZoneInfo(name)
    except Exception as exc:
        raise ActionError(f"unknown time zone {name!r}: use a name such as Europe/Paris") from exc


def unlink_next(cal: icalendar.Calendar, now: dt.datetime | None = None) -> icalendar.Calendar:
    """Forget the action's successor (after it was deleted on undo). No successor: no change."""
    cal = repair(cal)
    comp = _main(cal)
    if PROP_NEXT not in comp:
        return cal
    comp.pop(PROP_NEXT)
    _touch(comp, now or utcnow())
    return cal
