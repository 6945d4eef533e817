"""A throwaway PostgreSQL cluster for the hub of a drill (Debian's binaries, as tests/fixtures_hub.py's
`postgres_url` fixture does it), which can be stopped hard and started again on the same data.

PostgreSQL refuses to run as root: as root the cluster belongs to the `postgres` user, in a folder of its own.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from devtools.services import free_port


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} is not installed (Debian package postgresql)")
    return found[-1]


class Postgres:
    def __init__(self) -> None:
        self.work = Path(tempfile.mkdtemp(prefix="drills-pg-"))
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.work, "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.data = self.work / "data"
        self.port = free_port()
        self._run(_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "hub", "--no-sync")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://hub@127.0.0.1:{self.port}/postgres"

    def _run(self, *cmd: str) -> None:
        subprocess.run([*self.as_user, *cmd], check=True, capture_output=True, timeout=60)

    def start(self) -> int:
        """Start and return the postmaster's pid (for the watchdog)."""
        opts = f"-p {self.port} -k {self.work} -c listen_addresses=127.0.0.1"
        self._run(
            _bin("pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.work / "pg.log"), "-w", "start"
        )
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def stop(self, mode: str = "immediate") -> None:
        """`immediate`: no shutdown checkpoint, as in a crash; `fast`: a clean restart."""
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run([*self.as_user, _bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
                           capture_output=True, check=False, timeout=60)  # fmt: skip
        shutil.rmtree(self.work, ignore_errors=True)
