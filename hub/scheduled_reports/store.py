"""SQL of the scheduled reports (run in the SQL thread): report rows, their deliveries, retries and pruning."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from hub.scheduled_reports.config import RetryConfig
from hub.scheduled_reports.models import FAILED, PENDING, SENT, SKIPPED, ReportDelivery, ReportRun


def find_run(s: Session, kind: str, district: str, commune: str, start: datetime) -> ReportRun | None:
    return s.scalars(
        select(ReportRun).where(
            ReportRun.kind == kind,
            ReportRun.district == district,
            ReportRun.commune == commune,
            ReportRun.period_start == start,
        )
    ).first()


def add_deliveries(s: Session, run_id: int, targets: list[tuple[str, str, bool]], now: datetime) -> int:
    """(channel, target, live) per receiver; a receiver whose channel is not set up is `skipped` with the reason."""
    have = {
        (d.channel, d.target)
        for d in s.scalars(select(ReportDelivery).where(ReportDelivery.report_id == run_id))
    }
    n = 0
    for channel, target, live in targets:
        if (channel, target) in have:
            continue
        s.add(
            ReportDelivery(
                report_id=run_id,
                channel=channel,
                target=target,
                state=PENDING if live else SKIPPED,
                next_try_at=now,
                last_error=None if live else "kênh gửi chưa được cấu hình",
            )
        )
        n += 1
    return n


def due(s: Session, now: datetime, limit: int) -> list[tuple[ReportDelivery, ReportRun]]:
    rows = s.execute(
        select(ReportDelivery, ReportRun)
        .join(ReportRun, ReportRun.id == ReportDelivery.report_id)
        .where(ReportDelivery.state == PENDING, ReportDelivery.next_try_at <= now)
        .order_by(ReportDelivery.next_try_at, ReportDelivery.id)
        .limit(limit)
    ).all()
    for d, _ in rows:
        s.expunge(d)
    return [(d, r) for d, r in rows]


def backoff_s(attempts: int, cfg: RetryConfig) -> float:
    return float(min(cfg.max_s, cfg.base_s * 2 ** max(0, attempts - 1)))


def record(
    s: Session, delivery_id: int, ok: bool, retry: bool, error: str, now: datetime, cfg: RetryConfig
) -> str:
    d = s.get(ReportDelivery, delivery_id)
    if d is None or d.state != PENDING:
        return "gone"
    d.attempts += 1
    if ok:
        d.state, d.sent_at, d.last_error = SENT, now, None
    elif retry and d.attempts < cfg.max_attempts:
        d.next_try_at = now + timedelta(seconds=backoff_s(d.attempts, cfg))
        d.last_error = error[:500]
    else:
        d.state = FAILED
        d.last_error = (error if not retry else f"hết {d.attempts} lượt thử: {error}")[:500]
    return d.state


def retry_delivery(s: Session, delivery_id: int, now: datetime) -> ReportDelivery | None:
    d = s.get(ReportDelivery, delivery_id)
    if d is None:
        return None
    if d.state in (FAILED, SKIPPED, SENT):
        d.state, d.attempts, d.next_try_at = PENDING, 0, now
    return d


def prune(s: Session, before: datetime) -> list[int]:
    ids = list(s.scalars(select(ReportRun.id).where(ReportRun.created_at < before)))
    if ids:
        s.execute(delete(ReportDelivery).where(ReportDelivery.report_id.in_(ids)))
        s.execute(delete(ReportRun).where(ReportRun.id.in_(ids)))
    return ids


def mark_files(s: Session, run_id: int, pdf: int, csv: int, error: str | None, now: datetime) -> None:
    s.execute(
        update(ReportRun)
        .where(ReportRun.id == run_id)
        .values(pdf_bytes=pdf, csv_bytes=csv, error=error, created_at=now)
    )
