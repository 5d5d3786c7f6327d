"""Logging in with one's CalDAV user name and password.

The password is checked by a real CalDAV request made as that user; then the session cookie
remembers the user name only (never the password). The same pages accept HTTP Basic auth,
checked the same way on each request, for scripts. Failed attempts are limited per user name
and address (LOGIN_ATTEMPTS in LOGIN_WINDOW seconds, kept in memory: server/attempts.py).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from server.attempts import Attempts, Blocked
from server.sessions import SessionEnds
from server.store import Store, StoreError, one_line
from web.calendar import make_store
from web.i18n import safe_target

bp = Blueprint("auth", __name__)


def init_app(app: Flask) -> None:
    # `followup serve` replaces this with the one its CalDAV side counts in too.
    app.extensions["followup_attempts"] = Attempts(int(app.config["LOGIN_ATTEMPTS"]),
                                                   float(app.config["LOGIN_WINDOW"]))
    sessions_file = app.config.get("SESSIONS_FILE")
    app.extensions["followup_session_ends"] = SessionEnds(
        Path(sessions_file) if sessions_file else None)
    app.context_processor(lambda: {"user": current_user()})


def _session_ends() -> SessionEnds:
    return current_app.extensions["followup_session_ends"]


def session_user() -> str | None:
    """The user of the session cookie, unless they logged out or got a new password since
    (a copy of an old cookie must not go on working)."""
    user = session.get("user")
    if user and not _session_ends().valid(user, float(session.get("since", 0))):
        session.clear()
        return None
    return user


def _attempts() -> Attempts:
    return current_app.extensions["followup_attempts"]


class TooManyAttempts(Exception):
    pass


def check(user: str, password: str) -> bool:
    """Whether the CalDAV server accepts these credentials (one real request as the user).

    TooManyAttempts if this user name from this address failed too often lately.
    """
    address = request.remote_addr or "-"
    attempts = _attempts()
    try:
        with attempts.turn(user, address, password):
            return _verify(attempts, user, password, address)
    except Blocked as exc:
        raise TooManyAttempts from exc


def _verify(attempts: Attempts, user: str, password: str, address: str) -> bool:
    if not user or not password or user == current_app.config.get("CALDAV_USER"):
        attempts.failed(user, address)
        return False
    account = make_store(user, password)
    try:
        account.client.principal()
    except Exception as exc:
        if type(exc).__name__ == "AuthorizationError":
            attempts.failed(user, address)
            return False
        raise StoreError(f"cannot reach the CalDAV server: {one_line(str(exc))}") from exc
    attempts.succeeded(user, address, password)
    g.user_store = account
    return True


def current_user() -> str | None:
    return g.get("user") or session_user()


def _basic_user() -> str | None | bool:
    """The user of a valid Basic Authorization header; False if one was sent but is wrong.

    TooManyAttempts if that user name failed too often from this address lately.
    """
    auth = request.authorization
    if auth is None:
        # A Basic header that cannot be read (bad base64) is a wrong login, not no login.
        sent = request.headers.get("Authorization", "")
        return False if sent[:6].lower() == "basic " else None
    if auth.type != "basic":
        return None
    user, password = auth.parameters.get("username") or "", auth.parameters.get("password") or ""
    return user if check(user, password) else False


def visitor() -> str | None:
    """Who looks at a page that anyone with its link may open (an action page): the user of
    the session or of a valid Basic header, None for anyone else. A wrong header is nobody
    here (the page needs no login); it counts as a failed attempt all the same."""
    try:
        basic = _basic_user()
    except TooManyAttempts:
        basic = None
    if basic:
        g.user = basic  # the page header shows who is signed in
    return basic or session_user()


def has_service_account() -> bool:
    """Whether the companion has a CalDAV account of its own (CALDAV_USER).

    Without one it can only read a calendar as the person looking at it, so it asks the
    browser for their password (HTTP Basic) instead of keeping a session: a session holds
    the user's name, never their password, and so could read nothing."""
    return bool(current_app.config.get("CALDAV_USER"))


def challenge(wrong: bool = False) -> ResponseReturnValue:
    """401 with a Basic challenge: the browser asks for the calendar password."""
    return (render_template("auth/denied.html", asked=not wrong), 401,
            {"WWW-Authenticate": 'Basic realm="followup", charset="UTF-8"'})


def visitor_store() -> Store:
    """Without a service account: the store of the visitor's own account, by HTTP Basic;
    a 401 challenge (or 429) for anyone who has not given a working password."""
    if g.get("user_store") is not None:
        return g.user_store
    try:
        basic = _basic_user()
    except TooManyAttempts:
        abort(make_response(render_template("auth/denied.html", blocked=True), 429))
    if not basic:
        abort(make_response(challenge(wrong=basic is False)))
    g.user = basic
    return g.user_store


def login_required(view: Callable) -> Callable:
    """Let the signed-in user (session or Basic auth) in; send others to the login form,
    or, with no service account, ask the browser for their password."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs) -> ResponseReturnValue:
        try:
            basic = _basic_user()
        except TooManyAttempts:
            return render_template("auth/denied.html", blocked=True), 429
        if basic is False:
            return challenge(wrong=True)
        g.user = basic or (session_user() if has_service_account() else None)
        if not g.user:
            if not has_service_account():
                return challenge()
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    target = safe_target(request.values.get("next"), url_for("overdue.show"))
    if not has_service_account():  # no sessions here: the browser's own password dialog
        return _login_by_browser(target)
    if request.method == "GET":
        if session_user():
            return redirect(target)
        return render_template("auth/login.html", next=target, username="")
    user = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    try:
        accepted = check(user, password)
    except TooManyAttempts:
        return render_template(
            "auth/login.html", next=target, username=user,
            error=_("Too many failed attempts. Wait a minute, then try again.")), 429
    if not accepted:
        return render_template(
            "auth/login.html", next=target, username=user,
            error=_("Wrong user name or password. Use the ones of your calendar account.")), 401
    session.clear()
    session["user"] = user
    session["since"] = time.time()
    return redirect(target, code=303)


def _login_by_browser(target: str) -> ResponseReturnValue:
    try:
        basic = _basic_user()
    except TooManyAttempts:
        return render_template("auth/denied.html", blocked=True), 429
    return redirect(target, code=303) if basic else challenge(wrong=basic is False)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """Log out here and on every other device: each session of this user made so far ends."""
    user = session_user()
    if user:
        _session_ends().end(user)
    session.clear()
    return redirect(url_for("auth.login"), code=303)
