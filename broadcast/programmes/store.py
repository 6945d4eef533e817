"""Changes people make to programmes (SQL, run in the SQL thread, one transaction each): create, edit, submit,
approve, reject, cancel, review an emergency, and replacing conflicting occurrences (the "store" stage of a save,
which save.py runs).

Every change writes an `ApprovalStep` and an audit entry (hub/core/audit.py) in the same transaction and bumps the
schedule revision so the scheduler leader replans.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from broadcast.orders import Priority
from broadcast.programmes.input import ProgrammeError, ProgrammeInput, check_future
from broadcast.programmes.models import (
    STATE_APPROVED,
    STATE_CANCELLED,
    STATE_DRAFT,
    STATE_PENDING,
    STATE_REJECTED,
    STEP_APPROVE,
    STEP_CANCEL,
    STEP_CREATE,
    STEP_EDIT,
    STEP_EMERGENCY,
    STEP_REJECT,
    STEP_REPLACE,
    STEP_REVIEW,
    STEP_SUBMIT,
    ApprovalStep,
    Programme,
    ProgrammeItem,
    ProgrammeSkip,
)
from broadcast.programmes.overlap import Conflict
from broadcast.programmes.revision import bump_schedule_rev
from broadcast.programmes.schedule import schedule_from_json
from broadcast.programmes.targets import naive
from hub.core.audit import record_change
from hub.core.auth import Principal


def snapshot(p: Programme, items: list[int] | None = None) -> dict[str, Any]:
    """The audit before/after record of a programme."""
    return {
        "title": p.title,
        "district": p.district,
        "commune": p.commune,
        "state": p.state,
        "priority": p.priority,
        "target_kind": p.target_kind,
        "target_ids": list(p.target_ids or []),
        "schedule": p.schedule,
        "repeats": p.repeats,
        "gap_s": p.gap_s,
        **({"items": items} if items is not None else {}),
    }


def item_ids(s: Session, programme_id: int) -> list[int]:
    return list(
        s.scalars(
            select(ProgrammeItem.content_id)
            .where(ProgrammeItem.programme_id == programme_id)
            .order_by(ProgrammeItem.position)
        )
    )


def _step(
    s: Session,
    p: Programme,
    actor: str,
    action: str,
    from_state: str | None,
    now: datetime,
    comment: str | None = None,
    before: dict[str, Any] | None = None,
) -> None:
    s.add(
        ApprovalStep(
            programme_id=p.id,
            at=now,
            actor=actor,
            action=action,
            from_state=from_state,
            to_state=p.state,
            comment=comment,
        )
    )
    after = snapshot(p)
    if comment:
        after["comment"] = comment
    record_change(
        s,
        actor=actor,
        action=f"programme.{action}",
        target=f"programme:{p.id}",
        now=now,
        before=before,
        after=after,
        district=p.district,
        commune=p.commune,
    )
    bump_schedule_rev(s)


def _apply(p: Programme, inp: ProgrammeInput) -> None:
    p.district, p.commune, p.title, p.note = inp.district, inp.commune, inp.title, inp.note
    p.target_kind, p.target_ids = inp.target_kind, list(inp.target_ids)
    p.schedule = inp.schedule.to_json()
    p.repeats, p.gap_s, p.priority = inp.repeats, inp.gap_s, str(inp.priority)


def _set_items(s: Session, p: Programme, items: tuple[int, ...]) -> None:
    s.execute(delete(ProgrammeItem).where(ProgrammeItem.programme_id == p.id))
    for i, cid in enumerate(items):
        s.add(ProgrammeItem(programme_id=p.id, position=i, content_id=cid))


def take_over(s: Session, p: Programme, conflicts: list[Conflict], actor: str, now: datetime) -> None:
    """The "replace" resolution: the conflicting occurrences give their shared speakers up to `p`."""
    seen: set[tuple[int, datetime]] = set()
    for c in conflicts:
        key = (c.other_id, c.other_start)
        if key in seen:
            continue
        seen.add(key)
        speakers = None if c.speakers == ("",) else list(c.speakers)
        s.add(
            ProgrammeSkip(
                programme_id=c.other_id,
                occurrence_at=naive(c.other_start),
                speakers=speakers,
                by_programme_id=p.id,
                created_by=actor,
                created_at=now,
            )
        )
    titles = sorted({f"#{c.other_id} «{c.other_title}»" for c in conflicts})
    _step(s, p, actor, STEP_REPLACE, p.state, now, f"Thay thế {len(seen)} lượt phát của {', '.join(titles)}")


def existing(
    s: Session, inp: ProgrammeInput, programme_id: int, version: int | None
) -> tuple[Programme, dict[str, Any]]:
    """The programme an edit changes, checked editable, and its audit "before" record."""
    p = s.get(Programme, programme_id)
    if p is None:
        raise ProgrammeError("id", "Không tìm thấy chương trình", 404, "not_found")
    if (p.district, p.commune) != (inp.district, inp.commune):
        raise ProgrammeError("commune", "Không được chuyển chương trình sang xã khác")
    if p.state == STATE_CANCELLED:
        raise ProgrammeError("state", "Chương trình đã huỷ, không sửa được", 409, "bad_state")
    if version is not None and version != p.version:
        raise ProgrammeError(
            "version", "Chương trình vừa được người khác thay đổi; hãy tải lại trang", 409, "stale"
        )
    return p, snapshot(p, item_ids(s, p.id))


def create(s: Session, inp: ProgrammeInput, actor: str, now: datetime) -> Programme:
    p = Programme(state=STATE_DRAFT, created_by=actor, created_at=now, version=1)
    _apply(p, inp)
    s.add(p)
    s.flush()
    _set_items(s, p, inp.items)
    _step(s, p, actor, STEP_CREATE, None, now)
    return p


def edit(
    s: Session, p: Programme, inp: ProgrammeInput, actor: str, now: datetime, before: dict[str, Any] | None
) -> None:
    """An edit sends an approved programme back for approval and a rejected one back to draft."""
    old_state = p.state
    _apply(p, inp)
    _set_items(s, p, inp.items)
    p.updated_by, p.updated_at, p.version = actor, now, p.version + 1
    if p.state == STATE_APPROVED:
        p.state, p.approved_by, p.approved_at, p.anchor_at = STATE_PENDING, None, None, None
    elif p.state == STATE_REJECTED:
        p.state = STATE_DRAFT
    _step(s, p, actor, STEP_EDIT, old_state, now, None, before)


# state changes -----------------------------------------------------------------------------------------------


def submit_programme(s: Session, p: Programme, actor: str, now: datetime) -> None:
    if p.state not in (STATE_DRAFT, STATE_REJECTED):
        raise ProgrammeError(
            "state", "Chỉ gửi duyệt được bản nháp hoặc chương trình bị từ chối", 409, "bad_state"
        )
    old = p.state
    p.state, p.submitted_at = STATE_PENDING, now
    _step(s, p, actor, STEP_SUBMIT, old, now)


def approve_programme(
    s: Session, p: Programme, who: Principal, comment: str | None, now: datetime, tz: ZoneInfo
) -> None:
    if p.state != STATE_PENDING:
        raise ProgrammeError("state", "Chỉ duyệt được chương trình đang chờ duyệt", 409, "bad_state")
    if who.username in (p.created_by, p.updated_by):
        raise ProgrammeError(
            "approver", "Người tạo hoặc người sửa chương trình không được tự duyệt", 403, "self_approval"
        )
    check_future(schedule_from_json(p.schedule), now.replace(tzinfo=UTC), tz)
    p.state, p.approved_by, p.approved_at = STATE_APPROVED, who.username, now
    if p.schedule.get("kind") == "now":
        p.anchor_at = now.replace(microsecond=0)
    _step(s, p, who.username, STEP_APPROVE, STATE_PENDING, now, comment)


def reject_programme(s: Session, p: Programme, who: Principal, comment: str | None, now: datetime) -> None:
    if p.state != STATE_PENDING:
        raise ProgrammeError("state", "Chỉ từ chối được chương trình đang chờ duyệt", 409, "bad_state")
    if not comment:
        raise ProgrammeError("comment", "Hãy ghi lý do từ chối để người soạn sửa lại")
    p.state = STATE_REJECTED
    _step(s, p, who.username, STEP_REJECT, STATE_PENDING, now, comment)


def cancel_programme(s: Session, p: Programme, actor: str, comment: str | None, now: datetime) -> None:
    if p.state == STATE_CANCELLED:
        raise ProgrammeError("state", "Chương trình đã huỷ trước đó", 409, "bad_state")
    old = p.state
    p.state, p.cancelled_at = STATE_CANCELLED, now
    _step(s, p, actor, STEP_CANCEL, old, now, comment)


def review_emergency(s: Session, p: Programme, who: Principal, comment: str | None, now: datetime) -> None:
    if not p.needs_review:
        raise ProgrammeError("state", "Chương trình này không cần xem lại", 409, "bad_state")
    p.needs_review = False
    _step(s, p, who.username, STEP_REVIEW, p.state, now, comment)


def record_emergency_air(s: Session, p: Programme, actor: str, now: datetime, occurrence: datetime) -> None:
    """An emergency aired without prior approval: recorded and marked for review. A `now` programme becomes
    approved with this occurrence as its anchor (so the scheduler sees it as already aired)."""
    if p.priority != Priority.EMERGENCY:
        raise ProgrammeError(
            "priority", "Chỉ chương trình mức khẩn cấp mới được phát ngay không cần duyệt", 409
        )
    if p.state == STATE_CANCELLED:
        raise ProgrammeError("state", "Chương trình đã huỷ", 409, "bad_state")
    old = p.state
    if p.schedule.get("kind") == "now":
        p.state, p.anchor_at = STATE_APPROVED, occurrence
        p.approved_by, p.approved_at = None, now
    p.needs_review = True
    _step(s, p, actor, STEP_EMERGENCY, old, now, "Phát khẩn cấp ngay, chưa qua duyệt")
