"""`followup import` of a broken file: each bad item reported with its line and reason, the
rest imported (issue 5, point 5). Real server, the real command line."""

from __future__ import annotations

from server import cli, model
from server.store import Store
from tests.conftest import PEOPLE

GOOD = "BEGIN:VTODO\nUID:{uid}\nDTSTAMP:20261201T100000Z\nSUMMARY:{summary}\nEND:VTODO"
FILE = "\n".join([
    "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN",           # lines 1-3
    GOOD.format(uid="good-1", summary="First"),                      # 4-8
    "BEGIN:VTODO", "UID:bad-date", "DUE:20261345T999999",            # 9-11
    "SUMMARY:Bad date", "END:VTODO",                                 # 12-13
    "BEGIN:VEVENT", "UID:never-closed", "SUMMARY:Cut short",         # 14-16
    GOOD.format(uid="good-2", summary="Second"),                     # 17-21
    "BEGIN:VJOURNAL", "UID:journal", "END:VJOURNAL",                 # 22-24
    "BEGIN:VTODO", "UID:wrong-end", "SUMMARY:Ends badly", "END:VEVENT",  # 25-28
    "\x00\x01\x02 binary junk \xff",                                 # 29
    GOOD.format(uid="good-3", summary="Third"),                      # 30-34
    "END:VCALENDAR", ""])


def _import(live, tmp_path, capsys, text: str) -> tuple[int, str]:
    path = tmp_path / "in.ics"
    path.write_text(text, encoding="utf-8")
    code = cli.main(["import", str(path), "--url", live.base_url, "--user", "alice",
                     "--password", PEOPLE["alice"]])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_broken_file_imports_the_rest_and_says_where(live, alice: Store, tmp_path, capsys):
    code, out = _import(live, tmp_path, capsys, FILE)
    assert code == cli.EXIT_FAILED  # something failed: the exit status says so
    summaries = sorted(s.action.summary for s in alice.list(alice.actions_calendar()))
    assert summaries[:3] == ["First", "Second", "Third"]
    assert "line 14: VEVENT is never closed" in out
    assert "line 22: VJOURNAL is not an action" in out
    assert "line 28: END:VEVENT does not close BEGIN:VTODO" in out
    for line in out.splitlines():
        if line.strip().startswith(("failed:", "skipped:")):
            assert line.split(":", 1)[1].strip().startswith("line "), line


def test_broken_date_is_reported_or_kept_as_written(live, alice, tmp_path, capsys):
    code, out = _import(live, tmp_path, capsys, FILE)
    stored = {s.action.uid: s for s in alice.list(alice.actions_calendar())}
    if "bad-date" in stored:  # tolerant reading: stored as sent, read as undated
        assert stored["bad-date"].action.when is None
    else:
        assert "line 9:" in out


def test_import_twice_skips_what_is_there(live, alice, tmp_path, capsys):
    _import(live, tmp_path, capsys, FILE)
    before = len(list(alice.list(alice.actions_calendar())))
    _, out = _import(live, tmp_path, capsys, FILE)
    assert "(good-1) is already in the calendar" in out
    assert len(list(alice.list(alice.actions_calendar()))) == before


def test_file_of_junk_fails_cleanly(live, tmp_path, capsys):
    code, out = _import(live, tmp_path, capsys, "\x00\xff junk\nBEGIN:VTODO\n")
    assert code == cli.EXIT_FAILED
    assert "Traceback" not in out
    assert "line 2: VTODO is never closed" in out or "imported 0" in out


def test_huge_file_of_many_items(live, alice, tmp_path, capsys):
    items = [GOOD.format(uid=f"many-{n}", summary=f"Item {n}") for n in range(40)]
    items.insert(20, "BEGIN:VTODO\nUID:broken\nSUMMARY:x")  # never closed, mid-file
    text = "\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", *items, "END:VCALENDAR"])
    code, out = _import(live, tmp_path, capsys, text)
    assert "imported 40" in out, out
    assert model.read(alice.get(alice.actions_calendar() + "many-39.ics").cal).summary \
        == "Item 39"


def _calendar(*components: str) -> str:
    return "\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", *components, "END:VCALENDAR", ""])


def test_a_second_item_with_the_same_uid_is_skipped_not_the_first(live, alice, tmp_path,
                                                                  capsys):
    moved = ("BEGIN:VEVENT\nUID:series\nRECURRENCE-ID:20261208T100000Z\n"
             "DTSTART:20261209T100000Z\nSUMMARY:Moved\nEND:VEVENT")
    weekly = ("BEGIN:VEVENT\nUID:series\nDTSTART:20261201T100000Z\nRRULE:FREQ=WEEKLY\n"
              "SUMMARY:Weekly\nEND:VEVENT")
    no_uid = "BEGIN:VTODO\nSUMMARY:Twice the same\nEND:VTODO"
    text = _calendar(GOOD.format(uid="imp-1", summary="First"),      # lines 3-7
                     GOOD.format(uid="imp-1", summary="Second"),     # 8-12
                     moved, weekly,                                  # 13-18, 19-24
                     no_uid, no_uid)                                 # 25-27, 28-30
    code, out = _import(live, tmp_path, capsys, text)
    assert code == 0 and "imported 3, skipped 2, failed 0" in out, out
    assert "line 8: another item with UID imp-1 (line 3) came first" in out
    assert "line 28: the same item as line 25" in out and "import-" not in out
    stored = {s.action.uid: s for s in alice.list(alice.actions_calendar())}
    assert stored["imp-1"].action.summary == "First"
    # A recurrence override still travels with its series, in one calendar object.
    series = alice.get(alice.actions_calendar() + "series.ics").cal
    assert sorted(str(c["SUMMARY"]) for c in series.walk("VEVENT")) == ["Moved", "Weekly"]


def test_uids_starting_with_a_dot_import_under_a_safe_file_name(live, alice, tmp_path, capsys):
    uids = ["../../../etc/passwd", ".hidden", "_hidden", "..\\..\\win", "."]
    text = _calendar(*(GOOD.format(uid=uid, summary=f"S{n}") for n, uid in enumerate(uids)))
    code, out = _import(live, tmp_path, capsys, text)
    assert code == 0 and "imported 5" in out, out
    calendar = alice.actions_calendar()
    stored = {s.action.uid: s for s in alice.list(calendar)}
    assert set(stored) == set(uids)  # the UIDs themselves are kept as written
    for item in stored.values():
        assert item.calendar_path == calendar
        assert not item.href.startswith(".") and "\\" not in item.href, item.href
    _, out = _import(live, tmp_path, capsys, text)  # found again, not doubled
    assert "imported 0, skipped 5" in out, out


def test_a_file_that_is_not_utf8_names_the_line(live, alice, tmp_path, capsys):
    path = tmp_path / "latin1.ics"
    path.write_bytes(_calendar(GOOD.format(uid="r1", summary="Réunion")).encode("latin-1"))
    code = cli.main(["import", str(path), "--url", live.base_url, "--user", "alice",
                     "--password", PEOPLE["alice"]])
    err = capsys.readouterr().err.strip()
    assert code == cli.EXIT_FAILED
    assert err.count("\n") == 0 and "codec" not in err, err
    assert "line 6 is not UTF-8 text: save the file as UTF-8" in err, err
    assert list(alice.list(alice.actions_calendar())) == []


def test_a_utf8_file_with_a_byte_order_mark_imports(live, alice, tmp_path, capsys):
    path = tmp_path / "bom.ics"
    path.write_bytes(_calendar(GOOD.format(uid="r1", summary="Réunion")).encode("utf-8-sig"))
    assert cli.main(["import", str(path), "--url", live.base_url, "--user", "alice",
                     "--password", PEOPLE["alice"]]) == 0
    assert [s.action.summary for s in alice.list(alice.actions_calendar())] == ["Réunion"]
