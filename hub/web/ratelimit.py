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


class AccountSlowdown:
    """Failed logins per (account, client address): the first `free` failures cost nothing, then each one
    doubles the wait before that address may try that account again (1 s, 2 s, 4 s … `max_delay_s`).

    No account is ever locked: a stranger hammering a name slows only their own address, and the owner logs in
    from theirs. Guessing from many addresses is bounded by `free` tries each and by the per-address limit
    (`LoginRateLimiter`). A success clears the pair. Memory is bounded like the address limiter's.
    """

    def __init__(
        self, free: int = 3, max_delay_s: float = 900.0, forget_s: float = 3600.0, max_pairs: int = 50_000
    ) -> None:
        self.free = free
        self.max_delay_s = max_delay_s
        self.forget_s = forget_s  # a pair quiet this long starts afresh
        self.max_pairs = max_pairs
        self._pairs: dict[tuple[str, str], tuple[int, float]] = {}  # → (failures, time of the last)

    def delay(self, failures: int) -> float:
        if failures < self.free:
            return 0.0
        return float(min(self.max_delay_s, 2 ** (failures - self.free)))

    def retry_after(self, account: str, client: str, now: float) -> float | None:
        entry = self._pairs.get((account, client))
        if entry is None:
            return None
        failures, last = entry
        if now - last > self.forget_s:
            del self._pairs[(account, client)]
            return None
        wait = last + self.delay(failures) - now
        return wait if wait > 0 else None

    def failed(self, account: str, client: str, now: float) -> float:
        """Counts a failure; returns the wait it imposes from now."""
        key = (account, client)
        failures, last = self._pairs.get(key, (0, now))
        if now - last > self.forget_s:
            failures = 0
        if key not in self._pairs and len(self._pairs) >= self.max_pairs:
            del self._pairs[next(iter(self._pairs))]
        self._pairs[key] = (failures + 1, now)
        return self.delay(failures + 1)

    def succeeded(self, account: str, client: str) -> None:
        self._pairs.pop((account, client), None)
