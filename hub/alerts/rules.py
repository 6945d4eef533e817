"""Alert state per identity: pending → firing → resolved, as a pure function of facts, settings and `now`.

An alert's identity is its labels (kind, district, commune, device); the same condition seen again is the same
alert (dedup). Within one episode an alert is pending until the condition held `for_s`, then firing; it resolves
when the condition stayed away `clear_s` (hysteresis), or `flap_clear_s` when it has been flapping. Alerts whose
parent (a camera's edge agent) is itself alerting are inhibited: held as they are, neither resolved nor told.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

from hub.alerts.config import RuleSettings
from hub.core.facts import Fact, FactKind, Severity

Status = Literal["pending", "firing", "resolved"]
Settings = Callable[[FactKind, str], RuleSettings]  # (kind, district) → effective settings
# Kinds whose active alert inhibits the alerts naming its device as their parent.
INHIBITING = frozenset({FactKind.AGENT_OFFLINE})


def alert_key(kind: str, district: str, commune: str, device: str) -> str:
    return "|".join((kind, district, commune, device))


def alert_id(key: str) -> str:
    """Stable short id (URLs, acknowledgements): the same labels give the same id on every hub."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class AlertState:
    id: str
    key: str
    kind: FactKind
    district: str
    commune: str
    device: str
    status: Status
    episode: int  # increases each time the condition starts again after a resolution
    since: float  # when the condition began (the fact's own `since`)
    last_true: float  # last evaluation that saw the condition
    severity: Severity = Severity.WARNING
    name: str = ""
    summary: str = ""
    parent: str | None = None
    fired_at: float | None = None
    resolved_at: float | None = None
    flaps: tuple[float, ...] = ()  # times it started firing, within the flap window
    flapping: bool = False
    detail: dict[str, str | int | float | bool | None] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.status != "resolved"


@dataclass(frozen=True, slots=True)
class StepResult:
    alerts: dict[str, AlertState]  # by key
    changed: set[str]  # keys whose stored row must be written


def _open(fact: Fact, prev: AlertState | None, s: RuleSettings, now: float) -> AlertState:
    key = alert_key(fact.kind, fact.district, fact.commune, fact.device)
    since = fact.since
    if prev is not None and prev.resolved_at is not None:
        since = max(since, prev.resolved_at)  # a condition that outlived its own resolution starts anew
    st = AlertState(
        id=alert_id(key),
        key=key,
        kind=fact.kind,
        district=fact.district,
        commune=fact.commune,
        device=fact.device,
        status="pending",
        episode=(prev.episode + 1) if prev is not None else 1,
        since=min(since, now),
        last_true=now,
        severity=s.severity,
        name=fact.name,
        summary=fact.summary,
        parent=fact.parent,
        flaps=prev.flaps if prev is not None else (),
        detail=dict(fact.detail),
    )
    return _maybe_fire(st, s, now)


def _maybe_fire(st: AlertState, s: RuleSettings, now: float) -> AlertState:
    if st.status != "pending" or now - st.since < s.for_s:
        return st
    flaps = tuple(t for t in st.flaps if t > now - s.flap_window_s) + (now,)
    return replace(st, status="firing", fired_at=now, flaps=flaps, flapping=len(flaps) >= s.flap_count)


def _refresh(st: AlertState, fact: Fact, s: RuleSettings, now: float) -> AlertState:
    """The condition still holds: keep the episode, take the fact's current words. Runs for every active alert
    every round (thousands in a province), hence the plain constructor rather than dataclasses.replace."""
    same = (
        st.name == fact.name
        and st.summary == fact.summary
        and st.parent == fact.parent
        and st.severity == s.severity
        and st.detail == fact.detail
    )
    return AlertState(
        st.id,
        st.key,
        st.kind,
        st.district,
        st.commune,
        st.device,
        st.status,
        st.episode,
        st.since,
        now,
        st.severity if same else s.severity,
        st.name if same else fact.name,
        st.summary if same else fact.summary,
        st.parent if same else fact.parent,
        st.fired_at,
        st.resolved_at,
        st.flaps,
        st.flapping,
        st.detail if same else dict(fact.detail),
    )


def _visible_change(a: AlertState, b: AlertState) -> bool:
    """Whether the stored row must be rewritten (last_true alone is not worth a write every tick)."""
    return (
        a.status != b.status
        or a.episode != b.episode
        or a.summary != b.summary
        or a.name != b.name
        or a.severity != b.severity
        or a.parent != b.parent
        or a.flapping != b.flapping
    )


def step_alerts(
    prev: dict[str, AlertState],
    facts: Iterable[Fact],
    settings: Settings,
    now: float,
    *,
    may_resolve: bool = True,
) -> StepResult:
    """One evaluation. `may_resolve` is False while the facts may be incomplete (just after a start, or when a
    source failed this round): then nothing resolves for lack of a fact."""
    out: dict[str, AlertState] = dict(prev)
    changed: set[str] = set()
    seen: set[str] = set()
    for fact in facts:
        s = settings(fact.kind, fact.district)
        if not s.enabled:
            continue
        key = alert_key(fact.kind, fact.district, fact.commune, fact.device)
        if key in seen:
            continue  # two sources said the same thing: one alert
        seen.add(key)
        old = out.get(key)
        if old is None or old.status == "resolved":
            new = _open(fact, old, s, now)
        else:
            new = _maybe_fire(_refresh(old, fact, s, now), s, now)
        out[key] = new
        if old is None or _visible_change(old, new):
            changed.add(key)
    # Alerts without a parent first: a parent that resolves this round no longer holds its children.
    absent = [k for k, st in out.items() if k not in seen and st.status != "resolved"]
    absent.sort(key=lambda k: out[k].parent is not None)
    parents = inhibiting_devices(out.values())
    children_phase = False
    for key in absent:
        st = out[key]
        if st.parent is not None and not children_phase:
            children_phase = True
            parents = inhibiting_devices(out.values())
        s = settings(st.kind, st.district)
        if not s.enabled:
            out[key] = replace(st, status="resolved", resolved_at=now)
            changed.add(key)
            continue
        if st.status == "pending":
            if may_resolve:  # never fired: it ends quietly (a blip)
                out[key] = replace(st, status="resolved", resolved_at=now)
                changed.add(key)
            continue
        if not may_resolve or (st.parent is not None and st.parent in parents):
            continue  # unknowable now: held as it is
        hold = s.flap_clear_s if st.flapping else s.clear_s
        if now - st.last_true >= hold:
            out[key] = replace(st, status="resolved", resolved_at=now)
            changed.add(key)
    return StepResult(out, changed)


def inhibiting_devices(alerts: Iterable[AlertState]) -> set[str]:
    return {a.device for a in alerts if a.active and a.kind in INHIBITING}


def inhibited(st: AlertState, parents: set[str]) -> bool:
    return st.parent is not None and st.parent in parents


def prune(alerts: dict[str, AlertState], now: float, keep_s: float) -> list[str]:
    """Keys of resolved alerts older than `keep_s`, to forget (memory and SQL)."""
    return [k for k, a in alerts.items() if a.status == "resolved" and (a.resolved_at or now) < now - keep_s]
