"""Which speakers lack what they must air soon: a playlist sent to a receiver that has not answered `ready`
within `content_due_s` of air time, or whose preparation failed for want of the content (download, checksum,
size, decode, disk), is a SPEAKER_CONTENT_MISSING fact until it reports ready or the airing's time is over.

Kept in memory by the dispatcher that sent the playlist and heard the answers (with several hubs, the hub that
dispatched it; a hub restart forgets the airings sent before it, which then alert only through their receipts).
`missing_facts` is a pure function of the expectations and `now`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from contract import FailReason
from hub.core.facts import Fact, FactKind

CONTENT_REASONS = frozenset(
    {FailReason.DOWNLOAD, FailReason.SIZE, FailReason.CHECKSUM, FailReason.DECODE, FailReason.DISK,
     FailReason.HOST_NOT_ALLOWED, FailReason.LATE}
)  # fmt: skip


@dataclass
class Expectation:
    airing: str
    title: str
    start_at: float
    end_at: float
    waiting: set[str]  # speaker keys that have not said ready
    failed: dict[str, tuple[float, str]] = field(
        default_factory=dict
    )  # key → (when, why) for content failures


def missing_facts(
    expected: Iterable[Expectation], name: Callable[[str], str | None], now: float, due_s: float, tz: ZoneInfo
) -> list[Fact]:
    out: list[Fact] = []
    for e in expected:
        if now >= e.end_at:
            continue
        when = datetime.fromtimestamp(e.start_at, tz).strftime("%H:%M")
        late = e.start_at - due_s
        keys = dict.fromkeys(e.failed) | (dict.fromkeys(e.waiting) if now >= late else {})
        for key in keys:
            district, commune, slug = key.split("/", 2)
            if key in e.failed:
                since, why = e.failed[key]
                text = f"Không chuẩn bị được “{e.title}” phát lúc {when}: {why}"
            else:
                since = late
                text = f"Chưa tải xong “{e.title}” phát lúc {when}"
            out.append(
                Fact(
                    FactKind.SPEAKER_CONTENT_MISSING,
                    district,
                    commune,
                    key,
                    min(since, now),
                    name(key) or slug,
                    text[:300],
                    detail={"airing": e.airing},
                )  # fmt: skip
            )
    return out


class Readiness:
    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self.expected: dict[str, Expectation] = {}

    def expect(self, airing: str, title: str, start_at: float, end_at: float, keys: Iterable[str]) -> None:
        self.expected[airing] = Expectation(airing, title, start_at, end_at, set(keys))

    def report(
        self, key: str, airing: str, event: str, reason: str | None, at: float, error: str | None
    ) -> None:
        e = self.expected.get(airing)
        if e is None:
            return
        if event in ("ready", "started", "finished"):
            e.waiting.discard(key)
            e.failed.pop(key, None)
        elif event == "failed" and reason in CONTENT_REASONS:
            e.waiting.discard(key)
            e.failed[key] = (at, error or reason or "")
        elif event in ("failed", "stopped"):
            e.waiting.discard(key)  # not a content problem: the airing's own report tells it

    def forget(self, airing: str) -> None:
        self.expected.pop(airing, None)

    def facts(self, name: Callable[[str], str | None], now: float, due_s: float) -> list[Fact]:
        for k in [k for k, e in self.expected.items() if now >= e.end_at]:
            del self.expected[k]
        return missing_facts(self.expected.values(), name, now, due_s, self.tz)
