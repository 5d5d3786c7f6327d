"""The companion's door to CalDAV: one Store per request, and page links for items."""

from __future__ import annotations

from flask import current_app, g

from server.model import local_zone
from server.store import Store
from server.tokens import PageTokens


def tokens() -> PageTokens:
    return PageTokens(current_app.config["SECRET_KEY"])


def store() -> Store:
    if "store" not in g:
        cfg = current_app.config
        g.store = Store(cfg["CALDAV_URL"], cfg["CALDAV_USER"], cfg["CALDAV_PASSWORD"],
                        tokens=tokens(), base_url=cfg["BASE_URL"])
    return g.store


def close_store(_exc=None) -> None:
    """Per-request Store: close its connections, or each page leaves one open on the server."""
    held = g.pop("store", None)
    if held is not None:
        held.disconnect()


def zone():
    return local_zone(current_app.config["TIMEZONE"])
