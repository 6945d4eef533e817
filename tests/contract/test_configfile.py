"""Config files: unknown keys, wrong types and env secrets give errors naming the file, line and key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract.configfile import ConfigError, load, parse_text
from hub.compose import HubConfig


def test_errors_name_line_and_path() -> None:
    text = "mqtt:\n  host: broker\n  port: 70000\n  colour: blue\nhttp:\n  port: abc\n"
    with pytest.raises(ConfigError) as err:
        parse_text(HubConfig, text, "hub.yaml")
    msg = str(err.value)
    assert "hub.yaml" in msg
    assert "line 3: mqtt.port" in msg
    assert "line 4: mqtt.colour: Extra inputs are not permitted" in msg
    assert "line 6: http.port" in msg


def test_env_substitution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MQTT_PASS", "s3cret")
    cfg = parse_text(
        HubConfig, "mqtt:\n  username: hub\n  password: ${MQTT_PASS}\n  host: ${MQTT_HOST:-mq}\n"
    )
    assert cfg.mqtt.password == "s3cret"
    assert cfg.mqtt.host == "mq"


def test_missing_env_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_VAR", raising=False)
    with pytest.raises(ConfigError, match="NO_SUCH_VAR is not set"):
        parse_text(HubConfig, "mqtt:\n  host: ${NO_SUCH_VAR}\n")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("mqtt: [1, 2\n", "not valid YAML"),
        ("- a\n- b\n", "mapping"),
        ("influx:\n  api: v2\n", "token"),
        ("mqtt:\n  username: only\n", "together"),
    ],
)
def test_structural_errors(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        parse_text(HubConfig, text)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load(HubConfig, tmp_path / "missing.yaml")


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    p = tmp_path / "hub.yaml"
    p.write_text("")
    assert load(HubConfig, p).mqtt.port == 1883
