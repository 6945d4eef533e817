"""Where a report's files are and what they are called when downloaded or sent: `<dir>/<id>.pdf|csv`, shared by
the worker that writes them and every web process that serves them (a shared folder with several hubs)."""

from __future__ import annotations

from pathlib import Path

from hub.core.config import CoreConfig
from hub.scheduled_reports.config import reports_settings
from hub.scheduled_reports.models import ReportRun


def reports_dir(config: CoreConfig) -> Path:
    return reports_settings(config).directory(config.data_dir)


def report_path(directory: Path, run_id: int, ext: str) -> Path:
    return directory / f"{run_id}.{ext}"


def report_filename(run: ReportRun, ext: str) -> str:
    area = f"{run.district}-{run.commune}" if run.commune else "toan-bo"
    return f"bao-cao-{run.kind}-{area}-{run.period_start:%Y%m%d}.{ext}"
