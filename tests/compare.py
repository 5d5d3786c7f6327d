"""Property-by-property comparison: what a client wrote against what the server returns.

A property counts as kept when the stored item has one with the same name, the same
parameters and the same value. docs/FORMAT.md lists the only changes the format makes, and
`lost()` accepts exactly those.
"""

from __future__ import annotations

import icalendar

from server import model


def _key(comp: icalendar.Component) -> tuple[str, str, str]:
    rid = comp.get("RECURRENCE-ID")
    return comp.name, str(comp.get("UID", "")), rid.to_ical().decode() if rid else ""


def _lines(comp: icalendar.Component) -> list[tuple[str, tuple, bytes]]:
    out = []
    for name, value in comp.property_items(recursive=False, sorted=False):
        if name in ("BEGIN", "END"):
            continue
        params = tuple(sorted((k.upper(), str(v)) for k, v in value.params.items()
                              if k.upper() != "VALUE")) if hasattr(value, "params") else ()
        raw = value.to_ical() if hasattr(value, "to_ical") else str(value).encode()
        out.append((name.upper(), params, raw))
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
    before = icalendar.Calendar.from_ical(sent)
    after = icalendar.Calendar.from_ical(stored)
    after_by_key = _components(after)
    problems = []
    for key, comps in _components(before).items():
        if key not in after_by_key:
            problems.append(f"component {key} is gone")
            continue
        for comp, stored_comp in zip(comps, after_by_key[key], strict=False):
            kept = _lines(stored_comp)
            for name, params, raw in _lines(comp):
                if (name, params, raw) in kept:
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
        # The text stays, with our link line after it; ALTREP goes with the old text.
        text = str(stored_comp.get("DESCRIPTION", ""))
        original = _unescape(raw.decode())
        return model.strip_page_line(text).rstrip() == original.rstrip()
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
    if name in ("STATUS", "COMPLETED", "PERCENT-COMPLETE"):
        return model.is_closed(stored_comp)  # completion normalised to all three marks
    return False
