"""What the map page asks for at province scale: 20,400 cameras on 10,200 camera points and 2,400 positioned
speakers in SQLite; measures the two steps behind GET /api/v1/map/features (the SQL read, on the hub's shared SQL thread, then the
shaping and JSON encoding, in a worker thread) for the
province (admin) and for one commune (its police), and the size of the JSON the page downloads.

Run from the repo root: `.venv/bin/python bench/map_features.py`. Prints one JSON line at the end.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hub.compose import open_database
from hub.core.auth import Principal
from hub.core.camera_points import CameraPoint
from hub.core.db import Camera
from hub.core.speaker_models import Speaker
from hub.map.layers import fetch_rows, shape

DISTRICTS, COMMUNES, POINTS_PER_COMMUNE, SPEAKERS_PER_COMMUNE = 30, 20, 17, 4  # 2 cameras per point
RUNS = 5


def seed(url: str) -> None:
    db = open_database(url)
    db.create_all()
    with db.session() as s, s.begin():
        for d in range(DISTRICTS):
            for c in range(COMMUNES):
                dist, com = f"d{d}", f"c{c}"
                lat0, lon0 = 19.3 + d * 0.04, 104.9 + c * 0.07
                for p in range(POINTS_PER_COMMUNE):
                    key = f"{dist}/{com}/p{p}"
                    s.add(CameraPoint(key=key, district=dist, commune=com, slug=f"p{p}", name=f"Điểm {p}",
                                      lat=lat0 + p * 0.001, lon=lon0 + p * 0.001))  # fmt: skip
                    for k in range(2):
                        s.add(Camera(key=f"{dist}/{com}/cam{p}-{k}", district=dist, commune=com,
                                     slug=f"cam{p}-{k}", name=f"Camera {p}-{k}", status="ok", problems=[],
                                     point=f"p{p}", purpose="security"))  # fmt: skip
                for sp in range(SPEAKERS_PER_COMMUNE):
                    s.add(Speaker(key=f"{dist}/{com}/loa{sp}", district=dist, commune=com, slug=f"loa{sp}",
                                  name=f"Loa {sp}", lat=lat0 - sp * 0.001, lon=lon0, status="online"))  # fmt: skip
    db.close()


def timed(db_url: str, who: Principal) -> tuple[float, float, int, int]:
    """Median seconds of the SQL step (what holds the hub's SQL thread) and of the whole answer."""
    db = open_database(db_url)
    sql_times, times = [], []
    size = points = 0
    for _ in range(RUNS):
        t0 = time.perf_counter()
        with db.session() as s:
            rows = fetch_rows(s, who, cameras=True, speakers=True)
        sql_times.append(time.perf_counter() - t0)
        body = shape(rows, {})
        text = json.dumps(body, ensure_ascii=False)
        times.append(time.perf_counter() - t0)
        size, points = len(text.encode()), len(body["points"])
    db.close()
    return statistics.median(sql_times), statistics.median(times), size, points


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        seed(url)
        admin = Principal(1, "a", None, "admin", None, None, "token")
        police = Principal(2, "p", None, "police", "d3", "c4", "token")
        prov_sql, prov_s, prov_bytes, prov_points = timed(url, admin)
        com_sql, com_s, com_bytes, com_points = timed(url, police)
    print(json.dumps({
        "cameras": DISTRICTS * COMMUNES * POINTS_PER_COMMUNE * 2, "points": prov_points,
        "speakers": DISTRICTS * COMMUNES * SPEAKERS_PER_COMMUNE,
        "province_sql_s": round(prov_sql, 3), "province_total_s": round(prov_s, 3),
        "province_json_kb": round(prov_bytes / 1024), "commune_sql_s": round(com_sql, 4),
        "commune_total_s": round(com_s, 4), "commune_points": com_points, "commune_json_kb": round(com_bytes / 1024, 1),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
