"""Device CSV import at province scale: `.venv/bin/python bench/admin_import.py [ROWS]` (default 20 000 cameras).

A district-by-district file of ROWS cameras with Vietnamese names (≈ 1.5 MB, under the 2 MiB API limit at 20 000)
is decoded, parsed and checked (`parse_devices`), compared with an empty SQLite registry (`plan_import`, the dry
run), applied with one audit entry per camera (`apply_import`), then applied again (nothing changes). Each step is
timed in the one SQL thread the hub uses, so the figures are how long an import holds that thread. The last line
is JSON.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from hub.compose import open_database
from hub.core import devices_import as di


def make_csv(rows: int) -> bytes:
    lines = ["district,commune,id,name,agent"]
    per_commune = 30
    for i in range(rows):
        commune = i // per_commune
        d, c = f"huyen-{commune // 30:02d}", f"xa-{commune:03d}"
        lines.append(f"{d},{c},cam-{i:05d},Camera ngã tư thôn Đông số {i},edge-{commune:03d}")
    return ("\ufeff" + "\n".join(lines) + "\n").encode()


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    data = make_csv(rows)
    areas = {(f"huyen-{c // 30:02d}", f"xa-{c:03d}") for c in range(rows // 30 + 1)}
    with tempfile.TemporaryDirectory() as tmp:
        db = open_database(f"sqlite:///{Path(tmp) / 'hub.db'}")
        db.create_all()
        t0 = time.perf_counter()
        parsed = di.parse_devices("cameras", di.decode_csv(data), areas)
        t_parse = time.perf_counter() - t0
        assert not parsed.errors and len(parsed.rows) == rows
        with db.session() as s:
            t0 = time.perf_counter()
            plan = di.plan_import(s, parsed)
            t_plan = time.perf_counter() - t0
        assert sum(1 for p in plan if p.action == "create") == rows
        with db.session() as s, s.begin():
            t0 = time.perf_counter()
            first = di.apply_import(s, parsed, actor="bench", now=di.datetime(2026, 11, 2))
            t_apply = time.perf_counter() - t0
        with db.session() as s, s.begin():
            t0 = time.perf_counter()
            again = di.apply_import(s, parsed, actor="bench", now=di.datetime(2026, 11, 2))
            t_again = time.perf_counter() - t0
        db.close()
    assert first.created == rows and again.unchanged == rows
    print(
        json.dumps(
            {
                "bench": "admin_import",
                "rows": rows,
                "csv_bytes": len(data),
                "parse_s": round(t_parse, 3),
                "dry_run_s": round(t_plan, 3),
                "apply_s": round(t_apply, 3),
                "reapply_unchanged_s": round(t_again, 3),
                "rows_per_s_apply": round(rows / t_apply),
            }
        )
    )


if __name__ == "__main__":
    main()
