"""Dept of Ping end to end on the real Synapse: the bot answers ``!ping`` exactly like
maubot/echo, records its own measurements and every echo-compatible pong other bots post,
and ranks pinging servers by median delay over the edition window (``!twim pings``, the
draft). With ``ping.stats_url`` the table comes from a pingstat ``stats.json`` served by a
local HTTP server instead, and a failing pingstat is a warning, never a failed draft.

All test users live on the one Synapse (``localhost``), so the bot itself only ever measures
pings from ``localhost``. A second, hand-driven echo bot (a raw :class:`Actor`) stands in for
echo instances elsewhere: it posts pongs in echo's exact format, some for the users here and
some for pings from ``far.example.org``.
"""

from __future__ import annotations

import json
import socket
import statistics
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from world import World, request_draft, until

from twimbot import draft
from twimbot.actor import Actor, match
from twimbot.bot import own_joins

STATS_FILE = Path(__file__).parent / "data" / "pingstat-stats.json"
HEADER = "|Rank|Hostname|Median MS|\n|:---:|:---:|:---:|\n"


def table(rows: list[tuple[float, str]]) -> str:
    """Markdown rows as the post shows them: rank by median, halves kept, no ``.0``."""
    ordered = sorted(rows)
    return "".join(
        f"|{rank}|{host}|{int(ms) if ms == int(ms) else ms}|\n"
        for rank, (ms, host) in enumerate(ordered, start=1)
    )


def expected_rows(samples: dict[str, list[int]]) -> list[tuple[float, str]]:
    """What pingstat computes: per server, the median of the delays from 10 ms to 10 min."""
    rows = []
    for host, delays in samples.items():
        kept = [d for d in delays if 10 <= d <= 600_000]
        if kept:
            rows.append((statistics.median(kept), host))
    return rows


def echo_pong(
    sender: str, ping_id: str, ms: int, pretty: str, room_id: str | None
) -> dict[str, Any]:
    """A pong as maubot/echo 1.4 writes it (``room_id=None``: an older echo, no relation)."""
    server = sender.split(":", 1)[1]
    content: dict[str, Any] = {
        "msgtype": "m.notice",
        "format": "org.matrix.custom.html",
        "body": f"{sender}: Pong! (ping took {pretty} to arrive)",
        "formatted_body": (
            f"<a href='https://matrix.to/#/{sender}'>{sender}</a>: Pong! "
            f"(<a href='https://matrix.to/#/{room_id}/{ping_id}'>ping</a> took {pretty} to arrive)"
        ),
        "pong": {"ms": ms, "from": server, "ping": ping_id},
    }
    if room_id is not None:
        content["m.relates_to"] = {
            "rel_type": "xyz.maubot.pong",
            "event_id": ping_id,
            "from": server,
            "ms": ms,
        }
    return content


async def bot_pong(world: World, actor: Actor, ping_id: str) -> dict[str, Any]:
    return await actor.wait_for(
        match(room_id=world.ping_room, sender=world.bot_user.user_id, relates_to=ping_id),
        timeout=15,
    )


async def stored_pings(world: World, count: int) -> None:
    store = await world.store()

    async def enough() -> bool:
        edition = await store.open_edition()
        return len(await store.pings_between(edition.opened_at, 2**62)) >= count

    await until(enough, 15, f"{count} ping measurements stored")


async def test_pings_answered_like_echo_pongs_recorded_and_ranked(
    world: World, new_actor: Any
) -> None:
    await world.start_bot()
    echo = await new_actor("Echo", prefix="echo")
    await world.editor.invite(world.ping_room, echo.user_id)
    await echo.join(world.ping_room)
    me = world.bot_user.user_id

    # Two users ping; the bot answers each exactly as maubot/echo would.
    alice_ping = await world.alice.send_text(world.ping_room, "!ping")
    bob_ping = await world.bob.send_text(world.ping_room, "!ping hello there")
    alice_pong = await bot_pong(world, world.alice, alice_ping)
    bob_pong = await bot_pong(world, world.alice, bob_ping)
    measured: dict[str, int] = {}
    for who, ping_id, pong, message in (
        (world.alice.user_id, alice_ping, alice_pong, ""),
        (world.bob.user_id, bob_ping, bob_pong, '"hello there" '),
    ):
        ms = pong["content"]["pong"]["ms"]
        assert isinstance(ms, int) and 0 <= ms < 10_000
        ping_event = await world.alice.get_event(world.ping_room, ping_id)
        # measured on receipt: no longer than from the ping to the pong on the server's clock
        assert ms <= pong["origin_server_ts"] - ping_event["origin_server_ts"] + 50
        assert pong["type"] == "m.room.message" and pong["sender"] == me
        assert pong["content"] == {
            "msgtype": "m.notice",
            "format": "org.matrix.custom.html",
            "body": f"{who}: Pong! (ping {message}took {ms} ms to arrive)",
            "formatted_body": (
                f"<a href='https://matrix.to/#/{who}'>{who}</a>: Pong!"
                f" (<a href='https://matrix.to/#/{world.ping_room}/{ping_id}'>ping</a>"
                f" {message}took {ms} ms to arrive)"
            ),
            "m.relates_to": {
                "rel_type": "xyz.maubot.pong",
                "event_id": ping_id,
                "from": "localhost",
                "ms": ms,
            },
            "pong": {"ms": ms, "from": "localhost", "ping": ping_id},
        }
        measured[ping_id] = ms

    # The second echo bot answers alice's ping too. It measures from the same server as
    # ours, so pingstat keeps one sample of that ping per measuring server: the earliest,
    # ours. Its 4-second delay must not reach the table.
    await echo.send(
        world.ping_room,
        "m.room.message",
        echo_pong(world.alice.user_id, alice_ping, 4000, "4000 ms", world.ping_room),
    )
    # It also reports pings from another server: two that count (median 135.5), one too
    # fast and one too slow to be a measurement pingstat keeps.
    far = "@carol:far.example.org"
    for n, (ms, pretty) in enumerate(
        [(135, "135 ms"), (136, "136 ms"), (5, "5 ms"), (700_000, "11 minutes and 40 seconds")]
    ):
        await echo.send(
            world.ping_room, "m.room.message", echo_pong(far, f"$farping{n}", ms, pretty, None)
        )
    # Neither a pong with a forged type nor chatter is a measurement.
    forged = echo_pong(far, "$farping9", 1, "1 ms", None)
    forged["pong"]["ms"] = "1"
    await echo.send(world.ping_room, "m.room.message", forged)
    await echo.send_text(world.ping_room, "nice pings everyone")

    await stored_pings(world, 2 + 1 + 4)
    store = await world.store()
    edition = await store.open_edition()
    records = await store.pings_between(edition.opened_at, 2**62)
    assert sorted((r.server, r.delay_ms, r.reporter) for r in records) == sorted(
        [
            ("localhost", measured[alice_ping], me),
            ("localhost", measured[bob_ping], me),
            ("localhost", 4000, echo.user_id),
            ("far.example.org", 135, echo.user_id),
            ("far.example.org", 136, echo.user_id),
            ("far.example.org", 5, echo.user_id),
            ("far.example.org", 700_000, echo.user_id),
        ]
    )

    rows = expected_rows(
        {"localhost": list(measured.values()), "far.example.org": [135, 136, 5, 700_000]}
    )
    assert (135.5, "far.example.org") in rows
    reply = await world.command("!twim pings")
    body = reply["content"]["body"]
    title = f"Dept of Ping of edition {edition.id} (measured): {len(rows)} servers"
    assert body == f"{title}\n{HEADER}{table(rows)}".rstrip("\n")

    result = await request_draft(world)
    assert f"\n{HEADER}{table(rows)}" in result.markdown
    assert "|135.5|" in result.markdown

    # A new edition has a new window: the old measurements stay with the old edition.
    await world.submit(world.alice)  # an edition worth publishing
    reply = await world.command("!twim publish confirm")
    assert "is published" in reply["content"]["body"]
    reply = await world.command("!twim pings")
    assert reply["content"]["body"] == (
        f"Dept of Ping of edition {edition.id + 1} (measured): 0 servers\n(no rows)"
    )
    again = await world.bob.send_text(world.ping_room, "!ping")
    ms = (await bot_pong(world, world.alice, again))["content"]["pong"]["ms"]
    new_rows = expected_rows({"localhost": [ms]})
    reply = await world.command("!twim pings")
    assert reply["content"]["body"].endswith(f"{HEADER}{table(new_rows)}".rstrip("\n"))
    # the published edition re-renders with the pings of its own week
    published = await store.get_edition(edition.id)
    assert published is not None and published.published_at is not None
    old = await draft.build(store, world.config, published, editor_name="Ed")
    assert f"\n{HEADER}{table(rows)}" in old.result.markdown
    assert old.result.markdown == published.rendered


async def test_ping_outside_the_ping_room_and_edits_are_not_answered(world: World) -> None:
    await world.start_bot()
    await world.alice.send_text(world.submissions, "!ping")
    ping_id = await world.alice.send_text(world.ping_room, "!ping")
    await world.alice.edit(world.ping_room, ping_id, "!ping again")
    pong = await bot_pong(world, world.alice, ping_id)
    assert pong["room_id"] == world.ping_room
    # a later command's answer arrives after anything the bot would have said before
    await world.command("!twim help")
    await world.alice.sync_once()
    extra = [
        e
        for e in world.alice.pending_events
        if e.get("sender") == world.bot_user.user_id and "pong" in e.get("content", {})
    ]
    assert extra == []
    await stored_pings(world, 1)


# -- ping.stats_url: a pingstat stats.json from a local HTTP server ------------------------------


class Pingstat:
    """A local pingstat stand-in: serves the saved ``stats.json`` until told to fail."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.failing = False
        self.requests = 0


@pytest.fixture
async def pingstat() -> AsyncIterator[Pingstat]:
    state = Pingstat("")

    async def stats(request: web.Request) -> web.Response:
        state.requests += 1
        if state.failing:
            return web.Response(status=500, text="pingstat is down")
        return web.Response(body=STATS_FILE.read_bytes(), content_type="application/json")

    app = web.Application()
    app.router.add_get("/{room}/stats.json", stats)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.url = f"http://127.0.0.1:{runner.addresses[0][1]}/!ping:maunium.net/stats.json"
    try:
        yield state
    finally:
        await runner.cleanup()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_stats_url_table_and_failures_are_warnings(world: World, pingstat: Pingstat) -> None:
    saved = json.loads(STATS_FILE.read_text(encoding="utf-8"))
    top3 = sorted((float(v["median"]), k) for k, v in saved["pings"].items())[:3]
    dead = f"http://127.0.0.1:{free_port()}/stats.json"

    # A pingstat that cannot be reached: the draft is made, with a warning, and shows the
    # bot's own measurements.
    world.write_config(ping={"room": world.ping_room, "stats_url": dead, "top": 3})
    await world.start_bot()
    ping_id = await world.alice.send_text(world.ping_room, "!ping")
    own_ms = (await bot_pong(world, world.alice, ping_id))["content"]["pong"]["ms"]
    own = table(expected_rows({"localhost": [own_ms]}))
    result = await request_draft(world)
    assert f"\n{HEADER}{own}" in result.markdown
    assert (
        f"warning: Dept of Ping: pingstat: cannot fetch {dead}: Cannot connect to host"
        in result.summary
    )
    assert result.summary.rstrip().endswith("the bot's own measurements are shown")

    # The operator points it at a working pingstat and reloads: its table wins.
    world.write_config(ping={"room": world.ping_room, "stats_url": pingstat.url, "top": 3})
    reply = await world.command("!twim reload")
    assert reply["content"]["body"].startswith("Reloaded")
    result = await request_draft(world)
    assert f"\n{HEADER}{table(top3)}\n" in result.markdown
    assert "|1|neko.dev|318|\n|2|keks.club|474|\n|3|alemann.dev|531|\n" in result.markdown
    assert "Dept of Ping" not in result.summary
    reply = await world.command("!twim pings")
    assert reply["content"]["body"] == (
        f"Dept of Ping of edition 1 (pingstat): 3 servers\n{HEADER}{table(top3)}".rstrip("\n")
    )

    # pingstat goes down: a warning, and the rows it gave before for this edition stay.
    pingstat.failing = True
    before = pingstat.requests
    result = await request_draft(world)
    assert pingstat.requests == before + 1
    assert f"\n{HEADER}{table(top3)}\n" in result.markdown
    assert (
        f"warning: Dept of Ping: pingstat: {pingstat.url} answered HTTP 500;"
        " the rows fetched from it earlier are shown"
    ) in result.summary


async def test_reload_turns_the_dept_of_ping_on(world: World) -> None:
    world.write_config(ping={})
    await world.start_bot()
    reply = await world.command("!twim pings")
    assert reply["content"]["body"] == "the Dept of Ping is off: set ping.room or ping.stats_url"
    before = await world.alice.send_text(world.ping_room, "!ping")

    world.write_config()  # with the ping room
    reply = await world.command("!twim reload")
    assert reply["content"]["body"].startswith("Reloaded")
    # the bot joins the ping room it was invited to
    await world.alice.wait_for(
        match(
            room_id=world.ping_room,
            event_type="m.room.member",
            state_key=world.bot_user.user_id,
            where=lambda e: e["content"].get("membership") == "join",
        ),
        timeout=15,
    )
    ping_id = await world.alice.send_text(world.ping_room, "!ping")
    pong = await bot_pong(world, world.alice, ping_id)
    assert pong["content"]["pong"]["ping"] == ping_id
    await world.command("!twim help")
    await world.alice.sync_once()
    assert not [
        e
        for e in world.alice.pending_events
        if e.get("content", {}).get("pong", {}).get("ping") == before
    ]


def test_own_joins_are_joins_not_profile_changes() -> None:
    me = "@bot:localhost"

    def member(room: str, ts: int, membership: str, prev: str | None, who: str = me) -> Any:
        event: dict[str, Any] = {
            "type": "m.room.member",
            "room_id": room,
            "state_key": who,
            "sender": who,
            "origin_server_ts": ts,
            "content": {"membership": membership},
        }
        if prev is not None:
            event["unsigned"] = {"prev_content": {"membership": prev}}
        return event

    events = [
        member("!a:x", 10, "join", "invite"),
        member("!b:x", 20, "join", "join"),  # a new display name
        member("!c:x", 30, "join", None),
        member("!d:x", 40, "leave", "join"),
        member("!e:x", 50, "join", "invite", who="@alice:localhost"),
        {"type": "m.room.member", "room_id": "!f:x", "state_key": me, "content": "join"},
    ]
    assert own_joins(events, me) == {"!a:x": 10, "!c:x": 30}
