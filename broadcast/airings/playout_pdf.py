"""The playout history of a commune for a month as a PDF (reportlab), for the commune's report to the district:
title, commune, month, then one table per airing with every targeted speaker and what it did.

DejaVu Sans is embedded (Vietnamese diacritics; the built-in PDF fonts have no glyphs for them). The font file
comes from Debian's fonts-dejavu-core.
"""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from broadcast.airings.reports import (
    AIRING_STATUS_LABELS,
    PRIORITY_LABELS,
    RECEIPT_LABELS,
    AiringReport,
    local,
)

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
FONT, FONT_BOLD = "DejaVuSans", "DejaVuSans-Bold"


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


def _styles() -> dict[str, ParagraphStyle]:
    return {
        "title": ParagraphStyle("title", fontName=FONT_BOLD, fontSize=15, leading=19, spaceAfter=3 * mm),
        "meta": ParagraphStyle("meta", fontName=FONT, fontSize=10, leading=13),
        "head": ParagraphStyle("head", fontName=FONT_BOLD, fontSize=10.5, leading=13, spaceBefore=4 * mm),
        "cell": ParagraphStyle("cell", fontName=FONT, fontSize=8.5, leading=10.5),
        "small": ParagraphStyle("small", fontName=FONT, fontSize=8.5, leading=11, textColor=colors.grey),
    }


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _airing_block(rep: AiringReport, tz: ZoneInfo, st: dict[str, ParagraphStyle]) -> KeepTogether:
    a = rep.airing
    head = Paragraph(
        f"{_esc(local(a.start_at, tz, '%H:%M %d/%m/%Y'))} · {_esc(a.title)} · "
        f"{PRIORITY_LABELS.get(a.priority, a.priority)}",
        st["head"],
    )
    skew = "—" if a.skew_ms is None else f"{a.skew_ms:.1f} ms"
    summary = Paragraph(
        f"Kết quả: <b>{AIRING_STATUS_LABELS.get(a.status, a.status)}</b> — {a.played}/{a.targeted} loa phát; "
        f"độ lệch khởi phát giữa các loa: {skew}. Mã: {_esc(a.id)}"
        + (f". Ghi chú: {_esc(a.reason)}" if a.reason else ""),
        st["meta"],
    )
    rows: list[list[object]] = [["Loa", "Thôn", "Kết quả", "Lệch (ms)", "Đã phát (s)", "Lý do"]]
    for x in rep.speakers:
        rows.append([
            Paragraph(_esc(x.name), st["cell"]), Paragraph(_esc(x.village or "—"), st["cell"]),
            Paragraph(RECEIPT_LABELS.get(x.state, x.state), st["cell"]),
            "—" if x.offset_ms is None else f"{x.offset_ms:.1f}",
            "—" if x.played_s is None else f"{x.played_s:.0f}", Paragraph(_esc(x.reason or ""), st["cell"]),
        ])  # fmt: skip
    if len(rows) == 1:
        rows.append(["Không có loa nào trong phạm vi phát", "", "", "", "", ""])
    table = Table(rows, colWidths=[38 * mm, 28 * mm, 24 * mm, 17 * mm, 18 * mm, 55 * mm], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT, 8.5),
                ("FONT", (0, 0), (-1, 0), FONT_BOLD, 8.5),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dfe6ec")),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#9aa7b2")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("ALIGN", (3, 1), (4, -1), "RIGHT"),
            ]
        )  # fmt: skip
    )
    return KeepTogether([head, summary, Spacer(1, 1.5 * mm), table])


def history_pdf(
    reports: list[AiringReport],
    tz: ZoneInfo,
    commune_name: str,
    district_name: str,
    month: str,
    now: datetime,
) -> bytes:
    """`month` is the label shown ("11/2026"); `now` (naive UTC) is printed as the time of the export."""
    _register_fonts()
    st = _styles()
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf, pagesize=A4, leftMargin=14 * mm, rightMargin=14 * mm, topMargin=14 * mm, bottomMargin=14 * mm,
        title=f"Lịch sử phát thanh {commune_name} {month}", author="Giám sát vận hành", initialFontName=FONT,
    )  # fmt: skip
    aired = sum(1 for r in reports if r.airing.played > 0)
    story: list[object] = [
        Paragraph(f"Lịch sử phát thanh tháng {_esc(month)}", st["title"]),
        Paragraph(f"Xã: <b>{_esc(commune_name)}</b> — {_esc(district_name)}", st["meta"]),
        Paragraph(
            f"{len(reports)} lượt phát, {aired} lượt có loa phát. Giờ Việt Nam. "
            f"Xuất lúc {_esc(local(now, tz, '%H:%M %d/%m/%Y'))}.",
            st["small"],
        ),
    ]
    if not reports:
        story.append(Paragraph("Không có lượt phát nào trong tháng.", st["meta"]))
    story += [_airing_block(r, tz, st) for r in reports]

    def footer(canvas: Any, _doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 8)
        canvas.drawRightString(A4[0] - 14 * mm, 8 * mm, f"Trang {canvas.getPageNumber()}")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()
