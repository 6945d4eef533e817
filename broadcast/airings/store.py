"""SQL side of dispatch: airings and their receipts as the dispatcher reads and writes them (each function runs
inside `Database.run`, in the shared SQL thread). The flow is one way: dispatcher → store → outcome rules; the
dispatcher hands the store what it knows (reports, which speakers are offline) and never edits receipts itself."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcast.airings.models import (
    AIRING_CANCELLED,
    AIRING_DISPATCHED,
    AIRING_FAILED,
    AIRING_MISSED,
    AIRING_PLAYING,
    AIRING_SCHEDULED,
    RECEIPT_FAILED,
    RECEIPT_SENT,
    Airing,
    AiringReceipt,
)
from broadcast.airings.outcome import (
    REASON_CANCELLED,
    Outcome,
    ReceiptView,
    ReceiverReport,
    apply_report,
    mark_no_answer,
    outcome,
)
from broadcast.orders import AiringOrder
from hub.core.db import to_db_time
from hub.core.serialize import iso

ACTIVE = (AIRING_SCHEDULED, AIRING_DISPATCHED, AIRING_PLAYING)  # not finalised yet
NOT_REOPENED = (AIRING_CANCELLED, AIRING_MISSED)  # late reports change receipts, never these statuses


def order_dict(order: AiringOrder) -> dict[str, Any]:
    d = dataclasses.asdict(order)
    d["priority"] = str(order.priority)
    return d


def view_of(r: AiringReceipt) -> ReceiptView:
    return ReceiptView(
        r.speaker_key,
        r.state,
        r.ready_at,
        r.started_at,
        r.started_offset_ms,
        r.finished_at,
        r.error,
        r.played_s,
        r.level_dbfs,
    )


def copy_view(v: ReceiptView, r: AiringReceipt) -> None:
    r.state, r.ready_at, r.started_at = v.state, v.ready_at, v.started_at
    r.started_offset_ms, r.finished_at, r.error, r.played_s = (
        v.started_offset_ms,
        v.finished_at,
        v.error,
        v.played_s,
    )
    r.level_dbfs = v.level_dbfs


def open_airing(s: Session, order: AiringOrder, keys: Iterable[str], now: datetime) -> Airing:
    """Marks the airing dispatched and creates a receipt per targeted speaker (the scheduler made the Airing
    row; one is made here when it did not, e.g. an order built by hand)."""
    a = s.get(Airing, order.airing_id)
    start = to_db_time(order.start_at)
    if a is None:
        a = Airing(
            id=order.airing_id, programme_id=order.programme_id, occurrence_at=start, start_at=start,
            district=order.district, commune=order.commune, title=order.title, priority=str(order.priority),
            created_at=now,
        )  # fmt: skip
        s.add(a)
    a.start_at = start
    a.status = AIRING_DISPATCHED
    a.order = order_dict(order)
    keys = list(dict.fromkeys(keys))
    a.targeted = len(keys)
    have = {r.speaker_key for r in s.scalars(select(AiringReceipt).where(AiringReceipt.airing_id == a.id))}
    for k in keys:
        if k not in have:
            s.add(AiringReceipt(airing_id=a.id, speaker_key=k))
    return a


def mark_unsent(s: Session, airing_id: str, errors: dict[str, str]) -> None:
    """Receipts of speakers whose prepare command the broker did not take (a later report still counts)."""
    for r in receipts(s, airing_id):
        if r.speaker_key in errors and r.state == RECEIPT_SENT:
            r.state, r.error = RECEIPT_FAILED, errors[r.speaker_key]


@dataclass(frozen=True)
class Report:
    airing_id: str
    speaker_key: str
    report: ReceiverReport
    received: datetime  # when the hub heard it (naive UTC)


def apply_reports(s: Session, reports: list[Report]) -> tuple[list[Airing], list[tuple[str, str, str]]]:
    """Applies receiver reports in order. Returns the airings whose receipts changed and the reports about a
    receipt that does not exist (an airing not sent to that speaker): (airing, speaker, event)."""
    changed: dict[str, Airing] = {}
    unknown: list[tuple[str, str, str]] = []
    for x in reports:
        r = s.get(AiringReceipt, (x.airing_id, x.speaker_key))
        a = s.get(Airing, x.airing_id)
        if r is None or a is None:
            unknown.append((x.airing_id, x.speaker_key, x.report.event))
            continue
        rep = x.report
        v = view_of(r)
        if apply_report(v, rep):
            changed[a.id] = a
        copy_view(v, r)
        r.reported_at = x.received
        if rep.event == "stopped" and rep.reason == "preempted" and rep.by and a.interrupted_by is None:
            a.interrupted_by = rep.by
            a.reason = f"Bị ngắt bởi phát khẩn cấp {rep.by}"
        if rep.event == "started" and a.status == AIRING_DISPATCHED:
            a.status = AIRING_PLAYING
    return list(changed.values()), unknown


def receipts(s: Session, airing_id: str) -> list[AiringReceipt]:
    return list(s.scalars(select(AiringReceipt).where(AiringReceipt.airing_id == airing_id)))


def finalise(s: Session, airing_id: str, now: datetime) -> tuple[Airing, Outcome] | None:
    """Adds up the receipts into the airing's status, counts and skew (again after a late report)."""
    a = s.get(Airing, airing_id)
    if a is None:
        return None
    views = [view_of(r) for r in receipts(s, airing_id)]
    res = outcome(views, interrupted=a.interrupted_by is not None, cancelled=a.status == AIRING_CANCELLED)
    if a.status != AIRING_MISSED:
        a.status = res.status
    a.targeted, a.played, a.skew_ms = res.targeted, res.played, res.skew_ms
    if not views and a.status == AIRING_FAILED:
        a.reason = a.reason or "Không có loa nào trong phạm vi phát"
    a.finished_at = a.finished_at or now
    return a, res


def cancel_airing(s: Session, airing_id: str, reason: str) -> tuple[Airing, list[str]] | None:
    """Marks the airing cancelled and its receipts that never started stopped. Returns it with the speakers
    whose receipts are still open (they get a stop), or None when there is no such airing."""
    a = s.get(Airing, airing_id)
    if a is None:
        return None
    a.status, a.reason = AIRING_CANCELLED, reason
    open_keys = []
    for r in receipts(s, airing_id):
        v = view_of(r)
        if v.started_at is None and mark_no_answer(v, offline=False):
            v.state, v.error = "stopped", REASON_CANCELLED
            copy_view(v, r)
        if r.finished_at is None:
            open_keys.append(r.speaker_key)
    return a, open_keys


def mark_silent(s: Session, airing_id: str, is_offline: Callable[[str], bool]) -> tuple[Airing | None, int]:
    """Receipts not started by start + margin are marked `no_answer` (offline or silent): the airing and how many
    were marked."""
    n = 0
    for r in receipts(s, airing_id):
        v = view_of(r)
        if mark_no_answer(v, offline=is_offline(r.speaker_key)):
            copy_view(v, r)
            n += 1
    return s.get(Airing, airing_id), n


def active_airings(s: Session) -> list[Airing]:
    """Airings sent to receivers but not finalised: their timers are armed again after a hub restart."""
    rows = s.scalars(select(Airing).where(Airing.status.in_((AIRING_DISPATCHED, AIRING_PLAYING))))
    return [a for a in rows if a.order]


def finished_since(s: Session, since: datetime) -> list[Airing]:
    return list(s.scalars(select(Airing).where(Airing.finished_at >= since)))


def airing_dict(a: Airing) -> dict[str, Any]:
    """The airing in `airing` live events and the API (without receipts)."""
    return {
        "id": a.id, "programme_id": a.programme_id, "district": a.district, "commune": a.commune,
        "title": a.title, "priority": a.priority, "status": a.status, "reason": a.reason,
        "start_at": iso(a.start_at), "targeted": a.targeted, "played": a.played, "skew_ms": a.skew_ms,
        "interrupted_by": a.interrupted_by, "finished_at": iso(a.finished_at),
    }  # fmt: skip
