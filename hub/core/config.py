"""Hub configuration (YAML, validated; unknown keys are errors). See config/hub.example.yaml."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import Field, field_validator, model_validator

from contract.configfile import StrictModel, load


class MqttConfig(StrictModel):
    host: str = Field(default="127.0.0.1", description="Broker host")
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    client_id: str = Field(default="hub", min_length=1, max_length=64)
    shared_group: str | None = Field(
        default=None, description="MQTT 5 shared-subscription group, when several hub workers split the load"
    )
    keepalive: int = Field(default=30, ge=5, le=600)
    qos: Literal[0, 1] = 1
    session_expiry_s: int = Field(
        default=3600,
        ge=0,
        le=7 * 24 * 3600,
        description="How long the broker keeps the hub's session (and queues its QoS 1 messages) while the hub "
        "is away; 0 starts afresh on every connect",
    )

    @model_validator(mode="after")
    def _auth_pair(self) -> MqttConfig:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password must be given together")
        return self


class InfluxConfig(StrictModel):
    enabled: bool = True
    url: str = Field(default="http://127.0.0.1:8086", description="Base URL of InfluxDB")
    api: Literal["v1", "v2"] = Field(
        default="v1",
        description="v1: HTTP /write (InfluxDB 1.x, Debian); v2: influxdb-client WriteApi (2.x/3.x)",
    )
    database: str = Field(default="ops", description="v1 database (created at start if missing)")
    retention_policy: str | None = None
    username: str | None = None
    password: str | None = None
    token: str | None = Field(default=None, description="v2 API token")
    org: str | None = Field(default=None, description="v2 organisation")
    bucket: str | None = Field(default=None, description="v2 bucket")
    batch_size: int = Field(default=5000, ge=1, le=100_000)
    flush_interval_s: float = Field(default=1.0, gt=0, le=60)
    buffer_max_points: int = Field(default=500_000, ge=1000, description="Points kept while InfluxDB is down")
    timeout_s: float = Field(default=10.0, gt=0, le=120)

    @model_validator(mode="after")
    def _v2_needs(self) -> InfluxConfig:
        if self.enabled and self.api == "v2":
            missing = [n for n in ("token", "org", "bucket") if not getattr(self, n)]
            if missing:
                raise ValueError(f"api v2 needs {', '.join(missing)}")
        return self


class DatabaseConfig(StrictModel):
    url: str = Field(
        default="sqlite:///.run/hub.db",
        description="SQLAlchemy URL: sqlite:///path or postgresql+psycopg://…",
    )


class HttpConfig(StrictModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    public_url: str = Field(
        default="http://127.0.0.1:8080", description="Base URL used in links sent to people"
    )
    secure_cookies: bool = Field(default=False, description="Set Secure on cookies (when served over HTTPS)")
    session_hours: float = Field(default=12, gt=0, le=24 * 30)
    trusted_proxies: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Addresses or networks of reverse proxies in front of the hub: their X-Forwarded-For "
        "gives the client address (login limits, audit). Empty: the TCP peer is the client",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        for item in v:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(f"{item!r} is not an address or network: {exc}") from None
        return v


class IngestConfig(StrictModel):
    stale_after_s: float = Field(
        default=180, gt=0, description="A camera whose agent has not reported for this long is marked stale"
    )
    state_flush_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="How often live metrics are written to SQL (what the API shows lags by up to this)",
    )
    queue_max: int = Field(
        default=100_000, ge=100, description="Messages waiting between MQTT and the ingest task"
    )
    legacy_reports: bool = Field(
        default=False,
        description="Also accept camera reports that name no box, or a box that never sent its own status, "
        "registering the camera (and that box) where the topic says. Only for boxes older than contract "
        "v1's status message and for hand-made tests: anyone who can publish a camera topic can then "
        "invent cameras and boxes. Reports about a camera another box owns are refused either way",
    )
    max_future_s: float = Field(
        default=120,
        ge=0,
        le=3600,
        description="Device reports (health, snapshots) dated further ahead of the hub's clock are refused",
    )
    max_age_s: float = Field(
        default=30 * 86400,
        ge=3600,
        description="Device reports older than this are refused (a box's disk queue holds days, not months)",
    )


class OrdersConfig(StrictModel):
    """Signed orders to devices (docs/PROTOCOL.md, Signed orders)."""

    private_key: Path | None = Field(
        default=None,
        description="PEM file of the hub's Ed25519 order-signing key; unset: made at first start as "
        "data_dir/keys/orders_ed25519.pem (mode 0600), public key beside it (.pub)",
    )
    ttl_s: float = Field(
        default=300, ge=10, le=24 * 3600, description="An order not received by then is refused by the device"
    )


class DistrictConfig(StrictModel):
    name: str
    communes: dict[str, str] = Field(default_factory=dict, description="commune slug → display name")


class CoreConfig(StrictModel):
    """The core's settings. The hub's whole config model (hub/compose.py `HubConfig`) adds one section per
    feature, declared by the feature (`Feature.config_key`, `Feature.config_model`)."""

    data_dir: Path = Field(default=Path(".run/hub"), description="Where the hub keeps its files")
    timezone: str = "Asia/Ho_Chi_Minh"
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    influx: InfluxConfig = Field(default_factory=InfluxConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    http: HttpConfig = Field(default_factory=HttpConfig)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    orders: OrdersConfig = Field(default_factory=OrdersConfig)
    districts: dict[str, DistrictConfig] = Field(default_factory=dict, description="district slug → names")


C = TypeVar("C", bound=CoreConfig)
S = TypeVar("S", bound=StrictModel)


def feature_section(config: CoreConfig, key: str, model: type[S]) -> S:
    """A feature's section of the hub config (its defaults when the config model has no such section)."""
    value = getattr(config, key, None)
    if value is None:
        return model()
    if not isinstance(value, model):
        raise TypeError(f"config section {key!r} is a {type(value).__name__}, not {model.__name__}")
    return value


def load_config(path: str | Path, model: type[C]) -> C:
    return load(model, path)
