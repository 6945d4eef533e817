"""`python -m hub areas import`: the area tree of a province from the official 2025 data
(hub/core/areas_import.py), idempotent, audited; and `python -m hub areas list`: the tree as it stands."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from hub.core.area_tree import former_label, load_aliases, load_tree
from hub.core.areas_import import OfficialDataError, import_province, load_province
from hub.core.audit import record_change
from hub.core.config import CoreConfig
from hub.core.db import Database, utcnow

COMMANDS = ("areas",)
DEFAULT_PROVINCE = "Thanh Hóa"  # the province the project was written for; --province for another


class AreasCliError(Exception):
    code = 1


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    areas = sub.add_parser("areas", parents=[common], help="the area tree (province, groupings, communes)")
    a_sub = areas.add_subparsers(dest="action", required=True)
    imp = a_sub.add_parser(
        "import", parents=[common], help="import a province's communes and wards from the official 2025 data"
    )
    imp.add_argument(
        "--province", default=DEFAULT_PROVINCE, help=f"province name (default: {DEFAULT_PROVINCE})"
    )
    a_sub.add_parser("list", parents=[common], help="print the tree with codes and former names")


def dispatch(args: argparse.Namespace, config: CoreConfig, open_db: Callable[[CoreConfig], Database]) -> int:
    if args.action == "import":
        try:
            prov = load_province(args.province)
        except OfficialDataError as exc:
            raise AreasCliError(str(exc)) from None
        db = open_db(config)
        try:
            with db.session() as s, s.begin():
                counts = import_province(s, prov)
                if counts.total():
                    record_change(
                        s, actor="cli", action="areas.import", target=f"province:{prov.code}", now=utcnow(),
                        after={"source": prov.source, "created": dict(counts.created),
                               "updated": dict(counts.updated)},
                    )  # fmt: skip
        finally:
            db.close()
        made = ", ".join(f"{n} {k}" for k, n in sorted(counts.created.items())) or "không có gì mới"
        changed = ", ".join(f"{n} {k}" for k, n in sorted(counts.updated.items())) or "không"
        print(
            f"{prov.name} (mã {prov.code}): {len(prov.communes)} xã/phường, {len(prov.districts)} huyện cũ "
            f"— dữ liệu {prov.source}. Tạo mới: {made}; cập nhật: {changed}."
        )
        return 0
    db = open_db(config)
    try:
        with db.session() as s:
            tree, aliases = load_tree(s), load_aliases(s)
    finally:
        db.close()
    for row in tree.rows(aliases):
        n = row["node"]
        former = former_label(row["aliases"])  # type: ignore[arg-type]
        pair = f" [{n.district}/{n.commune}]" if n.commune else ""  # type: ignore[attr-defined]
        code = f" {n.code}" if n.code else ""  # type: ignore[attr-defined]
        print(f"{'  ' * row['depth']}{n.name}{code}{pair}{f' ({former})' if former else ''}")  # type: ignore[attr-defined, operator]
    return 0
