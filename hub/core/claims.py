"""The claims a device makes that the hub checks before believing them (part of hub/core/state.py's store).

A box's account on the broker ties it to its own status topic, nothing more: camera topics, the `agent` a
report names and the communes in an inventory are the box's word. So the registry decides: a camera's reports
come only from the box it is assigned to; a box registers cameras only in its own district and commune and
never takes or renames another's; a box registered in one place cannot appear in another; device times from
the future are forgotten. Refusals are counted by reason in `refused` (ingest adds them to the hub's stats).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING

from contract import CameraInfo
from hub.core.text import clean_text

if TYPE_CHECKING:
    from hub.core.state_model import AgentState, Announcements, CameraState, Changes


class RegistryClaims:
    cameras: dict[str, CameraState]
    agents: dict[str, AgentState]
    changes: Changes
    announce: Announcements
    refused: Counter[str]
    _agents_by_slug: dict[tuple[str, str], str]
    _agent_homes: dict[str, str]
    legacy_reports: bool = False  # ingest.legacy_reports (hub/core/config.py): tests and old vendor boxes

    def camera(self, district: str, commune: str, slug: str) -> CameraState:
        raise NotImplementedError

    def _assign(self, cam: CameraState, agent_key: str) -> None:
        raise NotImplementedError

    def report_refusal(self, district: str, commune: str, slug: str, agent_slug: str | None) -> str | None:
        """Why a camera report (health or snapshot) that names `agent_slug` must not be applied; None when it
        may. A camera's reports come only from the box the registry assigns it to; a camera nobody owns yet
        may be taken by a registered box of the same district and commune; nothing here reassigns a camera."""
        cam = self.cameras.get(f"{district}/{commune}/{slug}")
        owner = cam.agent_key if cam is not None else None
        if owner is not None:
            # A box is its id within the district (ids are broker accounts): an administrator's import may
            # file it under the camera's commune before the box ever reported.
            return (
                None
                if agent_slug is not None and owner.split("/")[::2] == [district, agent_slug]
                else ("not_assigned")
            )
        agent_key = self._agents_by_slug.get((district, agent_slug)) if agent_slug is not None else None
        if agent_key is None:
            if self.legacy_reports:
                return None
            # A box is known from its own status topic, the one its broker account is tied to.
            return "no_agent" if agent_slug is None else "unknown_agent"
        if (
            agent_key.split("/")[1] != commune
        ):  # the box's topic commune (it may belong elsewhere since a merge)
            return "outside_area"
        return None

    def agent_refusal(self, district: str, commune: str, slug: str) -> str | None:
        """Why a box's status on this topic must not be applied: a box registered elsewhere cannot appear (and
        register itself) in another district or commune; an administrator removes it first when it moves."""
        home = self._agent_homes.get(slug)
        if home is not None and home != f"{district}/{commune}/{slug}":
            return "agent_elsewhere"
        return None

    def forget_agent(self, key: str) -> None:
        """An administrator removed the box: it may register again wherever its status says."""
        a = self.agents.pop(key, None)
        if a is None:
            return
        district = key.split("/", 1)[0]
        if self._agents_by_slug.get((district, a.slug)) == key:
            del self._agents_by_slug[(district, a.slug)]
        if self._agent_homes.get(a.slug) == key:
            del self._agent_homes[a.slug]

    def _register_inventory(self, agent: AgentState, inventory: Iterable[CameraInfo]) -> None:
        """A box registers the cameras it lists, under itself, only in its own district and commune; it never
        takes a camera another box owns, and names a camera only while it has no name (after that the name is
        an administrator's to change)."""
        district = agent.key.split("/", 1)[0]  # the topics it reports on, not where it belongs since a merge
        for info in inventory:
            why = self.report_refusal(district, info.commune, info.id, agent.slug)
            if why is not None:
                self.refused[f"inventory_{why}"] += 1
                continue
            cam = self.camera(district, info.commune, info.id)
            name = clean_text(info.name)
            if name and cam.name is None:
                cam.name = name
                self.changes.cameras.add(cam.key)
                self.announce.cameras.add(cam.key)
            self._assign(cam, agent.key)

    def drop_future_times(self, now: float, max_future_s: float) -> int:
        """Forgets device times ahead of `now` kept from before they were refused (a report dated 2099 stored
        by an older hub would otherwise make every real report look out of order, forever). Returns how many
        cameras were cleaned."""
        limit = now + max_future_s
        n = 0
        for cam in self.cameras.values():
            dirty = False
            if cam.last_ts is not None and cam.last_ts > limit:
                cam.last_ts, dirty = None, True
            if cam.snapshot_ts is not None and cam.snapshot_ts > limit:
                cam.snapshot_ts, dirty = None, True
            if cam.last_change is not None and cam.last_change > limit:
                cam.last_change, dirty = None, True
            if cam.status_since is not None and cam.status_since > limit:
                cam.status_since, dirty = now, True
            if dirty:
                n += 1
                self.changes.cameras.add(cam.key)
        return n
