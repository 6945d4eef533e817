"""Report shapes: JSON dicts and CSV files (UTF-8 with BOM so Excel reads Vietnamese; local times)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from hub.core import reports
from hub.core.csvsafe import csv_bytes
from hub.core.labels import STATUS_LABELS, problem_label
from hub.core.serialize import iso

CSV_TIME = "%Y-%m-%d %H:%M:%S"


def _pct(v: float | None) -> float | None:
    return round(v, 3) if v is not None else None


def _durations(d: reports.Durations) -> dict[str, Any]:
    return {
        "availability_pct": _pct(d.availability),
        "healthy_pct": _pct(d.healthy),
        "seconds": {
            "ok": d.ok,
            "problem": d.problem,
            "offline": d.offline,
            "no_data": d.no_data,
            "maintenance": d.maintenance,
        },  # fmt: skip
    }


def period_dict(period: reports.Period, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "kind": period.kind,
        "start": iso(period.start),
        "end": iso(period.end),
        "label": period.label,
        "timezone": str(tz),
    }


def camera_dict(c: reports.CameraUptime) -> dict[str, Any]:
    i = c.info
    return {
        "key": i.key,
        "district": i.district,
        "commune": i.commune,
        "id": i.key.rsplit("/", 1)[-1],
        "name": i.name,
        "outages": c.outages,
        **_durations(c.durations),
    }


def area_dict(a: reports.AreaUptime, names: dict[tuple[str, str], str]) -> dict[str, Any]:
    return {
        "district": a.district,
        "commune": a.commune or None,
        "name": names.get((a.district, a.commune)),
        "cameras": a.cameras,
        "outages": a.outages,
        **_durations(a.durations),
    }


def outage_dict(o: reports.Outage, names: dict[str, str | None]) -> dict[str, Any]:
    return {
        "camera": o.camera,
        "district": o.district,
        "commune": o.commune,
        "name": names.get(o.camera),
        "status": o.status,
        "start": iso(o.start),
        "end": iso(o.end),
        "duration_s": o.seconds,
        "started_before": o.started_before,
        "ongoing": o.ongoing,
        "problems": list(o.problems),
        "reason": o.reason,
    }


# CSV (UTF-8 with BOM so Excel reads Vietnamese; local times) -----------------------------------------------


def csv_response(rows: list[list[Any]], filename: str) -> web.Response:
    """Every text cell is escaped against formulas (hub/core/csvsafe.py)."""
    return web.Response(
        body=csv_bytes(rows),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _num(v: float | None, digits: int = 2) -> str:
    return "" if v is None else f"{v:.{digits}f}"


def _local(dt: datetime, tz: ZoneInfo) -> str:
    return reports.to_local(dt, tz).strftime(CSV_TIME)


UPTIME_HEADER = [
    "Huyện", "Xã", "Camera", "Tên", "Khả dụng (%)", "Hoạt động tốt (%)", "Mất kết nối (phút)",
    "Có sự cố (phút)", "Không có dữ liệu (phút)", "Số lần mất kết nối", "Bảo trì (phút)",
]  # fmt: skip


def uptime_csv_rows(rep: reports.UptimeReport, names: dict[tuple[str, str], str]) -> list[list[Any]]:
    rows: list[list[Any]] = [UPTIME_HEADER]
    for c in rep.cameras:
        i, d = c.info, c.durations
        rows.append([
            names.get((i.district, ""), i.district), names.get((i.district, i.commune), i.commune),
            i.key.rsplit("/", 1)[-1], i.name or "", _num(d.availability), _num(d.healthy),
            _num(d.offline / 60, 1), _num(d.problem / 60, 1), _num(d.no_data / 60, 1), c.outages,
            _num(d.maintenance / 60, 1),
        ])  # fmt: skip
    return rows


OUTAGE_HEADER = [
    "Huyện", "Xã", "Camera", "Tên", "Loại", "Bắt đầu", "Kết thúc", "Thời lượng (phút)",
    "Bắt đầu trước kỳ", "Đang tiếp diễn", "Sự cố", "Chi tiết",
]  # fmt: skip


def outage_csv_rows(
    items: list[reports.Outage], names: dict[tuple[str, str], str], cams: dict[str, str | None], tz: ZoneInfo
) -> list[list[Any]]:
    rows: list[list[Any]] = [OUTAGE_HEADER]
    for o in items:
        rows.append([
            names.get((o.district, ""), o.district), names.get((o.district, o.commune), o.commune),
            o.camera.rsplit("/", 1)[-1], cams.get(o.camera) or "", STATUS_LABELS.get(o.status, o.status),
            _local(o.start, tz), _local(o.end, tz), _num(o.seconds / 60, 1),
            "Có" if o.started_before else "Không", "Có" if o.ongoing else "Không",
            ", ".join(problem_label(x) for x in o.problems), o.reason or "",
        ])  # fmt: skip
    return rows
