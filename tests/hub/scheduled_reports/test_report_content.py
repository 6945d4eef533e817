"""What a scheduled report says, from a seeded database: the numbers, the PDF's text (read back with pdftotext,
Vietnamese diacritics included), the CSV's columns; made once per period and area."""

from __future__ import annotations

import csv
import io
import subprocess
from pathlib import Path

from sqlalchemy import select

from hub.compose import open_database
from hub.core.db import Database
from hub.scheduled_reports.models import ReportDelivery, ReportRun
from hub.scheduled_reports.render_csv import COLUMNS
from tests.hub.scheduled_reports.conftest import seed, service


def runs(db: Database) -> dict[tuple[str, str], ReportRun]:
    with db.session() as s:
        return {(r.kind, r.commune): r for r in s.scalars(select(ReportRun))}


def pdf_text(path: Path) -> str:
    out = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, timeout=30
    )
    return out.stdout.decode()


async def test_due_reports_are_made_once_per_area_with_the_seeded_numbers(
    tmp_path: Path, db: Database
) -> None:
    svc, clock = service(tmp_path, db)
    assert await svc.make_due() == 6  # week and month × (whole hub, dinh_long, dinh_tan)
    clock.now += 3600
    assert await svc.make_due() == 0  # made once
    got = runs(db)
    week = got[("weekly", "dinh_long")]
    assert week.label == "Tuần 30/11–06/12/2026"
    # cam1 168 h up, cam2 156 h up of 168: (168 + 156) / 336
    assert (week.cameras, week.availability) == (2, "96.4")
    assert (got[("weekly", "dinh_tan")].cameras, got[("weekly", "dinh_tan")].availability) == (1, "0.0")
    assert (got[("weekly", "")].cameras, got[("weekly", "")].availability) == (3, "64.3")  # 324 / 504
    assert got[("monthly", "dinh_long")].label == "Tháng 11/2026"
    assert week.error is None and week.pdf_bytes > 0 and week.csv_bytes > 0


async def test_the_pdf_reads_back_in_vietnamese(tmp_path: Path, db: Database) -> None:
    svc, _ = service(tmp_path, db)
    await svc.make_due()
    week = runs(db)[("weekly", "dinh_long")]
    text = pdf_text(svc.path(week.id, "pdf"))
    assert "Báo cáo tuần: Xã Định Long" in text
    assert "Tuần 30/11–06/12/2026" in text
    assert "96.4 %" in text
    assert "Thời gian hoạt động theo xã" in text
    assert "Ngã ba chợ" in text and "kết nối bị từ chối" in text  # the worst camera and the longest outage
    assert "00:00 01/12/2026" in text and "12:00 01/12/2026" in text and "12.0" in text
    assert "Phát thanh trong kỳ" in text and "5/6" in text  # broadcasts: 3/3 and 2/3 speakers
    whole = pdf_text(svc.path(runs(db)[("weekly", "")].id, "pdf"))
    assert "Báo cáo tuần: Toàn bộ địa bàn" in whole and "Xã Định Tân" in whole and "Trạm y tế" in whole


async def test_the_csv_has_one_row_per_camera_with_its_figures(tmp_path: Path, db: Database) -> None:
    svc, _ = service(tmp_path, db)
    await svc.make_due()
    week = runs(db)[("weekly", "dinh_long")]
    raw = svc.path(week.id, "csv").read_bytes()
    assert raw.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert tuple(table[0]) == COLUMNS
    rows = {r[4]: dict(zip(COLUMNS, r, strict=True)) for r in table[1:]}
    assert set(rows) == {"cam1", "cam2"}
    assert rows["cam2"]["availability_pct"] == "92.9"
    assert (rows["cam2"]["offline_h"], rows["cam2"]["outages"]) == ("12.0", "1")
    assert (rows["cam1"]["availability_pct"], rows["cam1"]["commune_name"]) == ("100.0", "Xã Định Long")


async def test_receivers_get_one_delivery_each_and_an_unset_channel_is_shown_as_skipped(
    tmp_path: Path, db: Database
) -> None:
    svc, _ = service(
        tmp_path,
        db,
        recipients=[
            {
                "area": "yen_dinh/dinh_long",
                "zalo_groups": ["g-leaders"],
                "emails": ["chu-tich@dinhlong.example"],
            },
            {"area": "", "emails": ["tinh@thanhhoa.example"]},
        ],
    )
    await svc.make_due()
    with db.session() as s:
        ds = {
            (r.kind, r.commune, d.channel, d.target): d.state
            for d, r in s.execute(select(ReportDelivery, ReportRun).join(ReportRun))
        }
    # no Zalo sink and no SMTP host: nothing can go, and the page says so instead of dropping it
    assert ds == {
        ("weekly", "dinh_long", "zalo", "g-leaders"): "skipped",
        ("weekly", "dinh_long", "email", "chu-tich@dinhlong.example"): "skipped",
        ("monthly", "dinh_long", "zalo", "g-leaders"): "skipped",
        ("monthly", "dinh_long", "email", "chu-tich@dinhlong.example"): "skipped",
        ("weekly", "", "email", "tinh@thanhhoa.example"): "skipped",
        ("monthly", "", "email", "tinh@thanhhoa.example"): "skipped",
    }


async def test_making_again_rewrites_the_files_from_the_database_as_it_is(
    tmp_path: Path, db: Database
) -> None:
    svc, _ = service(tmp_path, db)
    await svc.make_due()
    week = runs(db)[("weekly", "dinh_long")]
    svc.path(week.id, "pdf").unlink()
    await svc.render(week.id)
    assert "Xã Định Long" in pdf_text(svc.path(week.id, "pdf"))


async def test_the_same_numbers_on_postgresql(tmp_path: Path, postgres_db: str) -> None:
    pg = open_database(postgres_db)
    try:
        pg.create_all()
        seed(pg)
        svc, _ = service(tmp_path, pg)
        assert await svc.make_due() == 6
        got = runs(pg)
        assert (got[("weekly", "dinh_long")].availability, got[("weekly", "")].availability) == (
            "96.4",
            "64.3",
        )
        assert "5/6" in pdf_text(svc.path(got[("weekly", "dinh_long")].id, "pdf"))
    finally:
        pg.close()
