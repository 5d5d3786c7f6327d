"""Hostile and broken iCalendar input, fuzzed with hypothesis (issue 5, point 5).

Most cases run against the pure model (fast); fewer go through the real server: PUT into
Radicale (our storage plugin stamps on upload), then the action page. Rules: the model raises
nothing but ActionError, the plugin never makes a PUT fail with 5xx, the page never answers
5xx, and what was already stored is still there, byte for byte.

Case counts: `make test` runs about 5,300. For a long run set FOLLOWUP_FUZZ_SCALE, e.g.
``FOLLOWUP_FUZZ_SCALE=20 .venv/bin/pytest tests/test_fuzz.py`` (about 100,000 cases).
"""

from __future__ import annotations

import datetime as dt
import os

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server import model
from server.store import Store
from server.tokens import PageTokens
from tests.conftest import PEOPLE
from tests.servers import LiveServer

SCALE = max(1, int(os.environ.get("FOLLOWUP_FUZZ_SCALE", "1")))
# About 5,300 cases in all; the binary junk ones are cheap, the others cost ~30 ms each.
BINARY_CASES = 2800 * SCALE
BROKEN_CASES = 1000 * SCALE
KEPT_CASES = 600 * SCALE
RECURRENCE_CASES = 600 * SCALE
SERVER_CASES = 300 * SCALE
PAGE = "https://crm.example.org/a/token.sig"
NOW = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)

# -- what a hostile or broken client sends ----------------------------------------------------

text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
junk_text = st.one_of(text, st.sampled_from([
    "", ";", ":", "\\", "\\n", '"', "<script>alert(1)</script>", "\x00", "\x7f", "é" * 30,
    "a" * 200, "=?utf-8?", "BEGIN:VTODO", "END:VCALENDAR"]))
dates = st.one_of(
    st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)).map(lambda d: d.strftime("%Y%m%d")),
    st.datetimes(dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31)).map(
        lambda d: d.strftime("%Y%m%dT%H%M%S")),
    st.sampled_from(["20261301", "20260230", "20261201T250000", "20261201T120000ZZ",
                     "2026-12-01", "0", "", "99999999T999999", "20261201T1200", "-20261201",
                     "20261201T120000+0100", "P1D", "TZID=Europe/Paris"]),
    text)
zones = st.sampled_from(["Europe/Paris", "America/New_York", "UTC", "Nowhere/Atlantis",
                         "", '"quoted"', "Europe/Paris;X=1", "../../etc/passwd",
                         "W. Europe Standard Time", "+01:00"])
date_props = st.sampled_from(["DUE", "DTSTART", "DTEND", "COMPLETED", "RECURRENCE-ID",
                              "EXDATE", "RDATE", "X-FOLLOWUP-CLOSED", "DTSTAMP",
                              "LAST-MODIFIED", "CREATED"])


@st.composite
def date_line(draw) -> str:
    name = draw(date_props)
    params = draw(st.sampled_from(["", ";VALUE=DATE", ";VALUE=DATE-TIME", ";VALUE=PERIOD",
                                   ";VALUE=JUNK"]))
    if draw(st.booleans()):
        params += f";TZID={draw(zones)}"
    values = draw(st.lists(dates, min_size=1, max_size=3))
    return f"{name}{params}:{','.join(values)}"


simple_props = st.sampled_from([
    "SUMMARY", "DESCRIPTION", "LOCATION", "STATUS", "PERCENT-COMPLETE", "SEQUENCE", "UID",
    "URL", "URL;VALUE=URI", "DESCRIPTION;ALTREP=\"cid:x\"", "RELATED-TO",
    "RELATED-TO;RELTYPE=PARENT", "RRULE", "PRIORITY", "CLASS", "ATTENDEE;CN=\"x\"",
    "X-FOLLOWUP-KIND", "X-FOLLOWUP-NEXT;X-HREF=\"x.ics\"", "X-FOLLOWUP-PREVIOUS",
    "X-FOLLOWUP-PREVIOUS;X-HREF=\"p.ics\"", "X-FOLLOWUP-NEXT",
    "X-FOLLOWUP-PAGE;VALUE=URI", "X-FOLLOWUP-OUTCOME", "X-FOLLOWUP-ACCOUNT;LABEL=\"A\"",
    "X-FOLLOWUP-CONTACT;LABEL=", "X-FOLLOWUP-SAVED-DTSTART", "X-MOZ-GENERATION", "CATEGORIES",
    "GEO", "X-JUNK", "x-lower-case", "BAD NAME", "PERCENT-COMPLETE", "STATUS", "REPEAT"])
INTEGER_PROPS = ("PERCENT-COMPLETE", "SEQUENCE", "PRIORITY", "REPEAT")
# What a client writes in an INTEGER: the number, or not one (kept as written, never a reason
# to hide the item), or one written otherwise than icalendar would write it.
integers = st.one_of(
    st.sampled_from(["100", "0", "-1", "1e9", "x", "", "99999999999", "-99999999999",
                     "2147483647", "2147483648", "+100", "007", "1_0", "٥", " 50", "50 ",
                     "1.5", "0x10", "100%", "NaN", "1,2", "a;b"]),
    st.integers(-2**40, 2**40).map(str), junk_text.map(lambda t: t.replace("\r", "")
                                                       .replace("\n", "\\n")))
rrules = st.sampled_from(["FREQ=DAILY;COUNT=3", "FREQ=WEEKLY;UNTIL=20270101T000000Z",
                          "FREQ=MONTHLY;BYDAY=-1FR", "FREQ=YEARLY;INTERVAL=0", "FREQ=NOPE",
                          "COUNT=-1", "FREQ=DAILY;UNTIL=2027", ""])


@st.composite
def prop_line(draw) -> str:
    name = draw(simple_props)
    if name == "RRULE":
        return f"RRULE:{draw(rrules)}"
    if name in INTEGER_PROPS:
        return f"{name}:{draw(integers)}"
    if name == "STATUS":
        return f"STATUS:{draw(st.sampled_from(['COMPLETED', 'NEEDS-ACTION', 'CANCELLED', 'x']))}"
    value = draw(junk_text).replace("\r", "").replace("\n", "\\n")
    return f"{name}:{value}"


@st.composite
def component(draw, name: str | None = None, depth: int = 0) -> list[str]:
    name = name or draw(st.sampled_from(["VTODO", "VEVENT"]))
    lines = [f"BEGIN:{name}"]
    if draw(st.booleans()):
        lines.append(f"UID:{draw(st.sampled_from(['a', 'b@x', 'same', '']))}")
    lines += draw(st.lists(st.one_of(prop_line(), date_line()), max_size=12))
    if depth == 0 and draw(st.integers(0, 4)) == 0:
        lines += draw(component("VALARM", depth + 1))
    lines.append(f"END:{name}")
    return lines


@st.composite
def calendar_lines(draw) -> list[str]:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//fuzz//EN"]
    if draw(st.booleans()):
        tz = draw(zones)
        lines += ["BEGIN:VTIMEZONE", f"TZID:{tz}", "BEGIN:STANDARD",
                  f"DTSTART:{draw(dates)}", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0000",
                  "END:STANDARD", "END:VTIMEZONE"]
    for comp in draw(st.lists(component(), min_size=1, max_size=3)):
        lines += comp
    lines.append("END:VCALENDAR")
    return lines


good_dates = st.datetimes(dt.datetime(1970, 1, 1), dt.datetime(2100, 12, 31)).map(
    lambda d: d.strftime("%Y%m%dT%H%M%S"))


@st.composite
def plausible(draw, uid: str) -> str:
    """Well-formed enough for Radicale to store, hostile in its values: what reaches the
    plugin and the page (Radicale refuses most broken structure before our code runs)."""
    name = draw(st.sampled_from(["VTODO", "VEVENT"]))
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//fuzz//EN", f"BEGIN:{name}",
             f"UID:{uid}", "DTSTAMP:20261201T100000Z"]
    if name == "VEVENT":  # Radicale refuses an event without one
        lines.append(f"DTSTART:{draw(good_dates)}Z")
    lines += [ln for ln in draw(st.lists(prop_line(), max_size=10))
              if not ln.startswith(("UID", "BAD NAME", "x-lower"))]
    for prop in draw(st.lists(st.sampled_from(["DUE", "DTEND", "COMPLETED",
                                               "X-FOLLOWUP-CLOSED"]), max_size=3,
                              unique=True)):
        zone = draw(st.sampled_from(["", ";TZID=Europe/Paris", ";TZID=America/New_York",
                                     ";VALUE=DATE"]))
        value = draw(good_dates)
        lines.append(f"{prop}{zone}:{value[:8] if zone == ';VALUE=DATE' else value}")
    size = draw(st.sampled_from([0, 0, 0, 20_000, 100_000]))
    if size:
        lines.append("DESCRIPTION:" + "y" * size)
    lines += [f"X-MANY-{n}:{n}" for n in range(draw(st.sampled_from([0, 0, 300, 2000])))]
    if draw(st.booleans()):
        lines += ["BEGIN:VALARM", "ACTION:DISPLAY", "TRIGGER:-PT15M",
                  *draw(st.lists(st.sampled_from(["REPEAT", "PRIORITY"]).map(
                      lambda name: f"{name}:{draw(integers)}"), max_size=2)), "END:VALARM"]
    lines += [f"END:{name}"]
    if draw(st.booleans()):  # a recurrence set: an override of the same UID
        lines += ["BEGIN:" + name, f"UID:{uid}", "DTSTAMP:20261201T100000Z",
                  f"RECURRENCE-ID:{draw(good_dates)}Z", "SUMMARY:moved", f"END:{name}"]
    lines.append("END:VCALENDAR")
    return "\r\n".join(lines) + "\r\n"


@st.composite
def broken(draw) -> str:
    """A calendar, then something done to it: truncation, bad nesting, size, junk."""
    lines = draw(calendar_lines())
    how = draw(st.sampled_from(["none", "truncate", "swap", "drop", "huge", "many", "junk",
                                "nest", "fold"]))
    if how == "truncate":
        body = "\r\n".join(lines)
        return body[:draw(st.integers(0, len(body)))]
    if how == "swap" and len(lines) > 2:
        i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
        lines[i], lines[j] = lines[j], lines[i]
    elif how == "drop":
        del lines[draw(st.integers(0, len(lines) - 1))]
    elif how == "huge":
        size = draw(st.sampled_from([10_000, 100_000, 300_000]))
        lines.insert(-2, "DESCRIPTION:" + "x" * size)
    elif how == "many":
        count = draw(st.sampled_from([500, 2000, 5000]))
        lines[-2:-2] = [f"X-MANY-{n}:{n}" for n in range(count)]
    elif how == "junk":
        raw = draw(st.binary(min_size=1, max_size=200))
        lines.insert(draw(st.integers(0, len(lines))), raw.decode("latin-1"))
    elif how == "nest":
        lines[-2:-2] = ["BEGIN:VTODO", "SUMMARY:inner", "BEGIN:VEVENT", "END:VTODO",
                        "END:VEVENT"]
    elif how == "fold":
        lines = [ln[:5] + "\r\n " + ln[5:] if len(ln) > 5 else ln for ln in lines]
    return "\r\n".join(lines) + "\r\n"


# -- the model -----------------------------------------------------------------------------------


def _parsed(text: str):
    try:
        return model.parse(text)
    except model.ActionError:
        return None


def _check_model(text: str) -> None:
    cal = _parsed(text)
    if cal is None:
        return
    action = model.read(cal)
    assert action.component in ("VTODO", "VEVENT")
    for which in ("previous", "next"):  # what the page reads to show the chain
        model.chain_href(cal, which)
    repaired = model.repair(cal, NOW)
    assert model.to_text(model.repair(repaired, NOW)) == model.to_text(repaired)
    stamped = model.stamp(cal, PAGE)
    assert model.to_text(model.stamp(stamped, PAGE)) == model.to_text(stamped)  # idempotent
    again = model.parse(model.to_text(stamped))  # what we write, we can read back
    assert model.read(again).page == PAGE
    closed = model.close(stamped, NOW, "outcome")
    assert model.read(closed).closed
    follower = model.successor(closed, "next", dt.date(2027, 1, 1), None, "x.ics", None, NOW)
    assert model.read(follower).previous == (action.uid or None)
    linked = model.close_and_link(stamped, model.read(follower).uid, "y.ics", NOW)
    assert model.read(linked).next == model.read(follower).uid
    assert not model.read(model.reopen(closed, NOW)).closed
    try:
        model.postpone(stamped, dt.timedelta(days=1), NOW)
    except model.ActionClosed:
        assert model.read(stamped).closed  # a done action keeps its date: refused
    except model.RepeatsError:
        assert {"RRULE", "RDATE"} & set(model.main_component(stamped))  # a series: refused
    except model.OutOfCalendar:  # dated at the calendar's end: refused with that reason
        assert model.read(stamped).when is not None


def _kept(before: str, after: str) -> None:
    """Nothing we do not own is lost: every X-JUNK/X-MANY line survives stamping."""
    for line in before.splitlines():
        if line.startswith(("X-MANY-", "X-JUNK:")) and line.isascii():
            assert line in after



def fuzz(cases: int) -> settings:
    return settings(max_examples=cases, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.large_base_example])


@fuzz(BROKEN_CASES)
@given(broken())
def test_model_survives_broken_calendars(text):
    _check_model(text)


@fuzz(KEPT_CASES)
@given(calendar_lines())
def test_model_keeps_what_it_does_not_own(lines):
    text = "\r\n".join(lines + ["X-JUNK:kept"]) + "\r\n"
    text = text.replace("END:VCALENDAR\r\nX-JUNK:kept", "X-JUNK:kept\r\nEND:VCALENDAR")
    cal = _parsed(text)
    if cal is not None:
        _check_model(text)
        _kept(text, model.to_text(model.stamp(cal, PAGE)).replace("\r\n ", ""))


@fuzz(BINARY_CASES)
@given(st.binary(max_size=400))
def test_model_survives_binary_junk(raw):
    for text in (raw, raw.decode("latin-1"), b"BEGIN:VCALENDAR\r\n" + raw):
        if isinstance(text, bytes):
            cal = _parsed(text)
            if cal is not None:
                _check_model(model.to_text(cal))
        else:
            _check_model(text)


@fuzz(RECURRENCE_CASES)
@given(st.lists(component(), min_size=1, max_size=4), st.booleans())
def test_model_survives_recurrence_sets(comps, overrides_first):
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//fuzz//EN"]
    for n, comp in enumerate(comps):
        if n > 0 or overrides_first:
            comp = [comp[0], "UID:same", f"RECURRENCE-ID:2026120{n % 9}T100000Z", *comp[1:]]
        lines += comp
    _check_model("\r\n".join(lines + ["END:VCALENDAR"]) + "\r\n")


# -- the plugin and the page, through the real server --------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(tmp_path_factory.mktemp("fuzz") / "var", PEOPLE).start()
    alice = Store(live.base_url, "alice", PEOPLE["alice"])
    keeper = alice.new_action(alice.actions_calendar(), model.new("Already stored", "call"))
    yield live, keeper.path, alice.get(keeper.path)
    live.stop()


@settings(max_examples=SERVER_CASES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture,
                                 HealthCheck.large_base_example])
@given(data=st.data(), href=st.sampled_from(["fuzz.ics", "fuzz-2.ics", "sub dir.ics"]))
def test_server_put_and_page_never_5xx(server, data, href):
    text = data.draw(st.one_of(plausible(f"uid-{href}"), plausible(f"uid-{href}"), broken()))
    live, keeper_path, keeper = server
    auth = ("alice", PEOPLE["alice"])
    url = live.calendar_url("alice") + requests.utils.quote(href)
    current = requests.get(url, auth=auth, timeout=60)
    headers = {"Content-Type": "text/calendar; charset=utf-8"}
    headers.update({"If-Match": current.headers["ETag"]} if current.status_code == 200
                   else {"If-None-Match": "*"})
    put = requests.put(url, data=text.encode("utf-8", "surrogateescape"), auth=auth,
                       headers=headers, timeout=60)
    assert put.status_code < 500, (put.status_code, put.text[:300])
    token = PageTokens(live.secret_key).make(live.calendar_path("alice") + href)
    page = requests.get(f"{live.base_url}/a/{token}", timeout=60)
    if 200 <= put.status_code < 300:  # stored: an item, whatever its values, has its page
        assert page.status_code == 200, (page.status_code, text[:2000])
        # and the lists that read every item still answer
        for path in ("/overdue", "/week", "/records/opportunity", "/records/account"):
            listed = requests.get(live.base_url + path, auth=auth, timeout=60)
            assert listed.status_code == 200, (path, listed.status_code, text[:2000])
    else:
        assert page.status_code in (200, 404), page.status_code
        if current.status_code == 200:  # a refused update leaves the stored version as it was
            after = requests.get(url, auth=auth, timeout=60)
            assert after.status_code == 200 and after.headers["ETag"] == current.headers["ETag"]
    still = requests.get(live.base_url + keeper_path, auth=auth, timeout=60)
    assert still.status_code == 200 and still.headers["ETag"] == keeper.etag


