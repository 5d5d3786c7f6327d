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
- An INTEGER (PERCENT-COMPLETE, PRIORITY, SEQUENCE, REPEAT) that is not one (`x`, `1e9`,
  empty, past 32 bits) made icalendar refuse the whole item in a VTODO (it keeps it in a
  VEVENT), and one it reads otherwise than written (`+5`, `007`, `1_0`, `٥`) came back as
  `5`, `7`, `10`, `5`. Both are kept as written (UNKNOWN); readers that need the number
  take it with `integer()`, which reads RFC 5545's syntax only.

Only parsing changes: the library's defaults stay as they are for every other user of
icalendar in the process (caldav, recurring_ical_events). Pure: no Radicale, no I/O.
"""

from __future__ import annotations

import re
from typing import ClassVar

import icalendar
from icalendar.caselessdict import CaselessDict
from icalendar.parser import split_on_unescaped_comma
from icalendar.parser.ical.component import ComponentIcalParser
from icalendar.prop import TypesFactory, vBroken, vCategory, vInt

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


# RFC 5545 3.3.8: INTEGER = (["+"] / "-") 1*DIGIT, from -2147483648 to 2147483647.
_INTEGER = re.compile(r"[+-]?[0-9]+")
INTEGER_MIN, INTEGER_MAX = vInt.min, vInt.max


def integer(text: object) -> int | None:
    """An INTEGER value as RFC 5545 writes it (spaces around it allowed), None otherwise:
    not a number, another syntax (`1e9`, `1_0`, non-ASCII digits), or past 32 bits."""
    text = str(text).strip()
    if not _INTEGER.fullmatch(text):
        return None
    value = int(text)
    return value if INTEGER_MIN <= value <= INTEGER_MAX else None


class _Kept(vBroken):
    """A value icalendar could not read as its type: kept, and written back, as written."""

    raw: str

    def to_ical(self) -> bytes:
        return self.raw.encode("utf-8")


class _Parser(ComponentIcalParser):
    """icalendar's parser, keeping an INTEGER it would refuse or rewrite as written, and any
    value it cannot read (`GEO:`, `DUE:junk`) as written in every component: icalendar
    refuses the whole VTODO for it (a VEVENT it keeps, escaped as a TEXT)."""

    def handle_property_parse_error(self, exception, name, params, val, line) -> None:
        factory = self.get_factory_for_property(name, params)
        kept = _Kept.from_parse_error(raw_value=val, params=params, property_name=name,
                                      expected_type=getattr(factory, "__name__", "unknown"),
                                      error=exception)
        kept.raw = line.raw_parts()[2]
        self.component.errors.append((name, str(exception)))
        self.component.add(name, kept, encode=False)

    def parse_and_add_property(self, name, params, val, tzid, line) -> None:
        factory = self.get_factory_for_property(name, params)
        if isinstance(factory, type) and issubclass(factory, vInt):
            raw = line.raw_parts()[2]
            number = integer(raw)
            if number is None or str(number) != raw:
                unknown = self._types_factory["unknown"]
                value = unknown(unknown.from_ical(raw))
                value.params = params
                self.component.add(name, value, encode=False)
                return
        super().parse_and_add_property(name, params, val, tzid, line)


class _Calendar(icalendar.Calendar):
    """Only a way in: what it parses is made of icalendar's own component classes."""

    types_factory: ClassVar[TypesFactory] = _Types()

    @classmethod
    def _get_ical_parser(cls, st: str | bytes) -> ComponentIcalParser:
        return _Parser(st, cls._get_component_factory(), cls.types_factory)


def read(text: str | bytes) -> icalendar.Component:
    """Parse iCalendar text (raises what icalendar raises on text it cannot read)."""
    return _Calendar.from_ical(text)
