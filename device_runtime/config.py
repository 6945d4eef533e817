"""Config sections every device agent has: the MQTT broker and the outbox (YAML keys `mqtt:` and `outbox:`)."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Annotated

from pydantic import Field, model_validator

from contract.configfile import ConfigError, StrictModel
from contract.orders import load_public_key

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)]

# The key the device checks every order against (contract/orders.py). Without it the device obeys nobody.
HubPublicKey = Annotated[
    str | None,
    Field(
        default=None,
        max_length=4000,
        description="The hub's order-signing public key: a PEM file (relative to this config; the hub writes "
        "it as data_dir/keys/orders_ed25519.pub) or the PEM text itself. Unset: every order is refused",
    ),
]


def check_hub_key(value: str | None, config_path: str | Path) -> None:
    """Refuses (ConfigError naming `hub_public_key`) a configured key that cannot be read or is not Ed25519."""
    if value is None:
        return
    try:
        load_public_key(value, Path(config_path).parent)
    except ValueError as exc:
        raise ConfigError(str(config_path), [f"hub_public_key: {exc}"]) from None


class MqttSection(StrictModel):
    provisioning: Path | None = Field(
        default=None,
        description="The file the hub issued for this device (broker address, account, CA certificate): what "
        "it holds fills the keys below that this section leaves unset",
    )
    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    client_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description="Default: edge-{agent.id} (edge agent), speaker-{receiver.id} (receiver); a provisioned "
        "account's client id is bound to it",
    )
    tls_ca_file: Path | None = Field(
        default=None, description="CA certificate that signed the broker's: set it (or tls_ca_pem) for TLS"
    )
    tls_ca_pem: str | None = Field(
        default=None, description="The same certificate inline (provisioning files)"
    )
    tls_cert_file: Path | None = Field(default=None, description="Client certificate, for mutual TLS")
    tls_key_file: Path | None = Field(default=None, description="Its private key")
    keepalive: int = Field(default=30, ge=5, le=600)
    connect_timeout_s: float = Field(default=5.0, gt=0, le=60)
    backoff_min_s: float = Field(default=1.0, gt=0, le=60, description="First reconnect delay")
    backoff_max_s: float = Field(default=60.0, gt=0, le=3600, description="Longest reconnect delay")

    @model_validator(mode="after")
    def _consistent(self) -> MqttSection:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password must be given together")
        if self.backoff_max_s < self.backoff_min_s:
            raise ValueError("backoff_max_s must not be smaller than backoff_min_s")
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file must be given together")
        if self.tls_cert_file is not None and not self.tls:
            raise ValueError("a client certificate needs TLS: set tls_ca_file or tls_ca_pem")
        return self

    @property
    def tls(self) -> bool:
        return self.tls_ca_file is not None or self.tls_ca_pem is not None

    def https_context(self) -> ssl.SSLContext | None:
        """For HTTPS to the hub (media downloads): the system's trusted CAs plus the deployment's CA, so a web
        certificate from either (ACME or `python -m hub ca`) is accepted; None when there is no deployment CA."""
        if not self.tls:
            return None
        ctx = ssl.create_default_context()
        if self.tls_ca_file is not None:
            ctx.load_verify_locations(cafile=str(self.tls_ca_file))
        if self.tls_ca_pem is not None:
            ctx.load_verify_locations(cadata=self.tls_ca_pem)
        return ctx

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS settings of the connection (the broker's certificate checked against the CA, host name
        included), or None for plain MQTT."""
        if not self.tls:
            return None
        ctx = ssl.create_default_context(
            cafile=str(self.tls_ca_file) if self.tls_ca_file else None, cadata=self.tls_ca_pem
        )
        if self.tls_cert_file is not None and self.tls_key_file is not None:
            ctx.load_cert_chain(str(self.tls_cert_file), str(self.tls_key_file))
        return ctx

    def secrets(self) -> list[str]:
        """The broker password, when there is one, for the logs to scrub."""
        return [self.password] if self.password else []


class OutboxSection(StrictModel):
    path: Path | None = Field(
        default=None,
        description="SQLite file of the crash-safe disk queue; unset: in memory, lost on a crash or power cut",
    )
    max_messages: int = Field(
        default=5000, ge=10, le=10_000_000, description="Messages kept while the broker is unreachable"
    )
    max_bytes: int = Field(default=32 * 1024 * 1024, ge=64 * 1024, le=1 << 40)
    min_free_mb: int = Field(
        default=16,
        ge=0,
        le=1 << 20,
        description="Free space kept on the queue's disk: below it the oldest unsent messages are dropped (and "
        "reported as a gap) so that new ones can still be written; 0: no floor",
    )
