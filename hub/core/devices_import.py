"""CSV import of the device registry (cameras, loudspeakers): parse and validate every row, then upsert.

`parse_devices` is pure: it takes the file's text and the areas/villages that exist and returns rows and
errors with the CSV line they come from. `plan_import` compares rows with the database (no writes);
`apply_import` writes the same plan with one audit entry per created or changed device, in the caller's
transaction. Importing the same file twice changes nothing the second time.

RTSP addresses are not accepted here: they carry camera passwords, which live only in edge agent configs.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from contract.topics import is_slug
from hub.core.audit import record_change
from hub.core.camera_points import DETAIL_FIELDS, CameraPoint, details_of, point_record
from hub.core.db import STATUS_UNKNOWN, Agent, Camera
from hub.core.devices_csv_fields import EXTRA_COLUMNS, merged, parse_extra, unescape
from hub.core.speaker_models import Speaker

# points: camera points (điểm camera), imported before the cameras that name them
KINDS = ("cameras", "speakers", "points")
REQUIRED = {
    "cameras": ("district", "commune", "id", "name"),
    "speakers": ("district", "commune", "id", "name"),
    "points": ("district", "commune", "id", "name", "lat", "lon"),
}
OPTIONAL = {
    "cameras": ("agent", *DETAIL_FIELDS),
    "speakers": ("village", "lat", "lon"),
    "points": ("address", "village"),
}
COLUMNS = {k: REQUIRED[k] + tuple(c for c in OPTIONAL[k] if c not in REQUIRED[k]) for k in KINDS}
MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 20_000
MAX_ERRORS = 200  # a wrong file gets its first errors listed, not thousands
MAX_NAME = 200
KIND_SINGULAR = {"cameras": "camera", "speakers": "speaker", "points": "point"}


class CsvFileError(ValueError):
    """The whole file is unusable (encoding, header); the message is for the person who uploaded it."""


@dataclass(frozen=True)
class RowError:
    line: int  # line in the file, 1 = header
    message: str


@dataclass(frozen=True)
class DeviceRow:
    line: int
    district: str
    commune: str
    slug: str
    name: str
    agent: str | None = None  # cameras: the edge agent's slug
    village: str | None = None  # speakers, points: a village slug of the same commune
    # The row's own columns of devices_csv_fields.EXTRA_COLUMNS, validated (absent columns are not keys).
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def key(self) -> str:
        return f"{self.district}/{self.commune}/{self.slug}"


@dataclass
class ParsedFile:
    kind: str
    rows: list[DeviceRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    more_errors: int = 0  # errors beyond MAX_ERRORS, counted only

    def error(self, line: int, message: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(RowError(line, message))
        else:
            self.more_errors += 1


@dataclass(frozen=True)
class PlannedChange:
    action: str  # create / update / same
    row: DeviceRow
    before: dict[str, Any] | None
    after: dict[str, Any]


def decode_csv(data: bytes) -> str:
    """UTF-8 with or without BOM; anything else is refused with the line of the first bad byte."""
    if len(data) > MAX_BYTES:
        raise CsvFileError(f"Tệp quá lớn ({len(data)} byte); tối đa {MAX_BYTES // (1024 * 1024)} MiB")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CsvFileError(f"Tệp không phải UTF-8 (dòng {line}); hãy lưu lại dưới dạng 'CSV UTF-8'") from None


def _delimiter(header_line: str) -> str:
    # Spreadsheets set to a European/Vietnamese locale save CSV with ';'.
    return ";" if header_line.count(";") > header_line.count(",") else ","


def _header(kind: str, cells: list[str]) -> list[str]:
    names = [c.strip().lower() for c in cells]
    allowed = set(REQUIRED[kind]) | set(OPTIONAL[kind])
    if "url" in names and kind == "cameras":
        raise CsvFileError(
            "Dòng 1: cột 'url' không được nhận: địa chỉ RTSP chứa mật khẩu camera và chỉ nằm trong cấu hình"
            " edge agent; hãy bỏ cột này"
        )
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise CsvFileError(
            f"Dòng 1: cột không hợp lệ {', '.join(repr(u) for u in unknown)}; "
            f"các cột: {', '.join(REQUIRED[kind] + OPTIONAL[kind])}"
        )
    missing = [n for n in REQUIRED[kind] if n not in names]
    if missing:
        raise CsvFileError(f"Dòng 1: thiếu cột {', '.join(missing)}")
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise CsvFileError(f"Dòng 1: cột lặp lại {', '.join(sorted(dup))}")
    return names


def _clean_name(value: str) -> str | None:
    name = " ".join(value.split())
    if not name or len(name) > MAX_NAME or any(ord(ch) < 32 for ch in value if ch not in "\t"):
        return None
    return name


def parse_devices(
    kind: str,
    text: str,
    areas: Collection[tuple[str, str]],
    villages: Collection[tuple[str, str, str]] = (),
    points: Collection[tuple[str, str, str]] = (),
) -> ParsedFile:
    """Rows of a device CSV. `areas` holds the known (district, commune) pairs; `villages` and `points` the
    known (district, commune, slug) triples. Every problem is reported with its line number."""
    if kind not in KINDS:
        raise CsvFileError(f"Loại thiết bị {kind!r} không hợp lệ (cho phép: {', '.join(KINDS)})")
    lines = text.splitlines()
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if first is None:
        raise CsvFileError("Tệp rỗng: cần dòng tiêu đề và ít nhất một dòng dữ liệu")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(lines[first]), strict=True)
    out = ParsedFile(kind)
    names: list[str] | None = None
    seen: dict[str, int] = {}
    known_areas = set(areas)
    known_villages = set(villages)
    known_points = set(points)
    try:
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if names is None:
                names = _header(kind, cells)
                continue
            if len(out.rows) + len(out.errors) >= MAX_ROWS:
                raise CsvFileError(f"Tệp có hơn {MAX_ROWS} dòng; hãy chia nhỏ")
            if len(cells) < len(names) and all(n in OPTIONAL[kind] for n in names[len(cells) :]):
                cells = cells + [""] * (len(names) - len(cells))  # trailing optional cells left out by hand
            if len(cells) != len(names):
                out.error(line, f"có {len(cells)} ô, cần {len(names)} (như dòng tiêu đề)")
                continue
            fields = {n: unescape(c) for n, c in zip(names, cells, strict=True)}
            row = _row(out, line, fields, known_areas, known_villages, known_points)
            if row is None:
                continue
            if row.key in seen:
                out.error(line, f"mã {row.slug!r} trùng với dòng {seen[row.key]}")
                continue
            seen[row.key] = line
            out.rows.append(row)
    except csv.Error as exc:
        raise CsvFileError(f"Dòng {reader.line_num}: CSV hỏng ({exc})") from None
    if names is None:
        raise CsvFileError("Tệp rỗng: cần dòng tiêu đề và ít nhất một dòng dữ liệu")
    if not out.rows and not out.errors:
        raise CsvFileError("Tệp chỉ có dòng tiêu đề, không có thiết bị nào")
    return out


def _row(
    out: ParsedFile,
    line: int,
    cells: dict[str, str],
    areas: set[tuple[str, str]],
    villages: set[tuple[str, str, str]],
    points: set[tuple[str, str, str]],
) -> DeviceRow | None:
    v = {k: c.strip() for k, c in cells.items()}
    problems: list[str] = []
    for col in ("district", "commune", "id"):
        if not is_slug(v[col]):
            problems.append(f"{col} {v[col]!r} không hợp lệ (chữ thường không dấu, số, '_' hoặc '-')")
    name = _clean_name(cells["name"])
    if name is None:
        problems.append(f"name phải có 1–{MAX_NAME} ký tự, không ký tự điều khiển")
    if not problems and (v["district"], v["commune"]) not in areas:
        problems.append(f"xã {v['district']}/{v['commune']} chưa có trong danh mục địa bàn")
    agent = v.get("agent") or None
    if agent is not None and not is_slug(agent):
        problems.append(f"agent {agent!r} không hợp lệ")
    village = v.get("village") or None
    if village is not None:
        if not is_slug(village):
            problems.append(f"village {village!r} không hợp lệ")
        elif not problems and (v["district"], v["commune"], village) not in villages:
            problems.append(f"thôn {village!r} chưa có trong xã {v['district']}/{v['commune']}")
    extra: dict[str, Any] = {}
    if not problems:
        extra, more = parse_extra(out.kind, cells, name or "", points)
        problems += more
    if problems:
        out.error(line, "; ".join(problems))
        return None
    assert name is not None
    return DeviceRow(line, v["district"], v["commune"], v["id"], name, agent, village, extra)


# --- database side ---------------------------------------------------------------------------------------


def _agent_keys(s: Session, rows: list[DeviceRow]) -> dict[tuple[str, str], str]:
    """(district, agent slug) → key of the one existing agent of that slug in the district."""
    wanted = {(r.district, r.agent) for r in rows if r.agent}
    if not wanted:
        return {}
    found: dict[tuple[str, str], list[str]] = {}
    districts = sorted({d for d, _ in wanted})
    for i in range(0, len(districts), 500):
        stmt = select(Agent.district, Agent.slug, Agent.key).where(Agent.district.in_(districts[i : i + 500]))
        for d, slug, key in s.execute(stmt):
            found.setdefault((d, slug), []).append(key)
    return {k: v[0] for k, v in found.items() if len(v) == 1}


def _agent_key(known: dict[tuple[str, str], str], row: DeviceRow) -> str | None:
    """An existing agent of that slug in the district (it may serve several communes), else the commune's."""
    if row.agent is None:
        return None
    return known.get((row.district, row.agent), f"{row.district}/{row.commune}/{row.agent}")


def camera_record(c: Camera) -> dict[str, Any]:
    ident = {"district": c.district, "commune": c.commune, "id": c.slug, "name": c.name, "agent": c.agent_key}
    return {**ident, **details_of(c)}


def speaker_record(sp: Speaker) -> dict[str, Any]:
    return {
        "district": sp.district,
        "commune": sp.commune,
        "id": sp.slug,
        "name": sp.name,
        "village": sp.village,
        "lat": sp.lat,
        "lon": sp.lon,
    }


def _existing(s: Session, kind: str, keys: list[str]) -> dict[str, dict[str, Any]]:
    """Current registry records of these keys (read 500 at a time: under every database's parameter limit)."""
    out: dict[str, dict[str, Any]] = {}
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        if kind == "cameras":
            out.update(
                (c.key, camera_record(c)) for c in s.scalars(select(Camera).where(Camera.key.in_(chunk)))
            )
        elif kind == "points":
            out.update(
                (p.key, point_record(p))
                for p in s.scalars(select(CameraPoint).where(CameraPoint.key.in_(chunk)))
            )
        else:
            out.update(
                (sp.key, {**speaker_record(sp), **({"pending": True} if sp.pending else {})})
                for sp in s.scalars(select(Speaker).where(Speaker.key.in_(chunk)))
            )
    return out


def plan_import(s: Session, parsed: ParsedFile) -> list[PlannedChange]:
    existing = _existing(s, parsed.kind, [r.key for r in parsed.rows])
    agents = _agent_keys(s, parsed.rows) if parsed.kind == "cameras" else {}
    plan: list[PlannedChange] = []
    for row in parsed.rows:
        before = existing.get(row.key)
        after: dict[str, Any] = {
            "district": row.district,
            "commune": row.commune,
            "id": row.slug,
            "name": row.name,
        }
        if parsed.kind == "cameras":
            # No agent in the row keeps whatever agent reported the camera.
            after["agent"] = _agent_key(agents, row) if row.agent else (before or {}).get("agent")
            after.update(merged("cameras", row.extra, before))
        elif parsed.kind == "points":
            after.update(row.extra)
        else:
            after["village"] = row.village
            after.update(merged("speakers", row.extra, before))
            if before is not None and before.get("pending"):
                after["pending"] = False  # importing a receiver that registered itself approves it
        action = "create" if before is None else ("same" if before == after else "update")
        plan.append(PlannedChange(action, row, before, after))
    return plan


@dataclass(frozen=True)
class ImportSummary:
    created: int
    updated: int
    unchanged: int
    changed_keys: tuple[str, ...]


def apply_import(s: Session, parsed: ParsedFile, *, actor: str, now: datetime) -> ImportSummary:
    """Upserts every row (the caller refuses files with errors first) and audits each change."""
    plan = plan_import(s, parsed)
    model: Any = {"cameras": Camera, "speakers": Speaker, "points": CameraPoint}[parsed.kind]
    updates = [ch.row.key for ch in plan if ch.action == "update"]
    loaded: dict[str, Any] = {}
    for i in range(0, len(updates), 500):
        loaded.update((o.key, o) for o in s.scalars(select(model).where(model.key.in_(updates[i : i + 500]))))
    changed: list[str] = []
    with s.no_autoflush:  # one flush at commit, not one per row
        for ch in plan:
            if ch.action == "same":
                continue
            _upsert_one(s, parsed.kind, ch, loaded.get(ch.row.key))
            record_change(
                s,
                actor=actor,
                action=f"{KIND_SINGULAR[parsed.kind]}.import",
                target=f"{KIND_SINGULAR[parsed.kind]}:{ch.row.key}",
                now=now,
                before=ch.before,
                after=ch.after,
                district=ch.row.district,
                commune=ch.row.commune,
            )
            changed.append(ch.row.key)
    created = sum(1 for ch in plan if ch.action == "create")
    updated = len(updates)
    return ImportSummary(created, updated, len(plan) - created - updated, tuple(changed))


def _upsert_one(s: Session, kind: str, ch: PlannedChange, obj: Any) -> None:
    r = ch.row
    if obj is None:
        if kind == "cameras":
            obj = Camera(
                key=r.key,
                district=r.district,
                commune=r.commune,
                slug=r.slug,
                status=STATUS_UNKNOWN,
                problems=[],
            )
        elif kind == "points":
            obj = CameraPoint(key=r.key, district=r.district, commune=r.commune, slug=r.slug)
        else:
            obj = Speaker(
                key=r.key, district=r.district, commune=r.commune, slug=r.slug, status=STATUS_UNKNOWN
            )
        s.add(obj)
    obj.name = ch.after["name"]
    for col in EXTRA_COLUMNS[kind]:
        setattr(obj, col, ch.after[col])
    if kind == "cameras":
        obj.agent_key = ch.after["agent"]
    elif kind == "speakers":
        obj.village = ch.after["village"]
        obj.pending = False  # an administrator's import vouches for the receiver (approves a pending one)
