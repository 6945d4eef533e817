"""How a recorder (NVR/DVR) is shown to people: the rows of the camera page's "Đầu ghi" section and of the
recorders page. Pure: a report in, Vietnamese words and numbers out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from contract import RecorderChannel
from hub.core.db import to_db_time
from hub.core.recorder_state import RecorderView
from hub.core.serialize import iso

DISK_WORDS = {
    "ok": "bình thường",
    "failed": "hỏng",
    "unformatted": "chưa định dạng",
    "formatting": "đang định dạng",
    "missing": "không tìm thấy",
    "other": "không rõ",
}
STALE_S = 3600.0


def epoch(naive_utc: datetime) -> float:
    """The web context's clock (naive UTC) as epoch seconds."""
    return naive_utc.replace(tzinfo=UTC).timestamp()


def _iso(ts: float | None) -> str | None:
    return None if ts is None else iso(to_db_time(ts))


def recording_word(ch: RecorderChannel) -> str:
    if ch.enabled is False:
        return "lịch ghi tắt"
    if ch.recording is None:
        return "không rõ"
    return "đang ghi" if ch.recording else "không ghi"


def recorder_dict(v: RecorderView, now: float) -> dict[str, Any]:
    h = v.health
    free = sum(d.free_mb or 0 for d in h.disks) if h.disks else None
    cap = sum(d.capacity_mb or 0 for d in h.disks) if h.disks else None
    return {
        "key": v.key,
        "district": v.district,
        "commune": v.commune,
        "id": v.slug,
        "name": v.name,
        "api": h.api,
        "online": h.online,
        "stale": now - v.received > STALE_S,
        "error": h.error,
        "ts": _iso(h.ts),
        "received": _iso(v.received),
        "days_kept": h.days_kept,
        "oldest_ts": _iso(h.oldest_ts),
        "free_gb": round(free / 1024, 1) if free is not None else None,
        "capacity_gb": round(cap / 1024, 1) if cap is not None else None,
        "disks": [
            {
                "id": d.id,
                "state": d.state,
                "label": DISK_WORDS[d.state],
                "raw": d.raw,
                "free_mb": d.free_mb,
                "capacity_mb": d.capacity_mb,
            }  # fmt: skip
            for d in h.disks
        ],
        "channels": [
            {
                "channel": c.channel,
                "camera": c.camera,
                "enabled": c.enabled,
                "recording": c.recording,
                "label": recording_word(c),
                "oldest_ts": _iso(c.oldest_ts),
            }  # fmt: skip
            for c in h.channels
        ],
    }


def recorder_rows(found: list[tuple[RecorderView, RecorderChannel]], now: float) -> list[dict[str, Any]]:
    """The camera page: each recorder channel recording this camera, with its recorder's state."""
    out = []
    for v, ch in found:
        row = recorder_dict(v, now)
        row["channel"] = {"channel": ch.channel, "label": recording_word(ch), "recording": ch.recording,
                          "oldest_ts": _iso(ch.oldest_ts)}  # fmt: skip
        out.append(row)
    return out
