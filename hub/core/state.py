"""Current state of cameras and agents, kept in memory, and the pure rules that derive their status.

Nothing here does I/O or reads the clock: every time-dependent call takes `now` (epoch seconds). The store
records what changed (transitions, rows to flush, cameras to announce) for hub/core/ingest.py to persist and publish.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

from contract import CameraHealth, EdgeStatus
from hub.core.claims import RegistryClaims
from hub.core.db import STATUS_STALE, STATUS_UNKNOWN
from hub.core.state_model import (
    AGENT_OFFLINE as AGENT_OFFLINE,
)
from hub.core.state_model import (
    AGENT_ONLINE as AGENT_ONLINE,
)
from hub.core.state_model import (
    AgentState as AgentState,
)
from hub.core.state_model import (
    Announcements as Announcements,
)
from hub.core.state_model import (
    CameraState as CameraState,
)
from hub.core.state_model import (
    Changes as Changes,
)
from hub.core.state_model import (
    Transition as Transition,
)
from hub.core.state_model import (
    derive_agent_state as derive_agent_state,
)
from hub.core.state_model import (
    derive_status as derive_status,
)
from hub.core.state_model import (
    reported_status as reported_status,
)
from hub.core.text import clean_text


def topic_district(key: str) -> str:
    """The district segment of a device key (its topic's), whatever commune the device belongs to now."""
    return key.split("/", 1)[0]


def free_slug(slug: str, old_commune: str, taken: set[str]) -> str:
    """A slug for a device moving into a commune that already has one of that name: prefixed with the commune it
    came from (`xa-cu-cam01`), then numbered."""
    if slug not in taken:
        return slug
    base = f"{old_commune}-{slug}"[:60]
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


class StateStore(RegistryClaims):
    def __init__(self, stale_after: float, track_seq: bool = True) -> None:
        self.stale_after = stale_after
        # With shared subscriptions each worker sees a share of an agent's messages: gaps would be noise.
        self.track_seq = track_seq
        self.cameras: dict[str, CameraState] = {}
        self.agents: dict[str, AgentState] = {}
        self.changes = Changes()
        self.announce = Announcements()
        # Districts whose devices this process ingests (several hubs: its partitions); None = all of them.
        # The others are a read-only mirror of SQL (hub/core/cluster.py) that nothing here changes.
        self.owned: set[str] | None = None
        self.duplicates = 0
        self.out_of_order = 0
        self.seq_gaps = 0
        self._agent_cameras: dict[str, set[str]] = {}
        # (district of the topic, slug) → key. A device's key is its topic's (district/commune/id) for ever;
        # its `district`/`commune` say where it belongs and change when its commune is merged into another.
        self._agents_by_slug: dict[tuple[str, str], str] = {}
        # A merged commune's pair → the pair of the commune that absorbed it: where a device first heard on
        # the old topic belongs (hub/core/area_merge.py).
        self.homes: dict[tuple[str, str], tuple[str, str]] = {}
        self._agent_homes: dict[str, str] = {}  # slug → key where the box is registered (ids are accounts)
        # Claims from devices refused, by reason (hub/core/ingest.py adds them to the hub's rejection counts).
        self.refused: Counter[str] = Counter()

    # registry ---------------------------------------------------------------------------------------------
    def load(self, cameras: Iterable[CameraState], agents: Iterable[AgentState]) -> None:
        for a in agents:
            self.agents[a.key] = a
            self._agents_by_slug.setdefault((topic_district(a.key), a.slug), a.key)
            self._agent_homes.setdefault(a.slug, a.key)
        for c in cameras:
            self.cameras[c.key] = c
            if c.agent_key:
                self._agent_cameras.setdefault(c.agent_key, set()).add(c.key)

    def replace_where(
        self, area: Callable[[str], bool], cams: list[CameraState], agents: list[AgentState]
    ) -> None:
        """Replaces the cameras and agents of the districts `area` accepts by those read from SQL."""
        for k in [k for k, a in self.agents.items() if area(a.district)]:
            a = self.agents.pop(k)
            if self._agents_by_slug.get((topic_district(k), a.slug)) == k:
                del self._agents_by_slug[(topic_district(k), a.slug)]
        for k in [k for k, c in self.cameras.items() if area(c.district)]:
            self._agent_cameras.get(self.cameras.pop(k).agent_key or "", set()).discard(k)
        self.load([c for c in cams if area(c.district)], [a for a in agents if area(a.district)])

    def camera(self, district: str, commune: str, slug: str) -> CameraState:
        key = f"{district}/{commune}/{slug}"
        cam = self.cameras.get(key)
        if cam is None:
            home = self.homes.get((district, commune))
            if home is None:
                cam = CameraState(key, district, commune, slug)
            else:  # first heard on a merged commune's topic: it belongs to the commune that absorbed it
                taken = {c.slug for c in self.cameras.values() if (c.district, c.commune) == home}
                cam = CameraState(key, *home, free_slug(slug, commune, taken))
            self.cameras[key] = cam
            self.changes.cameras.add(key)
        return cam

    def agent(self, district: str, commune: str, slug: str) -> AgentState:
        key = f"{district}/{commune}/{slug}"
        a = self.agents.get(key)
        if a is None:
            a = self.agents[key] = AgentState(
                key, *self.homes.get((district, commune), (district, commune)), slug
            )
            self._agents_by_slug.setdefault((district, slug), key)
            self._agent_homes.setdefault(slug, key)
            self.changes.agents.add(key)
        return a

    def cameras_of(self, agent_key: str) -> set[str]:
        return self._agent_cameras.get(agent_key, set())

    def agent_key_of(self, district: str, commune: str, slug: str) -> str:
        """The key of the agent `slug` that a camera message of (district, commune) names (as `_agent_for_health`
        finds it: an agent of that slug anywhere in the district, else the camera's commune)."""
        return self._agents_by_slug.get((district, slug)) or f"{district}/{commune}/{slug}"

    def _assign(self, cam: CameraState, agent_key: str) -> None:
        if cam.agent_key == agent_key:
            return
        if cam.agent_key:
            self._agent_cameras.get(cam.agent_key, set()).discard(cam.key)
        cam.agent_key = agent_key
        cam.series = None
        self._agent_cameras.setdefault(agent_key, set()).add(cam.key)
        self.changes.cameras.add(cam.key)

    def _agent_for_health(self, cam: CameraState, slug: str) -> AgentState:
        if cam.agent_key:
            a = self.agents.get(cam.agent_key)
            if a is not None and a.slug == slug:
                return a
        # An agent may watch cameras in neighbouring communes: find it by slug within the district (box ids are
        # broker accounts, unique in a district); that also settles a camera an administrator assigned to it
        # under another commune's key.
        district, commune, _ = cam.key.split("/")  # the topic's: a box reports on its own district's topics
        key = self._agents_by_slug.get((district, slug))
        a = self.agents.get(key) if key else None
        if a is None:
            owner = cam.agent_key.split("/") if cam.agent_key else None
            if owner is not None and owner[0] == district and owner[2] == slug:
                a = self.agent(*owner)  # assigned by an administrator before the box ever reported
            else:
                a = self.agent(district, commune, slug)
        self._assign(cam, a.key)
        return a

    # messages ---------------------------------------------------------------------------------------------
    def apply_health(self, cam: CameraState, h: CameraHealth, received: float) -> bool:
        """Applies one health message; False when it is older than what the camera already shows (a
        redelivery or a replay from the agent's queue): its point still goes to InfluxDB, state stays."""
        agent = self._agent_for_health(cam, h.agent) if h.agent else None
        if agent is not None:
            self._track_seq(agent, h)
            agent.last_seen = received
            if agent.state == STATUS_STALE and agent.reported == AGENT_ONLINE:
                self._set_agent_state(agent, AGENT_ONLINE, received)
        last_ts = cam.last_ts
        if last_ts is not None and h.ts <= last_ts:
            if h.ts == last_ts:
                self.duplicates += 1
            else:
                self.out_of_order += 1
            return False
        problems = tuple([p.value for p in h.problems]) if h.problems else ()
        cam.online = h.online
        cam.reason = clean_text(h.reason, 300) if h.reason else None
        cam.fps = h.fps
        cam.width = h.width
        cam.height = h.height
        cam.open_ms = h.open_ms
        cam.brightness = h.brightness
        cam.sharpness = h.sharpness
        cam.motion = h.motion
        cam.last_ts = h.ts
        cam.last_seen = received
        cam.last_seq = h.seq
        self.changes.metrics.add(cam.key)
        agent_state = agent.state if agent is not None else self._agent_state(cam)
        status = derive_status(h.online, problems, agent_state, received, received, self.stale_after)
        if status != cam.status or problems != cam.problems:
            self._camera_transition(cam, status, problems, h.ts)
        else:
            self.announce.cameras.add(cam.key)
        return True

    def _track_seq(self, agent: AgentState, h: CameraHealth) -> None:
        if not self.track_seq:
            return
        if h.boot is not None and h.boot != agent.boot:
            agent.boot = h.boot
            agent.last_seq = h.seq
            self.changes.agents.add(agent.key)
            return
        last = agent.last_seq
        if last is not None and h.seq > last + 1:
            gap = h.seq - last - 1
            agent.seq_gaps += gap
            self.seq_gaps += gap
            self.changes.agents.add(agent.key)
        if last is None or h.seq > last:
            agent.last_seq = h.seq

    def apply_edge_status(
        self, topic_district: str, topic_commune: str, slug: str, s: EdgeStatus, received: float
    ) -> AgentState:
        agent = self.agent(topic_district, topic_commune, slug)
        agent.version = s.version
        if s.boot is not None and s.boot != agent.boot:
            agent.boot = s.boot
            agent.last_seq = None  # seq restarts with a new boot
        if s.cameras is not None:
            agent.cameras = s.cameras
        if s.queue is not None:
            agent.queue = s.queue
        if s.disk_free_mb is not None:
            agent.disk_free_mb = s.disk_free_mb
        agent.last_seen = received
        agent.reported = s.state
        self.changes.agents.add(agent.key)
        self.announce.agents.add(agent.key)
        if s.inventory:
            self._register_inventory(agent, s.inventory)
        # A Last Will carries the connect time as `ts`: agent transitions use the hub's receive time.
        # An agent back with a backlog replays what its cameras did meanwhile: until their own reports arrive
        # they stay stale rather than flap back to a status from before the outage.
        self._set_agent_state(agent, s.state, received, hold_stale=bool(s.queue))
        return agent

    def _set_agent_state(self, agent: AgentState, state: str, now: float, hold_stale: bool = False) -> None:
        if state != agent.state:
            self.changes.transitions.append(
                Transition("edge", agent.key, agent.district, agent.commune, now, agent.state, state)
            )
            agent.state = state
            agent.state_since = now
            self.changes.agents.add(agent.key)
            self.announce.agents.add(agent.key)
            for key in self.cameras_of(agent.key):
                cam = self.cameras[key]
                if not (hold_stale and cam.status == STATUS_STALE):
                    self._rederive(cam, now)

    def _agent_state(self, cam: CameraState) -> str | None:
        if cam.agent_key is None:
            return None
        a = self.agents.get(cam.agent_key)
        return a.state if a is not None else None

    def _rederive(self, cam: CameraState, now: float) -> None:
        status = derive_status(
            cam.online, cam.problems, self._agent_state(cam), cam.last_seen, now, self.stale_after
        )
        if status != cam.status:
            self._camera_transition(cam, status, cam.problems, now)

    def _camera_transition(self, cam: CameraState, status: str, problems: tuple[str, ...], at: float) -> None:
        # Device times can lie before the hub's own last judgement (a replayed report probed before the agent's
        # Last Will made the camera stale): such a change is recorded when that judgement ended, keeping the
        # log in order for the availability reports.
        floor = cam.last_change if cam.last_change is not None else cam.status_since
        if floor is not None and at < floor:
            at = floor
        cam.last_change = at
        changes = self.changes
        changes.transitions.append(
            Transition(
                "camera", cam.key, cam.district, cam.commune, at, cam.status, status, problems, cam.reason
            )
        )
        if status != cam.status:
            cam.status_since = at
        cam.status = status
        cam.problems = problems
        changes.cameras.add(cam.key)
        self.announce.cameras_now.add(cam.key)

    def apply_snapshot(self, cam: CameraState, ts: float) -> bool:
        if cam.snapshot_ts is not None and ts < cam.snapshot_ts:
            return False
        cam.snapshot_ts = ts
        self.changes.cameras.add(cam.key)
        return True

    # periodic ---------------------------------------------------------------------------------------------
    def check_stale(self, now: float) -> int:
        """Marks silent agents and cameras stale; returns how many changed."""
        before = len(self.changes.transitions)
        owned = self.owned
        for agent in self.agents.values():
            if owned is not None and agent.district not in owned:
                continue
            state = derive_agent_state(agent.reported, agent.last_seen, now, self.stale_after)
            if state == STATUS_STALE and agent.state == AGENT_ONLINE:
                self._set_agent_state(agent, STATUS_STALE, now)
        limit = now - self.stale_after
        for cam in self.cameras.values():
            seen = cam.last_seen
            if seen is not None and seen < limit and cam.status not in (STATUS_STALE, STATUS_UNKNOWN):
                if owned is None or cam.district in owned:
                    self._rederive(cam, now)
        return len(self.changes.transitions) - before

    def drain(self) -> Changes:
        changes, self.changes = self.changes, Changes()
        return changes

    def drain_announcements(self) -> Announcements:
        ann, self.announce = self.announce, Announcements()
        return ann
