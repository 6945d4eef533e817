"""Message text in Vietnamese: pure functions of the notice, area names, time zone and the hub's public URL.

Zalo caps a text at 2,000 characters; a long list of devices is cut to what fits, ending with
"… và 5 camera khác", so the header, the time and the link always survive.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hub.core.facts import AlertNotice, FactKind, NoticeItem, Severity

AreaNames = dict[tuple[str, str], str]  # (district, "") / (district, commune) → display name

KIND_LABELS: dict[str, str] = {
    FactKind.CAMERA_OFFLINE: "Camera mất kết nối",
    FactKind.CAMERA_PROBLEM: "Camera có sự cố hình ảnh",
    FactKind.AGENT_OFFLINE: "Thiết bị biên mất kết nối",
    FactKind.AGENT_BACKLOG: "Thiết bị biên tồn đọng dữ liệu",
    FactKind.AGENT_DISK_LOW: "Thiết bị biên sắp đầy ổ đĩa",
    FactKind.SPEAKER_OFFLINE: "Cụm loa mất kết nối",
    FactKind.SPEAKER_AMPLIFIER: "Cụm loa báo lỗi bộ khuếch đại",
    FactKind.SPEAKER_SIGNAL_WEAK: "Cụm loa có sóng di động yếu",
    FactKind.SPEAKER_DISK_LOW: "Cụm loa sắp đầy bộ nhớ",
    FactKind.SPEAKER_CONTENT_MISSING: "Cụm loa chưa có nội dung sắp phát",
    FactKind.SPEAKER_LEVEL_LOW: "Cụm loa phát im lặng hoặc quá nhỏ",
    FactKind.SPEAKER_CLOCK_OFF: "Đồng hồ cụm loa bị lệch",
    FactKind.RELAY_UPSTREAM_LOST: "Mất luồng tiếp âm",
    FactKind.BROADCAST_FAILED: "Bản tin không phát được",
    FactKind.BROADCAST_PARTIAL: "Bản tin phát thiếu loa",
    FactKind.CHANNEL_FAILING: "Kênh thông báo Zalo gặp sự cố",
    FactKind.RECORDER_OFFLINE: "Đầu ghi mất kết nối",
    FactKind.RECORDER_DISK_FAILED: "Ổ cứng đầu ghi hỏng",
    FactKind.RECORDER_NOT_RECORDING: "Camera có hình nhưng đầu ghi không ghi",
    FactKind.RECORDER_FOOTAGE_SHORT: "Đầu ghi lưu không đủ số ngày quy định",
}
RESOLVED_LABELS: dict[str, str] = {
    FactKind.CAMERA_OFFLINE: "Camera đã kết nối lại",
    FactKind.CAMERA_PROBLEM: "Camera đã hết sự cố hình ảnh",
    FactKind.AGENT_OFFLINE: "Thiết bị biên đã kết nối lại",
    FactKind.AGENT_BACKLOG: "Thiết bị biên đã gửi hết dữ liệu tồn",
    FactKind.AGENT_DISK_LOW: "Ổ đĩa thiết bị biên đã đủ chỗ",
    FactKind.SPEAKER_OFFLINE: "Cụm loa đã kết nối lại",
    FactKind.SPEAKER_AMPLIFIER: "Bộ khuếch đại cụm loa đã hết lỗi",
    FactKind.SPEAKER_SIGNAL_WEAK: "Sóng di động của cụm loa đã tốt lại",
    FactKind.SPEAKER_DISK_LOW: "Bộ nhớ cụm loa đã đủ chỗ",
    FactKind.SPEAKER_CONTENT_MISSING: "Cụm loa đã có nội dung sắp phát",
    FactKind.SPEAKER_LEVEL_LOW: "Cụm loa đã phát đủ mức âm thanh",
    FactKind.SPEAKER_CLOCK_OFF: "Đồng hồ cụm loa đã đúng lại",
    FactKind.RELAY_UPSTREAM_LOST: "Luồng tiếp âm đã có lại",
    FactKind.BROADCAST_FAILED: "Đã hết cảnh báo bản tin không phát được",
    FactKind.BROADCAST_PARTIAL: "Đã hết cảnh báo bản tin phát thiếu loa",
    FactKind.CHANNEL_FAILING: "Kênh thông báo Zalo đã hoạt động lại",
    FactKind.RECORDER_OFFLINE: "Đầu ghi đã kết nối lại",
    FactKind.RECORDER_DISK_FAILED: "Ổ cứng đầu ghi đã hoạt động lại",
    FactKind.RECORDER_NOT_RECORDING: "Đầu ghi đã ghi lại camera",
    FactKind.RECORDER_FOOTAGE_SHORT: "Đầu ghi đã lưu đủ số ngày",
}
ITEM_NOUNS: dict[str, str] = {
    FactKind.CAMERA_OFFLINE: "camera",
    FactKind.CAMERA_PROBLEM: "camera",
    FactKind.SPEAKER_OFFLINE: "cụm loa",
    FactKind.SPEAKER_AMPLIFIER: "cụm loa",
    FactKind.SPEAKER_SIGNAL_WEAK: "cụm loa",
    FactKind.SPEAKER_DISK_LOW: "cụm loa",
    FactKind.SPEAKER_CONTENT_MISSING: "cụm loa",
    FactKind.SPEAKER_LEVEL_LOW: "cụm loa",
    FactKind.SPEAKER_CLOCK_OFF: "cụm loa",
    FactKind.RELAY_UPSTREAM_LOST: "luồng tiếp âm",
    FactKind.BROADCAST_FAILED: "bản tin",
    FactKind.BROADCAST_PARTIAL: "bản tin",
    FactKind.CHANNEL_FAILING: "kênh",
    FactKind.RECORDER_OFFLINE: "đầu ghi",
    FactKind.RECORDER_DISK_FAILED: "đầu ghi",
    FactKind.RECORDER_NOT_RECORDING: "camera",
    FactKind.RECORDER_FOOTAGE_SHORT: "đầu ghi",
}
SEVERITY_LABELS = {Severity.INFO: "Thông tin", Severity.WARNING: "Cảnh báo", Severity.CRITICAL: "KHẨN"}
SEVERITY_MARKS = {Severity.INFO: "🔵", Severity.WARNING: "🟠", Severity.CRITICAL: "🔴"}


def duration_vi(seconds: float) -> str:
    """'45 giây', '12 phút', '2 giờ 5 phút', '3 ngày 4 giờ'."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s} giây"
    m = s // 60
    if m < 60:
        return f"{m} phút"
    h, m = divmod(m, 60)
    if h < 24:
        return f"{h} giờ" + (f" {m} phút" if m else "")
    d, h = divmod(h, 24)
    return f"{d} ngày" + (f" {h} giờ" if h else "")


def local_clock(ts: float, tz: ZoneInfo, now: float | None = None) -> str:
    """'14:05' on the same local day as `now`, else '14:05 22/11/2026'."""
    dt = datetime.fromtimestamp(ts, UTC).astimezone(tz)
    if now is not None and datetime.fromtimestamp(now, UTC).astimezone(tz).date() == dt.date():
        return dt.strftime("%H:%M")
    return dt.strftime("%H:%M %d/%m/%Y")


def area_label(names: AreaNames, district: str, commune: str) -> str:
    if not district:
        return "Toàn tỉnh"
    d = names.get((district, ""), district)
    if not commune:
        return d
    return f"{names.get((district, commune), commune)}, {d}"


def item_noun(kind: str) -> str:
    return ITEM_NOUNS.get(kind, "thiết bị")


def _item_line(it: NoticeItem, status: str, now: float, tz: ZoneInfo) -> str:
    name = it.name or it.device
    if status == "resolved":
        until = it.until if it.until is not None else now  # the notice's time is when the group resolved
        span = f"{local_clock(it.since, tz, now)}–{local_clock(until, tz, now)}"
        return f"• {name} — gián đoạn {duration_vi(until - it.since)} ({span})"
    if it.until is not None:  # recovered inside a group that still fires
        return f"• {name} — đã trở lại sau {duration_vi(it.until - it.since)}"
    detail = f" — {it.summary}" if it.summary else ""
    return f"• {name}{detail} (từ {local_clock(it.since, tz, now)}, {duration_vi(now - it.since)})"


def fit_lines(head: list[str], items: list[str], tail: list[str], max_chars: int, noun: str) -> str:
    """Joins head + as many item lines as fit + "… và N {noun} khác" + tail within max_chars."""
    fixed = "\n".join(head + tail)
    budget = max_chars - len(fixed) - 1
    kept: list[str] = []
    used = 0
    for i, line in enumerate(items):
        rest = len(items) - i - 1
        more = len(f"… và {rest} {noun} khác") + 1 if rest else 0
        if used + len(line) + 1 + more > budget:
            omitted = len(items) - len(kept)
            kept.append(f"… và {omitted} {noun} khác")
            break
        kept.append(line)
        used += len(line) + 1
    text = "\n".join(head + kept + tail)
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


SAME_TIME_S = 60.0  # items that began (and ended) within a minute share one time line in the header


def _shared_span(notice: AlertNotice) -> tuple[float, float | None] | None:
    """(since, until) when every item began — and, for a resolved notice, ended — within a minute."""
    items = notice.items
    if len(items) < 2:
        return None
    sinces = [it.since for it in items]
    if max(sinces) - min(sinces) > SAME_TIME_S:
        return None
    if notice.status != "resolved":
        return min(sinces), None
    untils = [it.until if it.until is not None else notice.created_at for it in items]
    if max(untils) - min(untils) > SAME_TIME_S:
        return None
    return min(sinces), max(untils)


def render_notice(
    notice: AlertNotice, names: AreaNames, tz: ZoneInfo, public_url: str, max_chars: int = 2000
) -> str:
    now = notice.created_at
    where = area_label(names, notice.district, notice.commune)
    n = len(notice.items)
    noun = item_noun(notice.kind)
    shared = _shared_span(notice)
    if notice.status == "resolved":
        head = [f"✅ [Đã khắc phục] {RESOLVED_LABELS.get(notice.kind, notice.kind)} — {where}"]
        if shared is not None and shared[1] is not None:
            since, until = shared[0], shared[1]
            span = f"{local_clock(since, tz, now)}–{local_clock(until, tz, now)}"
            head.append(f"{n} {noun} đã hoạt động lại sau {duration_vi(until - since)} gián đoạn ({span}):")
        elif n > 1:
            head.append(f"{n} {noun} đã hoạt động lại:")
    else:
        mark = SEVERITY_MARKS.get(notice.severity, "🟠")
        label = SEVERITY_LABELS.get(notice.severity, notice.severity)
        again = " (nhắc lại)" if notice.status == "repeat" else ""
        head = [f"{mark} [{label}{again}] {KIND_LABELS.get(notice.kind, notice.kind)} — {where}"]
        down = sum(1 for it in notice.items if it.until is None)
        count = f"{down}/{n} {noun} đang gặp sự cố" if down != n else f"{n} {noun}"
        if shared is not None:
            since = shared[0]
            head.append(f"{count}, từ {local_clock(since, tz, now)} ({duration_vi(now - since)}):")
        elif n > 1:
            head.append(f"{count}:")
    if shared is not None:
        lines = [
            f"• {it.name or it.device}"
            + (f" — {it.summary}" if it.summary and notice.status != "resolved" else "")
            for it in notice.items
        ]
    else:
        lines = [_item_line(it, notice.status, now, tz) for it in notice.items]
    tail = [f"Lúc {local_clock(now, tz)} (giờ Việt Nam)", f"Xem: {public_url.rstrip('/')}{notice.link_path}"]
    if notice.status == "resolved" and notice.open_items > 0:
        tail.insert(0, f"Còn {notice.open_items} {noun} khác đang gặp sự cố.")
    return fit_lines(head, lines, tail, max_chars, noun)
