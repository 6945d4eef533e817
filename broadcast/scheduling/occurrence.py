"""One occurrence of a programme into its airing (SQL, run in the SQL thread): checks that it is still due,
applies the misfire decision, resolves speakers (less those given up to a replacing programme) and items, and
INSERTs the airing row once per occurrence, with the order the scheduler then dispatches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from broadcast.airings.models import AIRING_CANCELLED, AIRING_FAILED, AIRING_MISSED, AIRING_SCHEDULED, Airing
from broadcast.orders import AiringOrder, Priority
from broadcast.programmes import targets
from broadcast.programmes.models import STATE_APPROVED, Programme
from broadcast.programmes.schedule import occurrences, schedule_from_json
from broadcast.scheduling import plan
from broadcast.scheduling.misfire import Action, MisfirePolicy, decide, late_note, missed_reason
from hub.core.db import to_db_time

NO_SPEAKERS = "Không có cụm loa nào trong vùng phát của chương trình"


@dataclass(frozen=True)
class Prepared:
    order: AiringOrder | None  # to dispatch; None when nothing to send
    airing_id: str | None
    status: str | None  # status the airing row was created with
    reason: str | None = None


class OccurrenceAirings:
    """Shares the scheduler's time zone, misfire policy, clock and counters."""

    def __init__(
        self, tz: ZoneInfo, policy: MisfirePolicy, clock: Callable[[], float], counters: dict[str, int]
    ) -> None:
        self.tz = tz
        self.policy = policy
        self.clock = clock
        self.counters = counters

    def prepare(self, s: Session, programme_id: int, occ: datetime, now: float) -> Prepared:
        """The airing of the occurrence `occ` of a programme, decided at `now` (epoch s) by the misfire rules:
        nothing when it is no longer due, a missed row, or a row with the order to dispatch."""
        p = s.get(Programme, programme_id)
        if p is None or p.state != STATE_APPROVED:
            return Prepared(None, None, None)
        sched = schedule_from_json(p.schedule)
        if sched.kind == "now":
            if p.anchor_at is None or targets.aware(p.anchor_at) != occ:
                return Prepared(None, None, None)
        elif occ not in occurrences(sched, self.tz, occ, occ + timedelta(seconds=1)):
            return Prepared(None, None, None)  # schedule changed since the job was planned
        d = decide(occ.timestamp(), Priority(p.priority), now, self.policy)
        if d.action == Action.PREPARE_AT:
            return Prepared(None, None, None)  # fired early (clock step); the next plan sets it again
        start = datetime.fromtimestamp(d.start_at, UTC)
        if d.action == Action.MISSED:
            row = plan.new_airing(p, occ, occ, AIRING_MISSED)
            row.reason = missed_reason(d.late_s)
            row.finished_at = to_db_time(now)
            return self._insert(s, row, None)
        # A `now` programme's occurrence is its approval moment: starting a little after it is the plan, not late.
        return self.build(s, p, occ, start, 0.0 if sched.kind == "now" else d.late_s)

    def build(self, s: Session, p: Programme, occ: datetime, start: datetime, late_s: float) -> Prepared:
        row = plan.new_airing(p, occ, start)
        if late_s > 0:
            row.reason = late_note(late_s)
        speakers = targets.resolve_speakers(s, p)
        skipped = plan.skipped_speakers(s, p.id, occ)
        if skipped is None:
            speakers = []
        elif skipped:
            speakers = [x for x in speakers if x not in skipped]
        rows = plan.programme_items(s, p.id)
        items, problem = plan.play_items(rows)
        relay, relay_problem = plan.relay_of(s, rows) if problem is None and not items else (None, None)
        problem = problem or relay_problem
        if skipped is None or (skipped and not speakers):
            row.status, row.reason = AIRING_CANCELLED, "Nhường cho chương trình khác (thay thế khi xếp lịch)"
        elif problem is not None or not speakers:
            row.status, row.reason = AIRING_FAILED, problem or NO_SPEAKERS
        if row.status != AIRING_SCHEDULED:
            row.finished_at = to_db_time(self.clock())
            return self._insert(s, row, None)
        order = AiringOrder(
            airing_id=row.id,
            programme_id=p.id,
            title=p.title,
            district=p.district,
            commune=p.commune,
            speakers=tuple(speakers),
            items=items,
            repeats=p.repeats,
            gap_s=p.gap_s,
            start_at=start.timestamp(),
            priority=Priority(p.priority),
            relay=relay,
        )
        row.targeted = len(speakers)
        row.order = plan.order_json(order)
        return self._insert(s, row, order)

    def _insert(self, s: Session, row: Airing, order: AiringOrder | None) -> Prepared:
        if not plan.insert_airing(s, row):
            self.counters["doubles_avoided"] += 1
            return Prepared(None, None, None)
        return Prepared(order, row.id, row.status, row.reason)


def set_status(s: Session, airing_id: str, status: str, reason: str, now: datetime) -> None:
    row = s.get(Airing, airing_id)
    if row is not None:
        row.status, row.reason, row.finished_at = status, reason, now
