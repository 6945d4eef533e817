"""scripts/bootstrap.sh: reports what is missing, explains itself to a user who cannot install, refuses a venv
from the wrong interpreter. (The full install is exercised by `make test` itself on a fresh clone.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FAKE_PACKAGE = "ops-test-no-such-package"


@pytest.fixture
def checkout() -> Iterator[Path]:
    """A bare copy of what bootstrap.sh reads, readable by an unprivileged user."""
    tmp = Path(tempfile.mkdtemp(prefix="ops-bootstrap-"))
    (tmp / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "bootstrap.sh", tmp / "scripts" / "bootstrap.sh")
    shutil.copy(ROOT / "pyproject.toml", tmp / "pyproject.toml")
    shutil.copy(ROOT / "requirements-dev.lock", tmp / "requirements-dev.lock")
    for p in (tmp, tmp / "scripts"):
        p.chmod(0o755)
    yield tmp
    shutil.rmtree(tmp, ignore_errors=True)


def run(
    checkout: Path, *args: str, as_user: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    cmd = ["bash", str(checkout / "scripts" / "bootstrap.sh"), *args]
    if as_user and os.geteuid() == 0:
        cmd = ["runuser", "-u", as_user, "--", *cmd]
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/tmp", **env}
    return subprocess.run(
        cmd, capture_output=True, text=True, env=full_env, timeout=60, stdin=subprocess.DEVNULL
    )


def test_check_reports_a_missing_venv(checkout: Path) -> None:
    r = run(checkout, "--check")
    assert r.returncode == 1
    assert ".venv does not exist" in r.stdout
    assert not (checkout / ".venv").exists(), "--check must change nothing"


def test_check_reports_missing_packages(checkout: Path) -> None:
    r = run(checkout, "--check", BOOTSTRAP_EXTRA_PACKAGES=FAKE_PACKAGE)
    assert r.returncode == 1
    assert f"missing Debian packages: {FAKE_PACKAGE}" in r.stdout
    # The real list is installed on this machine: only the fake one is reported.
    assert "mosquitto" not in r.stdout.split("missing Debian packages:")[1].splitlines()[0]


def test_check_refuses_a_venv_from_another_python(checkout: Path) -> None:
    venv = checkout / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to("/usr/bin/python3")
    (venv / "pyvenv.cfg").write_text("home = /root/.pyenv/versions/3.11.7/bin\n")
    r = run(checkout, "--check")
    assert r.returncode == 1
    assert "was not made from /usr/bin/python3" in r.stdout


def test_unknown_option_is_a_usage_error(checkout: Path) -> None:
    r = run(checkout, "--frobnicate")
    assert r.returncode == 2
    assert "unknown option '--frobnicate'" in r.stderr


def test_unprivileged_user_is_told_what_to_install(checkout: Path) -> None:
    r = run(checkout, as_user="nobody", BOOTSTRAP_EXTRA_PACKAGES=FAKE_PACKAGE)
    assert r.returncode == 1
    assert f"these Debian packages are missing: {FAKE_PACKAGE}" in r.stderr
    assert "needs root" in r.stderr
    assert f"apt-get install -y --no-install-recommends {FAKE_PACKAGE}" in r.stderr
    assert not (checkout / ".venv").exists(), "nothing may be half-done after refusing"


def test_make_test_cannot_pass_without_tests(tmp_path: Path) -> None:
    """The Makefile turns pytest's exit 5 (no tests collected) into a failure."""
    for name in ("Makefile",):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "bootstrap.sh").write_text("exit 0\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "pyproject.toml").write_text('[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')
    # A venv stand-in whose tools succeed, with the real pytest: only the missing tests can fail the run.
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for tool in ("ruff", "mypy"):
        (bin_dir / tool).write_text("#!/bin/sh\nexit 0\n")
        (bin_dir / tool).chmod(0o755)
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec "{ROOT / ".venv/bin/python"}" "$@"\n')
    (bin_dir / "python").chmod(0o755)
    r = subprocess.run(["make", "test"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert "pytest collected no tests: failing" in r.stdout
