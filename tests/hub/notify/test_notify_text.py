"""Pure parts of the notifier: message text, routing, quiet hours, backoff."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from hub.core.facts import AlertNotice, FactKind, NoticeItem, Severity
from hub.notify.config import GroupDirectory, NotifyConfig, QuietHours, Receiver, RetryConfig, RouteConfig
from hub.notify.render import duration_vi, fit_lines, render_notice
from hub.notify.routing import Target, Unresolved, exempt_from_quiet, quiet_until, route_notice
from hub.notify.sender import backoff_s
from hub.notify.zalo import Outcome, classify

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NAMES = {("yen_dinh", ""): "Huyện Yên Định", ("yen_dinh", "dinh_long"): "Xã Định Long"}
NOW = datetime(2026, 11, 23, 7, 30, tzinfo=UTC).timestamp()  # 14:30 in Hà Nội


def make(
    status: str = "firing",
    n: int = 1,
    kind: FactKind = FactKind.CAMERA_OFFLINE,
    stagger: float = 0,
    **kw: object,
) -> AlertNotice:
    items = tuple(
        NoticeItem(
            f"yen_dinh/dinh_long/cam{i:02d}",
            f"Camera ngã tư số {i}",
            "Mất tín hiệu",
            NOW - 720 - i * stagger,
            NOW - i * stagger if status == "resolved" else None,
        )
        for i in range(n)
    )
    base = {
        "event_id": "e",
        "group_key": "g",
        "status": status,
        "kind": kind,
        "severity": Severity.WARNING,
        "district": "yen_dinh",
        "commune": "dinh_long",
        "items": items,
        "created_at": NOW,
        "link_path": "/alerts/42",
    }
    base.update(kw)
    return AlertNotice(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5, "5 giây"),
        (60, "1 phút"),
        (720, "12 phút"),
        (3600, "1 giờ"),
        (7500, "2 giờ 5 phút"),
        (3 * 86400 + 4 * 3600, "3 ngày 4 giờ"),
    ],
)
def test_durations_in_vietnamese(seconds: float, text: str) -> None:
    assert duration_vi(seconds) == text


def test_firing_text_has_area_names_local_time_duration_and_link() -> None:
    text = render_notice(make(), NAMES, TZ, "https://camera.example.vn/")
    assert text.splitlines()[0] == "🟠 [Cảnh báo] Camera mất kết nối — Xã Định Long, Huyện Yên Định"
    assert "• Camera ngã tư số 0 — Mất tín hiệu (từ 14:18, 12 phút)" in text
    assert "Lúc 14:30 23/11/2026 (giờ Việt Nam)" in text
    assert text.endswith("Xem: https://camera.example.vn/alerts/42")


def test_resolved_text_says_what_recovered_and_how_long_it_was_down() -> None:
    text = render_notice(make("resolved", n=2, open_items=3), NAMES, TZ, "http://h")
    lines = text.splitlines()
    assert lines[0] == "✅ [Đã khắc phục] Camera đã kết nối lại — Xã Định Long, Huyện Yên Định"
    assert lines[1] == "2 camera đã hoạt động lại sau 12 phút gián đoạn (14:18–14:30):"
    assert lines[2:4] == ["• Camera ngã tư số 0", "• Camera ngã tư số 1"]
    assert "Còn 3 camera khác đang gặp sự cố." in text
    # Items that went down and came back at different times each say their own span.
    text = render_notice(make("resolved", n=2, stagger=600), NAMES, TZ, "http://h")
    assert "2 camera đã hoạt động lại:" in text
    assert "• Camera ngã tư số 1 — gián đoạn 12 phút (14:08–14:20)" in text


def test_a_group_that_began_together_shares_one_time_line() -> None:
    text = render_notice(make(n=3), NAMES, TZ, "http://h")
    assert "3 camera, từ 14:18 (12 phút):" in text and "• Camera ngã tư số 2 — Mất tín hiệu" in text
    text = render_notice(make(n=3, stagger=300), NAMES, TZ, "http://h")
    assert "• Camera ngã tư số 2 — Mất tín hiệu (từ 14:08, 22 phút)" in text


def test_a_long_group_is_cut_below_the_limit_with_the_rest_counted() -> None:
    text = render_notice(make(n=120), NAMES, TZ, "http://h", max_chars=2000)
    assert len(text) <= 2000
    m = [line for line in text.splitlines() if line.startswith("… và ")]
    assert len(m) == 1 and m[0].endswith(" camera khác")
    shown = sum(1 for line in text.splitlines() if line.startswith("• "))
    assert shown + int(m[0].split()[2]) == 120
    assert text.endswith("Xem: http://h/alerts/42") and "120 camera, từ 14:18" in text


def test_fit_lines_keeps_everything_that_fits() -> None:
    assert fit_lines(["a"], ["b", "c"], ["d"], 100, "camera") == "a\nb\nc\nd"


def test_critical_and_channel_notices_pass_quiet_hours() -> None:
    assert exempt_from_quiet(make(severity=Severity.CRITICAL))
    assert exempt_from_quiet(make(quiet_hours_exempt=True))
    assert exempt_from_quiet(make(kind=FactKind.CHANNEL_FAILING))
    assert not exempt_from_quiet(make())


@pytest.mark.parametrize(
    ("local", "start", "end", "until"),
    [
        ("23:10", "22:00", "06:00", "2026-11-24 06:00"),  # wraps midnight, evening side
        ("05:59", "22:00", "06:00", "2026-11-23 06:00"),  # wraps midnight, morning side
        ("06:00", "22:00", "06:00", None),
        ("12:30", "12:00", "13:30", "2026-11-23 13:30"),
        ("11:59", "12:00", "13:30", None),
    ],
)
def test_quiet_until(local: str, start: str, end: str, until: str | None) -> None:
    now = (
        datetime.fromisoformat(f"2026-11-23 {local}").replace(tzinfo=TZ).astimezone(UTC).replace(tzinfo=None)
    )
    got = quiet_until(now, QuietHours(start=start, end=end), TZ)
    want = (
        None
        if until is None
        else datetime.fromisoformat(until).replace(tzinfo=TZ).astimezone(UTC).replace(tzinfo=None)
    )
    assert got == want


def test_default_routes_send_camera_alerts_to_police_and_speaker_alerts_to_officers() -> None:
    cfg = NotifyConfig(
        groups=GroupDirectory(
            police={"yen_dinh": "gp"}, officers={"yen_dinh/dinh_long": "go"}, oncall={"*": ["c1"]}
        )
    )

    def route(k: str, sev: str = "warning", c: str = "dinh_long") -> tuple[list[Target], list[Unresolved]]:
        return route_notice(cfg.routes, cfg.groups, k, sev, "yen_dinh", c)

    assert [(t.channel, t.target) for t in route("camera_offline")[0]] == [("oa", "gp")]
    assert [(t.channel, t.target) for t in route("broadcast_failed")[0]] == [("oa", "go")]
    assert [(t.channel, t.target) for t in route("agent_offline", "critical")[0]] == [
        ("oa", "gp"),
        ("bot", "c1"),
    ]
    assert [(t.channel, t.target) for t in route("channel_failing", "critical")[0]] == [("bot", "c1")]
    targets, missing = route("speaker_offline", c="dinh_tan")
    assert targets == [] and missing[0].reference == "@officers" and "dinh_tan" in missing[0].reason


def test_first_match_wins_unless_continue_and_filters_combine() -> None:
    routes = [
        RouteConfig(
            name="a", districts=["x"], kinds=[FactKind.CAMERA_OFFLINE], receivers=[Receiver(oa_group="g1")]
        ),
        RouteConfig(name="b", receivers=[Receiver(oa_group="g2")]),
    ]
    g = GroupDirectory()
    assert [t.target for t in route_notice(routes, g, "camera_offline", "warning", "x", "c")[0]] == ["g1"]
    assert [t.target for t in route_notice(routes, g, "camera_offline", "warning", "y", "c")[0]] == ["g2"]
    routes[0] = routes[0].model_copy(update={"continue_matching": True})
    assert [t.target for t in route_notice(routes, g, "camera_offline", "warning", "x", "c")[0]] == [
        "g1",
        "g2",
    ]


def test_config_refuses_ambiguous_receivers_and_bad_times() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Receiver(oa_group="g", bot_chat="c")
    with pytest.raises(ValueError, match="unknown reference"):
        Receiver(oa_group="@policemen")
    with pytest.raises(ValueError, match="HH:MM"):
        QuietHours(start="25:00", end="06:00")
    with pytest.raises(ValueError, match="missing: secret_key, refresh_token"):
        NotifyConfig.model_validate({"oa": {"app_id": "123"}})
    assert not NotifyConfig.model_validate({"oa": {"app_id": "", "secret_key": ""}}).oa.configured
    route = NotifyConfig.model_validate(
        {"routes": [{"name": "r", "continue": True, "receivers": [{"oa_group": "g"}]}]}
    )
    assert route.routes[0].continue_matching


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        (0, Outcome.OK),
        (-216, Outcome.TOKEN),
        (-220, Outcome.TOKEN),
        (-118, Outcome.REAUTH),
        (-14014, Outcome.REAUTH),
        (-32, Outcome.RATE_LIMIT),
        (-201, Outcome.PERMANENT),
        (-237, Outcome.PERMANENT),
        (-403, Outcome.PERMANENT),
        (-999, Outcome.RETRY),
    ],
)
def test_zalo_codes(code: int, outcome: Outcome) -> None:
    assert classify(code) == outcome


def test_backoff_doubles_with_jitter_and_respects_caps() -> None:
    cfg = RetryConfig(base_s=10, max_s=100, rate_limit_s=60)
    rng = random.Random(3)
    for attempt, full in ((1, 10), (2, 20), (3, 40), (4, 80), (5, 100), (9, 100)):
        d = backoff_s(attempt, Outcome.RETRY, cfg, rng)
        assert full / 2 <= d <= full
    assert 30 <= backoff_s(1, Outcome.RATE_LIMIT, cfg, rng) <= 60
