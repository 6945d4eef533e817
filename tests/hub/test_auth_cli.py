"""`python -m hub` user/token/check-config commands against a real SQLite file."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from hub.cli import main
from hub.compose import open_database
from hub.core import auth
from hub.core.db import ApiToken, User, utcnow

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    p = tmp_path / "hub.yaml"
    p.write_text(
        f"database:\n  url: sqlite:///{tmp_path}/data/hub.db\nhttp:\n  port: 18080\n", encoding="utf-8"
    )
    return p


def run(cfg: Path, *args: str, stdin: str = "", monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return main(["--config", str(cfg), *args])


def test_user_add_list_passwd_and_if_missing(
    cfg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(
        cfg,
        "user",
        "add",
        "canbo.soc-son",
        "--role",
        "police",
        "--district",
        "soc-son",
        "--name",
        "Nguyễn Văn An",
        "--password-stdin",
        stdin="mat-khau-rat-dai\n",
        monkeypatch=monkeypatch,
    )
    assert code == 0 and "Đã tạo" in capsys.readouterr().out
    db = open_database(f"sqlite:///{tmp_path}/data/hub.db")
    with db.session() as s:
        u = s.query(User).filter_by(username="canbo.soc-son").one()
        assert u.full_name == "Nguyễn Văn An" and u.district == "soc-son" and u.commune is None
        assert auth.verify_password(u.password_hash, "mat-khau-rat-dai")
        first_hash = u.password_hash
    # existing user: error 3, or a quiet 0 with --if-missing (and no change)
    args = ("user", "add", "canbo.soc-son", "--role", "admin", "--password-stdin")
    assert run(cfg, *args, stdin="mat-khau-khac-han\n", monkeypatch=monkeypatch) == 3
    assert "đã tồn tại" in capsys.readouterr().err
    assert run(cfg, *args, "--if-missing", stdin="mat-khau-khac-han\n", monkeypatch=monkeypatch) == 0
    with db.session() as s:
        u = s.query(User).filter_by(username="canbo.soc-son").one()
        assert u.role == "police" and u.password_hash == first_hash

    assert (
        run(
            cfg,
            "user",
            "passwd",
            "canbo.soc-son",
            "--password-stdin",
            stdin="mat-khau-moi-nhe\n",
            monkeypatch=monkeypatch,
        )
        == 0
    )
    with db.session() as s:
        u = s.query(User).filter_by(username="canbo.soc-son").one()
        assert auth.verify_password(u.password_hash, "mat-khau-moi-nhe")
    assert run(cfg, "user", "passwd", "ai-do", "--password", "mat-khau-moi-nhe", monkeypatch=monkeypatch) == 1
    capsys.readouterr()
    assert run(cfg, "user", "list", monkeypatch=monkeypatch) == 0
    out = capsys.readouterr().out
    assert "canbo.soc-son" in out and "soc-son" in out and "Nguyễn Văn An" in out and "mat-khau" not in out
    db.close()


def test_user_add_rejects_bad_input(
    cfg: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        run(
            cfg,
            "user",
            "add",
            "a1",
            "--role",
            "police",
            "--province-wide",
            "--password",
            "ngan",
            monkeypatch=monkeypatch,
        )
        == 1
    )
    assert "ít nhất 10" in capsys.readouterr().err
    assert (
        run(
            cfg,
            "user",
            "add",
            "Bad Name",
            "--role",
            "police",
            "--password",
            "du-dai-roi-day",
            monkeypatch=monkeypatch,
        )
        == 2
    )
    assert (
        run(
            cfg,
            "user",
            "add",
            "x1",
            "--role",
            "police",
            "--commune",
            "phu-linh",
            "--password",
            "du-dai-roi-day",
            monkeypatch=monkeypatch,
        )
        == 2
    )
    assert "--district" in capsys.readouterr().err
    # no password source and stdin is not a terminal
    assert (
        run(cfg, "user", "add", "x2", "--role", "police", "--district", "soc-son", monkeypatch=monkeypatch)
        == 2
    )
    # no area and no explicit --province-wide: not the whole province by accident
    assert (
        run(
            cfg,
            "user",
            "add",
            "x3",
            "--role",
            "police",
            "--password",
            "du-dai-roi-day",
            monkeypatch=monkeypatch,
        )
        == 2
    )
    assert "--province-wide" in capsys.readouterr().err


def test_tokens_create_list_revoke(
    cfg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        run(
            cfg,
            "user",
            "add",
            "bot",
            "--role",
            "technician",
            "--province-wide",
            "--password",
            "du-dai-roi-day",
            monkeypatch=monkeypatch,
        )
        == 0
    )
    capsys.readouterr()
    assert run(cfg, "token", "create", "--user", "bot", "--name", "Grafana", monkeypatch=monkeypatch) == 0
    out = capsys.readouterr()
    token = out.out.strip()
    assert token.startswith("ops_") and "một lần" in out.err
    db = open_database(f"sqlite:///{tmp_path}/data/hub.db")
    with db.session() as s:
        row = s.query(ApiToken).one()
        assert row.token_hash == auth.sha256_hex(token) and token not in row.prefix + row.token_hash
        token_id = row.id
    assert run(cfg, "token", "list", monkeypatch=monkeypatch) == 0
    listing = capsys.readouterr().out
    assert "Grafana" in listing and "còn hiệu lực" in listing and token not in listing
    assert run(cfg, "token", "revoke", str(token_id), monkeypatch=monkeypatch) == 0
    with db.session() as s:
        assert auth.load_token(s, token, utcnow()) is None
    assert run(cfg, "token", "revoke", "999", monkeypatch=monkeypatch) == 1
    assert run(cfg, "token", "create", "--user", "nobody", "--name", "x", monkeypatch=monkeypatch) == 1
    db.close()


def test_config_errors_exit_2_and_check_config(tmp_path: Path, cfg: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("http:\n  port: 99999\n  colour: red\n", encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "HUB_CONFIG": str(bad)}
    r = subprocess.run(
        [sys.executable, "-m", "hub", "check-config"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert "http.port" in r.stderr and "http.colour" in r.stderr and "line 2" in r.stderr
    r = subprocess.run(
        [sys.executable, "-m", "hub", "check-config", "--config", str(cfg)],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0 and "hợp lệ" in r.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "hub", "--config", str(tmp_path / "none.yaml"), "user", "list"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 2 and "cannot read" in missing.stderr
