"""Merging communes (issue 16): every row that belongs to the old commune moves, on SQLite and PostgreSQL;
reports over a period spanning the merge add up; and a box in the field that keeps publishing on its old
topic after the merge shows up under the new commune in a running hub (real Mosquitto)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.compose import Hub, open_database
from hub.core import auth, reports
from hub.core.account_models import BrokerAccountRow
from hub.core.area_merge import MergeError, apply_to_store, merge_communes, merged_homes
from hub.core.area_tree import COMMUNE, GROUP, PROVINCE, VILLAGE, AreaAlias, AreaNode, load_tree
from hub.core.audit import AuditEntry, record_change
from hub.core.db import Agent, Area, Base, Camera, Database, Transition
from hub.core.geo import Village
from hub.core.speaker_models import Speaker
from tests.fixtures_hub import Publisher, wait_for

A, B = ("dong-son", "dong-anh"), ("tp-thanh-hoa", "dong-tien")  # across former districts, as in 2025
T0 = datetime(2026, 6, 1)
MERGED_AT = datetime(2026, 7, 1)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        database = open_database(f"sqlite:///{tmp_path / 'hub.db'}")
    else:
        database = open_database(request.getfixturevalue("postgres_url"))
        Base.metadata.drop_all(database.engine)
    database.create_all()
    yield database
    database.close()


def key(pair: tuple[str, str], slug: str) -> str:
    return f"{pair[0]}/{pair[1]}/{slug}"


def seed(db: Database) -> None:
    with db.session() as s, s.begin():
        s.add_all([Area(district=A[0], commune=A[1], name="Xã Đông Anh"),
                   Area(district=B[0], commune=B[1], name="Phường Đông Tiến")])  # fmt: skip
        root = AreaNode(level=PROVINCE, slug="thanh-hoa", name="Tỉnh Thanh Hóa", code="38")
        s.add(root)
        s.flush()
        g = AreaNode(
            parent_id=root.id, level=GROUP, slug="dong-son", name="Huyện Đông Sơn (cũ)", district=A[0]
        )
        s.add(g)
        s.flush()
        na = AreaNode(parent_id=g.id, level=COMMUNE, slug="dong-anh", name="Xã Đông Anh", district=A[0],
                      commune=A[1], code="15853")  # fmt: skip
        nb = AreaNode(parent_id=root.id, level=COMMUNE, slug="dong-tien", name="Phường Đông Tiến",
                      district=B[0], commune=B[1], code="14758")  # fmt: skip
        s.add_all([na, nb])
        s.flush()
        s.add(
            AreaNode(
                parent_id=na.id, level=VILLAGE, slug="thon-1", name="Thôn 1", district=A[0], commune=A[1]
            )
        )
        s.add(AreaAlias(node_id=na.id, name="Xã Đông Anh cũ"))
        for pair, slug in [(A, "cam01"), (A, "cam02"), (B, "cam01")]:
            s.add(
                Camera(
                    key=key(pair, slug),
                    district=pair[0],
                    commune=pair[1],
                    slug=slug,
                    status="ok",
                    problems=[],
                )
            )
            # Up half of June, down the other half (A's cameras), up all June (B's).
            s.add(Transition(subject_kind="camera", subject_key=key(pair, slug), district=pair[0],
                             commune=pair[1], at=T0, from_status="unknown", to_status="ok", problems=[]))  # fmt: skip
            if pair == A:
                s.add(Transition(subject_kind="camera", subject_key=key(pair, slug), district=pair[0],
                                 commune=pair[1], at=T0 + timedelta(days=15), from_status="ok",
                                 to_status="offline", problems=[]))  # fmt: skip
        s.add(Agent(key=key(A, "box-a"), district=A[0], commune=A[1], slug="box-a"))
        s.add(Speaker(key=key(A, "loa-1"), district=A[0], commune=A[1], slug="loa-1", village="thon-1"))
        s.add(Village(district=A[0], commune=A[1], slug="thon-1", name="Thôn 1"))
        s.add(Village(district=B[0], commune=B[1], slug="to-2", name="Tổ dân phố 2"))
        s.add(BrokerAccountRow(username=f"edge.{A[0]}.{A[1]}.box-a", kind="edge", device_key=key(A, "box-a"),
                               district=A[0], commune=A[1], communes=[A[1]], created_at=T0, password_set_at=T0, issued_by="quantri"))  # fmt: skip
        auth.add_user(s, "congan.donganh", "x", "police", district=A[0], commune=A[1], now=T0)
        record_change(s, actor="quantri", action="device.save", target=f"camera:{key(A, 'cam01')}", now=T0,
                      district=A[0], commune=A[1])  # fmt: skip


def june_report(s) -> reports.UptimeReport:  # type: ignore[no-untyped-def]
    cams = [reports.CameraInfo(c.key, c.district, c.commune, c.name) for c in s.scalars(select(Camera))]
    changes = [
        reports.StatusChange(t.subject_key, t.district, t.commune, t.at, t.to_status)
        for t in s.scalars(select(Transition).order_by(Transition.at))
    ]
    period = reports.Period(T0, datetime(2026, 7, 1), "custom", "6/2026")
    return reports.uptime(cams, changes, period)


def test_merge_moves_everything_that_belongs_to_the_commune(db: Database) -> None:
    seed(db)
    with db.session() as s:
        before = {(a.district, a.commune): a for a in june_report(s).communes}
    with db.session() as s, s.begin():
        result = merge_communes(s, A, B, MERGED_AT)
    assert result.renamed == {key(A, "cam01"): "dong-anh-cam01"}  # B has a cam01 already
    assert result.moved["cameras"] == 2 and result.moved["transitions"] == 4 and result.moved["users"] == 1
    assert {"agents", "speakers", "villages"} <= set(result.moved)
    with db.session() as s:
        cams = {c.key: (c.district, c.commune, c.slug) for c in s.scalars(select(Camera))}
        assert cams == {  # keys, hence topics, stay; where they belong changes
            key(A, "cam01"): (*B, "dong-anh-cam01"),
            key(A, "cam02"): (*B, "cam02"),
            key(B, "cam01"): (*B, "cam01"),
        }
        assert (s.get(Agent, key(A, "box-a")).district, s.get(Agent, key(A, "box-a")).commune) == B  # type: ignore[union-attr]
        assert s.get(Speaker, key(A, "loa-1")).commune == B[1]  # type: ignore[union-attr]
        assert s.get(Village, (*B, "thon-1")) is not None
        user = auth.get_user(s, "congan.donganh")
        assert user is not None and (user.district, user.commune) == B
        # The broker account and the audit log keep the old place: the topic ACL, and what happened where.
        assert s.scalar(select(BrokerAccountRow.commune)) == A[1]
        assert s.scalar(select(AuditEntry.commune)) == A[1]
        assert s.get(Area, A) is None and s.get(Area, B) is not None
        tree = load_tree(s)
        assert tree.commune_of(*A) is None
        nb = tree.commune_of(*B)
        assert nb is not None and [n.slug for n in tree.descendants(nb.id)] == ["dong-tien", "thon-1"]
        aliases = {a.name: a for a in s.scalars(select(AreaAlias))}
        assert set(aliases) == {"Xã Đông Anh", "Xã Đông Anh cũ"}
        assert aliases["Xã Đông Anh"].code == "15853" and aliases["Xã Đông Anh"].node_id == nb.id
        assert merged_homes(s) == {A: B}
        # June, spanning nothing but reported after the merge: B's figures are A's and B's added up.
        after = {(a.district, a.commune): a for a in june_report(s).communes}
    assert set(after) == {B}
    for name in ("ok", "offline", "no_data"):
        want = getattr(before[A].durations, name) + getattr(before[B].durations, name)
        assert getattr(after[B].durations, name) == want
    assert after[B].cameras == 3 and after[B].durations.offline == 2 * 15 * 86400


def test_merge_refusals_and_a_chain(db: Database) -> None:
    seed(db)
    with db.session() as s, s.begin():
        s.add(Village(district=B[0], commune=B[1], slug="thon-1", name="Thôn 1 (Đông Tiến)"))
    with db.session() as s, s.begin():
        with pytest.raises(MergeError, match="thôn trùng mã"):
            merge_communes(s, A, B, MERGED_AT)
        with pytest.raises(MergeError, match="chính nó"):
            merge_communes(s, A, A, MERGED_AT)
        with pytest.raises(MergeError, match="Không có xã"):
            merge_communes(s, ("x", "y"), B, MERGED_AT)
    with db.session() as s, s.begin():
        s.execute(Village.__table__.delete().where(Village.commune == B[1], Village.slug == "thon-1"))  # type: ignore[attr-defined]
        s.add(Area(district="tp-thanh-hoa", commune="ham-rong", name="Phường Hàm Rồng"))  # not in the tree
    with db.session() as s, s.begin():
        merge_communes(s, A, B, MERGED_AT)
        merge_communes(s, B, ("tp-thanh-hoa", "ham-rong"), MERGED_AT + timedelta(days=1))
    with db.session() as s:
        c = ("tp-thanh-hoa", "ham-rong")
        assert merged_homes(s) == {A: c, B: c}  # old topics of both lead to the last commune
        assert set(s.scalars(select(Camera.commune))) == {c[1]}
        node = load_tree(s).commune_of(*c)
        assert node is not None  # made for the commune known only by its pair


async def test_a_box_on_its_old_topic_after_the_merge_shows_up_under_the_new_commune(
    hub: Hub, publisher: Publisher
) -> None:
    old = f"ops/v1/{A[0]}/{A[1]}"
    now = time.time()
    publisher.publish(
        f"{old}/edge/box-a/status", {"state": "online", "ts": now, "version": "1.0", "boot": "b1"}
    )
    publisher.publish(
        f"{old}/camera/cam01/health",
        {"ts": now - 5, "seq": 0, "online": True, "agent": "box-a", "boot": "b1"},
    )
    await wait_for(lambda: key(A, "cam01") in hub.store.cameras, what="camera registered")
    await hub.flush()
    with hub.db.session() as s, s.begin():
        s.add_all([Area(district=A[0], commune=A[1], name="Xã Đông Anh"),
                   Area(district=B[0], commune=B[1], name="Phường Đông Tiến")])  # fmt: skip
        s.add(
            Camera(key=key(B, "cam01"), district=B[0], commune=B[1], slug="cam01", status="ok", problems=[])
        )
    result = await hub.db.run(lambda s: merge_communes(s, A, B, datetime.utcnow()))
    apply_to_store(hub.store, result)  # what POST /api/v1/areas/merge does on a running hub

    # The box knows nothing of it: same topics, a new report, and a camera it never reported before.
    publisher.publish(f"{old}/camera/cam01/health", {"ts": now, "seq": 1, "online": False, "agent": "box-a",
                                                     "boot": "b1", "problems": ["unreachable"]})  # fmt: skip
    publisher.publish(
        f"{old}/camera/cam09/health", {"ts": now, "seq": 2, "online": True, "agent": "box-a", "boot": "b1"}
    )
    await wait_for(lambda: key(A, "cam09") in hub.store.cameras and hub.store.cameras[key(A, "cam01")].last_seq == 1,
                   what="reports after the merge")  # fmt: skip
    await hub.flush()
    with hub.db.session() as s:
        rows = {c.key: (c.district, c.commune, c.slug, c.status) for c in s.scalars(select(Camera))}
        assert rows[key(A, "cam01")] == (*B, "dong-anh-cam01", "offline")
        assert rows[key(A, "cam09")] == (*B, "cam09", "ok")
        last = s.scalars(
            select(Transition).where(Transition.subject_key == key(A, "cam01")).order_by(Transition.id)
        ).all()[-1]
        assert (last.district, last.commune, last.to_status) == (*B, "offline")
        agent = s.get(Agent, key(A, "box-a"))
        assert agent is not None and (agent.district, agent.commune) == B
    assert hub.stats.snapshot()["rejected_total"] == 0
