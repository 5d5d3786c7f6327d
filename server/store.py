"""Actions over CalDAV: direct GET by path, conditional writes only.

Every write is conditional: a create sends ``If-None-Match: *``, an update or delete sends
``If-Match: <etag>``. Close-and-create is written so that a retry, a double click or a crash
between its two writes never makes a second successor (see docs/FORMAT.md, "Order of writes").
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import posixpath
import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote, unquote, urljoin, urlsplit
from xml.etree import ElementTree

import caldav
import icalendar

from server import model
from server.tokens import PageTokens

ATTEMPTS = 5
# After a 412, wait a random moment of up to this many seconds, doubled at each attempt, before
# reading again: a client saving in a burst (GET, PUT, GET, PUT) and a retry that re-reads at
# once collide in lockstep, and the retry would lose every round.
BACKOFF = 0.02


class StoreError(RuntimeError):
    """The CalDAV server could not be used; the message says what to check."""


class NotFound(StoreError):
    pass


class Conflict(StoreError):
    """Someone else changed the item first and re-applying did not settle it."""


class AlreadyClosed(StoreError):
    """A close with an outcome note found the action closed with another note (two tabs, a
    stale page): the first close wins, nothing is written."""

    def __init__(self, path: str, outcome: str) -> None:
        super().__init__(f"{path} was already closed with another outcome")
        self.outcome = outcome


@dataclass
class Closing:
    """What close_and_create did: the closed action and its next one. `done_before`: that
    next one was there already, made by someone else (a tick in a calendar app, another tab,
    an earlier click), so this call created nothing. It unpacks as (closed, successor)."""

    closed: Stored
    successor: Stored
    done_before: bool = False

    def __iter__(self) -> Iterator[Stored]:
        return iter((self.closed, self.successor))


@dataclass
class Stored:
    """One calendar object as the server holds it."""

    path: str  # absolute URL path on the CalDAV server, e.g. /dav/alice/actions/x.ics
    etag: str | None
    cal: icalendar.Calendar

    @property
    def action(self) -> model.Action:
        return model.read(self.cal)

    @property
    def href(self) -> str:
        """The file name inside its calendar."""
        return posixpath.basename(self.path)

    @property
    def calendar_path(self) -> str:
        return posixpath.dirname(self.path) + "/"


# One strong entity-tag (RFC 7232 section 2.3): "..." with no quote, space or control
# character inside (printable ASCII; obs-text is refused too, no server of ours makes it).
STRONG_ETAG = re.compile(r'"[\x21\x23-\x7e]*"')


def shown_etag(text: str | None) -> str | None:
    """The ETag a page showed, as a form sends it back, if it is one strong entity-tag; None
    otherwise. Sent as If-Match, "*" matches any version, a list any of its tags, and CR/LF
    would end the header: a hand-edited form must not turn "only if unchanged since the page
    was shown" into "whatever it is now". None reads as "changed since"."""
    return text if text and STRONG_ETAG.fullmatch(text) else None


class Store:
    """A CalDAV account seen as a set of actions."""

    def __init__(self, url: str, username: str | None, password: str | None,
                 tokens: PageTokens | None = None, base_url: str | None = None,
                 timeout: int = 30) -> None:
        if not url.lower().startswith(("http://", "https://")):
            raise StoreError(f"{url!r} is not a server address: write it with http:// or "
                             "https:// in front, e.g. http://127.0.0.1:5232")
        self.url = url if url.endswith("/") else url + "/"
        self.tokens = tokens
        self.base_url = base_url
        # auth_type given: otherwise the first request goes out without credentials, and
        # Radicale answers that 401 after its anti-guessing delay (0.5-1.5 s per page view).
        self.client = caldav.DAVClient(url=self.url, username=username, password=password,
                                       timeout=timeout, require_tls=False,
                                       auth_type="basic" if username else None)

    def disconnect(self) -> None:
        """Close the connections: a server counts open ones and stops accepting at its limit."""
        self.client.close()

    # -- plumbing ------------------------------------------------------------------------------

    def url_of(self, path: str) -> str:
        """The URL of a path as followup keeps paths: decoded, the server's own name for the
        item (what a listing, a page token or the plugin gives). It is encoded here, once:
        sent as it is, a name holding ``%2F`` would be decoded a second time by the server
        and lead into another user's calendar; ``#``, ``?`` or ``é`` would name another
        item or the calendar itself."""
        return urljoin(self.url, quote(checked_path(path), safe="/@"))

    def _request(self, method: str, path: str, body: str = "",
                 headers: dict[str, str] | None = None):
        try:
            response = self.client.request(self.url_of(path), method, body, headers or {})
        except caldav.lib.error.AuthorizationError as exc:
            if "forbidden" in str(getattr(exc, "reason", "")).lower():
                # 403: this account may not touch it; for a page, the same as not there.
                raise NotFound(f"{path} is not this account's") from exc
            raise self._explain(exc, f"{method} {path}") from exc
        except Exception as exc:
            raise self._explain(exc, f"{method} {path}") from exc
        if response.status == 401:
            raise StoreError("the CalDAV server refused the user name or password")
        return response

    def _explain(self, exc: Exception, doing: str) -> StoreError:
        """One sentence a person can act on, for a failure of the HTTP layer."""
        if isinstance(exc, caldav.lib.error.AuthorizationError):
            return StoreError("the CalDAV server refused the user name or password")
        names = {type(e).__name__ for e in _chain(exc)}
        if names & {"ConnectionError", "ConnectTimeout", "Timeout", "ReadTimeout",
                    "ConnectionRefusedError", "NewConnectionError", "MaxRetryError"}:
            return StoreError(f"cannot reach the CalDAV server at {self.url}: is it running?")
        status = getattr(exc, "status", None)
        if isinstance(exc, caldav.lib.error.DAVError) and status:
            # caldav's message carries the whole answer (an HTML page, for a URL that is
            # not a CalDAV server's): the status says it, in one line.
            hint = (": is it the address of a CalDAV server (followup's ends in /dav/)?"
                    if 400 <= status < 500 else "")
            return StoreError(f"{doing} failed: {self.url} answered {status}{hint}")
        return StoreError(f"{doing} failed: {one_line(str(exc))}")

    def page_url(self, path: str) -> str | None:
        if self.tokens is None or self.base_url is None:
            return None
        return self.tokens.page_url(self.base_url, path)

    # -- reading -------------------------------------------------------------------------------

    def get(self, path: str) -> Stored:
        if path.endswith("/"):
            raise NotFound(f"{path} is a collection, not one item")
        response = self._request("GET", path)
        if response.status in (400, 403, 404):
            # 400: a path the server cannot even hold; 403: not one this account may read,
            # which, for a page or a listing, is the same as not there.
            raise NotFound(f"no item at {path}")
        if response.status != 200:
            raise StoreError(f"GET {path} answered {response.status}")
        if "attachment" in (response.headers.get("Content-Disposition") or "").lower():
            # Radicale answers a GET on a calendar with all of it, as a file to save.
            raise NotFound(f"{path} is a calendar, not one item")
        cal = model.parse(response._raw)
        uids = {str(c.get("UID")) for c in cal.subcomponents if c.name in ("VTODO", "VEVENT")}
        if len(uids) > 1:
            # A GET on a whole calendar answers all its items: that is not one action.
            raise NotFound(f"{path} is not one item")
        return Stored(path, response.headers.get("ETag"), cal)

    def find(self, path: str) -> Stored | None:
        try:
            return self.get(path)
        except NotFound:
            return None

    def calendars(self) -> list[caldav.Calendar]:
        """The user's calendars that can hold tasks or events."""
        try:
            return self.client.principal().calendars()
        except Exception as exc:
            raise self._explain(exc, "listing calendars") from exc

    def actions_calendar(self, name: str | None = None) -> str:
        """The path of the calendar for actions: the one called `name`, else "actions",
        else the first that takes tasks."""
        calendars = self.calendars()
        if not calendars:
            raise StoreError("this account has no calendar: start followup serve once, "
                             "or create one in your calendar client")
        wanted = name or "actions"
        for calendar in calendars:
            path = unquote(urlsplit(str(calendar.url)).path)
            if path.rstrip("/").rsplit("/", 1)[-1] == wanted or (
                    calendar.get_display_name() == wanted):
                return path
        if name:
            raise StoreError(f"no calendar called {name!r} in this account")
        return unquote(urlsplit(str(calendars[0].url)).path)

    def collection_tag(self, calendar_path: str) -> str | None:
        """A tag that changes whenever anything in the calendar changes (its CTag, sync-token
        or ETag), read with one cheap PROPFIND; None if the server offers none."""
        body = ('<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:" '
                'xmlns:cs="http://calendarserver.org/ns/"><d:prop><cs:getctag/>'
                '<d:sync-token/><d:getetag/></d:prop></d:propfind>')
        response = self._request("PROPFIND", calendar_path, body,
                                 {"Depth": "0", "Content-Type": "application/xml"})
        if response.status != 207 or not response._raw:
            return None
        try:
            tree = ElementTree.fromstring(response._raw)
        except ElementTree.ParseError:
            return None
        for name in ("{http://calendarserver.org/ns/}getctag", "{DAV:}sync-token",
                     "{DAV:}getetag"):
            found = tree.find(f".//{name}")
            if found is not None and (found.text or "").strip():
                return f"{name}={found.text.strip()}"
        return None

    def etags(self, calendar_path: str) -> dict[str, str]:
        """Every item's path and ETag, without their contents (one PROPFIND, Depth: 1)."""
        body = ('<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:">'
                '<d:prop><d:getetag/></d:prop></d:propfind>')
        response = self._request("PROPFIND", calendar_path, body,
                                 {"Depth": "1", "Content-Type": "application/xml"})
        if response.status != 207:
            raise StoreError(f"listing {calendar_path} answered {response.status}")
        found = {}
        for answer in ElementTree.fromstring(response._raw).iter("{DAV:}response"):
            href = answer.findtext("{DAV:}href") or ""
            etag = answer.findtext(".//{DAV:}getetag") or ""
            path = unquote(urlsplit(href).path)
            if etag and path.rstrip("/") != calendar_path.rstrip("/"):
                found[path] = etag.strip()
        return found

    def list(self, calendar_path: str) -> Iterator[Stored]:
        """Every action in the calendar (tasks and events, open and closed)."""
        calendar = caldav.Calendar(client=self.client, url=self.url_of(calendar_path))
        try:
            found = (calendar.search(todo=True, include_completed=True)
                     + calendar.search(event=True))
        except Exception as exc:
            raise self._explain(exc, f"listing {calendar_path}") from exc
        for obj in found:
            try:
                cal = model.parse(obj.data)
            except model.ActionError:
                continue
            yield Stored(unquote(urlsplit(str(obj.url)).path), obj.etag, cal)

    # -- writing -------------------------------------------------------------------------------

    def _put(self, path: str, cal: icalendar.Calendar, headers: dict[str, str]) -> str | None:
        body = model.to_text(cal)
        headers = {"Content-Type": "text/calendar; charset=utf-8", **headers}
        response = self._request("PUT", path, body, headers)
        if response.status == 412:
            raise Conflict(f"{path} changed on the server")
        if response.status not in (200, 201, 204):
            reason = one_line(response._raw.decode("utf-8", "replace")) if response._raw else ""
            raise StoreError(f"the server refused the item at {path} ({response.status}) "
                             f"{reason}".strip())
        return response.headers.get("ETag")

    def create(self, path: str, cal: icalendar.Calendar) -> Stored:
        """Create the item; Conflict if something is already there."""
        cal = self._stamped(path, cal)
        etag = self._put(path, cal, {"If-None-Match": "*"})
        return self._after_write(path, cal, etag)

    def update(self, stored: Stored, cal: icalendar.Calendar) -> Stored:
        """Replace the item if it is still the version we read; Conflict otherwise."""
        if not stored.etag:
            raise Conflict(f"{stored.path} has no ETag to write against")
        cal = self._stamped(stored.path, cal)
        if model.to_text(cal) == model.to_text(stored.cal):
            return stored
        etag = self._put(stored.path, cal, {"If-Match": stored.etag})
        return self._after_write(stored.path, cal, etag)

    def delete(self, stored: Stored) -> None:
        """Delete the version of the item that was read, and no other: without its ETag
        (a server that gave none) nothing is sent, since the item may have changed."""
        if not stored.etag:
            raise Conflict(f"{stored.path} has no ETag: not deleted, it may have changed")
        response = self._request("DELETE", stored.path, "", {"If-Match": stored.etag})
        if response.status == 412:
            raise Conflict(f"{stored.path} changed on the server")
        if response.status not in (200, 204, 404):
            raise StoreError(f"DELETE {stored.path} answered {response.status}")

    def _stamped(self, path: str, cal: icalendar.Calendar) -> icalendar.Calendar:
        url = self.page_url(path)
        return model.stamp(cal, url) if url else model.repair(cal)

    def _after_write(self, path: str, cal: icalendar.Calendar, etag: str | None) -> Stored:
        # The ETag names what the server stored, which may differ from `cal` by what a
        # server-side plugin adds (the page link); readers that need those bytes GET them.
        if etag:
            return Stored(path, etag, cal)
        return self.get(path)

    def modify(self, path: str,
               change: Callable[[icalendar.Calendar], icalendar.Calendar]) -> Stored:
        """Read, change, write against the ETag; on 412 read again and re-apply the change."""
        for attempt in range(ATTEMPTS):
            stored = self.get(path)
            try:
                # A copy: a change made in place would otherwise look like "nothing to write".
                return self.update(stored, change(copy.deepcopy(stored.cal)))
            except Conflict:
                _back_off(attempt)
        raise Conflict(f"{path} keeps changing on the server: try again in a moment")

    def rewrite(self, path: str) -> tuple[Stored, bool]:
        """Write the item again as every write of ours is (stamped with its current page link,
        repaired), only if that changes it; returns what is stored and whether it was written."""
        for attempt in range(ATTEMPTS):
            stored = self.get(path)
            try:
                written = self.update(stored, copy.deepcopy(stored.cal))
            except Conflict:
                _back_off(attempt)
                continue
            return written, written is not stored  # update() hands back `stored` unwritten
        raise Conflict(f"{path} keeps changing on the server: try again in a moment")

    # -- actions -------------------------------------------------------------------------------

    def new_action(self, calendar_path: str, cal: icalendar.Calendar) -> Stored:
        uid = model.read(cal).uid
        return self.create(item_path(calendar_path, uid), cal)

    def close(self, path: str, outcome: str = "", now: dt.datetime | None = None) -> Stored:
        """Close the action with its outcome note. Closing a closed action again changes
        nothing, except that a note it lacks is added (someone ticked it in a calendar app
        while the page was open); AlreadyClosed if it has another note."""
        outcome = model.clean_text(outcome).strip()

        def change(cal: icalendar.Calendar) -> icalendar.Calendar:
            action = model.read(cal)
            if action.closed and outcome and action.outcome not in ("", outcome):
                raise AlreadyClosed(path, action.outcome)
            return model.add_outcome(model.close(cal, now, outcome), outcome, now)

        return self.modify(path, change)

    def close_and_create(self, path: str, summary: str, when: model.Moment | None,
                         kind: str | None = None, generation: int | None = None,
                         outcome: str = "", now: dt.datetime | None = None) -> Closing:
        """Close the action at `path` and create its successor; safe to repeat.

        Order of writes: (1) create the successor at a path derived from the predecessor's UID
        and `generation` (If-None-Match: *), (2) close the predecessor pointing at it
        (If-Match). A retry after (1) finds the successor already there and only does (2);
        a predecessor that already points at a successor (one that points back) is answered
        with that one (`done_before`), and the outcome is added to it if it has none.
        """
        stored = self.get(path)
        action = stored.action
        if action.next:
            # Only a successor that points back counts: a NEXT copied into another item by a
            # calendar app's "duplicate" names an action of someone else's chain.
            existing = self.successor(stored)
            if existing is not None:
                # The job was done before (a tick in a calendar app, another tab, a double
                # click). If someone reopened the action since, close it again; the
                # successor stays the one it names.
                return Closing(self._closed_with(path, outcome, now), existing, True)
        successor = model.successor(stored.cal, summary, when, kind, stored.href,
                                    generation, now)
        next_uid = model.read(successor).uid
        next_path = item_path(stored.calendar_path, next_uid)
        try:
            created = self.create(next_path, successor)
        except Conflict:
            created = self.get(next_path)  # a previous attempt made it: finish that job
        for attempt in range(ATTEMPTS):
            try:
                current = self.get(path)
            except NotFound:
                # Deleted in a calendar app meanwhile: nothing to follow, so no successor
                # either (unless someone already changed it: then it is theirs).
                self._delete_if_unchanged(created)
                raise
            if current.action.next and current.action.next != next_uid:
                # Someone else closed it with another successor first: ours is an orphan.
                other = self.successor(current)
                if other is not None:
                    self._delete_quietly(created)
                    return Closing(self._closed_with(path, outcome, now), other, True)
            try:
                # Closed meanwhile by someone else: their note stays, a missing one is added.
                closed = self.update(current, model.add_outcome(model.close_and_link(
                    current.cal, next_uid, posixpath.basename(next_path), now, outcome),
                    outcome, now))
                return Closing(closed, created)
            except Conflict:
                _back_off(attempt)
        raise Conflict(f"{path} keeps changing on the server: try again in a moment")

    def _closed_with(self, path: str, outcome: str, now: dt.datetime | None) -> Stored:
        """The action closed, with `outcome` if it has no note yet; its own note stays."""
        try:
            return self.close(path, outcome, now)
        except AlreadyClosed:
            return self.get(path)

    def revise(self, shown: Stored, summary: str | None, when: model.Moment | None,
               kind: str | None) -> Stored:
        """Change the action to what was typed (model.revise), if it is still the version
        `shown` (If-Match on that ETag): a change made since in a calendar app is not
        overwritten by a page that never showed it. Conflict otherwise."""
        current = self.get(shown.path)
        revised = model.revise(current.cal, summary, when, kind)
        return self.update(Stored(shown.path, shown.etag, current.cal), revised)

    def create_beside(self, stored: Stored, summary: str, when: model.Moment | None,
                      kind: str | None, generation: int) -> Stored:
        """A new action with the links of `stored`, not chained to it (not its successor:
        one close never makes two). Its UID is derived from `stored`'s and `generation`, so a
        double click finds the first one instead of making a second."""
        uid = model.beside_uid(stored.action.uid, generation)
        cal = model.new(summary, kind or stored.action.kind, when,
                        stored.action.links.values(), uid=uid)
        path = item_path(stored.calendar_path, uid)
        try:
            return self.create(path, cal)
        except Conflict:
            return self.get(path)

    def _chained(self, stored: Stored, uid: str | None, href: str | None) -> Stored | None:
        """The item `uid` of the chain, looked up in the same calendar only.

        The href is a hint a client wrote: it must be a plain file name. Otherwise a crafted
        ``X-HREF="../../bob/actions/x.ics"`` would make the companion (which reads every
        calendar) fetch someone else's item and hand out its page link. The UID decides.
        """
        if not uid:
            return None
        names = [href] if href and _plain_name(href) else []
        names.append(posixpath.basename(item_path(stored.calendar_path, uid)))
        for name in dict.fromkeys(names):
            found = self.find(posixpath.join(stored.calendar_path, name))
            if found is not None and found.action.uid == uid:
                return found
        return None

    def _delete_if_unchanged(self, stored: Stored) -> None:
        try:
            self.delete(stored)
        except StoreError:
            pass

    def _delete_quietly(self, stored: Stored) -> None:
        try:
            self.delete(self.get(stored.path))
        except StoreError:
            pass  # a leftover successor is found and linked by `followup repair`

    def successor(self, stored: Stored) -> Stored | None:
        """The action that follows `stored`: the item its NEXT names, if that item's PREVIOUS
        names `stored` back. A NEXT without the back pointer is stale (an item copied in a
        calendar app keeps the original's NEXT): `stored` then has no next action."""
        found = self._chained(stored, stored.action.next, model.chain_href(stored.cal, "next"))
        if found is None or found.action.previous != stored.action.uid:
            return None
        return found

    def predecessor(self, stored: Stored) -> Stored | None:
        """The action `stored` follows: the item its PREVIOUS names, unless that item names
        another successor (then `stored` is a copy of that successor, not a step of the
        chain). A predecessor with no NEXT counts: the next-step rule and a close-and-create
        that stopped half way leave only the back pointer."""
        found = self._chained(stored, stored.action.previous,
                              model.chain_href(stored.cal, "previous"))
        if found is None or found.action.next not in (None, stored.action.uid):
            return None
        return found

    def neighbour(self, stored: Stored, which: str) -> Stored | None:
        """The previous or next action in the chain ("previous" or "next"), if consistent."""
        return self.predecessor(stored) if which == "previous" else self.successor(stored)


def one_line(text: str, limit: int = 200) -> str:
    """A server's text for a message of one line: whitespace runs (newlines too) become one
    space, and a long text is cut (an error page's HTML would fill the screen)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _back_off(attempt: int) -> None:
    """A random pause after the `attempt`-th conflict (0 first), none after the last one."""
    if attempt < ATTEMPTS - 1:
        time.sleep(random.uniform(0, BACKOFF * 2 ** attempt))


def checked_path(path: str) -> str:
    """`path` if it names a place plainly: no `.` or `..` segment, no control character.

    Such a path may come from a page token or a client's file name; NotFound otherwise."""
    segments = path.split("/")
    if any(s in (".", "..") for s in segments) or any(ord(c) < 32 or c == "\x7f"
                                                     for c in path):
        raise NotFound(f"{path!r} is not a plain path")
    return path


def _plain_name(href: str) -> bool:
    """A file name inside one calendar: no way up, across, or into another collection."""
    lowered = href.lower()
    return (0 < len(href) <= 255 and not href.startswith(".")
            and not any(bad in lowered for bad in ("/", "\\", "%2f", "%5c", "%2e")))


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    """The exception and every exception it was raised from or during."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def item_path(calendar_path: str, uid: str) -> str:
    """Where followup puts a new item: its UID as the file name, made safe for a URL."""
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "-_.@") else "_" for c in uid)
    if safe.startswith("."):  # Radicale refuses such names (".hidden", "../x")
        safe = "_" + safe[1:]
    if safe != uid or len(safe) > 120:
        # Two UIDs that clean up alike (x/1 and x_1) must not share a file.
        safe = f"{safe[:80]}-{hashlib.sha256(uid.encode()).hexdigest()[:12]}"
    return posixpath.join(calendar_path if calendar_path.endswith("/") else calendar_path + "/",
                          f"{safe}.ics")
