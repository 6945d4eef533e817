"""The audit log page and route: filters (actor, action, target, local dates), before/after diff, paging,
and sign-in events written by the login handlers."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.cli import main
from hub.compose import open_database
from hub.core.audit import AuditEntry, record_change
from hub.web.admin.audit import diff_rows
from tests.fixtures_web import WebEnv, sign_in


def _seed(web: WebEnv) -> None:
    with web.db.session() as s, s.begin():
        # 16:30 UTC on 1 Nov is 23:30 on 1 Nov in Hà Nội; 17:30 UTC is already 2 Nov there.
        record_change(s, actor="an", action="user.create", target="user:binh", now=datetime(2026, 11, 1, 16, 30),
                      after={"role": "police", "district": "soc-son"})  # fmt: skip
        record_change(s, actor="an", action="user.update", target="user:binh", now=datetime(2026, 11, 1, 17, 30),
                      before={"role": "police", "full_name": None},
                      after={"role": "technician", "full_name": "Bình"})  # fmt: skip
        record_change(s, actor="cuong", action="camera.import", target="camera:soc-son/phu-linh/cho",
                      now=datetime(2026, 11, 3, 2), after={"name": "Chợ Phù Linh"},
                      district="soc-son", commune="phu-linh")  # fmt: skip


def test_diff_marks_changed_fields() -> None:
    rows = diff_rows({"role": "police", "name": "A"}, {"role": "admin", "name": "A", "x": 1})
    assert [(r["field"], r["changed"]) for r in rows] == [("role", True), ("name", False), ("x", True)]
    assert [r["changed"] for r in diff_rows(None, {"a": 1})] == [False]


async def test_filters_and_diff_on_the_page(web: WebEnv) -> None:
    _seed(web)
    web.add_user("quantri", "admin")
    sign_in(web, "quantri")
    html = await (await web.client.get("/admin/audit?actor=an")).text()
    assert "user:binh" in html and "camera:soc-son" not in html
    assert 'class="changed"><th title="role">Vai trò</th><td>police</td><td>technician</td>' in html
    html = await (await web.client.get("/admin/audit?action=camera.")).text()
    assert "Chợ Phù Linh" in html and "user:binh" not in html
    html = await (await web.client.get("/admin/audit?from=2026-11-02&to=2026-11-02")).text()
    assert "<code>user.update</code>" in html
    assert "<code>user.create</code>" not in html and "<code>camera.import</code>" not in html
    assert "00:30:00 02/11/2026" in html  # shown in local time
    html = await (await web.client.get("/admin/audit?target=phu-linh")).text()
    assert "camera.import" in html and "user:binh" not in html
    r = await web.client.get("/admin/audit?from=hom-qua")
    assert r.status == 400 and "YYYY-MM-DD" in await r.text()


async def test_api_pages_back_and_logins_are_logged(web: WebEnv) -> None:
    _seed(web)
    web.add_user("quantri", "admin")
    await web.client.post("/login", data={"username": "quantri", "password": "sai-mat-khau-1", "csrf": "x"})
    await web.login("quantri", "sai-mat-khau-12")  # wrong password
    await web.login("quantri")
    r = await web.client.get("/api/v1/audit?limit=2")
    page = await r.json()
    assert r.status == 200 and page["more"] is True and len(page["items"]) == 2
    assert [i["action"] for i in page["items"]] == ["auth.login", "auth.login_failed"]
    r = await web.client.get(f"/api/v1/audit?limit=10&before={page['items'][-1]['id']}")
    older = (await r.json())["items"]
    assert [i["action"] for i in older] == ["camera.import", "user.update", "user.create"]
    by_cursor = await (await web.client.get(f"/api/v1/audit?limit=10&cursor={page['next_cursor']}")).json()
    assert by_cursor["items"] == older and by_cursor["next_cursor"] is None
    assert older[0]["at"] == "2026-11-03T02:00:00Z"
    csrf = await web.page_csrf("/")
    await web.client.post("/logout", data={"csrf": csrf})
    with web.db.session() as s:
        last = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert last is not None and (last.action, last.actor) == ("auth.logout", "quantri")


async def test_only_roles_with_the_permission_read_it(web: WebEnv) -> None:
    _seed(web)
    web.add_user("kythuat", "technician", district="soc-son")
    sign_in(web, "kythuat")
    assert (await web.client.get("/admin/audit")).status == 403
    assert (await web.client.get("/api/v1/audit")).status == 403


def test_command_line_changes_are_audited_as_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "hub.yaml"
    cfg.write_text(f"database:\n  url: sqlite:///{tmp_path}/hub.db\n", encoding="utf-8")
    base = ["--config", str(cfg)]
    assert (
        main(
            [
                *base,
                "user",
                "add",
                "bot",
                "--role",
                "technician",
                "--province-wide",
                "--password",
                "du-dai-roi-day",
            ]
        )
        == 0
    )
    assert main([*base, "token", "create", "--user", "bot", "--name", "giám sát"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert main([*base, "token", "revoke", "1"]) == 0
    db = open_database(f"sqlite:///{tmp_path}/hub.db")
    try:
        with db.session() as s:
            rows = [
                (e.actor, e.action, e.target) for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))
            ]
            text = str([(e.before, e.after) for e in s.scalars(select(AuditEntry))])
    finally:
        db.close()
    assert rows == [
        ("cli", "user.create", "user:bot"),
        ("cli", "token.create", "token:1"),
        ("cli", "token.revoke", "token:1"),
    ]
    assert token not in text and "du-dai-roi-day" not in text
