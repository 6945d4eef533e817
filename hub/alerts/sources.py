"""Fact sources over the hub's in-memory state: cameras, edge agents, agent backlog and disk space.

Each returns the conditions that hold at `now`. A camera whose agent went silent is "stale" in the store; its
last report still says what it was, so the fact stays (the agent's own alert inhibits it) instead of the camera
looking recovered because nobody can see it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from hub.alerts.config import RuleSettings
from hub.core.db import STATUS_OFFLINE, STATUS_OK, STATUS_PROBLEM, STATUS_STALE, STATUS_UNKNOWN
from hub.core.facts import Fact, FactKind
from hub.core.labels import PROBLEM_LABELS, SIGNAL_LOST
from hub.core.state import AGENT_OFFLINE, CameraState, StateStore, reported_status

Settings = Callable[[FactKind, str], RuleSettings]
SUMMARY_MAX = 300


def _problems_text(codes: tuple[str, ...]) -> str:
    return ", ".join(PROBLEM_LABELS.get(c, c) for c in codes)


def camera_fact(cam: CameraState, now: float) -> Fact | None:
    status = cam.status
    if status == STATUS_STALE:
        if cam.online is None:
            return None
        status = reported_status(cam.online, cam.problems)
    if status not in (STATUS_OFFLINE, STATUS_PROBLEM):
        return None
    since = cam.status_since if cam.status_since is not None else now
    if status == STATUS_OFFLINE:
        kind = FactKind.CAMERA_OFFLINE
        text = _problems_text(cam.problems) or SIGNAL_LOST
        if cam.reason:
            text = f"{text}: {cam.reason}"
    else:
        kind = FactKind.CAMERA_PROBLEM
        text = _problems_text(cam.problems)
    if cam.status == STATUS_STALE:
        text = f"{text} (lần báo cuối; hộp biên không còn gửi báo cáo)"
    return Fact(
        kind=kind,
        district=cam.district,
        commune=cam.commune,
        device=cam.key,
        since=min(since, now),
        name=cam.name or cam.slug,
        summary=text[:SUMMARY_MAX],
        parent=cam.agent_key,
        detail={"problems": ",".join(cam.problems), "stale": cam.status == STATUS_STALE},
    )


_QUIET = frozenset({STATUS_OK, STATUS_UNKNOWN})


def camera_facts(store: StateStore, now: float) -> Iterator[Fact]:
    for cam in store.cameras.values():
        if cam.status in _QUIET:
            continue  # the common case, every round for every camera: decided without a call
        f = camera_fact(cam, now)
        if f is not None:
            yield f


class AgentFacts:
    """Agent offline/stale, backlog over its threshold, free disk under its threshold. Remembers since when a
    threshold has been crossed (the store keeps only the latest value)."""

    def __init__(self, store: StateStore, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._crossed: dict[tuple[FactKind, str], float] = {}

    def __call__(self, now: float) -> list[Fact]:
        out: list[Fact] = []
        crossed_now: set[tuple[FactKind, str]] = set()
        for a in self.store.agents.values():
            name = a.slug
            if a.state in (AGENT_OFFLINE, STATUS_STALE):
                text = "Hộp biên ngắt kết nối" if a.state == AGENT_OFFLINE else "Hộp biên không gửi báo cáo"
                since = a.state_since if a.state_since is not None else now
                out.append(
                    Fact(FactKind.AGENT_OFFLINE, a.district, a.commune, a.key, min(since, now), name, text)
                )
                continue  # its queue and disk figures are old news while it is away
            backlog = self.settings(FactKind.AGENT_BACKLOG, a.district).threshold
            if backlog is not None and a.queue is not None and a.queue >= backlog:
                key = (FactKind.AGENT_BACKLOG, a.key)
                crossed_now.add(key)
                text = f"Hàng đợi trên hộp: {a.queue} bản tin chưa gửi được về trung tâm"
                out.append(self._fact(key, a.district, a.commune, name, text, now, {"queue": a.queue}))
            disk_min = self.settings(FactKind.AGENT_DISK_LOW, a.district).threshold
            free = a.disk_free_mb
            if disk_min is not None and free is not None and free < disk_min:
                key = (FactKind.AGENT_DISK_LOW, a.key)
                crossed_now.add(key)
                text = f"Ổ đĩa của hộp còn trống {free:.0f} MB (ngưỡng {disk_min:.0f} MB)"
                out.append(self._fact(key, a.district, a.commune, name, text, now, {"disk_free_mb": free}))
        for k in set(self._crossed) - crossed_now:
            del self._crossed[k]
        return out

    def _fact(
        self,
        key: tuple[FactKind, str],
        district: str,
        commune: str,
        name: str,
        text: str,
        now: float,
        detail: dict[str, str | int | float | bool | None],
    ) -> Fact:
        since = self._crossed.setdefault(key, now)
        return Fact(key[0], district, commune, key[1], since, name, text, detail=detail)
