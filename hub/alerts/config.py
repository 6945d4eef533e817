"""The `alerts:` section of the hub configuration: rule settings per fact kind (the defaults that districts may
override through the web/API) and how often the engine evaluates.

Default latency budget for a camera that goes dark (docs/ALERTS.md): the agent's next probe (≤ 30 s) + its
re-check after `probe.recheck_s` (10 s) + one evaluation tick (2 s) + `group_wait_s` (10 s) + delivery.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from contract.configfile import StrictModel
from contract.topics import is_slug
from hub.core.config import CoreConfig, feature_section
from hub.core.facts import FactKind, Severity


class RuleSettings(StrictModel):
    """How one kind of fact becomes an alert and when it is told. Every duration is in seconds."""

    enabled: bool = Field(default=True, description="false: this kind never alerts (facts are ignored)")
    severity: Severity = Severity.WARNING
    for_s: float = Field(
        default=0, ge=0, le=7 * 86400, description="Pending: the condition must hold this long"
    )
    clear_s: float = Field(
        default=60, ge=0, le=7 * 86400, description="Hysteresis: the condition must stay away this long"
    )
    flap_count: int = Field(
        default=3,
        ge=2,
        le=100,
        description="Firing this many times within flap_window_s marks the alert flapping",
    )
    flap_window_s: float = Field(default=1800, gt=0, le=7 * 86400)
    flap_clear_s: float = Field(
        default=900, ge=0, le=7 * 86400, description="A flapping alert resolves only after this long away"
    )
    repeat_s: float = Field(
        default=4 * 3600, ge=60, le=30 * 86400, description="Repeat an unacknowledged firing group this often"
    )
    group_wait_s: float = Field(
        default=10, ge=0, le=3600, description="Wait after a group's first alert for others to join it"
    )
    group_interval_s: float = Field(
        default=60,
        ge=0,
        le=86400,
        description="Least time between two notices of one group (changes batched)",
    )
    threshold: float | None = Field(
        default=None,
        ge=0,
        description="agent_backlog: queued messages at or above; agent_disk_low: free MB below; "
        "recorder_footage_short: days of footage kept below",
    )


# Only what differs from RuleSettings' own defaults; see docs/ALERTS.md for the reasoning behind each.
_DEFAULTS: dict[FactKind, dict[str, Any]] = {
    # The agent re-checks a failed camera before reporting it: the hub adds no pending time of its own.
    FactKind.CAMERA_OFFLINE: {"severity": Severity.WARNING, "for_s": 0, "clear_s": 60},
    # Picture problems are confirmed over several probes by the agent; a minute more keeps a passing truck quiet.
    FactKind.CAMERA_PROBLEM: {"for_s": 60, "clear_s": 120, "repeat_s": 12 * 3600},
    # An agent restarting for an update says offline and is back within seconds.
    FactKind.AGENT_OFFLINE: {"severity": Severity.CRITICAL, "for_s": 30, "clear_s": 60},
    FactKind.AGENT_BACKLOG: {"for_s": 300, "clear_s": 300, "threshold": 500, "repeat_s": 12 * 3600},
    FactKind.AGENT_DISK_LOW: {"for_s": 300, "clear_s": 600, "threshold": 500, "repeat_s": 24 * 3600},
    FactKind.SPEAKER_OFFLINE: {"for_s": 120, "clear_s": 120},
    # Receivers report every 30 s: the pending times span a few reports, so one odd reading is not told.
    # Thresholds for these live in broadcast.speaker_alerts (the broadcast feature decides what holds).
    FactKind.SPEAKER_AMPLIFIER: {"severity": Severity.CRITICAL, "for_s": 60, "clear_s": 120},
    FactKind.SPEAKER_SIGNAL_WEAK: {"for_s": 600, "clear_s": 600, "repeat_s": 24 * 3600},
    FactKind.SPEAKER_DISK_LOW: {"for_s": 300, "clear_s": 600, "repeat_s": 24 * 3600},
    FactKind.SPEAKER_CONTENT_MISSING: {"for_s": 0, "clear_s": 0},
    FactKind.SPEAKER_LEVEL_LOW: {"for_s": 0, "clear_s": 60},
    FactKind.SPEAKER_CLOCK_OFF: {"for_s": 120, "clear_s": 300, "repeat_s": 12 * 3600},
    # The relay already waited broadcast.relay.gap_after_s: told at once, and a short return does not resolve it.
    FactKind.RELAY_UPSTREAM_LOST: {"for_s": 0, "clear_s": 30},
    FactKind.BROADCAST_FAILED: {"severity": Severity.CRITICAL, "for_s": 0, "clear_s": 0},
    FactKind.BROADCAST_PARTIAL: {"for_s": 0, "clear_s": 0},
    FactKind.CHANNEL_FAILING: {"severity": Severity.CRITICAL, "for_s": 0, "clear_s": 120},
    # Recorders are looked at every few minutes (the box's `interval_s`, 300 s): one look is already a fact;
    # hysteresis spans two looks so a recorder rebooting between them does not resolve and fire again.
    FactKind.RECORDER_OFFLINE: {"for_s": 300, "clear_s": 600},
    FactKind.RECORDER_DISK_FAILED: {
        "severity": Severity.CRITICAL,
        "for_s": 0,
        "clear_s": 600,
        "repeat_s": 24 * 3600,
    },
    FactKind.RECORDER_NOT_RECORDING: {
        "severity": Severity.CRITICAL,
        "for_s": 0,
        "clear_s": 600,
        "repeat_s": 12 * 3600,
    },
    # threshold: days of footage kept below which it alerts (footage_min_days below sets it per commune).
    FactKind.RECORDER_FOOTAGE_SHORT: {"for_s": 0, "clear_s": 3600, "threshold": 15, "repeat_s": 24 * 3600},
}


def default_rules() -> dict[FactKind, RuleSettings]:
    return {k: RuleSettings(**_DEFAULTS.get(k, {})) for k in FactKind}


class AlertsConfig(StrictModel):
    enabled: bool = Field(default=True, description="false: no alerts are evaluated (pages stay readable)")
    eval_interval_s: float = Field(default=2.0, gt=0, le=60, description="How often the rules are evaluated")
    startup_grace_s: float = Field(
        default=60,
        ge=0,
        le=3600,
        description="After a hub start nothing resolves for this long (agents re-announce themselves first)",
    )
    resolved_keep_days: float = Field(
        default=30, gt=0, le=3650, description="Resolved alerts are listed this long, then deleted"
    )
    footage_min_days: dict[str, float] = Field(
        default_factory=dict,
        description="Per commune ('district/commune'): days of footage a recorder must keep; "
        "others use recorder_footage_short.threshold",
    )
    rules: dict[FactKind, RuleSettings] = Field(
        default_factory=default_rules,
        description="Per kind; keys given for a kind change only those keys of its defaults",
    )

    @model_validator(mode="before")
    @classmethod
    def _merge_kind_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("rules"), dict):
            merged: dict[Any, Any] = {}
            for kind, given in data["rules"].items():
                base = _DEFAULTS.get(kind, {})  # StrEnum keys match their string values
                merged[kind] = {**base, **given} if isinstance(given, dict) else given
            data = {**data, "rules": merged}
        return data

    @field_validator("footage_min_days")
    @classmethod
    def _commune_keys(cls, v: dict[str, float]) -> dict[str, float]:
        for key, days in v.items():
            parts = key.split("/")
            if len(parts) != 2 or not all(is_slug(x) for x in parts):
                raise ValueError(f"{key!r}: keys are 'district/commune' codes")
            if not 0 < days <= 3650:
                raise ValueError(f"{key}: days must be between 0 and 3650, not {days}")
        return v

    def footage_days(self, district: str, commune: str, district_threshold: float | None) -> float | None:
        """Days of footage a recorder of this commune must keep."""
        return self.footage_min_days.get(f"{district}/{commune}", district_threshold)

    @model_validator(mode="after")
    def _every_kind(self) -> AlertsConfig:
        defaults = default_rules()
        for kind in FactKind:
            self.rules.setdefault(kind, defaults[kind])
        return self


def effective(base: RuleSettings, override: dict[str, Any] | None) -> RuleSettings:
    """A district's settings: the configured ones with the district's changes on top (validated again)."""
    if not override:
        return base
    return RuleSettings.model_validate({**base.model_dump(), **override})


def alerts_settings(config: CoreConfig) -> AlertsConfig:
    """The `alerts` section of the hub config."""
    return feature_section(config, "alerts", AlertsConfig)
