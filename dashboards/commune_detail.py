"""The commune detail dashboard (commune-detail.json): one commune's cameras, their health and uptime."""

from __future__ import annotations

from typing import Any

from grafana_json import (
    AREA,
    Layout,
    dashboard,
    series_options,
    stat_options,
    table_options,
    target,
    variable,
)

LAST_PER_CAMERA = (
    'SELECT last("online") AS "up", last("problem_count") AS "pc" FROM "$rp"."camera_health" '
    f'WHERE {AREA} AND $timeFilter GROUP BY "camera"'
)


def commune_detail() -> dict[str, Any]:
    L = Layout()
    online_pct = L.panel(
        "stat",
        "Camera trực tuyến",
        "Tỉ lệ camera có hình ở lần kiểm tra gần nhất trong khoảng đang xem.",
        [
            # the aliases name the fields the transformation divides
            target(
                f'SELECT count("up") AS "online" FROM ({LAST_PER_CAMERA}) WHERE "up" = true', "A", "online"
            ),
            target(f'SELECT count("up") AS "total" FROM ({LAST_PER_CAMERA})', "B", "total"),
        ],
        6,
        4,
        transformations=[
            {
                "id": "calculateField",
                "options": {
                    "mode": "binary",
                    "binary": {"left": "online", "operator": "/", "right": "total"},
                    "alias": "Trực tuyến",
                    "replaceFields": True,
                },
            }
        ],
        **stat_options("green", "percentunit", min=0, max=1, decimals=0),
    )
    problems_now = L.panel(
        "stat",
        "Có sự cố",
        "Camera có hình nhưng có sự cố ở lần kiểm tra gần nhất.",
        [target(f'SELECT count("pc") FROM ({LAST_PER_CAMERA}) WHERE "up" = true AND "pc" > 0')],
        6,
        4,
        **stat_options("orange"),
    )
    offline_now = L.panel(
        "stat",
        "Mất kết nối",
        "Camera không có hình ở lần kiểm tra gần nhất.",
        [target(f'SELECT count("pc") FROM ({LAST_PER_CAMERA}) WHERE "up" = false')],
        6,
        4,
        **stat_options("red"),
    )
    agents_now = L.panel(
        "stat",
        "Hộp giám sát trực tuyến",
        "Số hộp giám sát của xã mà trạng thái gần nhất là trực tuyến.",
        [
            target(
                'SELECT count("on") FROM (SELECT last("online") AS "on" FROM "$rp"."edge_status" '
                f'WHERE {AREA} AND $timeFilter GROUP BY "agent") WHERE "on" = true'
            )
        ],
        6,
        4,
        **stat_options("blue"),
    )
    offline_cond = '"online" = false'
    problem_cond = '"online" = true AND "problem_count" > 0'

    def cameras_per_bucket(cond: str) -> str:
        inner = (
            f'SELECT last("problem_count") AS "pc" FROM "$rp"."camera_health" WHERE {AREA} AND {cond} AND $timeFilter '
            'GROUP BY time($__interval), "camera"'
        )
        return f'SELECT count("pc") FROM ({inner}) GROUP BY time($__interval) fill(0)'

    over_time = L.panel(
        "timeseries",
        "Số camera có sự cố theo thời gian",
        "Số camera có ít nhất một lần kiểm tra mất kết nối (hoặc có sự cố) trong mỗi khoảng.",
        [
            target(cameras_per_bucket(offline_cond), "A", "Mất kết nối"),
            target(cameras_per_bucket(problem_cond), "B", "Có sự cố"),
        ],
        24,
        8,
        **series_options(draw="bars"),
    )
    table = L.panel(
        "table",
        "Tình trạng từng camera",
        "Lần kiểm tra gần nhất của mỗi camera trong xã.",
        [
            target(
                'SELECT last("status") AS "trạng thái", last("problems") AS "sự cố", last("fps") AS "fps", '
                'last("brightness") AS "độ sáng", last("sharpness") AS "độ nét", last("motion") AS "chuyển động", '
                f'last("open_ms") AS "mở luồng (ms)" FROM "$rp"."camera_health" WHERE {AREA} AND $timeFilter GROUP BY "camera"',
                fmt="table",
            )
        ],
        24,
        10,
        **table_options(),
    )
    fps = L.panel(
        "timeseries",
        "FPS từng camera",
        "Số khung hình/giây đo được.",
        [
            target(
                f'SELECT mean("fps") FROM "$rp"."camera_health" WHERE {AREA} AND $timeFilter '
                'GROUP BY time($__interval), "camera" fill(null)',
                alias="$tag_camera",
            )
        ],
        12,
        8,
        **series_options("fps"),
    )
    bright = L.panel(
        "timeseries",
        "Độ sáng và độ nét",
        "Độ sáng trung bình (0–255) của từng camera; giảm đột ngột là bị che hoặc hình đen.",
        [
            target(
                f'SELECT mean("brightness") FROM "$rp"."camera_health" WHERE {AREA} AND $timeFilter '
                'GROUP BY time($__interval), "camera" fill(null)',
                alias="$tag_camera",
            )
        ],
        12,
        8,
        **series_options(),
    )
    queue = L.panel(
        "timeseries",
        "Hàng đợi của hộp giám sát",
        "Tin nhắn đang chờ trong hàng đợi trên đĩa của từng hộp (tăng khi mất mạng tới hub).",
        [
            target(
                f'SELECT max("queue") FROM "$rp"."edge_status" WHERE {AREA} AND $timeFilter '
                'GROUP BY time($__interval), "agent" fill(null)',
                alias="$tag_agent",
            )
        ],
        12,
        8,
        **series_options(draw="points"),
    )
    gaps = L.panel(
        "timeseries",
        "Tin nhắn bị thiếu từ hộp",
        "Số tin nhắn sức khoẻ camera bị thiếu (đếm theo số thứ tự) từ khi hub khởi động.",
        [
            target(
                f'SELECT max("seq_gaps") FROM "$rp"."edge_status" WHERE {AREA} AND $timeFilter '
                'GROUP BY time($__interval), "agent" fill(null)',
                alias="$tag_agent",
            )
        ],
        12,
        8,
        **series_options(draw="points"),
    )
    agents = L.panel(
        "table",
        "Hộp giám sát",
        "Trạng thái gần nhất của từng hộp giám sát trong xã.",
        [
            target(
                'SELECT last("state") AS "trạng thái", last("version") AS "phiên bản", last("cameras") AS "camera", '
                f'last("queue") AS "hàng đợi" FROM "$rp"."edge_status" WHERE {AREA} AND $timeFilter GROUP BY "agent"',
                fmt="table",
            )
        ],
        24,
        6,
        **table_options(),
    )
    variables = [
        variable(
            "district", "Huyện", 'SHOW TAG VALUES FROM "camera_health" WITH KEY = "district"', all_=False
        ),
        variable(
            "commune",
            "Xã",
            'SHOW TAG VALUES FROM "camera_health" WITH KEY = "commune" WHERE district =~ /^$district$/',
            all_=False,
        ),
    ]
    return dashboard(
        "ops-commune-detail",
        "Chi tiết camera một xã",
        "One commune: cameras online, problems over time, per-camera status, edge agents (camera_health, "
        "edge_status; docs/INFLUX.md).",
        ["camera", "ops"],
        variables,
        [
            online_pct,
            problems_now,
            offline_now,
            agents_now,
            over_time,
            table,
            fps,
            bright,
            queue,
            gaps,
            agents,
        ],
    )
