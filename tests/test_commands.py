"""The followup command line against a real server: user, new, list, import, and errors."""

from __future__ import annotations

import datetime as dt
import socket
import textwrap

import bcrypt
import pytest

from server import model
from server.cli import main
from tests.conftest import PEOPLE


def account(live, user="alice"):
    return ["--url", live.base_url, "--user", user, "--password", PEOPLE[user]]


def test_user_add_writes_a_bcrypt_hash_and_a_calendar(tmp_path, capsys):
    data = tmp_path / "var"
    assert main(["user", "add", "carol", "--password", "s3cret", "--data", str(data)]) == 0
    name, hashed = (data / "users").read_text().strip().split(":", 1)
    assert name == "carol" and hashed.startswith("$2")
    assert bcrypt.checkpw(b"s3cret", hashed.encode())
    assert (data / "collections" / "collection-root" / "carol" / "actions").is_dir()
    assert "s3cret" not in capsys.readouterr().out


def test_user_add_generates_and_prints_a_password_once(tmp_path, capsys):
    assert main(["user", "add", "dave", "--data", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    password = out.rsplit("password: ", 1)[1].strip()
    hashed = (tmp_path / "users").read_text().split(":", 1)[1].strip()
    assert bcrypt.checkpw(password.encode(), hashed.encode())


def test_user_add_refuses_reserved_and_odd_names(tmp_path, capsys):
    assert main(["user", "add", "followup-service", "--data", str(tmp_path)]) == 1
    assert main(["user", "add", "../etc", "--data", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "reserved" in err


def test_new_with_all_links_then_list(live, alice, capsys):
    assert main(["new", "Call the buyer", *account(live), "--type", "call",
                 "--due", "2026-12-01", "--account", "ACME", "--contact", "Jane Doe",
                 "--opportunity", "Renewal 2027", "--project", "Q1"]) == 0
    assert main(["new", "Send the brochure", *account(live), "--type", "email",
                 "--due", "2099-01-01T09:00"]) == 0
    [first, second] = sorted((s.action for s in alice.list(live.calendar_path("alice"))),
                             key=lambda a: a.summary)
    assert first.kind == "call" and first.when == dt.date(2026, 12, 1)
    assert set(first.links) == set(model.LINK_KINDS)
    assert first.page  # stamped by the plugin: the CLI knows no secret
    capsys.readouterr()
    assert main(["list", *account(live)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("2026-12-01") and "Call the buyer" in lines[0]
    assert "opportunity: Renewal 2027" in lines[0]
    assert "Send the brochure" in lines[1]
    assert main(["list", *account(live), "--overdue"]) == 0
    out = capsys.readouterr().out
    assert "Call the buyer" in out and "Send the brochure" not in out


def test_list_leaves_closed_actions_out(live, alice, capsys):
    main(["new", "Done already", *account(live), "--due", "2026-11-01"])
    [stored] = alice.list(live.calendar_path("alice"))
    alice.close(stored.path)
    capsys.readouterr()
    main(["list", *account(live)])
    assert "no open actions" in capsys.readouterr().out


def test_import_reports_imported_skipped_and_failed(live, alice, tmp_path, capsys):
    source = tmp_path / "export.ics"
    source.write_text(textwrap.dedent("""\
        BEGIN:VCALENDAR
        VERSION:2.0
        PRODID:-//test//EN
        BEGIN:VTODO
        UID:imp-1
        DTSTAMP:20261201T000000Z
        SUMMARY:Imported task
        DUE;VALUE=DATE:20261210
        END:VTODO
        BEGIN:VEVENT
        UID:imp-2
        DTSTAMP:20261201T000000Z
        DTSTART:20261211T100000Z
        DTEND:20261211T110000Z
        SUMMARY:Imported meeting
        END:VEVENT
        BEGIN:VJOURNAL
        UID:imp-3
        SUMMARY:A note
        END:VJOURNAL
        BEGIN:VTODO
        UID:imp-4
        DUE:not-a-date
        SUMMARY:Broken
        END:VTODO
        END:VCALENDAR
        """))
    code = main(["import", str(source), *account(live)])
    out = capsys.readouterr().out
    assert "imported 2" in out and "skipped 1" in out
    assert "line 17: VJOURNAL is not an action" in out
    assert "line 21:" in out and "not-a-date" in out
    stored = {s.action.summary: s for s in alice.list(live.calendar_path("alice"))}
    assert {"Imported task", "Imported meeting"} <= set(stored)
    assert all(s.action.page for s in stored.values())
    assert code in (0, 1)
    # Importing again skips what is there.
    main(["import", str(source), *account(live)])
    assert "imported 0" in capsys.readouterr().out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("argv, words", [
    (["--due", "next week"], "YYYY-MM-DD"),
    (["--password", "wrong"], "password"),
])
def test_errors_are_one_clear_line(live, capsys, argv, words):
    args = ["new", "X", *account(live)]
    args[args.index("--password") + 1: args.index("--password") + 2] = [PEOPLE["alice"]]
    args += argv
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and words in err


def test_server_down_is_one_clear_line(capsys):
    url = f"http://127.0.0.1:{_free_port()}"
    assert main(["list", "--url", url, "--user", "a", "--password", "b"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "running" in err


@pytest.mark.parametrize("path", ["/overdue", "/nothing-here/", "/a/x"])
def test_a_url_that_is_not_the_caldav_address_is_one_clear_line(live, capsys, path):
    """A page of the companion (or a 404 page) answers HTML: not a word of it is printed."""
    args = ["--url", live.base_url + path, "--user", "alice", "--password", PEOPLE["alice"]]
    assert main(["list", *args]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "<" not in err and len(err) < 300, err
    assert err.startswith("followup: ") and live.base_url + path in err


def test_unreadable_file_is_one_clear_line(live, tmp_path, capsys):
    assert main(["import", str(tmp_path / "missing.ics"), *account(live)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "cannot read" in err


def _ics(*todos: str) -> str:
    body = "".join(f"BEGIN:VTODO\n{t}\nEND:VTODO\n" for t in todos)
    return f"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//t//EN\n{body}END:VCALENDAR\n"


def test_import_keeps_apart_items_without_uid_and_uids_that_look_alike(live, alice, tmp_path,
                                                                       capsys):
    first, second = tmp_path / "a.ics", tmp_path / "b.ics"
    first.write_text(_ics("SUMMARY:Call Globex", "UID:x/1@example.com\nSUMMARY:Slash"))
    second.write_text(_ics("SUMMARY:Send Globex contract",
                           "UID:x_1@example.com\nSUMMARY:Underscore"))
    assert main(["import", str(first), *account(live)]) == 0
    assert main(["import", str(second), *account(live)]) == 0
    summaries = {s.action.summary for s in alice.list(live.calendar_path("alice"))}
    assert summaries == {"Call Globex", "Slash", "Send Globex contract", "Underscore"}
    capsys.readouterr()
    main(["import", str(first), *account(live)])  # the same file again: found, not doubled
    out = capsys.readouterr().out
    assert "imported 0, skipped 2" in out and "'Call Globex' is already" in out
    assert "import-" not in out  # no internal id shown


def test_import_names_an_impossible_date_and_imports_the_rest(live, alice, tmp_path, capsys):
    source = tmp_path / "dates.ics"
    source.write_text(_ics("UID:d1\nDTSTAMP:20261201T000000Z\nDUE:20260230T100000\n"
                           "SUMMARY:Thirtieth of February", "UID:d2\nSUMMARY:Fine"))
    assert main(["import", str(source), *account(live)]) == 1
    out = capsys.readouterr().out
    assert "imported 1" in out and "failed: line 4:" in out and "20260230T100000" in out
    assert [s.action.summary for s in alice.list(live.calendar_path("alice"))] == ["Fine"]


def test_names_that_differ_only_by_case_are_refused(tmp_path, capsys):
    assert main(["user", "add", "alice", "--password", "a", "--data", str(tmp_path)]) == 0
    assert main(["user", "add", "Alice", "--password", "b", "--data", str(tmp_path)]) == 1
    assert "already a user 'alice'" in capsys.readouterr().err


@pytest.mark.parametrize("url", ["127.0.0.1:5232", "ftp://127.0.0.1:5232"])
def test_an_address_without_http_says_how_to_write_it(capsys, url):
    assert main(["list", "--url", url, "--user", "a", "--password", "b"]) == 1
    assert "write it with http:// or https://" in capsys.readouterr().err


def test_an_accented_user_name_is_refused_with_what_to_write(tmp_path, capsys):
    assert main(["user", "add", "ÉLODIE", "--data", str(tmp_path)]) == 1
    assert "without accents" in capsys.readouterr().err


def test_list_keeps_one_line_per_action_with_a_newline_in_a_link(live, alice, capsys):
    assert main(["new", "Call", *account(live), "--contact", "Jane\nDoe"]) == 0
    capsys.readouterr()
    assert main(["list", *account(live)]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "contact: Jane Doe" in out


def test_command_groups_print_their_own_help(capsys):
    assert main(["user"]) == 2
    assert "add" in capsys.readouterr().out


def test_list_shows_times_in_the_readers_zone(live, capsys):
    main(["new", "Zoned", *account(live), "--due", "2099-01-01T10:00", "--timezone", "UTC"])
    capsys.readouterr()
    main(["list", *account(live), "--timezone", "Europe/Paris"])
    assert "2099-01-01 11:00" in capsys.readouterr().out


def test_import_of_a_file_that_is_not_icalendar_fails(live, tmp_path, capsys):
    source = tmp_path / "notes.txt"
    source.write_text("Call Jane on Monday\nSend the quote\n")
    assert main(["import", str(source), *account(live)]) == 1
    assert ".ics" in capsys.readouterr().out


def test_password_from_the_environment_keeps_it_off_the_command_line(
        live, alice, capsys, monkeypatch):
    without = [a for a in account(live)]
    at = without.index("--password")
    monkeypatch.setenv("FOLLOWUP_PASSWORD", without[at + 1])
    del without[at:at + 2]
    assert main(["new", "Call from a script", *without]) == 0
    capsys.readouterr()
    assert main(["list", *without]) == 0
    assert "Call from a script" in capsys.readouterr().out
    monkeypatch.delenv("FOLLOWUP_PASSWORD")
    with pytest.raises(SystemExit):
        main(["list", *without])
    assert "FOLLOWUP_PASSWORD" in capsys.readouterr().err


def test_new_without_due_gets_the_pages_default_day_and_says_which(live, alice, capsys):
    from zoneinfo import ZoneInfo

    today = dt.datetime.now(ZoneInfo("Europe/Paris")).date()
    zone = ["--timezone", "Europe/Paris"]
    for kind in model.KINDS:
        assert main(["new", f"A {kind}", *account(live), "--type", kind, *zone]) == 0
    lines = capsys.readouterr().out.splitlines()
    made = {s.action.summary: s.action for s in alice.list(live.calendar_path("alice"))}
    for kind in model.KINDS:
        day = model.default_due(kind, today)  # what the page proposes: a working day
        assert made[f"A {kind}"].when == day, kind
        [said] = [line for line in lines if day.isoformat() in line and kind in line]
        assert "no --due" in said, said
    [meeting] = [line for line in lines if "meeting" in line and "no --due" in line]
    assert "all-day" in meeting and "--due YYYY-MM-DDTHH:MM" in meeting
    assert made["A meeting"].end == made["A meeting"].when + dt.timedelta(days=1)
