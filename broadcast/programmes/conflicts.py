"""Conflicts of a programme being saved with the commune's pending/approved programmes (SQL side of
overlap.py, the "conflicts" stage of saving a programme), and one round of the "play after" resolution that
shifts the schedule past them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcast.content.models import BroadcastContent
from broadcast.orders import Priority
from broadcast.programmes.input import ProgrammeError, ProgrammeInput
from broadcast.programmes.models import (
    STATE_APPROVED,
    STATE_PENDING,
    Programme,
    ProgrammeItem,
    ProgrammeSkip,
)
from broadcast.programmes.overlap import (
    Conflict,
    find_conflicts,
    play_after_delta,
    programme_length_s,
    slots_for,
)
from broadcast.programmes.schedule import ScheduleError, occurrences, schedule_from_json
from broadcast.programmes.targets import Placed, aware, target_speakers


def _durations(s: Session, programme_ids: list[int]) -> dict[int, list[float]]:
    out: dict[int, list[float]] = {pid: [] for pid in programme_ids}
    rows = s.execute(
        select(ProgrammeItem.programme_id, BroadcastContent.duration_s)
        .join(BroadcastContent, BroadcastContent.id == ProgrammeItem.content_id)
        .where(ProgrammeItem.programme_id.in_(programme_ids))
    )
    for pid, d in rows:
        out[pid].append(d)
    return out


def find_programme_conflicts(
    s: Session, inp: ProgrammeInput, placed: Placed, exclude_id: int | None, tz: ZoneInfo
) -> list[Conflict]:
    """Conflicts of the placed `inp` with the commune's pending/approved programmes in the same window."""
    start, end, speakers = placed.start, placed.end, placed.speakers
    others_q = select(Programme).where(
        Programme.district == inp.district,
        Programme.commune == inp.commune,
        Programme.state.in_((STATE_PENDING, STATE_APPROVED)),
    )
    if exclude_id is not None:
        others_q = others_q.where(Programme.id != exclude_id)
    others = list(s.scalars(others_q))
    lengths = _durations(s, [o.id for o in others])
    given_up: set[tuple[int, datetime]] = set()
    if exclude_id is not None:
        for pid, at in s.execute(
            select(ProgrammeSkip.programme_id, ProgrammeSkip.occurrence_at).where(
                ProgrammeSkip.by_programme_id == exclude_id
            )
        ):
            given_up.add((pid, at.replace(tzinfo=UTC)))
    other_slots = []
    for o in others:
        anchor = aware(o.anchor_at) if o.anchor_at else None
        starts = [
            t
            for t in occurrences(schedule_from_json(o.schedule), tz, start - timedelta(hours=3), end, anchor)
            if (o.id, t) not in given_up
        ]
        other_slots += slots_for(
            o.id,
            o.title,
            Priority(o.priority),
            o.state,
            starts,
            programme_length_s(lengths[o.id], o.repeats, o.gap_s),
            frozenset(target_speakers(o, speakers)),
            o.target_kind == "commune",
        )
    return find_conflicts(placed.slots, other_slots)


def play_after(inp: ProgrammeInput, conflicts: list[Conflict]) -> tuple[ProgrammeInput, float]:
    """The "play after" resolution, one round: `inp` shifted past the conflicts, and by how many seconds (rounded
    up to the minute)."""
    delta = play_after_delta(conflicts)
    try:
        sched = inp.schedule.shifted(delta)
    except ScheduleError as exc:
        raise ProgrammeError(f"schedule.{exc.field}", exc.message, 409, "conflict") from None
    return ProgrammeInput(**{**inp.__dict__, "schedule": sched}), (delta.total_seconds() + 59) // 60 * 60
