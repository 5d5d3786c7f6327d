"""Keep what a client sent when a parser on the way damaged it.

Radicale parses every upload with vobject and stores vobject's serialization. vobject 0.9
truncates text at an unescaped comma (``SUMMARY:a,b`` is stored as ``SUMMARY:a``), doubles
the backslash of ``\\:``, drops empty parameters, and more. `restore_damaged()` compares the
client's text (parsed by server/ical.py, our reference reading) with what vobject made of it,
and puts back, property name by property name, the client's lines wherever vobject's differ.

Properties Radicale changes on purpose (its client workarounds) are left as Radicale made
them: DURATION beside DTEND (Thunderbird) and EXDATE/RDATE value types (Evolution), in
events, tasks and journals only.
Pure: no Radicale, no I/O.
"""

from __future__ import annotations

import copy
import functools
import re
from collections import Counter

import icalendar

RADICALE_FIXES = frozenset({"DURATION", "EXDATE", "RDATE"})
RADICALE_FIXED_COMPONENTS = frozenset({"VEVENT", "VTODO", "VJOURNAL"})


_FOLD = re.compile(r"\r?\n[ \t]")


@functools.lru_cache(maxsize=16)
def content_lines(text: str) -> tuple[str, ...]:
    """The unfolded, non-empty content lines of a text. One upload asks this of the same
    few texts (the body, vobject's copy, the stored version) several times: kept."""
    return tuple(x for x in _FOLD.sub("", text).splitlines() if x)


def same_lines(a: str, b: str) -> bool:
    """Do two texts hold the same content lines, in any order? A cheap test that spares a
    full parse when a parser only re-sorted or re-folded what it read."""
    if a == b:
        return True
    return Counter(content_lines(a)) == Counter(content_lines(b))


def line_key(name: str, value) -> tuple[str, tuple, bytes]:
    """A property line as the comparison sees it: name, parameters, serialized value."""
    params = tuple(sorted((k.upper(), str(v)) for k, v in value.params.items()
                          if k.upper() != "VALUE")) if hasattr(value, "params") else ()
    raw = value.to_ical() if hasattr(value, "to_ical") else str(value).encode()
    return name.upper(), params, raw


def _props(comp: icalendar.Component) -> list[tuple[str, object]]:
    return [(n.upper(), v) for n, v in comp.property_items(recursive=False, sorted=False)
            if n.upper() not in ("BEGIN", "END")]


def _by_key(comps: list) -> dict[tuple, list]:
    """Subcomponents by (name, UID, RECURRENCE-ID), in order: vobject regroups them."""
    found: dict[tuple, list] = {}
    for comp in comps:
        rid = comp.get("RECURRENCE-ID")
        key = (comp.name, str(comp.get("UID", "")), rid.to_ical() if rid is not None else b"")
        found.setdefault(key, []).append(comp)
    return found


def _restore_component(sent: icalendar.Component, parsed: icalendar.Component) -> int:
    """Put the client's lines back into `parsed`, name by name; the number of names fixed."""
    sent_props, parsed_props = _props(sent), _props(parsed)
    fixed = 0
    for name in dict.fromkeys(n for n, _ in sent_props):
        if name in RADICALE_FIXES and sent.name in RADICALE_FIXED_COMPONENTS:
            continue
        want = [v for n, v in sent_props if n == name]
        have = [v for n, v in parsed_props if n == name]
        if Counter(line_key(name, v) for v in want) == Counter(line_key(name, v) for v in have):
            continue
        parsed.pop(name, None)
        for value in want:
            parsed.add(name, copy.deepcopy(value), encode=False)
        fixed += 1
    parsed_by_key = _by_key(parsed.subcomponents)
    for key, subs in _by_key(sent.subcomponents).items():
        have = parsed_by_key.get(key, [])
        for sub_sent, sub_parsed in zip(subs, have, strict=False):
            fixed += _restore_component(sub_sent, sub_parsed)
        # A subcomponent the parser dropped: take the client's.
        for extra in subs[len(have):]:
            parsed.add_component(copy.deepcopy(extra))
            fixed += 1
    return fixed


def restore_damaged(sent: icalendar.Calendar,
                    parsed: icalendar.Calendar) -> tuple[icalendar.Calendar, int]:
    """`parsed` with every property the client sent back as sent; (calendar, names fixed)."""
    parsed = copy.deepcopy(parsed)
    if sent.name != parsed.name:
        return parsed, 0
    return parsed, _restore_component(sent, parsed)


class SentCalendar:
    """A whole calendar as its client sent it, item by item.

    Radicale splits a whole-calendar PUT into one item per UID and hands each one over as
    vobject wrote it; this keeps the client's components by UID, and its time zones by TZID,
    to compare each item with (read once per PUT by server/ical.py).
    """

    def __init__(self, cal: icalendar.Calendar) -> None:
        self.components: dict[str, list[icalendar.Component]] = {}
        self.timezones: dict[str, icalendar.Component] = {}
        for comp in cal.subcomponents:
            if comp.name == "VTIMEZONE":
                self.timezones.setdefault(str(comp.get("TZID", "")), comp)
            elif "UID" in comp:
                self.components.setdefault(str(comp["UID"]), []).append(comp)

    def kept_in(self, uid: str, text: str) -> bool:
        """Is every line the client sent for `uid` in `text` (vobject's copy)? A cheap test
        with no parse; a False only means "compare them properly"."""
        have = Counter(content_lines(text))
        want = Counter(line for comp in self.components.get(uid, [])
                       for line in content_lines(comp.to_ical().decode()))
        return not want - have

    def item(self, uid: str, parsed: icalendar.Calendar) -> icalendar.Calendar | None:
        """What the client sent of the item `parsed`, shaped like it: its calendar
        properties and the time zones it holds (Radicale writes those), the client's
        components of that UID and the client's copy of each of those zones."""
        comps = self.components.get(uid)
        if not comps:
            return None
        shaped = icalendar.Calendar()
        shaped.update(parsed)
        for sub in parsed.subcomponents:
            if sub.name == "VTIMEZONE":
                shaped.add_component(self.timezones.get(str(sub.get("TZID", "")), sub))
        for comp in comps:
            shaped.add_component(comp)
        return shaped

