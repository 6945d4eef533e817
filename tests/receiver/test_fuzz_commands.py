"""Property-based fuzzing of the loudspeaker receiver's command handling: whatever arrives on (or instead of)
its command topic goes through the device runtime's incoming path (`Publisher.handle(Incoming)`) into a real
`ReceiverAgent` (broadcast/receiver/app.py, broadcast/receiver/commands.py), signed with the test hub key when it
is a JSON object (tests/contract/fuzz_support.py `signed`). It never crashes; each message is either carried out
(`commands` + 1) or refused (`commands_rejected` + 1, and counted by the order gate when the envelope failed),
with a `failed` event only for a signed order whose transaction can be read."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broadcast.receiver.app import ReceiverAgent
from broadcast.receiver.commands import BadCommand, admit_command
from broadcast.receiver.config import ReceiverConfig
from contract import MAX_JSON_BYTES, Channel, Kind, SpeakerEvent, decode, parse
from contract.topics import parse as parse_topic
from device_runtime.link import Incoming
from device_runtime.orders import OrderGate, read_hub_key
from tests.contract.fuzz_support import TEST_PUBLIC_PEM, TS, payloads, signed, topics

KEY = (Kind.SPEAKER, Channel.CMD)
CMD = "ops/v1/d/c/speaker/loa-1/cmd"
# Near this, the commands the receiver carries out at once without playing anything (volume, stop).
VOLUME = {"transaction": "t3", "action": "volume", "ts": TS, "data": {"volume": 40}}


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory) -> OrderGate:
    key = read_hub_key(TEST_PUBLIC_PEM, Path("."))
    return OrderGate(key, parse_topic(CMD), tmp_path_factory.mktemp("gate") / "seq.json")


@settings(max_examples=400)
@given(topic=st.just(CMD) | topics(), payload=payloads(KEY), sign=st.booleans())
def test_admit_returns_a_command_or_a_counted_refusal(
    gate: OrderGate, topic: str, payload: bytes, sign: bool
) -> None:
    now = time.time()
    wire = signed(payload, topic, now) if sign else payload
    refused_before = sum(gate.refused.values())
    parsed = admit_command(gate, topic, wire, now)
    if isinstance(parsed, BadCommand):
        assert sum(gate.refused.values()) == refused_before + 1
        assert parsed.transaction is None or 1 <= len(parsed.transaction) <= 64
        assert parsed.airing is None or len(parsed.airing) <= 64
        assert parsed.error
        assert parsed.transaction is None or len(wire) <= MAX_JSON_BYTES
    else:
        assert topic == CMD and sign


@pytest.fixture(scope="module")
def receiver(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ReceiverAgent, asyncio.AbstractEventLoop]]:
    base: Path = tmp_path_factory.mktemp("receiver")
    config = ReceiverConfig.model_validate(
        {
            "receiver": {"id": "loa-1", "district": "d", "commune": "c"},
            "hub": {"allowed_urls": ["http://127.0.0.1:9/"]},
            "cache": {"dir": "cache"},
            "sink": {"type": "null"},
            "hub_public_key": TEST_PUBLIC_PEM,
        }
    )

    async def build() -> ReceiverAgent:
        return ReceiverAgent(config, base)

    loop = asyncio.new_event_loop()
    agent = loop.run_until_complete(build())
    assert agent.cmd_topic == CMD
    yield agent, loop
    loop.close()


async def _deliver(agent: ReceiverAgent, topic: str, payload: bytes) -> list[SpeakerEvent]:
    agent.publisher.handle(Incoming(1, topic, payload))
    await agent._handle(agent._commands.get_nowait())  # what the command consumer task does with it
    events = []
    while (entry := agent.outbox.next_unsent()) is not None:
        agent.outbox.ack(entry.id)
        event = decode(parse(entry.message.topic), entry.message.payload)
        assert isinstance(event, SpeakerEvent)
        events.append(event)
    return events


@settings(max_examples=300)
@given(topic=st.just(CMD) | topics(), payload=payloads(KEY, base=VOLUME))
def test_every_incoming_message_is_carried_out_or_refused_and_counted(
    receiver: tuple[ReceiverAgent, asyncio.AbstractEventLoop], topic: str, payload: bytes
) -> None:
    agent, loop = receiver
    before = dataclasses.replace(agent.counters)
    accepted = agent.gate.accepted
    wire = signed(payload, topic, time.time())
    events = loop.run_until_complete(_deliver(agent, topic, wire))
    after = agent.counters
    if (
        agent.gate.accepted == accepted
    ):  # refused at the gate or by the order's contract: counted, never carried out
        assert (after.commands_rejected, after.commands) == (before.commands_rejected + 1, before.commands)
        assert all(e.event == "failed" and e.data.reason for e in events)
    else:
        assert after.commands == before.commands + 1 and after.commands_rejected == before.commands_rejected
