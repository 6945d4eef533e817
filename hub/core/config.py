"""Hub configuration (YAML, validated; unknown keys are errors). See config/hub.example.yaml."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import Field, field_validator, model_validator

from contract.configfile import StrictModel, load
from hub.core.config_mqtt import BrokerConfig, MqttConfig, QuotaConfig, read_secret

_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


class InfluxRetention(StrictModel):
    """How long InfluxDB keeps each resolution (docs/INFLUX.md "Retention and downsampling"). The hub creates
    the retention policies (1.x) or buckets (2.x) and the downsampling at start, and changes their horizons
    when these change."""

    manage: bool = Field(
        default=True,
        description="Create/alter retention policies (1.x) or buckets (2.x) and the downsampling at start; "
        "false leaves InfluxDB's layout to whoever runs it (points then go to retention_policy / bucket)",
    )
    raw_days: int = Field(default=7, ge=1, le=3650, description="Raw points (one per probe / message)")
    m5_days: int = Field(default=30, ge=1, le=3650, description="5-minute aggregates")
    h1_days: int = Field(default=400, ge=1, le=3650, description="1-hour aggregates")

    @model_validator(mode="after")
    def _ordered(self) -> InfluxRetention:
        # A coarser series that expired before the finer one it is built from would leave a hole in long views.
        if not self.raw_days <= self.m5_days <= self.h1_days:
            raise ValueError("need raw_days <= m5_days <= h1_days")
        return self


class InfluxConfig(StrictModel):
    enabled: bool = True
    url: str = Field(default="http://127.0.0.1:8086", description="Base URL of InfluxDB")
    api: Literal["v1", "v2"] = Field(
        default="v1",
        description="v1: HTTP /write (InfluxDB 1.x, Debian); v2: influxdb-client WriteApi (2.x/3.x)",
    )
    database: str = Field(default="ops", description="v1 database (created at start if missing)")
    retention_policy: str | None = Field(
        default=None, description="v1: where raw points go when retention.manage is false"
    )
    retention: InfluxRetention = Field(default_factory=InfluxRetention)
    username: str | None = None
    password: str | None = None
    token: str | None = Field(default=None, description="v2 API token (prefer token_file)")
    token_file: Path | None = Field(
        default=None, description="File holding the v2 token the hub writes with (a write-only one)"
    )
    read_token_file: Path | None = Field(
        default=None, description="File holding a read-only v2 token for the charts; default: the write token"
    )
    org: str | None = Field(default=None, description="v2 organisation")
    bucket: str | None = Field(default=None, description="v2 bucket")
    batch_size: int = Field(default=5000, ge=1, le=100_000)
    flush_interval_s: float = Field(default=1.0, gt=0, le=60)
    buffer_max_points: int = Field(
        default=500_000,
        ge=1000,
        description="Points kept in memory; beyond them, or while InfluxDB is down, "
        "points go to the spill file",
    )
    spill_path: Path | None = Field(
        default=None,
        description="Crash-safe file for points InfluxDB cannot take yet (default {data_dir}/influx-spill.db)",
    )
    spill_max_bytes: int = Field(
        default=2 * 1024**3,
        ge=1024**2,
        description="Bound of the spill file; beyond it the oldest points are dropped (counted: influx_dropped)",
    )
    timeout_s: float = Field(default=10.0, gt=0, le=120)

    @model_validator(mode="after")
    def _v2_needs(self) -> InfluxConfig:
        if self.token is not None and self.token_file is not None:
            raise ValueError("give token or token_file, not both")
        if self.enabled and self.api == "v2":
            missing = [n for n in ("org", "bucket") if not getattr(self, n)]
            if not (self.token or self.token_file):
                missing.insert(0, "token (or token_file)")
            if missing:
                raise ValueError(f"api v2 needs {', '.join(missing)}")
        if self.retention.manage and self.retention_policy is not None:
            raise ValueError(
                "retention_policy is for retention.manage: false; the managed layout writes into 'raw'"
            )
        return self

    def write_token(self) -> str | None:
        """The token for writes, read from token_file at start when given so."""
        return read_secret(self.token_file) if self.token_file is not None else self.token

    def read_token(self) -> str | None:
        return read_secret(self.read_token_file) if self.read_token_file is not None else self.write_token()


class DatabaseConfig(StrictModel):
    url: str = Field(
        default="sqlite:///.run/hub.db",
        description="SQLAlchemy URL: sqlite:///path or postgresql+psycopg://…",
    )
    auto_upgrade: bool = Field(
        default=False,
        description="Apply schema migrations at start. Off: a hub whose database is behind the code refuses to "
        "start and names `python -m hub db upgrade` (an upgrade is a step taken after a backup, while no older "
        "hub still uses the database). The demo and docker-compose turn it on.",
    )


class HttpConfig(StrictModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    public_url: str = Field(
        default="http://127.0.0.1:8080", description="Base URL used in links sent to people"
    )
    secure_cookies: bool = Field(
        default=True,
        description="Set Secure on cookies (served over HTTPS); false only for a plain-HTTP demo",
    )
    session_hours: float = Field(default=12, gt=0, le=24 * 30)
    wall_tiles_max: int = Field(
        default=1000,
        ge=0,
        description="The camera wall shows every camera's tile when the viewer's scope holds at most this many; "
        "above, it starts from the counts per commune and opens one commune at a time",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Addresses or networks of reverse proxies in front of the hub: their X-Forwarded-For "
        "gives the client address (login limits, audit); from anyone else the header is ignored",
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
    quotas: QuotaConfig = Field(default_factory=QuotaConfig)
    stall_after_s: float = Field(
        default=30,
        gt=0,
        le=3600,
        description="Messages waiting but none applied for this long: /readyz says degraded (ingest_stalled)",
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


class SnapshotConfig(StrictModel):
    """Camera snapshots on disk (hub/core/snapshots.py): a bounded history per camera."""

    dir: Path | None = Field(
        default=None, description="Where the JPEG files go (default <data_dir>/snapshots)"
    )
    keep_last: int = Field(default=5, ge=2, le=1000, description="The newest snapshots kept per camera")
    hourly_hours: int = Field(
        default=24, ge=0, le=24 * 31, description="Plus the newest of each hour for this many hours"
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
        description="Messages the hub's session (each partition's, with several hubs) may have unacknowledged: "
        "a message is acknowledged once its SQL effects are committed and its points are in InfluxDB or the "
        "spill file",
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
    broker: BrokerConfig = Field(default_factory=BrokerConfig)
    snapshots: SnapshotConfig = Field(default_factory=SnapshotConfig)
    orders: OrdersConfig = Field(default_factory=OrdersConfig)
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

    @property
    def snapshot_dir(self) -> Path:
        return self.snapshots.dir if self.snapshots.dir is not None else self.data_dir / "snapshots"

    @property
    def influx_spill_path(self) -> Path:
        return (
            self.influx.spill_path
            if self.influx.spill_path is not None
            else self.data_dir / "influx-spill.db"
        )


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
