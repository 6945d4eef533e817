"""JSON shapes of domain rows, shared by the API, the live event stream and (later) exports."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hub.core.db import Agent, Camera, Transition, utc
from hub.core.state import CameraState


def iso(dt: datetime | None) -> str | None:
    d = utc(dt)
    return d.isoformat().replace("+00:00", "Z") if d else None


def iso_ts(ts: float | None) -> str | None:
    """Epoch seconds as `iso` writes the same instant read back from SQL (microseconds, `Z`)."""
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z") if ts is not None else None


def camera_to_dict(c: Camera) -> dict[str, Any]:
    return {
        "key": c.key,
        "district": c.district,
        "commune": c.commune,
        "id": c.slug,
        "name": c.name,
        "agent": c.agent_key,
        "status": c.status,
        "status_since": iso(c.status_since),
        "problems": list(c.problems or []),
        "reason": c.reason,
        "online": c.online,
        "fps": c.fps,
        "width": c.width,
        "height": c.height,
        "open_ms": c.open_ms,
        "brightness": c.brightness,
        "sharpness": c.sharpness,
        "motion": c.motion,
        "last_ts": iso(c.last_ts),
        "last_seen": iso(c.last_seen),
        "snapshot_ts": iso(c.snapshot_ts),
    }


def camera_state_dict(c: CameraState) -> dict[str, Any]:
    """`camera_to_dict` of the row the hub writes for this state, without building the row (live events, the
    web's camera views)."""
    return {
        "key": c.key,
        "district": c.district,
        "commune": c.commune,
        "id": c.slug,
        "name": c.name,
        "agent": c.agent_key,
        "status": c.status,
        "status_since": iso_ts(c.status_since),
        "problems": list(c.problems),
        "reason": c.reason,
        "online": c.online,
        "fps": c.fps,
        "width": c.width,
        "height": c.height,
        "open_ms": c.open_ms,
        "brightness": c.brightness,
        "sharpness": c.sharpness,
        "motion": c.motion,
        "last_ts": iso_ts(c.last_ts),
        "last_seen": iso_ts(c.last_seen),
        "snapshot_ts": iso_ts(c.snapshot_ts),
    }


def agent_to_dict(a: Agent) -> dict[str, Any]:
    return {
        "key": a.key,
        "district": a.district,
        "commune": a.commune,
        "id": a.slug,
        "state": a.state,
        "state_since": iso(a.state_since),
        "version": a.version,
        "boot": a.boot,
        "cameras": a.cameras,
        "queue": a.queue,
        "last_seen": iso(a.last_seen),
        "seq_gaps": a.seq_gaps,
    }


def transition_to_dict(t: Transition) -> dict[str, Any]:
    return {
        "id": t.id,
        "kind": t.subject_kind,
        "key": t.subject_key,
        "district": t.district,
        "commune": t.commune,
        "at": iso(t.at),
        "from": t.from_status,
        "to": t.to_status,
        "problems": list(t.problems or []),
        "reason": t.reason,
    }
