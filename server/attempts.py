"""Failed logins per user name and address, shared by the pages and CalDAV.

Both doors check the same password, so they count against one allowance: five wrong
guesses a minute in all, not five on the pages and five more over CalDAV. The key is the
user name and the address, so a stranger guessing alice's password blocks only himself.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable

MAX_TRACKED = 10_000


class Attempts:
    """Failed logins per (user, address) in a sliding window; thread-safe, in memory."""

    def __init__(self, limit: int, window: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

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

    def succeeded(self, user: str, address: str) -> None:
        with self._lock:
            self._failures.pop((user.casefold(), address), None)
