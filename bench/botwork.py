"""The bot's own work per acknowledged submission, without a homeserver in the way.

:meth:`twimbot.bot.Bot.process` stores a one-submission sync batch in a real database with
TWIM's config; this counts the SQL statements it runs (each one a hop to aiosqlite's thread)
and times it. The homeserver side is replaced by a stub that answers the two questions
``process`` asks (room members' names): what is measured is everything between "the sync
response is parsed" and "the ack may be sent". The count does not depend on the machine;
the time does.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.twimconfig import sample_texts, twim_config
from twimbot.bot import Bot
from twimbot.config import parse_config
from twimbot.ingest import RoomRoles
from twimbot.matrix import RoomSnapshot, SyncBatch
from twimbot.store import Store

SUBMISSIONS = "!submissions:bench.example"
EDITORS = "!editors:bench.example"
SENDER = "@contributor:bench.example"


class _Rooms:
    """The part of the homeserver port ``Bot.process`` reads: who is called what."""

    user_id = "@twimbot:bench.example"

    def snapshot(self, room_id: str) -> RoomSnapshot:
        snap = RoomSnapshot(room_id)
        snap.names = {SENDER: "Contributor"}
        return snap

    async def display_name(self, user_id: str) -> str | None:
        return "Contributor"


@dataclass
class BotWork:
    statements: float = 0.0
    process_ms: list[float] = field(default_factory=list)

    @property
    def process_p50(self) -> float:
        return statistics.median(self.process_ms)


async def _measure(n: int) -> BotWork:
    result = BotWork()
    with tempfile.TemporaryDirectory() as tmp:
        data = twim_config(
            homeserver="http://127.0.0.1:9",
            user_id=_Rooms.user_id,
            submissions=SUBMISSIONS,
            editors_room=EDITORS,
            editors=["@editor:bench.example"],
            database=str(Path(tmp) / "bot.db"),
        )
        config = parse_config(data, Path(tmp))
        store = await Store.open(config.database_path)
        rooms: Any = _Rooms()
        bot = Bot(config, store, rooms)
        bot.roles = {SUBMISSIONS: RoomRoles(submissions=True), EDITORS: RoomRoles(editors=True)}
        bot.editors_room = EDITORS
        statements = 0
        execute = store._db.execute

        def counting(*args: Any, **kwargs: Any) -> Any:
            nonlocal statements
            statements += 1
            return execute(*args, **kwargs)

        store._db.execute = counting  # type: ignore[method-assign]
        texts = [e["text"] for e in sample_texts()]
        warmup = 10
        try:
            for i in range(warmup + n):
                event = {
                    "type": "m.room.message",
                    "room_id": SUBMISSIONS,
                    "sender": SENDER,
                    "event_id": f"$bench{i}",
                    "origin_server_ts": int(time.time() * 1000),
                    "content": {"msgtype": "m.text", "body": f"TWIM: {texts[i % len(texts)]}"},
                }
                batch = SyncBatch(f"s{i}", [event], [], {SUBMISSIONS: rooms.snapshot(SUBMISSIONS)})
                if i == warmup:
                    statements = 0
                started = time.perf_counter()
                await bot.process(batch)
                if i >= warmup:
                    result.process_ms.append((time.perf_counter() - started) * 1000)
            result.statements = statements / n
        finally:
            await store.close()
    return result


def run(n: int = 200) -> BotWork:
    return asyncio.run(_measure(n))
