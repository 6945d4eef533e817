"""Reading the hub's provisioning file into a device's `mqtt` section (see contract/provisioning.py).

The file must have been issued for this very device (kind, district, commune and id all match): a box given a
receiver's file, or another box's, refuses to start rather than connect under someone else's account.
"""

from __future__ import annotations

from pathlib import Path

from contract import provisioning
from contract.configfile import ConfigError
from device_runtime.config import MqttSection

FILLED = ("host", "port", "username", "password", "client_id", "tls_ca_pem")


def apply_provisioning(
    mqtt: MqttSection, base_dir: Path, kind: str, district: str, commune: str, slug: str
) -> MqttSection:
    """`mqtt` with the provisioning file's values for the keys it leaves unset; unchanged without a file."""
    if mqtt.provisioning is None:
        return mqtt
    path = mqtt.provisioning if mqtt.provisioning.is_absolute() else base_dir / mqtt.provisioning
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read the provisioning file: {exc.strerror or exc}"]) from None
    p = provisioning.parse(text, str(path))
    d = p.device
    want = (kind, district, commune, slug)
    if (d.kind, d.district, d.commune, d.id) != want:
        raise ConfigError(
            str(path),
            [
                f"issued for {d.kind} {d.district}/{d.commune}/{d.id}, but this config is "
                f"{kind} {district}/{commune}/{slug}: ask the hub's administrator for this device's file"
            ],
        )
    given = p.mqtt.model_dump()
    update = {k: given[k] for k in FILLED if k not in mqtt.model_fields_set and given[k] is not None}
    return MqttSection.model_validate({**mqtt.model_dump(exclude_unset=True), **update})
