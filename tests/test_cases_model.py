"""Every client bug shape in the cases folder, through the pure model.

The same files go through real Radicale in test_cases_server.py.
"""

from __future__ import annotations

import datetime as dt

import pytest

from server import model
from tests.cases_files import case_files
from tests.compare import lost

PAGE = "https://crm.example.org/a/tok"
NOW = dt.datetime(2026, 12, 3, 9, 30, tzinfo=dt.UTC)


@pytest.fixture(params=case_files(), ids=lambda p: p.name)
def case(request):
    return request.param.read_text()


def test_stamp_keeps_everything_the_client_wrote(case):
    stamped = model.to_text(model.stamp(model.parse(case), PAGE))
    assert lost(case, stamped) == []
    assert f"URL;VALUE=URI:{PAGE}" in stamped.replace("\r\n ", "")


def test_close_and_successor_lose_nothing(case):
    cal = model.stamp(model.parse(case), PAGE)
    closed = model.close_and_link(cal, "next-uid", "next-uid.ics", NOW)
    assert model.read(closed).closed
    assert lost(case, model.to_text(closed)) == []
    nxt = model.successor(cal, "Next step", dt.date(2026, 12, 20), predecessor_href="p.ics",
                          now=NOW)
    assert model.read(nxt).previous == model.read(cal).uid


def test_format_repairs(case):
    """What the format requires of what we write, whatever the client sent."""
    c = model.main_component(model.repair(model.parse(case)))
    assert "DTSTAMP" in c
    uid = str(c["UID"])
    related = c.get("RELATED-TO")
    related = related if isinstance(related, list) else [related] if related else []
    assert uid not in [str(r) for r in related]
    if c.name == "VTODO" and "DTSTART" in c and "DUE" in c:
        start, due = c["DTSTART"].dt, c["DUE"].dt
        assert type(start) is type(due) and start < due
    text = model.to_text(model.repair(model.parse(case)))
    for tzid in {p.params["TZID"] for _, p in c.property_items(recursive=False)
                 if hasattr(p, "params") and "TZID" in p.params}:
        assert f"TZID:{tzid}" in text
