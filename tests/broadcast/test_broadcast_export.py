"""Airing reports export for upward reporting: JSON valid against the published JSON Schema, CSV with the
documented columns, the caller's scope, and the period checks."""

from __future__ import annotations

import csv
import io
import json

import jsonschema_rs

from broadcast.airings.export import CSV_COLUMNS, EXPORT_SCHEMA
from tests.broadcast.test_broadcast_reporting import OTHER, C, env  # noqa: F401  (fixture)
from tests.edge_support import REPO
from tests.fixtures_web import WebEnv

NOV = "from=2026-11-01T00:00:00%2B07:00&to=2026-12-01T00:00:00%2B07:00"


def test_published_schema_file_is_the_one_the_api_serves() -> None:
    published = json.loads(
        (REPO / "docs" / "schemas" / "airings-export.schema.json").read_text(encoding="utf-8")
    )
    assert published == EXPORT_SCHEMA


async def test_export_json_follows_the_schema_and_the_scope(env: WebEnv) -> None:  # noqa: F811
    await env.login("congan")  # police: no broadcasts permission
    assert (await env.client.get(f"/api/v1/broadcasts/airings/export?{NOV}")).status == 403
    env.client.session.cookie_jar.clear()  # a fresh browser per user
    await env.login("canbo")
    r = await env.client.get(f"/api/v1/broadcasts/airings/export?{NOV}")
    assert r.status == 200
    doc = await r.json()
    jsonschema_rs.validator_for(EXPORT_SCHEMA).validate(doc)
    assert [a["airing_id"] for a in doc["airings"]] == ["tb-0", "tb-1"]  # not the other commune, not December
    first = doc["airings"][0]
    assert (first["tt39_level"], first["played"], first["targeted"]) == (1, 2, 3)
    assert (first["offset_ms_min"], first["offset_ms_max"]) == (0.4, 2.7)
    loa3 = next(x for x in first["speakers"] if x["speaker"] == "loa-3")
    assert loa3["played"] is False and loa3["error"] == "loa mất kết nối"

    env.client.session.cookie_jar.clear()
    env.add_user("tinh", role="admin")
    await env.login("tinh")
    doc = await (await env.client.get(f"/api/v1/broadcasts/airings/export?{NOV}")).json()
    other = next(a for a in doc["airings"] if a["commune"] == OTHER)
    assert other["tt39_level"] == 3 and other["commune"] != C


async def test_export_csv_has_the_documented_columns(env: WebEnv) -> None:  # noqa: F811
    await env.login("canbo")
    r = await env.client.get(f"/api/v1/broadcasts/airings/export?{NOV}&format=csv")
    assert r.status == 200 and r.content_type == "text/csv"
    rows = list(csv.reader(io.StringIO((await r.read()).decode("utf-8-sig"))))
    assert tuple(rows[0]) == CSV_COLUMNS
    row = dict(zip(rows[0], rows[1], strict=True))
    assert (
        row["airing_id"] == "tb-0" and row["start_at"] == "2026-11-12T10:00:00Z" and row["skew_ms"] == "2.3"
    )


async def test_export_period_is_checked(env: WebEnv) -> None:  # noqa: F811
    await env.login("canbo")
    base = "/api/v1/broadcasts/airings/export"
    r = await env.client.get(f"{base}?from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z")
    assert r.status == 422 and (await r.json())["error"]["field"] == "to"
    r = await env.client.get(f"{base}?from=2024-01-01T00:00:00Z&to=2026-11-01T00:00:00Z")
    assert r.status == 422
    assert (await env.client.get(f"{base}?to=2026-11-01T00:00:00Z")).status in (400, 422)
    assert (await env.client.get(f"{base}?{NOV}&format=xml")).status == 400


async def test_playout_history_carries_the_offsets(env: WebEnv) -> None:  # noqa: F811
    await env.login("canbo")
    body = await (await env.client.get("/api/v1/airings?month=2026-11")).json()
    first = next(a for a in body["airings"] if a["id"] == "tb-0")
    assert (first["offset_ms_min"], first["offset_ms_max"], first["skew_ms"]) == (0.4, 2.7, 2.3)
