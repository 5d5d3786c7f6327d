"""When a user's page sessions end.

A session is a signed cookie holding the user name and when the user logged in. Clearing the
cookie on logout is not enough: a copy of it (a shared computer, a stolen cookie) would go on
working. So logging out, or being given a new password (`followup user add`), records the
moment, and every session of that user made before it stops working, on every device.

The moments are kept in one small JSON file (`var/sessions`) so that the command line and
every server process agree and a restart forgets nothing; without a file (the companion run
on its own), in memory.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)


class SessionEnds:
    """The last moment (seconds since the epoch) each user's sessions were ended."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._ends: dict[str, float] = {}
        self._seen: tuple[int, int] | None = None  # (mtime_ns, size) of the file read
        self._lock = threading.Lock()

    def end(self, user: str, at: float | None = None) -> None:
        """End every session of `user` made up to now (or up to `at`)."""
        moment = time.time() if at is None else at
        with self._lock:
            if self.path is None:
                self._ends[user.casefold()] = moment
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # the CLI and servers may write at once
                ends = self._read()
                ends[user.casefold()] = max(moment, ends.get(user.casefold(), 0.0))
                tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
                tmp.write_text(json.dumps(ends, sort_keys=True, indent=0))
                os.replace(tmp, self.path)

    def ended(self, user: str) -> float:
        """When `user`'s sessions were last ended; 0 if never."""
        with self._lock:
            if self.path is not None:
                self._refresh()
            return self._ends.get(user.casefold(), 0.0)

    def valid(self, user: str, since: float) -> bool:
        """Whether a session of `user` begun at `since` still counts."""
        return since > self.ended(user)

    def _refresh(self) -> None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._ends, self._seen = {}, None
            return
        if self._seen != (stat.st_mtime_ns, stat.st_size):
            self._ends, self._seen = self._read(), (stat.st_mtime_ns, stat.st_size)

    def _read(self) -> dict[str, float]:
        try:
            found = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except ValueError:  # written atomically, so only a hand edit gets here
            log.warning("%s is not JSON: no session has been ended", self.path)
            return {}
        return {str(k): float(v) for k, v in found.items()
                if isinstance(v, int | float)} if isinstance(found, dict) else {}

