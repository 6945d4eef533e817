"""What the hub's command modules (hub/cli.py, hub/cli_users.py) share: exit codes, the error that carries
one, and opening the database the way a start does (its schema checked first)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from hub.compose import open_database
from hub.core.config import CoreConfig
from hub.core.db import Database
from hub.migrations import schema

T = TypeVar("T")
EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_EXISTS = 0, 1, 2, 3


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def open_db(config: CoreConfig) -> Database:
    url = make_url(config.database.url)
    if url.drivername.startswith("sqlite") and url.database not in (None, "", ":memory:"):
        Path(url.database or "").parent.mkdir(parents=True, exist_ok=True)
    db = open_database(config.database.url)
    try:
        schema.prepare(db, config.database.auto_upgrade)  # the same check as a start: never on a stale schema
    except BaseException:
        db.close()
        raise
    return db


def in_db(config: CoreConfig, fn: Callable[[Session], T]) -> T:
    db = open_db(config)
    try:
        with db.session() as s, s.begin():
            return fn(s)
    finally:
        db.close()
