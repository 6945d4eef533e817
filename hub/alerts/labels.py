"""Vietnamese words for alert kinds, severities and states, and the JSON shape of one alert (API and live
events share it)."""

from __future__ import annotations

from typing import Any

from hub.alerts.rules import AlertState
from hub.core.db import to_db_time
from hub.core.facts import FactKind, Severity
from hub.core.serialize import iso

KIND_LABELS: dict[str, str] = {
    FactKind.CAMERA_OFFLINE: "Camera mất kết nối",
    FactKind.CAMERA_PROBLEM: "Camera có sự cố hình ảnh",
    FactKind.AGENT_OFFLINE: "Hộp biên mất kết nối",
    FactKind.AGENT_BACKLOG: "Hộp biên tồn đọng dữ liệu",
    FactKind.AGENT_DISK_LOW: "Hộp biên sắp đầy ổ đĩa",
    FactKind.SPEAKER_OFFLINE: "Loa mất kết nối",
    FactKind.SPEAKER_AMPLIFIER: "Loa lỗi bộ khuếch đại",
    FactKind.SPEAKER_SIGNAL_WEAK: "Loa sóng yếu",
    FactKind.SPEAKER_DISK_LOW: "Loa sắp đầy bộ nhớ",
    FactKind.SPEAKER_CONTENT_MISSING: "Loa thiếu nội dung sắp phát",
    FactKind.SPEAKER_LEVEL_LOW: "Loa phát im lặng hoặc quá nhỏ",
    FactKind.SPEAKER_CLOCK_OFF: "Đồng hồ loa bị lệch",
    FactKind.RELAY_UPSTREAM_LOST: "Mất luồng tiếp âm",
    FactKind.BROADCAST_FAILED: "Phát thanh thất bại",
    FactKind.BROADCAST_PARTIAL: "Phát thanh không đủ loa",
    FactKind.CHANNEL_FAILING: "Kênh gửi thông báo lỗi",
    FactKind.RECORDER_OFFLINE: "Đầu ghi mất kết nối",
    FactKind.RECORDER_DISK_FAILED: "Ổ cứng đầu ghi hỏng",
    FactKind.RECORDER_NOT_RECORDING: "Camera có hình nhưng không được ghi",
    FactKind.RECORDER_FOOTAGE_SHORT: "Đầu ghi lưu không đủ số ngày",
}
assert set(KIND_LABELS) == set(FactKind)

SEVERITY_LABELS: dict[str, str] = {
    Severity.INFO: "Thông tin",
    Severity.WARNING: "Cảnh báo",
    Severity.CRITICAL: "Nghiêm trọng",
}

STATUS_LABELS: dict[str, str] = {
    "pending": "Đang chờ xác nhận",
    "firing": "Đang báo",
    "resolved": "Đã hết",
}


def ts_iso(ts: float | None) -> str | None:
    return None if ts is None else iso(to_db_time(ts))


def alert_dict(
    a: AlertState, silenced_by: int | None, inhibited: bool, ack: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "id": a.id,
        "kind": a.kind.value,
        "kind_label": KIND_LABELS.get(a.kind, a.kind),
        "district": a.district,
        "commune": a.commune,
        "device": a.device,
        "name": a.name,
        "summary": a.summary,
        "parent": a.parent,
        "severity": a.severity.value,
        "status": a.status,
        "episode": a.episode,
        "since": ts_iso(a.since),
        "fired_at": ts_iso(a.fired_at),
        "resolved_at": ts_iso(a.resolved_at),
        "last_seen": ts_iso(a.last_true),
        "flapping": a.flapping,
        "silenced_by": silenced_by,
        "inhibited": inhibited,
        "ack": ack,
        "detail": a.detail,
    }
