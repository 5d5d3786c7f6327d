"""The followup companion: the page behind every action's link.

Flask application factory, as in the Flask tutorial. It talks to the calendar only through
``server.store`` (CalDAV), so it works against any CalDAV server.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()

DEFAULTS: dict[str, Any] = {
    "CALDAV_URL": "http://127.0.0.1:5232/dav/",
    "CALDAV_USER": None,
    "CALDAV_PASSWORD": None,
    "BASE_URL": "http://127.0.0.1:5232",
    "TIMEZONE": None,
    "WTF_CSRF_TIME_LIMIT": None,  # a page left open on a phone all day must still work
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
}


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the companion. Settings come from `test_config`, else FOLLOWUP_* variables."""
    app = Flask(__name__)
    app.config.update(DEFAULTS)
    if test_config is None:
        app.config.from_prefixed_env("FOLLOWUP")
    else:
        app.config.update(test_config)
    given = test_config if test_config is not None else {
        k.removeprefix("FOLLOWUP_") for k in os.environ if k.startswith("FOLLOWUP_")}
    if "SESSION_COOKIE_SECURE" not in given:
        # Behind TLS (an https address in links) the session cookie never travels in clear.
        app.config["SESSION_COOKIE_SECURE"] = str(app.config["BASE_URL"]).startswith("https:")
    if not app.config.get("SECRET_KEY"):
        raise RuntimeError("the companion needs SECRET_KEY (followup serve makes one)")
    app.config["TIMEZONE"] = app.config["TIMEZONE"] or os.environ.get("TZ") or "UTC"
    csrf.init_app(app)

    from web import actions, home
    from web.calendar import close_store

    app.teardown_appcontext(close_store)

    app.register_blueprint(home.bp)
    app.register_blueprint(actions.bp)
    app.after_request(_security_headers)
    app.add_template_filter(_moment, "moment")
    return app


def _moment(value) -> str:
    """A date or time for people: 'Tue 8 Dec 2026' or 'Tue 8 Dec 2026 10:00'."""
    import datetime as dt

    if value is None:
        return "no date"
    if isinstance(value, dt.datetime):
        return value.strftime("%a %-d %b %Y %H:%M") + (f" {value.tzname()}" if value.tzinfo else "")
    return value.strftime("%a %-d %b %Y")


def _security_headers(response):
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response
