"""Property-by-property comparison: what a client wrote against what the server returns.

A property counts as kept when the stored item has one with the same name, the same
parameters and the same value. docs/FORMAT.md lists the only changes the format makes, and
`lost()` accepts exactly those.

Values are compared as RFC 5545 defines them, read here by the test's own reader (not the
product's, so that a mistake there cannot hide itself): a TEXT list (RESOURCES, CATEGORIES)
is its texts, split at unescaped commas (`a\\,b,c` is two: "a,b" and "c"); REQUEST-STATUS
and a property of a type icalendar does not know (X- and unknown names, whatever their VALUE
parameter says) are their bytes as written; the rest is icalendar's reading.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import ClassVar

import icalendar
from icalendar.parser import split_on_unescaped_comma
from icalendar.prop import TypesFactory, vText, vUnknown

from server import model


class _TextList:
    """A list of TEXT values: equal when the texts are, however each comma was escaped."""

    params: dict

    def __init__(self, texts: list[str]) -> None:
        self.texts = list(texts)
        self.params = {}

    @staticmethod
    def get_value_from_content_line(line) -> str:
        return line.raw_parts()[2]  # before unescaping: an escaped comma is not a separator

    @staticmethod
    def from_ical(raw: str) -> list[str]:
        return split_on_unescaped_comma(raw)

    def to_ical(self) -> bytes:
        return b",".join(vText(text).to_ical() for text in self.texts)


class _AsDefined(TypesFactory):
    """icalendar's value types, except where they read a value otherwise than RFC 5545."""

    known: ClassVar = TypesFactory.types_map

    def for_property(self, name, value_param=None):
        if name.upper() == "RESOURCES":
            return _TextList
        if name.upper() == "REQUEST-STATUS" or (
                name not in self.known and name.upper() not in ("RDATE", "EXDATE")):
            return vUnknown
        return super().for_property(name, value_param)


class _Calendar(icalendar.Calendar):
    types_factory = _AsDefined()


def read(text: str | bytes) -> icalendar.Calendar:
    """A calendar as the comparison reads it (see above)."""
    return _Calendar.from_ical(text)


def _key(comp: icalendar.Component) -> tuple[str, str, str]:
    rid = comp.get("RECURRENCE-ID")
    return comp.name, str(comp.get("UID", "")), rid.to_ical().decode() if rid else ""


def _params(name: str, value) -> tuple:
    """The parameters that say something: a VALUE equal to the property's default type is
    the same as none (icalendar leaves it out), any other VALUE counts."""
    default = _AsDefined.known.get(name.lower(), "").upper()
    return tuple(sorted((k.upper(), str(v)) for k, v in getattr(value, "params", {}).items()
                        if not (k.upper() == "VALUE" and str(v).upper() == default)))


def _lines(comp: icalendar.Component) -> list[tuple[str, tuple, bytes]]:
    out = []
    for name, value in comp.property_items(recursive=False, sorted=False):
        if name in ("BEGIN", "END"):
            continue
        raw = value.to_ical() if hasattr(value, "to_ical") else str(value).encode()
        out.append((name.upper(), _params(name, value), raw))
    return out


def _components(cal: icalendar.Calendar) -> dict:
    found = {}
    for comp in cal.walk():
        if comp.name in ("VCALENDAR",):
            continue
        found.setdefault(_key(comp), []).append(comp)
    return found


def lost(sent: str | bytes, stored: str | bytes) -> list[str]:
    """What the client sent that is not in the stored item (allowed changes excepted)."""
    before = read(sent)
    after = read(stored)
    after_by_key = _components(after)
    problems = []
    for key, comps in _components(before).items():
        if key not in after_by_key:
            problems.append(f"component {key} is gone")
            continue
        stored_comps = after_by_key[key]
        if len(stored_comps) < len(comps):  # a second VALARM, a DAYLIGHT rule of a zone
            problems.append(f"{len(comps) - len(stored_comps)} of {len(comps)} {key} gone")
        for comp, stored_comp in zip(comps, stored_comps, strict=False):
            kept = _lines(stored_comp)
            unmatched = Counter(kept)  # a line sent twice must be stored twice
            for name, params, raw in _lines(comp):
                if unmatched[(name, params, raw)] > 0:
                    unmatched[(name, params, raw)] -= 1
                    continue
                if _allowed(name, params, raw, stored_comp, kept):
                    continue
                problems.append(f"{key[0]} {name}{dict(params) or ''}:{raw[:80]!r}")
    return problems


_unescape = model.unescape_text


def _allowed(name, params, raw, stored_comp, kept) -> bool:
    saved = model.SAVED_PREFIX + name
    if (saved, params, raw) in kept:  # set aside under X-FOLLOWUP-SAVED-*, value intact
        return True
    if name == "DESCRIPTION":
        # The text stays, with our link line after it; ALTREP goes with the old text, every
        # other parameter (LANGUAGE, a client's X-) stays.
        stored = stored_comp.get("DESCRIPTION")
        if stored is None or _params(name, stored) != tuple(
                p for p in params if p[0] != "ALTREP"):
            return False
        original = _unescape(raw.decode())
        return model.strip_page_line(str(stored)).rstrip() == original.rstrip()
    if name == "SUMMARY":  # a closed event's summary carries the closed mark in front
        original = _unescape(raw.decode())
        stored = str(stored_comp.get("SUMMARY", ""))
        # A mark the user typed ("✓Done", "✔ Done") is written as the format's "✓ ".
        typed = original.lstrip()
        typed = typed[1:].lstrip() if typed[:1] in ("✓", "✔") else None
        return stored == model.CLOSED_MARK + original or (
            typed is not None and stored == model.CLOSED_MARK + typed)
    if name in ("DTSTAMP", "LAST-MODIFIED", "SEQUENCE"):
        return name in stored_comp
    if name in ("STATUS", "PERCENT-COMPLETE"):
        # Completion normalised to all three marks: only a value that said "not done" moves.
        done = b"COMPLETED" if name == "STATUS" else b"100"
        return raw.strip().upper() != done and model.is_closed(stored_comp)
    if name in ("COMPLETED", "PERCENT-COMPLETE", model.PROP_CLOSED) and not model.is_closed(
            stored_comp):  # reopened (the client's own mark said open): every closed mark goes
        return True
    if name == "COMPLETED":  # written in UTC: the same instant, or now if it has none
        return _same_instant_or_none(raw, dict(params).get("TZID"), stored_comp)
    return False


def _same_instant_or_none(raw: bytes, tzid: str | None,
                          stored_comp: icalendar.Component) -> bool:
    stored = stored_comp.get("COMPLETED")
    if stored is None:
        return False
    try:
        sent = icalendar.vDDDTypes.from_ical(raw.decode(), timezone=tzid)
        return sent.astimezone(dt.UTC) == stored.dt
    except (OverflowError, ValueError, AttributeError):
        return True  # no UTC instant (a date, year 1 in Tokyo): the close's time stands
