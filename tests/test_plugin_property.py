"""Nothing lost, ever: generated items PUT one by one, compared with what GET returns.

Each example is one calendar object a client could send: varied text (commas, semicolons,
backslashes, quotes, colons, long lines, non-Latin scripts, emoji, tabs, line breaks), X-
properties with parameters (quoted or not, RFC 6868 carets), unescaped commas where sloppy
clients write them, TEXT lists (CATEGORIES, RESOURCES) of several values with escaped
commas in them, X- lists with a VALUE type, REQUEST-STATUS, ALTREP and LANGUAGE parameters,
attendees, weekly recurrences, alarms, zoned dates with their VTIMEZONE. It is PUT (one
request per item) through the product's Radicale with the plugins and compared property by
property with the GET (tests/compare.py). Then a client updates it (If-Match), the way one of
them does: a new title typed, every unknown property dropped (Apple, some Android apps), one
property per name kept (Thunderbird), or the task ticked; what that update sent is compared
with the GET again, and every link of ours must be back. `make test` runs 2,000;
FOLLOWUP_PROPERTY_EXAMPLES=20000 for a nightly run. Every file of the client bug shapes goes
through the same comparison.
"""

from __future__ import annotations

import itertools
import os
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server import model
from tests.cases_files import case_files
from tests.compare import lost
from tests.test_plugin_dav import Dav

EXAMPLES = int(os.environ.get("FOLLOWUP_PROPERTY_EXAMPLES", "2000"))
ALPHABET = st.sampled_from(list(
    "abcxyzABC019 ,;:\\\"'.-_/@#=^\t\n" "éßÆøЖжπ中文日本語한국어عربيעברית" "😀🎉👍🏽✓"))
# "^" makes RFC 6868 escapes (^' is a double quote, ^n a newline) as well as plain carets.
PARAM_ALPHABET = st.sampled_from(list("abcXYZ09 ,;:.-_/éЖ中😀'^n"))
ZONES = ["Europe/Paris", "America/New_York", "Asia/Tokyo", "Australia/Sydney"]
_uids = itertools.count()


def escape(text: str) -> str:
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\n", "\\n"))


def param(value: str) -> str:
    return f'"{value}"' if any(c in value for c in ",;:") else value


def fold(line: str) -> str:
    """RFC 5545 folding at 75 octets, never inside a UTF-8 character."""
    out, current = [], ""
    for char in line:
        if len((current + char).encode()) > (75 if not out else 74):
            out.append(current)
            current = ""
        current += char
    out.append(current)
    return "\r\n ".join(out)


@st.composite
def items(draw) -> str:
    text = st.text(ALPHABET, min_size=0, max_size=120)
    uid = f"gen-{next(_uids)}-{draw(st.text(st.sampled_from('abc123-@.'), max_size=8))}"
    event = draw(st.booleans())
    zone = draw(st.sampled_from(ZONES))
    props = [f"UID:{uid}", "DTSTAMP:20261201T090000Z",
             "SUMMARY:" + escape(draw(st.text(ALPHABET, min_size=1, max_size=200)))]
    start = f"DTSTART;TZID={zone}:20261215T093000"
    if event:
        props += [start, f"DTEND;TZID={zone}:20261215T103000"]
    elif draw(st.booleans()):
        props.append(f"DUE;TZID={zone}:20261215T093000")
    else:
        props.append("DUE;VALUE=DATE:20261215")
    if event and draw(st.booleans()):
        props.append("RRULE:FREQ=WEEKLY;COUNT=" + str(draw(st.integers(1, 10))))
    if draw(st.booleans()):  # made by followup, or by a client that kept our properties
        props.append("X-FOLLOWUP-KIND:" + ("meeting" if event else "call"))
        for kind in draw(st.lists(st.sampled_from(model.LINK_KINDS), max_size=4, unique=True)):
            label = param(draw(st.text(PARAM_ALPHABET, min_size=1, max_size=20)))
            props.append(f"{model.LINK_PROPS[kind]};LABEL={label}:urn:followup:{kind}:{uid}")
    for name in draw(st.lists(st.sampled_from(["DESCRIPTION", "LOCATION", "COMMENT"]),
                              max_size=3, unique=True)):
        lang = draw(st.sampled_from(["", ";LANGUAGE=fr", ";LANGUAGE=ja",
                                     ';ALTREP="data:text/html,<p>x</p>"']))
        props.append(f"{name}{lang}:{escape(draw(text))}")
    for i in range(draw(st.integers(0, 3))):
        params = "".join(f";X-P{j}={param(draw(st.text(PARAM_ALPHABET, max_size=20)))}"
                         for j in range(draw(st.integers(0, 2))))
        value = draw(text)
        # Sloppy clients leave commas in X- values unescaped; vobject cuts them there.
        value = escape(value) if draw(st.booleans()) else value.replace("\\", "").replace(
            "\n", " ").replace(";", "")
        props.append(f"X-GEN-{i}{params}:{value}")
    # TEXT lists: several values, any of which may hold an escaped comma ("a\\,b,c" is two).
    for name in draw(st.lists(st.sampled_from(["CATEGORIES", "RESOURCES"]), max_size=2,
                              unique=True)):
        lang = draw(st.sampled_from(["", ";LANGUAGE=fr"]))
        props.append(f"{name}{lang}:" + ",".join(escape(c) for c in draw(
            st.lists(st.text(ALPHABET, min_size=1, max_size=12), min_size=1, max_size=4))))
    if draw(st.booleans()):
        # An X- list of a declared type: only its writer knows what its commas separate.
        value_type, values = draw(st.sampled_from([
            ("TEXT", st.lists(text.map(escape), min_size=1, max_size=3)),
            ("INTEGER", st.lists(st.integers(-99, 99).map(str), min_size=1, max_size=3)),
            ("DATE", st.lists(st.sampled_from(["20261215", "20261216"]), min_size=1,
                              max_size=3))]))
        props.append(f"X-GEN-LIST;VALUE={value_type}:" + ",".join(draw(values)))
    if draw(st.booleans()):  # a reply's status: code, then texts after semicolons
        props.append("REQUEST-STATUS:2.0;" + escape(draw(text)))
    for n in range(draw(st.integers(0, 2))):
        cn = param(draw(st.text(PARAM_ALPHABET, min_size=1, max_size=20)))
        props.append(f"ATTENDEE;CN={cn};PARTSTAT=NEEDS-ACTION:mailto:someone{n}@example.org")
    alarms = []
    for _ in range(draw(st.integers(0, 2))):
        alarms += ["BEGIN:VALARM", "ACTION:DISPLAY",
                   "DESCRIPTION:" + escape(draw(st.text(ALPHABET, min_size=1, max_size=40))),
                   "TRIGGER:-PT" + str(draw(st.integers(1, 120))) + "M", "END:VALARM"]
    comp = "VEVENT" if event else "VTODO"
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//gen//EN", *timezone(zone),
             f"BEGIN:{comp}", *props, *alarms, f"END:{comp}", "END:VCALENDAR"]
    folded = draw(st.booleans())
    return "\r\n".join(fold(x) if folded else x for x in lines) + "\r\n"


def timezone(zone: str) -> list[str]:
    """A compact VTIMEZONE, as clients write them (rules, not lists of dates)."""
    if zone == "Asia/Tokyo":
        rules = [("STANDARD", "19700101T000000", "+0900", "+0900", "")]
    elif zone == "America/New_York":
        rules = [("DAYLIGHT", "20070311T020000", "-0500", "-0400", "BYMONTH=3;BYDAY=2SU"),
                 ("STANDARD", "20071104T020000", "-0400", "-0500", "BYMONTH=11;BYDAY=1SU")]
    else:
        rules = [("DAYLIGHT", "19810329T020000", "+0100", "+0200", "BYMONTH=3;BYDAY=-1SU"),
                 ("STANDARD", "19961027T030000", "+0200", "+0100", "BYMONTH=10;BYDAY=-1SU")]
    if zone == "Australia/Sydney":
        rules = [("STANDARD", "20080406T030000", "+1100", "+1000", "BYMONTH=4;BYDAY=1SU"),
                 ("DAYLIGHT", "20081005T020000", "+1000", "+1100", "BYMONTH=10;BYDAY=1SU")]
    lines = ["BEGIN:VTIMEZONE", f"TZID:{zone}"]
    for kind, start, before, after, rule in rules:
        lines += [f"BEGIN:{kind}", f"DTSTART:{start}", f"TZOFFSETFROM:{before}",
                  f"TZOFFSETTO:{after}", *([f"RRULE:FREQ=YEARLY;{rule}"] if rule else []),
                  f"END:{kind}"]
    return [*lines, "END:VTIMEZONE"]


def _main_span(lines: list[str]) -> tuple[int, int]:
    start = next(i for i, x in enumerate(lines) if x in ("BEGIN:VTODO", "BEGIN:VEVENT"))
    return start, lines.index("END:" + lines[start][6:], start)


def _name(line: str) -> str:
    return re.split(r"[;:]", line, maxsplit=1)[0].upper()


def client_update(stored: str, how: str, title: str) -> str:
    """The stored item as a client uploads it after its edit; `how` names the client."""
    lines = re.sub(r"\r?\n[ \t]", "", stored).splitlines()
    start, end = _main_span(lines)
    own, nested, depth = [], [], 0  # the main component's own lines, and its alarms
    for line in lines[start + 1:end]:
        depth += line.startswith("BEGIN:")
        (nested if depth else own).append(line)
        depth -= line.startswith("END:")
    if how == "retitled":
        own = [x for x in own if _name(x) != "SUMMARY"] + ["SUMMARY:" + escape(title)]
    elif how == "unknown-dropped":
        own = [x for x in own if not _name(x).startswith("X-")]
    elif how == "one-per-name":
        own = list({_name(x): x for x in own}.values())
    elif how == "ticked" and lines[start] == "BEGIN:VTODO":
        own = [x for x in own if _name(x) != "STATUS"] + ["STATUS:COMPLETED"]
    body = lines[:start + 1] + own + nested + lines[end:]
    return "\r\n".join(body) + "\r\n"


def ours(text: str) -> dict[str, tuple]:
    """followup's properties of an item: page, kind and links, with their parameters."""
    comp = model.main_component(model.parse(text))
    return {name: (str(comp[name]), dict(comp[name].params))
            for name in (model.PROP_PAGE, model.PROP_KIND, *model.LINK_PROPS.values())
            if name in comp}


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Dav:
    return Dav(tmp_path_factory.mktemp("prop") / "var")


@settings(max_examples=EXAMPLES, deadline=None, derandomize=False,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(sent=items(), how=st.sampled_from(["retitled", "unknown-dropped", "one-per-name",
                                           "ticked"]),
       title=st.text(ALPHABET, min_size=1, max_size=60))
def test_generated_items_lose_nothing(server, sent, how, title):
    href = sent.split("UID:", 1)[1].split("\r\n", 1)[0] + ".ics"
    response = server.put(href, sent)
    assert response.status_code == 201, response.get_data(as_text=True)
    stored = server.text(href)
    assert lost(sent, stored) == []
    update = client_update(stored, how, title)
    response = server.put(href, update, server.etag(href))
    assert response.status_code in (200, 201, 204), response.get_data(as_text=True)
    after = server.text(href)
    assert lost(update, after) == [], how
    assert ours(after) == ours(stored), how  # the page link and kind came back


@pytest.mark.parametrize("path", case_files(), ids=lambda p: p.name)
def test_client_bug_shapes_lose_nothing_through_the_server(server, path):
    sent = path.read_text()
    href = f"case-{path.stem}.ics"
    response = server.put(href, sent)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert lost(sent, server.text(href)) == []
