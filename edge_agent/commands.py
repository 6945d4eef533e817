"""Commands from the hub (checked by device_runtime/orders.py): the pure parts of answering them (reload plans, reply data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edge_agent.config import EdgeConfig


class ReloadRefused(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class ReloadPlan:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    settings_changed: bool = False

    def data(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "removed": self.removed,
            "changed": self.changed,
            "settings_changed": self.settings_changed,
        }


def reload_plan(old: EdgeConfig, new: EdgeConfig) -> ReloadPlan:
    """What a reload changes. Identity and broker settings need a restart: refused, so nothing half-applies."""
    if new.agent != old.agent:
        raise ReloadRefused("mục agent (id, huyện, xã, tên) đã thay đổi: cần khởi động lại agent")
    if new.mqtt != old.mqtt:
        raise ReloadRefused("mục mqtt đã thay đổi: cần khởi động lại agent")
    if new.hub_public_key != old.hub_public_key:
        # The key that checks orders is not changed by an order: a restart on the box does it.
        raise ReloadRefused("hub_public_key đã thay đổi: cần khởi động lại agent")
    before = {c.id: c for c in old.enabled_cameras()}
    after = {c.id: c for c in new.enabled_cameras()}
    return ReloadPlan(
        added=sorted(after.keys() - before.keys()),
        removed=sorted(before.keys() - after.keys()),
        changed=sorted(cid for cid in before.keys() & after.keys() if before[cid] != after[cid]),
        settings_changed=(old.probe, old.thresholds, old.outbox) != (new.probe, new.thresholds, new.outbox),
    )


def probe_reply(
    summaries: list[dict[str, Any]], one_camera: bool, snapshot: bool
) -> tuple[str, dict[str, Any], str | None]:
    """(status, data, error) for a probe/snapshot command from the per-camera summaries of its probes.

    For one camera the reply is an error when the probe could not run, or when a snapshot was asked for and
    the camera gave no picture; for all cameras it is ok and `data.cameras` tells each one's outcome.
    """
    cameras = {s["camera"]: {k: v for k, v in s.items() if k != "camera"} for s in summaries}
    published = sum(1 for s in summaries if s.get("snapshot"))
    data = {"published": published, "cameras": cameras}
    if one_camera and summaries:
        only = summaries[0]
        if "error" in only:
            return "error", data, str(only["error"])
        if snapshot and not only.get("snapshot"):
            return (
                "error",
                data,
                f"Không lấy được ảnh từ camera {only['camera']}: {only.get('reason') or 'mất kết nối'}",
            )
    return "ok", data, None


def relearn_reply(cameras: list[str], learn_probes: int) -> dict[str, Any]:
    """Reply data for `relearn`: the reference is learned again from the next healthy probes."""
    return {
        "cameras": cameras,
        "learn_probes": learn_probes,
        "message": f"Đã xoá ảnh tham chiếu; học lại từ {learn_probes} lần kiểm tra tốt tiếp theo",
    }
