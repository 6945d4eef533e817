"""Alert facts from what receivers report about themselves: amplifier fault, weak signal, disk nearly full, a
level far below what was expected (or silence), a clock off by more than the sync budget.

`speaker_conditions` is a pure function of one speaker's latest readings, the thresholds and `now`.
`HealthFacts` adds since-when each condition holds (the registry keeps only the latest reading). A speaker that
is offline, stale or waiting for approval yields none of these: its readings are old news, and its own
`speaker_offline` alert says what matters.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from broadcast.config import SpeakerAlertConfig
from broadcast.speakers.live import ONLINE, SpeakerLive
from contract.levels import LEVEL_FLOOR_DBFS, volume_db
from hub.core.facts import Fact, FactKind

Detail = dict[str, str | int | float | bool | None]


@dataclass(frozen=True, slots=True)
class Condition:
    kind: FactKind
    summary: str  # Vietnamese, one line
    detail: Detail
    since: float | None = None  # when the condition itself says when it began (a measurement's time)


def expected_level(volume: int | None, cfg: SpeakerAlertConfig) -> float | None:
    """The RMS level a speaker at `volume` should send for levelled content; None when it is muted on purpose
    or its volume is unknown (nothing to expect)."""
    if volume is None or volume <= 0:
        return None
    return cfg.reference_dbfs + volume_db(volume)


def level_condition(sp: SpeakerLive, now: float, cfg: SpeakerAlertConfig) -> Condition | None:
    if sp.level_dbfs is None or sp.level_at is None or now - sp.level_at > cfg.level_max_age_h * 3600:
        return None
    expected = expected_level(sp.volume, cfg)
    if expected is None:
        return None
    detail: Detail = {
        "level_dbfs": sp.level_dbfs,
        "expected_dbfs": round(expected, 1),
        "airing": sp.level_airing,
    }
    what = f" (chương trình {sp.level_airing})" if sp.level_airing else ""
    if sp.level_dbfs <= max(cfg.silence_dbfs, LEVEL_FLOOR_DBFS):
        return Condition(FactKind.SPEAKER_LEVEL_LOW, f"Loa phát im lặng{what}", detail, sp.level_at)
    if sp.level_dbfs < expected - cfg.level_margin_db:
        text = (
            f"Mức âm thanh gửi ra loa {sp.level_dbfs:.0f} dBFS, thấp hơn mức dự kiến "
            f"{expected:.0f} dBFS{what}"
        )
        return Condition(FactKind.SPEAKER_LEVEL_LOW, text, detail, sp.level_at)
    return None


def speaker_conditions(sp: SpeakerLive, now: float, cfg: SpeakerAlertConfig) -> list[Condition]:
    """What is wrong with one online, approved speaker according to its latest readings."""
    out: list[Condition] = []
    if sp.amplifier == "fault":
        out.append(Condition(FactKind.SPEAKER_AMPLIFIER, "Bộ khuếch đại báo lỗi", {"amplifier": "fault"}))
    if sp.signal_dbm is not None and sp.signal_dbm < cfg.signal_min_dbm:
        text = f"Sóng di động yếu: {sp.signal_dbm:.0f} dBm (ngưỡng {cfg.signal_min_dbm:.0f} dBm)"
        out.append(Condition(FactKind.SPEAKER_SIGNAL_WEAK, text, {"signal_dbm": sp.signal_dbm}))
    if sp.disk_free_mb is not None and sp.disk_free_mb < cfg.disk_min_mb:
        text = f"Bộ nhớ còn trống {sp.disk_free_mb:.0f} MB (ngưỡng {cfg.disk_min_mb:.0f} MB)"
        out.append(Condition(FactKind.SPEAKER_DISK_LOW, text, {"disk_free_mb": sp.disk_free_mb}))
    level = level_condition(sp, now, cfg)
    if level is not None:
        out.append(level)
    if sp.clock_offset_ms is not None and abs(sp.clock_offset_ms) > cfg.clock_budget_ms:
        text = (
            f"Đồng hồ lệch {sp.clock_offset_ms:+.0f} ms so với giờ chuẩn "
            f"(cho phép ±{cfg.clock_budget_ms:.0f} ms): loa sẽ phát lệch nhịp các loa bên cạnh"
        )
        out.append(Condition(FactKind.SPEAKER_CLOCK_OFF, text, {"clock_offset_ms": sp.clock_offset_ms}))
    return out


class HealthFacts:
    """FactSource over the registry's speakers; remembers since when each condition has held."""

    def __init__(self, cfg: SpeakerAlertConfig) -> None:
        self.cfg = cfg
        self._since: dict[tuple[FactKind, str], float] = {}

    def __call__(self, speakers: Iterable[SpeakerLive], now: float) -> list[Fact]:
        out: list[Fact] = []
        held: set[tuple[FactKind, str]] = set()
        for sp in speakers:
            if sp.status != ONLINE or sp.pending:
                continue
            for c in speaker_conditions(sp, now, self.cfg):
                key = (c.kind, sp.key)
                held.add(key)
                since = self._since.setdefault(key, min(c.since, now) if c.since is not None else now)
                out.append(
                    Fact(
                        c.kind,
                        sp.district,
                        sp.commune,
                        sp.key,
                        since,
                        sp.name or sp.slug,
                        c.summary,
                        detail={**c.detail, "village": sp.village},
                    )  # fmt: skip
                )
        for k in set(self._since) - held:
            del self._since[k]
        return out
