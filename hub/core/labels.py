"""Vietnamese words shown to people, and local-time formatting. The browser gets the same tables as JSON."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hub.core.db import STATUSES, utc

STATUS_LABELS = {
    "ok": "Hoạt động",
    "problem": "Có sự cố",
    "offline": "Mất kết nối",
    "stale": "Không rõ trạng thái",
    "unknown": "Chưa có dữ liệu",
}
assert set(STATUS_LABELS) == set(STATUSES)

AGENT_STATE_LABELS = {
    "online": "Trực tuyến",
    "offline": "Ngoại tuyến",
    "stale": "Không rõ trạng thái",
    "unknown": "Chưa có dữ liệu",
}

PROBLEM_LABELS = {
    "no_signal": "Mất tín hiệu",
    "frozen": "Đóng băng hình",
    "black": "Hình đen",
    "covered": "Bị che",
    "blurred": "Mờ",
    "moved": "Lệch hướng",
    "ptz_off_preset": "PTZ lệch vị trí đặt trước",
    "colour_cast": "Sai màu",
    "noisy": "Nhiễu hạt",
    "stripes": "Sọc nhiễu",
    "overexposed": "Cháy sáng",
    "low_fps": "FPS thấp",
    "unreachable": "Không kết nối được",
    "auth_failed": "Sai mật khẩu",
    "no_frames": "Không có khung hình",
    "decode_error": "Lỗi giải mã",
}
# Shown for an offline camera that reported no specific problem code.
SIGNAL_LOST = PROBLEM_LABELS["no_signal"]


def problem_label(code: str) -> str:
    return PROBLEM_LABELS.get(code, code)


def problem_labels(camera: dict[str, Any]) -> list[str]:
    codes = camera.get("problems") or []
    if not codes and camera.get("status") == "offline":
        return [SIGNAL_LOST]
    return [problem_label(c) for c in codes]


def fold(text: str) -> str:
    """Lowercase without diacritics, so 'phuong' finds 'Phường' and 'dong' finds 'Đông'."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def local_time(value: datetime | str | None, tz: ZoneInfo, with_date: bool = True) -> str:
    if value is None:
        return "—"
    dt = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else utc(value)
    assert dt is not None
    local = dt.astimezone(tz)
    return local.strftime("%H:%M:%S %d/%m/%Y" if with_date else "%H:%M:%S")


def browser_labels() -> dict[str, Any]:
    return {"status": STATUS_LABELS, "problem": PROBLEM_LABELS, "agent": AGENT_STATE_LABELS}
