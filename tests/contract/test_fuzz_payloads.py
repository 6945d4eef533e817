"""Property-based fuzzing of every payload model of the contract (contract/payloads.py): arbitrary bytes,
arbitrary JSON, and payloads one or two mutations away from valid, on every channel. `decode` either returns the
model (which encodes back to the same model) or refuses with a `ContractError` of a known reason; nothing else
ever escapes, whatever arrives."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract import PAYLOADS, ContractError, Kind, Model, build, decode, encode
from contract.topics import Channel
from tests.contract.fuzz_support import VALID, dumps, payloads

REASONS = {"unknown_channel", "too_large", "not_jpeg", "not_json", "not_object", "invalid"}
JSON_CHANNELS = sorted((k for k, model in PAYLOADS.items() if model is not None), key=str)


def test_the_valid_examples_are_valid() -> None:
    """The fuzzers mutate these: they must start from what the contract accepts."""
    assert set(VALID) == set(JSON_CHANNELS)
    for (kind, channel), doc in VALID.items():
        assert isinstance(decode(build("d", "c", kind, "x", channel), dumps(doc)), Model)


@pytest.mark.parametrize("key", JSON_CHANNELS, ids=lambda k: f"{k[0].value}-{k[1].value}")
@settings(max_examples=300)
@given(data=st.data())
def test_decode_accepts_or_refuses_with_a_reason(key: tuple[Kind, Channel], data: st.DataObject) -> None:
    topic = build("d", "c", key[0], "x", key[1])
    payload = data.draw(payloads(key))
    try:
        value = decode(topic, payload)
    except ContractError as exc:
        assert exc.reason in REASONS, exc
        return
    assert isinstance(value, PAYLOADS[key])  # type: ignore[arg-type]
    assert isinstance(value, Model)
    assert decode(topic, encode(value)) == value  # what is accepted encodes back to the same thing


@settings(max_examples=200)
@given(payload=payloads() | st.binary(min_size=3, max_size=64).map(lambda b: b"\xff\xd8\xff" + b))
def test_snapshots_are_jpeg_bytes_or_refused(payload: bytes) -> None:
    topic = build("d", "c", Kind.CAMERA, "cam", Channel.SNAPSHOT)
    try:
        value = decode(topic, payload)
    except ContractError as exc:
        assert exc.reason in {"not_jpeg", "too_large"}
        return
    assert value == payload and payload.startswith(b"\xff\xd8\xff")
