"""Outbox operations in SQL (each runs inside `Database.run`): store, claim, record results, recover, list.

A row is stored before anything is sent, once per (event_id, channel, target): a notice submitted again after
a restart finds its rows and adds none. A row is claimed (`sending`, attempts + 1, the sender's fencing token)
and committed before the request goes out, so after a crash a `sending` row is known to be in doubt and becomes
`unknown` — only the rows claimed under an earlier token, never those of the sender now at work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.notify.models import (
    CHANNEL_NONE,
    PENDING,
    PRUNABLE,
    RETRYABLE,
    SENDING,
    UNKNOWN,
    ChannelToken,
    OutboxRow,
)

RECOVERED_ERROR = "hub dừng khi đang gửi: không rõ đã tới chưa, không tự gửi lại (bấm Gửi lại nếu cần)"


@dataclass(frozen=True, slots=True)
class NewRow:
    event_id: str
    channel: str
    target: str
    target_name: str
    route: str
    kind: str
    severity: str
    notice_status: str
    district: str
    commune: str
    text: str
    snapshot_camera: str | None
    state: str
    next_try_at: datetime
    held_until: datetime | None = None
    last_error: str | None = None


def store(s: Session, rows: list[NewRow], now: datetime) -> int:
    """Inserts the rows not stored yet; returns how many were new."""
    if not rows:
        return 0
    event_ids = {r.event_id for r in rows}
    have = {
        (e, c, t)
        for e, c, t in s.execute(
            select(OutboxRow.event_id, OutboxRow.channel, OutboxRow.target).where(
                OutboxRow.event_id.in_(event_ids)
            )
        )
    }
    added = 0
    for r in rows:
        if (r.event_id, r.channel, r.target) in have:
            continue
        try:
            with s.begin_nested():  # another hub worker may have stored it a moment ago
                s.add(OutboxRow(**{k: getattr(r, k) for k in NewRow.__slots__}, created_at=now, attempts=0))
            added += 1
        except IntegrityError:
            continue
    return added


def recover_interrupted(s: Session, now: datetime, token: int | None = None) -> int:
    """Rows left `sending` by a sender that stopped or died (claimed under a token below `token`; every row
    when `token` is None): in doubt, shown as `unknown`, never resent by themselves."""
    q = update(OutboxRow).where(OutboxRow.state == SENDING)
    if token is not None:
        q = q.where(or_(OutboxRow.claim_token.is_(None), OutboxRow.claim_token < token))
    res = s.execute(q.values(state=UNKNOWN, last_error=RECOVERED_ERROR, next_try_at=now))
    return int(getattr(res, "rowcount", 0) or 0)


def claim_due(
    s: Session, now: datetime, limit: int, paused: frozenset[str], token: int | None = None
) -> list[OutboxRow]:
    q = (
        select(OutboxRow)
        .where(OutboxRow.state == PENDING, OutboxRow.next_try_at <= now, OutboxRow.channel != CHANNEL_NONE)
        .order_by(OutboxRow.next_try_at, OutboxRow.id)
        .limit(limit)
        # PostgreSQL: two hub workers never claim the same row (SQLite serialises writers anyway).
        .with_for_update(skip_locked=True)
    )
    if paused:
        q = q.where(OutboxRow.channel.not_in(paused))
    rows = list(s.scalars(q))
    for r in rows:
        r.state = SENDING
        r.attempts += 1
        r.claim_token = token
    s.flush()
    for r in rows:
        s.expunge(r)
    return rows


def next_due(s: Session, paused: frozenset[str]) -> datetime | None:
    q = select(func.min(OutboxRow.next_try_at)).where(
        OutboxRow.state == PENDING, OutboxRow.channel != CHANNEL_NONE
    )
    if paused:
        q = q.where(OutboxRow.channel.not_in(paused))
    return s.scalar(q)


def finish(s: Session, row_id: int, **values: object) -> None:
    s.execute(update(OutboxRow).where(OutboxRow.id == row_id, OutboxRow.state == SENDING).values(**values))


def token_block(s: Session) -> str | None:
    """Why the OA channel is blocked, as stored (None: not blocked, or nothing stored yet)."""
    row = s.get(ChannelToken, "oa")
    return None if row is None else row.blocked_reason


def counts(s: Session) -> dict[str, int]:
    return {
        str(state): int(n)
        for state, n in s.execute(select(OutboxRow.state, func.count()).group_by(OutboxRow.state))
    }


def prune(s: Session, cutoff: datetime) -> int:
    res = s.execute(delete(OutboxRow).where(OutboxRow.created_at < cutoff, OutboxRow.state.in_(PRUNABLE)))
    return int(getattr(res, "rowcount", 0) or 0)


def retry_now(s: Session, row: OutboxRow, now: datetime) -> None:
    """A person asked to send a failed, dead or in-doubt row again."""
    assert row.state in RETRYABLE
    if row.state == UNKNOWN:  # it may have arrived before the hub stopped: sending again may duplicate it
        row.doubtful += 1
    row.state = PENDING
    row.attempts = 0
    row.next_try_at = now
    row.held_until = None
