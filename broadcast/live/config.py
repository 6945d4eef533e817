"""The `broadcast.live` settings: the hub's Snapcast server and the limits of a live session."""

from __future__ import annotations

from pydantic import Field

from contract.configfile import StrictModel


class LiveConfig(StrictModel):
    enabled: bool = Field(default=False, description="Run the live engine (snapserver) with the hub")
    stream_host: str = Field(
        default="127.0.0.1",
        min_length=1,
        max_length=253,
        description="Host receivers reach the hub's Snapcast server at (a host of their hub.allowed_urls)",
    )
    stream_port: int = Field(default=1704, ge=1, le=65535, description="Snapcast stream port")
    control_port: int = Field(default=1705, ge=1, le=65535, description="Snapcast JSON-RPC port (loopback)")
    bind: str = Field(default="0.0.0.0", min_length=1, max_length=253, description="Stream port's address")
    buffer_ms: int = Field(
        default=1000, ge=300, le=5000, description="Snapcast buffer: the delay every speaker keeps in step"
    )
    codec: str = Field(default="opus", pattern="^(opus|flac|pcm)$", description="Codec on the wire")
    grace_s: float = Field(default=10, ge=2, le=120, description="Phone silent this long: the session ends")
    max_duration_s: float = Field(default=1800, ge=60, le=4 * 3600, description="Longest live session")
    max_chunk_kb: int = Field(default=512, ge=16, le=8192, description="Largest MediaRecorder chunk accepted")
