"""Pure decisions about when an airing plays (every function takes `now`)."""

from __future__ import annotations

from typing import Literal

from contract import PreparePlaylist, RelayPlan

Plan = PreparePlaylist | RelayPlan

StartDecision = Literal["wait", "now", "late"]


def planned_duration(plan: Plan) -> float:
    """Seconds the whole playlist lasts: items × repeats, with a gap between repeats (a relay: its chunks)."""
    if isinstance(plan, RelayPlan):
        return plan.chunks * plan.chunk_s
    one_pass = sum(item.duration_s for item in plan.items)
    return one_pass * plan.repeats + plan.gap_s * (plan.repeats - 1)


def planned_end(plan: Plan) -> float:
    return plan.start_at + planned_duration(plan)


def start_decision(now: float, plan: Plan, late_grace_s: float) -> StartDecision:
    """Ready at `now`: wait for start_at; or past it: an emergency plays at once, others only within the grace."""
    if now < plan.start_at:
        return "wait"
    if plan.priority == "emergency" or now - plan.start_at < late_grace_s:
        return "now"
    return "late"


def overlaps(a: Plan, b: Plan) -> bool:
    return a.start_at < planned_end(b) and b.start_at < planned_end(a)


def resumable(now: float, plan: Plan) -> bool:
    """A prepared airing found on disk at start-up is worth resuming only until its planned end."""
    return now < planned_end(plan)
