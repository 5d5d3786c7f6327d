"""Radicale storage plugin: followup's promises kept whatever a calendar client does.

Enable with::

    [storage]
    type = plugins.storage
    followup_base_url = https://crm.example.org
    followup_secret_file = /var/lib/followup/secret_key

It is Radicale's own ``multifilesystem`` storage; on every upload into an actions calendar:

- what vobject damaged of the client's text is put back as sent (server/protect.py);
- followup's links, chain and page come back if the client dropped them, a completion in
  any client's dialect is a close, an un-tick a reopen (server/merge.py);
- the item gets its page link (model.stamp);
- ticking, in a client, the last open action of an opportunity makes one "Plan the next
  step" task
  (server/nextstep.py; ``followup_next_step_rule = False`` turns it off);
- a UID and link index (plugins/index.py) answers ``has_uid`` and the rule's question
  without reading every item.

Malformed input never stops a write: the item is then stored as Radicale would store it.
Whole-collection PUT and MOVE are handled too (docs/FORMAT.md, "What clients may do").
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import radicale.item as radicale_item
from radicale import pathutils
from radicale.log import logger
from radicale.storage import multifilesystem

from plugins import fastpath, rawbody
from plugins.index import Entry, Index, scan
from plugins.protect import needs_reencoding
from server import ical, merge, model, nextstep, protect
from server.settings import SERVICE_USER
from server.tokens import PageTokens


def language(value: str) -> str:
    """A `followup_language` value: one nextstep knows (Radicale names this type in errors)."""
    code = value.strip().lower()
    if code not in nextstep.LANGUAGES:
        raise ValueError(f"use one of {', '.join(nextstep.LANGUAGES)}")
    return code


PLUGIN_CONFIG_SCHEMA = {
    "storage": {
        "followup_base_url": {
            "value": "http://127.0.0.1:5232",
            "help": "public address of the followup companion, written into page links",
            "type": str,
        },
        "followup_secret_file": {
            "value": "var/secret_key",
            "help": "file holding the secret that signs page links",
            "type": str,
        },
        "followup_dav_prefix": {
            "value": "/dav",
            "help": "URL path under which clients reach this Radicale",
            "type": str,
        },
        "followup_calendars": {
            "value": "actions",
            "help": "names of the calendars that hold actions, comma-separated; * for all",
            "type": str,
        },
        "followup_next_step_rule": {
            "value": "True",
            "help": "make a 'Plan the next step' task when the last open action of a "
                    "record is closed in a client",
            "type": bool,
        },
        "followup_next_step_links": {
            "value": "opportunity",
            "help": "link kinds the next-step rule watches, in order, comma-separated "
                    "(opportunity, account, project, contact)",
            "type": str,
        },
        "followup_language": {
            "value": "en",
            "help": "language of the tasks the plugin writes ('Plan the next step: …'): "
                    "en or fr",
            "type": language,
        },
        "followup_companion_users": {
            "value": SERVICE_USER,
            "help": "the companion's accounts: they speak followup's format, so what they "
                    "drop is meant (an undo) and is not restored",
            "type": str,
        },
    }
}


def _names(text: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in text.split(",") if n.strip())


def _uids(cal) -> list[str]:
    return [str(c["UID"]) for c in cal.subcomponents if "UID" in c]


def _same_as(old: radicale_item.Item, collection_path: str) -> radicale_item.Item:
    """The stored version again, byte for byte: vobject re-sorts properties, and a client
    re-uploading what it read must get the very same bytes (and ETag) back, or sync
    clients loop."""
    return radicale_item.Item(
        collection_path=collection_path, text=old.serialize(), etag=old.etag, uid=old.uid,
        name=old.name, component_name=old.component_name, time_range=old.time_range)


# Page links kept in memory (about 200 bytes each) before the store starts again.
MAX_REMEMBERED_LINKS = 50_000


@dataclass
class WholeCalendar:
    """A whole-calendar PUT under way: the index entries of the items formatted as Radicale
    wrote them, by file name, for the index made once after Radicale's rename."""

    entries: dict[str, Entry] = field(default_factory=dict)
    # The body as the client sent it, by UID: what vobject damaged is put back from it.
    sent: protect.SentCalendar | None = None


class Collection(multifilesystem.Collection):
    """A calendar whose uploads keep followup's format, indexed for O(1) lookups."""

    _storage: Storage

    def _index(self) -> Index:
        index = Index(self._filesystem_path)
        index.current(self._all_texts)
        return index

    def _all_texts(self):
        for item in self.get_all():
            yield item.href, item.uid, item.serialize()

    def has_uid(self, uid: str) -> bool:
        try:
            return self._index().has_uid(uid)
        except Exception as exc:  # the index is an optimisation: fall back to a scan
            logger.warning("followup: UID index of %s unusable: %s", self.path, exc)
            return super().has_uid(uid)

    _read_before: tuple[str, radicale_item.Item | None] | None = None

    def _get(self, href: str, verify_href: bool = True) -> radicale_item.Item | None:
        """Radicale's read, except that its upload's first look at the stored version gets
        the one this upload already read under the same write lock (about a tenth of a
        millisecond saved on every update)."""
        before, self._read_before = self._read_before, None
        if before is not None and before[0] == href:
            return before[1]
        return super()._get(href, verify_href)

    def _index_or_none(self) -> Index | None:
        # Made current *before* a write, so that stamping it afterwards never hides a change
        # made by someone else.
        try:
            return self._index()
        except Exception as exc:
            logger.warning("followup: index of %s unusable: %s", self.path, exc)
            return None

    def upload(self, href: str, item: radicale_item.Item):
        index = self._index_or_none()
        old = self._get(href, verify_href=False)
        new_item, change = self._storage.prepare_upload(self.path, href, item, old)
        rawbody.forget()
        if change == merge.TICKED:
            # The planning task is written first, then the ticked action pointing at it:
            # stopped in between, the client's retry finds the task and links it.
            new_item = self._storage.next_step(self, href, new_item)
        if new_item is not item and (old is None or new_item.etag != old.etag):
            rawbody.mark_changed()  # the client's copy lacks what we added: no ETag for it
        self._read_before = (href, old)
        try:
            uploaded, replaced = super().upload(href, new_item)
        finally:
            self._read_before = None
        if index is not None:
            try:
                if new_item is item and old is not None and change == "" and \
                        self._storage.last_was_fast:
                    index.touch()  # the fast path keeps links and open state as they were
                else:
                    index.put(href, scan(uploaded.serialize(), uploaded.uid))
            except Exception as exc:
                logger.warning("followup: could not index %s/%s: %s", self.path, href, exc)
        return uploaded, replaced

    def sync(self, old_token: str = ""):
        """Radicale's sync, without removed members in an initial sync (RFC 6578 3.4).

        With an empty sync-token Radicale 3.9 also lists every item deleted earlier (as 404
        Not Found); the caldav library then fails to load the calendar, and an Undo that
        deleted a next action is enough to cause it."""
        token, changes = super().sync(old_token)
        if old_token:
            return token, changes
        present = set(self._list())
        return token, [href for href in changes if href in present]

    def _upload_all_nonatomic(self, items: Iterable[radicale_item.Item],
                              suffix: str = "") -> None:
        """Whole-calendar PUT: Radicale writes every item into a fresh folder here, once.

        Each item of an actions calendar is formatted on its way in (page link, repairs), so
        it is written once, as stock Radicale writes it: no second upload per item, whose
        history bookkeeping scans the whole calendar each time (quadratic)."""
        whole = self._storage.whole_calendar
        if whole is None or suffix != ".ics":
            super()._upload_all_nonatomic(items, suffix)
            return
        super()._upload_all_nonatomic(self._formatted(items, suffix, whole), suffix)

    def _formatted(self, items: Iterable[radicale_item.Item], suffix: str,
                   whole: WholeCalendar) -> Iterator[radicale_item.Item]:
        # Radicale writes each item before it asks for the next one, so the file names taken
        # so far are on disk when the next name is predicted.
        for item in items:
            href = self._predicted_href(item.uid, suffix)
            if href is None:  # a name made up at random: formatted after the rename
                yield item
                continue
            try:
                formatted = self._storage.prepare_imported(self.path, href, item, whole.sent)
            except Exception as exc:  # never let an odd item stop the client's write
                logger.warning("followup: %s/%s kept as imported: %s", self.path, href, exc)
                formatted = item
            # Not recorded (a scan that failed): indexed after the rename, with the others.
            with contextlib.suppress(Exception):
                whole.entries[href] = scan(formatted.serialize(), formatted.uid)
            yield formatted

    def _predicted_href(self, uid: str, suffix: str) -> str | None:
        """The file name Radicale 3.9.0's `_upload_all_nonatomic` gives this UID: the first
        of `<uid><suffix>` and `<sha256 of uid><suffix>` that is safe and free; None when
        both are taken and it makes one up at random."""
        first = uid if uid.lower().endswith(suffix.lower()) else uid + suffix
        for href in (first, radicale_item.get_etag(uid).strip('"') + suffix):
            if pathutils.is_safe_filesystem_path_component(href) and not os.path.lexists(
                    os.path.join(self._filesystem_path, href)):
                return href
        return None

    def delete(self, href: str | None = None) -> None:
        index = self._index_or_none() if href is not None else None
        super().delete(href)
        if index is not None and href is not None:
            try:
                index.remove(href)
            except Exception as exc:
                logger.warning("followup: could not unindex %s/%s: %s", self.path, href, exc)


class Storage(multifilesystem.Storage):
    """Radicale's file storage, keeping followup's format on every upload."""

    _collection_class = Collection

    def __init__(self, configuration) -> None:
        super().__init__(configuration.copy(PLUGIN_CONFIG_SCHEMA))
        options = self.configuration
        self.base_url: str = options.get("storage", "followup_base_url").rstrip("/")
        self.dav_prefix: str = "/" + options.get("storage", "followup_dav_prefix").strip("/")
        self.calendars = frozenset(_names(options.get("storage", "followup_calendars")))
        secret_file = Path(options.get("storage", "followup_secret_file")).expanduser()
        self.tokens = PageTokens(secret_file.read_text().strip())
        self.rule_on: bool = options.get("storage", "followup_next_step_rule")
        self.rule_kinds = _names(options.get("storage", "followup_next_step_links"))
        self.language: str = options.get("storage", "followup_language")
        self.companions = frozenset(_names(options.get("storage", "followup_companion_users")))
        self._user = ""
        self.last_was_fast = False  # set per upload, under the write lock
        self.whole_calendar: WholeCalendar | None = None  # set per whole-calendar PUT, too
        self._page_urls: dict[tuple[str, str], str] = {}
        rawbody.install()

    @contextlib.contextmanager
    def acquire_lock(self, mode: str, user: str = "", *args, **kwargs):
        # Who writes decides whether a dropped property of ours is restored; set once the
        # write lock is held, so the attribute is safe (one writer at a time).
        with super().acquire_lock(mode, user, *args, **kwargs):
            if mode == "w":
                self._user = user or ""
            yield

    def create_collection(self, href: str, items=None, props=None):
        """Whole-calendar PUT: Radicale writes the items without upload(). In an actions
        calendar each one is formatted as it is written (`Collection._upload_all_nonatomic`),
        as a PUT of a new item would store it, and the index is made once afterwards."""
        if items is None or not self.is_actions_calendar(href):
            return super().create_collection(href, items, props)
        props = self._kept_props(href, props)
        self.whole_calendar = whole = WholeCalendar(sent=self._sent_calendar(href))
        try:
            result = super().create_collection(href, items, props)
        finally:
            self.whole_calendar = None
        self._after_whole_calendar(result[0], whole)
        return result

    @staticmethod
    def _sent_calendar(href: str) -> protect.SentCalendar | None:
        """The whole calendar as the client sent it (one parse per PUT), or None."""
        raw = rawbody.body_of_calendar(href)
        if raw is None or not needs_reencoding(raw.encode("utf-8")):
            return None  # vobject reads a plain body as the client wrote it: nothing to undo
        try:
            return protect.SentCalendar(ical.read(raw))
        except Exception as exc:  # Radicale read it: its copy is stored, as it would be
            logger.info("followup: %s: client text not comparable: %s", href, exc)
            return None

    def _kept_props(self, href: str, props: dict | None) -> dict | None:
        """The calendar's properties after a whole-calendar PUT: those stored (its name
        "Actions", its VEVENT and VTODO, a colour), updated by the body's (a name given by
        X-WR-CALNAME, a description by X-WR-CALDESC). Radicale alone keeps only the body's,
        and the calendar lost its name and the kinds of items it holds. Written with the
        items, in the folder that replaces the calendar, so no one sees it without them."""
        existing = next(iter(self.discover(href)), None)
        if not props or not isinstance(existing, multifilesystem.Collection):
            return props
        return {**existing.get_meta(), **props}

    def _after_whole_calendar(self, collection: Collection, whole: WholeCalendar) -> None:
        """Index every item in one go; then format, one by one through our own upload, the
        few that were not formatted on their way in (a file name Radicale made up)."""
        hrefs = set(collection._list())
        entries = {href: entry for href, entry in whole.entries.items() if href in hrefs}
        others = {href: collection._get(href, verify_href=False)
                  for href in sorted(hrefs - entries.keys())}
        try:
            # Indexed as written first, so that a UID is never missing from the index, even
            # if formatting one of the others fails below.
            Index(collection._filesystem_path).replace([*entries.items(), *(
                (href, scan(item.serialize(), item.uid)) for href, item in others.items()
                if item is not None)])
        except Exception as exc:  # the index is an optimisation: the next use rebuilds it
            logger.warning("followup: could not index %s: %s", collection.path, exc)
        for href, item in others.items():
            try:
                if item is not None:
                    collection.upload(href, item)
            except Exception as exc:
                logger.warning("followup: %s/%s kept as imported: %s",
                               collection.path, href, exc)

    def move(self, item: radicale_item.Item, to_collection, to_href: str) -> None:
        """MOVE renames the file: the page link names the old path, so stamp it anew."""
        source = item.collection
        source_href = item.href
        for collection in (source, to_collection):
            collection._index()
        super().move(item, to_collection, to_href)
        try:
            Index(source._filesystem_path).remove(source_href)
        except Exception as exc:
            logger.warning("followup: could not unindex %s/%s: %s", source.path, source_href,
                           exc)
        moved = to_collection._get(to_href, verify_href=False)
        if moved is not None:
            to_collection.upload(to_href, moved)

    def is_actions_calendar(self, collection_path: str) -> bool:
        name = collection_path.rstrip("/").rsplit("/", 1)[-1]
        return "*" in self.calendars or name in self.calendars

    def item_path(self, collection_path: str, href: str) -> str:
        prefix = "" if self.dav_prefix == "/" else self.dav_prefix
        return f"{prefix}/{collection_path.strip('/')}/{href}"

    def page_url(self, collection_path: str, href: str) -> str:
        """The page link of the item at `href`, remembered: signing it (an HMAC) costs about
        0.15 ms on every update, and the secret is read once at start."""
        key = (collection_path, href)
        url = self._page_urls.get(key)
        if url is None:
            url = self.tokens.page_url(self.base_url, self.item_path(collection_path, href))
            if len(self._page_urls) >= MAX_REMEMBERED_LINKS:
                self._page_urls.clear()
            self._page_urls[key] = url
        return url

    # -- one upload ----------------------------------------------------------------------------

    def prepare_imported(self, collection_path: str, href: str, item: radicale_item.Item,
                         sent: protect.SentCalendar | None = None) -> radicale_item.Item:
        """An item of a whole-calendar PUT, as a PUT of a new item would store it (no stored
        version, so nothing to restore and no next-step rule), what vobject damaged put back
        from `sent`. An item already in the format for this place (a calendar exported and
        put back) and undamaged is kept as it is, unparsed."""
        try:
            text = item.serialize()
            if sent is not None and sent.kept_in(item.uid, text):
                sent = None  # vobject kept every line of the client's: nothing to put back
            if sent is None and fastpath.nothing_to_do(
                    text, text, self.page_url(collection_path, href)):
                return item
        except Exception:  # the full path decides
            pass
        return self.prepare_upload(collection_path, href, item, None, sent)[0]

    def prepare_upload(self, collection_path: str, href: str, item: radicale_item.Item,
                       old: radicale_item.Item | None,
                       sent: protect.SentCalendar | None = None
                       ) -> tuple[radicale_item.Item, str]:
        """The item to store, and what the upload did (merge.CLOSED, TICKED, REOPENED, '').
        `sent`: the client's whole calendar, when this item came in one."""
        self.last_was_fast = False
        if sent is None and self._nothing_to_do(collection_path, href, item, old):
            # Only an action's fast path promises that its index entry is unchanged.
            self.last_was_fast = old is not None and self.is_actions_calendar(collection_path)
            if old is not None and protect.same_lines(item.serialize(), old.serialize()):
                return _same_as(old, collection_path), ""
            return item, ""
        try:
            text = item.serialize()
            cal = ical.read(text)
        except Exception as exc:  # not ours to judge: Radicale already accepted it
            logger.info("followup: %s/%s stored as Radicale read it: %s",
                        collection_path, href, exc)
            return item, ""
        if sent is None:
            cal, fixed = self._protected(collection_path, href, text, cal)
        else:
            cal, fixed = self._restored(collection_path, href, sent.item(item.uid, cal), cal)
        change = ""
        if self.is_actions_calendar(collection_path) and item.component_name in (
                "VTODO", "VEVENT"):
            try:
                url = self.page_url(collection_path, href)
                old_cal = model.parse(old.serialize()) if old is not None else None
                cal, change = merge.update(old_cal, cal, url,
                                           restore=self._user not in self.companions)
                cal = model.stamp(cal, url)
            except Exception as exc:  # never let an odd item stop a client's write
                logger.warning("followup: could not keep the format of %s/%s: %s",
                               collection_path, href, exc)
                change = ""
        elif not fixed:
            return item, ""
        stored = model.to_text(cal)
        if old is not None and protect.same_lines(stored, old.serialize()):
            return _same_as(old, collection_path), change
        if stored == text:
            return item, change
        try:
            new_item = radicale_item.Item(collection_path=collection_path, text=stored)
            new_item.prepare()
        except Exception as exc:
            logger.warning("followup: %s/%s stored as Radicale read it, ours did not "
                           "parse: %s", collection_path, href, exc)
            return item, ""
        return new_item, change

    def _nothing_to_do(self, collection_path: str, href: str, item: radicale_item.Item,
                       old: radicale_item.Item | None) -> bool:
        """Nothing vobject damaged, and no format work (not an action, or an update that
        keeps all of ours): store the item as Radicale read it, without a parse."""
        try:
            text = item.serialize()
            raw = rawbody.body_for(collection_path, href)
            if raw is not None and not protect.same_lines(raw, text):
                return False
            if not (self.is_actions_calendar(collection_path)
                    and item.component_name in ("VTODO", "VEVENT")):
                return True
            return old is not None and fastpath.nothing_to_do(
                text, old.serialize(), self.page_url(collection_path, href))
        except Exception:
            return False

    def _protected(self, collection_path: str, href: str, text: str, cal):
        """`cal` with what vobject damaged of the client's text put back as sent."""
        raw = rawbody.body_for(collection_path, href)
        if raw is None or protect.same_lines(raw, text):
            return cal, 0
        try:
            sent = ical.read(raw)
        except Exception as exc:
            logger.info("followup: %s/%s: client text not comparable: %s",
                        collection_path, href, exc)
            return cal, 0
        return self._restored(collection_path, href, sent, cal)

    @staticmethod
    def _restored(collection_path: str, href: str, sent, cal):
        """`cal` with the client's lines from `sent` wherever vobject changed them."""
        if sent is None:
            return cal, 0
        try:
            if sorted(_uids(sent)) != sorted(_uids(cal)):
                return cal, 0
            cal, fixed = protect.restore_damaged(sent, cal)
        except Exception as exc:
            logger.info("followup: %s/%s: client text not comparable: %s",
                        collection_path, href, exc)
            return cal, 0
        if fixed:
            logger.info("followup: %s/%s: %d properties kept as sent (vobject changed them)",
                        collection_path, href, fixed)
        return cal, fixed

    # -- the next-step rule --------------------------------------------------------------------

    def next_step(self, collection: Collection, href: str,
                  closed: radicale_item.Item) -> radicale_item.Item:
        """After a tick in a client: one planning task if no open action remains.

        Returns the ticked item to store: pointing at the task (X-FOLLOWUP-NEXT), so that
        its page shows the next step as planned and offers no second one. followup's own
        closes (page, command line) write X-FOLLOWUP-CLOSED and do not come here: the page
        offers "Close and create next" and plans the next step itself."""
        if not self.rule_on:
            return closed
        try:
            cal = model.parse(closed.serialize())
            action = model.read(cal)
            link = nextstep.rule_link(action, self.rule_kinds)
            if link is None or self._chain_goes_on(collection, action):
                return closed
            index = collection._index()
            uid = nextstep.plan_uid(action.uid)
            plan_href = f"{uid}.ics"
            if not index.has_uid(uid):
                if index.open_with_link(link.uri, except_href=href):
                    return closed
                task = nextstep.plan_task(cal, link, dt.date.today(), closed_href=href,
                                          language=self.language)
                item = radicale_item.Item(collection_path=collection.path,
                                          text=model.to_text(task))
                item.prepare()
                # Same collection, same write lock: the task goes through our own upload,
                # so it is stamped with its page link and indexed.
                collection.upload(plan_href, item)
            if action.next == uid:
                return closed
            linked = radicale_item.Item(collection_path=collection.path, text=model.to_text(
                model.link_next(cal, uid, plan_href)))
            linked.prepare()
            return linked
        except Exception as exc:
            logger.warning("followup: next-step rule failed after %s/%s: %s",
                           collection.path, href, exc)
            return closed

    @staticmethod
    def _chain_goes_on(collection: Collection, action: model.Action) -> bool:
        """The action already has a next one that exists: the chain goes on from there."""
        if not action.next:
            return False
        try:
            return collection._index().has_uid(action.next)
        except Exception:
            return False
