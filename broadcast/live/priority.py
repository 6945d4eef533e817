"""Whether a live session may take its speakers now (TT39 priorities, the rank programmes use in
broadcast/programmes/overlap.py): it preempts an airing of the same or a lower level that plays or is about to
on any of its speakers (a person speaking now goes before a recording of the same level), and waits for one of a
higher level: the officer is told which and tries again when it has aired."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from broadcast.airings.outcome import timing_of
from broadcast.orders import Priority
from broadcast.programmes.overlap import PRIORITY_RANK


def blocking_airing(
    priority: str,
    district: str,
    commune: str,
    speakers: Iterable[str],
    active: Iterable[dict[str, Any]],
    now: float,
) -> dict[str, Any] | None:
    """The first active airing order (`airings.order`) of a higher priority on these speakers at `now`."""
    mine = set(speakers)
    rank = PRIORITY_RANK[Priority(priority)]
    for order in active:
        if order.get("district") != district or order.get("commune") != commune:
            continue
        if not mine & set(order.get("speakers") or ()):
            continue
        t = timing_of(order)
        if not (t.start_at <= now <= t.end_at):
            continue
        if PRIORITY_RANK[Priority(order.get("priority", "normal"))] > rank:
            return order
    return None
