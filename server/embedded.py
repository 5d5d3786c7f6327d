"""The embedded default: Radicale and the companion behind one port.

This is the one place in ``server/`` that names Radicale: it builds Radicale's configuration
for a data folder and routes requests. ``/dav/`` is Radicale, ``/.well-known/caldav`` points
there, and CalDAV methods on ``/`` go there too (so a client given just the server address
finds its calendars); everything else is the companion.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from server import users
from server.attempts import Attempts, Blocked
from server.settings import ACTIONS_CALENDAR, SERVICE_USER, DataDir

DAV_PREFIX = "/dav"
COMPANION_METHODS = frozenset({"GET", "HEAD", "POST"})
# Where a log may show a folded content line (an item's text is folded at 75 octets, at any
# character of a page link, "/a/" included): CRLF or LF as such, as an XML character
# reference (&#13; in a REPORT answer) or as Python writes bytes (the four characters
# backslash r backslash n), then a space or a tab, after the log's own indent if it has one
# (Radicale starts each line of a request or an answer with a space).
FOLD = r"(?:(?:\r|&#13;|&#x[dD];|\\r)?(?:\n|\\n)[ \t]+)"
# A page token after /a/, a fold allowed anywhere in "/a/" and in the token.
TOKEN_IN_TEXT = re.compile(rf"/{FOLD}?a{FOLD}?/(?:[A-Za-z0-9_.~%\-]|{FOLD})+")
log = logging.getLogger("followup.http")
# Set on requests that came in through the InternalServer (the companion's own calls).
INTERNAL = "followup.internal"
LOGIN_ATTEMPTS, LOGIN_WINDOW = 5, 60.0

# Owners read and write their own calendars; the companion's account reaches every calendar
# because a page link, not a login, is what lets a person close an action from a phone.
RIGHTS = f"""\
[service]
user: {SERVICE_USER}
collection: .*
permissions: RrWw

[root]
user: .+
collection:
permissions: R

[principal]
user: .+
collection: {{user}}
permissions: RW

[calendars]
user: .+
collection: {{user}}/[^/]+
permissions: rw
"""


def radicale_config(data: DataDir, base_url: str, extra_config: Path | None = None,
                    strict: bool = True):
    """Radicale's configuration for a data folder, with our storage plugin."""
    import radicale.config

    configuration = radicale.config.load()
    # Our storage type first, so that the file may set its options ([storage]
    # followup_language = fr) without naming the type: Radicale refuses options it does not
    # know for its own storage.
    configuration.update({"storage": {"type": "plugins.storage"}}, "followup", privileged=True)
    if extra_config:
        configuration.update(_read_ini(extra_config), f"config file {str(extra_config)!r}")
    data.secret_key()
    data.rights_file.write_text(RIGHTS)
    configuration.update({
        # plugins/auth.py: the htpasswd file, successful logins remembered (a bcrypt check
        # costs ~0.25 s and every CalDAV request logs in) only while the file is unchanged,
        # so `followup user add NAME --password NEW` takes effect on the next request.
        # Failed logins are not remembered. Radicale's own cache (which would keep an old
        # password working for 15 s) is off.
        "auth": {"type": "plugins.auth", "htpasswd_filename": str(data.users_file),
                 "htpasswd_encryption": "bcrypt", "delay": "1", "cache_logins": "False"},
        "rights": {"type": "from_file", "file": str(data.rights_file)},
        "storage": {"type": "plugins.storage", "filesystem_folder": str(data.collections),
                    "strict_preconditions": str(strict),
                    "followup_base_url": base_url,
                    "followup_secret_file": str(data.root / "secret_key"),
                    "followup_dav_prefix": DAV_PREFIX},
        "web": {"type": "none"},
    }, "followup", privileged=True)
    return configuration


def _read_ini(path: Path) -> dict[str, dict[str, str]]:
    """A Radicale configuration file as sections of options, read as Radicale reads it."""
    import configparser

    parser = configparser.RawConfigParser()
    try:
        with open(path) as handle:
            parser.read_file(handle)
    except Exception as exc:
        raise RuntimeError(f"Failed to load config file {str(path)!r}: {exc}") from exc
    return {section: {option: parser[section][option] for option in parser.options(section)}
            for section in parser.sections()}


def radicale_app(configuration):
    """Radicale, behind the filter that keeps its parser from damaging client input."""
    import radicale

    from plugins.protect import protect_input

    return protect_input(radicale.Application(configuration))


def ensure_calendars(configuration, users: Iterable[str]) -> None:
    """Give every user an actions calendar (tasks and events) if they have none yet."""
    import radicale.storage

    storage = radicale.storage.load(configuration)
    props = {"tag": "VCALENDAR", "D:displayname": "Actions",
             "C:supported-calendar-component-set": "VEVENT,VTODO"}
    with storage.acquire_lock("w"):
        for user in users:
            path = f"/{user}/{ACTIONS_CALENDAR}/"
            if not list(storage.discover(f"/{user}/")):
                storage.create_collection(f"/{user}/")
            if not list(storage.discover(path)):
                storage.create_collection(path, props=props)


def build(data: DataDir, base_url: str, local_url: str, create_companion: Callable,
          timezone: str | None = None, extra_config: Path | None = None,
          strict: bool = True) -> Callable:
    """The whole product as one WSGI app, for `followup serve` and the tests.

    `local_url` is where this server itself is reached (the companion's CalDAV requests go
    there); `create_companion` is ``web.create_app``, passed in so ``server/`` needs no Flask.
    Proxy headers are waitress's job here (`waitress_options`), for both sides at once.
    """
    install_log_redaction()
    people = users.names(data.users_file)
    service_password = data.service_password()
    if not users.check(data.users_file, SERVICE_USER, service_password):
        users.set_password(data.users_file, SERVICE_USER, service_password, allow_service=True)
    configuration = radicale_config(data, base_url, extra_config, strict)
    ensure_calendars(configuration, people)
    companion = create_companion({
        "SECRET_KEY": data.secret_key(),
        "CALDAV_URL": f"{local_url.rstrip('/')}{DAV_PREFIX}/",
        "CALDAV_USER": SERVICE_USER,
        "CALDAV_PASSWORD": service_password,
        "BASE_URL": base_url,
        "TIMEZONE": timezone,
        "SESSION_COOKIE_SECURE": base_url.startswith("https://"),
        "SESSIONS_FILE": str(data.sessions_file),
    })
    # One allowance of failed logins for the pages and CalDAV: same passwords, same count.
    attempts = Attempts(LOGIN_ATTEMPTS, LOGIN_WINDOW)
    companion.extensions["followup_attempts"] = attempts
    return request_log(dispatcher(limit_logins(radicale_app(configuration), attempts),
                                  companion))


def waitress_options(trusted_proxies: int) -> dict:
    """waitress settings for the public listener.

    waitress drops X-Forwarded-* headers unless told to trust them, so behind a TLS proxy
    (`--trusted-proxies N`) it takes the visitor's address and scheme from the last N hops;
    without it a header anyone can write is never believed.
    """
    if trusted_proxies <= 0:
        return {}
    return {"trusted_proxy": "*", "trusted_proxy_count": trusted_proxies,
            "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-proto"}}


def basic_user(authorization: str) -> str | None:
    """The user name of an HTTP Basic Authorization header, or None."""
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return None
    return decoded.partition(":")[0]


def limit_logins(wsgi: Callable, attempts: Attempts) -> Callable:
    """Refuse CalDAV logins of a user name that failed too often from this address.

    Radicale's own delay (one second per failed login) slows a guesser down but never stops
    one; this counts Radicale's 401s in the same allowance as the pages' login form. The
    companion's own requests (INTERNAL) are counted by the companion itself.
    """

    def app(environ, start_response):
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        user = basic_user(authorization)
        if user is None or environ.get(INTERNAL):
            return wsgi(environ, start_response)
        address = environ.get("REMOTE_ADDR") or "-"

        def counting(status, headers, exc_info=None):
            code = status.split(" ", 1)[0]
            if code == "401":
                attempts.failed(user, address)
            elif code.startswith(("2", "3")):
                attempts.succeeded(user, address, authorization)
            return start_response(status, headers, exc_info)

        try:
            with attempts.turn(user, address, authorization):
                # Radicale has answered (and counted) when it returns its body.
                return wsgi(environ, counting)
        except Blocked:
            body = b"Too many failed logins for this user: wait a minute, then try again.\n"
            start_response("429 Too Many Requests", [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("Retry-After", str(int(attempts.window)))])
            return [body]

    return app


class InternalServer:
    """A second, loopback-only listener with its own threads for the companion's CalDAV calls.

    The companion answers a page by making CalDAV requests to Radicale. If those went to the
    public listener they would wait for a thread of the very pool that the page requests
    fill: with as many open pages as threads, every page waits on itself until the CalDAV
    timeout (seen in tests/test_concurrency.py). Here they never queue behind page requests.
    """

    def __init__(self, threads: int = 16) -> None:
        import waitress

        self.app: Callable | None = None
        self._server = waitress.create_server(self._dispatch, host="127.0.0.1", port=0,
                                              threads=threads, ident="followup-internal")
        self.url = f"http://127.0.0.1:{self._server.effective_port}"

    def _dispatch(self, environ, start_response):
        if self.app is None:
            start_response("503 Service Unavailable", [("Content-Length", "0")])
            return [b""]
        environ[INTERNAL] = True
        return self.app(environ, start_response)

    def start(self, app: Callable) -> InternalServer:
        import threading

        self.app = app
        threading.Thread(target=self._run, name="followup-internal", daemon=True).start()
        return self

    def _run(self) -> None:
        try:
            self._server.run()
        except OSError:  # the socket closed under select() ("Bad file descriptor"): a close
            if not self._closing:
                raise

    _closing = False

    def close(self) -> None:
        # Workers first: closing the trigger under a running task makes waitress print an
        # OSError traceback ("Bad file descriptor").
        self._closing = True
        self._server.task_dispatcher.shutdown()
        self._server.close()


# What the companion's pages send (web/__init__.py), for Radicale's answers too: they are
# XML and iCalendar, never pages to run or frame.
DAV_HEADERS = (("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
               ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
               ("Referrer-Policy", "no-referrer"))


def with_headers(wsgi: Callable, extra: Iterable[tuple[str, str]] = DAV_HEADERS) -> Callable:
    """`wsgi` with the `extra` headers added to every answer that lacks them."""
    extra = tuple(extra)

    def app(environ, start_response):
        def adding(status, headers, exc_info=None):
            present = {name.lower() for name, _ in headers}
            headers = list(headers) + [(n, v) for n, v in extra if n.lower() not in present]
            return start_response(status, headers, exc_info)

        return wsgi(environ, adding)

    return app


def dispatcher(radicale_wsgi: Callable, companion_wsgi: Callable) -> Callable:
    """One WSGI app: Radicale under /dav/, the companion everywhere else."""
    radicale_wsgi = with_headers(radicale_wsgi)

    def app(environ, start_response):
        path = environ.get("PATH_INFO", "") or "/"
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if path.startswith("/.well-known/cal") or path.startswith("/.well-known/card"):
            start_response("301 Moved Permanently",
                           [("Location", environ.get("SCRIPT_NAME", "") + DAV_PREFIX + "/"),
                            ("Content-Length", "0"), *DAV_HEADERS])
            return [b""]
        if path == DAV_PREFIX or path.startswith(DAV_PREFIX + "/") or (
                path == "/" and method not in COMPANION_METHODS):
            environ = dict(environ)
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + DAV_PREFIX
            environ["PATH_INFO"] = utf8_path(path[len(DAV_PREFIX):] if path != "/" else "/")
            return radicale_wsgi(environ, start_response)
        return companion_wsgi(environ, start_response)

    return app


def utf8_path(path_info: str) -> str:
    """PATH_INFO as Radicale's own server hands it over: UTF-8, not WSGI's Latin-1.

    A WSGI server gives the decoded path's bytes as Latin-1 characters, so a client's
    ``été.ics`` would be stored as ``Ã©tÃ©.ics`` and listed under another href than the one
    it was PUT to. Radicale's built-in server decodes the path as UTF-8; so do we."""
    try:
        return path_info.encode("latin-1").decode("utf-8", "replace")
    except UnicodeEncodeError:  # already text beyond Latin-1: a server that decoded it
        return path_info


def redact(text: str) -> str:
    """Text fit for a log: page tokens are capabilities and never logged."""
    return TOKEN_IN_TEXT.sub("/a/…", text)


def install_log_redaction() -> None:
    """Hide page tokens in every log record of the process, whoever writes it.

    Our request log is not the only one that sees a token: Flask logs "Exception on
    /a/<token>", waitress "Exception while serving /a/<token>", and the caldav library and
    Radicale log whole items (with their page link) at debug level. A record factory sees
    every record before any handler does, so no handler set up later can miss it.
    """
    previous = logging.getLogRecordFactory()
    if getattr(previous, "followup_redacts", False):
        return

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to logging's own error path
            return record
        if "/" in message:  # "/a/" may be folded: the pattern decides
            redacted = redact(message)
            if redacted != message:
                record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record

    factory.followup_redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def request_log(wsgi: Callable) -> Callable:
    """Log one line per request: method, path (tokens hidden), status, milliseconds."""

    def app(environ, start_response):
        started = time.monotonic()
        status_holder = {}

        def recording_start(status, headers, exc_info=None):
            status_holder["status"] = status.split(" ", 1)[0]
            return start_response(status, headers, exc_info)

        try:
            return wsgi(environ, recording_start)
        finally:
            log.info("%s %s %s %.0fms", environ.get("REQUEST_METHOD"),
                     redact(environ.get("PATH_INFO", "")), status_holder.get("status", "-"),
                     (time.monotonic() - started) * 1000)

    return app
