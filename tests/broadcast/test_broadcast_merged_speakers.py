"""Speakers of a merged commune (issue 16): they now belong to the commune that absorbed theirs but keep their
old topics, so an order names them by their whole key and the dispatcher publishes to the topics they listen on."""

from __future__ import annotations

from broadcast.orders import speaker_key_in
from broadcast.programmes.models import TARGET_COMMUNE, TARGET_SPEAKERS, TARGET_VILLAGES, Programme
from broadcast.programmes.targets import target_speakers
from hub.core.speaker_models import Speaker

B = ("yen_dinh", "dinh_long")


def test_an_order_names_a_merged_speaker_by_its_key_and_reaches_its_old_topic() -> None:
    own = Speaker(key="yen_dinh/dinh_long/loa-1", district=B[0], commune=B[1], slug="loa-1", village="thon-1")
    moved = Speaker(
        key="yen_dinh/dinh_tan/loa-1", district=B[0], commune=B[1], slug="loa-1", village="thon-2"
    )
    p = Programme(district=B[0], commune=B[1], target_kind=TARGET_COMMUNE, target_ids=[])
    ids = target_speakers(p, [own, moved])
    assert ids == ["loa-1", "yen_dinh/dinh_tan/loa-1"]  # two speakers of one slug stay two
    assert [speaker_key_in(*B, i) for i in ids] == [own.key, moved.key]
    p.target_kind, p.target_ids = TARGET_VILLAGES, ["thon-2"]
    assert target_speakers(p, [own, moved]) == ["yen_dinh/dinh_tan/loa-1"]
    p.target_kind, p.target_ids = TARGET_SPEAKERS, ["loa-1"]
    assert len(target_speakers(p, [own, moved])) == 2
