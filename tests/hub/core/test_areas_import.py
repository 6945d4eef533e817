"""The area tree seeded from the official 2025 data (`python -m hub areas import`): Thanh Hóa's 166 communes and
wards with their codes under their former districts, the former communes as former names; idempotent; a commune
merged on this hub stays merged."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hub.cli import main
from hub.compose import open_database
from hub.core.area_merge import merge_communes
from hub.core.area_tree import COMMUNE, GROUP, PROVINCE, AreaAlias, AreaNode, load_tree
from hub.core.areas_import import OfficialDataError, load_province, slugify
from hub.core.audit import AuditEntry
from hub.core.db import Area


def test_slugs_of_vietnamese_names() -> None:
    assert slugify("Phường Hàm Rồng") == "phuong-ham-rong"
    assert slugify("Xã Đông Tiến") == "xa-dong-tien"
    assert slugify("  Thị xã Nghi Sơn (cũ) ") == "thi-xa-nghi-son-cu"


def test_thanh_hoa_from_the_package() -> None:
    prov = load_province("tỉnh thanh hoá")  # any case, accents, with or without the prefix
    assert (prov.code, prov.name, len(prov.communes)) == ("38", "Tỉnh Thanh Hóa", 166)
    assert prov.source.startswith("vietnamadminunits ")
    codes = {c.code for c in prov.communes}
    assert len(codes) == 166 and len({(c.district_slug, c.slug) for c in prov.communes}) == 166
    ham_rong = next(c for c in prov.communes if c.name == "Phường Hàm Rồng")
    assert (ham_rong.code, ham_rong.slug, ham_rong.district_slug) == ("14758", "ham-rong", "thanh-hoa")
    assert {"Phường Đông Thọ", "Phường Nam Ngạn"} <= {f.name for f in ham_rong.former}
    assert prov.districts["thanh-hoa"] == "Thành phố Thanh Hóa (cũ)"
    with pytest.raises(OfficialDataError, match="Không có tỉnh"):
        load_province("Atlantis")


def _config(tmp_path: Path, url: str) -> str:
    path = tmp_path / "hub.yaml"
    path.write_text(
        f"data_dir: {tmp_path / 'data'}\ninflux: {{enabled: false}}\nmqtt: {{port: 1}}\n"
        f"database: {{url: '{url}', auto_upgrade: true}}\n"
    )
    return str(path)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_import_is_idempotent_and_keeps_merges(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'hub.db'}" if backend == "sqlite" else request.getfixturevalue("postgres_db")
    )
    cfg = _config(tmp_path, url)
    assert main(["--config", cfg, "areas", "import"]) == 0
    first = capsys.readouterr().out
    assert "166 xã/phường" in first and "166 commune" in first
    db = open_database(url)
    try:
        with db.session() as s:
            levels = dict(s.execute(select(AreaNode.level, func.count()).group_by(AreaNode.level)).all())
            assert levels[PROVINCE] == 1 and levels[COMMUNE] == 166 and levels[GROUP] == 26
            nodes = s.scalar(select(func.count()).select_from(AreaNode))
            aliases = s.scalar(select(func.count()).select_from(AreaAlias))
            assert aliases is not None and aliases > 300
            tree = load_tree(s)
            root = next(n for n in tree.nodes.values() if n.level == PROVINCE)
            assert len(tree.commune_pairs(root.id)) == 166
            assert s.get(Area, ("thanh-hoa", "ham-rong")).name == "Phường Hàm Rồng"  # type: ignore[union-attr]
            assert (
                s.scalar(
                    select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "areas.import")
                )
                == 1
            )
        assert main(["--config", cfg, "areas", "import"]) == 0  # again: nothing new, nothing changed
        again = capsys.readouterr().out
        assert "Tạo mới: không có gì mới; cập nhật: không." in again
        with db.session() as s:
            assert s.scalar(select(func.count()).select_from(AreaNode)) == nodes
            assert s.scalar(select(func.count()).select_from(AreaAlias)) == aliases
            assert (
                s.scalar(
                    select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "areas.import")
                )
                == 1
            )
        # An administrator merges Phường Hàm Rồng into Phường Hạc Thành; a later import does not bring it back.
        with db.session() as s, s.begin():
            merge_communes(s, ("thanh-hoa", "ham-rong"), ("thanh-hoa", "hac-thanh"), datetime(2026, 12, 1))
        assert main(["--config", cfg, "areas", "import"]) == 0
        assert "1 merged_kept" in capsys.readouterr().out
        with db.session() as s:
            assert load_tree(s).commune_of("thanh-hoa", "ham-rong") is None
            assert s.scalar(select(func.count()).select_from(AreaNode)) == nodes - 1
        assert main(["--config", cfg, "areas", "list"]) == 0
        listing = capsys.readouterr().out
        assert (
            "Phường Hạc Thành 14797 [thanh-hoa/hac-thanh] (trước đây:" in listing
            and "Phường Hàm Rồng" in listing
        )
    finally:
        db.close()
