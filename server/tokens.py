"""Signed page tokens: the link in each item names that item and nothing else.

A token is the item's path below the CalDAV root (``user/calendar/file.ics``) signed with the
site secret. Changing one character breaks the signature; rotating the secret breaks them all.
"""

from __future__ import annotations

import re

from itsdangerous import BadSignature, URLSafeSerializer

SALT = "followup-page-link"
# What URLSafeSerializer writes: URL-safe base64 and the dot between its parts. Its base64
# decoder skips other characters, so "<token>é" would read as "<token>": one link, one form.
TOKEN_CHARS = re.compile(r"[A-Za-z0-9_\-.]+")


class TokenError(ValueError):
    """The token was not made by this site (tampered, truncated or from an old secret)."""


class PageTokens:
    def __init__(self, secret: str | bytes) -> None:
        self._serializer = URLSafeSerializer(secret, salt=SALT)

    def make(self, item_path: str) -> str:
        """The token for the item at `item_path` (relative to the CalDAV root)."""
        return self._serializer.dumps(item_path.strip("/"))

    def read(self, token: str) -> str:
        """The absolute item path a token names; TokenError if we did not sign it."""
        if not TOKEN_CHARS.fullmatch(token):
            raise TokenError("not a valid page link")
        try:
            path = self._serializer.loads(token)
        except BadSignature as exc:
            raise TokenError("not a valid page link") from exc
        if not isinstance(path, str) or ".." in path.split("/") or not path:
            raise TokenError("not a valid page link")
        return "/" + path

    def page_url(self, base_url: str, item_path: str) -> str:
        return f"{base_url.rstrip('/')}/a/{self.make(item_path)}"
