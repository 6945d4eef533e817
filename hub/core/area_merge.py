"""Merging commune A into commune B: what belonged to A belongs to B from then on, in one transaction.

Every table with `district` and `commune` columns (the core's and every feature's: cameras, boxes, speakers,
villages, users' scopes, programmes, airings, content, alerts and their groups, silences, the outbox, the
transitions that reports are computed from) has A's rows rewritten to B's pair, so a report over a period
that spans the merge counts A's history under B and adds up. Found by reading the tables' columns, so a
feature's table added later moves too, without the core knowing it.

What does not move: a device's key (`district/commune/id`, its MQTT topic's segments, the identity the broker
account and ACL are tied to: boxes in the field keep publishing on their old topics, and the registry, not the
topic, says where they belong), its broker account, and the audit log (a record of what happened where).

A's name stays as an alias of B (`area_aliases`, shown as "trước đây: …"); A's tree node goes, its villages
move under B. A camera whose slug B already uses gets A's slug as a prefix; two villages of the same slug are
refused (speakers and programmes name villages by slug: the administrator renames one first).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Table, delete, inspect, select, update
from sqlalchemy.orm import Session

from hub.core.area_tree import COMMUNE, PROVINCE, AreaAlias, AreaNode
from hub.core.db import Area, Base, Camera, User
from hub.core.geo import Village
from hub.core.state import StateStore, free_slug

# Tables whose district/commune are not where something belongs now.
KEPT = frozenset({"areas", "audit_log", "broker_accounts", "area_nodes", "area_aliases"})

Pair = tuple[str, str]


class MergeError(ValueError):
    """A merge that cannot be made; the message is for the administrator."""


@dataclass
class MergeResult:
    source: Pair
    target: Pair
    source_name: str
    target_name: str
    moved: dict[str, int] = field(default_factory=dict)  # table → rows now under the target
    renamed: dict[str, str] = field(default_factory=dict)  # camera key → its new slug

    def summary(self) -> dict[str, object]:
        return {
            "from": "/".join(self.source),
            "into": "/".join(self.target),
            "from_name": self.source_name,
            "into_name": self.target_name,
            "moved": dict(sorted(self.moved.items())),
            "renamed_cameras": dict(sorted(self.renamed.items())),
        }


def area_tables(tables: Iterable[Table]) -> list[Table]:
    """The tables whose rows follow a merge: every one with district and commune columns, less KEPT."""
    return [t for t in tables if t.name not in KEPT and "district" in t.c and "commune" in t.c]


def ensure_commune_node(s: Session, pair: Pair, name: str) -> AreaNode:
    """The tree node of a commune known only by its pair (typed on the admin page before the tree existed):
    made under the province root, made too when missing, so its former names have a place."""
    node = s.scalar(
        select(AreaNode).where(
            AreaNode.level == COMMUNE, AreaNode.district == pair[0], AreaNode.commune == pair[1]
        )
    )
    if node is not None:
        return node
    root = s.scalar(select(AreaNode).where(AreaNode.level == PROVINCE).order_by(AreaNode.id))
    if root is None:
        root = AreaNode(level=PROVINCE, slug="tinh", name="Tỉnh")
        s.add(root)
        s.flush()
    node = AreaNode(parent_id=root.id, level=COMMUNE, slug=f"{pair[0]}-{pair[1]}"[:64], name=name,
                    district=pair[0], commune=pair[1])  # fmt: skip
    s.add(node)
    s.flush()
    return node


def _name(s: Session, pair: Pair) -> str | None:
    area = s.get(Area, pair)
    if area is not None:
        return area.name
    return s.scalar(
        select(AreaNode.name).where(
            AreaNode.level == COMMUNE, AreaNode.district == pair[0], AreaNode.commune == pair[1]
        )
    )


def merge_communes(
    s: Session, source: Pair, target: Pair, now: datetime, tables: Iterable[Table] | None = None
) -> MergeResult:
    """Merges the commune `source` into `target` (pairs of slugs) inside the caller's transaction. `tables`:
    those whose rows move (default: every table of the models that the database has)."""
    if tables is None:
        present = set(inspect(s.connection()).get_table_names())
        tables = [t for t in Base.metadata.sorted_tables if t.name in present]
    if source == target:
        raise MergeError("Không gộp một xã vào chính nó")
    src_name, dst_name = _name(s, source), _name(s, target)
    if src_name is None:
        raise MergeError(f"Không có xã {'/'.join(source)} trong danh mục địa bàn")
    if dst_name is None:
        raise MergeError(f"Không có xã {'/'.join(target)} trong danh mục địa bàn")
    result = MergeResult(source, target, src_name, dst_name)

    def of(model: type, pair: Pair):  # type: ignore[no-untyped-def]
        return (model.district == pair[0]) & (model.commune == pair[1])  # type: ignore[attr-defined]

    clash = sorted(
        set(s.scalars(select(Village.slug).where(of(Village, source))))
        & set(s.scalars(select(Village.slug).where(of(Village, target))))
    )
    if clash:
        raise MergeError(
            f"Hai xã có thôn trùng mã ({', '.join(clash)}): đổi mã thôn của một xã trước khi gộp"
        )
    taken = set(s.scalars(select(Camera.slug).where(of(Camera, target))))
    for key, slug in s.execute(select(Camera.key, Camera.slug).where(of(Camera, source))).all():
        new = free_slug(slug, source[1], taken)
        taken.add(new)
        if new != slug:
            s.execute(update(Camera).where(Camera.key == key).values(slug=new))
            result.renamed[key] = new

    for t in area_tables(tables):
        cond = (t.c.district == source[0]) & (t.c.commune == source[1])
        n = s.execute(update(t).where(cond).values(district=target[0], commune=target[1])).rowcount  # type: ignore[attr-defined]
        if n:
            result.moved[t.name] = n

    # The tree: A's villages and former names go to B, A's node and display name go.
    dst_node = ensure_commune_node(s, target, dst_name)
    src_node = s.scalar(
        select(AreaNode).where(
            AreaNode.level == COMMUNE, AreaNode.district == source[0], AreaNode.commune == source[1]
        )
    )
    src_code = None
    if src_node is not None:
        src_code = src_node.code
        s.execute(update(AreaNode).where(AreaNode.parent_id == src_node.id).values(parent_id=dst_node.id))
        s.execute(
            update(AreaNode).where(AreaNode.level != COMMUNE, AreaNode.district == source[0], AreaNode.commune == source[1])
            .values(district=target[0], commune=target[1])
        )  # fmt: skip
        known = set(s.scalars(select(AreaAlias.name).where(AreaAlias.node_id == dst_node.id)))
        for alias in s.scalars(select(AreaAlias).where(AreaAlias.node_id == src_node.id)).all():
            if alias.name in known:
                s.delete(alias)
            else:
                alias.node_id = dst_node.id
                known.add(alias.name)
        s.flush()
        s.execute(update(User).where(User.area_id == src_node.id).values(area_id=dst_node.id))
        s.delete(src_node)
    s.execute(delete(AreaAlias).where(AreaAlias.node_id == dst_node.id, AreaAlias.name == src_name))
    s.add(AreaAlias(node_id=dst_node.id, name=src_name, code=src_code, district=source[0], commune=source[1],
                    since=now))  # fmt: skip
    s.execute(delete(Area).where(Area.district == source[0], Area.commune == source[1]))
    s.flush()
    return result


def merged_homes(s: Session) -> dict[Pair, Pair]:
    """Each merged commune's pair → the pair of the commune it lives on in (for devices first heard on an old
    topic after the merge: hub/core/state.py `homes`)."""
    rows = s.execute(
        select(AreaAlias.district, AreaAlias.commune, AreaNode.district, AreaNode.commune)
        .join(AreaNode, AreaNode.id == AreaAlias.node_id)
        .where(AreaAlias.district.is_not(None), AreaAlias.commune.is_not(None))
    ).all()
    return {(a, b): (c, d) for a, b, c, d in rows if a and b and c and d}


def apply_to_store(store: StateStore, result: MergeResult) -> None:
    """The running hub's registry follows the merge: devices of the source now belong to the target (their
    keys, hence their topics, stay); a device first heard on the source's topics later belongs there too. Each
    moved device is queued for the next flush, which writes its new place again whatever flush was under way."""
    src, dst = result.source, result.target
    for cam in store.cameras.values():
        if (cam.district, cam.commune) == src:
            cam.district, cam.commune = dst
            cam.slug = result.renamed.get(cam.key, cam.slug)
            cam.series = None
            store.changes.cameras.add(cam.key)
            store.announce.cameras.add(cam.key)
    for agent in store.agents.values():
        if (agent.district, agent.commune) == src:
            agent.district, agent.commune = dst
            store.changes.agents.add(agent.key)
            store.announce.agents.add(agent.key)
    for old, home in list(store.homes.items()):
        if home == src:
            store.homes[old] = dst
    store.homes[src] = dst
