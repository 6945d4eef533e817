"""Payload of a recorder's (NVR/DVR) health, sent by the edge agent that watches it (contract v1).

Topic `ops/v1/{district}/{commune}/recorder/{recorder}/health`. The agent reads the recorder through the API
it speaks (Hikvision ISAPI today, docs/EDGE_AGENT.md "Recorders") and reports it in these terms, whatever
the vendor: each disk with a normalised state, each channel with whether it records now, and the oldest
recording found (how many days of footage are kept).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from contract.payloads import Model, Slug, Timestamp

# Vendors' words for a disk, normalised: ok (read-write, idle or sleeping), failed (error, S.M.A.R.T. failed,
# offline, mismatch …), unformatted, formatting, missing (declared but not found), other (a word we do not know:
# kept in `raw`).
DiskState = Literal["ok", "failed", "unformatted", "formatting", "missing", "other"]


class RecorderDisk(Model):
    id: str = Field(min_length=1, max_length=32, description="The recorder's own disk id ('1', 'hdd2' …)")
    state: DiskState
    raw: str | None = Field(default=None, max_length=64, description="The vendor's word for the state")
    capacity_mb: float | None = Field(default=None, ge=0)
    free_mb: float | None = Field(default=None, ge=0)


class RecorderChannel(Model):
    channel: int = Field(ge=1, le=1024, description="Input channel number on the recorder (1-based)")
    camera: Slug | None = Field(default=None, description="The camera this channel records, when configured")
    enabled: bool | None = Field(default=None, description="Recording is configured (a schedule is set)")
    recording: bool | None = Field(default=None, description="The recorder is writing this channel now")
    oldest_ts: Timestamp | None = Field(default=None, description="Start of the oldest recording kept")


class RecorderHealth(Model):
    """One look at a recorder. `online` false: it did not answer (`error` says why); the lists are then empty."""

    ts: Timestamp
    seq: int = Field(ge=0, description="Per agent boot, increases by 1 with every recorder message")
    agent: Slug | None = Field(default=None, description="Edge agent that looked")
    api: Literal["isapi", "dahua", "onvif"] = Field(description="Interface the recorder was read through")
    online: bool
    error: str | None = Field(default=None, max_length=500, description="Vietnamese, for people")
    name: str | None = Field(default=None, max_length=200, description="Display name ('Đầu ghi UBND xã')")
    disks: list[RecorderDisk] = Field(default_factory=list, max_length=64)
    channels: list[RecorderChannel] = Field(default_factory=list, max_length=256)
    oldest_ts: Timestamp | None = Field(
        default=None,
        description="Of the channels searched, the latest start of their oldest recording (the shortest history)",
    )
    days_kept: float | None = Field(
        default=None,
        ge=0,
        le=36500,
        description="(ts - oldest_ts) in days: footage kept on the worst channel",
    )

    @model_validator(mode="after")
    def _consistent(self) -> RecorderHealth:
        if not self.online and (self.disks or self.channels):
            raise ValueError("an offline recorder reports no disks or channels")
        seen: set[int] = set()
        for ch in self.channels:
            if ch.channel in seen:
                raise ValueError(f"channel {ch.channel} is listed twice")
            seen.add(ch.channel)
        return self
