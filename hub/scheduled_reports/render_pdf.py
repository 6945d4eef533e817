"""A scheduled report as a PDF (reportlab): title, area and period, the totals, availability per commune, the
worst cameras, the longest outages, then each feature's table (broadcasts aired).

DejaVu Sans is embedded for the Vietnamese diacritics (reportlab's built-in fonts have no glyphs for them);
the font files come from Debian's fonts-dejavu-core (scripts/bootstrap.sh, docker/app.Dockerfile)."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from hub.core import reports
from hub.scheduled_reports.content import ReportData, hours, local, pct

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
FONT, FONT_BOLD = "DejaVuSans", "DejaVuSans-Bold"
KIND_TITLES = {"weekly": "Báo cáo tuần", "monthly": "Báo cáo tháng"}
WIDTH = 182 * mm


def _register_fonts() -> None:
    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    for d in FONT_DIRS:
        regular, bold = d / "DejaVuSans.ttf", d / "DejaVuSans-Bold.ttf"
        if regular.exists() and bold.exists():
            pdfmetrics.registerFont(TTFont(FONT, str(regular)))
            pdfmetrics.registerFont(TTFont(FONT_BOLD, str(bold)))
            return
    raise RuntimeError("DejaVuSans.ttf not found: install the Debian package fonts-dejavu-core")


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


ST = {
    "title": ParagraphStyle("title", fontName=FONT_BOLD, fontSize=15, leading=19, spaceAfter=2 * mm),
    "meta": ParagraphStyle("meta", fontName=FONT, fontSize=10, leading=13),
    "head": ParagraphStyle(
        "head", fontName=FONT_BOLD, fontSize=11, leading=14, spaceBefore=5 * mm, spaceAfter=2 * mm
    ),
    "cell": ParagraphStyle("cell", fontName=FONT, fontSize=8.5, leading=10.5),
}


def _table(head: tuple[str, ...], rows: list[tuple[str, ...]], empty: str) -> Table:
    body: list[list[object]] = [[Paragraph(_esc(v), ST["cell"]) for v in r] for r in rows]
    data: list[list[object]] = [[*head], *(body or [[empty, *([""] * (len(head) - 1))]])]
    t = Table(data, colWidths=[WIDTH / len(head)] * len(head), repeatRows=1)
    t.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT, 8.5),
                ("FONT", (0, 0), (-1, 0), FONT_BOLD, 8.5),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dfe6ec")),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#9aa7b2")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return t


def _area_rows(data: ReportData) -> list[tuple[str, ...]]:
    return [
        (data.name_of(a.district, a.commune), str(a.cameras), pct(a.durations.availability),
         pct(a.durations.healthy), hours(a.durations.offline), str(a.outages))
        for a in data.uptime.communes
    ]  # fmt: skip


def report_pdf(data: ReportData, tz: ZoneInfo, now: datetime) -> bytes:
    """`now` (naive UTC) is printed as the time the report was made."""
    _register_fonts()
    buf = io.BytesIO()
    title = f"{KIND_TITLES.get(data.kind, 'Báo cáo')}: {data.area_name}"
    doc = SimpleDocTemplate(
        buf, pagesize=A4, leftMargin=14 * mm, rightMargin=14 * mm, topMargin=14 * mm, bottomMargin=14 * mm,
        title=title, author="Giám sát vận hành", initialFontName=FONT,
    )  # fmt: skip
    total = data.uptime.total
    story: list[object] = [
        Paragraph(_esc(title), ST["title"]),
        Paragraph(f"Kỳ báo cáo: {_esc(data.period.label)}. Lập lúc {_esc(local(now, tz))}.", ST["meta"]),
        Paragraph(
            f"Camera: {total.cameras}. Thời gian hoạt động: <b>{pct(total.durations.availability)} %</b> "
            f"(không lỗi hình: {pct(total.durations.healthy)} %). Số lần mất tín hiệu: {total.outages}; "
            f"tổng thời gian mất tín hiệu: {hours(total.durations.offline)} giờ.",
            ST["meta"],
        ),
        Paragraph("Thời gian hoạt động theo xã", ST["head"]),
        _table(
            ("Xã/phường", "Camera", "Hoạt động %", "Không lỗi %", "Mất tín hiệu (giờ)", "Số lần mất"),
            _area_rows(data),
            "Không có camera",
        ),
        Paragraph("Camera kém nhất", ST["head"]),
        _table(
            ("Camera", "Xã/phường", "Hoạt động %", "Không lỗi %", "Số lần mất"),
            [
                (
                    data.camera_names.get(c.info.key, c.info.key),
                    data.name_of(c.info.district, c.info.commune),
                    pct(c.durations.availability),
                    pct(c.durations.healthy),
                    str(c.outages),
                )
                for c in data.worst
            ],  # fmt: skip
            "Không có camera nào lỗi",
        ),
        Paragraph("Lần mất tín hiệu dài nhất", ST["head"]),
        _table(
            ("Camera", "Từ", "Đến", "Số giờ", "Lý do"),
            [_outage_row(data, o, tz) for o in data.longest],
            "Không có lần mất tín hiệu nào",
        ),
    ]
    for sec in data.sections:
        story += [Paragraph(_esc(sec.title), ST["head"]), _table(sec.columns, list(sec.rows), "Không có")]
    story.append(Spacer(1, 4 * mm))
    doc.build(story)
    return buf.getvalue()


def _outage_row(data: ReportData, o: reports.Outage, tz: ZoneInfo) -> tuple[str, ...]:
    end = "còn đang mất" if o.ongoing else local(o.end, tz)
    return (
        data.camera_names.get(o.camera, o.camera),
        local(o.start, tz),
        end,
        hours(o.seconds),
        o.reason or "",
    )
