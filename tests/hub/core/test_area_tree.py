"""The area tree and scopes at any level: pure walks, the SQL scope condition, and a user scoped to a node."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.compose import open_database
from hub.core import auth
from hub.core.access import READ_ONLY_ROLES, ROLE_PERMS, WRITE_PERMS, in_scope, province_wide, scope_where
from hub.core.area_tree import (
    COMMUNE,
    GROUP,
    PROVINCE,
    VILLAGE,
    AreaNode,
    Node,
    ScopeError,
    Tree,
    assign_scope,
    former_label,
    node_scope,
    parent_allowed,
)
from hub.core.auth import Principal
from hub.core.db import Base, Camera, Database
from tests.fixtures_web import T0

# Thanh Hóa: a former district grouping two communes, a police cluster across two former districts, a ward
# straight under the province (the grouping level is optional), and a village.
NODES = [
    Node(1, None, PROVINCE, "thanh-hoa", "Tỉnh Thanh Hóa", code="38"),
    Node(2, 1, GROUP, "dong-son", "Huyện Đông Sơn (cũ)", district="dong-son"),
    Node(3, 2, COMMUNE, "dong-tien", "Xã Đông Tiến", "dong-son", "dong-tien"),
    Node(4, 2, COMMUNE, "dong-quang", "Xã Đông Quang", "dong-son", "dong-quang"),
    Node(5, 1, COMMUNE, "ham-rong", "Phường Hàm Rồng", "tp-thanh-hoa", "ham-rong", code="14758"),
    Node(6, 3, VILLAGE, "thon-1", "Thôn 1", "dong-son", "dong-tien"),
    Node(7, 1, GROUP, "cum-2", "Cụm công an số 2"),
    Node(8, 7, COMMUNE, "quang-phu", "Phường Quảng Phú", "tp-thanh-hoa", "quang-phu"),
    Node(9, 7, COMMUNE, "dong-hoa", "Xã Đông Hòa", "dong-son", "dong-hoa"),
]
TREE = Tree(NODES)


def who(
    role: str = "police", district: str | None = None, commune: str | None = None, areas=None
) -> Principal:
    return Principal(1, "u", None, role, district, commune, "session", None, areas)


def test_walks_of_the_tree() -> None:
    assert [n.id for n in TREE.descendants(2)] == [2, 4, 3, 6]  # by name: Đông Quang before Đông Tiến
    assert [n.id for n in TREE.ancestors(6)] == [1, 2, 3, 6]
    assert TREE.path_label(6) == "Tỉnh Thanh Hóa › Huyện Đông Sơn (cũ) › Xã Đông Tiến › Thôn 1"
    assert TREE.commune_pairs(2) == {("dong-son", "dong-tien"), ("dong-son", "dong-quang")}
    assert TREE.commune_pairs(7) == {("tp-thanh-hoa", "quang-phu"), ("dong-son", "dong-hoa")}
    assert len(TREE.commune_pairs(1)) == 5
    assert TREE.commune_pairs(6) == frozenset()  # a village holds no commune
    assert TREE.descendants(99) == [] and TREE.commune_of("dong-son", "dong-tien") == NODES[2]
    rows = TREE.rows({3: ["Xã Đông Anh"]})
    by_id = {r["node"].id: r for r in rows}  # type: ignore[attr-defined]
    assert len(rows) == len(NODES) and rows[0]["depth"] == 0
    assert by_id[3]["depth"] == 2 and by_id[3]["aliases"] == ["Xã Đông Anh"] and by_id[6]["depth"] == 3


def test_levels_and_former_names() -> None:
    assert parent_allowed(COMMUNE, PROVINCE) and parent_allowed(COMMUNE, GROUP)
    assert parent_allowed(PROVINCE, None) and not parent_allowed(PROVINCE, GROUP)
    assert not parent_allowed(VILLAGE, GROUP) and not parent_allowed("district", PROVINCE)
    assert former_label(["Xã Đông Anh", "Xã Đông Khê"]) == "trước đây: Xã Đông Anh, Xã Đông Khê"
    assert former_label([]) == ""


def test_node_scope_fields() -> None:
    assert node_scope(TREE, 1) == (None, None)
    assert node_scope(TREE, 2) == ("dong-son", None)
    assert node_scope(TREE, 5) == ("tp-thanh-hoa", "ham-rong")
    with pytest.raises(ScopeError, match="thôn"):
        node_scope(TREE, 6)
    assert node_scope(TREE, 7) == (None, None)  # a cluster across former districts: its communes alone
    with pytest.raises(ScopeError, match="Không có"):
        node_scope(TREE, 42)


def test_in_scope_by_node() -> None:
    group = who(district="dong-son", areas=TREE.commune_pairs(2))
    assert not province_wide(group)
    assert in_scope(group, "dong-son", "dong-tien") and not in_scope(group, "dong-son", "dong-hoa")
    cluster = who(areas=TREE.commune_pairs(7))  # no district field, yet not the whole province
    assert not province_wide(cluster)
    assert in_scope(cluster, "dong-son", "dong-hoa") and not in_scope(cluster, "tp-thanh-hoa", "ham-rong")
    assert not in_scope(who(areas=frozenset()), "dong-son", "dong-tien")  # a node gone: nothing
    assert province_wide(who()) and province_wide(who("admin", areas=frozenset()))
    assert in_scope(who(district="dong-son"), "dong-son", "x")  # no node: the fields alone, as before


def test_leader_is_read_only() -> None:
    assert "leader" in auth.ROLES and "leader" in READ_ONLY_ROLES
    assert not ROLE_PERMS["leader"] & WRITE_PERMS
    assert READ_ONLY_ROLES == {"leader"}


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


def seed_tree(s) -> None:  # type: ignore[no-untyped-def]
    for n in NODES:
        s.add(AreaNode(id=n.id, parent_id=n.parent_id, level=n.level, slug=n.slug, name=n.name,
                       district=n.district, commune=n.commune, code=n.code))  # fmt: skip
        s.flush()


def test_user_scoped_to_a_node_sees_its_communes_in_sql(db: Database) -> None:
    with db.session() as s, s.begin():
        seed_tree(s)
        for d, c, slug in [
            ("dong-son", "dong-tien", "a"),
            ("dong-son", "dong-hoa", "b"),
            ("tp-thanh-hoa", "ham-rong", "c"),
        ]:
            s.add(Camera(key=f"{d}/{c}/{slug}", district=d, commune=c, slug=slug, status="ok", problems=[]))
        u = auth.add_user(s, "cumtruong", "x", "police", district=None, commune=None, full_name=None, now=T0)
        s.flush()
        with pytest.raises(ScopeError):
            assign_scope(s, u.id, 6)  # a village
        assert assign_scope(s, u.id, 2) == ("dong-son", None)
        cookie, _ = auth.create_session(s, u.id, T0, 8)
    with db.session() as s:
        loaded = auth.load_session(s, cookie, T0)
        assert loaded is not None
        p = loaded[0]
        assert p.areas == {("dong-son", "dong-tien"), ("dong-son", "dong-quang")}
        keys = s.scalars(select(Camera.key).where(scope_where(p, Camera.district, Camera.commune))).all()
        assert keys == ["dong-son/dong-tien/a"]  # not Đông Hòa, although it is in the same former district
    with db.session() as s, s.begin():
        assign_scope(s, u.id, 7)  # the police cluster across former districts
    with db.session() as s:
        loaded = auth.load_session(s, cookie, T0)
        assert loaded is not None and not province_wide(loaded[0])
        keys = s.scalars(
            select(Camera.key).where(scope_where(loaded[0], Camera.district, Camera.commune))
        ).all()
        assert keys == ["dong-son/dong-hoa/b"]
    with db.session() as s, s.begin():
        assign_scope(s, u.id, 1)
    with db.session() as s:
        loaded = auth.load_session(s, cookie, T0)
        assert loaded is not None and loaded[0].areas is None and province_wide(loaded[0])
