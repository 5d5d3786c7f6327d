"""Radicale storage plugin: every action written by any client gets its page link.

Enable with::

    [storage]
    type = plugins.storage
    followup_base_url = https://crm.example.org
    followup_secret_file = /var/lib/followup/secret_key

It is Radicale's own ``multifilesystem`` storage with one change: ``upload()`` stamps VTODO
and VEVENT items in actions calendars with the link to their page (docs/FORMAT.md).
Malformed input never stops a write: the item is then stored as Radicale would store it.
"""

from __future__ import annotations

from pathlib import Path

import radicale.item as radicale_item
from radicale.log import logger
from radicale.storage import multifilesystem

from server import model
from server.tokens import PageTokens

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
    }
}


class Collection(multifilesystem.Collection):
    """A calendar whose uploads are stamped with page links."""

    _storage: Storage

    def upload(self, href: str, item: radicale_item.Item):
        return super().upload(href, self._storage.stamp(self.path, href, item))


class Storage(multifilesystem.Storage):
    """Radicale's file storage, stamping actions with their page link on upload."""

    _collection_class = Collection

    def __init__(self, configuration) -> None:
        super().__init__(configuration.copy(PLUGIN_CONFIG_SCHEMA))
        options = self.configuration
        self.base_url: str = options.get("storage", "followup_base_url").rstrip("/")
        self.dav_prefix: str = "/" + options.get("storage", "followup_dav_prefix").strip("/")
        names = options.get("storage", "followup_calendars")
        self.calendars: frozenset[str] = frozenset(n.strip() for n in names.split(",") if n)
        secret_file = Path(options.get("storage", "followup_secret_file")).expanduser()
        self.tokens = PageTokens(secret_file.read_text().strip())

    def is_actions_calendar(self, collection_path: str) -> bool:
        name = collection_path.rstrip("/").rsplit("/", 1)[-1]
        return "*" in self.calendars or name in self.calendars

    def item_path(self, collection_path: str, href: str) -> str:
        prefix = "" if self.dav_prefix == "/" else self.dav_prefix
        return f"{prefix}/{collection_path.strip('/')}/{href}"

    def stamp(self, collection_path: str, href: str,
              item: radicale_item.Item) -> radicale_item.Item:
        """The item with its page link, or the item unchanged if it is not an action."""
        if not self.is_actions_calendar(collection_path):
            return item
        if item.component_name not in ("VTODO", "VEVENT"):
            return item
        try:
            text = item.serialize()
            url = self.tokens.page_url(self.base_url, self.item_path(collection_path, href))
            stamped = model.to_text(model.stamp(model.parse(text), url))
            if stamped == text:
                return item
            new_item = radicale_item.Item(collection_path=collection_path, text=stamped)
            new_item.prepare()
            return new_item
        except Exception as exc:  # never let an odd item stop a client's write
            logger.warning("followup: could not stamp %s/%s, stored as sent: %s",
                           collection_path, href, exc)
            return item
