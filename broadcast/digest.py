"""The broadcasts' lines in the notifier's daily digest: how many airings went out yesterday and which had
trouble. Registered through the hub's digest sections (hub/core/features.py), so the notifier does not know
about airings."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcast.airings.models import (
    AIRING_AIRED,
    AIRING_CANCELLED,
    AIRING_FAILED,
    AIRING_INTERRUPTED,
    AIRING_MISSED,
    AIRING_PARTIAL,
    Airing,
)
from hub.core.db import utc
from hub.core.facts import DigestScope

AIRING_WORDS = {
    AIRING_FAILED: "không phát được",
    AIRING_MISSED: "bị lỡ",
    AIRING_PARTIAL: "phát thiếu loa",
    AIRING_INTERRUPTED: "bị ngắt",
}


def airings_digest(s: Session, scope: DigestScope, start: datetime, end: datetime, tz: ZoneInfo) -> list[str]:
    rows = s.execute(
        select(
            Airing.start_at,
            Airing.title,
            Airing.status,
            Airing.played,
            Airing.targeted,
            Airing.reason,
        )
        .where(scope.where(Airing.district, Airing.commune), Airing.start_at >= start, Airing.start_at < end)
        .order_by(Airing.start_at)
    ).all()
    counts: dict[str, int] = {}
    bad: list[str] = []
    for at, title, status, played, targeted, reason in rows:
        counts[status] = counts.get(status, 0) + 1
        if status not in AIRING_WORDS:
            continue
        local = utc(at)
        assert local is not None
        extra = f" ({played or 0}/{targeted or 0} loa)" if status == AIRING_PARTIAL else ""
        why = f": {reason}" if reason else ""
        bad.append(f"• {local.astimezone(tz):%H:%M} {title} — {AIRING_WORDS[status]}{extra}{why}")
    total = sum(v for k, v in counts.items() if k != AIRING_CANCELLED)
    if total:
        head = (
            f"Phát thanh hôm qua: {total} buổi — {counts.get(AIRING_AIRED, 0)} phát đủ, {len(bad)} có vấn đề."
        )
    else:
        head = "Phát thanh hôm qua: không có buổi nào theo lịch."
    return [head, *bad]
