"""A scheduled report as CSV: one row per camera (spreadsheets want one table). UTF-8 with a BOM so Excel shows
the diacritics; cells that a spreadsheet would run as a formula are neutralised (hub/core/csvsafe.py)."""

from __future__ import annotations

from hub.core.csvsafe import csv_bytes
from hub.scheduled_reports.content import ReportData, hours, pct

COLUMNS = (
    "period",
    "district",
    "commune",
    "commune_name",
    "camera",
    "camera_name",
    "availability_pct",
    "healthy_pct",
    "offline_h",
    "no_data_h",
    "outages",
)


def report_csv(data: ReportData) -> bytes:
    rows: list[tuple[str, ...]] = [COLUMNS]
    for c in data.uptime.cameras:
        d = c.durations
        rows.append(
            (
                data.period.label,
                c.info.district,
                c.info.commune,
                data.name_of(c.info.district, c.info.commune),
                c.info.key.rsplit("/", 1)[-1],
                data.camera_names.get(c.info.key, ""),
                "" if d.availability is None else pct(d.availability),
                "" if d.healthy is None else pct(d.healthy),
                hours(d.offline),
                hours(d.no_data),
                str(c.outages),
            )
        )
    return csv_bytes(rows)
