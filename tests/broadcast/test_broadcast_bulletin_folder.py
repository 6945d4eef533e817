"""The watched bulletin folder over a real SQLite database, ffmpeg and espeak-ng: a JSON+audio pair lands and is
moved to done/ with a receipt; a resend of the same upstream id gets the same receipt; a bad document goes to
rejected/ with an error file naming the key; a file still being written (dot-name) is left alone."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from broadcast.bulletins.config import BulletinsConfig
from broadcast.bulletins.folder import FolderIntake
from broadcast.programmes.models import Programme
from broadcast.web.content.create import TTS_VOICES
from hub.compose import HubConfig
from tests.broadcast.test_broadcast_bulletins import bulletin
from tests.broadcast.test_broadcast_content_api import clip, store  # noqa: F401  (fixture)
from tests.fixtures_web import T0, WebEnv


def intake(web: WebEnv, inbox: Path, config: HubConfig) -> FolderIntake:
    app = web.client.app
    assert app is not None
    return FolderIntake(inbox, BulletinsConfig(), config, web.db, store(web), app[TTS_VOICES], 14, lambda: T0)


async def test_folder_pairs_land_duplicates_get_the_receipt_and_bad_ones_are_rejected(
    web: WebEnv,
    web_config: HubConfig,
    tmp_path: Path,
    clip: bytes,  # noqa: F811
) -> None:
    inbox = tmp_path / "inbox"
    folder = intake(web, inbox, web_config)
    folder._prepare()
    (inbox / "tb1.m4a").write_bytes(clip)
    (inbox / "tb1.json").write_text(json.dumps(bulletin(communes=["soc-son/phu-linh"])), encoding="utf-8")
    (inbox / "tb2.json").write_text(json.dumps(bulletin(upstream_id="TN-2", level=7)), encoding="utf-8")
    (inbox / ".tb3.json.tmp").write_text("{", encoding="utf-8")  # still being written
    assert await folder.scan() == 2

    receipt = json.loads((inbox / "done" / "tb1.receipt.json").read_text(encoding="utf-8"))
    assert receipt["duplicate"] is False and receipt["programmes"][0]["state"] == "pending_approval"
    assert (inbox / "done" / "tb1.m4a").is_file() and (inbox / "done" / "tb1.json").is_file()
    error = (inbox / "rejected" / "tb2.error.txt").read_text(encoding="utf-8")
    assert error.startswith("level:")
    assert (inbox / ".tb3.json.tmp").is_file() and not list((inbox / "processing").iterdir())
    assert folder.counters == {"received": 1, "rejected": 1}

    (inbox / "again.json").write_text(json.dumps(bulletin(communes=["soc-son/phu-linh"])), encoding="utf-8")
    assert await folder.scan() == 1
    again = json.loads((inbox / "done" / "again.receipt.json").read_text(encoding="utf-8"))
    assert again["duplicate"] is True and again["programmes"] == receipt["programmes"]
    with web.db.session() as s:
        assert len(list(s.scalars(select(Programme)))) == 1
