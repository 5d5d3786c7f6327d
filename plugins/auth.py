"""Radicale auth plugin: the htpasswd file, with logins remembered only while it is unchanged.

Enable with ``[auth] type = plugins.auth`` (``followup serve`` does). Every CalDAV request
logs in, and a bcrypt check costs about 0.25 s, so successful logins are remembered. Radicale's
own cache keeps them for ``cache_successful_logins_expiry`` seconds (15 by default) whatever
happens to the file: an old password went on working that long after
``followup user add NAME --password NEW``. Here a remembered login is valid only while the
users file is the very file it was checked against (same inode, size and modification
time), so a new password, or a removed user, takes effect on the next request.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading

from radicale.auth import htpasswd

# The users the file may hold is small; a bound keeps memory flat whatever happens.
MAX_REMEMBERED = 10_000


def file_signature(path: str) -> tuple[int, int, int, int] | None:
    """What changes whenever the users file is written (followup replaces it, new inode)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns)


class Auth(htpasswd.Auth):
    def __init__(self, configuration) -> None:
        super().__init__(configuration)
        # A per-process key: what is kept in memory is no password hash anyone can reuse.
        self._key = secrets.token_bytes(32)
        self._remembered: dict[str, tuple[tuple, bytes]] = {}
        self._remembered_lock = threading.Lock()

    def _digest(self, login: str, password: str) -> bytes:
        return hmac.new(self._key, f"{login}\0{password}".encode(), hashlib.sha256).digest()

    def _login(self, login: str, password: str) -> str:
        signature = file_signature(self._filename)
        digest = self._digest(login, password)
        with self._remembered_lock:
            known = self._remembered.get(login)
        if (signature is not None and known is not None and known[0] == signature
                and hmac.compare_digest(known[1], digest)):
            return login
        result = super()._login(login, password)
        with self._remembered_lock:
            if result and signature is not None:
                if len(self._remembered) >= MAX_REMEMBERED:
                    self._remembered.clear()
                self._remembered[login] = (signature, digest)
            else:
                self._remembered.pop(login, None)
        return result
