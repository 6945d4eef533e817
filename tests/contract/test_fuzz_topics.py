"""Property-based fuzzing of the topic grammar (contract/topics.py): any string either parses into a topic that
prints back as the same string, or is refused with a `TopicError`; `build` and `is_slug` likewise."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from contract import Topic, TopicError, build, parse
from contract.topics import SLUG_MAX, is_slug
from tests.contract.fuzz_support import segment, topics


@settings(max_examples=500)
@given(text=topics())
def test_parse_round_trips_or_refuses(text: str) -> None:
    try:
        t = parse(text)
    except TopicError:
        return
    assert isinstance(t, Topic)
    assert str(t) == text
    assert parse(str(t)) == t


@settings(max_examples=300)
@given(parts=st.tuples(segment, segment, segment, segment, segment))
def test_build_makes_a_valid_topic_or_refuses(parts: tuple[str, str, str, str, str]) -> None:
    try:
        t = build(*parts)
    except TopicError:
        return
    assert parse(str(t)) == t
    assert all(is_slug(x) for x in (t.district, t.commune, t.id))


@settings(max_examples=300)
@given(value=segment | st.text())
def test_is_slug_never_raises_and_matches_the_grammar(value: str) -> None:
    ok = is_slug(value)
    assert ok == (
        0 < len(value) <= SLUG_MAX
        and value[0] in "abcdefghijklmnopqrstuvwxyz0123456789"
        and all(c in "abcdefghijklmnopqrstuvwxyz0123456789_-" for c in value)
    )
