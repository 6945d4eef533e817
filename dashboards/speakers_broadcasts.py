"""The speakers and broadcasts dashboard (speakers-broadcasts.json): receivers, their health, airings."""

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

LAST_PER_SPEAKER = (
    'SELECT last("online") AS "on", last("amplifier") AS "amp" FROM "$rp"."speaker_health" '
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
            [
                target(
                    f'SELECT sum("played") / sum("targeted") FROM "$rp"."airing" WHERE {AREA} AND $timeFilter'
                )
            ],
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
                    f'SELECT sum("targeted") FROM "$rp"."airing" WHERE {AREA} AND $timeFilter GROUP BY time($__interval) fill(none)',
                    "A",
                    "Được giao",
                ),
                target(
                    f'SELECT sum("played") FROM "$rp"."airing" WHERE {AREA} AND $timeFilter GROUP BY time($__interval) fill(none)',
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
                    f'SELECT max("skew_ms") FROM "$rp"."airing" WHERE {AREA} AND $timeFilter '
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
                    f'"skew_ms" AS "độ lệch (ms)" FROM "$rp"."airing" WHERE {AREA} AND $timeFilter '
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
                    f'SELECT count("targeted") FROM "$rp"."airing" WHERE {AREA} AND $timeFilter GROUP BY "status"',
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
                    f'last("disk_free_mb") AS "đĩa trống (MB)" FROM "$rp"."speaker_health" WHERE {AREA} AND $timeFilter '
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
                    f'SELECT mean("signal_dbm") FROM "$rp"."speaker_health" WHERE {AREA} AND $timeFilter '
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
                    f'SELECT min("disk_free_mb") FROM "$rp"."speaker_health" WHERE {AREA} AND $timeFilter '
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
                    f'SELECT last("volume") FROM "$rp"."speaker_health" WHERE {AREA} AND $timeFilter '
                    'GROUP BY time($__interval), "speaker" fill(null)',
                    alias="$tag_speaker",
                )
            ],
            24,
            7,
            **series_options("percent"),
        ),
        L.panel(
            "timeseries",
            "Mức âm thanh ra loa",
            "Mức RMS bộ nhận gửi tới bộ khuếch đại khi đang phát (dBFS); -120 là im lặng. Thấp hơn mức dự kiến "
            "20 dB, hoặc dưới -60, là có cảnh báo (docs/ALERTS.md).",
            [
                target(
                    f'SELECT mean("level_dbfs") FROM "$rp"."speaker_health" WHERE {AREA} AND $timeFilter '
                    'GROUP BY time($__interval), "speaker" fill(null)',
                    alias="$tag_speaker",
                )
            ],
            12,
            8,
            **series_options("dB"),
        ),
        L.panel(
            "timeseries",
            "Độ lệch đồng hồ",
            "Độ lệch đồng hồ bộ nhận so với giờ chuẩn NTP (ms); quá ±10 ms là có cảnh báo.",
            [
                target(
                    f'SELECT mean("clock_offset_ms") FROM "$rp"."speaker_health" WHERE {AREA} AND $timeFilter '
                    'GROUP BY time($__interval), "speaker" fill(null)',
                    alias="$tag_speaker",
                )
            ],
            12,
            8,
            **series_options("ms"),
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
