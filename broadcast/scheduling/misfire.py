"""What the scheduler does with one occurrence at a given moment (PURE: every time is a parameter).

The same rule serves the normal path (a job firing at T − prepare_lead) and recovery (a hub that was down, a
leader that took over late, a job that fired late because the machine was busy):

- still ahead of its prepare time → prepare at T − prepare_lead, start at T;
- inside the prepare window → dispatch now, start at T (or a little later if T is closer than the minimum);
- past T, normal/priority, late by no more than `misfire_grace_s` → dispatch now, start a little later;
- past T by more than the grace → missed: recorded and reported, never aired late;
- emergency → always airs (now if late).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from broadcast.orders import Priority


class Action(StrEnum):
    PREPARE_AT = "prepare_at"  # a job at `fire_at`
    DISPATCH_NOW = "dispatch_now"
    MISSED = "missed"


@dataclass(frozen=True)
class Decision:
    action: Action
    fire_at: float  # epoch s: when to create the airing and dispatch (== now unless PREPARE_AT)
    start_at: float  # epoch s: the absolute start sent to receivers (meaningless when MISSED)
    late_s: float  # how far past the occurrence `now` is (0 when not late)


@dataclass(frozen=True)
class MisfirePolicy:
    prepare_lead_s: float = 120.0
    misfire_grace_s: float = 300.0
    late_start_lead_s: float = 15.0  # a late airing starts this long after dispatch, for receivers to fetch
    min_start_lead_s: float = 2.0  # never ask receivers to start sooner than this after dispatch


def decide(occurrence_at: float, priority: Priority, now: float, policy: MisfirePolicy) -> Decision:
    fire_at = occurrence_at - policy.prepare_lead_s
    if now < fire_at:
        return Decision(Action.PREPARE_AT, fire_at, occurrence_at, 0.0)
    if now <= occurrence_at:
        return Decision(Action.DISPATCH_NOW, now, max(occurrence_at, now + policy.min_start_lead_s), 0.0)
    late = now - occurrence_at
    if priority == Priority.EMERGENCY:
        return Decision(Action.DISPATCH_NOW, now, now + policy.min_start_lead_s, late)
    if late <= policy.misfire_grace_s:
        return Decision(Action.DISPATCH_NOW, now, now + policy.late_start_lead_s, late)
    return Decision(Action.MISSED, now, occurrence_at, late)


def missed_reason(late_s: float) -> str:
    minutes = int(late_s // 60)
    late = f"{minutes} phút" if minutes else f"{int(late_s)} giây"
    return f"Không phát: hệ thống không chạy đúng giờ phát (trễ {late}, quá thời gian cho phép phát muộn)"


def late_note(late_s: float) -> str:
    return f"Phát muộn {int(late_s)} giây do hệ thống khởi động lại"
