"""iCalendar parsing that gives back, when serialized again, the values the client wrote.

Every parse of an item (the protect filter, the storage plugin, the companion) goes through
`read()`, and every write through icalendar's serialization of what it read. icalendar 7
reads a few values otherwise than RFC 5545 defines them, and writes them back changed:

- RESOURCES is a list of TEXT values (RFC 5545 3.8.1.10), which icalendar reads as one text:
  `RESOURCES:x,y` (two resources) was written back `x\\,y` (one), and `a\\,b,c` as
  `a\\,b\\,c`. It is read here as CATEGORIES is, split at the unescaped commas.
- REQUEST-STATUS is a code and texts separated by semicolons (3.8.8.3), which icalendar
  escapes as one text (`2.0;Success` became `2.0\\;Success`). It is kept as written.
- A property icalendar does not know (X-, or a newer RFC's such as RFC 9073's
  LOCATION-TYPE list) is kept as written (icalendar's UNKNOWN type, RFC 7265), also when it
  has a VALUE parameter: icalendar then applied that type's escaping (`X-FOO;VALUE=TEXT:a,b`
  became `a\\,b`, `X-N;VALUE=INTEGER:1,2` became `1\\,2`), though only the property's
  writer knows whether a comma in it separates values. followup's own properties are the
  exception: docs/FORMAT.md gives their types (`X-FOLLOWUP-CLOSED;VALUE=DATE-TIME`), except
  for the copies of a client's property it saves (`X-FOLLOWUP-SAVED-*`), kept as written.

Only parsing changes: the library's defaults stay as they are for every other user of
icalendar in the process (caldav, recurring_ical_events). Pure: no Radicale, no I/O.
"""

from __future__ import annotations

from typing import ClassVar

import icalendar
from icalendar.caselessdict import CaselessDict
from icalendar.parser import split_on_unescaped_comma
from icalendar.prop import TypesFactory, vCategory

# Values icalendar parses by type, whatever their name: RFC 5545's date lists.
_ALWAYS_TYPED = frozenset({"RDATE", "EXDATE"})
# followup's own properties, read with the type their VALUE names; a saved client property
# (model.SAVED_PREFIX) is the client's and stays as written.
OWN_PREFIX = "X-FOLLOWUP-"
SAVED_PREFIX = "X-FOLLOWUP-SAVED-"


class vTextList(vCategory):
    """A list of TEXT values (RESOURCES), read and written as icalendar does CATEGORIES."""

    @classmethod
    def get_value_from_content_line(cls, line) -> str:
        # The value before unescaping: an escaped comma is part of a text, not a separator.
        return line.raw_parts()[2]

    @staticmethod
    def from_ical(ical: str | list[str]) -> list[str]:
        return list(ical) if isinstance(ical, list) else split_on_unescaped_comma(str(ical))


class _Types(TypesFactory):
    """icalendar's value types, corrected where they change what a client wrote."""

    types_map: ClassVar[CaselessDict] = CaselessDict({
        **TypesFactory.types_map, "resources": "text-list", "request-status": "unknown"})

    def __init__(self) -> None:
        super().__init__()
        self["text-list"] = vTextList

    def for_property(self, name: str, value_param: str | None = None) -> type:
        upper = name.upper()
        typed = name in self.types_map or upper in _ALWAYS_TYPED or (
            upper.startswith(OWN_PREFIX) and not upper.startswith(SAVED_PREFIX))
        if not typed:
            return self["unknown"]  # as written, whatever VALUE says
        return super().for_property(name, value_param)


class _Calendar(icalendar.Calendar):
    """Only a way in: what it parses is made of icalendar's own component classes."""

    types_factory: ClassVar[TypesFactory] = _Types()


def read(text: str | bytes) -> icalendar.Component:
    """Parse iCalendar text (raises what icalendar raises on text it cannot read)."""
    return _Calendar.from_ical(text)
