"""Admin page for districts, communes (the `areas` table) and villages (thôn/xóm).

Areas named in the hub config are synced from the file at every start, so the page shows them read-only;
others are created, renamed and deleted here. Nothing still in use (devices, users, villages) is deleted.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contract.topics import is_slug
from hub.core.area_tree import former_label, load_aliases, load_tree
from hub.core.areas import area_names, config_area_names
from hub.core.audit import record_change
from hub.core.db import Agent, Area, Camera, User
from hub.core.geo import Village
from hub.core.speaker_models import Speaker
from hub.web.access import Perm, principal, requires
from hub.web.admin.common import FormError, admin_page, apply_change, field, refuse
from hub.web.context import ctx


def _slug(form: Any, name: str, label: str, required: bool = True) -> str:
    value = field(form, name, label, max_len=64, required=required)
    if value and not is_slug(value):
        raise FormError(f"{label} {value!r} không hợp lệ: chữ thường không dấu, số, '_' hoặc '-'")
    return value


async def _areas_page(request: web.Request, status: int = 200, error: str | None = None) -> web.Response:
    c = ctx(request)
    fixed = config_area_names(c.config)

    def load(s: Session) -> dict[str, Any]:
        names = area_names(s, c.config)
        aliases = load_aliases(s)
        tree = [
            {**row, "former": former_label(row["aliases"])}  # type: ignore[arg-type]
            for row in load_tree(s).rows(aliases)
        ]
        former = {(n.district, n.commune): r["former"] for r in tree if r["former"] and (n := r["node"])}  # type: ignore[attr-defined]
        villages = s.scalars(select(Village).order_by(Village.district, Village.commune, Village.name)).all()
        return {
            "tree": tree,
            "districts": [
                {"district": d, "name": n, "fixed": (d, "") in fixed} for (d, cm), n in sorted(names.items()) if not cm
            ],
            "communes": [
                {"district": d, "commune": cm, "name": n, "district_name": names.get((d, ""), d), "fixed": (d, cm) in fixed,
                 "former": "" if "(trước đây:" in n else former.get((d, cm), "")}
                for (d, cm), n in sorted(names.items())
                if cm
            ],
            "villages": [
                {"district": v.district, "commune": v.commune, "slug": v.slug, "name": v.name,
                 "commune_name": names.get((v.district, v.commune), v.commune)}
                for v in villages
            ],
        }  # fmt: skip

    data = await c.db.run(load)
    return admin_page(request, "admin_areas.html", status=status, error=error, **data)


async def areas_page_again(request: web.Request, status: int, error: str | None) -> web.Response:
    return await _areas_page(request, status, error)


@requires(Perm.MANAGE_DEVICES)
async def areas_page(request: web.Request) -> web.StreamResponse:
    return await _areas_page(request)


@requires(Perm.MANAGE_DEVICES)
async def save_area(request: web.Request) -> web.StreamResponse:
    c, p = ctx(request), principal(request)
    form = await request.post()
    try:
        district = _slug(form, "district", "Mã huyện")
        commune = _slug(form, "commune", "Mã xã", required=False)
        name = field(form, "name", "Tên")
        if (district, commune) in config_area_names(c.config):
            raise FormError("Địa bàn này khai báo trong tệp cấu hình hub; hãy sửa tên ở đó")
    except FormError as exc:
        return await refuse(request, "area", str(exc), _areas_page)
    now = c.clock()

    def save(s: Session) -> str | None:
        if commune and s.get(Area, (district, "")) is None and district not in c.config.districts:
            return f"Huyện {district!r} chưa có; hãy tạo huyện trước"
        row = s.get(Area, (district, commune))
        before = {"name": row.name} if row is not None else None
        if row is None:
            row = Area(district=district, commune=commune, name=name)
            s.add(row)
        elif row.name == name:
            return None
        row.name = name
        record_change(
            s, actor=p.username, action="area.update" if before else "area.create",
            target=f"area:{district}/{commune}" if commune else f"area:{district}", now=now,
            before=before, after={"name": name}, district=district, commune=commune or None,
        )  # fmt: skip
        return None

    return await apply_change(request, "area", save, _areas_page, "/admin/areas?msg=area_saved")


def _area_in_use(s: Session, district: str, commune: str) -> str | None:
    def count(model: Any) -> int:
        stmt = select(func.count()).select_from(model).where(model.district == district)
        if commune:
            stmt = stmt.where(model.commune == commune)
        return int(s.scalar(stmt) or 0)

    uses = {
        "camera": count(Camera),
        "edge agent": count(Agent),
        "loa": count(Speaker),
        "người dùng": count(User),
        "thôn/xóm": count(Village),
    }
    if not commune:
        uses["xã"] = int(
            s.scalar(
                select(func.count()).select_from(Area).where(Area.district == district, Area.commune != "")
            )
            or 0
        )
    used = [f"{n} {what}" for what, n in uses.items() if n]
    return ", ".join(used) if used else None


@requires(Perm.MANAGE_DEVICES)
async def delete_area(request: web.Request) -> web.StreamResponse:
    c, p = ctx(request), principal(request)
    form = await request.post()
    try:
        district = _slug(form, "district", "Mã huyện")
        commune = _slug(form, "commune", "Mã xã", required=False)
        if (district, commune) in config_area_names(c.config):
            raise FormError("Địa bàn này khai báo trong tệp cấu hình hub; hãy xoá ở đó")
    except FormError as exc:
        return await refuse(request, "area_delete", str(exc), _areas_page)
    now = c.clock()

    def delete(s: Session) -> str | None:
        row = s.get(Area, (district, commune))
        if row is None:
            return "Không có địa bàn này"
        used = _area_in_use(s, district, commune)
        if used:
            return f"Không xoá được {row.name}: còn {used} thuộc địa bàn này"
        record_change(
            s, actor=p.username, action="area.delete",
            target=f"area:{district}/{commune}" if commune else f"area:{district}", now=now,
            before={"name": row.name}, district=district, commune=commune or None,
        )  # fmt: skip
        s.delete(row)
        return None

    return await apply_change(request, "area_delete", delete, _areas_page, "/admin/areas?msg=area_deleted")


@requires(Perm.MANAGE_DEVICES)
async def save_village(request: web.Request) -> web.StreamResponse:
    c, p = ctx(request), principal(request)
    form = await request.post()
    try:
        district, _, commune = field(form, "area", "Xã", max_len=130).partition("/")
        if not (is_slug(district) and is_slug(commune)):
            raise FormError("Xã: hãy chọn một xã trong danh sách")
        slug = _slug(form, "slug", "Mã thôn")
        name = field(form, "name", "Tên thôn")
    except FormError as exc:
        return await refuse(request, "village", str(exc), _areas_page)
    now = c.clock()

    def save(s: Session) -> str | None:
        if (district, commune) not in area_names(s, c.config):
            return f"Xã {district}/{commune} chưa có trong danh mục địa bàn"
        row = s.get(Village, (district, commune, slug))
        before = {"name": row.name} if row is not None else None
        if row is None:
            row = Village(district=district, commune=commune, slug=slug, name=name)
            s.add(row)
        elif row.name == name:
            return None
        row.name = name
        record_change(
            s, actor=p.username, action="village.update" if before else "village.create",
            target=f"village:{district}/{commune}/{slug}", now=now, before=before, after={"name": name},
            district=district, commune=commune,
        )  # fmt: skip
        return None

    return await apply_change(request, "village", save, _areas_page, "/admin/areas?msg=village_saved")


@requires(Perm.MANAGE_DEVICES)
async def delete_village(request: web.Request) -> web.StreamResponse:
    c, p = ctx(request), principal(request)
    form = await request.post()
    try:
        district = _slug(form, "district", "Mã huyện")
        commune = _slug(form, "commune", "Mã xã")
        slug = _slug(form, "slug", "Mã thôn")
    except FormError as exc:
        return await refuse(request, "village_delete", str(exc), _areas_page)
    now = c.clock()

    def delete(s: Session) -> str | None:
        row = s.get(Village, (district, commune, slug))
        if row is None:
            return "Không có thôn/xóm này"
        speakers = s.scalar(
            select(func.count())
            .select_from(Speaker)
            .where(Speaker.district == district, Speaker.commune == commune, Speaker.village == slug)
        )
        if speakers:
            return f"Không xoá được {row.name}: còn {speakers} loa thuộc thôn này"
        record_change(
            s, actor=p.username, action="village.delete", target=f"village:{district}/{commune}/{slug}",
            now=now, before={"name": row.name}, district=district, commune=commune,
        )  # fmt: skip
        s.delete(row)
        return None

    return await apply_change(
        request, "village_delete", delete, _areas_page, "/admin/areas?msg=village_deleted"
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin/areas", areas_page)
    app.router.add_post("/admin/areas", save_area)
    app.router.add_post("/admin/areas/delete", delete_area)
    app.router.add_post("/admin/villages", save_village)
    app.router.add_post("/admin/villages/delete", delete_village)
