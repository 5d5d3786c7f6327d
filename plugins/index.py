"""A per-calendar index of UIDs, open state and links, so no request parses every item.

Stock Radicale answers "is this UID taken?" by loading every item of the calendar under the
write lock (O(n) per new item). This index answers it, and "is an action linked to this
record still open?", with one SQLite lookup.

Where: ``<calendar>/.Radicale.cache/followup-index.sqlite``. Radicale skips ``.Radicale*``
names, and a file below the cache folder does not change the calendar folder's mtime, which
is what tells whether the index is current: after each write of ours the index records the
folder's (mtime_ns, size); if the folder differs when the index is next used, something
else wrote there (another tool, a restored backup) and the index is rebuilt from Radicale's
item cache. Every use happens under Radicale's storage lock (exclusive for writes), which
also covers a second Radicale process. Losing the file is harmless: it is rebuilt.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field

from server import ical, model

FILE = "followup-index.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS items (href TEXT PRIMARY KEY, uid TEXT, open INTEGER);
CREATE INDEX IF NOT EXISTS items_uid ON items (uid);
CREATE TABLE IF NOT EXISTS links (href TEXT, kind TEXT, uri TEXT);
CREATE INDEX IF NOT EXISTS links_uri ON links (uri);
CREATE INDEX IF NOT EXISTS links_href ON links (href);
"""
LINK_NAMES = {prop: kind for kind, prop in model.LINK_PROPS.items()}
_UNFOLD = re.compile(r"\r?\n[ \t]")


@dataclass
class Entry:
    """What the index keeps of one item."""

    uid: str
    open: bool = False
    links: dict[str, str] = field(default_factory=dict)


def _split(line: str) -> tuple[str, str]:
    """(NAME, value) of a content line; the colon inside a quoted parameter is skipped."""
    quoted = False
    for i, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif char == ":" and not quoted:
            head = line[:i]
            return head.split(";", 1)[0].upper(), line[i + 1:]
    return line.upper(), ""


def _unescape(value: str) -> str:
    """TEXT unescaping, as icalendar reads a link value without VALUE=URI."""
    return re.sub(r"\\([\\,;nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1),
                  value)


def scan(text: str, uid: str) -> Entry:
    """The index entry of an item, by a line scan of its main component (no full parse).

    Open means what model.is_closed says it is not: tasks by any completion mark, events by
    X-FOLLOWUP-CLOSED. Only VTODO and VEVENT items are actions.
    """
    entry = Entry(uid)
    depth, comp, values = 0, None, {}
    for line in _UNFOLD.sub("", text).splitlines():
        name, value = _split(line)
        if name == "BEGIN":
            depth += 1
            if depth == 2 and comp is None and value.upper() in ("VTODO", "VEVENT"):
                comp = value.upper()
            continue
        if name == "END":
            depth -= 1
            if depth == 1 and comp is not None:
                if "RECURRENCE-ID" not in values:
                    break
                comp, values = None, {}  # an override first: keep looking for the master
            continue
        if depth == 2 and comp is not None:
            values.setdefault(name, value)
    if comp is None:
        return entry
    entry.links = {LINK_NAMES[n]: _unescape(v) for n, v in values.items()
                   if n in LINK_NAMES and v}
    closed = model.PROP_CLOSED in values
    if comp == "VTODO":
        # As model.is_closed reads it: an RFC 5545 integer only (not `99999999999`, `٥`).
        percent = ical.integer(values.get("PERCENT-COMPLETE", "0"))
        closed = (closed or values.get("STATUS", "").strip().upper() == "COMPLETED"
                  or "COMPLETED" in values or (percent is not None and percent >= 100))
    entry.open = not closed
    return entry


# Part of the stamp: raised when what an entry says changes (2: PERCENT-COMPLETE read as
# model.is_closed reads it), so that an index made by an older followup is rebuilt once.
RULES = 2


def folder_state(path: str) -> str:
    st = os.stat(path)
    return f"{RULES}:{st.st_mtime_ns}:{st.st_size}"


# Open connections, per thread (sqlite3 connections stay in their thread), a few calendars
# each: opening one costs about as much as a whole lookup.
_open = threading.local()
KEEP_OPEN = 8


def _cached() -> OrderedDict[str, tuple[sqlite3.Connection, int]]:
    if not hasattr(_open, "connections"):
        _open.connections = OrderedDict()
    return _open.connections


class Index:
    """The index of one calendar folder. Use only under Radicale's storage lock."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.path = os.path.join(folder, ".Radicale.cache", FILE)
        self._db: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        """This thread's connection to the file, reopened if the file was replaced."""
        if self._db is not None:
            return self._db
        connections = _cached()
        try:
            inode = os.stat(self.path).st_ino
        except FileNotFoundError:
            inode = None
        kept = connections.pop(self.path, None)
        if kept is not None and kept[1] == inode:
            self._db = kept[0]
        else:
            if kept is not None:
                kept[0].close()
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                 check_same_thread=True)
            # Rebuildable data: a crash loses at most the last writes, and the folder state
            # stamp then no longer matches, so the index is rebuilt.
            db.execute("PRAGMA synchronous=OFF")
            db.execute("PRAGMA journal_mode=MEMORY")  # no journal file made per write
            if inode is None:
                db.executescript(SCHEMA)
            self._db = db
        connections[self.path] = (self._db, os.stat(self.path).st_ino)
        while len(connections) > KEEP_OPEN:
            connections.popitem(last=False)[1][0].close()
        return self._db

    def close(self) -> None:
        """Forget this thread's connection to the file (it is closed)."""
        kept = _cached().pop(self.path, None)
        if kept is not None:
            kept[0].close()
        self._db = None

    def current(self, items: Callable[[], Iterable[tuple[str, str, str]]]) -> None:
        """Rebuild from `items()` ((href, uid, text) of each item) if the folder changed."""
        try:
            row = self._connect().execute("SELECT value FROM meta WHERE key='state'").fetchone()
        except sqlite3.DatabaseError:  # empty, foreign or damaged (a crash): start afresh
            self.close()
            os.unlink(self.path)
            row = None
        if self._db is not None and not os.path.exists(self.path):
            self._db = None
        if row and row[0] == folder_state(self.folder):
            return
        self.replace((href, scan(text, uid)) for href, uid, text in items())

    def replace(self, entries: Iterable[tuple[str, Entry]]) -> None:
        """Forget every entry and record `entries` ((href, entry) of every item), stamped.

        For a folder just written whole (a whole-calendar PUT), whose entries are known."""
        with nullcontext(self._connect()) as db:
            db.execute("BEGIN")
            db.execute("DELETE FROM items")
            db.execute("DELETE FROM links")
            for href, entry in entries:
                self._put(db, href, entry)
            self._stamp(db)
            db.execute("COMMIT")

    def _put(self, db: sqlite3.Connection, href: str, entry: Entry) -> None:
        db.execute("INSERT OR REPLACE INTO items VALUES (?, ?, ?)",
                   (href, entry.uid, int(entry.open)))
        db.execute("DELETE FROM links WHERE href=?", (href,))
        db.executemany("INSERT INTO links VALUES (?, ?, ?)",
                       [(href, kind, uri) for kind, uri in entry.links.items()])

    def _stamp(self, db: sqlite3.Connection) -> None:
        db.execute("INSERT OR REPLACE INTO meta VALUES ('state', ?)",
                   (folder_state(self.folder),))

    def put(self, href: str, entry: Entry) -> None:
        """Record a write of ours (call after the file is written)."""
        with nullcontext(self._connect()) as db:
            db.execute("BEGIN")
            self._put(db, href, entry)
            self._stamp(db)
            db.execute("COMMIT")

    def touch(self) -> None:
        """Record a write of ours that left the entry as it was (the folder changed)."""
        with nullcontext(self._connect()) as db:
            self._stamp(db)

    def remove(self, href: str) -> None:
        with nullcontext(self._connect()) as db:
            db.execute("BEGIN")
            db.execute("DELETE FROM items WHERE href=?", (href,))
            db.execute("DELETE FROM links WHERE href=?", (href,))
            self._stamp(db)
            db.execute("COMMIT")

    def has_uid(self, uid: str) -> bool:
        with nullcontext(self._connect()) as db:
            return db.execute("SELECT 1 FROM items WHERE uid=? LIMIT 1",
                              (uid,)).fetchone() is not None

    def open_with_link(self, uri: str, except_href: str = "") -> bool:
        """Is any other action linked to `uri` still open?"""
        with nullcontext(self._connect()) as db:
            return db.execute(
                "SELECT 1 FROM links JOIN items USING (href) WHERE links.uri=? AND items.open=1"
                " AND items.href<>? LIMIT 1", (uri, except_href)).fetchone() is not None
