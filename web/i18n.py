"""French and English: the language comes from a cookie the user sets, else from the
browser's Accept-Language; dates and times are written the way that language writes them."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

from babel import dates
from flask import Blueprint, Flask, current_app, redirect, request
from flask.typing import ResponseReturnValue
from flask_babel import Babel, get_locale
from flask_babel import gettext as _

from server.model import in_zone
from web.calendar import zone

LANGUAGES = {"en": "English", "fr": "Français"}
COOKIE = "lang"
COOKIE_AGE = 365 * 24 * 3600

bp = Blueprint("i18n", __name__)
babel = Babel()


def select_locale() -> str:
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(list(LANGUAGES)) or "en"


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale,
                   timezone_selector=lambda: current_app.config["TIMEZONE"])
    app.add_template_filter(moment, "moment")
    app.add_template_filter(day, "day")
    app.add_template_filter(weekday, "weekday")
    app.add_template_filter(time_of, "time_of")
    app.context_processor(lambda: {"lang": str(get_locale() or "en"), "languages": LANGUAGES})


def safe_target(target: str | None, default: str = "/") -> str:
    """A local path to go back to; anything else (another site, //host) gives `default`."""
    if not target or any(ord(c) < 0x21 or c == "\\" for c in target):
        return default  # browsers drop tabs and newlines: "/\t/evil" would become "//evil"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


@bp.get("/lang/<code>")
def switch(code: str) -> ResponseReturnValue:
    """Remember the chosen language in a cookie and go back to the page the user was on."""
    response = redirect(safe_target(request.args.get("next")), code=303)
    if code in LANGUAGES:
        response.set_cookie(COOKIE, code, max_age=COOKIE_AGE, samesite="Lax",
                            secure=current_app.config.get("SESSION_COOKIE_SECURE", False))
    return response


def _locale() -> str:
    return str(get_locale() or "en")


def _local(value: dt.datetime) -> dt.datetime:
    """An aware time in the user's zone; a floating time (or one the zone cannot show, at
    the calendar's very end) stays as written."""
    return in_zone(value, zone())


def day(value: dt.date | dt.datetime) -> str:
    """'Thu, Dec 3, 2026' / 'jeu. 3 déc. 2026'."""
    if isinstance(value, dt.datetime):
        value = _local(value).date()
    return dates.format_skeleton("yMMMEd", value, locale=_locale())


def weekday(value: dt.date) -> str:
    """'Thu, Dec 3' / 'jeu. 3 déc.': a day of a week already named with its year."""
    return dates.format_skeleton("MMMEd", value, locale=_locale())


def time_of(value: dt.datetime) -> str:
    """'2:05 PM' / '14:05'."""
    return dates.format_time(_local(value).time(), "short", locale=_locale())


def moment(value: dt.date | dt.datetime | None) -> str:
    """A date, or a date and time, for people in their language and zone."""
    if value is None:
        return _("no date")
    if isinstance(value, dt.datetime):
        return f"{day(value)} {time_of(value)}"
    return day(value)
