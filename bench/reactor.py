"""The floor of SPEC §10's latency goal: a bare matrix-nio client that reacts to each message.

Run as its own process (``python -m bench.reactor``) so that, like the bot, it has an event
loop and a CPU budget of its own. It syncs with the same filter as twimbot (lean, no
presence), and the moment a text message from someone else arrives in its room it sends an
``m.reaction`` annotating it: one receive, one send. Nothing is stored, nothing is checked.

Arguments come from the environment: ``REACTOR_HOMESERVER``, ``REACTOR_USER``,
``REACTOR_TOKEN``, ``REACTOR_ROOM``. It prints ``ready`` once its first sync is done and
stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

from nio import AsyncClient, AsyncClientConfig, RoomMessageText, SyncResponse

from twimbot.matrix import SYNC_FILTER


async def main() -> int:
    homeserver = os.environ["REACTOR_HOMESERVER"]
    user = os.environ["REACTOR_USER"]
    room_id = os.environ["REACTOR_ROOM"]
    client = AsyncClient(
        homeserver, user, config=AsyncClientConfig(store_sync_tokens=False, request_timeout=40)
    )
    client.access_token = os.environ["REACTOR_TOKEN"]
    client.user_id = user

    async def react(room: Any, event: RoomMessageText) -> None:
        if room.room_id != room_id or event.sender == user:
            return
        await client.room_send(
            room_id,
            "m.reaction",
            {"m.relates_to": {"rel_type": "m.annotation", "event_id": event.event_id, "key": "👍"}},
        )

    first = await client.sync(timeout=0, sync_filter=SYNC_FILTER)
    if not isinstance(first, SyncResponse):
        print(f"first sync failed: {first}", file=sys.stderr)
        return 1
    client.add_event_callback(react, RoomMessageText)
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    syncing = asyncio.create_task(
        client.sync_forever(timeout=30_000, sync_filter=SYNC_FILTER, since=first.next_batch)
    )
    await stop.wait()
    syncing.cancel()
    await asyncio.gather(syncing, return_exceptions=True)
    await client.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
