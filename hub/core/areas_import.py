"""Seeding the area tree from official data instead of typing it (`python -m hub areas import`).

Source: the PyPI package `vietnamadminunits` (MIT licence, github.com/tranngocminhhieu/vietnamadminunits): the
34-province, 3,321-unit set in force since 1 July 2025 (table `admin_units`, with the official codes of the
General Statistics Office), the 63-province set before it (`admin_units_legacy`) and the mapping of every former
commune to the new one(s) it went into (`converter_2025.json`). Its data files are dated August 2025, after the
reform; `load_province` refuses a package whose new set is not 34 provinces, so a stale or changed dataset is
not imported silently. (`vietnam-address-converter`, Apache-2.0, carries the same mapping inside a 10 MB Python
module built for converting address strings, with no codes: not used.)

What is imported for a province: the province node (its code), one grouping per former district (kept for the
police who still use it: "Huyện Đông Sơn (cũ)"), each commune and ward with its code under the former district
most of it came from, and the former communes each was formed from as its former names. The pair of slugs a
commune gets (`district`: the former district's, `commune`: its own) is what new boxes are provisioned with.
Run twice, it changes nothing: rows are found again by code (communes, province) or by parent and slug.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core.area_tree import COMMUNE, GROUP, PROVINCE, AreaAlias, AreaNode
from hub.core.db import Area

REFORM_DATE = datetime(2025, 7, 1)
PACKAGE = "vietnamadminunits"
PROVINCES_AFTER_2025 = 34


class OfficialDataError(RuntimeError):
    """The official data cannot be used; the message says why (for the operator)."""


def slugify(text: str) -> str:
    """`Phường Hàm Rồng` → `phuong-ham-rong`: the registry's slugs are lowercase ASCII."""
    from unidecode import unidecode  # the transliteration table for Vietnamese (đ → d, ư → u …)

    return re.sub(r"[^a-z0-9]+", "-", unidecode(text).lower()).strip("-")[:64]


@dataclass(frozen=True)
class Former:
    name: str
    code: str | None


@dataclass(frozen=True)
class OfficialCommune:
    code: str
    name: str  # "Phường Hàm Rồng"
    kind: str  # Phường / Xã / Đặc khu
    slug: str
    district_slug: str  # the former district most of it came from
    former: tuple[Former, ...]


@dataclass(frozen=True)
class OfficialProvince:
    code: str
    name: str
    slug: str
    districts: dict[str, str]  # former district slug → its name
    communes: tuple[OfficialCommune, ...]
    source: str  # package and version, for the log and the report


def _query(sql: str, *args: Any) -> list[dict[str, Any]]:
    try:
        from vietnamadminunits.database import main as vau_db
    except ModuleNotFoundError as exc:
        raise OfficialDataError(
            f"Thiếu gói {PACKAGE}: pip install 'commune-ops[areas]' (hoặc pip install {PACKAGE} Unidecode)"
        ) from exc
    import sqlite3

    with sqlite3.connect(f"file:{vau_db.MODULE_DIR / 'data' / 'dataset.db'}?mode=ro", uri=True) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(sql, args)]


def _version() -> str:
    from importlib.metadata import version

    return f"{PACKAGE} {version(PACKAGE)}"


def _mapping(province_key: str) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """New ward key → the former units' keys (`province_district_ward`), whole and divided."""
    raw = json.loads((resources.files(PACKAGE) / "data" / "converter_2025.json").read_text(encoding="utf-8"))
    whole: dict[str, list[str]] = raw["DICT_PROVINCE_WARD_NO_DIVIDED"].get(province_key, {})
    parts: dict[str, list[str]] = {}
    for old, news in raw["DICT_PROVINCE_WARD_DIVIDED"].get(province_key, {}).items():
        for new in news:
            parts.setdefault(new["newWardKey"], []).append(old)
    return whole, parts


def load_province(name: str) -> OfficialProvince:
    """Reads one province (by name, with or without "Tỉnh"/"Thành phố", any accents) from the package."""
    n_new = _query("SELECT COUNT(DISTINCT provinceCode) AS n FROM admin_units")[0]["n"]
    if n_new != PROVINCES_AFTER_2025:
        raise OfficialDataError(
            f"{_version()}: bảng đơn vị mới có {n_new} tỉnh, không phải {PROVINCES_AFTER_2025} của sau 01/07/2025"
        )
    wanted = slugify(name).removeprefix("tinh-").removeprefix("thanh-pho-")
    provinces = _query("SELECT DISTINCT province, provinceShort, provinceCode, provinceKey FROM admin_units")
    found = [p for p in provinces if slugify(p["provinceShort"]) == wanted]
    if not found:
        raise OfficialDataError(f"Không có tỉnh {name!r} trong dữ liệu {_version()}")
    prov = found[0]
    legacy = {
        f"{r['provinceKey']}_{r['districtKey']}_{r['wardKey']}": r
        for r in _query(
            "SELECT provinceKey, district, districtShort, districtKey, ward, wardKey, wardCode "
            "FROM admin_units_legacy WHERE provinceKey = ?",
            prov["provinceKey"],
        )
    }
    district_names = {r["districtKey"]: (r["district"], r["districtShort"]) for r in legacy.values()}
    short_count = Counter(slugify(short) for _, short in district_names.values())
    district_slug = {
        k: slugify(short) if short_count[slugify(short)] == 1 else slugify(full)
        for k, (full, short) in district_names.items()
    }
    whole, parts = _mapping(prov["provinceKey"])
    rows = _query(
        "SELECT ward, wardShort, wardType, wardCode, wardKey FROM admin_units WHERE provinceCode = ? ORDER BY wardCode",
        prov["provinceCode"],
    )
    short_slugs = Counter(slugify(r["wardShort"]) for r in rows)
    communes = []
    used_districts: dict[str, str] = {}
    for r in rows:
        olds = [
            legacy[k] for k in [*whole.get(r["wardKey"], []), *parts.get(r["wardKey"], [])] if k in legacy
        ]
        by_district = Counter(o["districtKey"] for o in olds)
        main = min(by_district, key=lambda d: (-by_district[d], d)) if by_district else None
        d_slug = district_slug[main] if main else slugify(prov["provinceShort"])
        used_districts[d_slug] = f"{district_names[main][0]} (cũ)" if main else prov["province"]
        short = slugify(r["wardShort"])
        former = tuple(
            dict.fromkeys(Former(o["ward"], o["wardCode"]) for o in olds if o["ward"] != r["ward"])
        )
        communes.append(
            OfficialCommune(
                code=r["wardCode"],
                name=r["ward"],
                kind=r["wardType"],
                district_slug=d_slug,
                former=former,
                slug=short if short_slugs[short] == 1 else slugify(r["ward"]),
            )  # fmt: skip
        )
    return OfficialProvince(
        prov["provinceCode"], prov["province"], slugify(prov["provinceShort"]), used_districts, tuple(communes),
        _version(),
    )  # fmt: skip


@dataclass
class ImportCounts:
    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)

    def total(self) -> int:
        return sum(self.created.values()) + sum(self.updated.values())


def import_province(s: Session, prov: OfficialProvince) -> ImportCounts:
    """Brings the tree to the official data (inside the caller's transaction); idempotent."""
    counts = ImportCounts()

    def node(where: Any, **values: Any) -> AreaNode:
        row = s.scalar(select(AreaNode).where(where))
        if row is None:
            row = AreaNode(**values)
            s.add(row)
            s.flush()
            counts.created[values["level"]] += 1
            return row
        changed = {k: v for k, v in values.items() if getattr(row, k) != v}
        for k, v in changed.items():
            setattr(row, k, v)
        if changed:
            counts.updated[values["level"]] += 1
        return row

    def area(district: str, commune: str, name: str) -> None:
        row = s.get(Area, (district, commune))
        if row is None:
            s.add(Area(district=district, commune=commune, name=name))
        elif row.name != name and commune:  # a grouping keeps a name the administrator gave the district
            row.name = name

    root = node(AreaNode.code == prov.code, parent_id=None, level=PROVINCE, slug=prov.slug, name=prov.name,
                kind="Tỉnh", code=prov.code)  # fmt: skip
    groups = {
        d: node(
            (AreaNode.parent_id == root.id) & (AreaNode.slug == d),
            parent_id=root.id,
            level=GROUP,
            slug=d,
            name=name,
            district=d,
        )  # fmt: skip
        for d, name in sorted(prov.districts.items())
    }
    for d, name in prov.districts.items():
        area(d, "", name)
    # A commune merged into another on this hub stays merged: its code lives on as a former name.
    merged = set(
        s.scalars(select(AreaAlias.code).where(AreaAlias.district.is_not(None), AreaAlias.code.is_not(None)))
    )
    for c in prov.communes:
        if c.code in merged:
            counts.updated["merged_kept"] += 1
            continue
        n = node(AreaNode.code == c.code, parent_id=groups[c.district_slug].id, level=COMMUNE, slug=c.slug,
                 name=c.name, kind=c.kind, code=c.code, district=c.district_slug, commune=c.slug)  # fmt: skip
        area(c.district_slug, c.slug, c.name)
        known = set(s.scalars(select(AreaAlias.name).where(AreaAlias.node_id == n.id)))
        for f in c.former:
            if f.name not in known:
                s.add(AreaAlias(node_id=n.id, name=f.name, code=f.code, since=REFORM_DATE))
                counts.created["alias"] += 1
                known.add(f.name)
    s.flush()
    return counts
