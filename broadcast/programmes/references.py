"""The input stage's SQL half: a programme's content, villages and speakers must exist in its commune."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcast.content.models import BroadcastContent
from broadcast.programmes.input import ProgrammeError, ProgrammeInput
from broadcast.programmes.models import TARGET_SPEAKERS, TARGET_VILLAGES
from hub.core.geo import Village
from hub.core.speaker_models import Speaker


def check_refs(s: Session, inp: ProgrammeInput) -> list[BroadcastContent]:
    """Content must be in the programme's commune and not deleted; villages and speakers must exist there."""
    rows = {c.id: c for c in s.scalars(select(BroadcastContent).where(BroadcastContent.id.in_(inp.items)))}
    for cid in inp.items:
        c = rows.get(cid)
        if c is None or c.deleted_at is not None:
            raise ProgrammeError("items", f"Không tìm thấy nội dung #{cid} trong thư viện")
        if (c.district, c.commune) != (inp.district, inp.commune):
            raise ProgrammeError("items", f"Nội dung #{cid} «{c.title}» thuộc xã khác")
    if inp.target_kind == TARGET_VILLAGES:
        known = set(
            s.scalars(
                select(Village.slug).where(Village.district == inp.district, Village.commune == inp.commune)
            )
        )
        missing = [t for t in inp.target_ids if t not in known]
        if missing:
            raise ProgrammeError("target_ids", f"Không có thôn {', '.join(missing[:5])} trong xã")
    elif inp.target_kind == TARGET_SPEAKERS:
        known = set(
            s.scalars(
                select(Speaker.slug).where(
                    Speaker.district == inp.district,
                    Speaker.commune == inp.commune,
                    Speaker.pending.is_(False),
                )
            )
        )
        missing = [t for t in inp.target_ids if t not in known]
        if missing:
            raise ProgrammeError("target_ids", f"Không có cụm loa {', '.join(missing[:5])} trong xã")
    return [rows[cid] for cid in inp.items]
