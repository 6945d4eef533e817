"""Contract v1: topic grammar, payload validation, JSON Schema kept in docs/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contract import (
    MAX_JSON_BYTES,
    PAYLOADS,
    CameraHealth,
    Channel,
    ContractError,
    EdgeStatus,
    Kind,
    Problem,
    TopicError,
    build,
    decode,
    encode,
    parse,
)
from contract.schema import render, schemas
from contract.topics import CHANNELS, INBOUND, camera_health, hub_subscriptions

TS = 1_800_000_000.0
ROOT = Path(__file__).resolve().parents[2]


def test_topic_round_trip() -> None:
    t = camera_health("yen_dinh", "dinh_long", "cam-01")
    assert str(t) == "ops/v1/yen_dinh/dinh_long/camera/cam-01/health"
    assert parse(str(t)) == t
    assert not t.retained
    assert t.sibling(Channel.SNAPSHOT).retained


@pytest.mark.parametrize(
    "topic",
    [
        "ops/v1/yen_dinh/dinh_long/camera/cam-01",  # too short
        "ops/v2/yen_dinh/dinh_long/camera/cam-01/health",  # other version
        "ops/v1/Yen_Dinh/dinh_long/camera/cam-01/health",  # upper case
        "ops/v1/yen_dinh/dinh_long/camera/-cam/health",  # bad start
        "ops/v1/yen_dinh/dinh_long/camera/cam/status",  # channel not for cameras
        "ops/v1/yen_dinh/dinh_long/tivi/cam/health",  # unknown kind
        "ops/v1/yen_dinh/dinh_long/camera/cam/health/extra",
        "ops/v1/yen_dinh/dinh long/camera/cam/health",
        "ops/v1/yen_dinh/" + "a" * 65 + "/camera/cam/health",
    ],
)
def test_bad_topics_rejected(topic: str) -> None:
    with pytest.raises(TopicError):
        parse(topic)


def test_every_channel_has_a_payload_model() -> None:
    for kind, channels in CHANNELS.items():
        for ch in channels:
            assert (kind, ch) in PAYLOADS
    assert INBOUND <= set(PAYLOADS)


def test_hub_subscriptions_cover_inbound_only() -> None:
    subs = hub_subscriptions()
    assert len(subs) == len(INBOUND)
    assert "ops/v1/+/+/camera/+/health" in subs
    assert not any(s.endswith("/cmd") for s in subs)
    one = hub_subscriptions("yen-dinh")
    assert len(one) == len(subs) and all(s.startswith("ops/v1/yen-dinh/+/") for s in one)
    with pytest.raises(TopicError):
        hub_subscriptions("Yên Định")


def health_topic() -> object:
    return build("yen_dinh", "dinh_long", Kind.CAMERA, "cam-01", Channel.HEALTH)


def test_health_round_trip() -> None:
    h = CameraHealth(ts=TS, seq=3, online=True, fps=12.5, problems=[Problem.FROZEN], agent="box-1")
    out = decode(parse("ops/v1/yen_dinh/dinh_long/camera/cam-01/health"), encode(h))
    assert out == h


@pytest.mark.parametrize(
    ("payload", "reason", "fragment"),
    [
        (b"not json", "not_json", "not JSON"),
        (b"[1,2]", "not_object", "object"),
        (json.dumps({"ts": TS, "seq": 1, "online": "maybe"}).encode(), "invalid", "online"),
        (json.dumps({"ts": TS, "seq": 1, "online": True, "colour": 1}).encode(), "invalid", "colour"),
        (json.dumps({"ts": TS, "seq": -1, "online": True}).encode(), "invalid", "seq"),
        (json.dumps({"ts": 5, "seq": 1, "online": True}).encode(), "invalid", "ts"),
        (
            json.dumps({"ts": TS, "seq": 1, "online": True, "problems": ["haunted"]}).encode(),
            "invalid",
            "problems.0",
        ),
        (
            json.dumps({"ts": TS, "seq": 1, "online": True, "problems": ["black", "black"]}).encode(),
            "invalid",
            "repeat",
        ),
        (b'{"ts": 1800000000, "seq": 1, "online": true, "fps": NaN}', "invalid", "fps"),
        (b'{"ts": 1800000000, "seq": 1, "online": "yes"}', "invalid", "online"),
        (b'{"ts": 1800000000, "seq": "1", "online": true}', "invalid", "seq"),
        (b'{"ts": 1800000000, "seq": 1, "online": true, "fps": "12.5"}', "invalid", "fps"),
        (b'{"ts": 1800000000, "seq": 1.5, "online": true}', "invalid", "seq"),
        (b"{" + b" " * MAX_JSON_BYTES + b"}", "too_large", "bytes"),
    ],
)
def test_bad_health_payloads(payload: bytes, reason: str, fragment: str) -> None:
    with pytest.raises(ContractError) as err:
        decode(parse("ops/v1/yen_dinh/dinh_long/camera/cam-01/health"), payload)
    assert err.value.reason == reason
    assert fragment in str(err.value)


def test_snapshot_must_be_jpeg() -> None:
    t = parse("ops/v1/yen_dinh/dinh_long/camera/cam-01/snapshot")
    assert decode(t, b"\xff\xd8\xff\xe0rest") == b"\xff\xd8\xff\xe0rest"
    with pytest.raises(ContractError) as err:
        decode(t, b"GIF89a")
    assert err.value.reason == "not_jpeg"
    with pytest.raises(ContractError) as err:
        decode(t, b"\xff\xd8\xff" + b"0" * (3 * 1024 * 1024))
    assert err.value.reason == "too_large"


def test_status_with_inventory() -> None:
    t = parse("ops/v1/yen_dinh/dinh_long/edge/box-1/status")
    raw = {
        "state": "online",
        "ts": TS,
        "version": "0.1.0",
        "inventory": [{"id": "cam-01", "commune": "dinh_long", "name": "Cổng UBND xã"}],
    }
    st = decode(t, json.dumps(raw, ensure_ascii=False).encode())
    assert isinstance(st, EdgeStatus)
    assert st.inventory is not None and st.inventory[0].name == "Cổng UBND xã"


def test_schema_docs_are_current() -> None:
    """docs/schema must match the models: regenerate with `python -m contract.schema`."""
    for name, schema in schemas().items():
        path = ROOT / "docs" / "schema" / f"{name}.schema.json"
        assert path.exists(), f"{path} missing: run python -m contract.schema"
        assert path.read_text(encoding="utf-8") == render(name, schema), f"{path} is stale"
