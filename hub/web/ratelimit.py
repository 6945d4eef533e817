"""Per-client limit on failed logins (sliding window), on top of the per-account lockout in hub.auth."""

from __future__ import annotations

from collections import deque


class LoginRateLimiter:
    """At most `max_failures` failed logins per client address within `window_s` seconds.

    A successful login does not clear the count: an attacker holding one account must not be able to reset
    the limit while guessing others. Memory is bounded: at most `max_clients` addresses are tracked; the oldest is forgotten first.
    """

    def __init__(self, max_failures: int = 10, window_s: float = 300.0, max_clients: int = 10_000) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_clients = max_clients
        self._failures: dict[str, deque[float]] = {}

    def _prune(self, client: str, now: float) -> deque[float] | None:
        q = self._failures.get(client)
        if q is None:
            return None
        while q and q[0] <= now - self.window_s:
            q.popleft()
        if not q:
            del self._failures[client]
            return None
        return q

    def retry_after(self, client: str, now: float) -> float | None:
        """Seconds until this client may try again, or None when it may try now."""
        q = self._prune(client, now)
        if q is None or len(q) < self.max_failures:
            return None
        return max(1.0, q[0] + self.window_s - now)

    def failed(self, client: str, now: float) -> None:
        q = self._prune(client, now)
        if q is None:
            if len(self._failures) >= self.max_clients:
                del self._failures[next(iter(self._failures))]
            q = self._failures[client] = deque(maxlen=self.max_failures)
        q.append(now)

    @property
    def tracked(self) -> int:
        return len(self._failures)
