"""Schema migrations: plain SQL files applied in order, each in one transaction with its record.

The files live in ``migrations/NNNN_name.sql`` at the repository root (the wheel carries them
as ``twimbot/_sql``). A database whose recorded version is newer than the newest file this
code knows is refused: running old code on a newer schema could silently lose data.
"""

from __future__ import annotations

import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

from twimbot.errors import DatabaseTooNewError, StoreError

_NAME_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations_dir() -> Path:
    here = Path(__file__).resolve().parent
    packaged = here / "_sql"
    return packaged if packaged.is_dir() else here.parent / "migrations"


def load_migrations(directory: Path | None = None) -> list[Migration]:
    """All migrations in version order; gaps or duplicates are a packaging bug."""
    directory = directory or migrations_dir()
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME_RE.match(path.name)
        if not match:
            raise StoreError(f"migration file {path.name} is not named NNNN_name.sql")
        found.append(Migration(int(match[1]), match[2], path.read_text(encoding="utf-8")))
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise StoreError(f"migrations are not numbered 1..n: {migration.version} at {expected}")
    return found


def split_statements(sql: str) -> list[str]:
    """Split a script into statements, so they run inside our transaction.

    ``executescript`` would COMMIT first and break the one-transaction guarantee.
    """
    statements: list[str] = []
    current = ""
    for line in sql.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            stripped = current.strip()
            if stripped and not all(
                part.strip().startswith("--") or not part.strip() for part in stripped.splitlines()
            ):
                statements.append(stripped)
            current = ""
    if current.strip() and not all(
        p.strip().startswith("--") or not p.strip() for p in current.splitlines()
    ):
        raise StoreError("migration ends with an incomplete SQL statement")
    return statements


async def current_version(db: aiosqlite.Connection) -> int:
    await db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
    )
    async with db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations") as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def migrate(db: aiosqlite.Connection, migrations: list[Migration] | None = None) -> list[int]:
    """Apply pending migrations; return the versions applied.

    The connection must be in autocommit mode (``isolation_level=None``) so the explicit
    BEGIN/COMMIT here are the only transaction boundaries.
    """
    migrations = load_migrations() if migrations is None else migrations
    known = migrations[-1].version if migrations else 0
    version = await current_version(db)
    if version > known:
        raise DatabaseTooNewError(
            f"the database schema is version {version}, newer than this twimbot knows"
            f" ({known}); upgrade twimbot or restore a backup made for this version"
        )
    applied: list[int] = []
    for migration in migrations:
        if migration.version <= version:
            continue
        await db.execute("BEGIN IMMEDIATE")
        try:
            for statement in split_statements(migration.sql):
                await db.execute(statement)
            await db.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, int(time.time() * 1000)),
            )
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
        applied.append(migration.version)
    return applied
