"""The area tree after the 2025 reform: province → optional grouping → commune/ward → village/residential group.

Since 1 July 2025 districts are no longer administrations; some police still group communes by former district or
by cluster, so the grouping level stays, optional. Devices and the rows that belong to a place keep the
`(district, commune)` pair of slugs they always had (the MQTT topic's segments, `areas`' key): a commune node
names its pair, and the tree says which communes lie under which node. A user scoped to a node sees every
commune below it (`commune_pairs`), resolved once per request into `Principal.areas`.

A commune merged into another disappears from the tree; its name (and its old pair of slugs, which the topics of
devices already in the field still carry) stays as an `AreaAlias` of the commune that absorbed it.

The models are here with the pure functions over them; nothing here reads the clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from hub.core.db import Base, User

PROVINCE = "province"
GROUP = "group"  # a former district or a police cluster
COMMUNE = "commune"  # commune (xã) or ward (phường)
VILLAGE = "village"  # thôn, bản, tổ dân phố
LEVELS = (PROVINCE, GROUP, COMMUNE, VILLAGE)
# Which level may sit under which: the grouping is optional, so a commune may hang straight from the province.
PARENT_LEVELS: dict[str, tuple[str, ...]] = {
    PROVINCE: (),
    GROUP: (PROVINCE,),
    COMMUNE: (PROVINCE, GROUP),
    VILLAGE: (COMMUNE,),
}
LEVEL_LABELS = {
    PROVINCE: "Tỉnh",
    GROUP: "Cụm / huyện cũ",
    COMMUNE: "Xã / phường",
    VILLAGE: "Thôn / tổ dân phố",
}


class AreaNode(Base):
    __tablename__ = "area_nodes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("area_nodes.id"), index=True)
    level: Mapped[str] = mapped_column(String(16))
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str | None] = mapped_column(String(32))  # official type: Tỉnh, Phường, Xã, Thôn …
    code: Mapped[str | None] = mapped_column(String(16), unique=True)  # official code (GSO) where one exists
    # The pair of slugs devices and rows of this commune carry (a village: its commune's; a grouping: its
    # district slug when it is a former district, else None).
    district: Mapped[str | None] = mapped_column(String(64))
    commune: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (UniqueConstraint("parent_id", "slug"),)


class AreaAlias(Base):
    """A former name of a commune: a commune merged into it, or the units it was formed from in 2025."""

    __tablename__ = "area_aliases"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("area_nodes.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    code: Mapped[str | None] = mapped_column(String(16))
    # The old pair of slugs, when devices' topics may still carry it (a merge made by this hub).
    district: Mapped[str | None] = mapped_column(String(64))
    commune: Mapped[str | None] = mapped_column(String(64))
    since: Mapped[datetime | None] = mapped_column(DateTime)  # when it stopped being a commune of its own

    __table_args__ = (UniqueConstraint("node_id", "name"),)


# --- pure functions over a snapshot of the tree ---------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    id: int
    parent_id: int | None
    level: str
    slug: str
    name: str
    district: str | None = None
    commune: str | None = None
    code: str | None = None


class Tree:
    """An immutable view of the nodes, indexed for the walks scopes and pages need."""

    def __init__(self, nodes: Iterable[Node]) -> None:
        self.nodes: dict[int, Node] = {n.id: n for n in nodes}
        self.children: dict[int | None, list[Node]] = {}
        for n in sorted(self.nodes.values(), key=lambda n: (n.name, n.id)):
            self.children.setdefault(n.parent_id, []).append(n)

    def descendants(self, node_id: int) -> list[Node]:
        """The node and everything under it, parents before children."""
        root = self.nodes.get(node_id)
        if root is None:
            return []
        out, stack = [], [root]
        while stack:
            n = stack.pop()
            out.append(n)
            stack.extend(reversed(self.children.get(n.id, [])))
        return out

    def ancestors(self, node_id: int) -> list[Node]:
        """From the root down to the node itself."""
        out: list[Node] = []
        n = self.nodes.get(node_id)
        while n is not None and len(out) <= len(self.nodes):
            out.append(n)
            n = self.nodes.get(n.parent_id) if n.parent_id is not None else None
        return out[::-1]

    def commune_pairs(self, node_id: int) -> frozenset[tuple[str, str]]:
        """The (district, commune) pairs of the communes at or under the node: a user's scope."""
        return frozenset(
            (n.district, n.commune)
            for n in self.descendants(node_id)
            if n.level == COMMUNE and n.district and n.commune
        )

    def commune_of(self, district: str, commune: str) -> Node | None:
        return next(
            (
                n
                for n in self.nodes.values()
                if n.level == COMMUNE and (n.district, n.commune) == (district, commune)
            ),
            None,
        )

    def path_label(self, node_id: int) -> str:
        return " › ".join(n.name for n in self.ancestors(node_id))

    def rows(self, aliases: Mapping[int, list[str]] | None = None) -> list[dict[str, object]]:
        """The tree flattened for a page: depth-first, each node with its depth and former names."""
        out: list[dict[str, object]] = []

        def walk(parent: int | None, depth: int) -> None:
            for n in self.children.get(parent, []):
                out.append(
                    {
                        "node": n,
                        "depth": depth,
                        "aliases": (aliases or {}).get(n.id, []),
                        "label": LEVEL_LABELS[n.level],
                    }
                )
                walk(n.id, depth + 1)

        walk(None, 0)
        return out


def parent_allowed(child_level: str, parent_level: str | None) -> bool:
    allowed = PARENT_LEVELS.get(child_level)
    if allowed is None:
        return False
    return parent_level is None if not allowed else parent_level in allowed


def former_label(aliases: Iterable[str]) -> str:
    """How a commune's former names are shown beside its name."""
    names = [a for a in aliases if a]
    return f"trước đây: {', '.join(names)}" if names else ""


def to_node(r: AreaNode) -> Node:
    return Node(r.id, r.parent_id, r.level, r.slug, r.name, r.district, r.commune, r.code)


def load_tree(s: Session) -> Tree:
    return Tree(to_node(r) for r in s.scalars(select(AreaNode)))


def load_aliases(s: Session) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for a in s.scalars(select(AreaAlias).order_by(AreaAlias.since, AreaAlias.name)):
        out.setdefault(a.node_id, []).append(a.name)
    return out


def scope_of_node(s: Session, node_id: int) -> frozenset[tuple[str, str]] | None:
    """A user's scope from the node they are scoped to: None when it is the province (everything)."""
    tree = load_tree(s)
    node = tree.nodes.get(node_id)
    if node is None:
        return frozenset()  # a scope whose node is gone sees nothing rather than everything
    if node.level == PROVINCE:
        return None
    return tree.commune_pairs(node_id)


class ScopeError(ValueError):
    """A node a user cannot be scoped to; the message is for the administrator."""


def node_scope(tree: Tree, node_id: int) -> tuple[str | None, str | None]:
    """The (district, commune) fields a user scoped to the node keeps, for the checks that still read them.

    A village is refused: cameras and boxes carry no village yet, so its scope could not be enforced on them.
    A grouping whose communes share one district slug (a former district) keeps that district; a cluster across
    districts keeps none (its communes are `Principal.areas`).
    """
    node = tree.nodes.get(node_id)
    if node is None:
        raise ScopeError(f"Không có địa bàn số {node_id}")
    if node.level == PROVINCE:
        return None, None
    if node.level == COMMUNE:
        if not (node.district and node.commune):
            raise ScopeError(f"Xã {node.name} chưa có mã huyện/xã nên chưa gán phạm vi được")
        return node.district, node.commune
    if node.level == VILLAGE:
        raise ScopeError("Chưa gán phạm vi theo thôn được: camera và hộp biên chưa thuộc thôn nào")
    districts = {d for d, _ in tree.commune_pairs(node_id)}
    if not districts:
        raise ScopeError(f"Cụm {node.name} chưa có xã nào")
    return (districts.pop() if len(districts) == 1 else None), None


def assign_scope(s: Session, user_id: int, node_id: int | None) -> tuple[str | None, str | None]:
    """Scopes a user to a node (None: back to the district/commune fields alone); returns the fields set."""
    user = s.get(User, user_id)
    if user is None:
        raise ScopeError(f"Không có người dùng số {user_id}")
    if node_id is None:
        user.area_id = None
        return user.district, user.commune
    district, commune = node_scope(load_tree(s), node_id)
    user.area_id, user.district, user.commune = node_id, district, commune
    return district, commune
