"""The hub's picture of each camera and edge box (the state store's rows) and the pure rules that derive a
status from what a device reported and `now`. hub/core/state.py keeps the store; hub/core/claims.py checks
what a device may claim about these rows."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from contract import OFFLINE_PROBLEMS
from hub.core.db import STATUS_OFFLINE, STATUS_OK, STATUS_PROBLEM, STATUS_STALE, STATUS_UNKNOWN

AGENT_ONLINE = "online"
AGENT_OFFLINE = "offline"

_OFFLINE_CODES = frozenset(p.value for p in OFFLINE_PROBLEMS)


def reported_status(online: bool, problems: Iterable[str]) -> str:
    """Status one health message says, before staleness: offline / problem / ok."""
    if not online:
        return STATUS_OFFLINE
    has_problem = False
    for p in problems:
        if p in _OFFLINE_CODES:
            return STATUS_OFFLINE
        has_problem = True
    return STATUS_PROBLEM if has_problem else STATUS_OK


def derive_status(
    online: bool | None,
    problems: Iterable[str],
    agent_state: str | None,
    last_seen: float | None,
    now: float,
    stale_after: float,
) -> str:
    """A camera's status: unknown before its first report; stale when its agent is offline or nothing arrived
    for `stale_after` seconds (hub time); otherwise what its latest health says."""
    if online is None or last_seen is None:
        return STATUS_UNKNOWN
    if agent_state == AGENT_OFFLINE or now - last_seen > stale_after:
        return STATUS_STALE
    return reported_status(online, problems)


def derive_agent_state(reported: str | None, last_seen: float | None, now: float, stale_after: float) -> str:
    """online / offline as the agent said it (retained status or Last Will); stale when an online agent has sent
    nothing (status or any of its cameras' health) for `stale_after` seconds; unknown before it said anything."""
    if reported is None or last_seen is None:
        return STATUS_UNKNOWN
    if reported == AGENT_OFFLINE:
        return AGENT_OFFLINE
    if now - last_seen > stale_after:
        return STATUS_STALE
    return AGENT_ONLINE


@dataclass(slots=True)
class CameraState:
    key: str
    district: str
    commune: str
    slug: str
    name: str | None = None
    agent_key: str | None = None
    status: str = STATUS_UNKNOWN
    status_since: float | None = None
    problems: tuple[str, ...] = ()
    reason: str | None = None
    online: bool | None = None
    fps: float | None = None
    width: int | None = None
    height: int | None = None
    open_ms: float | None = None
    brightness: float | None = None
    sharpness: float | None = None
    motion: float | None = None
    last_ts: float | None = None  # device time of the latest applied health message
    last_seen: float | None = None  # hub time it arrived
    last_seq: int | None = None
    last_change: float | None = None  # time of its latest transition: the log never goes back in time
    snapshot_ts: float | None = None
    in_db: bool = False
    series: str | None = None  # cached line-protocol series key (hub/core/ingest.py)


@dataclass(slots=True)
class AgentState:
    key: str
    district: str
    commune: str
    slug: str
    state: str = STATUS_UNKNOWN
    reported: str | None = None  # what the agent itself last said: online / offline
    state_since: float | None = None
    version: str | None = None
    boot: str | None = None
    cameras: int | None = None
    queue: int | None = None
    disk_free_mb: float | None = None  # free space of the agent's data disk (alerts: disk low)
    last_seen: float | None = None
    seq_gaps: int = 0
    last_seq: int | None = None
    in_db: bool = False


@dataclass(slots=True, frozen=True)
class Transition:
    kind: str  # camera / edge
    key: str
    district: str
    commune: str
    at: float
    from_status: str | None
    to_status: str
    problems: tuple[str, ...] = ()
    reason: str | None = None


@dataclass
class Changes:
    """What must be written to SQL since the last flush drained it."""

    transitions: list[Transition] = field(default_factory=list)
    cameras: set[str] = field(default_factory=set)  # whole row (new, registry, status, snapshot time)
    metrics: set[str] = field(default_factory=set)  # live metrics only (the common case, cheaper to write)
    agents: set[str] = field(default_factory=set)


@dataclass
class Announcements:
    """What must be announced on the event bus (drained separately from Changes: other pace)."""

    cameras: set[str] = field(default_factory=set)  # live view changed: coalesced, at most one per period
    cameras_now: set[str] = field(default_factory=set)  # status or problems changed: at once
    agents: set[str] = field(default_factory=set)
