"""Recorder facts (NVR/DVR): pure functions of the recorders' latest reports, the cameras' state and `now`.

- `recorder_offline`: the recorder did not answer its box, or no report came for `STALE_S`;
- `recorder_disk_failed`: a disk failed, is missing or unformatted, or the recorder has no disk at all;
- `recorder_not_recording`: the camera streams (status ok) while the channel recording it is not written;
- `recorder_footage_short`: the recorder keeps fewer days than its commune requires.

A recorder's facts name its edge box as `parent`, so the box's own `agent_offline` alert holds them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace

from hub.alerts.config import AlertsConfig, RuleSettings
from hub.core.db import STATUS_OK
from hub.core.facts import Fact, FactKind
from hub.core.recorder_state import RecorderStates, RecorderView
from hub.core.state import StateStore
from hub.core.state_model import CameraState

STALE_S = 3600.0  # no report for an hour (12 looks at the default interval): the box lost it
_BAD_DISKS = {"failed": "hỏng", "missing": "không tìm thấy", "unformatted": "chưa định dạng"}

AgentOf = Callable[[RecorderView], str | None]  # the key of the box that reports a recorder
CameraOf = Callable[[str, str, str], CameraState | None]  # (district, commune, slug) → the camera
MinDays = Callable[[str, str], float | None]  # (district, commune) → days of footage required


def recorder_facts(
    recorders: Iterable[RecorderView], camera_of: CameraOf, agent_of: AgentOf, min_days: MinDays, now: float
) -> list[Fact]:
    out: list[Fact] = []
    for r in recorders:
        h = r.health
        parent = agent_of(r)

        def fact(kind: FactKind, summary: str, r: RecorderView = r, device: str | None = None,
                 name: str | None = None, parent: str | None = parent, **detail: object) -> Fact:  # fmt: skip
            return Fact(kind, r.district, r.commune, device or r.key, min(r.health.ts, now), name or r.name,
                        summary[:300], parent,
                        {k: v for k, v in detail.items() if isinstance(v, str | int | float | bool)})  # fmt: skip

        if now - r.received > STALE_S:
            out.append(fact(FactKind.RECORDER_OFFLINE, "Hộp biên không còn báo về đầu ghi này", stale=True))
            continue
        if not h.online:
            out.append(fact(FactKind.RECORDER_OFFLINE, h.error or "Đầu ghi không trả lời"))
            continue
        bad = [f"ổ {d.id} {_BAD_DISKS[d.state]}" for d in h.disks if d.state in _BAD_DISKS]
        if bad or not h.disks:
            out.append(
                fact(FactKind.RECORDER_DISK_FAILED, "Đầu ghi: " + (", ".join(bad) or "không có ổ cứng"))
            )
        for ch in h.channels:
            if ch.camera is None or (ch.recording is not False and ch.enabled is not False):
                continue
            cam = camera_of(r.district, r.commune, ch.camera)
            if cam is None or cam.status != STATUS_OK:
                continue  # a camera with no picture has its own alert; nothing to record either
            why = "lịch ghi đang tắt" if ch.enabled is False else "không đang ghi"
            out.append(
                fact(
                    FactKind.RECORDER_NOT_RECORDING,
                    f"Camera có hình nhưng kênh {ch.channel} của {r.name} {why}",
                    device=cam.key,
                    name=cam.name or cam.slug,
                    recorder=r.key,
                    channel=ch.channel,
                )  # fmt: skip
            )
        need = min_days(r.district, r.commune)
        if need is not None and h.days_kept is not None and h.days_kept < need:
            out.append(
                fact(
                    FactKind.RECORDER_FOOTAGE_SHORT,
                    f"Đầu ghi chỉ còn lưu {h.days_kept:.1f} ngày (yêu cầu {need:g} ngày)",
                    days_kept=h.days_kept,
                    required=need,
                )  # fmt: skip
            )
    return out


class RecorderFacts:
    """The fact source over `RecorderStates`: remembers since when each condition has held (a report only
    says what holds at its own time)."""

    def __init__(
        self,
        states: RecorderStates,
        store: StateStore,
        settings: Callable[[FactKind, str], RuleSettings],
        config: AlertsConfig,
    ) -> None:
        self.states = states
        self.store = store
        self.settings = settings
        self.config = config
        self._began: dict[tuple[FactKind, str], float] = {}

    def _camera(self, district: str, commune: str, slug: str) -> CameraState | None:
        cam = self.store.cameras.get(f"{district}/{commune}/{slug}")
        if cam is not None:
            return cam
        same = [c for c in self.store.cameras.values() if c.district == district and c.slug == slug]
        return same[0] if len(same) == 1 else None  # a camera of another commune, when unambiguous

    def _agent(self, r: RecorderView) -> str | None:
        return self.store.agent_key_of(r.district, r.commune, r.health.agent) if r.health.agent else None

    def _min_days(self, district: str, commune: str) -> float | None:
        base = self.settings(FactKind.RECORDER_FOOTAGE_SHORT, district).threshold
        return self.config.footage_days(district, commune, base)

    def __call__(self, now: float) -> list[Fact]:
        facts = recorder_facts(self.states.items.values(), self._camera, self._agent, self._min_days, now)
        out, held = [], set()
        for f in facts:
            key = (f.kind, f.device)
            held.add(key)
            out.append(replace(f, since=self._began.setdefault(key, f.since)))
        for k in set(self._began) - held:
            del self._began[k]
        return out
