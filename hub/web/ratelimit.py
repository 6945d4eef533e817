"""Per-client limit on failed logins (sliding window), on top of the per-account lockout in hub.auth.

The failures are rows in SQL (hub/core/login_limits.py), so every hub of a cluster applies one limit. A
successful login does not clear the count: an attacker holding one account must not be able to reset the limit
while guessing others. Who "the client" is comes from hub/web/client_address.py (a trusted proxy's
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
