"""The provisioning file: what the hub gives a new edge box or loudspeaker receiver so it can connect.

One YAML file (also shown as a QR code on the admin page) holding the broker's address, the device's own
account (name, password, client id) and the CA certificate that signed the broker's. The device's config points
at it (`mqtt.provisioning: FILE`); what the file holds fills the `mqtt` keys the config leaves unset. It holds a
password: keep it 0600 on the device and nowhere else (the hub keeps no copy).
"""

from __future__ import annotations

from typing import Literal

import yaml
from pydantic import Field

from contract.configfile import StrictModel, parse_text
from contract.topics import SLUG_RE

FORMAT: Literal[1] = 1


class ProvisionedDevice(StrictModel):
    kind: Literal["edge", "speaker", "hub"]
    id: str = Field(pattern=SLUG_RE.pattern, max_length=64)
    district: str | None = Field(default=None, pattern=SLUG_RE.pattern, max_length=64)
    commune: str | None = Field(default=None, pattern=SLUG_RE.pattern, max_length=64)


class ProvisionedMqtt(StrictModel):
    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    username: str = Field(min_length=1, max_length=256)
    password: str = Field(min_length=16)
    client_id: str = Field(min_length=1, max_length=256)
    tls_ca_pem: str | None = Field(
        default=None, description="PEM of the CA; absent: plain MQTT (loopback only)"
    )


class ProvisioningFile(StrictModel):
    provisioning: Literal[1] = FORMAT
    issued_at: str = Field(description="UTC, ISO 8601")
    device: ProvisionedDevice
    mqtt: ProvisionedMqtt
    hub_public_key: str | None = Field(
        default=None, description="The hub's public key for signed orders (filled once the hub signs them)"
    )


def render(p: ProvisioningFile) -> str:
    """The file's text: a short header, then the YAML (kept small: it also travels as a QR code)."""
    d = p.device
    where = f" {d.district}/{d.commune}" if d.district else ""
    head = f"# commune-ops provisioning: {d.kind} {d.id}{where}. Secret (broker password): keep it 0600.\n"
    body = yaml.safe_dump(p.model_dump(mode="json"), sort_keys=False, allow_unicode=True, width=200)
    return head + body


def parse(text: str, source: str = "<provisioning>") -> ProvisioningFile:
    """Raises contract.configfile.ConfigError naming the file, line and key."""
    return parse_text(ProvisioningFile, text, source)
