"""Validation of a programme as given by a person (JSON API or the editor page): every problem is a
`ProgrammeError` naming the field, in Vietnamese. References (content, villages, speakers) are checked against
the database in broadcast/programmes/references.py."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from broadcast.orders import Priority
from broadcast.programmes.models import TARGET_COMMUNE, TARGET_KINDS
from broadcast.programmes.schedule import Schedule, ScheduleError, last_possible, occurrences, parse_schedule
from contract.topics import is_slug

MAX_TITLE = 200
MAX_NOTE = 1000
MAX_ITEMS = 20
MAX_TARGETS = 500
MAX_REPEATS = 10
MAX_GAP_S = 600.0
FIELDS = frozenset(
    {
        "district",
        "commune",
        "title",
        "note",
        "items",
        "target_kind",
        "target_ids",
        "schedule",
        "repeats",
        "gap_s",
        "priority",
    }
)


class ProgrammeError(Exception):
    """A refused programme action; `status` is the HTTP status the API answers with. The API checks a body's
    shape against its schema first (400), so what is refused here is about meaning: 422 by default."""

    def __init__(self, field: str, message: str, status: int = 422, code: str = "invalid_programme") -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.status = status
        self.code = code


@dataclass(frozen=True)
class ProgrammeInput:
    district: str
    commune: str
    title: str
    note: str | None
    items: tuple[int, ...]
    target_kind: str
    target_ids: tuple[str, ...]
    schedule: Schedule
    repeats: int
    gap_s: float
    priority: Priority


def _text(data: Mapping[str, Any], name: str, label: str, max_len: int, required: bool) -> str | None:
    v = data.get(name)
    if v is None or (isinstance(v, str) and not v.strip()):
        if required:
            raise ProgrammeError(name, f"Thiếu {label}")
        return None
    if not isinstance(v, str):
        raise ProgrammeError(name, f"{label.capitalize()} phải là chữ")
    v = v.strip()
    if len(v) > max_len:
        raise ProgrammeError(name, f"{label.capitalize()} dài quá {max_len} ký tự")
    return v


def _int(data: Mapping[str, Any], name: str, label: str, default: int, lo: int, hi: int) -> int:
    v = data.get(name, default)
    if isinstance(v, str) and v.strip().lstrip("-").isdigit():
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ProgrammeError(name, f"{label} phải là số nguyên từ {lo} đến {hi}")
    return v


def _number(data: Mapping[str, Any], name: str, label: str, lo: float, hi: float) -> float:
    v = data.get(name, 0)
    try:
        f = float(v) if not isinstance(v, bool) else float("nan")
    except (TypeError, ValueError):
        f = float("nan")
    if not lo <= f <= hi:
        raise ProgrammeError(name, f"{label} phải là số từ {lo:g} đến {hi:g}")
    return f


def parse_programme(data: Any, now: datetime, tz: ZoneInfo) -> ProgrammeInput:
    """`now` is aware UTC: a once/range schedule must still have an occurrence after it."""
    if not isinstance(data, Mapping):
        raise ProgrammeError("body", "Nội dung yêu cầu phải là một đối tượng JSON")
    unknown = set(data) - FIELDS - {"submit", "resolution", "version"}
    if unknown:
        raise ProgrammeError("body", f"Trường không hỗ trợ: {', '.join(sorted(map(str, unknown)))}")
    district = data.get("district")
    commune = data.get("commune")
    if not isinstance(district, str) or not is_slug(district):
        raise ProgrammeError("district", "Thiếu hoặc sai mã huyện")
    if not isinstance(commune, str) or not is_slug(commune):
        raise ProgrammeError("commune", "Thiếu hoặc sai mã xã")
    title = _text(data, "title", "tên chương trình", MAX_TITLE, True)
    assert title is not None
    note = _text(data, "note", "ghi chú", MAX_NOTE, False)
    raw_items = data.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        raise ProgrammeError("items", "Chọn ít nhất một nội dung để phát")
    if len(raw_items) > MAX_ITEMS:
        raise ProgrammeError("items", f"Tối đa {MAX_ITEMS} nội dung trong một chương trình")
    items: list[int] = []
    for x in raw_items:
        if isinstance(x, str) and x.isdigit():
            x = int(x)
        if isinstance(x, bool) or not isinstance(x, int) or x <= 0:
            raise ProgrammeError("items", f"Mã nội dung {str(x)[:20]!r} không hợp lệ")
        items.append(x)
    target_kind = data.get("target_kind", TARGET_COMMUNE)
    if target_kind not in TARGET_KINDS:
        raise ProgrammeError("target_kind", "Vùng phát phải là: toàn xã, các thôn hoặc các cụm loa đã chọn")
    raw_targets = data.get("target_ids") or []
    if not isinstance(raw_targets, list) or len(raw_targets) > MAX_TARGETS:
        raise ProgrammeError("target_ids", "Danh sách thôn / cụm loa không hợp lệ")
    targets = tuple(sorted({t for t in raw_targets if isinstance(t, str)}))
    if len(targets) != len(set(map(str, raw_targets))) or not all(is_slug(t) for t in targets):
        raise ProgrammeError("target_ids", "Mã thôn / cụm loa không hợp lệ")
    if target_kind == TARGET_COMMUNE:
        targets = ()
    elif not targets:
        raise ProgrammeError(
            "target_ids", "Chọn ít nhất một thôn" if target_kind == "villages" else "Chọn ít nhất một cụm loa"
        )
    try:
        schedule = parse_schedule(data.get("schedule"))
    except ScheduleError as exc:
        raise ProgrammeError(f"schedule.{exc.field}", exc.message) from None
    repeats = _int(data, "repeats", "Số lần phát lại", 1, 1, MAX_REPEATS)
    gap_s = _number(data, "gap_s", "Khoảng nghỉ giữa các lần phát (giây)", 0.0, MAX_GAP_S)
    try:
        priority = Priority(data.get("priority", "normal"))
    except ValueError:
        raise ProgrammeError("priority", "Mức ưu tiên phải là: thông thường, ưu tiên hoặc khẩn cấp") from None
    check_future(schedule, now, tz)
    return ProgrammeInput(
        district, commune, title, note, tuple(items), target_kind, targets, schedule, repeats, gap_s, priority
    )


def check_future(schedule: Schedule, now: datetime, tz: ZoneInfo) -> None:
    """A schedule whose every occurrence is already past would never air: refuse it when saved/approved."""
    last = last_possible(schedule, tz)
    if last is None:
        return
    if last <= now or not occurrences(schedule, tz, now, last + timedelta(seconds=1)):
        field = "schedule.date" if schedule.kind == "once" else "schedule.end_date"
        raise ProgrammeError(field, "Thời điểm phát đã qua; hãy chọn giờ phát trong tương lai")


def utc_now(now_naive: datetime) -> datetime:
    return now_naive.replace(tzinfo=UTC)
