"""The broadcasts' table in the scheduled weekly and monthly reports: airings per commune in the period, how
many went out in full, and how many loudspeaker plays were asked for and confirmed. Registered through the
hub's report sections (hub/core/features.py), so the reports feature does not know about airings."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from broadcast.airings.models import AIRING_AIRED, AIRING_CANCELLED, Airing
from hub.core.facts import DigestScope, ReportTable

COLUMNS = ("Huyện", "Xã", "Buổi phát", "Phát đủ", "Có vấn đề", "Lượt loa phát / yêu cầu")


def airings_report(
    s: Session, scope: DigestScope, start: datetime, end: datetime, tz: ZoneInfo
) -> ReportTable:
    rows = s.execute(
        select(
            Airing.district,
            Airing.commune,
            Airing.status,
            func.count(),
            func.coalesce(func.sum(Airing.played), 0),
            func.coalesce(func.sum(Airing.targeted), 0),
        )
        .where(
            scope.where(Airing.district, Airing.commune),
            Airing.start_at >= start,
            Airing.start_at < end,
            Airing.status != AIRING_CANCELLED,
        )
        .group_by(Airing.district, Airing.commune, Airing.status)
    ).all()
    per: dict[tuple[str, str], list[int]] = {}
    for district, commune, status, n, played, targeted in rows:
        acc = per.setdefault((district, commune), [0, 0, 0, 0])
        acc[0] += n
        acc[1] += n if status == AIRING_AIRED else 0
        acc[2] += int(played)
        acc[3] += int(targeted)
    table = tuple(
        (d, c, str(a[0]), str(a[1]), str(a[0] - a[1]), f"{a[2]}/{a[3]}") for (d, c), a in sorted(per.items())
    )
    totals = {
        "airings": sum(a[0] for a in per.values()),
        "aired": sum(a[1] for a in per.values()),
        "played": sum(a[2] for a in per.values()),
        "targeted": sum(a[3] for a in per.values()),
    }
    return ReportTable("broadcasts", "Phát thanh trong kỳ", COLUMNS, table, totals)
