"""The followup companion: the page behind every action's link, and the pages a sales
person uses every morning (overdue actions, the week, opportunities).

Flask application factory, as in the Flask tutorial. It talks to the calendar only through
``server.store`` (CalDAV), so it works against any CalDAV server.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, Response
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

csrf = CSRFProtect()

DEFAULTS: dict[str, Any] = {
    "CALDAV_URL": "http://127.0.0.1:5232/dav/",
    "CALDAV_USER": None,
    "CALDAV_PASSWORD": None,
    # Where a user's calendars are, relative to CALDAV_URL ({user} is the login name).
    # Radicale: "{user}/"; Nextcloud: "calendars/{user}/" with CALDAV_URL ending in /dav/.
    "CALDAV_HOME": "{user}/",
    "BASE_URL": "http://127.0.0.1:5232",
    "TIMEZONE": None,
    "WTF_CSRF_TIME_LIMIT": None,  # a page left open on a phone all day must still work
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    # Proxies in front that set X-Forwarded-For/-Proto (a TLS proxy: 1). 0 trusts no such
    # header: anyone could write one, e.g. to dodge the login limit with made-up addresses.
    "TRUSTED_PROXIES": 0,
    # Where logouts and password changes are recorded (server/sessions.py); None: memory.
    "SESSIONS_FILE": None,
    # Failed logins allowed per user name and address in LOGIN_WINDOW seconds.
    "LOGIN_ATTEMPTS": 5,
    "LOGIN_WINDOW": 60,
}


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the companion. Settings come from `test_config`, else FOLLOWUP_* variables."""
    app = Flask(__name__)
    # No redirect from /a//x to /a/x: Werkzeug builds that Location from the Host header,
    # which a request may set to any site.
    app.url_map.merge_slashes = False
    app.config.update(DEFAULTS)
    # Seconds a calendar listing is used without asking the server (docs/PERFORMANCE.md).
    app.config["LISTING_TTL"] = float(os.environ.get("FOLLOWUP_LISTING_TTL", 2))
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

    from web import actions, auth, home, i18n, overdue, records, text, week
    from web.calendar import close_store, count_write

    app.teardown_appcontext(close_store)
    app.after_request(count_write)

    i18n.init_app(app)
    text.init_app(app)
    auth.init_app(app)
    for module in (home, auth, i18n, actions, overdue, week, records):
        app.register_blueprint(module.bp)
    app.after_request(_security_headers)
    app.register_error_handler(404, _not_found)
    app.register_error_handler(CSRFError, _form_expired)
    proxies = int(app.config["TRUSTED_PROXIES"])
    if proxies:  # behind a proxy every request comes from it: take the client's address
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    return app


def _not_found(_exc: Exception) -> tuple[str, int]:
    from flask import render_template, request, url_for
    from flask_babel import gettext as _

    if not request.path.startswith("/a/"):
        # A list address typed or kept wrong (/records/foo): nothing to do with page links.
        return render_template("error.html", message=_("There is no such page."), links=[
            (url_for("overdue.show"), _("Overdue actions")),
            (url_for("week.show"), _("Week planner"))]), 404
    # lang_next: the page is the same whatever was asked for (a bad page link included).
    # So it names every reason a link fails and never says which one it was: that would
    # tell a guesser whether a token once named an item.
    return render_template("error.html", lang_next="/", message=_(
        "There is nothing here. A link from your calendar stops working when it was copied "
        "incompletely, when its action was deleted, or when the links were renewed (the "
        "action in your calendar app then carries its new link). Start again from the "
        "overdue actions.")), 404


def _form_expired(_exc: Exception) -> tuple[str, int]:
    from flask import render_template
    from flask_babel import gettext as _

    return render_template("error.html", message=_(
        "This form could not be accepted (it was too old, or sent from elsewhere). Go back, "
        "reload the page and send it again.")), 400


def _security_headers(response: Response) -> Response:
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response
