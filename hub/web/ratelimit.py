"""Per-client limit on failed logins (sliding window), on top of the per-account lockout in hub.auth.

The failures are rows in SQL (hub/core/login_limits.py), so every hub of a cluster applies one limit. A
successful login does not clear the count: an attacker holding one account must not be able to reset the limit
while guessing others. Who "the client" is comes from hub/web/clientaddr.py (a trusted proxy's
X-Forwarded-For, else the peer address).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from hub.core import login_limits


class LoginRateLimiter:
    """At most `max_failures` failed logins per client address within `window_s` seconds."""

    def __init__(self, max_failures: int = 10, window_s: float = 300.0) -> None:
        self.max_failures = max_failures
        self.window = timedelta(seconds=window_s)

    def retry_after(self, s: Session, client: str, now: datetime) -> float | None:
        """Seconds until this client may try again, or None when it may try now."""
        n, oldest = login_limits.failures_since(s, client, now - self.window)
        if n < self.max_failures or oldest is None:
            return None
        return max(1.0, (oldest + self.window - now).total_seconds())

    def failed(self, s: Session, client: str, now: datetime) -> None:
        login_limits.record_failure(s, client, now, self.window)


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
