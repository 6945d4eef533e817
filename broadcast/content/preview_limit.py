"""How often one person may ask for a voice preview: a sliding window per user, kept in memory.

A preview runs espeak-ng and three ffmpeg passes on the hub's CPU, for nothing stored; the limit keeps a
stuck button or a script from turning it into a load. Each hub of a cluster counts its own (a person reaching
two hubs gets twice the rate, which is still a handful a minute).
"""

from __future__ import annotations

from collections import deque


class PreviewLimiter:
    def __init__(self, per_minute: int, window_s: float = 60.0, max_users: int = 10_000) -> None:
        self.per_minute = per_minute
        self.window_s = window_s
        self.max_users = max_users
        self._seen: dict[str, deque[float]] = {}

    def take(self, user: str, now: float) -> float | None:
        """Counts a preview for `user` at `now` (monotonic seconds) and returns None, or returns the seconds to
        wait (counting nothing) when the user already had `per_minute` in the last window."""
        times = self._seen.get(user)
        if times is None:
            if len(self._seen) >= self.max_users:  # forget the users idle longest, not the busy one
                self._forget(now)
            times = self._seen.setdefault(user, deque())
        while times and now - times[0] >= self.window_s:
            times.popleft()
        if len(times) >= self.per_minute:
            return max(0.001, times[0] + self.window_s - now)
        times.append(now)
        return None

    def _forget(self, now: float) -> None:
        for user in [u for u, t in self._seen.items() if not t or now - t[-1] >= self.window_s]:
            del self._seen[user]
        while len(self._seen) >= self.max_users:
            del self._seen[next(iter(self._seen))]
