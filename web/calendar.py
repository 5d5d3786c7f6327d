"""The companion's door to CalDAV: one Store per request, page links for items, and the
signed-in user's own calendars (never another user's)."""

from __future__ import annotations

import datetime as dt
import posixpath
import time
from collections import defaultdict
from dataclasses import dataclass
from threading import Lock
from urllib.parse import quote, unquote, urljoin, urlsplit

import caldav
from caldav.lib.error import NotFoundError
from flask import current_app, g, request

from server import model
from server.agenda import Item
from server.model import local_zone
from server.store import NotFound, Store, StoreError
from server.tokens import PageTokens


@dataclass(frozen=True)
class CachedItem(Item):
    """An item as listed, with the ETag it had when it was read."""

    etag: str | None = None


def tokens() -> PageTokens:
    return PageTokens(current_app.config["SECRET_KEY"])


def make_store(user: str | None, password: str | None) -> Store:
    cfg = current_app.config
    return Store(cfg["CALDAV_URL"], user, password, tokens=tokens(), base_url=cfg["BASE_URL"])


def store() -> Store:
    """The companion's own CalDAV account: it opens items that a page link names.

    Without one (another CalDAV server, no CALDAV_USER) the visitor's own account, asked
    for by HTTP Basic: a page link then opens only for someone who may read its item."""
    if "store" not in g:
        cfg = current_app.config
        if not cfg["CALDAV_USER"]:
            from web.auth import visitor_store  # auth builds on this module

            return visitor_store()
        g.store = make_store(cfg["CALDAV_USER"], cfg["CALDAV_PASSWORD"])
    return g.store


def close_store(_exc=None) -> None:
    """Per-request Stores: close their connections, or each page leaves one open."""
    for name in ("store", "user_store"):
        held = g.pop(name, None)
        if held is not None:
            held.disconnect()


def zone() -> dt.tzinfo:
    return local_zone(current_app.config["TIMEZONE"])


def home_path(user: str) -> str:
    """The path of the collection that holds `user`'s calendars, e.g. /dav/alice/ (decoded,
    as every path the store gives is)."""
    cfg = current_app.config
    relative = cfg["CALDAV_HOME"].format(user=quote(user, safe="@"))
    path = unquote(urlsplit(urljoin(cfg["CALDAV_URL"], relative)).path)
    return path if path.endswith("/") else path + "/"


def owns(user: str, path: str) -> bool:
    """Whether an item path lies in `user`'s own calendars."""
    normal = posixpath.normpath(path)
    return normal.startswith(home_path(user)) and ".." not in path.split("/")


def user_store() -> Store:
    """The store list pages read with: the user's own account under HTTP Basic auth, else the
    companion's account (which only ever reads below the user's home, see user_items)."""
    return g.get("user_store") or store()


def user_calendars(user: str) -> list[str]:
    """Paths of the user's calendars, found below their home collection."""
    account = user_store()
    home = home_path(user)
    try:
        found = caldav.CalendarSet(client=account.client, url=account.url_of(home))
        paths = [unquote(urlsplit(str(cal.url)).path) for cal in found.calendars()]
    except NotFoundError:
        return []  # no calendar yet: nothing to show
    except Exception as exc:
        raise StoreError(f"cannot list the calendars of {user}: {exc}") from exc
    return [path for path in paths if path.startswith(home) and path != home]


def user_items(user: str) -> list[Item]:
    """Every action (open and closed) in the user's calendars."""
    account = user_store()
    items = []
    for calendar in user_calendars(user):
        items += [item for item in _listing(account, calendar) if owns(user, item.path)]
    return items


def _listing(account: Store, calendar: str) -> list[Item]:
    """The calendar's actions, parsed again only where they changed.

    Reading and parsing a 2,000-item calendar costs seconds, and even asking Radicale for
    the calendar's tag (CTag) costs a third of a second at that size. So each calendar's
    items are kept with their ETags and:

    - for LISTING_TTL seconds after a check, and while no page of this companion has
      written, they are used as they are (a change made in a calendar app shows within
      those seconds; one made on these pages at once);
    - after that, one PROPFIND for the tag says whether anything changed, and if so the
      ETags say which few items to fetch again.

    The requests are made with the caller's own account, so they also check that the caller
    may read the calendar. Concurrent readers of a changed calendar wait for one refresh."""
    app = current_app
    cache = app.extensions.setdefault("followup_listings", {})
    locks = app.extensions.setdefault("followup_listing_locks", defaultdict(Lock))
    key = account.url + calendar
    held = cache.get(key)
    if held is not None and _fresh(held):
        return list(held.items.values())
    lock = locks[key]
    if not lock.acquire(blocking=False):
        if held is not None and held.writes == _writes():
            # Another request is checking right now and no page has written since the last
            # check: what we have is what theirs will most likely say, a moment ago.
            return list(held.items.values())
        lock.acquire()
    try:
        held = cache.get(key)
        if held is not None and _fresh(held):
            return list(held.items.values())  # checked while we waited
        writes = _writes()
        tag = account.collection_tag(calendar)
        if tag is not None and held is not None and held.tag == tag:
            cache[key] = Listing(tag, held.items, time.monotonic(), writes)
            return list(held.items.values())
        items = _refreshed(account, calendar, held.items if held is not None else {})
        if tag is not None:  # the tag was read first: a later write changes it
            cache[key] = Listing(tag, items, time.monotonic(), writes)
        return list(items.values())
    finally:
        lock.release()


@dataclass(frozen=True)
class Listing:
    tag: str
    items: dict
    checked_at: float
    writes: int  # the companion's write count when it was checked


def _fresh(listing: Listing) -> bool:
    ttl = float(current_app.config.get("LISTING_TTL", 2))
    return (time.monotonic() - listing.checked_at < ttl and listing.writes == _writes())


def _writes() -> int:
    return current_app.extensions.get("followup_writes", 0)


def count_write(response):
    """After every POST: lists read before it are checked again on their next use."""
    if request.method == "POST":
        ext = current_app.extensions
        ext["followup_writes"] = ext.get("followup_writes", 0) + 1
    return response


REFETCH_ONE_BY_ONE = 25  # more changed items than this: one REPORT for all is cheaper


def _refreshed(account: Store, calendar: str, known: dict) -> dict:
    """Items by path, each with the ETag it was parsed at; unchanged ones are reused."""
    etags = account.etags(calendar)
    changed = [path for path, etag in etags.items()
               if path not in known or known[path].etag != etag]
    if len(changed) > REFETCH_ONE_BY_ONE:
        return {s.path: CachedItem(s.path, s.action, etags.get(s.path, s.etag))
                for s in account.list(calendar)}
    items = {path: known[path] for path in etags if path in known and path not in changed}
    for path in changed:
        try:
            stored = account.get(path)
        except (NotFound, model.ActionError):
            continue  # deleted meanwhile, or not an action
        items[path] = CachedItem(path, stored.action, etags[path])
    return items


def page_url(path: str) -> str:
    """The link to an item's page, relative to this site (the same page the item carries)."""
    return "/a/" + tokens().make(path)
