"""Audio levels in the contract: what a receiver reports about the sound it sent to its amplifier, and the
volume law the hub needs to know what level to expect (imports nothing of ours)."""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import Field

LEVEL_FLOOR_DBFS = -120.0  # the level reported for digital silence (log of zero)


def volume_db(volume: int) -> float:
    """The gain a receiver applies for a 0–100 volume, in dB: amplitude (volume/100)², so 50 → −12 dB."""
    v = max(0, min(100, volume))
    return LEVEL_FLOOR_DBFS if v == 0 else 40.0 * math.log10(v / 100.0)


IntervalLevel = Annotated[
    float | None,
    Field(
        ge=LEVEL_FLOOR_DBFS,
        le=0,
        allow_inf_nan=False,
        description="RMS level of the audio sent to the amplifier since the previous report, in dBFS "
        f"({LEVEL_FLOOR_DBFS:.0f} = digital silence); absent when nothing played in between",
    ),
]
AiringLevel = Annotated[
    float | None,
    Field(
        ge=LEVEL_FLOOR_DBFS,
        le=0,
        allow_inf_nan=False,
        description="finished/stopped: RMS level of what was sent to the amplifier over the airing, dBFS",
    ),
]
SilentSeconds = Annotated[
    float | None,
    Field(ge=0, allow_inf_nan=False, description="finished/stopped: seconds of it below −60 dBFS"),
]
ClockOffset = Annotated[
    float | None,
    Field(
        ge=-86_400_000,
        le=86_400_000,
        allow_inf_nan=False,
        description="The receiver clock's offset in ms: from the hub's orders (receiver − hub) once that estimate is "
        "500 ms or more (it then plays on hub time), otherwise as its time daemon (NTP) measures it",
    ),
]
