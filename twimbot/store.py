"""The SQLite store: one small method per query, typed rows out.

One connection in autocommit mode; every write happens inside :meth:`Store.transaction`,
which holds an asyncio lock so tasks of the bot (sync loop, command runner, outbox sender)
never interleave inside each other's transaction. Pragmas are set explicitly: WAL, foreign
keys, a busy timeout, and ``synchronous=FULL`` so a commit the bot acknowledged survives
even a power cut, not only a killed process.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from twimbot.errors import StoreError
from twimbot.migrations import migrate
from twimbot.model import Classification

Params = Sequence[Any]


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Edition:
    id: int
    opened_at: int
    published_at: int | None
    post_date: str | None
    published_by: str | None
    rendered: str | None

    @property
    def is_open(self) -> bool:
        return self.published_at is None


@dataclass(frozen=True)
class SubmissionRow:
    id: int
    edition_id: int
    number: int
    event_id: str
    room_id: str
    sender: str
    sender_name: str
    origin_ts: int
    text: str
    via: str
    submitted_by: str
    redacted: bool
    dropped: bool
    frozen: bool
    auto_project: str | None
    auto_project_reason: str
    auto_section: str
    auto_section_reason: str

    @property
    def classification(self) -> Classification:
        return Classification(
            self.auto_project, self.auto_project_reason, self.auto_section, self.auto_section_reason
        )

    @property
    def active(self) -> bool:
        return not self.redacted and not self.dropped


@dataclass(frozen=True)
class MessageRow:
    event_id: str
    room_id: str
    sender: str
    msgtype: str
    body: str
    origin_ts: int
    reply_to: str | None
    redacted: bool


@dataclass(frozen=True)
class Mark:
    id: int
    submission_id: int
    kind: str
    value: str | None
    source_event: str
    editor: str
    created_at: int


@dataclass(frozen=True)
class ReactionRow:
    event_id: str
    room_id: str
    target: str
    sender: str
    key: str
    redacted: bool


@dataclass(frozen=True)
class MediaRow:
    id: int
    event_id: str
    room_id: str
    sender: str
    kind: str
    mxc: str
    body: str
    mimetype: str | None
    origin_ts: int
    reply_to: str | None
    submission_id: int | None
    attach_source: str | None
    file_name: str | None
    status: str
    attempts: int
    error: str | None
    redacted: bool
    attach_event: str | None = None
    next_attempt_at: int = 0
    published_in: int | None = None

    @property
    def label(self) -> str:
        """How editors recognise the file: ``image diagram.png``."""
        return f"{self.kind} {self.body or self.mxc}"


@dataclass(frozen=True)
class PingRecord:
    event_id: str
    ping_event: str
    server: str
    delay_ms: float
    origin_ts: int
    reporter: str


@dataclass(frozen=True)
class CommandRow:
    event_id: str
    room_id: str
    sender: str
    body: str
    origin_ts: int
    status: str


@dataclass(frozen=True)
class OutboxRow:
    id: int
    room_id: str
    event_type: str
    content: dict[str, Any]
    txn_id: str
    priority: int
    attempts: int


@dataclass(frozen=True)
class EditionSummary:
    edition: Edition
    entries: int
    redacted: int
    dropped: int


_SHAPES: dict[type[Any], tuple[tuple[str, bool], ...]] = {}


def _shape(cls: type[Any]) -> tuple[tuple[str, bool], ...]:
    """A row class's fields in order, each with whether it is a bool (SQLite gives ints)."""
    shape = _SHAPES.get(cls)
    if shape is None:
        fields = cls.__dataclass_fields__.items()
        shape = _SHAPES[cls] = tuple((name, f.type == "bool") for name, f in fields)
    return shape


def _row(cls: type[Any], row: sqlite3.Row | None) -> Any:
    # Runs for every row a draft reads (1,000+ per !twim draft): no per-row dict building.
    if row is None:
        return None
    return cls(*[bool(row[name]) if is_bool else row[name] for name, is_bool in _shape(cls)])


def _create_private(path: Path) -> None:
    """Create an empty file mode 0600 before SQLite touches it.

    SQLite gives the ``-wal`` and ``-shm`` files the permissions of the main file, so those
    stay private too.
    """
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)


def _prepare_new(path: Path) -> Path:
    """The private, empty file a new database for ``path`` is built in."""
    new = path.with_name(f".{path.name}.new")
    path.parent.mkdir(parents=True, exist_ok=True)
    for leftover in ("", "-journal", "-wal", "-shm"):  # of a start killed while building
        Path(f"{new}{leftover}").unlink(missing_ok=True)
    _create_private(new)
    return new


_UNTOUCHED = "it was left untouched: restore a backup or move it away"


class Store:
    """Async repository over the twimbot SQLite database."""

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self.path = path
        self._lock = _ReentrantTaskLock()
        # This database's id in outbox txn ids; fixed once created, so read once.
        self._instance: str | None = None

    # -- lifecycle -------------------------------------------------------------------

    @classmethod
    async def open(
        cls, path: Path | str, *, migrate_schema: bool = True, check_integrity: bool = True
    ) -> Store:
        """Open (creating if needed) and migrate the database at ``path``.

        A new database is built under a temporary name and moved into place whole, so a file
        at ``path`` is always one twimbot made. A file that is not a healthy twimbot database
        (damaged, truncated, empty, or some other program's) is refused and left untouched.
        The integrity check reads the whole file (about 1 s per GB, measured in bench/),
        which is right once at the bot's start but not for every ``twimbot draft`` or
        ``status``: ``check_integrity=False`` skips it; a damaged file then still fails with
        a :class:`StoreError` as soon as SQLite meets the damage.
        """
        path = Path(path)
        if not path.exists():
            await cls._initialise(path)
        elif path.is_file() and path.stat().st_size == 0:
            raise StoreError(
                f"database {path} is an empty file, not a twimbot database; {_UNTOUCHED}"
                " (delete it to start a new database)"
            )
        try:
            db = await aiosqlite.connect(str(path), isolation_level=None)
        except sqlite3.Error as err:
            raise StoreError(f"cannot open database {path}: {err}") from None
        db.row_factory = sqlite3.Row
        store = cls(db, path)
        try:
            if check_integrity:
                await store._check_integrity()
            await store._check_ours()
            await store._configure()
            if migrate_schema:
                await migrate(db)
                await store._ensure_instance()
        except StoreError:
            await db.close()
            raise
        except sqlite3.DatabaseError as err:
            await db.close()
            raise StoreError(
                f"database {path} is damaged or not a twimbot database ({err}); {_UNTOUCHED}"
            ) from None
        return store

    @classmethod
    async def _initialise(cls, path: Path) -> None:
        """Build a new, migrated database beside ``path`` and rename it into place."""
        try:
            new = _prepare_new(path)
        except OSError as err:
            raise StoreError(f"cannot create database {path}: {err.strerror}") from None
        db = await aiosqlite.connect(str(new), isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            # A rollback journal while building: closing leaves one complete file to move.
            await db.execute("PRAGMA foreign_keys = ON")
            await migrate(db)
            await cls(db, new)._ensure_instance()
        finally:
            await db.close()
        os.replace(new, path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself survives a power cut
        finally:
            os.close(directory)

    async def _configure(self) -> None:
        db = self._db
        await db.execute("PRAGMA busy_timeout = 5000")
        async with db.execute("PRAGMA journal_mode = WAL") as cur:
            mode = await cur.fetchone()
        if mode is None or str(mode[0]).lower() != "wal":
            raise StoreError(f"database {self.path}: cannot switch to WAL mode")
        await db.execute("PRAGMA synchronous = FULL")
        await db.execute("PRAGMA foreign_keys = ON")

    async def _check_ours(self) -> None:
        """Refuse a healthy SQLite file of some other program (never migrate into it)."""
        async with self._db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ) as cur:
            tables = {str(r[0]) for r in await cur.fetchall()}
        if "schema_migrations" not in tables:
            raise StoreError(
                f"database {self.path} is an SQLite database of another program"
                f" ({len(tables)} tables, no twimbot schema); {_UNTOUCHED}"
            )

    async def _check_integrity(self) -> None:
        try:
            async with self._db.execute("PRAGMA quick_check") as cur:
                rows = await cur.fetchall()
        except sqlite3.DatabaseError as err:
            raise StoreError(
                f"database {self.path} is damaged or not a SQLite database ({err}); {_UNTOUCHED}"
            ) from None
        problems = [str(r[0]) for r in rows if str(r[0]) != "ok"]
        if problems:
            raise StoreError(
                f"database {self.path} failed its integrity check ({problems[0]}); {_UNTOUCHED}"
            )

    async def _ensure_instance(self) -> None:
        async with self.transaction():
            instance = await self.get_state("instance")
            if instance is None:
                instance = secrets.token_hex(4)
                await self.set_state("instance", instance)
        self._instance = instance

    async def close(self) -> None:
        await self._db.close()

    async def schema_version(self) -> int:
        row = await self._one("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations")
        return int(row["v"]) if row else 0

    # -- plumbing --------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """One write transaction; nested use joins the outer one."""
        async with self._lock as outermost:
            if not outermost:
                yield
                return
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
            await self._db.execute("COMMIT")

    @contextlib.asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """Inside a transaction: undo just this block if it raises."""
        async with self._lock:
            await self._db.execute("SAVEPOINT one_event")
            try:
                yield
            except BaseException:
                await self._db.execute("ROLLBACK TO one_event")
                await self._db.execute("RELEASE one_event")
                raise
            await self._db.execute("RELEASE one_event")

    # Reads take the lock too: another task's open transaction must never be visible
    # (an outbox row of a batch that then rolls back must not be sent).

    async def _exec(self, sql: str, params: Params = ()) -> int:
        async with self._lock, self._db.execute(sql, params) as cur:
            if sql.lstrip().upper().startswith("INSERT"):
                return int(cur.lastrowid or 0) if cur.rowcount > 0 else 0
            return int(cur.rowcount)

    async def _one(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        async with self._lock, self._db.execute(sql, params) as cur:
            row: sqlite3.Row | None = await cur.fetchone()
            return row

    async def _all(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        async with self._lock, self._db.execute(sql, params) as cur:
            return list(await cur.fetchall())

    # -- state -----------------------------------------------------------------------

    async def get_state(self, key: str) -> str | None:
        row = await self._one("SELECT value FROM state WHERE key = ?", (key,))
        return None if row is None else str(row["value"])

    async def set_state(self, key: str, value: str) -> None:
        await self._exec(
            "INSERT INTO state (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    async def set_states(self, values: dict[str, str]) -> None:
        """Several :meth:`set_state` in one statement (the end of every sync batch)."""
        if not values:
            return
        await self._exec(
            "INSERT INTO state (key, value) VALUES "
            + ", ".join(["(?, ?)"] * len(values))
            + " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [item for pair in values.items() for item in pair],
        )

    async def delete_state(self, key: str) -> None:
        await self._exec("DELETE FROM state WHERE key = ?", (key,))

    # -- editions --------------------------------------------------------------------

    async def open_edition(self) -> Edition:
        """The open edition, created on first use."""
        row = await self._one("SELECT * FROM editions WHERE published_at IS NULL")
        if row is None:
            async with self.transaction():
                row = await self._one("SELECT * FROM editions WHERE published_at IS NULL")
                if row is None:
                    new_id = await self._exec(
                        "INSERT INTO editions (opened_at) VALUES (?)", (now_ms(),)
                    )
                    row = await self._one("SELECT * FROM editions WHERE id = ?", (new_id,))
        edition: Edition = _row(Edition, row)
        return edition

    async def get_edition(self, edition_id: int) -> Edition | None:
        result: Edition | None = _row(
            Edition, await self._one("SELECT * FROM editions WHERE id = ?", (edition_id,))
        )
        return result

    async def published_edition_ids(self, limit: int) -> list[int]:
        """The ids of the ``limit`` most recently published editions, newest first (only the
        ids: the bot asks once per sync batch, and an edition row carries its whole post)."""
        rows = await self._all(
            "SELECT id FROM editions WHERE published_at IS NOT NULL ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [int(r["id"]) for r in rows]

    async def editions(self) -> list[EditionSummary]:
        rows = await self._all(
            "SELECT e.*,"
            " SUM(CASE WHEN s.id IS NOT NULL AND s.redacted = 0 AND s.dropped = 0"
            "     THEN 1 ELSE 0 END) AS n_entries,"
            " SUM(CASE WHEN s.redacted = 1 THEN 1 ELSE 0 END) AS n_redacted,"
            " SUM(CASE WHEN s.dropped = 1 THEN 1 ELSE 0 END) AS n_dropped"
            " FROM editions e LEFT JOIN submissions s ON s.edition_id = e.id"
            " GROUP BY e.id ORDER BY e.id"
        )
        return [
            EditionSummary(
                _row(Edition, r),
                int(r["n_entries"] or 0),
                int(r["n_redacted"] or 0),
                int(r["n_dropped"] or 0),
            )
            for r in rows
        ]

    async def publish_edition(
        self,
        edition_id: int,
        *,
        post_date: str,
        rendered: str,
        by: str,
        media_events: Iterable[str] = (),
    ) -> Edition:
        """Close ``edition_id`` and open the next; returns the new open edition.

        ``media_events`` are the media the post shows: they are pinned to this edition so
        that a later redaction or re-attachment cannot change what re-renders.
        """
        async with self.transaction():
            changed = await self._exec(
                "UPDATE editions SET published_at = ?, post_date = ?, rendered = ?,"
                " published_by = ? WHERE id = ? AND published_at IS NULL",
                (now_ms(), post_date, rendered, by, edition_id),
            )
            if changed != 1:
                raise StoreError(f"edition {edition_id} is not open")
            await self._exec(
                "UPDATE submissions SET frozen = 1 WHERE edition_id = ?", (edition_id,)
            )
            events = list(media_events)
            for start in range(0, len(events), 500):
                chunk = events[start : start + 500]
                await self._exec(
                    f"UPDATE media SET published_in = ? WHERE event_id IN"
                    f" ({','.join('?' * len(chunk))})",
                    (edition_id, *chunk),
                )
            await self._exec("INSERT INTO editions (opened_at) VALUES (?)", (now_ms(),))
        return await self.open_edition()

    async def previous_edition(self, edition_id: int) -> Edition | None:
        """The edition before ``edition_id`` (the one whose publication opened it)."""
        result: Edition | None = _row(
            Edition,
            await self._one(
                "SELECT * FROM editions WHERE id < ? ORDER BY id DESC LIMIT 1", (edition_id,)
            ),
        )
        return result

    # -- messages --------------------------------------------------------------------

    async def record_message(self, msg: MessageRow) -> bool:
        changed = await self._exec(
            "INSERT OR IGNORE INTO messages"
            " (event_id, room_id, sender, msgtype, body, origin_ts, reply_to)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                msg.event_id,
                msg.room_id,
                msg.sender,
                msg.msgtype,
                msg.body,
                msg.origin_ts,
                msg.reply_to,
            ),
        )
        return changed > 0

    async def get_message(self, event_id: str) -> MessageRow | None:
        result: MessageRow | None = _row(
            MessageRow, await self._one("SELECT * FROM messages WHERE event_id = ?", (event_id,))
        )
        return result

    async def update_message_body(self, event_id: str, body: str) -> None:
        await self._exec("UPDATE messages SET body = ? WHERE event_id = ?", (body, event_id))

    async def redact_message(self, event_id: str) -> None:
        await self._exec("UPDATE messages SET redacted = 1 WHERE event_id = ?", (event_id,))

    # -- submissions -----------------------------------------------------------------

    async def submission_by_event(self, event_id: str) -> SubmissionRow | None:
        result: SubmissionRow | None = _row(
            SubmissionRow,
            await self._one("SELECT * FROM submissions WHERE event_id = ?", (event_id,)),
        )
        return result

    async def submission_by_number(self, edition_id: int, number: int) -> SubmissionRow | None:
        result: SubmissionRow | None = _row(
            SubmissionRow,
            await self._one(
                "SELECT * FROM submissions WHERE edition_id = ? AND number = ?",
                (edition_id, number),
            ),
        )
        return result

    async def submission(self, submission_id: int) -> SubmissionRow | None:
        result: SubmissionRow | None = _row(
            SubmissionRow,
            await self._one("SELECT * FROM submissions WHERE id = ?", (submission_id,)),
        )
        return result

    async def create_submission(
        self,
        *,
        edition_id: int,
        event_id: str,
        room_id: str,
        sender: str,
        sender_name: str,
        origin_ts: int,
        text: str,
        via: str,
        submitted_by: str,
        auto: Classification,
        first_revision: tuple[str, int] | None = None,
    ) -> SubmissionRow:
        """Insert a submission with the next ``post N`` of its edition and its first revision.

        The first revision is the message itself, or ``first_revision`` (event id, ts): the
        edit that turned a plain message into a submission. The number is taken in the
        INSERT itself and the row is not read back: this runs on the way to every
        acknowledgement, and each statement is a hop to the database thread.
        """
        async with (
            self._lock,
            self._db.execute(
                "INSERT INTO submissions (edition_id, number, event_id, room_id, sender,"
                " sender_name, origin_ts, text, via, submitted_by, auto_project,"
                " auto_project_reason, auto_section, auto_section_reason, created_at)"
                " SELECT ?, COALESCE(MAX(number), 0) + 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"
                " FROM submissions WHERE edition_id = ? RETURNING id, number",
                (
                    edition_id,
                    event_id,
                    room_id,
                    sender,
                    sender_name,
                    origin_ts,
                    text,
                    via,
                    submitted_by,
                    auto.project,
                    auto.project_reason,
                    auto.section,
                    auto.section_reason,
                    now_ms(),
                    edition_id,
                ),
            ) as cur,
        ):
            inserted = await cur.fetchone()
        assert inserted is not None
        sub_id, number = int(inserted["id"]), int(inserted["number"])
        rev_event, rev_ts = first_revision or (event_id, origin_ts)
        await self._exec(
            "INSERT OR IGNORE INTO revisions (submission_id, event_id, text, origin_ts)"
            " VALUES (?, ?, ?, ?)",
            (sub_id, rev_event, text, rev_ts),
        )
        return SubmissionRow(
            id=sub_id,
            edition_id=edition_id,
            number=number,
            event_id=event_id,
            room_id=room_id,
            sender=sender,
            sender_name=sender_name,
            origin_ts=origin_ts,
            text=text,
            via=via,
            submitted_by=submitted_by,
            redacted=False,
            dropped=False,
            frozen=False,
            auto_project=auto.project,
            auto_project_reason=auto.project_reason,
            auto_section=auto.section,
            auto_section_reason=auto.section_reason,
        )

    async def add_revision(
        self, submission_id: int, event_id: str, text: str, origin_ts: int, *, applied: bool
    ) -> bool:
        """Record an edit; False when this edit event was already recorded."""
        changed = await self._exec(
            "INSERT OR IGNORE INTO revisions (submission_id, event_id, text, origin_ts, applied)"
            " VALUES (?, ?, ?, ?, ?)",
            (submission_id, event_id, text, origin_ts, int(applied)),
        )
        return changed > 0

    async def first_revision(self, submission_id: int) -> tuple[str, int] | None:
        """(event id, ts) of the revision the submission was created with."""
        row = await self._one(
            "SELECT event_id, origin_ts FROM revisions WHERE submission_id = ? ORDER BY id LIMIT 1",
            (submission_id,),
        )
        return None if row is None else (str(row["event_id"]), int(row["origin_ts"]))

    async def latest_applied_revision_ts(self, submission_id: int) -> int:
        row = await self._one(
            "SELECT COALESCE(MAX(origin_ts), 0) AS ts FROM revisions"
            " WHERE submission_id = ? AND applied = 1",
            (submission_id,),
        )
        return int(row["ts"]) if row else 0

    async def revisions(self, submission_id: int) -> list[tuple[str, str, int, bool]]:
        rows = await self._all(
            "SELECT event_id, text, origin_ts, applied FROM revisions WHERE submission_id = ?"
            " ORDER BY origin_ts, id",
            (submission_id,),
        )
        return [(r["event_id"], r["text"], int(r["origin_ts"]), bool(r["applied"])) for r in rows]

    async def update_submission_text(
        self, submission_id: int, text: str, auto: Classification
    ) -> None:
        await self._exec(
            "UPDATE submissions SET text = ?, auto_project = ?, auto_project_reason = ?,"
            " auto_section = ?, auto_section_reason = ? WHERE id = ?",
            (
                text,
                auto.project,
                auto.project_reason,
                auto.section,
                auto.section_reason,
                submission_id,
            ),
        )

    async def set_auto(self, submission_id: int, auto: Classification) -> None:
        await self._exec(
            "UPDATE submissions SET auto_project = ?, auto_project_reason = ?,"
            " auto_section = ?, auto_section_reason = ? WHERE id = ?",
            (auto.project, auto.project_reason, auto.section, auto.section_reason, submission_id),
        )

    async def set_redacted(self, submission_id: int) -> None:
        await self._exec("UPDATE submissions SET redacted = 1 WHERE id = ?", (submission_id,))

    async def set_dropped(self, submission_id: int, dropped: bool) -> None:
        await self._exec(
            "UPDATE submissions SET dropped = ? WHERE id = ?", (int(dropped), submission_id)
        )

    async def submissions(self, edition_id: int) -> list[SubmissionRow]:
        rows = await self._all(
            "SELECT * FROM submissions WHERE edition_id = ? ORDER BY origin_ts, number",
            (edition_id,),
        )
        return [_row(SubmissionRow, r) for r in rows]

    async def latest_submission_before(
        self, sender: str, before_ts: int, after_ts: int
    ) -> SubmissionRow | None:
        """The sender's nearest earlier live submission in ``[after_ts, before_ts]``."""
        result: SubmissionRow | None = _row(
            SubmissionRow,
            await self._one(
                "SELECT * FROM submissions WHERE sender = ? AND origin_ts <= ? AND origin_ts >= ?"
                " AND redacted = 0 ORDER BY origin_ts DESC, id DESC LIMIT 1",
                (sender, before_ts, after_ts),
            ),
        )
        return result

    async def nearest_submission(
        self, edition_id: int, sender: str, ts: int
    ) -> SubmissionRow | None:
        """The sender's live submission of the edition nearest in time to ``ts`` (the
        earlier one of two equally near)."""
        result: SubmissionRow | None = _row(
            SubmissionRow,
            await self._one(
                "SELECT * FROM submissions WHERE edition_id = ? AND sender = ? AND redacted = 0"
                " AND dropped = 0 ORDER BY ABS(origin_ts - ?), origin_ts, id LIMIT 1",
                (edition_id, sender, ts),
            ),
        )
        return result

    # -- editor marks ----------------------------------------------------------------

    async def add_mark(
        self, submission_id: int, kind: str, value: str | None, source_event: str, editor: str
    ) -> bool:
        changed = await self._exec(
            "INSERT OR IGNORE INTO marks (submission_id, kind, value, source_event, editor,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (submission_id, kind, value, source_event, editor, now_ms()),
        )
        return changed > 0

    async def remove_mark(self, source_event: str) -> Mark | None:
        row = await self._one(
            "SELECT * FROM marks WHERE source_event = ? AND removed = 0", (source_event,)
        )
        if row is None:
            return None
        await self._exec("UPDATE marks SET removed = 1 WHERE id = ?", (row["id"],))
        mark: Mark = _row(Mark, row)
        return mark

    async def clear_marks(self, submission_id: int, kind: str) -> int:
        """Withdraw every live editor mark of ``kind`` on a submission (``!twim … auto``)."""
        return await self._exec(
            "UPDATE marks SET removed = 1 WHERE submission_id = ? AND kind = ? AND removed = 0",
            (submission_id, kind),
        )

    async def active_marks(self, submission_ids: Iterable[int]) -> dict[int, dict[str, Mark]]:
        """Per submission, the newest live mark of each kind."""
        ids = list(submission_ids)
        out: dict[int, dict[str, Mark]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = await self._all(
                f"SELECT * FROM marks WHERE removed = 0 AND submission_id IN"
                f" ({','.join('?' * len(chunk))}) ORDER BY id",
                chunk,
            )
            for r in rows:
                mark: Mark = _row(Mark, r)
                out.setdefault(mark.submission_id, {})[mark.kind] = mark
        return out

    async def last_editor_project(self, sender: str) -> str | None:
        """The project an editor most recently gave a submission by ``sender``."""
        row = await self._one(
            "SELECT m.value FROM marks m JOIN submissions s ON s.id = m.submission_id"
            " WHERE s.sender = ? AND m.kind = 'project' AND m.removed = 0"
            " AND m.value IS NOT NULL ORDER BY m.id DESC LIMIT 1",
            (sender,),
        )
        return None if row is None else str(row["value"])

    # -- reactions -------------------------------------------------------------------

    async def record_reaction(self, reaction: ReactionRow) -> bool:
        changed = await self._exec(
            "INSERT OR IGNORE INTO reactions (event_id, room_id, target, sender, key)"
            " VALUES (?, ?, ?, ?, ?)",
            (reaction.event_id, reaction.room_id, reaction.target, reaction.sender, reaction.key),
        )
        return changed > 0

    async def reaction(self, event_id: str) -> ReactionRow | None:
        result: ReactionRow | None = _row(
            ReactionRow, await self._one("SELECT * FROM reactions WHERE event_id = ?", (event_id,))
        )
        return result

    async def reactions_on(self, target: str) -> list[ReactionRow]:
        """The reactions seen on ``target``, newest first."""
        rows = await self._all(
            "SELECT * FROM reactions WHERE target = ? ORDER BY rowid DESC", (target,)
        )
        return [_row(ReactionRow, r) for r in rows]

    async def redact_reaction(self, event_id: str) -> None:
        await self._exec("UPDATE reactions SET redacted = 1 WHERE event_id = ?", (event_id,))

    # -- media -----------------------------------------------------------------------

    async def record_media(self, media: MediaRow) -> bool:
        changed = await self._exec(
            "INSERT OR IGNORE INTO media (event_id, room_id, sender, kind, mxc, body, mimetype,"
            " origin_ts, reply_to, submission_id, attach_source, attach_event)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                media.event_id,
                media.room_id,
                media.sender,
                media.kind,
                media.mxc,
                media.body,
                media.mimetype,
                media.origin_ts,
                media.reply_to,
                media.submission_id,
                media.attach_source,
                media.attach_event,
            ),
        )
        return changed > 0

    async def media_by_event(self, event_id: str) -> MediaRow | None:
        result: MediaRow | None = _row(
            MediaRow, await self._one("SELECT * FROM media WHERE event_id = ?", (event_id,))
        )
        return result

    async def attach_media(
        self,
        media_id: int,
        submission_id: int | None,
        source: str | None,
        event: str | None = None,
    ) -> None:
        """Attach (or, with ``submission_id=None``, detach) a file; a published one stays."""
        await self._exec(
            "UPDATE media SET submission_id = ?, attach_source = ?, attach_event = ?"
            " WHERE id = ? AND published_in IS NULL",
            (submission_id, source, event, media_id),
        )

    async def redact_media(self, event_id: str) -> None:
        """The file leaves its entry; one a published post showed keeps its place there."""
        await self._exec(
            "UPDATE media SET redacted = 1,"
            " submission_id = CASE WHEN published_in IS NULL THEN NULL ELSE submission_id END"
            " WHERE event_id = ?",
            (event_id,),
        )

    async def media_replying_to(self, event_id: str) -> list[MediaRow]:
        """Live, unpublished media sent as a reply to ``event_id``."""
        rows = await self._all(
            "SELECT * FROM media WHERE reply_to = ? AND redacted = 0 AND published_in IS NULL"
            " ORDER BY origin_ts, id",
            (event_id,),
        )
        return [_row(MediaRow, r) for r in rows]

    async def media_from(self, sender: str, since_ts: int, until_ts: int) -> list[MediaRow]:
        """Live, unpublished media by ``sender`` with ``since_ts <= origin_ts <= until_ts``."""
        rows = await self._all(
            "SELECT * FROM media WHERE sender = ? AND origin_ts >= ? AND origin_ts <= ?"
            " AND redacted = 0 AND published_in IS NULL ORDER BY origin_ts, id",
            (sender, since_ts, until_ts),
        )
        return [_row(MediaRow, r) for r in rows]

    async def media_for_edition(self, edition_id: int) -> list[MediaRow]:
        """The live media attached to the edition's entries, in the order they were sent."""
        rows = await self._all(
            "SELECT m.* FROM media m JOIN submissions s ON s.id = m.submission_id"
            " WHERE s.edition_id = ? AND m.redacted = 0 ORDER BY m.origin_ts, m.id",
            (edition_id,),
        )
        return [_row(MediaRow, r) for r in rows]

    async def published_media(self, edition_id: int) -> list[MediaRow]:
        """The media a published edition's post carried, whatever happened to them since."""
        rows = await self._all(
            "SELECT * FROM media WHERE published_in = ? ORDER BY origin_ts, id", (edition_id,)
        )
        return [_row(MediaRow, r) for r in rows]

    async def due_media(self, max_attempts: int, now: int) -> list[MediaRow]:
        """Files to download now: attached to an entry that can still change, retry due."""
        rows = await self._all(
            "SELECT m.* FROM media m JOIN submissions s ON s.id = m.submission_id"
            " WHERE m.status = 'pending' AND m.redacted = 0 AND m.attempts < ?"
            " AND m.next_attempt_at <= ? AND s.frozen = 0 AND s.redacted = 0"
            " ORDER BY m.next_attempt_at, m.id",
            (max_attempts, now),
        )
        return [_row(MediaRow, r) for r in rows]

    async def next_media_attempt(self, max_attempts: int) -> int | None:
        """When the next download is due (ms), or None when nothing waits."""
        row = await self._one(
            "SELECT MIN(m.next_attempt_at) AS t FROM media m"
            " JOIN submissions s ON s.id = m.submission_id"
            " WHERE m.status = 'pending' AND m.redacted = 0 AND m.attempts < ?"
            " AND s.frozen = 0 AND s.redacted = 0",
            (max_attempts,),
        )
        return None if row is None or row["t"] is None else int(row["t"])

    async def untried_media(self, edition_id: int) -> int:
        """How many of the edition's files were never tried yet (``!twim draft`` waits)."""
        row = await self._one(
            "SELECT COUNT(*) AS n FROM media m JOIN submissions s ON s.id = m.submission_id"
            " WHERE s.edition_id = ? AND m.status = 'pending' AND m.attempts = 0"
            " AND m.redacted = 0 AND s.frozen = 0 AND s.redacted = 0",
            (edition_id,),
        )
        return int(row["n"]) if row else 0

    async def media_done(self, media_id: int, file_name: str) -> None:
        await self._exec(
            "UPDATE media SET status = 'done', file_name = ?, error = NULL,"
            " attempts = attempts + 1 WHERE id = ?",
            (file_name, media_id),
        )

    async def media_failed(self, media_id: int, error: str, *, retry_at: int | None) -> None:
        """Record a failed download: retried at ``retry_at``, or given up when None."""
        await self._exec(
            "UPDATE media SET status = CASE WHEN ? IS NULL THEN 'failed' ELSE 'pending' END,"
            " error = ?, attempts = attempts + 1, next_attempt_at = COALESCE(?, next_attempt_at)"
            " WHERE id = ?",
            (retry_at, error[:500], retry_at, media_id),
        )

    async def retry_media(self, media_id: int) -> None:
        """Give a failed file a fresh set of attempts (an editor attached it again)."""
        await self._exec(
            "UPDATE media SET status = 'pending', attempts = 0, next_attempt_at = 0"
            " WHERE id = ? AND status = 'failed'",
            (media_id,),
        )

    # -- pings -----------------------------------------------------------------------

    async def add_ping(self, ping: PingRecord) -> bool:
        changed = await self._exec(
            "INSERT OR IGNORE INTO pings (event_id, ping_event, server, delay_ms, origin_ts,"
            " reporter) VALUES (?, ?, ?, ?, ?, ?)",
            (
                ping.event_id,
                ping.ping_event,
                ping.server,
                ping.delay_ms,
                ping.origin_ts,
                ping.reporter,
            ),
        )
        return changed > 0

    async def pings_between(self, since_ms: int, until_ms: int) -> list[PingRecord]:
        rows = await self._all(
            "SELECT * FROM pings WHERE origin_ts >= ? AND origin_ts <= ? ORDER BY origin_ts, id",
            (since_ms, until_ms),
        )
        return [_row(PingRecord, r) for r in rows]

    # -- commands --------------------------------------------------------------------

    async def enqueue_command(self, cmd: CommandRow) -> bool:
        changed = await self._exec(
            "INSERT OR IGNORE INTO commands (event_id, room_id, sender, body, origin_ts)"
            " VALUES (?, ?, ?, ?, ?)",
            (cmd.event_id, cmd.room_id, cmd.sender, cmd.body, cmd.origin_ts),
        )
        return changed > 0

    async def pending_commands(self) -> list[CommandRow]:
        rows = await self._all(
            "SELECT event_id, room_id, sender, body, origin_ts, status FROM commands"
            " WHERE status = 'pending' ORDER BY origin_ts, rowid"
        )
        return [_row(CommandRow, r) for r in rows]

    async def finish_command(self, event_id: str, status: str, result: str) -> None:
        await self._exec(
            "UPDATE commands SET status = ?, result = ? WHERE event_id = ?",
            (status, result[:2000], event_id),
        )

    async def abandon_command(self, event_id: str, reason: str) -> None:
        """Mark a command failed unless it finished already (it will not be run again)."""
        await self._exec(
            "UPDATE commands SET status = 'failed', result = ?"
            " WHERE event_id = ? AND status = 'pending'",
            (reason[:2000], event_id),
        )

    # -- outbox ----------------------------------------------------------------------

    async def enqueue(
        self, room_id: str, event_type: str, content: dict[str, Any], *, priority: int = 1
    ) -> int:
        """Queue a message; its txn id is derived from this database and the row id.

        One statement: it runs once per acknowledgement, inside the sync batch's transaction
        (whose write lock makes MAX(id) + 1 the id SQLite would have picked anyway).
        """
        instance = self._instance or await self.get_state("instance") or "0"
        row_id = await self._exec(
            "INSERT INTO outbox (id, room_id, event_type, content, txn_id, priority, created_at)"
            " SELECT n, ?, ?, ?, 'twimbot.' || ? || '.' || n, ?, ?"
            " FROM (SELECT COALESCE(MAX(id), 0) + 1 AS n FROM outbox)",
            (
                room_id,
                event_type,
                json.dumps(content, ensure_ascii=False),
                instance,
                priority,
                now_ms(),
            ),
        )
        return row_id

    async def outbox_pending(self, limit: int = 50, exclude: Iterable[int] = ()) -> list[OutboxRow]:
        """Unsent rows, acknowledgements first; ``exclude`` holds rows waiting for a retry."""
        skip = sorted(exclude)[:500]
        rows = await self._all(
            "SELECT id, room_id, event_type, content, txn_id, priority, attempts FROM outbox"
            f" WHERE sent_at IS NULL AND id NOT IN ({','.join('?' * len(skip))})"
            " ORDER BY priority, id LIMIT ?",
            (*skip, limit),
        )
        return [
            OutboxRow(
                int(r["id"]),
                r["room_id"],
                r["event_type"],
                json.loads(r["content"]),
                r["txn_id"],
                int(r["priority"]),
                int(r["attempts"]),
            )
            for r in rows
        ]

    async def outbox_sent(self, row_id: int, event_id: str) -> None:
        await self._exec(
            "UPDATE outbox SET sent_at = ?, sent_event = ? WHERE id = ?",
            (now_ms(), event_id, row_id),
        )

    async def outbox_sent_many(self, sent: Sequence[tuple[int, str]]) -> None:
        """:meth:`outbox_sent` for many rows (row id, event id) in one statement."""
        at = now_ms()
        async with self._lock:
            await self._db.executemany(
                "UPDATE outbox SET sent_at = ?, sent_event = ? WHERE id = ?",
                [(at, event_id, row_id) for row_id, event_id in sent],
            )

    async def outbox_failed(self, row_id: int, error: str, *, give_up: bool) -> None:
        await self._exec(
            "UPDATE outbox SET attempts = attempts + 1, error = ?,"
            " sent_at = CASE WHEN ? THEN -1 ELSE sent_at END WHERE id = ?",
            (error[:500], int(give_up), row_id),
        )

    async def outbox_count(self) -> int:
        row = await self._one("SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NULL")
        return int(row["n"]) if row else 0


class _ReentrantTaskLock:
    """An asyncio lock that the task holding it may enter again.

    ``__aenter__`` returns True for the outermost entry, so :meth:`Store.transaction` knows
    whether it owns the transaction or joins one already open in the same task.
    """

    def __init__(self) -> None:
        import asyncio

        self._lock = asyncio.Lock()
        self._owner: object | None = None
        self._depth = 0

    async def __aenter__(self) -> bool:
        import asyncio

        task = asyncio.current_task()
        if self._owner is task and task is not None:
            self._depth += 1
            return False
        await self._lock.acquire()
        self._owner = task
        self._depth = 1
        return True

    async def __aexit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._owner = None
            self._lock.release()
