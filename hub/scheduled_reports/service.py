"""The scheduled reports' worker: under the `notify` leader lease (the hub that holds the OA token makes and sends
them, as it does the daily digest), it makes the reports that are due (hub/scheduled_reports/schedule.py), writes their PDF and CSV files, and sends
each delivery (Zalo OA group through the notifier's `FILE_SINK`, e-mail over SMTP), retrying with backoff.
Nothing is dropped: a delivery ends `sent`, `failed` (with why) or `skipped` (channel not set up), all shown on
the reports page, where a person may send it again or make the report again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from hub.core import reports
from hub.core.areas import AreaNames, area_names
from hub.core.config import CoreConfig
from hub.core.db import Database, to_db_time
from hub.core.facts import FileSent, FileSink, ReportSection
from hub.core.features import ServiceKey
from hub.core.leases import Lead, SoleLeader
from hub.core.tasks import guarded
from hub.scheduled_reports import store
from hub.scheduled_reports.config import ScheduledReportsConfig, reports_settings
from hub.scheduled_reports.content import ReportData, communes_with_cameras, load_report, pct
from hub.scheduled_reports.files import report_filename, report_path, reports_dir
from hub.scheduled_reports.mail import build_message, send_mail
from hub.scheduled_reports.models import CHANNEL_EMAIL, CHANNEL_ZALO, ReportDelivery, ReportRun
from hub.scheduled_reports.render_csv import report_csv
from hub.scheduled_reports.render_pdf import KIND_TITLES, report_pdf
from hub.scheduled_reports.schedule import due_periods

log = logging.getLogger("hub.scheduled_reports")
CHECK_S = 60.0
BATCH = 20
RESTART_S = 10.0


@dataclass(frozen=True)
class Made:
    run_id: int
    created: bool


def _failed(name: str, exc: Exception) -> None:
    log.exception("scheduled reports %s failed; restarting it in %.0f s", name, RESTART_S)


class ReportService:
    name = "scheduled_reports"

    def __init__(
        self,
        config: CoreConfig,
        db: Database,
        sections: Sequence[ReportSection],
        file_sink: Callable[[], FileSink | None],
        lead: Lead | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.cfg: ScheduledReportsConfig = reports_settings(config)
        self.db = db
        self.tz = ZoneInfo(config.timezone)
        self.sections = sections
        self.file_sink = file_sink
        self.lead: Lead = lead if lead is not None else SoleLeader()
        self.lead.on_change(self._lead_changed)
        self.clock = clock
        self.dir = reports_dir(config)
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._running = False
        self._names: AreaNames = {}  # display names in captions, read before each batch of deliveries
        self._done: set[tuple[str, datetime, frozenset[tuple[str, str]]]] = set()
        self.made = 0
        self.sent = 0
        self.failures = 0

    # files ------------------------------------------------------------------------------------------------
    def path(self, run_id: int, ext: str) -> Path:
        return report_path(self.dir, run_id, ext)

    def filename(self, run: ReportRun, ext: str) -> str:
        return report_filename(run, ext)

    # lifecycle --------------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._running = True
        if self.lead.is_leader:
            await self._lead_changed(True)

    async def _lead_changed(self, leading: bool) -> None:
        if leading and self._running and self._task is None and self.cfg.enabled:
            self._task = asyncio.create_task(guarded("loop", self.run, _failed, RESTART_S), name="reports")
        elif not leading:
            await self._halt()

    async def _halt(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def stop(self) -> None:
        self._running = False
        await self._halt()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            await self.make_due()
            await self.deliver_due()
            await self.prune()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), CHECK_S)

    # making -----------------------------------------------------------------------------------------------
    async def make_due(self) -> int:
        """Makes every due report not made yet (the whole hub, then each commune with cameras)."""
        now = self.clock()
        periods = due_periods(now, self.tz, self.cfg.at_time, self.cfg.kinds)
        areas = [("", "")]
        if self.cfg.communes:
            areas += await self.db.run(communes_with_cameras)
        n = 0
        for kind, period in zip(self.cfg.kinds, periods, strict=True):
            # Checked every minute: once every area of a period has its report, the rows are not read again
            # until the period or the set of areas changes.
            done = (kind, period.start, frozenset(areas))
            if done in self._done:
                continue
            for district, commune in areas:
                made = await self.make(kind, district, commune, period)
                n += made.created
            self._done = {d for d in self._done if d[1] >= period.start} | {done}
        return n

    async def make(self, kind: str, district: str, commune: str, period: reports.Period) -> Made:
        """The report of one area and period (made once; the row is stored before its files and deliveries)."""
        now_dt = to_db_time(self.clock())

        def claim(s: Session) -> tuple[int, bool]:
            self.lead.fence(s)
            have = store.find_run(s, kind, district, commune, period.start)
            if have is not None:
                return have.id, False
            run = ReportRun(
                kind=kind, district=district, commune=commune, period_start=period.start,
                period_end=period.end, label=period.label, created_at=now_dt,
            )  # fmt: skip
            s.add(run)
            s.flush()
            return run.id, True

        run_id, created = await self.db.run(claim)
        if created:
            await self.render(run_id)
            await self.db.run(
                lambda s: store.add_deliveries(s, run_id, self._targets(district, commune), now_dt)
            )
            self.made += 1
            self.wake()
            log.info(
                "scheduled reports: %s %s/%s %s made (#%d)", kind, district, commune, period.label, run_id
            )
        return Made(run_id, created)

    def _targets(self, district: str, commune: str) -> list[tuple[str, str, bool]]:
        sink = self.file_sink()
        zalo_live = sink is not None and sink.live()
        out: list[tuple[str, str, bool]] = []
        for r in self.cfg.recipients_of(district, commune):
            out += [(CHANNEL_ZALO, g, zalo_live) for g in r.zalo_groups]
            out += [(CHANNEL_EMAIL, a, self.cfg.smtp.configured) for a in r.emails]
        return out

    async def render(self, run_id: int) -> ReportData | None:
        """(Re)writes the report's files from the database as it is now; an error is stored on the row."""
        run = await self.db.run(lambda s: s.get(ReportRun, run_id))
        if run is None:
            return None
        period = reports.Period(
            run.period_start, run.period_end, "week" if run.kind == "weekly" else "month", run.label
        )
        now_dt = to_db_time(self.clock())
        try:
            data = await self.db.run(
                lambda s: load_report(
                    s,
                    self.config,
                    run.kind,
                    run.district,
                    run.commune,
                    period,
                    self.sections,
                    self.tz,
                    self.cfg.worst,
                )
            )
            pdf = await asyncio.to_thread(report_pdf, data, self.tz, now_dt)
            csv = report_csv(data)
            await asyncio.to_thread(self._write, run_id, pdf, csv)
        except Exception as exc:  # shown on the page; the row stays so a person can make it again
            log.exception("scheduled reports: making report #%d failed", run_id)
            why = f"lỗi khi lập báo cáo: {exc!r}"[:500]
            await self.db.run(lambda s: store.mark_files(s, run_id, 0, 0, why, now_dt))
            return None
        avail = data.uptime.total.durations.availability

        def done(s: Session) -> None:
            store.mark_files(s, run_id, len(pdf), len(csv), None, now_dt)
            row = s.get(ReportRun, run_id)
            if row is not None:
                row.cameras = data.uptime.total.cameras
                row.availability = None if avail is None else pct(avail)

        await self.db.run(done)
        return data

    def _write(self, run_id: int, pdf: bytes, csv: bytes) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        for ext, data in (("pdf", pdf), ("csv", csv)):
            tmp = self.path(run_id, ext).with_suffix(f".{ext}.tmp")
            tmp.write_bytes(data)
            tmp.replace(self.path(run_id, ext))

    # sending ----------------------------------------------------------------------------------------------
    async def deliver_due(self) -> int:
        now_dt = to_db_time(self.clock())
        rows = await self.db.run(lambda s: store.due(s, now_dt, BATCH))
        if rows:
            self._names = await self.db.run(lambda s: area_names(s, self.config))
        for d, run in rows:
            res = await self._send(d, run)
            now_dt = to_db_time(self.clock())
            state = await self.db.run(
                lambda s, d=d, res=res, now_dt=now_dt: store.record(  # type: ignore[misc]
                    s, d.id, res.ok, res.retry, res.message, now_dt, self.cfg.retry
                )
            )
            if res.ok:
                self.sent += 1
            else:
                self.failures += 1
                log.warning(
                    "scheduled reports: delivery #%d to %s %s: %s (%s)",
                    d.id,
                    d.channel,
                    d.target,
                    res.message,
                    state,
                )
        return len(rows)

    def caption(self, run: ReportRun) -> str:
        area = (
            self._names.get((run.district, run.commune)) or run.commune if run.commune else "toàn bộ địa bàn"
        )
        avail = f"; camera hoạt động {run.availability} %" if run.availability is not None else ""
        return f"{KIND_TITLES.get(run.kind, 'Báo cáo')} {area}: {run.label}{avail}."

    async def _send(self, d: ReportDelivery, run: ReportRun) -> FileSent:
        if run.error is not None or run.pdf_bytes == 0:
            return FileSent(False, True, "báo cáo chưa có tệp (đang chờ lập lại)")
        try:
            pdf = await asyncio.to_thread(self.path(run.id, "pdf").read_bytes)
            csv = await asyncio.to_thread(self.path(run.id, "csv").read_bytes)
        except OSError as exc:
            return FileSent(False, True, f"không đọc được tệp báo cáo: {exc}")
        try:
            if d.channel == CHANNEL_ZALO:
                sink = self.file_sink()
                if sink is None or not sink.live():
                    return FileSent(False, False, "Zalo OA chưa được cấu hình")
                return await sink.send_file(d.target, self.filename(run, "pdf"), pdf, self.caption(run))
            if not self.cfg.smtp.configured:
                return FileSent(False, False, "chưa cấu hình máy chủ thư (SMTP)")
            msg = build_message(
                self.cfg.smtp,
                d.target,
                self.caption(run),
                self.caption(run) + "\n\nBáo cáo đính kèm (PDF và CSV).",
                [
                    (self.filename(run, "pdf"), pdf, "application/pdf"),
                    (self.filename(run, "csv"), csv, "text/csv"),
                ],
            )
            return await send_mail(self.cfg.smtp, msg)
        except Exception as exc:  # a bug costs one attempt, never the loop
            log.exception("scheduled reports: delivery #%d failed unexpectedly", d.id)
            return FileSent(False, True, f"lỗi nội bộ: {exc!r}"[:300])

    async def prune(self) -> int:
        before = to_db_time(self.clock() - self.cfg.keep_days * 86400)
        ids = await self.db.run(lambda s: store.prune(s, before))
        for i in ids:
            for ext in ("pdf", "csv"):
                self.path(i, ext).unlink(missing_ok=True)
        return len(ids)


REPORTS = ServiceKey("scheduled-reports", ReportService)
