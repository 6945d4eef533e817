"""How each channel is doing, and the CHANNEL_FAILING facts the alert engine turns into an alert."""

from __future__ import annotations

from dataclasses import dataclass

from hub.core.facts import Fact, FactKind

FAIL_STREAK = 3  # this many messages in a row failed for good (permanent or retries exhausted)
REFRESH_FAILURES = 2  # token refreshes in a row that failed for a passing reason (network, 5xx)
CHANNEL_NAMES = {"oa": "Zalo OA (nhóm)", "bot": "Zalo Bot (tin nhắn trực ban)"}


@dataclass
class ChannelHealth:
    channel: str
    streak: int = 0
    failing_since: float | None = None
    last_error: str | None = None
    blocked: str | None = None
    blocked_since: float | None = None
    sent: int = 0
    failed: int = 0
    retried: int = 0
    in_doubt: int = 0  # attempts Zalo may have acted on without saying so (retried all the same)
    possible_duplicates: int = 0  # messages sent after such an attempt: the group may have them twice

    def succeeded(self) -> None:
        self.sent += 1
        self.streak = 0
        self.failing_since = None

    def failed_for_good(self, now: float, error: str) -> None:
        self.failed += 1
        self.streak += 1
        self.last_error = error
        if self.failing_since is None:
            self.failing_since = now

    def block(self, now: float, reason: str) -> None:
        if self.blocked is None:
            self.blocked_since = now
        self.blocked = reason
        self.last_error = reason

    def unblock(self) -> None:
        self.blocked = None
        self.blocked_since = None


def channel_facts(
    health: ChannelHealth,
    now: float,
    refresh_failures: int = 0,
    refresh_error: str | None = None,
    refresh_failing_since: float | None = None,
) -> list[Fact]:
    name = CHANNEL_NAMES.get(health.channel, health.channel)
    device = f"notify/{health.channel}"

    def fact(since: float, summary: str, reason: str) -> Fact:
        return Fact(
            kind=FactKind.CHANNEL_FAILING,
            district="",
            commune="",
            device=device,
            since=since,
            name=name,
            summary=summary[:300],
            detail={"channel": health.channel, "reason": reason},
        )

    if health.blocked is not None:
        return [fact(health.blocked_since or now, f"Cần cấp quyền lại: {health.blocked}", "reauth")]
    if refresh_failures >= REFRESH_FAILURES:
        return [
            fact(
                refresh_failing_since or now,
                f"Làm mới token thất bại {refresh_failures} lần: {refresh_error or ''}",
                "refresh",
            )
        ]
    if health.streak >= FAIL_STREAK:
        return [
            fact(
                health.failing_since or now,
                f"{health.streak} tin liên tiếp không gửi được: {health.last_error or ''}",
                "errors",
            )
        ]
    return []
