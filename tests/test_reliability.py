"""Nothing lost, nothing doubled: the bot under SIGKILL, homeserver outages, long gaps and 429s.

Every test here runs against the session's real Synapse. The kill tests run the bot as a
``twimbot run`` subprocess and SIGKILL it; the outage tests stop and start Synapse itself
(same port, same database) while the bot keeps running. What counts is what a person would
see afterwards: the rows in the bot's database and the ✅ reactions in the room, exactly one
per submission.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections import Counter
from typing import Any

import pytest
from aiohttp import web
from conftest import NewUser
from proxy import Proxy, too_many_requests
from world import NEWS, World, until

from twimbot.actor import Actor, match
from twimbot.devserver import Synapse
from twimbot.handlers import Handlers
from twimbot.ingest import Reaction
from twimbot.matrix import SYNC_FILTER, NioMatrix, RateLimited


def db_rows(world: World, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Read the bot's database read-only, as an outside observer would."""
    uri = f"file:{world.config.database_path}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=10)) as db:
        return db.execute(sql, params).fetchall()


def stored_event_ids(world: World) -> list[str]:
    try:
        return [r[0] for r in db_rows(world, "SELECT event_id FROM submissions ORDER BY id")]
    except sqlite3.OperationalError:
        return []  # not created yet


def unsent(world: World) -> int:
    return int(db_rows(world, "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL")[0][0])


async def room_events(
    actor: Actor, room_id: str, *, types: list[str] | None, senders: list[str]
) -> list[dict[str, Any]]:
    """Every event of the given types (None: all) and senders in the room, paging /messages
    back to the start."""
    events: list[dict[str, Any]] = []
    token: str | None = None
    wanted: dict[str, Any] = {"senders": senders}
    if types is not None:
        wanted["types"] = types
    while True:
        page = await actor.room_messages(room_id, limit=500, from_token=token, filter=wanted)
        events += page.get("chunk", [])
        end = page.get("end")
        if not page.get("chunk") or not end or end == token:
            return events
        token = end


async def acks(world: World) -> Counter[str]:
    """How many ✅ reactions the bot put on each event of the submissions room."""
    events = await room_events(
        world.editor, world.submissions, types=["m.reaction"], senders=[world.bot_user.user_id]
    )
    return Counter(
        e["content"]["m.relates_to"]["event_id"]
        for e in events
        if e["content"]["m.relates_to"].get("key") == "✅"
    )


async def editor_lines(world: World) -> Counter[int]:
    """How many "post N by …" notices the bot sent to the editors room, per N."""
    events = await room_events(
        world.editor, world.editors_room, types=["m.room.message"], senders=[world.bot_user.user_id]
    )
    out: Counter[int] = Counter()
    for e in events:
        body = e["content"].get("body", "")
        if body.startswith("post ") and " by " in body:
            out[int(body.split()[1])] += 1
    return out


async def stored_more_than(world: World, count: int) -> bool:
    return len(stored_event_ids(world)) > count


async def settled(world: World, expected: int, timeout: float) -> None:
    """Wait until the bot stored ``expected`` submissions and sent everything it owes."""

    async def done() -> bool:
        return len(stored_event_ids(world)) >= expected and unsent(world) == 0

    await until(done, timeout, f"{expected} submissions stored and every message sent")


async def assert_exactly_once(world: World, submitted: list[str]) -> None:
    stored = stored_event_ids(world)
    assert sorted(stored) == sorted(submitted), "lost or doubled submissions"
    numbers = sorted(r[0] for r in db_rows(world, "SELECT number FROM submissions"))
    assert numbers == list(range(1, len(submitted) + 1))
    ack_counts = await acks(world)
    assert set(ack_counts) == set(submitted), "a submission without ✅, or a ✅ on something else"
    assert set(ack_counts.values()) == {1}, f"doubled ✅: {ack_counts.most_common(3)}"
    lines = await editor_lines(world)
    assert sorted(lines) == numbers and set(lines.values()) == {1}


async def burst(actor: Actor, room: str, tag: str, count: int, out: list[str]) -> None:
    for i in range(count):
        out.append(await actor.send_text(room, f"TWIM: {tag} {i} {NEWS}"))


async def chat(actor: Actor, room: str, count: int) -> None:
    """Messages that are no submissions (no trigger): timeline events the bot reads past."""
    for i in range(count):
        await actor.send_text(room, f"just chatting, message {i}")


async def test_sigkill_during_a_burst_loses_and_doubles_nothing(world: World) -> None:
    world.spawn_bot()
    submitted = [await world.submit(world.alice, f"before the burst {NEWS}")]
    sent: list[str] = []
    total = 60
    senders = [
        asyncio.create_task(burst(a, world.submissions, a.user_id, total // 2, sent))
        for a in (world.alice, world.bob)
    ]
    # Kill twice while the burst is stored and acknowledged, restart at once each time.
    for threshold in (total // 4, total // 2):
        await until(lambda t=threshold: stored_more_than(world, t), 30, f"{threshold} stored")
        world.kill_bot()
        world.spawn_bot()
    await asyncio.gather(*senders)
    submitted += sent
    await settled(world, len(submitted), 60)
    await assert_exactly_once(world, submitted)
    assert world.terminate_bot() == 0
    assert "Traceback" not in (world.dir / "bot.log").read_text()


async def test_gap_longer_than_the_sync_timeline_is_backfilled(world: World) -> None:
    world.spawn_bot()
    submitted = [await world.submit(world.alice, f"before the gap {NEWS}")]
    assert world.terminate_bot() == 0
    started = time.monotonic()
    sent: list[str] = []
    # While the bot is down: 40 submissions, then more chatter than the sync filter's
    # timeline limit. The first sync comes back limited and holds none of the submissions,
    # so every one of them is stored only if the bot pages /messages back to what it has.
    # (Chatter is cheap for the bot; 200 submissions took 25-50 s to acknowledge here.)
    await asyncio.gather(
        *(burst(a, world.submissions, a.user_id, 20, sent) for a in (world.alice, world.bob))
    )
    chatter = SYNC_FILTER["room"]["timeline"]["limit"] + 20
    await asyncio.gather(
        *(chat(a, world.submissions, chatter // 2) for a in (world.alice, world.bob))
    )
    print(
        f"sent {len(sent)} submissions and {chatter} other messages in "
        f"{time.monotonic() - started:.1f} s"
    )
    submitted += sent
    started = time.monotonic()
    world.spawn_bot()
    await settled(world, len(submitted), 90)
    print(f"settled in {time.monotonic() - started:.1f} s")
    await assert_exactly_once(world, submitted)
    assert "backfilled" in (world.dir / "bot.log").read_text()


async def test_homeserver_outage_at_start_and_while_running(world: World, synapse: Synapse) -> None:
    async with Proxy(synapse.url) as proxy:
        world.write_config(homeserver=proxy.url)
        # Down at start: the bot waits for the homeserver instead of exiting.
        await asyncio.to_thread(synapse.stop)
        try:
            process = world.spawn_bot()
            await asyncio.sleep(2.5)
            assert process.poll() is None, "the bot gave up while the homeserver was down"
        finally:
            await asyncio.to_thread(synapse.start)
        submitted = [await world.submit(world.alice, f"after a cold start {NEWS}")]
        # Down while running: the bot retries with backoff, without spinning.
        await asyncio.to_thread(synapse.stop)
        down = time.monotonic()
        try:
            await asyncio.sleep(5)
            up = time.monotonic()
            assert process.poll() is None, "the bot exited during the outage"
        finally:
            await asyncio.to_thread(synapse.start)
        syncs = proxy.count("/sync", down, up)
        everything = proxy.count("/", down, up)
        print(f"during a {up - down:.1f} s outage: {syncs} syncs, {everything} requests")
        assert 2 <= syncs <= 10, f"{syncs} sync attempts in {up - down:.1f} s"
        assert everything <= 20
        # What arrives after the homeserver is back is processed without any help.
        sent: list[str] = []
        await burst(world.bob, world.submissions, "after the outage", 5, sent)
        submitted += sent
        await settled(world, len(submitted), 40)
        await assert_exactly_once(world, submitted)
        assert world.terminate_bot() == 0
    log = (world.dir / "bot.log").read_text()
    assert "Traceback" not in log
    assert world.bot_user.access_token not in log


async def test_429_is_waited_out_for_retry_after_ms(world: World, synapse: Synapse) -> None:
    wait_ms = 1500
    seen_txns: set[str] = set()
    syncs = 0

    async def limit(request: web.Request, body: bytes) -> web.Response | None:
        nonlocal syncs
        path = request.rel_url.raw_path
        if "/send/m.reaction/" in path and path not in seen_txns:
            seen_txns.add(path)  # the first attempt of every acknowledgement
            return too_many_requests(wait_ms)
        if path.endswith("/sync"):
            syncs += 1
            if syncs in (3, 4):  # two syncs in a row, once the bot is running
                return too_many_requests(wait_ms)
        return None

    async with Proxy(synapse.url) as proxy:
        proxy.inject = limit
        world.write_config(homeserver=proxy.url)
        world.spawn_bot()
        submitted = [
            await world.submit(a, f"rate limited {NEWS}") for a in (world.alice, world.bob)
        ]
        await settled(world, len(submitted), 30)
        await assert_exactly_once(world, submitted)
        assert world.terminate_bot() == 0
        records = list(proxy.records)
    # After each 429 the same request came again, and not before retry_after_ms had passed.
    limited = [r for r in records if r.status == 429]
    assert len(limited) == len(submitted) + 2
    for r in limited:
        again = next(
            (
                n
                for n in records
                if n.started > r.finished
                and (n.path == r.path if "/send/" in r.path else n.path.endswith("/sync"))
            ),
            None,
        )
        assert again is not None, f"{r.path} was never retried"
        assert again.started - r.finished >= wait_ms / 1000 * 0.95, (
            f"{r.path} retried after {again.started - r.finished:.2f} s"
        )


async def test_nio_does_not_retry_behind_our_back(synapse: Synapse, new_user: NewUser) -> None:
    user = new_user()

    async def always(request: web.Request, body: bytes) -> web.Response | None:
        return too_many_requests(600_000) if request.rel_url.raw_path.endswith("/sync") else None

    async with Proxy(synapse.url) as proxy:
        proxy.inject = always
        matrix = NioMatrix(proxy.url, user.user_id)
        try:
            await matrix.use_token(user.access_token)
            # nio's default would sleep the 10 minutes and ask again, silently.
            with pytest.raises(RateLimited) as caught:
                await asyncio.wait_for(matrix.sync(None, 0), 20)
            assert caught.value.retry_after == 600
            assert proxy.count("/sync") == 1
        finally:
            await matrix.close()


async def test_a_refused_message_does_not_hold_up_the_others(world: World) -> None:
    # A second submissions room where nobody below level 100 may react: the bot's ✅ there is
    # refused (403) every time.
    locked = await world.editor.create_room(
        name="no reactions",
        invite=[world.bot_user.user_id, world.alice.user_id],
        power_levels_override={"events": {"m.reaction": 100}},
    )
    await world.alice.join(locked)
    world.write_config(
        rooms={"submissions": [world.submissions, locked], "editors": world.editors_room}
    )
    bot = await world.start_bot()
    refused = await world.alice.send_text(locked, f"TWIM: in the locked room {NEWS}")
    await world.submission(refused)
    # Another submission right after it is acknowledged promptly all the same.
    other = await world.submit(world.bob, f"in the open room {NEWS}")
    store = await world.store()
    await until(lambda: outbox_settled(store), 15, "the rest of the outbox sent")
    assert (await store.submission_by_event(other)) is not None
    assert bot.batches > 0


async def outbox_settled(store: Any) -> bool:
    return int(await store.outbox_count()) == 1  # only the refused ✅ is left to retry


async def test_a_reaction_that_is_already_there_counts_as_sent(
    world: World, synapse: Synapse
) -> None:
    # The bot's account, from another device (an operator in Element, or a new login after a
    # lost token), already put ✅ on a message that later becomes a submission by an edit.
    other_device = Actor.from_user(synapse.login(world.bot_user.user_id, world.bot_user.password))
    async with other_device:
        await world.start_bot()
        event_id = await world.alice.send_text(world.submissions, NEWS)
        await other_device.react(world.submissions, event_id, "✅")
        await world.alice.edit(world.submissions, event_id, f"TWIM: {NEWS}")
        sub = await world.submission(event_id)
        # Synapse answers M_DUPLICATE_ANNOTATION; the ack is there, so nothing is retried and
        # the editors' line follows at once.
        await world.editor.wait_for(
            match(room_id=world.editors_room, body_contains=f"post {sub.number} by Alice"),
            timeout=10,
        )
        store = await world.store()
        await until(lambda: store_outbox_empty(store), 10, "outbox empty")
        rows = db_rows(world, "SELECT attempts, sent_at FROM outbox")
        assert all(sent_at is not None and sent_at > 0 for _, sent_at in rows), rows


async def store_outbox_empty(store: Any) -> bool:
    return int(await store.outbox_count()) == 0


async def test_an_exception_in_a_handler_is_logged_and_the_loop_goes_on(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    original = Handlers._reaction

    async def explosive(self: Handlers, r: Reaction) -> None:
        await original(self, r)  # the reaction row is written, then the handler fails
        if r.key == "💥":
            raise RuntimeError("injected handler failure")

    monkeypatch.setattr(Handlers, "_reaction", explosive)
    await world.start_bot()
    first = await world.submit(world.alice)
    boom = await world.editor.react(world.submissions, first, "💥")
    later = await world.submit(world.bob, f"after the failure {NEWS}")
    failures = [r for r in caplog.records if "injected handler failure" in (r.exc_text or "")]
    assert failures and boom in failures[0].getMessage()
    store = await world.store()
    assert await store.reaction(boom) is None, "the failed event was partly applied"
    assert (await world.submission(later)).number == 2


async def test_a_batch_that_cannot_be_stored_is_retried_from_the_same_token(world: World) -> None:
    bot = await world.start_bot()
    await world.submit(world.alice)
    store = bot.store
    # A fault in the database at the very end of the batch (where the token is written).
    async with store.transaction():
        for when in ("INSERT", "UPDATE"):
            await store._db.execute(
                f"CREATE TEMP TRIGGER fail_{when.lower()} BEFORE {when} ON main.state"
                " WHEN NEW.key = 'sync_token'"
                " BEGIN SELECT RAISE(ABORT, 'injected disk failure'); END"
            )
        token = await store.get_state("sync_token")
    event_id = await world.bob.send_text(world.submissions, f"TWIM: during the fault {NEWS}")
    await asyncio.sleep(2)
    # The batch rolled back whole: no row, no acknowledgement queued, the token did not move.
    assert await store.submission_by_event(event_id) is None
    assert await store.get_state("sync_token") == token
    assert await store.outbox_count() == 0
    assert world.task is not None and not world.task.done(), "the fault ended the bot"
    async with store.transaction():
        await store._db.execute("DROP TRIGGER temp.fail_insert")
        await store._db.execute("DROP TRIGGER temp.fail_update")
    await world.bob.wait_for(
        match(event_type="m.reaction", sender=world.bot_user.user_id, relates_to=event_id),
        timeout=20,
    )
    assert (await world.submission(event_id)).number == 2
    await until(lambda: store_outbox_empty(store), 10, "outbox empty")
    assert (await acks(world))[event_id] == 1


async def test_a_resend_with_the_same_transaction_id_posts_once(
    synapse: Synapse, new_actor: Any, new_user: NewUser
) -> None:
    owner = await new_actor()
    bot_user = new_user()
    room = await owner.create_room(invite=[bot_user.user_id])
    matrix = NioMatrix(synapse.url, bot_user.user_id)
    try:
        await matrix.use_token(bot_user.access_token)
        await matrix.join(room)
        content = {"msgtype": "m.notice", "body": "sent twice, posted once"}
        first = await matrix.send(room, "m.room.message", content, "twimbot.test.1")
        # As after a crash between sending and recording it: a new client, the same txn id.
        await matrix.close()
        matrix = NioMatrix(synapse.url, bot_user.user_id)
        await matrix.use_token(bot_user.access_token)
        again = await matrix.send(room, "m.room.message", content, "twimbot.test.1")
    finally:
        await matrix.close()
    assert again == first
    events = await room_events(owner, room, types=["m.room.message"], senders=[bot_user.user_id])
    assert [e["event_id"] for e in events] == [first]


async def test_a_command_whose_answer_cannot_be_stored_is_not_run_again(world: World) -> None:
    bot = await world.start_bot()
    await world.submit(world.alice)
    store = bot.store
    # The publish goes through, then storing its answer fails (as a crash right there would).
    async with store.transaction():
        await store._db.execute(
            "CREATE TEMP TRIGGER fail_reply BEFORE INSERT ON main.outbox"
            " WHEN NEW.content LIKE '%is published%'"
            " BEGIN SELECT RAISE(ABORT, 'injected disk failure'); END"
        )
    await world.editor.send_text(world.editors_room, "!twim publish confirm")

    async def published() -> bool:
        return bool(db_rows(world, "SELECT 1 FROM editions WHERE published_at IS NOT NULL"))

    await until(published, 20, "edition 1 published")
    # News keeps coming into the next edition; a second run of the command would publish it.
    await world.submit(world.bob, f"for next week {NEWS}")
    await asyncio.sleep(2.5)  # the command worker restarts 1 s after a failure
    editions = db_rows(world, "SELECT id, published_at IS NOT NULL FROM editions ORDER BY id")
    assert editions == [(1, 1), (2, 0)], "the publish ran twice"
    statuses = db_rows(world, "SELECT status FROM commands WHERE body = '!twim publish confirm'")
    assert statuses == [("done",)]
    async with store.transaction():
        await store._db.execute("DROP TRIGGER temp.fail_reply")
    reply = await world.command("!twim editions")
    assert "Editions" in reply["content"]["body"]
