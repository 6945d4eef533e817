"""A throwaway PostgreSQL cluster for tests and benchmarks, run in the foreground so it dies with its runner.

`pg_ctl start` daemonises the server (it is re-parented to init), so a killed test run used to leave it behind.
Here the postmaster is our own child: it gets SIGQUIT (immediate shutdown) from the kernel when the process that
started it dies (devtools/lifeline.py), and `restart()` stops and starts it on the same data and port (the
"PostgreSQL restarted under load" fault). As root the cluster belongs to the `postgres` user: PostgreSQL refuses
to run as root.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import psycopg

from devtools.lifeline import die_with_parent
from devtools.services import free_port, wait_until


def pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name) or ""]
    if not found[-1]:
        raise RuntimeError(f"PostgreSQL's {name} is not installed (Debian package postgresql)")
    return found[-1]


class PgServer:
    def __init__(self, max_connections: int = 200) -> None:
        self.work = Path(tempfile.mkdtemp(prefix="hub-pg-"))
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user is not None:
            shutil.chown(self.work, self.user)
        self.data = self.work / "data"
        self.port = free_port()
        self.max_connections = max_connections
        self.proc: subprocess.Popen[bytes] | None = None
        subprocess.run(
            [pg_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "hub", "--no-sync"],
            check=True,
            capture_output=True,
            timeout=60,
            user=self.user,
        )

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://hub@127.0.0.1:{self.port}/postgres"

    def start(self, within_s: float = 30.0) -> None:
        log = (self.work / "pg.log").open("ab")
        cmd = [pg_bin("postgres"), "-D", str(self.data), "-p", str(self.port), "-k", str(self.work),
               "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
               "-c", f"max_connections={self.max_connections}"]  # fmt: skip
        self.proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            user=self.user,  # before preexec_fn: a change of user would clear the parent-death signal
            start_new_session=True,
            preexec_fn=die_with_parent(signal.SIGQUIT),
        )
        log.close()
        wait_until(self.ready, within_s, "postgres", self.proc)

    def ready(self) -> bool:
        try:
            with psycopg.connect(
                host="127.0.0.1", port=self.port, user="hub", dbname="postgres", connect_timeout=1
            ):
                return True
        except psycopg.OperationalError:
            return False

    def stop(self, sig: signal.Signals = signal.SIGINT) -> None:
        """SIGINT: fast shutdown (clients disconnected, what was committed kept); SIGQUIT: immediate."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def restart(self) -> None:
        self.stop()
        self.start()

    def remove(self) -> None:
        self.stop(signal.SIGQUIT)
        shutil.rmtree(self.work, ignore_errors=True)


def start_postgres(max_connections: int = 200) -> PgServer:
    server = PgServer(max_connections)
    try:
        server.start()
    except BaseException:
        server.remove()
        raise
    return server
