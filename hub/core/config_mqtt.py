"""The hub's MQTT-side configuration: its broker connection, the per-device quotas, the broker accounts it
drives, and the secret files (passwords, tokens) those and other sections name. Part of `CoreConfig`
(hub/core/config.py)."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from contract.configfile import StrictModel


class MqttConfig(StrictModel):
    host: str = Field(default="127.0.0.1", description="Broker host")
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password: str | None = Field(default=None, description="Prefer password_file: a file holding only it")
    password_file: Path | None = Field(
        default=None,
        description="File whose first line is the password (0600; written by `hub device add hub`)",
    )
    client_id: str = Field(
        default="hub",
        min_length=1,
        max_length=64,
        description="The hub's client id (and broker account); with cluster.enabled, the prefix of every "
        "hub's session ids ({client_id}-p-{partition}, {client_id}-h-{hub_id}), the same on every hub",
    )
    tls_ca_file: Path | None = Field(
        default=None, description="CA certificate that signed the broker's: set it to connect over TLS"
    )
    tls_cert_file: Path | None = Field(default=None, description="Client certificate, for mutual TLS")
    tls_key_file: Path | None = Field(default=None, description="Its private key")
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
        if self.password is not None and self.password_file is not None:
            raise ValueError("give password or password_file, not both")
        if (self.username is None) != (self.password is None and self.password_file is None):
            raise ValueError("username and password (or password_file) must be given together")
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file must be given together")
        if self.tls_cert_file is not None and self.tls_ca_file is None:
            raise ValueError("a client certificate needs tls_ca_file (TLS)")
        return self

    def ssl_context(self) -> ssl.SSLContext | None:
        """TLS towards the broker (its certificate and host name checked against tls_ca_file), or None."""
        if self.tls_ca_file is None:
            return None
        ctx = ssl.create_default_context(cafile=str(self.tls_ca_file))
        if self.tls_cert_file is not None and self.tls_key_file is not None:
            ctx.load_cert_chain(str(self.tls_cert_file), str(self.tls_key_file))
        return ctx

    def secret(self) -> str | None:
        """The password, read from password_file when that is how it is given (at connect time, so the file
        may be written after the config was checked)."""
        if self.password_file is None:
            return self.password
        return read_secret(self.password_file)


class SecretFileError(ValueError):
    """A secret file (password, token) that cannot be read or is empty."""


def read_secret(path: Path) -> str:
    """First line of a secret file; a missing or empty file is an error that names it."""
    try:
        with path.open(encoding="utf-8") as fh:
            value = fh.readline().rstrip("\r\n")
    except OSError as exc:
        raise SecretFileError(f"cannot read the secret file {path}: {exc.strerror or exc}") from None
    if not value:
        raise SecretFileError(f"the secret file {path} is empty")
    return value


class QuotaConfig(StrictModel):
    """Limits per device, counted by the hub over one-minute windows (0: no limit). A camera's messages count for
    the edge box it belongs to. What goes over is dropped and counted in the stats (`rejected`, by reason)."""

    messages_per_min: int = Field(
        default=6000, ge=0, description="Messages of one device (box + its cameras)"
    )
    snapshot_bytes_per_min: int = Field(
        default=64 * 1024 * 1024, ge=0, description="Snapshot bytes of one edge box's cameras"
    )
    cameras_per_box: int = Field(
        default=500, ge=0, description="Cameras one edge box may report (inventory and health)"
    )


class BrokerConfig(StrictModel):
    """Broker accounts from the device registry (`python -m hub device …`, the admin devices page)."""

    accounts: Literal["none", "dynsec"] = Field(
        default="none",
        description="none: the broker's accounts are kept elsewhere; dynsec: Mosquitto's dynamic-security "
        "plugin, driven by the hub",
    )
    admin_username: str = Field(default="hub-admin", min_length=1, max_length=64)
    admin_password_file: Path | None = Field(
        default=None, description="Default: {data_dir}/secrets/broker-admin.password (`hub broker init`)"
    )
    public_host: str | None = Field(
        default=None, description="Broker address written into provisioning files; default mqtt.host"
    )
    public_port: int | None = Field(
        default=None, ge=1, le=65535, description="Its port (the TLS listener); default mqtt.port"
    )
    ca_file: Path | None = Field(
        default=None, description="CA certificate given to devices; default {data_dir}/ca/ca.crt"
    )
    dynsec_file: Path | None = Field(
        default=None, description="Where `hub broker init` writes the plugin's first file"
    )
