"""Cutting a flush into SQL transactions of bounded size (transitions first: they are the availability
record), pure so it is tested on its own."""

from __future__ import annotations

from collections.abc import Iterable

from hub.core.state_model import Changes


def split_changes(ch: Changes, limit: int, must_keep: Iterable[str] = ()) -> Changes | None:
    """Trims `ch` to about `limit` rows (transitions first, then whole rows, then metrics) and returns the
    rest, or None when it fits. Agents (few) and cameras in `must_keep` (their snapshot references the row)
    always stay."""
    if len(ch.transitions) + len(ch.cameras) + len(ch.metrics) <= limit:
        return None
    rest = Changes()
    budget = limit
    rest.transitions, ch.transitions = ch.transitions[budget:], ch.transitions[:budget]
    budget -= len(ch.transitions)
    keep = set(must_keep) & ch.cameras
    others = [k for k in ch.cameras if k not in keep]
    n = max(budget - len(keep), 0)
    ch.cameras, rest.cameras = keep | set(others[:n]), set(others[n:])
    budget -= len(ch.cameras)
    metrics = list(ch.metrics)
    n = max(budget, 0)
    ch.metrics, rest.metrics = set(metrics[:n]), set(metrics[n:])
    return rest
