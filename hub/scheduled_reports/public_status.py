"""The figures of a commune's public status page, read in the SQL thread: cameras and loudspeakers working now,
camera availability since the 1st of the month (hub/core/reports.py rules), and the month's broadcasts from
the report sections (played/targeted). Counts only: no names, places or pictures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.core import reports
from hub.core.areas import area_names
from hub.core.config import CoreConfig
from hub.core.db import Camera
from hub.core.facts import ReportSection
from hub.core.speaker_models import Speaker
from hub.scheduled_reports.content import load_changes, scope_of
from hub.scheduled_reports.models import PublicStatus

CAMERA_UP = ("ok", "problem")
SPEAKER_UP = ("online",)


@dataclass(frozen=True)
class PublicFigures:
    commune_name: str
    cameras: int
    cameras_up: int
    speakers: int
    speakers_up: int
    month_label: str
    camera_availability: float | None  # % since the 1st of the month
    airings: int | None  # None: the broadcasts feature is not in this hub
    plays: int | None
    plays_targeted: int | None
    as_of: datetime  # naive UTC


def enabled(s: Session, district: str, commune: str) -> bool:
    row = s.get(PublicStatus, (district, commune))
    return row is not None and row.enabled


def _count(
    s: Session, model: type[Camera] | type[Speaker], district: str, commune: str, up: tuple[str, ...]
) -> tuple[int, int]:
    area = (model.district == district, model.commune == commune)
    total = s.scalar(select(func.count()).select_from(model).where(*area)) or 0
    working = s.scalar(select(func.count()).select_from(model).where(*area, model.status.in_(up))) or 0
    return int(total), int(working)


def load_figures(
    s: Session,
    config: CoreConfig,
    district: str,
    commune: str,
    now: datetime,
    tz: ZoneInfo,
    sections: Sequence[ReportSection],
) -> PublicFigures | None:
    """None when the commune has not switched its page on (the page is then a 404, like an unknown commune)."""
    if not enabled(s, district, commune):
        return None
    cams, cams_up = _count(s, Camera, district, commune, CAMERA_UP)
    spk, spk_up = _count(s, Speaker, district, commune, SPEAKER_UP)
    month = reports.calendar_period("month", reports.local_date(now, tz), now, tz)
    infos, changes = load_changes(s, district, commune, month)
    avail = reports.uptime(infos, changes, month).total.durations.availability
    airings = plays = targeted = None
    for fn in sections:
        table = fn(s, scope_of(district, commune), month.start, month.end, tz)
        if table.key == "broadcasts":
            airings, plays, targeted = (table.totals.get(k, 0) for k in ("airings", "played", "targeted"))
    name = area_names(s, config).get((district, commune)) or commune
    return PublicFigures(name, cams, cams_up, spk, spk_up, month.label, avail, airings, plays, targeted, now)


def set_enabled(s: Session, district: str, commune: str, on: bool, now: datetime, actor: str) -> bool:
    row = s.get(PublicStatus, (district, commune))
    before = row is not None and row.enabled
    if row is None:
        row = PublicStatus(district=district, commune=commune, enabled=on, updated_at=now, updated_by=actor)
        s.add(row)
    else:
        row.enabled, row.updated_at, row.updated_by = on, now, actor
    return before


def enabled_communes(s: Session) -> set[tuple[str, str]]:
    return {
        (d, c)
        for d, c in s.execute(select(PublicStatus.district, PublicStatus.commune).where(PublicStatus.enabled))
    }
