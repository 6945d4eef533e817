"""Hub configuration (YAML, validated; unknown keys are errors). See config/hub.example.yaml."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import Field, field_validator, model_validator

from contract.configfile import StrictModel, load

_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


class MqttConfig(StrictModel):
    host: str = Field(default="127.0.0.1", description="Broker host")
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    client_id: str = Field(
        default="hub",
        min_length=1,
        max_length=64,
        description="The hub's client id; with cluster.enabled, the prefix of every hub's session ids "
        "({client_id}-p-{partition}, {client_id}-h-{hub_id}), the same on every hub",
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
        description="Addresses (or networks) of reverse proxies whose X-Forwarded-For names the client "
        "(the login limit counts that address); from anyone else the header is ignored",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        for item in v:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(f"{item!r} is not an IP address or network") from exc
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


class ClusterConfig(StrictModel):
    """Several hub processes on one PostgreSQL database (docs/OPERATIONS.md "Several hubs")."""

    enabled: bool = Field(
        default=False, description="Several hubs share the device traffic and the work; needs PostgreSQL"
    )
    hub_id: str | None = Field(
        default=None,
        description="This hub's name, unique among the hubs (a slug); required when enabled",
    )
    partitions: list[str] | dict[str, list[str]] | None = Field(
        default=None,
        description="How the device traffic is split: a list of district slugs (one partition each), or "
        "partition name → its districts; default: one partition per district of `districts`",
    )
    lease_ttl_s: float = Field(
        default=10.0, ge=1, le=300, description="A dead hub's partitions and duties move after this long"
    )
    lease_renew_s: float = Field(default=3.0, gt=0, le=100, description="How often leases are renewed")
    receive_max: int = Field(
        default=10_000,
        ge=100,
        le=65_535,
        description="Messages a partition's session may have unacknowledged (acknowledged after each SQL flush)",
    )
    mirror_s: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="How often the state of partitions held by other hubs is re-read from SQL (alert facts)",
    )

    @model_validator(mode="after")
    def _check(self) -> ClusterConfig:
        if self.lease_renew_s * 2 > self.lease_ttl_s:
            raise ValueError("lease_renew_s must be at most half of lease_ttl_s")
        if self.enabled and not self.hub_id:
            raise ValueError("hub_id is required when the cluster is enabled")
        if self.hub_id is not None and not _SLUG.fullmatch(self.hub_id):
            raise ValueError(f"hub_id {self.hub_id!r} is not a slug (lowercase letters, digits, '_' or '-')")
        groups = self.partitions.values() if isinstance(self.partitions, dict) else [self.partitions or []]
        names = list(self.partitions) if isinstance(self.partitions, dict) else list(self.partitions or [])
        seen: set[str] = set()
        for slug in [*names, *(d for g in groups for d in g)]:
            if not _SLUG.fullmatch(slug):
                raise ValueError(f"partition or district {slug!r} is not a slug")
        for districts in groups:
            for d in districts:
                if d in seen:
                    raise ValueError(f"district {d!r} is in two partitions")
                seen.add(d)
        return self


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
    districts: dict[str, DistrictConfig] = Field(default_factory=dict, description="district slug → names")
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)

    @model_validator(mode="after")
    def _cluster_needs_postgresql(self) -> CoreConfig:
        if self.cluster.enabled:
            if not self.database.url.startswith("postgresql"):
                raise ValueError(
                    "cluster.enabled needs PostgreSQL (database.url postgresql+psycopg://…): several hubs "
                    "cannot share SQLite, which stays the one-process default"
                )
            if not partition_map(self):
                raise ValueError("cluster.enabled needs cluster.partitions or the districts they default to")
        return self


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


def partition_map(config: CoreConfig) -> dict[str, tuple[str, ...]]:
    """Partition name → its district slugs (cluster.partitions, else one partition per configured district)."""
    parts = config.cluster.partitions
    if isinstance(parts, dict):
        return {name: tuple(ds) for name, ds in sorted(parts.items())}
    names = parts if parts is not None else list(config.districts)
    return {d: (d,) for d in sorted(names)}
