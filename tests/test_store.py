"""The store and its migrations on real SQLite files."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import aiosqlite
import pytest

from twimbot.errors import DatabaseTooNewError, StoreError
from twimbot.migrations import Migration, load_migrations, migrate, split_statements
from twimbot.model import Classification
from twimbot.store import MessageRow, Store

AUTO = Classification(None, "", "todo", "fallback: no rule matched")


def schema(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
        ).fetchall()
    return [(str(n), " ".join(str(s).split())) for n, s in rows]


async def test_fresh_database_equals_one_upgraded_step_by_step(tmp_path: Path) -> None:
    migrations = load_migrations()
    assert migrations, "no migrations found"
    fresh = tmp_path / "fresh.db"
    stepped = tmp_path / "stepped.db"
    async with aiosqlite.connect(fresh, isolation_level=None) as db:
        assert await migrate(db) == [m.version for m in migrations]
    async with aiosqlite.connect(stepped, isolation_level=None) as db:
        for i in range(1, len(migrations) + 1):
            assert await migrate(db, migrations[:i]) == [i]
        assert await migrate(db, migrations) == []
    assert schema(fresh) == schema(stepped)


async def test_a_failing_migration_leaves_no_trace(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    good = load_migrations()
    bad = Migration(len(good) + 1, "broken", "CREATE TABLE half (x INTEGER);\nNOT SQL AT ALL;\n")
    async with aiosqlite.connect(path, isolation_level=None) as db:
        await migrate(db, good)
        with pytest.raises(sqlite3.OperationalError):
            await migrate(db, [*good, bad])
    names = [n for n, _ in schema(path)]
    assert "half" not in names
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0] == len(good)


async def test_database_newer_than_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    store = await Store.open(path)
    await store.close()
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO schema_migrations VALUES (999, 'future', 0)")
    with pytest.raises(DatabaseTooNewError, match="newer than this twimbot"):
        await Store.open(path)


@pytest.mark.parametrize(
    "content", [b"this is not sqlite at all" * 100, b"SQLite format 3\x00" + b"\xff" * 300]
)
async def test_corrupt_database_is_refused_and_left_untouched(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "t.db"
    path.write_bytes(content)
    with pytest.raises(StoreError, match="left untouched"):
        await Store.open(path)
    assert path.read_bytes() == content


async def test_truncated_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    store = await Store.open(path)
    edition = await store.open_edition()
    async with store.transaction():
        for i in range(300):
            await store.create_submission(
                edition_id=edition.id,
                event_id=f"$e{i}",
                room_id="!r",
                sender="@a:b",
                sender_name="A",
                origin_ts=i,
                text="x" * 500,
                via="prefix",
                submitted_by="@a:b",
                auto=AUTO,
            )
    await store.close()
    # fold the WAL into the main file, then cut it in half
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(StoreError):
        await Store.open(path)
    assert len(path.read_bytes()) == len(data) // 2


async def test_database_files_are_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = tmp_path / "t.db"
        store = await Store.open(path)
        await store.open_edition()
        for suffix in ("", "-wal", "-shm"):
            f = Path(str(path) + suffix)
            assert f.exists(), suffix
            assert stat.S_IMODE(f.stat().st_mode) == 0o600, suffix
        await store.close()
    finally:
        os.umask(old)


async def test_pragmas(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "t.db")
    try:
        mode = await store._one("PRAGMA journal_mode")
        fk = await store._one("PRAGMA foreign_keys")
        timeout = await store._one("PRAGMA busy_timeout")
        assert mode is not None and fk is not None and timeout is not None
        assert (mode[0], fk[0], timeout[0]) == ("wal", 1, 5000)
        synchronous = await store._one("PRAGMA synchronous")
        assert synchronous is not None and synchronous[0] == 2  # FULL: durable commits
    finally:
        await store.close()


async def test_numbers_start_at_one_per_edition_and_events_are_stored_once(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "t.db")
    try:
        first = await store.open_edition()
        async with store.transaction():
            a = await store.create_submission(
                edition_id=first.id,
                event_id="$a",
                room_id="!r",
                sender="@a:b",
                sender_name="A",
                origin_ts=1,
                text="one",
                via="prefix",
                submitted_by="@a:b",
                auto=AUTO,
            )
            b = await store.create_submission(
                edition_id=first.id,
                event_id="$b",
                room_id="!r",
                sender="@a:b",
                sender_name="A",
                origin_ts=2,
                text="two",
                via="prefix",
                submitted_by="@a:b",
                auto=AUTO,
            )
        assert (a.number, b.number) == (1, 2)
        second = await store.publish_edition(
            first.id, post_date="2026-11-27", rendered="x", by="Ed"
        )
        assert second.id != first.id and second.is_open
        async with store.transaction():
            c = await store.create_submission(
                edition_id=second.id,
                event_id="$c",
                room_id="!r",
                sender="@a:b",
                sender_name="A",
                origin_ts=3,
                text="three",
                via="prefix",
                submitted_by="@a:b",
                auto=AUTO,
            )
        assert c.number == 1
        msg = MessageRow("$m", "!r", "@a:b", "m.text", "hello", 5, None, False)
        async with store.transaction():
            assert await store.record_message(msg) is True
            assert await store.record_message(msg) is False
        with pytest.raises(sqlite3.IntegrityError):
            async with store.transaction():
                await store.create_submission(
                    edition_id=second.id,
                    event_id="$c",
                    room_id="!r",
                    sender="@a:b",
                    sender_name="A",
                    origin_ts=3,
                    text="dup",
                    via="prefix",
                    submitted_by="@a:b",
                    auto=AUTO,
                )
        assert len(await store.submissions(second.id)) == 1
    finally:
        await store.close()


async def test_transaction_rolls_back_everything_and_savepoint_only_its_part(
    tmp_path: Path,
) -> None:
    store = await Store.open(tmp_path / "t.db")
    try:
        with pytest.raises(RuntimeError):
            async with store.transaction():
                await store.set_state("a", "1")
                raise RuntimeError("boom")
        assert await store.get_state("a") is None
        async with store.transaction():
            await store.set_state("b", "1")
            with pytest.raises(RuntimeError):
                async with store.savepoint():
                    await store.set_state("c", "1")
                    raise RuntimeError("one bad event")
            await store.set_state("d", "1")
        assert await store.get_state("b") == "1"
        assert await store.get_state("c") is None
        assert await store.get_state("d") == "1"
    finally:
        await store.close()


async def test_outbox_txn_ids_are_stable_and_distinct_per_database(tmp_path: Path) -> None:
    one = await Store.open(tmp_path / "one.db")
    two = await Store.open(tmp_path / "two.db")
    try:
        async with one.transaction():
            await one.enqueue("!r", "m.room.message", {"body": "x"})
        async with two.transaction():
            await two.enqueue("!r", "m.room.message", {"body": "x"})
        row1 = (await one.outbox_pending())[0]
        row2 = (await two.outbox_pending())[0]
        assert row1.txn_id != row2.txn_id
        assert (await one.outbox_pending())[0].txn_id == row1.txn_id
    finally:
        await one.close()
        await two.close()


async def test_created_submission_is_what_the_database_holds(tmp_path: Path) -> None:
    # create_submission builds its row without reading it back: it must equal the stored one.
    store = await Store.open(tmp_path / "t.db")
    try:
        edition = await store.open_edition()
        auto = Classification("nheko", "named", "clients", "default section of project Nheko")
        created = []
        async with store.transaction():
            for i in range(3):
                created.append(
                    await store.create_submission(
                        edition_id=edition.id,
                        event_id=f"$e{i}",
                        room_id="!r",
                        sender="@a:x",
                        sender_name="A",
                        origin_ts=1000 + i,
                        text=f"news {i}",
                        via="prefix",
                        submitted_by="@a:x",
                        auto=auto if i else AUTO,
                    )
                )
        assert [c.number for c in created] == [1, 2, 3]
        for c in created:
            assert await store.submission(c.id) == c
        assert [r[1] for r in await store.revisions(created[1].id)] == ["news 1"]
        # numbers continue per edition, from 1 in the next one
        new = await store.publish_edition(edition.id, post_date="2026-01-02", rendered="", by="E")
        async with store.transaction():
            later = await store.create_submission(
                edition_id=new.id,
                event_id="$later",
                room_id="!r",
                sender="@b:x",
                sender_name="B",
                origin_ts=5000,
                text="next week",
                via="prefix",
                submitted_by="@b:x",
                auto=AUTO,
            )
        assert later.number == 1
        assert await store.submission(later.id) == later
    finally:
        await store.close()


async def test_set_states_writes_and_replaces_in_one_call(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "t.db")
    try:
        async with store.transaction():
            await store.set_state("a", "old")
            await store.set_states({"a": "new", "b": "2", "sync_token": "s1"})
            await store.set_states({})
        assert [await store.get_state(k) for k in ("a", "b", "sync_token")] == ["new", "2", "s1"]
    finally:
        await store.close()


async def test_outbox_rows_marked_sent_together_leave_the_queue(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "t.db")
    try:
        async with store.transaction():
            ids = [await store.enqueue("!r", "m.room.message", {"body": str(i)}) for i in range(4)]
        txns = [r.txn_id for r in await store.outbox_pending()]
        assert len(set(txns)) == 4
        assert all(
            t.startswith("twimbot.") and t.endswith(f".{i}") for t, i in zip(txns, ids, strict=True)
        )
        async with store.transaction():
            await store.outbox_sent_many([(ids[0], "$a"), (ids[2], "$c")])
        assert [r.id for r in await store.outbox_pending()] == [ids[1], ids[3]]
        assert await store.outbox_count() == 2
    finally:
        await store.close()


def test_split_statements_keeps_semicolons_in_strings() -> None:
    sql = "-- comment\nCREATE TABLE t (x TEXT DEFAULT ';');\n\nINSERT INTO t VALUES ('a;b');\n"
    assert split_statements(sql) == [
        "-- comment\nCREATE TABLE t (x TEXT DEFAULT ';');",
        "INSERT INTO t VALUES ('a;b');",
    ]
