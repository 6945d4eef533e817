"""Writes the commune detail, speakers/broadcasts and hub internals dashboards (dashboards/*.json).

Run `.venv/bin/python dashboards/generate.py` after editing; the JSON files are what Grafana provisions and
what tests/test_dashboards.py runs against a real InfluxDB. Every query is raw InfluxQL on the provisioned
datasource (uid `influxdb-ops`); measurements and fields are those of docs/INFLUX.md. The camera health
overview (camera-health-overview.json) is maintained by hand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DS = {"type": "influxdb", "uid": "influxdb-ops"}
AREA = "district =~ /^$district$/ AND commune =~ /^$commune$/"


def target(query: str, ref: str = "A", alias: str | None = None, fmt: str = "time_series") -> dict[str, Any]:
    t: dict[str, Any] = {
        "datasource": DS,
        "refId": ref,
        "rawQuery": True,
        "resultFormat": fmt,
        "query": query,
    }
    if alias:
        t["alias"] = alias
    return t


class Layout:
    """Places panels left to right on Grafana's 24-column grid and numbers them."""

    def __init__(self) -> None:
        self.x = self.y = self.row_h = 0
        self.next_id = 1

    def place(self, w: int, h: int) -> dict[str, int]:
        if self.x + w > 24:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        pos = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.x += w
        self.row_h = max(self.row_h, h)
        return pos

    def panel(
        self, kind: str, title: str, desc: str, targets: list[dict[str, Any]], w: int, h: int, **extra: Any
    ) -> dict[str, Any]:
        p = {
            "id": self.next_id,
            "type": kind,
            "title": title,
            "description": desc,
            "datasource": DS,
            "gridPos": self.place(w, h),
            "targets": targets,
        }
        self.next_id += 1
        p.update(extra)
        return p


def stat_options(color: str, unit: str = "none", **defaults: Any) -> dict[str, Any]:
    return {
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "background",
            "graphMode": "none",
            "textMode": "value",
            "justifyMode": "center",
        },
        "fieldConfig": {
            "defaults": {"unit": unit, "color": {"mode": "fixed", "fixedColor": color}, **defaults},
            "overrides": [],
        },
    }


def series_options(unit: str = "none", draw: str = "line", stack: bool = False) -> dict[str, Any]:
    return {
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "custom": {
                    "drawStyle": draw,
                    "lineWidth": 1,
                    "fillOpacity": 10,
                    "spanNulls": False,
                    "stacking": {"mode": "normal" if stack else "none", "group": "A"},
                },
            },
            "overrides": [],
        },
        "options": {
            "legend": {"displayMode": "table", "placement": "right", "calcs": ["lastNotNull", "max"]},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    }


def table_options(hide: tuple[str, ...] = ("Time",)) -> dict[str, Any]:
    return {
        "transformations": [{"id": "organize", "options": {"excludeByName": dict.fromkeys(hide, True)}}],
        "fieldConfig": {"defaults": {}, "overrides": []},
        "options": {"showHeader": True},
    }


def variable(name: str, label: str, query: str, all_: bool = True) -> dict[str, Any]:
    v: dict[str, Any] = {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DS,
        "query": query,
        "refresh": 2,
        "includeAll": all_,
        "multi": all_,
        "sort": 1,
        "options": [],
        "hide": 0,
    }
    if all_:
        v["allValue"] = ".*"
        v["current"] = {"selected": True, "text": ["All"], "value": ["$__all"]}
    return v


def dashboard(
    uid: str,
    title: str,
    desc: str,
    tags: list[str],
    variables: list[dict[str, Any]],
    panels: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "description": desc,
        "tags": tags,
        "timezone": "Asia/Ho_Chi_Minh",
        "editable": False,
        "graphTooltip": 1,
        "refresh": "30s",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": variables},
        "annotations": {"list": []},
        "links": [
            {"title": "Dashboards vận hành", "type": "dashboards", "tags": ["ops"], "asDropdown": True}
        ],
        "panels": panels,
    }


# --- commune detail ------------------------------------------------------------------------------------------

LAST_PER_CAMERA = (
    'SELECT last("online") AS "up", last("problem_count") AS "pc" FROM "camera_health" '
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
                'SELECT count("on") FROM (SELECT last("online") AS "on" FROM "edge_status" '
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
            f'SELECT last("problem_count") AS "pc" FROM "camera_health" WHERE {AREA} AND {cond} AND $timeFilter '
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
                f'last("open_ms") AS "mở luồng (ms)" FROM "camera_health" WHERE {AREA} AND $timeFilter GROUP BY "camera"',
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
                f'SELECT mean("fps") FROM "camera_health" WHERE {AREA} AND $timeFilter '
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
                f'SELECT mean("brightness") FROM "camera_health" WHERE {AREA} AND $timeFilter '
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
                f'SELECT max("queue") FROM "edge_status" WHERE {AREA} AND $timeFilter '
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
                f'SELECT max("seq_gaps") FROM "edge_status" WHERE {AREA} AND $timeFilter '
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
                f'last("queue") AS "hàng đợi" FROM "edge_status" WHERE {AREA} AND $timeFilter GROUP BY "agent"',
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


# --- speakers and broadcasts ---------------------------------------------------------------------------------

LAST_PER_SPEAKER = (
    'SELECT last("online") AS "on", last("amplifier") AS "amp" FROM "speaker_health" '
    f'WHERE {AREA} AND $timeFilter GROUP BY "speaker"'
)


def speakers() -> dict[str, Any]:
    L = Layout()
    panels = [
        L.panel(
            "stat",
            "Loa trực tuyến",
            "Loa có trạng thái gần nhất là trực tuyến.",
            [target(f'SELECT count("on") FROM ({LAST_PER_SPEAKER}) WHERE "on" = 1')],
            6,
            4,
            **stat_options("green"),
        ),
        L.panel(
            "stat",
            "Loa mất kết nối",
            "Loa có trạng thái gần nhất là mất kết nối.",
            [target(f'SELECT count("on") FROM ({LAST_PER_SPEAKER}) WHERE "on" = 0')],
            6,
            4,
            **stat_options("red"),
        ),
        L.panel(
            "stat",
            "Bộ khuếch đại lỗi",
            "Loa báo bộ khuếch đại hỏng ở lần báo cáo gần nhất.",
            [target(f'SELECT count("on") FROM ({LAST_PER_SPEAKER}) WHERE "amp" = \'fault\'')],
            6,
            4,
            **stat_options("orange"),
        ),
        L.panel(
            "stat",
            "Tỉ lệ loa phát được",
            "Trong các lượt phát đã kết thúc: số loa đã phát / số loa được giao.",
            [target(f'SELECT sum("played") / sum("targeted") FROM "airing" WHERE {AREA} AND $timeFilter')],
            6,
            4,
            **stat_options("blue", "percentunit", decimals=1),
        ),
        L.panel(
            "timeseries",
            "Lượt phát: loa được giao và đã phát",
            "Tổng số loa được giao và số loa đã phát của các lượt phát kết thúc trong mỗi khoảng.",
            [
                target(
                    f'SELECT sum("targeted") FROM "airing" WHERE {AREA} AND $timeFilter GROUP BY time($__interval) fill(none)',
                    "A",
                    "Được giao",
                ),
                target(
                    f'SELECT sum("played") FROM "airing" WHERE {AREA} AND $timeFilter GROUP BY time($__interval) fill(none)',
                    "B",
                    "Đã phát",
                ),
            ],
            12,
            8,
            **series_options(draw="bars"),
        ),
        L.panel(
            "timeseries",
            "Độ lệch thời điểm bắt đầu phát",
            "Độ lệch lớn nhất giữa các loa của một lượt phát (ms), theo mức ưu tiên.",
            [
                target(
                    f'SELECT max("skew_ms") FROM "airing" WHERE {AREA} AND $timeFilter '
                    'GROUP BY time($__interval), "priority" fill(none)',
                    alias="$tag_priority",
                )
            ],
            12,
            8,
            **series_options("ms", draw="points"),
        ),
        L.panel(
            "table",
            "Các lượt phát gần đây",
            "Lượt phát đã kết thúc, mới nhất trước.",
            [
                target(
                    'SELECT "status" AS "kết quả", "targeted" AS "được giao", "played" AS "đã phát", '
                    f'"skew_ms" AS "độ lệch (ms)" FROM "airing" WHERE {AREA} AND $timeFilter '
                    'GROUP BY "commune", "priority" ORDER BY time DESC LIMIT 50',
                    fmt="table",
                )
            ],
            12,
            9,
            **table_options(()),
        ),
        L.panel(
            "piechart",
            "Lượt phát theo kết quả",
            "Số lượt phát theo trạng thái kết thúc.",
            [
                target(
                    f'SELECT count("targeted") FROM "airing" WHERE {AREA} AND $timeFilter GROUP BY "status"',
                    alias="$tag_status",
                )
            ],
            12,
            9,
            options={
                "reduceOptions": {"calcs": ["sum"], "fields": "", "values": False},
                "legend": {"displayMode": "table", "placement": "right", "values": ["value"]},
                "pieType": "donut",
            },
            fieldConfig={"defaults": {"unit": "none"}, "overrides": []},
        ),
        L.panel(
            "table",
            "Tình trạng từng loa",
            "Báo cáo gần nhất của mỗi loa (trực tuyến 1/0, âm lượng, khuếch đại, sóng, đĩa).",
            [
                target(
                    'SELECT last("online") AS "trực tuyến", last("volume") AS "âm lượng", '
                    'last("amplifier") AS "khuếch đại", last("signal_dbm") AS "sóng (dBm)", '
                    f'last("disk_free_mb") AS "đĩa trống (MB)" FROM "speaker_health" WHERE {AREA} AND $timeFilter '
                    'GROUP BY "commune", "speaker"',
                    fmt="table",
                )
            ],
            24,
            10,
            **table_options(),
        ),
        L.panel(
            "timeseries",
            "Cường độ sóng",
            "Cường độ tín hiệu mạng của từng loa (dBm); dưới -100 là yếu.",
            [
                target(
                    f'SELECT mean("signal_dbm") FROM "speaker_health" WHERE {AREA} AND $timeFilter '
                    'GROUP BY time($__interval), "speaker" fill(null)',
                    alias="$tag_speaker",
                )
            ],
            12,
            8,
            **series_options("dBm"),
        ),
        L.panel(
            "timeseries",
            "Dung lượng đĩa trống",
            "Dung lượng trống trên bộ nhận của từng loa (bộ nhớ đệm bản tin).",
            [
                target(
                    f'SELECT min("disk_free_mb") FROM "speaker_health" WHERE {AREA} AND $timeFilter '
                    'GROUP BY time($__interval), "speaker" fill(null)',
                    alias="$tag_speaker",
                )
            ],
            12,
            8,
            **series_options("decmbytes"),
        ),
        L.panel(
            "timeseries",
            "Âm lượng",
            "Âm lượng (0–100) từng loa báo về.",
            [
                target(
                    f'SELECT last("volume") FROM "speaker_health" WHERE {AREA} AND $timeFilter '
                    'GROUP BY time($__interval), "speaker" fill(null)',
                    alias="$tag_speaker",
                )
            ],
            24,
            7,
            **series_options("percent"),
        ),
    ]
    variables = [
        variable("district", "Huyện", 'SHOW TAG VALUES FROM "speaker_health" WITH KEY = "district"'),
        variable(
            "commune",
            "Xã",
            'SHOW TAG VALUES FROM "speaker_health" WITH KEY = "commune" WHERE district =~ /^$district$/',
        ),
    ]
    return dashboard(
        "ops-speakers-broadcasts",
        "Loa truyền thanh và lượt phát",
        "Speaker receivers (speaker_health) and finished airings (airing); docs/INFLUX.md.",
        ["speaker", "broadcast", "ops"],
        variables,
        panels,
    )


# --- hub internals -------------------------------------------------------------------------------------------

HUB = "hub =~ /^$hub$/ AND $timeFilter"


def rate(field: str) -> str:
    return f'non_negative_derivative(max("{field}"), 1s)'


def hub_internals() -> dict[str, Any]:
    L = Layout()

    def series(
        title: str, desc: str, selects: list[tuple[str, str]], unit: str = "none", w: int = 12
    ) -> dict[str, Any]:
        targets = [
            target(
                f'SELECT {expr} FROM "hub_stats" WHERE {HUB} GROUP BY time($__interval), "hub" fill(none)',
                chr(65 + i),
                f"$tag_hub {alias}",
            )
            for i, (expr, alias) in enumerate(selects)
        ]
        return L.panel("timeseries", title, desc, targets, w, 8, **series_options(unit))

    panels = [
        L.panel(
            "stat",
            "Kết nối MQTT",
            "Hub đang kết nối tới MQTT broker (1) hay không (0).",
            [
                target(
                    f'SELECT last("mqtt_connected") FROM "hub_stats" WHERE {HUB} GROUP BY "hub"',
                    alias="$tag_hub",
                )
            ],
            6,
            4,
            **stat_options("green"),
        ),
        L.panel(
            "stat",
            "InfluxDB ghi được",
            "Lần ghi gần nhất của hub vào InfluxDB thành công (true) hay không.",
            [
                target(
                    f'SELECT last("influx_up") FROM "hub_stats" WHERE {HUB} GROUP BY "hub"', alias="$tag_hub"
                )
            ],
            6,
            4,
            **stat_options("green"),
        ),
        L.panel(
            "stat",
            "Camera / hộp giám sát",
            "Số camera và hộp giám sát hub đang quản lý.",
            [
                target(f'SELECT last("cameras") FROM "hub_stats" WHERE {HUB}', "A", "Camera"),
                target(f'SELECT last("agents") FROM "hub_stats" WHERE {HUB}', "B", "Hộp"),
            ],
            6,
            4,
            **stat_options("blue"),
        ),
        L.panel(
            "stat",
            "Thời gian chạy",
            "Thời gian từ khi tiến trình hub khởi động.",
            [
                target(
                    f'SELECT last("uptime_s") FROM "hub_stats" WHERE {HUB} GROUP BY "hub"', alias="$tag_hub"
                )
            ],
            6,
            4,
            **stat_options("blue", "s"),
        ),
        series(
            "Tin nhắn MQTT mỗi giây",
            "Tin nhận, tin hợp lệ và tin bị từ chối mỗi giây.",
            [(rate("received"), "nhận"), (rate("accepted"), "hợp lệ"), (rate("rejected_total"), "từ chối")],
            "reqps",
        ),
        L.panel(
            "timeseries",
            "Tin bị từ chối theo lý do",
            "Tin nhắn sai hợp đồng mỗi giây, theo lý do (rejected_<lý do> trong docs/INFLUX.md).",
            [
                target(
                    f'SELECT non_negative_derivative(max(/^rejected_[a-z_]+$/), 1s) FROM "hub_stats" WHERE {HUB} '
                    "GROUP BY time($__interval) fill(none)",
                )
            ],
            12,
            8,
            **series_options("reqps", draw="bars"),
        ),
        series(
            "Hàng đợi ingest",
            "Tin chờ giữa MQTT và bộ xử lý; số lần luồng MQTT phải dừng đọc vì hàng đợi đầy.",
            [('max("queue_depth")', "hàng đợi"), (rate("backpressure_waits"), "dừng đọc/giây")],
        ),
        series(
            "Bộ đệm InfluxDB",
            "Điểm chờ ghi vào InfluxDB; điểm bị bỏ (bộ đệm đầy) và lần ghi lỗi mỗi giây.",
            [
                ('max("influx_buffered")', "đang chờ"),
                (rate("influx_dropped"), "bỏ/giây"),
                (rate("influx_failed_writes"), "ghi lỗi/giây"),
                (rate("influx_written"), "đã ghi/giây"),
            ],
        ),
        series(
            "Ghi SQL",
            "Thời gian lần ghi SQL gần nhất và lâu nhất từ khi khởi động (ms); dòng ghi mỗi giây.",
            [
                ('max("sql_flush_ms_last")', "gần nhất (ms)"),
                ('max("sql_flush_ms_max")', "lâu nhất (ms)"),
                (rate("sql_rows"), "dòng/giây"),
            ],
        ),
        series(
            "Sự kiện và chuyển trạng thái",
            "Chuyển trạng thái ghi vào SQL, sự kiện trực tiếp gửi tới trình duyệt, ảnh chụp lưu mỗi giây.",
            [
                (rate("transitions"), "chuyển trạng thái"),
                (rate("events"), "sự kiện"),
                (rate("snapshots"), "ảnh chụp"),
            ],
            "reqps",
        ),
        series(
            "Tin trùng, sai thứ tự, thiếu",
            "Tin gửi lại, tin cũ hơn trạng thái hiện tại, và tin bị thiếu (đếm từ khi khởi động).",
            [
                ('max("duplicates")', "trùng"),
                ('max("out_of_order")', "sai thứ tự"),
                ('max("seq_gaps")', "thiếu"),
            ],
        ),
        series(
            "Cảnh báo",
            "Cảnh báo đang báo động (firing) và đang mở (chưa hết) theo bộ máy cảnh báo của hub.",
            [('max("alerts_firing")', "đang báo động"), ('max("alerts_active")', "đang mở")],
        ),
        series(
            "Lệnh tới hộp giám sát đang chờ",
            "Lệnh (chụp ảnh, kiểm tra, học lại) đã gửi và đang chờ hộp trả lời.",
            [('max("commands_pending")', "đang chờ")],
        ),
    ]
    variables = [variable("hub", "Hub", 'SHOW TAG VALUES FROM "hub_stats" WITH KEY = "hub"')]
    return dashboard(
        "ops-hub-internals",
        "Hoạt động nội bộ của hub",
        "The hub's own counters (hub_stats, every 10 s): ingest rate, queues, rejected messages, InfluxDB "
        "buffer, SQL flushes; docs/INFLUX.md.",
        ["hub", "ops"],
        variables,
        panels,
    )


DASHBOARDS = {
    "commune-detail.json": commune_detail,
    "speakers-broadcasts.json": speakers,
    "hub-internals.json": hub_internals,
}


def main() -> None:
    for name, build in DASHBOARDS.items():
        text = json.dumps(build(), ensure_ascii=False, indent=2) + "\n"
        (HERE / name).write_text(text, encoding="utf-8")
        print(f"wrote dashboards/{name}")


if __name__ == "__main__":
    main()
