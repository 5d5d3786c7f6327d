"""Failed logins per user name and address, shared by the pages and CalDAV.

Both doors check the same password, so they count against one allowance: five wrong
guesses a minute in all, not five on the pages and five more over CalDAV. The key is the
user name and the address, so a stranger guessing alice's password blocks only himself.

Counting failures after the fact is not enough on its own: forty guesses sent at once would
all be checked before the first one failed. So credentials not seen to work lately are
checked one at a time per user name and address (`turn`); credentials that worked a moment
ago go straight through, so a calendar app's parallel requests never queue.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

MAX_TRACKED = 10_000
KNOWN_GOOD_SECONDS = 60.0


class Blocked(Exception):
    """This user name failed too often from this address lately."""


class Attempts:
    """Failed logins per (user, address) in a sliding window; thread-safe, in memory."""

    def __init__(self, limit: int, window: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._turns: dict[tuple[str, str], list] = {}  # key -> [lock, holders and waiters]
        self._good: dict[tuple[str, bytes], float] = {}  # (user, digest) -> until
        self._pepper = os.urandom(32)  # digests of secrets mean nothing outside this process

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        failures = self._failures[key]
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def blocked(self, user: str, address: str) -> bool:
        with self._lock:
            return len(self._recent((user.casefold(), address), self.clock())) >= self.limit

    def failed(self, user: str, address: str) -> None:
        with self._lock:
            now = self.clock()
            self._recent((user.casefold(), address), now).append(now)
            if len(self._failures) > MAX_TRACKED:  # many names tried: forget the stale ones
                for key in [k for k in self._failures if not self._recent(k, now)]:
                    del self._failures[key]

    def succeeded(self, user: str, address: str, secret: str | None = None) -> None:
        """A right password: forget the failures, and let `secret` skip the queue a while."""
        with self._lock:
            self._failures.pop((user.casefold(), address), None)
            if secret is not None:
                now = self.clock()
                if len(self._good) > MAX_TRACKED:
                    self._good = {k: t for k, t in self._good.items() if t > now}
                self._good[self._digest(user, secret)] = now + KNOWN_GOOD_SECONDS

    def _digest(self, user: str, secret: str) -> tuple[str, bytes]:
        mac = hmac.new(self._pepper, secret.encode("utf-8", "replace"), hashlib.sha256)
        return user.casefold(), mac.digest()

    def _known_good(self, user: str, secret: str) -> bool:
        with self._lock:
            return self._good.get(self._digest(user, secret), 0.0) > self.clock()

    @contextmanager
    def turn(self, user: str, address: str, secret: str) -> Iterator[None]:
        """Check `secret` inside this block; Blocked if the user name is blocked here.

        Unless `secret` worked a moment ago, one block at a time runs per user name and
        address, and the block is entered only once the previous one has counted its
        result: parallel guesses are checked in turn, and the sixth meets the limit."""
        if self._known_good(user, secret):
            if self.blocked(user, address):
                raise Blocked
            yield
            return
        key = (user.casefold(), address)
        with self._lock:
            entry = self._turns.setdefault(key, [threading.Lock(), 0])
            entry[1] += 1
        try:
            with entry[0]:
                if self.blocked(user, address):
                    raise Blocked
                yield
        finally:
            with self._lock:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._turns[key]
