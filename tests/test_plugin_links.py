"""Links survive clients: each client's rewrite, PUT with If-Match, comes back whole.

Every test stores a linked, chained action, then PUTs the version a client would upload
after its edits (made from the stored text the way that client rewrites it) and GETs back
every link, the chain and the page link, with the user's visible change kept.
"""

from __future__ import annotations

import datetime as dt
import re

import icalendar
import pytest

from server import model
from tests.test_plugin_dav import Dav


@pytest.fixture
def dav(tmp_path) -> Dav:
    return Dav(tmp_path / "var")

LINKS = [model.Link("account", "https://crm.example.org/accounts/7", "ACME, Inc."),
         model.Link("contact", "mailto:jane@acme.example", "Jane Doe"),
         model.Link("opportunity", "urn:followup:opportunity:Renewal%202027", "Renewal 2027"),
         model.Link("project", "urn:followup:project:Q1", "Q1 roll-out")]
PREVIOUS, NEXT = "prev-uid-1", "next-uid-2"


def _stored(dav) -> tuple[str, str]:
    cal = model.new("Call ACME about the renewal", "call", dt.date(2026, 12, 15), LINKS,
                    uid="linked-1", description="Ask about the budget.")
    comp = model.main_component(cal)
    comp.add(model.PROP_PREVIOUS, PREVIOUS, parameters={"X-HREF": "prev-uid-1.ics"})
    comp.add(model.PROP_NEXT, NEXT, parameters={"X-HREF": "next-uid-2.ics"})
    comp.add("ATTENDEE", "mailto:jane@acme.example", parameters={"CN": "Jane"})
    comp.add("ATTENDEE", "mailto:bob@acme.example", parameters={"CN": "Bob"})
    assert dav.put("linked-1.ics", model.to_text(cal)).status_code == 201
    return dav.text("linked-1.ics"), dav.etag("linked-1.ics")


def _unfolded(text: str) -> list[str]:
    return re.sub(r"\r?\n[ \t]", "", text).splitlines()


def _assert_all_back(stored_before: str, after: str) -> None:
    before_comp = model.main_component(model.parse(stored_before))
    comp = model.main_component(model.parse(after))
    for name in (*model.LINK_PROPS.values(), model.PROP_PREVIOUS, model.PROP_NEXT,
                 model.PROP_PAGE, model.PROP_KIND):
        assert name in comp, f"{name} lost"
        assert str(comp[name]) == str(before_comp[name])
        assert dict(comp[name].params) == dict(before_comp[name].params), name
    action = model.read(model.parse(after))
    assert {k: (v.uri, v.label) for k, v in action.links.items()} == {
        link.kind: (link.uri, link.label) for link in LINKS}
    assert (action.previous, action.next) == (PREVIOUS, NEXT)
    assert model.href_of(comp[model.PROP_NEXT]) == "next-uid-2.ics"
    page = str(before_comp[model.PROP_PAGE])
    assert str(comp["URL"]) == page and comp["URL"].params.get("VALUE") == "URI"
    assert str(comp["DESCRIPTION"]).split("\n")[-1] == model.page_line(page)


def _edit(text: str, change) -> str:
    """Apply `change` to the unfolded content lines of the main component."""
    lines = _unfolded(text)
    start = next(i for i, x in enumerate(lines) if x == "BEGIN:VTODO")
    end = lines.index("END:VTODO")
    body = change(lines[start + 1:end])
    return "\r\n".join(lines[:start + 1] + body + lines[end:]) + "\r\n"


def _name(line: str) -> str:
    return re.split(r"[;:]", line, maxsplit=1)[0].upper()


def test_thunderbird_collapse_keeps_links_and_user_edits(dav):
    stored, etag = _stored(dav)

    def thunderbird(body: list[str]) -> list[str]:
        last = {}
        for line in body:  # one property per name: the last one wins
            last[_name(line)] = line
        out = [x for x in last.values() if _name(x) not in ("SUMMARY", "DTSTAMP", "DESCRIPTION")]
        return out + ["SUMMARY:Call ACME about the 2027 renewal", "DTSTAMP:20261202T080000Z",
                      "DESCRIPTION:Ask about the budget and the timing.",
                      "X-MOZ-GENERATION:1", "X-MOZ-LASTACK:20261202T080000Z"]

    sent = _edit(stored, thunderbird)
    assert sent.count("ATTENDEE") == 1  # the collapse really happened
    assert dav.put("linked-1.ics", sent, etag).status_code == 204
    after = dav.text("linked-1.ics")
    _assert_all_back(stored, after)
    comp = model.main_component(model.parse(after))
    assert str(comp["SUMMARY"]) == "Call ACME about the 2027 renewal"
    assert model.strip_page_line(str(comp["DESCRIPTION"])) == \
        "Ask about the budget and the timing."
    assert str(comp["X-MOZ-GENERATION"]) == "1"


def _davx5_rewrite(dav) -> str:
    """The user's typed relations and our chain after DAVx5's upload; the stored text."""
    stored, etag = _stored(dav)
    # The user's own relations, made in another app, stored with their types.
    stored_rel = _edit(stored, lambda body: body + [
        "RELATED-TO;RELTYPE=SIBLING:sibling-uid", "RELATED-TO;RELTYPE=CHILD:child-uid",
        "RELATED-TO;RELTYPE=FINISHTOSTART:step-uid"])
    assert dav.put("linked-1.ics", stored_rel, etag).status_code == 204
    stored_rel, etag = dav.text("linked-1.ics"), dav.etag("linked-1.ics")

    def davx5(body: list[str]) -> list[str]:
        # DAVx5 knows PARENT, CHILD and SIBLING; any other type (RFC 9253's FINISHTOSTART,
        # NEXT, ...) goes back as PARENT. Harsher still: every type rewritten.
        out = [re.sub(r"RELTYPE=\w+", "RELTYPE=PARENT", x) if x.startswith("RELATED-TO")
               else x for x in body]
        # and a parent link into our own chain, as a task app would make of a relation
        return out + [f"RELATED-TO;RELTYPE=PARENT:{NEXT}", f"RELATED-TO:{PREVIOUS}"]

    sent = _edit(stored_rel, davx5)
    assert "RELTYPE=SIBLING" not in sent
    assert dav.put("linked-1.ics", sent, etag).status_code == 204
    after = dav.text("linked-1.ics")
    _assert_all_back(stored, after)
    comp = model.main_component(model.parse(after))
    related = comp.get("RELATED-TO")
    related = related if isinstance(related, list) else [related]
    types = {str(r): r.params.get("RELTYPE", "PARENT") for r in related}
    assert types == {"sibling-uid": "SIBLING", "child-uid": "CHILD",
                     "step-uid": "FINISHTOSTART"}
    parents = [u for u, t in types.items() if t == "PARENT"]
    assert not set(parents) & {PREVIOUS, NEXT, "linked-1"}
    saved = comp.get(model.SAVED_PREFIX + "RELATED-TO")
    saved = saved if isinstance(saved, list) else [saved]
    assert {str(s) for s in saved} == {NEXT, PREVIOUS}  # set aside, not lost
    return after


def test_davx5_reltype_rewrite_makes_no_parent_loop(dav):
    _davx5_rewrite(dav)


def test_thunderbird_collapse_after_davx5_keeps_every_saved_value(dav):
    """Two of ours under one name (the parents DAVx5 made, set aside): Thunderbird keeps the
    last one only, and the other comes back from the stored version."""
    stored = _davx5_rewrite(dav)
    saved_name = model.SAVED_PREFIX + "RELATED-TO"
    assert stored.count(saved_name) == 2

    def thunderbird(body: list[str]) -> list[str]:
        last = {}
        for line in body:
            last[_name(line)] = line
        return [*last.values(), "X-MOZ-GENERATION:2"]

    sent = _edit(stored, thunderbird)
    assert sent.count(saved_name) == 1  # the collapse really dropped one
    assert dav.put("linked-1.ics", sent, dav.etag("linked-1.ics")).status_code == 204
    comp = model.main_component(model.parse(dav.text("linked-1.ics")))
    saved = comp.get(saved_name)
    saved = saved if isinstance(saved, list) else [saved]
    assert sorted(str(s) for s in saved) == sorted([NEXT, PREVIOUS])


@pytest.mark.parametrize("keep_url", [False, True], ids=["android", "apple"])
def test_client_dropping_unknown_properties_gets_them_back(dav, keep_url):
    stored, etag = _stored(dav)

    def drop(body: list[str]) -> list[str]:
        out = [x for x in body if not x.startswith("X-")]
        if not keep_url:
            out = [x for x in out if _name(x) != "URL"]
        out = [x for x in out if _name(x) != "DESCRIPTION"]
        return out + ["DESCRIPTION:Ask about the budget.\\nNew line from the phone."]

    sent = _edit(stored, drop)
    assert "X-FOLLOWUP" not in sent
    assert dav.put("linked-1.ics", sent, etag).status_code == 204
    after = dav.text("linked-1.ics")
    _assert_all_back(stored, after)
    comp = model.main_component(model.parse(after))
    assert model.strip_page_line(str(comp["DESCRIPTION"])) == \
        "Ask about the budget.\nNew line from the phone."


def test_users_own_url_is_never_overwritten(dav):
    stored, etag = _stored(dav)
    meeting = "https://meet.example.org/room-42"
    sent = _edit(stored, lambda body: [x for x in body if _name(x) not in ("URL",)
                                       and not x.startswith("X-FOLLOWUP-PAGE")]
                 + [f"URL;VALUE=URI:{meeting}"])
    assert dav.put("linked-1.ics", sent, etag).status_code == 204
    comp = model.main_component(dav.cal("linked-1.ics"))
    page = str(model.main_component(model.parse(stored))[model.PROP_PAGE])
    assert str(comp["URL"]) == meeting
    assert str(comp[model.PROP_PAGE]) == page
    assert str(comp["DESCRIPTION"]).endswith(model.page_line(page))


def test_text_appended_after_the_link_line_moves_it_last(dav):
    stored, etag = _stored(dav)
    page = str(model.main_component(model.parse(stored))[model.PROP_PAGE])
    comp = model.main_component(model.parse(stored))
    text = str(comp["DESCRIPTION"]) + "\nwritten below the link"
    sent = _edit(stored, lambda body: [x for x in body if _name(x) != "DESCRIPTION"]
                 + ["DESCRIPTION:" + icalendar.vText(text).to_ical().decode()])
    assert dav.put("linked-1.ics", sent, etag).status_code == 204
    description = str(model.main_component(dav.cal("linked-1.ics"))["DESCRIPTION"])
    assert description.count(model.page_line(page)) == 1
    assert description.endswith("written below the link\n\n" + model.page_line(page))


def test_reuploading_what_was_read_changes_nothing(dav):
    stored, etag = _stored(dav)
    assert dav.put("linked-1.ics", stored, etag).status_code == 204
    assert dav.text("linked-1.ics") == stored
    assert dav.etag("linked-1.ics") == etag
