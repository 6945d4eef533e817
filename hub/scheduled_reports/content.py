"""What a scheduled report says, read in the SQL thread: camera availability for the period (the same rules as
the /reports page, hub/core/reports.py), per commune, the worst cameras, the longest outages, and the tables
other features add (broadcasts aired: hub/core/features.py REPORT_SECTIONS)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from hub.core import reports
from hub.core.areas import AreaNames, area_names
from hub.core.config import CoreConfig
from hub.core.db import Camera, Transition
from hub.core.facts import DigestScope, ReportSection, ReportTable


@dataclass(frozen=True)
class ReportData:
    kind: str  # weekly / monthly
    district: str  # "" for the whole hub
    commune: str
    area_name: str
    period: reports.Period
    uptime: reports.UptimeReport
    worst: list[reports.CameraUptime]
    longest: list[reports.Outage]
    camera_names: dict[str, str]
    names: AreaNames
    sections: list[ReportTable]

    def name_of(self, district: str, commune: str) -> str:
        return self.names.get((district, commune)) or commune or district


def scope_of(district: str, commune: str) -> DigestScope:
    return DigestScope(communes=(f"{district}/{commune}",)) if commune else DigestScope()


def _where(
    district: str, commune: str, dcol: InstrumentedAttribute[str], ccol: InstrumentedAttribute[str]
) -> ColumnElement[bool]:
    if not commune:
        return true()
    return and_(dcol == district, ccol == commune)


def load_changes(
    s: Session, district: str, commune: str, period: reports.Period
) -> tuple[list[reports.CameraInfo], list[reports.StatusChange]]:
    """Cameras of the area and their status changes: those in the period plus each one's last before it."""
    cams = [
        reports.CameraInfo(k, d, c, n)
        for k, d, c, n in s.execute(
            select(Camera.key, Camera.district, Camera.commune, Camera.name).where(
                _where(district, commune, Camera.district, Camera.commune)
            )
        )
    ]
    T = Transition
    area = _where(district, commune, T.district, T.commune)
    last_before = (
        select(T.subject_key, func.max(T.at).label("at"))
        .where(T.subject_kind == "camera", T.at < period.start, area)
        .group_by(T.subject_key)
        .subquery()
    )
    cols = (T.subject_key, T.district, T.commune, T.at, T.to_status, T.problems, T.reason)
    rows = list(
        s.execute(
            select(*cols).join(
                last_before, and_(T.subject_key == last_before.c.subject_key, T.at == last_before.c.at)
            )
        )
    )
    rows += list(
        s.execute(
            select(*cols).where(
                T.subject_kind == "camera",
                T.at >= period.start,
                T.at < period.end,
                area,
            )
        )
    )
    changes = [
        reports.StatusChange(k, d, c, at, st, tuple(p or ()), r)
        for k, d, c, at, st, p, r in sorted(rows, key=lambda x: (x[0], x[3]))
    ]
    return cams, changes


def load_report(
    s: Session,
    config: CoreConfig,
    kind: str,
    district: str,
    commune: str,
    period: reports.Period,
    sections: Sequence[ReportSection],
    tz: ZoneInfo,
    top: int,
) -> ReportData:
    cams, changes = load_changes(s, district, commune, period)
    up = reports.uptime(cams, changes, period)
    longest = sorted(reports.outages(changes, period), key=lambda o: (-o.seconds, o.camera))[:top]
    names = area_names(s, config)
    scope = scope_of(district, commune)
    tables = [fn(s, scope, period.start, period.end, tz) for fn in sections]
    area_name = names.get((district, commune)) or commune if commune else "Toàn bộ địa bàn"
    return ReportData(
        kind,
        district,
        commune,
        area_name,
        period,
        up,
        reports.worst(up.cameras, top),
        longest,
        {c.key: c.name or c.key.rsplit("/", 1)[-1] for c in cams},
        names,
        tables,
    )


def communes_with_cameras(s: Session) -> list[tuple[str, str]]:
    return [
        (d, c)
        for d, c in s.execute(
            select(Camera.district, Camera.commune).distinct().order_by(Camera.district, Camera.commune)
        )
    ]


def pct(v: float | None) -> str:
    return "—" if v is None else f"{v:.1f}"


def hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f}"


def local(dt: datetime, tz: ZoneInfo) -> str:
    return reports.to_local(dt, tz).strftime("%H:%M %d/%m/%Y")
