"""`python -m hub restore DIR`: a backup set back into an install, then its schema brought up to this code.

Everything is checked before anything changes: the set is whole (sizes and sha256 against its manifest), it
is of the same kind of database as the config names, and the target holds nothing a restore would destroy
(rows in its database, files in its folders, points in its InfluxDB database) unless `force`. Stop the hub
first: a restore replaces what it reads.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from hub.compose import open_database
from hub.core.config import CoreConfig
from hub.maintenance import influx_backup, sql_dump
from hub.maintenance.backup import files_of, roots, skipped_files
from hub.maintenance.manifest import Manifest, read, verify
from hub.migrations import schema


class RestoreRefused(Exception):
    pass


def _occupied(config: CoreConfig, manifest: Manifest) -> list[str]:
    skip = skipped_files(config)
    return [f"{r.name} ({r.path})" for r in roots(config) if r.name in manifest.roots and files_of(r, skip)]


def _influx_plan(config: CoreConfig, manifest: Manifest, with_influx: bool) -> tuple[bool, bool]:
    """(restore the metrics?, drop the configured database first?)"""
    if not with_influx or not manifest.influx.saved or influx_backup.why_not(config.influx) is not None:
        return False, False
    return True, influx_backup.database_state(config.influx) != "absent"


def restore_backup(
    config: CoreConfig,
    src: Path,
    force: bool = False,
    influx_rpc: str | None = None,
    with_influx: bool = True,
) -> list[str]:
    """Returns what was done, one line each. Raises RestoreRefused before any change, BackupDamaged for a
    set that is not whole."""
    manifest = read(src)
    verify(src, manifest)
    url = config.database.url
    backend = sql_dump.backend(url)
    if manifest.database.backend != backend:
        raise RestoreRefused(
            f"bộ sao lưu là cơ sở dữ liệu {manifest.database.backend}, cấu hình dùng {backend}: "
            "không khôi phục chéo được"
        )
    revision = manifest.database.schema_revision
    if revision is not None and revision not in schema.known_revisions():
        raise RestoreRefused(
            f"bộ sao lưu ở phiên bản lược đồ {revision}, mã này không biết (một bản phát hành mới hơn đã ghi nó): "
            "khôi phục bằng bản phát hành đó"
        )
    if backend == "sqlite":
        sql_dump.sqlite_path(url).parent.mkdir(parents=True, exist_ok=True)
    db = open_database(url)
    try:
        problems = []
        busy = sql_dump.rows_present(db)
        if busy:
            problems.append(
                f"cơ sở dữ liệu đã có dữ liệu (bảng {', '.join(busy[:5])}{'…' if len(busy) > 5 else ''})"
            )
        problems += [f"thư mục {o} đã có tệp" for o in _occupied(config, manifest)]
        restore_influx, drop_influx = _influx_plan(config, manifest, with_influx)
        if drop_influx and influx_backup.database_state(config.influx) == "data":
            problems.append(f"InfluxDB đã có số liệu trong {config.influx.database!r}")
        if problems and not force:
            raise RestoreRefused(
                "không khôi phục đè lên dữ liệu đang có: " + "; ".join(problems) + " (dùng --force để ghi đè)"
            )

        done = [
            f"kiểm tra bộ sao lưu: {len(manifest.files)} tệp, {manifest.total_bytes} byte, đủ và khớp sha256"
        ]
        sql_dump.load(db, src, manifest.database.file)
        done.append(f"cơ sở dữ liệu {backend} đã khôi phục từ {manifest.database.file}")
        targets = {r.name: r.path for r in roots(config)}
        for name, folder in manifest.roots.items():
            if name not in targets:
                done.append(f"bỏ qua thư mục {name}: cấu hình này không có nó")
                continue
            n = _copy_tree(src / folder, targets[name])
            done.append(f"{n} tệp vào {targets[name]} ({name})")
        if restore_influx:
            done.append(influx_backup.restore(config.influx, src, manifest.influx, influx_rpc, drop_influx))
        else:
            done.append(f"không khôi phục số liệu InfluxDB ({manifest.influx.note})")
        before, head = schema.upgrade(db)
        done.append(
            f"lược đồ: {before or 'trước migration'} → {head}" if before != head else f"lược đồ ở {head}"
        )
        return done
    finally:
        db.close()


def _copy_tree(src: Path, dest: Path) -> int:
    n = 0
    if not src.is_dir():
        return n
    for f in sorted(src.rglob("*")):
        if f.is_file():
            target = dest / f.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, target)
            n += 1
    return n
