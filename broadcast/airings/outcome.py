"""Pure rules of the proof of airing: how a receiver's event changes its receipt, and what an airing's
receipts add up to (aired / partial / failed, played, start skew).

Receivers queue their events on disk while offline and send them later with the original time, so an event
may arrive after the hub already gave up on that speaker (`no_answer`) or after the airing was finalised:
the rules accept such late reports and never move a receipt backwards (a late `ready` does not undo a
`started`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from broadcast.airings.models import (
    AIRING_AIRED,
    AIRING_CANCELLED,
    AIRING_FAILED,
    AIRING_INTERRUPTED,
    AIRING_PARTIAL,
    RECEIPT_FAILED,
    RECEIPT_FINISHED,
    RECEIPT_NO_ANSWER,
    RECEIPT_READY,
    RECEIPT_SENT,
    RECEIPT_STARTED,
    RECEIPT_STOPPED,
)

# Why a speaker did not play, in words for the report (receiver reasons are codes or Vietnamese text).
REASON_OFFLINE = "loa mất kết nối"
REASON_SILENT = "loa không trả lời"
REASON_PREEMPTED = "bị ngắt bởi phát khẩn cấp"
REASON_STOPPED = "dừng theo lệnh"
REASON_CANCELLED = "chương trình bị huỷ"
FAIL_REASONS = {  # contract FailReason codes
    "host_not_allowed": "địa chỉ tải âm thanh không được phép",
    "download": "không tải được âm thanh",
    "size": "âm thanh tải về sai kích thước",
    "checksum": "âm thanh tải về bị sai (sha256)",
    "decode": "không giải mã được âm thanh",
    "disk": "lỗi hoặc hết dung lượng đĩa",
    "late": "chuẩn bị xong quá muộn so với giờ phát",
    "sink": "lỗi thiết bị phát",
    "busy": "loa đang bận một chương trình khác",
    "preempted": REASON_PREEMPTED,
    "command": REASON_STOPPED,
    "replaced": "được thay bằng lệnh phát mới",
    "shutdown": "bộ thu bị tắt khi đang phát",
}

# Higher ranks are later in a receipt's life; an event may only move a receipt up (or fill in detail).
_RANK = {
    RECEIPT_SENT: 0,
    RECEIPT_NO_ANSWER: 1,
    RECEIPT_READY: 2,
    RECEIPT_FAILED: 3,
    RECEIPT_STARTED: 4,
    RECEIPT_STOPPED: 5,
    RECEIPT_FINISHED: 6,
}
RECEIPT_EVENTS = ("ready", "started", "finished", "failed", "stopped")


def reason_text(code: str | None) -> str | None:
    if code is None:
        return None
    return FAIL_REASONS.get(code, code)


@dataclass
class ReceiptView:
    """The parts of an AiringReceipt the rules read and write (the ORM row is copied in and out)."""

    speaker_key: str
    state: str = RECEIPT_SENT
    ready_at: datetime | None = None
    started_at: datetime | None = None
    started_offset_ms: float | None = None
    finished_at: datetime | None = None
    error: str | None = None
    played_s: float | None = None
    level_dbfs: float | None = None  # what it sent to the amplifier over the airing (finished/stopped)


@dataclass(frozen=True)
class ReceiverReport:
    event: str  # one of RECEIPT_EVENTS
    at: datetime  # the receiver's own time of the event (naive UTC)
    error: str | None = None
    first_sample_at: datetime | None = None
    offset_ms: float | None = None
    played_s: float | None = None
    reason: str | None = None  # contract FailReason code (failed, stopped)
    by: str | None = None  # stopped by this emergency airing
    level_dbfs: float | None = None


def apply_report(r: ReceiptView, rep: ReceiverReport) -> bool:
    """Applies one receiver event to its receipt; returns whether anything changed."""
    before = (
        r.state,
        r.ready_at,
        r.started_at,
        r.started_offset_ms,
        r.finished_at,
        r.error,
        r.played_s,
        r.level_dbfs,
    )
    rank = _RANK.get(r.state, 0)
    if rep.event == "ready":
        r.ready_at = r.ready_at or rep.at
        if rank < _RANK[RECEIPT_READY]:
            r.state = RECEIPT_READY
            r.error = None
    elif rep.event == "started":
        r.started_at = rep.first_sample_at or rep.at
        r.started_offset_ms = rep.offset_ms
        if rank < _RANK[RECEIPT_STARTED]:
            r.state = RECEIPT_STARTED
            r.error = None
    elif rep.event == "finished":
        r.state = RECEIPT_FINISHED
        r.finished_at = rep.at
        r.played_s = rep.played_s
        r.level_dbfs = rep.level_dbfs if rep.level_dbfs is not None else r.level_dbfs
        r.error = None
    elif rep.event == "failed":
        if rank <= _RANK[RECEIPT_FAILED] or r.state == RECEIPT_STARTED:
            r.state = RECEIPT_FAILED
            r.error = rep.error or reason_text(rep.reason) or "lỗi không rõ"
    elif rep.event == "stopped" and r.state != RECEIPT_FINISHED:
        r.state = RECEIPT_STOPPED
        r.finished_at = rep.at
        r.played_s = rep.played_s
        r.level_dbfs = rep.level_dbfs if rep.level_dbfs is not None else r.level_dbfs
        if rep.reason == "preempted":
            r.error = REASON_PREEMPTED + (f" ({rep.by})" if rep.by else "")
        else:
            r.error = rep.error or reason_text(rep.reason) or REASON_STOPPED
    after = (
        r.state,
        r.ready_at,
        r.started_at,
        r.started_offset_ms,
        r.finished_at,
        r.error,
        r.played_s,
        r.level_dbfs,
    )
    return before != after


def mark_no_answer(r: ReceiptView, offline: bool) -> bool:
    """At start + margin: a speaker that has not started is reported as not answering (or offline)."""
    if r.state not in (RECEIPT_SENT, RECEIPT_READY) or r.started_at is not None:
        return False
    r.state = RECEIPT_NO_ANSWER
    r.error = REASON_OFFLINE if offline else REASON_SILENT
    return True


@dataclass(frozen=True)
class Outcome:
    status: str
    targeted: int
    played: int
    skew_ms: float | None


def outcome(receipts: Iterable[ReceiptView], interrupted: bool, cancelled: bool = False) -> Outcome:
    """What an airing's receipts add up to. `played` counts speakers that started (a speaker stopped part-way
    by an emergency did air); skew is max − min of the first-sample offsets of those that started."""
    rs = list(receipts)
    offsets = [r.started_offset_ms for r in rs if r.started_at is not None]
    played = len(offsets)
    known = [o for o in offsets if o is not None]
    skew = round(max(known) - min(known), 3) if len(known) >= 1 else None
    if cancelled:
        status = AIRING_CANCELLED
    elif interrupted:
        status = AIRING_INTERRUPTED
    elif rs and played == len(rs):
        status = AIRING_AIRED
    elif played:
        status = AIRING_PARTIAL
    else:
        status = AIRING_FAILED
    return Outcome(status, len(rs), played, skew)


def planned_seconds(durations: Iterable[float], repeats: int, gap_s: float) -> float:
    """How long the whole playlist takes: the items `repeats` times with a gap between repeats."""
    one = sum(durations)
    return one * repeats + gap_s * max(repeats - 1, 0)


@dataclass(frozen=True)
class Timing:
    start_at: float
    end_at: float  # planned end of the whole playlist


def timing_of(order: dict[str, Any]) -> Timing:
    """When a stored order (`airings.order`) starts and is planned to end."""
    start = float(order.get("start_at", 0.0))
    items = order.get("items") or []
    if isinstance(order.get("relay"), dict):  # a relay lasts its own length, once
        return Timing(start, start + float(order["relay"].get("duration_s", 0.0)))
    dur = planned_seconds((float(i.get("duration_s", 0.0)) for i in items), int(order.get("repeats", 1)),
                          float(order.get("gap_s", 0.0)))  # fmt: skip
    return Timing(start, start + dur)
