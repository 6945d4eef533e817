"""`data` of the `relay` speaker command (contract/payloads.py `SpeakerCommand`): the hub's re-stream of an
upstream station as numbered PCM chunks on one timeline (docs/PROTOCOL.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from contract.payloads import Model, Slug, Timestamp, _finite

RELAY_RATES = (16000, 22050, 24000, 32000, 44100, 48000)


class RelayPlan(Model):
    """`data` of a `relay` command: play the hub's re-stream of an upstream station. Chunk k (0 ≤ k < chunks) is
    `chunk_s` of s16le mono PCM at `rate`, fetched from `chunk_url` with `{seq}` replaced by k, and played at
    exactly start_at + k·chunk_s; a chunk not there in time is played as silence, so every receiver stays on
    the same timeline."""

    airing: Slug = Field(description="Airing id; every event about this relay carries it")
    start_at: Timestamp = Field(description="When chunk 0 plays, epoch seconds UTC (float)")
    priority: Literal["normal", "priority", "emergency"]
    chunk_url: str = Field(
        max_length=2000,
        pattern=r"^https?://[^\s]+\{seq\}[^\s]*$",
        description="http(s) URL of chunk {seq} on the hub, e.g. http://hub/relay/tb-1/{seq}.pcm",
    )
    chunk_s: float = Field(ge=0.5, le=10, description="Seconds of audio in one chunk")
    chunks: int = Field(ge=1, le=100_000, description="How many chunks the relay lasts")
    rate: int = Field(
        description="Sample rate of the chunks' PCM", json_schema_extra={"enum": list(RELAY_RATES)}
    )

    @field_validator("rate")
    @classmethod
    def _rate(cls, v: int) -> int:
        if v not in RELAY_RATES:
            raise ValueError(f"must be one of {', '.join(map(str, RELAY_RATES))}")
        return v

    @field_validator("chunk_s")
    @classmethod
    def _finite_chunk(cls, v: float) -> float:
        _finite(v)
        return v
