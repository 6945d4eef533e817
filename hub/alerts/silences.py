"""Silences and maintenance windows as plain values, and which of them applies to an alert at `now`. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hub.alerts.rules import AlertState
from hub.core.maintenance_rules import Recurrence, Window, in_window

VN = ZoneInfo("Asia/Ho_Chi_Minh")

SILENCE_TYPES = ("silence", "maintenance")


@dataclass(frozen=True, slots=True)
class SilenceRule:
    id: int
    type: str
    district: str | None
    commune: str | None
    kind: str | None
    device: str | None
    starts_at: float
    ends_at: float  # an expired silence carries its expiry time here
    recurrence: Recurrence | None = None  # a recurring maintenance window: only during its occurrences
    tz: ZoneInfo = VN  # the zone its local start times are in

    def active(self, now: float) -> bool:
        if not self.starts_at <= now < self.ends_at:
            return False
        if self.recurrence is None:
            return True
        window = Window(_utc(self.starts_at), _utc(self.ends_at), self.recurrence)
        return in_window(window, _utc(now), self.tz)

    def matches(self, a: AlertState) -> bool:
        return (
            (self.district is None or self.district == a.district)
            and (self.commune is None or self.commune == a.commune)
            and (self.kind is None or self.kind == a.kind)
            and (self.device is None or self.device == a.device)
        )


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def silenced_by(a: AlertState, silences: Iterable[SilenceRule], now: float) -> int | None:
    """Id of the first active silence matching `a` (lowest id: stable), or None."""
    for s in sorted(silences, key=lambda x: x.id):
        if s.active(now) and s.matches(a):
            return s.id
    return None
