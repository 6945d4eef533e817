"""Property-based fuzzing of the loudspeaker receiver's command handling: whatever arrives on (or instead of)
its command topic goes through the device runtime's incoming path (`Publisher.handle(Incoming)`) into a real
`ReceiverAgent` (broadcast/receiver/app.py, broadcast/receiver/commands.py). It never crashes; each message is
either carried out (`commands` + 1) or refused (`commands_rejected` + 1, with a `failed` event naming reason
`invalid` when its transaction can be read, nothing otherwise)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broadcast.receiver.app import ReceiverAgent
from broadcast.receiver.commands import BadCommand, parse_command
from broadcast.receiver.config import ReceiverConfig
from contract import MAX_JSON_BYTES, Channel, Kind, SpeakerEvent, decode, parse
from device_runtime.link import Incoming
from tests.contract.fuzz_support import TS, payloads, topics

KEY = (Kind.SPEAKER, Channel.CMD)
CMD = "ops/v1/d/c/speaker/loa-1/cmd"
# Near this, the commands the receiver carries out at once without playing anything (volume, stop).
VOLUME = {"transaction": "t3", "action": "volume", "ts": TS, "data": {"volume": 40}}


@settings(max_examples=400)
@given(topic=st.just(CMD) | topics(), payload=payloads(KEY))
def test_parse_command_returns_a_command_or_a_refusal(topic: str, payload: bytes) -> None:
    parsed = parse_command(topic, payload, CMD)
    if isinstance(parsed, BadCommand):
        assert parsed.transaction is None or 1 <= len(parsed.transaction) <= 64
        assert parsed.airing is None or len(parsed.airing) <= 64
        assert parsed.error
        assert parsed.transaction is None or len(payload) <= MAX_JSON_BYTES
    else:
        assert topic == CMD


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
    parsed = parse_command(topic, payload, CMD)
    events = loop.run_until_complete(_deliver(agent, topic, payload))
    after = agent.counters
    if isinstance(parsed, BadCommand):
        assert (after.commands_rejected, after.commands) == (before.commands_rejected + 1, before.commands)
        if parsed.transaction is None:
            assert events == []
        else:
            (failed,) = events
            assert failed.event == "failed" and failed.transaction == parsed.transaction
            assert failed.data.reason == "invalid" and failed.airing == parsed.airing
    else:
        assert (after.commands, after.commands_rejected) == (before.commands + 1, before.commands_rejected)
        assert all(e.transaction == parsed.transaction for e in events)
