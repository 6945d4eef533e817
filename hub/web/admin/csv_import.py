"""CSV import of cameras and loudspeakers: upload → preview (every row checked, line numbers in errors) →
apply; and the same through the JSON API (`POST /api/v1/devices/import`, text/csv body, dry run by default).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core import devices_import as di
from hub.core.areas import area_names
from hub.core.camera_points import CameraPoint
from hub.core.devices_csv_fields import export_csv
from hub.core.geo import Village
from hub.core.openapi import ApiRoute, Body, Param
from hub.core.state import CameraState
from hub.web import params
from hub.web.access import Perm, principal, requires
from hub.web.admin.common import admin_page, known_communes, rejected, see_other
from hub.web.context import ctx
from hub.web.errors import ApiError
from hub.web.jsonout import json_response

if TYPE_CHECKING:
    from hub.core.runtime import HubCore

PREVIEW_ROWS = 500  # rows listed in the preview; all are checked


def _parse(s: Session, c: Any, kind: str, text: str) -> tuple[di.ParsedFile, list[di.PlannedChange]]:
    names = area_names(s, c.config)
    villages = [(v.district, v.commune, v.slug) for v in s.scalars(select(Village))]
    points = [(v.district, v.commune, v.slug) for v in s.scalars(select(CameraPoint))]
    parsed = di.parse_devices(kind, text, known_communes(names), villages, points)
    return parsed, di.plan_import(s, parsed)


def imported_in_memory(hub: HubCore, rows: list[dict[str, Any]]) -> None:
    """Puts imported cameras into the running hub's registry so its flush keeps them as imported."""
    store = hub.store
    for r in rows:
        key = f"{r['district']}/{r['commune']}/{r['id']}"
        cam = store.cameras.get(key)
        store.changes.cameras.add(key)  # the web's views follow at the next flush
        if cam is None:
            store.load(
                [CameraState(key, r["district"], r["commune"], r["id"], r["name"], r["agent"], in_db=True)],
                [],
            )
            continue
        cam.name = r["name"]
        if r["agent"]:
            store._assign(cam, r["agent"])  # the store's own bookkeeping of which agent serves which camera
        store.announce.cameras.add(key)


@requires(Perm.MANAGE_DEVICES)
async def import_page(request: web.Request) -> web.StreamResponse:
    counts = {k: params.integer(request, k, 0, 0, di.MAX_ROWS) for k in ("created", "updated", "unchanged")}
    return admin_page(
        request, "admin_import.html", kinds=di.KINDS, result=counts, preview=None, kind="cameras"
    )


async def _read_upload(request: web.Request) -> tuple[str, str]:
    form = await request.post()
    kind = str(form.get("kind", ""))
    upload = form.get("file")
    if isinstance(upload, web.FileField):
        data = upload.file.read(di.MAX_BYTES + 1)
    else:
        text = form.get("csv", "")
        data = text.encode("utf-8") if isinstance(text, str) else b""
    if not data.strip():
        raise di.CsvFileError("Hãy chọn tệp CSV hoặc dán nội dung CSV")
    return kind, di.decode_csv(data)


async def _preview(request: web.Request, kind: str, text: str, status: int = 200) -> web.Response:
    c = ctx(request)
    parsed, plan = await c.db.run(lambda s: _parse(s, c, kind, text))
    counts = {a: sum(1 for ch in plan if ch.action == a) for a in ("create", "update", "same")}
    if parsed.errors:
        c.count("admin_import_rows_rejected", len(parsed.errors) + parsed.more_errors)
        rejected(request, "import", f"{len(parsed.errors) + parsed.more_errors} dòng lỗi")
    return admin_page(
        request,
        "admin_import.html",
        status=400 if parsed.errors else status,
        kinds=di.KINDS,
        kind=kind,
        result=None,
        preview={
            "plan": plan[:PREVIEW_ROWS],
            "hidden": max(0, len(plan) - PREVIEW_ROWS),
            "counts": counts,
            "errors": parsed.errors,
            "more_errors": parsed.more_errors,
            "text": text,
        },
    )


def _bad_file(request: web.Request, exc: di.CsvFileError) -> web.Response:
    rejected(request, "import", str(exc))
    return admin_page(
        request, "admin_import.html", status=400, error=str(exc), kinds=di.KINDS, kind="cameras",
        result=None, preview=None,
    )  # fmt: skip


@requires(Perm.MANAGE_DEVICES)
async def preview_import(request: web.Request) -> web.StreamResponse:
    try:
        kind, text = await _read_upload(request)
        if kind not in di.KINDS:
            raise di.CsvFileError("Hãy chọn loại thiết bị: camera, loa hoặc điểm camera")
        return await _preview(request, kind, text)
    except di.CsvFileError as exc:
        return _bad_file(request, exc)


async def _apply(request: web.Request, kind: str, text: str) -> tuple[di.ParsedFile, di.ImportSummary | None]:
    c, p = ctx(request), principal(request)
    now = c.clock()

    def run(s: Session) -> tuple[di.ParsedFile, di.ImportSummary | None, list[dict[str, Any]]]:
        parsed, plan = _parse(s, c, kind, text)
        if parsed.errors:
            return parsed, None, []
        summary = di.apply_import(s, parsed, actor=p.username, now=now)
        return parsed, summary, [ch.after for ch in plan if ch.action != "same"]

    parsed, summary, changed = await c.db.run(run)
    if summary is not None and kind == "cameras" and c.hub is not None:
        imported_in_memory(c.hub, changed)
    return parsed, summary


@requires(Perm.MANAGE_DEVICES)
async def apply_import(request: web.Request) -> web.StreamResponse:
    try:
        kind, text = await _read_upload(request)
        if kind not in di.KINDS:
            raise di.CsvFileError("Hãy chọn loại thiết bị: camera, loa hoặc điểm camera")
        parsed, summary = await _apply(request, kind, text)
    except di.CsvFileError as exc:
        return _bad_file(request, exc)
    if summary is None:  # the registry changed since the preview and a row no longer fits
        return await _preview(request, kind, text, 400)
    return see_other(
        f"/admin/import?msg=imported&created={summary.created}&updated={summary.updated}&unchanged={summary.unchanged}"
    )


# --- JSON API ---------------------------------------------------------------------------------------------


async def _read_body(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > di.MAX_BYTES:
        raise ApiError(413, "too_large", f"Tệp CSV tối đa {di.MAX_BYTES // (1024 * 1024)} MiB")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > di.MAX_BYTES:
            raise ApiError(413, "too_large", f"Tệp CSV tối đa {di.MAX_BYTES // (1024 * 1024)} MiB")
        chunks.append(chunk)
    return b"".join(chunks)


def _report(parsed: di.ParsedFile, plan: list[di.PlannedChange], applied: bool) -> dict[str, Any]:
    return {
        "kind": parsed.kind,
        "applied": applied,
        "rows": len(parsed.rows),
        "errors": [{"line": e.line, "message": e.message} for e in parsed.errors],
        "more_errors": parsed.more_errors,
        "created": sum(1 for ch in plan if ch.action == "create"),
        "updated": sum(1 for ch in plan if ch.action == "update"),
        "unchanged": sum(1 for ch in plan if ch.action == "same"),
        "changes": [
            {
                "line": ch.row.line,
                "key": ch.row.key,
                "action": ch.action,
                "before": ch.before,
                "after": ch.after,
            }
            for ch in plan
            if ch.action != "same"
        ],
    }


@requires(Perm.MANAGE_DEVICES)
async def api_import(request: web.Request) -> web.StreamResponse:
    """kind and the body's media type are checked against the document before this runs; a body that is not
    UTF-8 is malformed (400), a readable CSV refused for its content is a 422 naming the line."""
    c = ctx(request)
    kind = params.choice(request, "kind", di.KINDS)
    if kind is None:
        raise params_missing("kind")
    dry_run = params.boolean(request, "dry_run", True)
    try:
        text = di.decode_csv(await _read_body(request))
    except di.CsvFileError as exc:
        c.count("admin_rejected_import")
        raise ApiError(400, "bad_csv", str(exc)) from None
    try:
        if dry_run:
            parsed, plan = await c.db.run(lambda s: _parse(s, c, kind, text))
            return json_response(_report(parsed, plan, False))
        parsed, summary = await _apply(request, kind, text)
    except di.CsvFileError as exc:
        c.count("admin_rejected_import")
        raise ApiError(422, "bad_csv", str(exc)) from None
    if summary is None:
        c.count("admin_import_rows_rejected", len(parsed.errors) + parsed.more_errors)
        first = parsed.errors[0]
        raise ApiError(
            422,
            "bad_csv",
            f"{len(parsed.errors) + parsed.more_errors} dòng lỗi, không nhập gì; dòng {first.line}: {first.message}",
        )
    return json_response(
        {"kind": kind, "applied": True, "rows": len(parsed.rows), "errors": [], "more_errors": 0,
         "created": summary.created, "updated": summary.updated, "unchanged": summary.unchanged,
         "changes": [{"key": k} for k in summary.changed_keys]}
    )  # fmt: skip


@requires(Perm.MANAGE_DEVICES)
async def api_export(request: web.Request) -> web.StreamResponse:
    """The registry in the import's own columns: exporting then importing the file changes nothing."""
    c = ctx(request)
    kind = params.choice(request, "kind", di.KINDS)
    if kind is None:
        raise params_missing("kind")
    district, commune = params.slug(request, "district"), params.slug(request, "commune")
    body = await c.db.run(lambda s: export_csv(s, kind, di.COLUMNS[kind], district, commune))
    return web.Response(
        body=body,
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{kind}.csv"'},
    )


def params_missing(name: str) -> ApiError:
    return ApiError(400, "bad_parameter", f"Thiếu tham số '{name}'")


IMPORT_REPORT = {
    "type": "object",
    "required": ["kind", "applied", "rows", "errors", "created", "updated", "unchanged", "changes"],
    "properties": {
        "kind": {"type": "string", "enum": list(di.KINDS)},
        "applied": {"type": "boolean"},
        "rows": {"type": "integer"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"line": {"type": "integer"}, "message": {"type": "string"}},
            },
        },
        "more_errors": {"type": "integer"},
        "created": {"type": "integer"},
        "updated": {"type": "integer"},
        "unchanged": {"type": "integer"},
        "changes": {"type": "array", "items": {"type": "object"}},
    },
}

ROUTES = [
    ApiRoute(
        "POST",
        "/devices/import",
        api_import,
        "Import cameras or speakers from a UTF-8 CSV body (text/csv); dry run unless dry_run=false",
        (
            Param(
                "kind",
                "cameras, speakers or points",
                {"type": "string", "enum": list(di.KINDS)},
                required=True,
            ),
            Param("dry_run", "Check and preview only (default true)", {"type": "boolean"}),
        ),
        IMPORT_REPORT,
        errors=(400, 401, 403, 413, 415, 422),
        body=Body(
            {"text/csv": {"type": "string", "description": "UTF-8 (BOM allowed), ',' or ';', header first"}},
            description="The CSV file itself, at most 2 MiB",
        ),
    ),
    ApiRoute(
        "GET",
        "/devices/export",
        api_export,
        "The registry of cameras, speakers or camera points as CSV, in the columns the import reads",
        (
            Param(
                "kind",
                "cameras, speakers or points",
                {"type": "string", "enum": list(di.KINDS)},
                required=True,
            ),
            Param("district", "Only this district (slug)", params.SLUG),
            Param("commune", "Only this commune (slug)", params.SLUG),
        ),
        {"type": "string", "description": "UTF-8 CSV with BOM, header first"},
        content_type="text/csv",
        errors=(400, 401, 403),
    ),
]


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin/import", import_page)
    app.router.add_post("/admin/import", preview_import)
    app.router.add_post("/admin/import/apply", apply_import)
