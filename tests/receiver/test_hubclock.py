"""Receiver: the hub's time from the `ts` of its orders (broadcast/receiver/hubclock.py), found by the
receiver-clock drill: a receiver 2 s behind used to start 2 s late."""

from __future__ import annotations

from broadcast.receiver.hubclock import HubClock

HUB = 1_800_000_000.0


def test_a_clock_two_seconds_behind_is_measured_and_corrected() -> None:
    local = [HUB - 2.0]
    clock = HubClock(lambda: local[0])
    assert clock() == HUB - 2.0 and clock.offset_ms is None  # nothing measured yet: nothing corrected
    clock.observe(HUB - 0.05, now=HUB - 2.0)  # an order sent 50 ms ago by the hub's clock
    assert clock.offset_ms == -1950.0
    # In hub time now: the order's stamp (transit is inside the estimate, so at most that much early).
    assert abs(clock() - (HUB - 0.05)) < 1e-6
    local[0] += 10
    assert abs(clock() - (HUB + 9.95)) < 1e-6


def test_transit_alone_is_not_taken_for_an_offset() -> None:
    clock = HubClock(lambda: HUB)
    clock.observe(HUB - 0.3, now=HUB)  # 300 ms on the way, clocks agree
    assert clock.offset_ms is None and clock() == HUB


def test_an_order_held_by_the_broker_does_not_spoil_the_estimate() -> None:
    clock = HubClock(lambda: HUB)
    clock.observe(HUB + 2.0 - 0.02, now=HUB)  # receiver 2 s behind, 20 ms transit
    clock.observe(HUB - 600.0, now=HUB)  # a command queued 10 minutes while the receiver was away
    assert clock.offset_ms == -1980.0  # the smallest sample wins: delays only ever add


def test_a_clock_put_right_by_ntp_is_followed_within_the_window() -> None:
    clock = HubClock(lambda: HUB)
    clock.observe(HUB + 2.0, now=HUB)
    for _ in range(8):
        clock.observe(HUB - 0.01, now=HUB)  # NTP fixed it: the old samples leave the window
    assert clock.offset_ms is None


def test_the_hub_writes_the_reported_offset_to_speaker_health() -> None:
    from broadcast.speakers.live import SpeakerLive
    from broadcast.speakers.registry import health_line

    s = SpeakerLive("d/c/loa-1", "d", "c", "loa-1", status="online")
    s.clock_offset_ms = -1950.0  # as the registry stores it from the health report
    assert "clock_offset_ms=-1950.0" in (health_line(s, HUB) or "")
    s.clock_offset_ms = None
    assert "clock_offset_ms" not in (health_line(s, HUB) or "")
