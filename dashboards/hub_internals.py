"""The hub internals dashboard (hub-internals.json): the hub's own `hub_stats` measurement."""

from __future__ import annotations

from typing import Any

from grafana_json import Layout, dashboard, series_options, stat_options, target, variable

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
                f'SELECT {expr} FROM "$rp"."hub_stats" WHERE {HUB} GROUP BY time($__interval), "hub" fill(none)',
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
                    f'SELECT last("mqtt_connected") FROM "$rp"."hub_stats" WHERE {HUB} GROUP BY "hub"',
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
                    f'SELECT last("influx_up") FROM "$rp"."hub_stats" WHERE {HUB} GROUP BY "hub"',
                    alias="$tag_hub",
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
                target(f'SELECT last("cameras") FROM "$rp"."hub_stats" WHERE {HUB}', "A", "Camera"),
                target(f'SELECT last("agents") FROM "$rp"."hub_stats" WHERE {HUB}', "B", "Hộp"),
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
                    f'SELECT last("uptime_s") FROM "$rp"."hub_stats" WHERE {HUB} GROUP BY "hub"',
                    alias="$tag_hub",
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
                    f'SELECT non_negative_derivative(max(/^rejected_[a-z_]+$/), 1s) FROM "$rp"."hub_stats" WHERE {HUB} '
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
