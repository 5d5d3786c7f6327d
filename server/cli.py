"""The ``followup`` command line: serve, user, new, list, import.

Every failure a person can meet (server down, wrong password, bad date, unreadable file)
prints one line saying what to do and exits non-zero.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from server import ical_import, model, users
from server.settings import DataDir
from server.store import Store, StoreError

EXIT_USAGE = 2
EXIT_FAILED = 1
FIRST_USER = "sales"


class CommandError(Exception):
    """A failure to report in one line."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.run(args) or 0
    except (CommandError, StoreError, model.ActionError, users.UserError) as exc:
        print(f"followup: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="followup", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(metavar="COMMAND")

    user = commands.add_parser("user", help="manage the people who log in")
    user_commands = user.add_subparsers(metavar="ACTION")
    add = user_commands.add_parser("add", help="add a user (or set a new password)")
    add.add_argument("name")
    add.add_argument("--password", help="default: a generated one, printed once")
    add.add_argument("--data", default="var", help="data folder (default: var/)")
    add.set_defaults(run=cmd_user_add)

    serve = commands.add_parser("serve", help="run Radicale and the companion on one port")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=5232)
    serve.add_argument("--data", default="var", help="data folder (default: var/)")
    serve.add_argument("--base-url", help="public address written into links "
                       "(default: the listening address)")
    serve.add_argument("--radicale-config", type=Path,
                       help="a Radicale configuration file to apply under ours")
    serve.add_argument("--timezone", help="zone for times typed on pages (default: TZ or UTC)")
    serve.set_defaults(run=cmd_serve)

    def account(p: argparse.ArgumentParser) -> None:
        p.add_argument("--url", required=True, help="server address, as printed by serve")
        p.add_argument("--user", required=True)
        p.add_argument("--password", required=True)
        p.add_argument("--calendar", help="calendar name (default: actions)")

    new = commands.add_parser("new", help="create an action")
    new.add_argument("summary")
    account(new)
    new.add_argument("--type", dest="kind", default="task", choices=model.KINDS)
    new.add_argument("--due", help="YYYY-MM-DD or YYYY-MM-DDTHH:MM")
    new.add_argument("--timezone", help="zone of --due times (default: TZ or UTC)")
    for kind in model.LINK_KINDS:
        new.add_argument(f"--{kind}", help=f"the {kind} this action is linked to")
    new.set_defaults(run=cmd_new)

    listing = commands.add_parser("list", help="open actions, soonest first")
    account(listing)
    listing.add_argument("--overdue", action="store_true", help="only those past their date")
    listing.set_defaults(run=cmd_list)

    importing = commands.add_parser("import", help="import VTODO/VEVENT items from a file")
    importing.add_argument("file", type=Path)
    account(importing)
    importing.set_defaults(run=cmd_import)
    return parser


# -- user ----------------------------------------------------------------------------------------


def cmd_user_add(args) -> int:
    data = DataDir.at(args.data)
    password = users.set_password(data.users_file, args.name, args.password)
    from server import embedded

    embedded.ensure_calendars(embedded.radicale_config(data, "http://127.0.0.1:5232"),
                              [args.name])
    if args.password:
        print(f"user {args.name} saved")
    else:
        print(f"user {args.name} saved, password: {password}")
    return 0


# -- serve ---------------------------------------------------------------------------------------


def cmd_serve(args) -> int:
    import waitress

    from server import embedded
    from web import create_app

    data = DataDir.at(args.data)
    listening = f"http://{_url_host(args.host)}:{args.port}"
    base_url = (args.base_url or listening).rstrip("/")
    if not users.names(data.users_file):
        password = users.set_password(data.users_file, FIRST_USER)
        print(f"First start: made user {FIRST_USER!r} with password {password}")
        print("  (shown once; change it with: followup user add "
              f"{FIRST_USER} --password NEW)")
    local = f"http://{_url_host(_local_host(args.host))}:{args.port}"
    app = embedded.build(data, base_url, local, create_app, args.timezone, args.radicale_config)
    people = users.names(data.users_file)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("radicale").setLevel(logging.WARNING)  # our request log is the one line
    print(f"followup is running at {listening}/  (links point at {base_url}/)")
    print(f"CalDAV: {listening}{embedded.DAV_PREFIX}/  users: {', '.join(people)}")
    print(f"Data in {data.root}. Stop with Ctrl+C.", flush=True)
    waitress.serve(app, host=args.host, port=args.port, threads=16, ident="followup",
                   _quiet=True)
    return 0


def _local_host(host: str) -> str:
    """Where this machine reaches a server listening on `host`."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


# -- actions over CalDAV -------------------------------------------------------------------------


def _store(args) -> tuple[Store, str]:
    store = Store(args.url, args.user, args.password)
    return store, store.actions_calendar(args.calendar)


def _zone(name: str | None) -> dt.tzinfo:
    import os

    return model.local_zone(name or os.environ.get("TZ") or "UTC")


def cmd_new(args) -> int:
    when = model.parse_due(args.due, _zone(args.timezone)) if args.due else None
    links = [model.Link.named(kind, getattr(args, kind)) for kind in model.LINK_KINDS
             if getattr(args, kind)]
    cal = model.new(args.summary, args.kind, when, links)
    store, calendar = _store(args)
    stored = store.new_action(calendar, cal)
    print(f"created {stored.action.kind} {stored.action.summary!r} at {stored.path}")
    return 0


def cmd_list(args) -> int:
    store, calendar = _store(args)
    now = model.utcnow()
    rows = []
    for stored in store.list(calendar):
        action = stored.action
        if action.closed:
            continue
        if args.overdue and not is_overdue(action, now):
            continue
        rows.append(action)
    rows.sort(key=lambda a: sort_key(a.when))
    for action in rows:
        when = _show(action.when)
        links = ", ".join(f"{k}: {link.label}" for k, link in action.links.items())
        print(f"{when:<17} {action.kind:<8} {action.summary}" + (f"  [{links}]" if links else ""))
    if not rows:
        print("no overdue actions" if args.overdue else "no open actions")
    return 0


def sort_key(when: model.Moment | None) -> tuple[int, dt.datetime]:
    """Soonest first, undated last; days sort as their midnight in UTC."""
    if when is None:
        return (1, dt.datetime.max.replace(tzinfo=dt.UTC))
    return (0, as_utc(when))


def as_utc(when: model.Moment) -> dt.datetime:
    if isinstance(when, dt.datetime):
        return when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    return dt.datetime.combine(when, dt.time(), dt.UTC)


def is_overdue(action: model.Action, now: dt.datetime) -> bool:
    """Past its date: a day is overdue once it is over, a time once it has passed."""
    if action.when is None:
        return False
    if isinstance(action.when, dt.datetime):
        return as_utc(action.when) < now
    return action.when < now.date()


def _show(when: model.Moment | None) -> str:
    if when is None:
        return "-"
    if isinstance(when, dt.datetime):
        return when.strftime("%Y-%m-%d %H:%M")
    return when.isoformat()


def cmd_import(args) -> int:
    try:
        text = args.file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"cannot read {args.file}: {exc}") from exc
    store, calendar = _store(args)
    report = ical_import.run(store, calendar, text, progress=sys.stderr.isatty())
    print(report.summary())
    return 0 if not report.failed else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
