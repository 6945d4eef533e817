"""Saving a programme (create or edit), one SQL transaction run as a pipeline of stages, each called once in
order from here: input (references.py: content, villages and speakers exist) → targets and occurrences
(targets.py) → conflicts (conflicts.py; the "play after" resolution shifts and places again) → store (store.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from broadcast.programmes import store
from broadcast.programmes.conflicts import find_programme_conflicts, play_after
from broadcast.programmes.input import ProgrammeInput
from broadcast.programmes.models import STATE_DRAFT, Programme
from broadcast.programmes.overlap import Conflict
from broadcast.programmes.references import check_refs
from broadcast.programmes.targets import place

MAX_SHIFT_ROUNDS = 5


@dataclass
class SaveResult:
    programme: Programme | None
    conflicts: list[Conflict]  # non-empty and programme None: refused (409), the caller must choose
    shifted_by_s: float = 0.0  # "after": how much later than asked it was scheduled


def check_conflicts(
    s: Session,
    inp: ProgrammeInput,
    durations: list[float],
    exclude_id: int | None,
    now: datetime,
    tz: ZoneInfo,
    horizon_days: int,
) -> list[Conflict]:
    """Conflicts of `inp` with the commune's pending/approved programmes in the next `horizon_days`."""
    return find_programme_conflicts(s, inp, place(s, inp, durations, now, tz, horizon_days), exclude_id, tz)


def resolve_conflicts(
    s: Session,
    inp: ProgrammeInput,
    durations: list[float],
    exclude_id: int | None,
    resolution: str,
    now: datetime,
    tz: ZoneInfo,
    horizon_days: int,
) -> tuple[ProgrammeInput, list[Conflict], float]:
    """The conflicts left after the resolution, with `inp` as shifted by "after" and by how much."""
    conflicts = check_conflicts(s, inp, durations, exclude_id, now, tz, horizon_days)
    shifted = 0.0
    rounds = 0
    while conflicts and resolution == "after" and rounds < MAX_SHIFT_ROUNDS:
        inp, by_s = play_after(inp, conflicts)
        shifted += by_s
        conflicts = check_conflicts(s, inp, durations, exclude_id, now, tz, horizon_days)
        rounds += 1
    return inp, conflicts, shifted


def save_programme(
    s: Session,
    inp: ProgrammeInput,
    actor: str,
    now: datetime,
    tz: ZoneInfo,
    horizon_days: int,
    *,
    programme_id: int | None = None,
    submit: bool = False,
    resolution: str = "none",
    version: int | None = None,
    ignore_conflicts: bool = False,
) -> SaveResult:
    """Creates (programme_id None) or edits a programme. `resolution`: none (conflicts → refused with the list),
    after (shift later until free) or replace (take the other occurrences' place on the shared speakers)."""
    contents = check_refs(s, inp)
    p: Programme | None = None
    before: dict[str, Any] | None = None
    if programme_id is not None:
        p, before = store.existing(s, inp, programme_id, version)
    durations = [c.duration_s for c in contents]
    conflicts: list[Conflict] = []
    shifted = 0.0
    if not ignore_conflicts:  # an emergency aired now preempts whatever plays: nothing to resolve
        inp, conflicts, shifted = resolve_conflicts(
            s, inp, durations, programme_id, resolution, now, tz, horizon_days
        )
    if conflicts and resolution != "replace":
        return SaveResult(None, conflicts)
    if p is None:
        p = store.create(s, inp, actor, now)
    else:
        store.edit(s, p, inp, actor, now, before)
    if submit and p.state == STATE_DRAFT:
        store.submit_programme(s, p, actor, now)
    if conflicts:
        store.take_over(s, p, conflicts, actor, now)
    return SaveResult(p, conflicts if resolution == "replace" else [], shifted)
