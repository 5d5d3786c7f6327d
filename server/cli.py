"""The ``followup`` command line: serve, user, new, list, import, repair, rotate-secret.

Every failure a person can meet (server down, wrong password, bad date, unreadable file)
prints one line saying what to do and exits non-zero.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from server import agenda, ical_import, model, users
from server.sessions import SessionEnds
from server.settings import AlreadyServing, DataDir
from server.store import Store, StoreError

EXIT_USAGE = 2
EXIT_FAILED = 1
FIRST_USER = "sales"
PASSWORD_ENV = "FOLLOWUP_PASSWORD"
# The companion's own setting (web/__init__.py reads FOLLOWUP_*): the same secret here.
SECRET_ENV = "FOLLOWUP_SECRET_KEY"


class CommandError(Exception):
    """A failure to report in one line."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        (getattr(args, "help_of", None) or parser).print_help()
        return EXIT_USAGE
    if getattr(args, "needs_password", False) and args.password is None:
        parser.exit(EXIT_USAGE, f"followup: give --password, or set {PASSWORD_ENV}\n")
    # The calendars, users and secrets are business data: what followup writes (Radicale
    # makes its files and folders with the process umask) is for its owner alone.
    os.umask(0o077)
    try:
        return args.run(args) or 0
    except BrokenPipeError:  # the reader (head, less) went away: nothing wrong with us
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (CommandError, StoreError, model.ActionError, users.UserError) as exc:
        print(f"followup: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="followup", description="CRM actions on your own CalDAV calendar.",
        epilog="Each command has its own help: followup COMMAND --help")
    commands = parser.add_subparsers(metavar="COMMAND")

    user = commands.add_parser("user", help="manage the people who log in")
    user.set_defaults(help_of=user)
    user_commands = user.add_subparsers(metavar="ACTION")
    add = user_commands.add_parser("add", help="add a user (or set a new password)")
    add.add_argument("name")
    add.add_argument("--password", help="default: a generated one, printed once (this "
                     f"command does not read {PASSWORD_ENV}: it sets a password)")
    add.add_argument("--data", default="var", help="data folder (default: var/)")
    add.set_defaults(run=cmd_user_add)

    serve = commands.add_parser("serve", help="run Radicale and the companion on one port")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on "
                       "(default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=5232, help="1 to 65535, or 0 for a free "
                       "one (default: 5232)")
    serve.add_argument("--data", default="var", help="data folder (default: var/)")
    serve.add_argument("--base-url", help="public http(s):// address written into links "
                       "(default: the listening address)")
    serve.add_argument("--radicale-config", type=Path,
                       help="a Radicale configuration file to apply under ours")
    serve.add_argument("--timezone", help="zone for times typed on pages (default: TZ or UTC)")
    serve.add_argument("--trusted-proxies", type=int, default=0, metavar="N",
                       help="proxies in front that set X-Forwarded-For (behind one TLS "
                       "proxy: 1); default 0, trust no such header")
    serve.set_defaults(run=cmd_serve)

    def account(p: argparse.ArgumentParser) -> None:
        p.add_argument("--url", required=True, help="server address, as printed by serve")
        p.add_argument("--user", required=True, help="your user name")
        # From the environment too: a password on the command line shows in `ps` and in
        # the shell's history.
        p.add_argument("--password", default=os.environ.get(PASSWORD_ENV),
                       help=f"your password (or set {PASSWORD_ENV})")
        p.set_defaults(needs_password=True)
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
    listing.add_argument("--timezone", help="zone to show times in (default: TZ or UTC)")
    listing.set_defaults(run=cmd_list)

    importing = commands.add_parser("import", help="import VTODO/VEVENT items from a file")
    importing.add_argument("file", type=Path)
    account(importing)
    importing.set_defaults(run=cmd_import)

    def service(p: argparse.ArgumentParser) -> None:
        p.add_argument("--url", required=True, help="server address, as printed by serve")
        p.add_argument("--user", help="one account (default: every user, with --data)")
        p.add_argument("--password", default=os.environ.get(PASSWORD_ENV),
                       help=f"that account's password (or set {PASSWORD_ENV})")
        p.add_argument("--data", default="var", help="data folder, for the service account")
        p.add_argument("--calendar", help="calendar name (default: actions)")

    mending = commands.add_parser("repair", help="finish close-and-create jobs a crash "
                                  "left half done")
    service(mending)
    mending.add_argument("--dry-run", action="store_true", help="report only, change nothing")
    mending.set_defaults(run=cmd_repair)

    rotate = commands.add_parser("rotate-secret", help="make a new secret: every page link "
                                 "and session so far stops working")
    rotate.add_argument("--data", default="var", help="data folder (default: var/)")
    rotate.set_defaults(run=cmd_rotate_secret)

    restamp = commands.add_parser("restamp", help="write every item's page link again "
                                  "(after rotate-secret and a restart)")
    service(restamp)
    restamp.add_argument("--base-url", help="public address in links (default: --url)")
    restamp.set_defaults(run=cmd_restamp)
    return parser


# -- user ----------------------------------------------------------------------------------------


def cmd_user_add(args) -> int:
    data = DataDir.at(args.data)
    password = users.set_password(data.users_file, args.name, args.password)
    # A new password ends the sessions opened with the old one, on every device.
    SessionEnds(data.sessions_file).end(args.name)
    from server import embedded

    embedded.ensure_calendars(embedded.radicale_config(data, "http://127.0.0.1:5232"),
                              [args.name])
    where = f" (data in {data.root})"
    if args.password:
        print(f"user {args.name} saved{where}")
    else:
        print(f"user {args.name} saved{where}, password: {password}")
    return 0


# -- serve ---------------------------------------------------------------------------------------


def cmd_serve(args) -> int:
    import waitress

    from server import embedded
    from web import create_app

    port = checked_port(args.port)
    given_base_url = checked_base_url(args.base_url) if args.base_url else None
    if args.timezone:
        model.local_zone(args.timezone)  # a wrong name stops here, not on every page
    data = DataDir.at(args.data)
    try:
        lock = data.hold_for_serving()  # before anything in the folder is written
    except AlreadyServing as exc:
        raise CommandError(str(exc)) from exc
    try:
        server = waitress.create_server(lambda environ, start: app(environ, start),
                                        host=args.host, port=port, threads=16,
                                        ident="followup",
                                        **embedded.waitress_options(args.trusted_proxies))
    except OSError as exc:
        raise CommandError(f"cannot listen on {args.host}:{port} ({exc.strerror}): is "
                           "followup already running? Choose another port with --port") from exc
    # The port actually listened on: the one chosen by the system for --port 0.
    listening = f"http://{_url_host(args.host)}:{server.effective_port}"
    base_url = given_base_url or listening
    if not users.names(data.users_file):
        password = users.set_password(data.users_file, FIRST_USER)
        print(f"First start: made user {FIRST_USER!r} with password {password}")
        # No --password in the hint: a password typed there shows in `ps` and the history.
        print(f"  (shown once; for a new one, generated and shown once: {_me()} user add "
              f"{FIRST_USER} --data {args.data})")
    internal = embedded.InternalServer()
    try:
        app = embedded.build(data, base_url, internal.url, create_app, args.timezone,
                             args.radicale_config)
    except RuntimeError as exc:  # Radicale's error for a file or option it cannot use
        internal.close()
        raise CommandError(f"cannot start Radicale: {exc}") from exc
    internal.start(app)
    people = users.names(data.users_file)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("radicale").setLevel(logging.WARNING)  # our request log is the one line
    print(f"followup is running at {listening}/  (links point at {base_url}/)")
    print(f"CalDAV: {listening}{embedded.DAV_PREFIX}/  users: {', '.join(people)}")
    data.remember_server_url(listening)
    previous = data.remember_base_url(base_url)
    if previous and previous != base_url:
        print(f"The last start wrote links to {previous}/. To rewrite those in existing "
              "items:\n"
              f"  {_me()} restamp --url {listening} --base-url {base_url} --data {args.data}")
    print(f"Data in {data.root}. Stop with Ctrl+C.", flush=True)
    try:
        server.run()
    finally:
        internal.close()
        lock.close()
    return 0


def checked_port(port: int) -> int:
    """A port to listen on: 1 to 65535, or 0 for one the system chooses (and we then name)."""
    if not 0 <= port <= 65535:
        # The system would not refuse 99999: it would listen on 99999 - 65536 = 34463.
        raise CommandError(f"--port {port} is not a port: give 1 to 65535 (or 0 for any free "
                           "one)")
    return port


def checked_base_url(text: str) -> str:
    """A public address for page links: http(s)://host[:port][/path], without a trailing /.

    Anything else (ftp://, javascript:, a host alone) would be written into every item as a
    link that cannot open a page, or one that runs script when clicked."""
    from urllib.parse import urlsplit

    shown = text if len(text) <= 80 else text[:79] + "…"
    problem = f"--base-url {shown!r} is not a web address: write http:// or https:// and a " \
              "host, e.g. https://crm.example.org"
    if any(c.isspace() or ord(c) < 0x20 for c in text):
        raise CommandError(problem)
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 (reading it checks it: ":99999" raises)
    except ValueError as exc:
        raise CommandError(problem) from exc
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise CommandError(problem)
    if parts.username is not None or parts.query or parts.fragment:
        raise CommandError(f"--base-url {shown!r}: give the address alone, without a user "
                           "name, ?query or #fragment")
    return text.rstrip("/")


def _me() -> str:
    """This command as typed (.venv/bin/followup from `make run`), for commands we print."""
    typed = sys.argv[0] if sys.argv and sys.argv[0] else "followup"
    return typed if os.path.basename(typed) == "followup" else "followup"


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
    tz = _zone(args.timezone)
    # No --due: the day the page proposes for a next action of that kind (a working day).
    # An action without a date is never overdue and on no day of the week: easily forgotten.
    when = model.parse_due(args.due, tz) if args.due else \
        model.default_due(args.kind, dt.datetime.now(tz).date())
    links = [model.Link.named(kind, getattr(args, kind)) for kind in model.LINK_KINDS
             if getattr(args, kind)]
    cal = model.new(args.summary, args.kind, when, links)
    store, calendar = _store(args)
    stored = store.new_action(calendar, cal)
    print(f"created {stored.action.kind} {stored.action.summary!r} at {stored.path}")
    if not args.due:
        print(default_date_note(args.kind, when))
    return 0


def default_date_note(kind: str, day: dt.date) -> str:
    """What `new` says about the date it chose when none was given."""
    shown = f"{day:%a} {day.isoformat()}"
    if kind == "meeting":
        return (f"  no --due: an all-day meeting on {shown}, the default for --type meeting "
                "(give --due YYYY-MM-DDTHH:MM for a time)")
    return f"  no --due: due {shown}, the default for --type {kind} (give --due to choose)"


def cmd_list(args) -> int:
    store, calendar = _store(args)
    tz = _zone(args.timezone)
    now = model.utcnow()
    rows = []
    for stored in store.list(calendar):
        action = stored.action
        if action.closed:
            continue
        if args.overdue and not agenda.is_overdue(action, now, tz):
            continue
        rows.append(action)
    rows.sort(key=lambda a: agenda.sort_key(a.when))
    for action in rows:
        when = _show(action.when, tz)
        links = ", ".join(f"{k}: {' '.join(link.label.split())}"
                          for k, link in action.links.items())
        summary = " ".join(action.summary.split())  # one line per action, whatever was typed
        print(f"{when:<17} {action.kind:<8} {summary}" + (f"  [{links}]" if links else ""))
    if not rows:
        print("no overdue actions" if args.overdue else "no open actions")
    return 0


def _show(when: model.Moment | None, tz: dt.tzinfo) -> str:
    """A date, or a time in the reader's zone (a floating time, or one at the calendar's very
    end that the zone cannot show, as written)."""
    if when is None:
        return "-"
    if isinstance(when, dt.datetime):
        local = model.in_zone(when, tz)
        return f"{local.date().isoformat()} {local:%H:%M}"  # %Y writes year 1 as "1"
    return when.isoformat()


def cmd_import(args) -> int:
    try:
        text = ical_import.decode(args.file.read_bytes())
    except (OSError, ical_import.NotText) as exc:
        raise CommandError(f"cannot read {args.file}: {exc}") from exc
    store, calendar = _store(args)
    report = ical_import.run(store, calendar, text, progress=sys.stderr.isatty())
    print(report.summary())
    return 0 if not report.failed else EXIT_FAILED


# -- repair and secrets --------------------------------------------------------------------------


def _accounts(args, tokens=None, base_url=None) -> list[tuple[Store, str]]:
    """(store, calendar path) for one user, or for every user through the service account."""
    if args.user:
        if args.password is None:
            raise CommandError("--user needs --password")
        store = Store(args.url, args.user, args.password, tokens, base_url)
        return [(store, store.actions_calendar(args.calendar))]
    from server import embedded
    from server.settings import ACTIONS_CALENDAR, SERVICE_USER

    data = DataDir.at(args.data)
    people = [n for n in users.names(data.users_file) if n != SERVICE_USER]
    if not people:
        raise CommandError(f"no users in {data.users_file}: give --user and --password, "
                           "or the --data folder followup serve uses")
    store = Store(_dav_url(args.url, embedded.DAV_PREFIX), SERVICE_USER,
                  data.service_password(), tokens, base_url)
    name = args.calendar or ACTIONS_CALENDAR
    return [(store, f"{embedded.DAV_PREFIX}/{person}/{name}/") for person in people]


def _dav_url(url: str, prefix: str) -> str:
    url = url.rstrip("/")
    return url + "/" if url.endswith(prefix) else url + prefix + "/"


def cmd_repair(args) -> int:
    from server import repair

    findings = []
    for store, calendar in _accounts(args):
        for finding in repair.sweep(store, calendar, fix=not args.dry_run):
            findings.append(finding)
            print(finding.line())
    fixed = sum(f.fixed for f in findings)
    print(f"{len(findings)} problem(s) found, {fixed} fixed"
          + (" (dry run: nothing written)" if args.dry_run else ""))
    # Non-zero when something is left: for a person, or for the real run after a dry one.
    return EXIT_FAILED if fixed < len(findings) else 0


def cmd_rotate_secret(args) -> int:
    data = DataDir.at(args.data)
    data.rotate_secret_key()
    print(f"new secret written to {data.root / 'secret_key'}: every page link and session "
          "made so far no longer works.")
    server = data.recorded("server_url") or "http://127.0.0.1:5232"
    base_url = data.recorded("base_url")
    public = f" --base-url {base_url}" if base_url and base_url != server else ""
    print("Now restart followup serve, then write the new links into every item with:")
    print(f"  {_me()} restamp --url {server}{public} --data {args.data}")
    return 0


def _signing_secret(data_folder: str) -> str:
    """The secret page links are signed with: FOLLOWUP_SECRET_KEY (the companion's, for a
    companion on another CalDAV server), else the one `followup serve` keeps in --data."""
    from_env = os.environ.get(SECRET_ENV, "").strip()
    if from_env:
        return from_env
    found = DataDir(Path(data_folder).resolve()).existing_secret_key()
    if found is None:
        raise CommandError(
            f"no link-signing secret in {Path(data_folder) / 'secret_key'}: give the --data "
            f"folder of followup serve, or set {SECRET_ENV} to the companion's secret key")
    return found


def cmd_restamp(args) -> int:
    from server.tokens import PageTokens

    base_url = checked_base_url(args.base_url) if args.base_url else args.url.rstrip("/")
    if base_url.endswith("/dav"):
        base_url = base_url[:-4]
    tokens = PageTokens(_signing_secret(args.data))
    rewritten = current = 0
    for store, calendar in _accounts(args, tokens, base_url):
        for listed in store.list(calendar):
            stored, written = store.rewrite(listed.path)
            if written:  # what the server stored: its plugin stamps with the secret it has
                stored = store.get(stored.path)
            if stored.action.page != store.page_url(stored.path):
                raise CommandError(
                    "the server writes links with another secret than this one: after "
                    "rotate-secret, restart followup serve and run restamp again; otherwise "
                    "give the --data folder of that server")
            rewritten += written
            current += not written
    print(f"restamped {rewritten} item(s), {current} already current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
