"""The speakers' SQL write (one statement per flush at a province): reported columns, names kept, rows that an
administrator removed while the receiver kept reporting inserted again."""

from __future__ import annotations

from pathlib import Path

from broadcast.speakers.live import SpeakerLive
from broadcast.speakers.table_write import write_speakers
from hub.compose import open_database
from hub.core.speaker_models import Speaker


def test_write_updates_inserts_and_keeps_names(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'hub.db'}")
    db.create_all()
    a = SpeakerLive("d/c/a", "d", "c", "a", name="Loa từ máy", village="thon-1", status="online", volume=50)
    b = SpeakerLive("d/c/b", "d", "c", "b", status="online", last_seen=1763880000.5, pending=True)
    with db.session() as s, s.begin():
        write_speakers(s, [a, b])
    with db.session() as s, s.begin():
        row = s.get(Speaker, "d/c/a")
        assert row is not None and row.name == "Loa từ máy" and row.volume == 50
        row.name = "Loa chợ"  # an administrator renamed it
        s.delete(s.get(Speaker, "d/c/b"))  # and removed the other while it kept reporting
    a.volume, a.name = 80, "Tên khác"
    b.volume = 20
    with db.session() as s, s.begin():
        write_speakers(s, [a, b])
    with db.session() as s:
        ra, rb = s.get(Speaker, "d/c/a"), s.get(Speaker, "d/c/b")
        assert ra is not None and (ra.name, ra.village, ra.volume) == ("Loa chợ", "thon-1", 80)
        assert rb is not None and rb.volume == 20 and rb.last_seen is not None and rb.pending
    db.close()
