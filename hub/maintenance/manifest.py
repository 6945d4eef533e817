"""The manifest of a backup set (`manifest.json`): what is in it, from which release and schema revision, and
the size and sha256 of every file, so a restore can prove the set is whole before it changes anything.

The manifest is written last: a folder without one is an interrupted backup.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MANIFEST = "manifest.json"
CHUNK = 1 << 20


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FileEntry(_Strict):
    path: str  # relative to the backup folder, with "/"
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class DatabasePart(_Strict):
    backend: Literal["sqlite", "postgresql"]
    file: str  # database.sqlite (SQLite's online backup) or database.sql (pg_dump, plain SQL)
    schema_revision: str | None  # None: written by a release before migrations


class InfluxPart(_Strict):
    saved: bool
    note: str  # what was saved, or why nothing was
    database: str | None = None
    folder: str | None = None  # `influxd backup -portable` output


class Manifest(_Strict):
    format: Literal[1] = 1
    created_at: datetime  # UTC
    hub_version: str
    database: DatabasePart
    config_file: str | None  # a copy of the config the hub ran with, for reference
    roots: dict[str, str]  # file folder's name (data_dir, broadcast …) → its folder in the set
    influx: InfluxPart
    files: list[FileEntry]

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


class BackupDamaged(Exception):
    """The set cannot be restored as it is; the message says which file or key."""


def hub_version() -> str:
    try:
        return metadata.version("commune-ops")
    except metadata.PackageNotFoundError:  # running from a checkout that was never installed
        return "unknown"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def copy_hashed(src: Path, dst: Path) -> tuple[int, str]:
    """Copies a file, hashing it on the way (one read), keeping its modification time."""
    import shutil

    dst.parent.mkdir(parents=True, exist_ok=True)
    h, size = hashlib.sha256(), 0
    with src.open("rb") as fin, dst.open("wb") as fout:
        while chunk := fin.read(CHUNK):
            h.update(chunk)
            fout.write(chunk)
            size += len(chunk)
    shutil.copystat(src, dst)
    return size, h.hexdigest()


def entries(folder: Path, known: dict[str, tuple[int, str]]) -> list[FileEntry]:
    """Every file under `folder` but the manifest, hashed unless `known` already has it."""
    out = []
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or p.name == MANIFEST and p.parent == folder:
            continue
        rel = p.relative_to(folder).as_posix()
        size, digest = known.get(rel) or (p.stat().st_size, sha256_of(p))
        out.append(FileEntry(path=rel, size=size, sha256=digest))
    return out


def write(folder: Path, manifest: Manifest) -> None:
    tmp = folder / (MANIFEST + ".tmp")
    tmp.write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    tmp.replace(folder / MANIFEST)


def read(folder: Path) -> Manifest:
    path = folder / MANIFEST
    if not path.is_file():
        raise BackupDamaged(
            f"{path}: không có manifest (không phải một bộ sao lưu, hoặc sao lưu bị dừng giữa chừng)"
        )
    try:
        return Manifest.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except json.JSONDecodeError as exc:
        raise BackupDamaged(f"{path}: JSON hỏng ({exc})") from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise BackupDamaged(f"{path}: {problems}") from None


def verify(folder: Path, manifest: Manifest) -> None:
    """Every file the manifest lists is there with its size and sha256. Raises BackupDamaged."""
    for entry in manifest.files:
        p = folder / entry.path
        if not p.resolve().is_relative_to(folder.resolve()):
            raise BackupDamaged(f"{MANIFEST}: đường dẫn ngoài bộ sao lưu: {entry.path}")
        if not p.is_file():
            raise BackupDamaged(f"thiếu tệp {entry.path}")
        if p.stat().st_size != entry.size or sha256_of(p) != entry.sha256:
            raise BackupDamaged(f"tệp {entry.path} không khớp với manifest (kích thước hoặc sha256)")
