"""Proof of airing for people: one airing's report (X of Y speakers played, which did not and why, start skew,
per-speaker offsets, timeline), the playout history of a commune for a month (JSON, CSV), and the summary the
notifier's daily digest reads. Session functions run inside `Database.run`; times are stored UTC and shown in
the hub's time zone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcast.airings.models import Airing, AiringReceipt
from broadcast.airings.store import airing_dict
from broadcast.orders import Priority
from hub.core import keyset
from hub.core.csvsafe import csv_bytes
from hub.core.db import utc
from hub.core.geo import Village
from hub.core.serialize import iso
from hub.core.speaker_models import Speaker

PRIORITY_LABELS = {
    Priority.NORMAL.value: "Thông thường",
    Priority.PRIORITY.value: "Ưu tiên",
    Priority.EMERGENCY.value: "Khẩn cấp",
}
AIRING_STATUS_LABELS = {
    "scheduled": "Đã lên lịch",
    "dispatched": "Đã gửi tới loa",
    "playing": "Đang phát",
    "aired": "Đã phát đủ",
    "partial": "Phát một phần",
    "failed": "Không phát được",
    "missed": "Bị lỡ",
    "cancelled": "Đã huỷ",
    "interrupted": "Bị ngắt (khẩn cấp)",
}
RECEIPT_LABELS = {
    "sent": "Đã gửi lệnh",
    "ready": "Sẵn sàng",
    "started": "Đang phát",
    "finished": "Đã phát xong",
    "failed": "Lỗi",
    "no_answer": "Không trả lời",
    "stopped": "Bị dừng",
}
CSV_TIME = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class AiringSummary:
    """One airing for the daily digest."""

    airing_id: str
    title: str
    district: str
    commune: str
    start_at: datetime  # naive UTC
    status: str
    targeted: int
    played: int


def airing_summary(s: Session, start: datetime, end: datetime, district: str | None) -> list[AiringSummary]:
    """Airings planned in [start, end) (naive UTC), optionally of one district, in start order."""
    q = select(Airing).where(Airing.start_at >= start, Airing.start_at < end)
    if district is not None:
        q = q.where(Airing.district == district)
    return [
        AiringSummary(a.id, a.title, a.district, a.commune, a.start_at, a.status, a.targeted, a.played)
        for a in s.scalars(q.order_by(Airing.start_at, Airing.id))
    ]


@dataclass(frozen=True)
class SpeakerResult:
    key: str
    slug: str
    name: str
    village: str | None  # village name (or slug when it has no name)
    state: str
    played: bool
    offset_ms: float | None
    started_at: datetime | None
    ready_at: datetime | None
    finished_at: datetime | None
    played_s: float | None
    reason: str | None  # why it did not play, or why it stopped
    level_dbfs: float | None = None  # RMS it sent to the amplifier over the airing


@dataclass(frozen=True)
class AiringReport:
    airing: Airing
    speakers: list[SpeakerResult]
    timeline: list[tuple[datetime, str]] = field(default_factory=list)

    @property
    def not_played(self) -> list[SpeakerResult]:
        return [x for x in self.speakers if not x.played]


def _speaker_names(s: Session, keys: list[str]) -> dict[str, tuple[str, str | None]]:
    """speaker key → (display name, village name)."""
    rows = list(s.scalars(select(Speaker).where(Speaker.key.in_(keys)))) if keys else []
    villages = {
        (v.district, v.commune, v.slug): v.name
        for v in s.scalars(select(Village).where(Village.commune.in_({r.commune for r in rows})))
    } if rows else {}  # fmt: skip
    out = {}
    for r in rows:
        v = villages.get((r.district, r.commune, r.village or ""), r.village)
        out[r.key] = (r.name or r.slug, v)
    return out


def airing_report(s: Session, airing_id: str) -> AiringReport | None:
    a = s.get(Airing, airing_id)
    if a is None:
        return None
    rs = list(s.scalars(select(AiringReceipt).where(AiringReceipt.airing_id == airing_id)))
    names = _speaker_names(s, [r.speaker_key for r in rs])
    results = []
    for r in rs:
        slug = r.speaker_key.rsplit("/", 1)[-1]
        name, village = names.get(r.speaker_key, (slug, None))
        results.append(
            SpeakerResult(
                key=r.speaker_key,
                slug=slug,
                name=name,
                village=village,
                state=r.state,
                played=r.started_at is not None,
                offset_ms=r.started_offset_ms,
                started_at=r.started_at,
                ready_at=r.ready_at,
                finished_at=r.finished_at,
                played_s=r.played_s,
                reason=r.error,
                level_dbfs=r.level_dbfs,
            )  # fmt: skip
        )
    results.sort(key=lambda x: (x.played, x.village or "", x.name))
    timeline: list[tuple[datetime, str]] = [(a.created_at, "Tạo lượt phát"), (a.start_at, "Giờ phát dự kiến")]
    ready = [x.ready_at for x in results if x.ready_at]
    if ready:
        timeline.append((max(ready), f"{len(ready)}/{len(results)} loa sẵn sàng (loa cuối cùng)"))
    started = [x.started_at for x in results if x.started_at]
    if started:
        timeline.append((min(started), "Loa đầu tiên bắt đầu phát"))
    finished = [x.finished_at for x in results if x.finished_at]
    if finished:
        timeline.append((max(finished), "Loa cuối cùng kết thúc"))
    if a.finished_at:
        timeline.append((a.finished_at, f"Tổng kết: {AIRING_STATUS_LABELS.get(a.status, a.status)}"))
    timeline.sort(key=lambda x: x[0])
    return AiringReport(a, results, timeline)


def speaker_result_dict(x: SpeakerResult) -> dict[str, Any]:
    return {
        "key": x.key, "id": x.slug, "name": x.name, "village": x.village, "state": x.state, "played": x.played,
        "offset_ms": x.offset_ms, "started_at": iso(x.started_at), "ready_at": iso(x.ready_at),
        "finished_at": iso(x.finished_at), "played_s": x.played_s, "reason": x.reason,
        "level_dbfs": x.level_dbfs,
    }  # fmt: skip


def report_dict(rep: AiringReport) -> dict[str, Any]:
    return {
        **airing_dict(rep.airing),
        "speakers": [speaker_result_dict(x) for x in rep.speakers],
        "timeline": [{"at": iso(at), "what": what} for at, what in rep.timeline],
    }


# playout history --------------------------------------------------------------------------------------------


HISTORY_ORDER = ((Airing.start_at, False), (Airing.id, False))


def playout_history(
    s: Session,
    district: str,
    commune: str,
    start: datetime,
    end: datetime,
    after: keyset.Key | None = None,
    limit: int | None = None,
) -> list[Airing]:
    """The commune's airings planned in [start, end) (naive UTC), in time order; with `limit`, at most
    limit + 1 of them after the (start_at, id) key `after`."""
    q = select(Airing).where(
        Airing.district == district,
        Airing.commune == commune,
        Airing.start_at >= start,
        Airing.start_at < end,
    )
    if after is not None:
        q = q.where(keyset.after(HISTORY_ORDER, after))
    q = q.order_by(*keyset.order_by(HISTORY_ORDER))
    return list(s.scalars(q if limit is None else q.limit(limit + 1)))


def history_reports(
    s: Session,
    district: str,
    commune: str,
    start: datetime,
    end: datetime,
    after: keyset.Key | None = None,
    limit: int | None = None,
) -> list[AiringReport]:
    out = []
    for a in playout_history(s, district, commune, start, end, after, limit):
        rep = airing_report(s, a.id)
        if rep is not None:
            out.append(rep)
    return out


def local(dt: datetime | None, tz: ZoneInfo, fmt: str = CSV_TIME) -> str:
    d = utc(dt)
    return d.astimezone(tz).strftime(fmt) if d else ""


HISTORY_HEADER = [
    "Mã lượt phát", "Giờ phát (giờ Việt Nam)", "Chương trình", "Mức ưu tiên", "Kết quả", "Số loa phát",
    "Số loa nhận lệnh", "Độ lệch khởi phát (ms)", "Loa không phát và lý do", "Ghi chú",
]  # fmt: skip


def history_csv(reports: list[AiringReport], tz: ZoneInfo) -> bytes:
    """UTF-8 with BOM (Excel reads the Vietnamese), CRLF, local times; every text cell escaped against
    formulas (hub/core/csvsafe.py)."""
    rows: list[list[object]] = [list(HISTORY_HEADER)]
    for rep in reports:
        a = rep.airing
        missing = "; ".join(
            f"{x.name}: {x.reason or RECEIPT_LABELS.get(x.state, x.state)}" for x in rep.not_played
        )
        rows.append([
            a.id, local(a.start_at, tz), a.title, PRIORITY_LABELS.get(a.priority, a.priority),
            AIRING_STATUS_LABELS.get(a.status, a.status),
            a.played, a.targeted, "" if a.skew_ms is None else f"{a.skew_ms:.1f}", missing, a.reason or "",
        ])  # fmt: skip
    return csv_bytes(rows)
