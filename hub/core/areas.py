"""Display names of districts and communes, one rule for every reader (pages, API, admin, notifications)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core.area_tree import AreaAlias, AreaNode, former_label
from hub.core.config import CoreConfig
from hub.core.db import Area

AreaNames = dict[tuple[str, str], str]  # (district, commune) → display name; commune "" names the district


def config_area_names(config: CoreConfig) -> AreaNames:
    """The areas named in the hub config file."""
    names: AreaNames = {}
    for d_slug, d in config.districts.items():
        names[(d_slug, "")] = d.name
        for c_slug, c_name in d.communes.items():
            names[(d_slug, c_slug)] = c_name
    return names


def area_names(s: Session, config: CoreConfig) -> AreaNames:
    """Every known area's display name: the `areas` rows, with the config file winning for the areas it names.

    The config is the source of truth for its own areas: the hub copies them into `areas` at every start
    (hub.core.persist.sync_areas) and the admin page shows them read-only ("edit the name in the file"), so an
    `areas` row can only differ from the file while it is stale. Areas the file does not name are created and
    renamed on the admin page and exist only as rows.
    """
    names: AreaNames = {(a.district, a.commune or ""): a.name for a in s.scalars(select(Area))}
    names.update(config_area_names(config))
    # Communes merged on this hub: the name people knew stays beside the new one, on every page and in search
    # ("Xã Đông Tiến (trước đây: Xã Đông Anh)"). Former names from the 2025 reform itself are on the admin page.
    former: dict[tuple[str, str], list[str]] = {}
    rows = s.execute(
        select(AreaNode.district, AreaNode.commune, AreaAlias.name, AreaAlias.district, AreaAlias.commune)
        .join(AreaNode, AreaNode.id == AreaAlias.node_id)
        .where(AreaAlias.district.is_not(None))
        .order_by(AreaAlias.since, AreaAlias.name)
    ).all()
    for d, c, name, old_d, old_c in rows:
        names.pop((old_d or "", old_c or ""), None)  # merged away, though the config file may still name it
        if d and c:
            former.setdefault((d, c), []).append(name)
    for pair, olds in former.items():
        if pair in names:
            names[pair] = f"{names[pair]} ({former_label(olds)})"
    return names
