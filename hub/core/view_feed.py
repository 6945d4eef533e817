"""The hub runtime's side of the read path: its camera views (hub/core/camera_views.py) follow each SQL flush,
summary deltas go out when counts per commune change, and live events are built only for the areas some page
listens to (at a province most reports interest no open page).

With several hubs each holds only its partitions' cameras current, so the web follows SQL instead
(`HubCore.web_views` is None) and no summary delta is sent from here: the wall reloads the summary, a 304
while nothing changed.
"""

from __future__ import annotations

from collections.abc import Iterable

from hub.core.camera_views import CameraViews
from hub.core.events import EventBus
from hub.core.persist import agent_model
from hub.core.serialize import agent_to_dict, camera_state_dict, iso_ts
from hub.core.snapshots import StoredSnapshot
from hub.core.state import Changes, StateStore
from hub.core.stats import HubStats


class ViewFeed:
    def __init__(self, store: StateStore, events: EventBus, stats: HubStats, enabled: bool = True) -> None:
        self.store = store
        self.events = events
        self.stats = stats
        self.enabled = enabled
        # Counts per commune as of the last SQL flush, and each camera's JSON, built when first asked for
        # after it changed (most cameras of a province are not looked at between reports).
        self.views = CameraViews()

    def loaded(self) -> None:
        """After the registry was loaded: the starting point, not a change."""
        if not self.enabled:
            return
        for c in self.store.cameras.values():
            self.views.update(c.key, c.district, c.commune, c.slug, c.status, c.name, c, camera_state_dict)
        self.views.take_summary_delta()

    def flushed(self, written: Changes) -> None:
        """After a commit: the views follow what SQL now holds, and a summary delta goes out when counts per
        commune changed."""
        if not self.enabled:
            return
        cameras, views = self.store.cameras, self.views
        for keys in (written.cameras, written.metrics):
            for k in keys:
                c = cameras.get(k)
                if c is not None:
                    views.update(c.key, c.district, c.commune, c.slug, c.status, c.name, c, camera_state_dict)
        delta = views.take_summary_delta()
        if delta is not None and self.events.wants("summary"):
            since, version, areas = delta
            self.events.publish(
                {
                    "type": "summary",
                    "epoch": views.epoch,
                    "from": since,
                    "version": version,
                    "communes": [a.summary() for a in areas],
                }
            )
            self.stats.events += 1

    def forget(self, key: str) -> None:
        self.views.remove(key)

    def snapshots(self, stored: Iterable[StoredSnapshot]) -> None:
        """After the commit, so a client fetching the picture gets the new one."""
        for snap in stored:
            district, commune, _ = snap.camera_key.split("/")
            if self.events.wants("snapshot", district, commune):
                self.events.publish({"type": "snapshot", "key": snap.camera_key, "ts": iso_ts(snap.ts)})
                self.stats.events += 1

    def announce(self, camera_keys: Iterable[str], agent_keys: Iterable[str]) -> None:
        if not self.events.subscribers:
            return  # nobody listening; a client that connects loads the current state first
        for k in agent_keys:
            a = self.store.agents.get(k)
            if a is not None and self.events.wants("agent", a.district, a.commune):
                self.events.publish({"type": "agent", "agent": agent_to_dict(agent_model(a))})
                self.stats.events += 1
        wanted = self.events.interest("camera")
        if wanted is None:
            return
        for k in camera_keys:
            c = self.store.cameras.get(k)
            if c is not None and wanted.covers(c.district, c.commune):
                self.events.publish({"type": "camera", "camera": camera_state_dict(c)})
                self.stats.events += 1
